//! Excel serdes end to end: Ion files written as the sheets of one workbook
//! (IonToExcel, a map of sheet name → file) read back by ExcelToIon
//! (calamine) and by openpyxl, an independent reader; a workbook openpyxl
//! writes (dates, a title row, two sheets) read with Kestra's `header`,
//! `skipRows`, `sheetsTitle` and `dateTimeRender`; and what Baton does not
//! implement refused at validation, by name. openpyxl comes from
//! scripts/setup/openpyxl.sh.

use std::process::Command;

use serde_json::{Value, json};
use shared::model::StateType;

use crate::support::{Harness, harness, runs};

async fn put(h: &Harness, path: &str, data: Vec<u8>) -> String {
    let path = format!("/test/upstream/executions/e0{path}");
    h.embedded.engine.storage.put(&path, Box::pin(std::io::Cursor::new(data))).await.unwrap();
    format!("kestra://{path}")
}

fn output<'a>(e: &'a shared::model::Execution, task: &str, name: &str) -> &'a Value {
    &runs(e, task)[0].outputs.as_ref().expect("outputs")[name]
}

/// Runs a python3 script with openpyxl; its standard output as JSON.
fn openpyxl(script: &str, arg: &std::path::Path) -> Value {
    let out = Command::new("python3").arg("-c").arg(script).arg(arg).output().expect("python3");
    assert!(
        out.status.success(),
        "openpyxl failed (scripts/setup/openpyxl.sh installs it): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON from the script")
}

/// Every sheet's rows, as openpyxl reads them.
const READ: &str = r#"
import json, sys, openpyxl
wb = openpyxl.load_workbook(sys.argv[1])
print(json.dumps({ws.title: [list(r) for r in ws.iter_rows(values_only=True)] for ws in wb.worksheets}))
"#;

fn ion_lines(bytes: Vec<u8>) -> Vec<Value> {
    String::from_utf8(bytes).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ion_files_become_sheets_read_back_by_calamine_and_openpyxl() {
    let h = harness();
    let products = put(
        &h,
        "/in/products.ion",
        b"{\"id\":1,\"name\":\"Alice\",\"ok\":true,\"price\":1.5,\"none\":null,\"tags\":[\"a\",\"b\"]}\n\
          {\"id\":2,\"name\":\"Bob\",\"ok\":false,\"price\":-2.25,\"none\":null,\"tags\":[]}\n"
            .to_vec(),
    )
    .await;
    let fruit = put(&h, "/in/fruit.ion", b"{fruit:\"apple\",qty:3,double:\"Formula:B2*2\"}\n".to_vec()).await;
    let e = h
        .run(
            r#"
id: excel
namespace: test
inputs:
  - {id: products, type: STRING}
  - {id: fruit, type: STRING}
tasks:
  - id: write
    type: io.kestra.plugin.serdes.excel.IonToExcel
    from:
      Products: "{{ inputs.products }}"
      Fruit: "{{ inputs.fruit }}"
  - id: read
    type: io.kestra.plugin.serdes.excel.ExcelToIon
    from: "{{ outputs.write.uri }}"
  - id: lists
    type: io.kestra.plugin.serdes.excel.ExcelToIon
    from: "{{ outputs.write.uri }}"
    sheetsTitle: [Fruit]
    header: false
"#,
            json!({"products": products, "fruit": fruit}),
        )
        .await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    assert_eq!(output(&e, "write", "size"), 3);
    let uri = output(&e, "write", "uri").as_str().unwrap().to_string();
    assert!(uri.ends_with(".xlsx"), "{uri}");

    // calamine, through ExcelToIon: numbers are floats, as Kestra reads them
    assert_eq!(output(&e, "read", "size"), 3);
    let uris = output(&e, "read", "uris").as_object().unwrap().clone();
    assert_eq!(uris.keys().collect::<Vec<_>>(), ["Products", "Fruit"]);
    let rows = ion_lines(h.read_storage(uris["Products"].as_str().unwrap()).await);
    assert_eq!(
        rows,
        [
            json!({"id": 1.0, "name": "Alice", "ok": true, "price": 1.5, "none": null, "tags": "[a, b]"}),
            json!({"id": 2.0, "name": "Bob", "ok": false, "price": -2.25, "none": null, "tags": "[]"}),
        ]
    );
    let fruit_rows = ion_lines(h.read_storage(uris["Fruit"].as_str().unwrap()).await);
    assert_eq!(fruit_rows[0]["fruit"], "apple");
    let lists = output(&e, "lists", "uris")["Fruit"].as_str().unwrap().to_string();
    let lists = ion_lines(h.read_storage(&lists).await);
    assert_eq!(lists[0], json!(["fruit", "qty", "double"]));
    assert_eq!(lists.len(), 2);

    // openpyxl: the same cells, the formula as written
    let file = h.home.join("written.xlsx");
    std::fs::write(&file, h.read_storage(&uri).await).unwrap();
    let sheets = openpyxl(READ, &file);
    assert_eq!(
        sheets["Products"],
        json!([
            ["id", "name", "ok", "price", "none", "tags"],
            [1, "Alice", true, 1.5, null, "[a, b]"],
            [2, "Bob", false, -2.25, null, "[]"]
        ])
    );
    assert_eq!(sheets["Fruit"], json!([["fruit", "qty", "double"], ["apple", 3, "=B2*2"]]));
}

/// A workbook as a person makes one: a title row, a header, dates.
const WRITE: &str = r#"
import datetime, json, sys, openpyxl
wb = openpyxl.Workbook()
ws = wb.active
ws.title = "Data"
ws.append(["Quarterly report"])
ws.append(["day", "amount", "paid", "note"])
ws.append([datetime.date(2024, 2, 3), 5, True, "first"])
ws.append([datetime.datetime(2024, 3, 4, 15, 30), 7.5, False, None])
other = wb.create_sheet("Other")
other.append(["x"])
other.append([1])
wb.save(sys.argv[1])
print("{}")
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workbook_openpyxl_writes_reads_with_kestras_options() {
    let h = harness();
    let file = h.home.join("report.xlsx");
    openpyxl(WRITE, &file);
    let src = put(&h, "/in/report.xlsx", std::fs::read(&file).unwrap()).await;
    let e = h
        .run(
            r#"
id: excel_read
namespace: test
inputs:
  - {id: src, type: STRING}
tasks:
  - id: data
    type: io.kestra.plugin.serdes.excel.ExcelToIon
    from: "{{ inputs.src }}"
    sheetsTitle: [Data]
    skipRows: 1
  - id: serial
    type: io.kestra.plugin.serdes.excel.ExcelToIon
    from: "{{ inputs.src }}"
    sheetsTitle: [Data]
    skipRows: 1
    dateTimeRender: SERIAL_NUMBER
    valueRender: FORMULA
"#,
            json!({"src": src}),
        )
        .await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    let uris = output(&e, "data", "uris").as_object().unwrap().clone();
    assert_eq!(uris.keys().collect::<Vec<_>>(), ["Data"], "sheetsTitle selects");
    assert_eq!(output(&e, "data", "size"), 2);
    let rows = ion_lines(h.read_storage(uris["Data"].as_str().unwrap()).await);
    assert_eq!(
        rows,
        [
            json!({"day": "2024-02-03", "amount": 5.0, "paid": true, "note": "first"}),
            json!({"day": "2024-03-04", "amount": 7.5, "paid": false, "note": null}),
        ]
    );
    let serial = output(&e, "serial", "uris")["Data"].as_str().unwrap().to_string();
    let rows = ion_lines(h.read_storage(&serial).await);
    assert_eq!(rows[0]["day"], json!(45325.0));
    let serial = rows[1]["day"].as_f64().unwrap();
    assert!((serial - 45355.645833).abs() < 1e-5, "{serial}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_that_is_not_excel_fails_naming_it() {
    let h = harness();
    let src = put(&h, "/in/not.xlsx", b"id,name\n1,a\n".to_vec()).await;
    let flow = "id: bad\nnamespace: test\ninputs:\n  - {id: src, type: STRING}\ntasks:\n  - id: read\n    type: io.kestra.plugin.serdes.excel.ExcelToIon\n    from: \"{{ inputs.src }}\"\n";
    let e = h.run(flow, json!({"src": src})).await;
    assert_eq!(e.state.current, StateType::Failed);
    let logs = h.logs(&e.id).await.join("\n");
    assert!(logs.contains("not.xlsx is not an Excel (.xlsx) file"), "{logs}");
}

#[test]
fn excel_options_baton_lacks_are_refused_by_name() {
    let registry = shared::plugins::Registry::builtin();
    let renderer = shared::template::Renderer::new();
    for (prop, line) in [
        ("valueRender", "type: io.kestra.plugin.serdes.excel.ExcelToIon\n    valueRender: FORMATTED_VALUE"),
        ("dateTimeRender", "type: io.kestra.plugin.serdes.excel.ExcelToIon\n    dateTimeRender: FORMATTED_STRING"),
        ("dateFormat", "type: io.kestra.plugin.serdes.excel.IonToExcel\n    dateFormat: dd/MM/yyyy"),
    ] {
        let flow = format!("id: f\nnamespace: n\ntasks:\n  - id: t\n    {line}\n    from: kestra:///x\n");
        let (_, diags) = shared::validate::validate_source("f.yaml", &flow, &registry, &renderer);
        assert!(format!("{diags:?}").contains(prop), "{prop}: {diags:?}");
    }
    let ok = "id: f\nnamespace: n\ntasks:\n  - id: t\n    type: io.kestra.plugin.serdes.excel.IonToExcel\n    from:\n      A: kestra:///a.ion\n    styles: false\n    header: false\n";
    let (_, diags) = shared::validate::validate_source("f.yaml", ok, &registry, &renderer);
    assert!(diags.is_empty(), "{diags:?}");
}
