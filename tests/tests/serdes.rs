//! Serdes tasks end to end: CSV → Ion → JSON → Ion → CSV gives back the
//! same bytes; JSON documents and lines; a bad row fails naming its line;
//! the bounds fail naming themselves; a property Baton does not implement
//! is refused at validation; XML to Ion and back, and a malformed XML file
//! failing naming its line.

use serde_json::json;
use shared::model::StateType;

use crate::support::{Harness, harness, runs};

/// Stores a file as an upstream execution of namespace `test` would have.
async fn put(h: &Harness, path: &str, data: Vec<u8>) -> String {
    let path = format!("/test/upstream/executions/e0{path}");
    h.embedded.engine.storage.put(&path, Box::pin(std::io::Cursor::new(data))).await.unwrap();
    format!("kestra://{path}")
}

fn output<'a>(e: &'a shared::model::Execution, task: &str, name: &str) -> &'a serde_json::Value {
    &runs(e, task)[0].outputs.as_ref().expect("outputs")[name]
}

fn uri_of<'a>(e: &'a shared::model::Execution, task: &str) -> &'a str {
    output(e, task, "uri").as_str().expect("uri")
}

const ROUND_TRIP: &str = r#"
id: round_trip
namespace: test
inputs:
  - {id: src, type: STRING}
tasks:
  - id: csv_to_ion
    type: io.kestra.plugin.serdes.csv.CsvToIon
    from: "{{ inputs.src }}"
  - id: ion_to_json
    type: io.kestra.plugin.serdes.json.IonToJson
    from: "{{ outputs.csv_to_ion.uri }}"
  - id: json_to_ion
    type: io.kestra.plugin.serdes.json.JsonToIon
    from: "{{ outputs.ion_to_json.uri }}"
  - id: ion_to_csv
    type: io.kestra.plugin.serdes.csv.IonToCsv
    from: "{{ outputs.json_to_ion.uri }}"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_ion_json_ion_csv_gives_back_the_same_bytes() {
    let h = harness();
    let mut csv = String::from("id,name,note\n");
    for i in 0..5_000 {
        csv.push_str(&format!("{i},name {i},\"a, \"\"quoted\"\" note\nover two lines\"\n"));
    }
    let src = put(&h, "/in/people.csv", csv.clone().into_bytes()).await;
    let e = h.run(ROUND_TRIP, json!({"src": src})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    for task in ["csv_to_ion", "ion_to_json", "json_to_ion", "ion_to_csv"] {
        assert_eq!(output(&e, task, "size"), 5_000, "{task}");
    }
    let ion = String::from_utf8(h.read_storage(uri_of(&e, "csv_to_ion")).await).unwrap();
    assert_eq!(
        ion.lines().next().unwrap(),
        r#"{"id":"0","name":"name 0","note":"a, \"quoted\" note\nover two lines"}"#,
        "CSV values stay strings"
    );
    assert!(uri_of(&e, "ion_to_json").ends_with(".jsonl"));
    let back = h.read_storage(uri_of(&e, "ion_to_csv")).await;
    assert!(back == csv.as_bytes(), "the CSV differs after the round trip");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_documents_keep_their_types_and_write_back_as_one_array() {
    let h = harness();
    let doc = br#"[{"id": 1, "ok": true, "price": 1.5, "tags": ["a"], "none": null}, {"id": 2, "ok": false, "price": 2.25, "tags": [], "none": null}]"#;
    let src = put(&h, "/in/doc.json", doc.to_vec()).await;
    let e = h
        .run(
            r#"
id: json_doc
namespace: test
inputs:
  - {id: src, type: STRING}
tasks:
  - id: to_ion
    type: io.kestra.plugin.serdes.json.JsonToIon
    from: "{{ inputs.src }}"
    newLine: false
  - id: to_json
    type: io.kestra.plugin.serdes.json.IonToJson
    from: "{{ outputs.to_ion.uri }}"
    newLine: false
  - id: to_csv
    type: io.kestra.plugin.serdes.csv.IonToCsv
    from: "{{ outputs.to_ion.uri }}"
    quoteMode: NON_NUMERIC
"#,
            json!({"src": src}),
        )
        .await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    assert_eq!(output(&e, "to_ion", "size"), 2);
    let json: serde_json::Value = serde_json::from_slice(&h.read_storage(uri_of(&e, "to_json")).await).unwrap();
    let doc: serde_json::Value = serde_json::from_slice(doc).unwrap();
    assert_eq!(json, doc);
    let csv = String::from_utf8(h.read_storage(uri_of(&e, "to_csv")).await).unwrap();
    assert_eq!(csv, "\"id\",\"ok\",\"price\",\"tags\",\"none\"\n1,\"true\",1.5,\"[a]\",\n2,\"false\",2.25,\"[]\",\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_row_and_an_oversized_field_fail_naming_line_and_bound() {
    let h = harness();
    let bad = put(&h, "/in/bad.csv", b"a,b\n1,2\n3,4,5\n".to_vec()).await;
    let big = put(&h, "/in/big.csv", format!("a\n{}\n", "x".repeat(2 * 1024 * 1024)).into_bytes()).await;
    let lines = put(&h, "/in/lines.json", b"{\"a\":1}\n{\"a\":\n".to_vec()).await;
    let flow = r#"
id: bad
namespace: test
inputs:
  - {id: src, type: STRING}
  - {id: max, type: INT}
tasks:
  - id: read
    type: io.kestra.plugin.serdes.csv.CsvToIon
    from: "{{ inputs.src }}"
    maxFieldSize: "{{ inputs.max }}"
"#;
    let e = h.run(flow, json!({"src": bad, "max": 1000})).await;
    assert_eq!(e.state.current, StateType::Failed);
    let logs = h.logs(&e.id).await;
    assert!(logs.iter().any(|l| l.contains("on line 3 of") && l.contains("Expected 2, got 3 fields")), "{logs:?}");

    let e = h.run(flow, json!({"src": big, "max": 1024 * 1024})).await;
    assert_eq!(e.state.current, StateType::Failed);
    let logs = h.logs(&e.id).await;
    assert!(
        logs.iter().any(|l| l.contains("field 1 on line 2") && l.contains("maxFieldSize (1048576 bytes)")),
        "{logs:?}"
    );

    let e = h
        .run(
            "id: lines\nnamespace: test\ninputs:\n  - {id: src, type: STRING}\ntasks:\n  - id: read\n    type: io.kestra.plugin.serdes.json.JsonToIon\n    from: \"{{ inputs.src }}\"\n",
            json!({"src": lines}),
        )
        .await;
    assert_eq!(e.state.current, StateType::Failed);
    let logs = h.logs(&e.id).await;
    assert!(logs.iter().any(|l| l.contains(&format!("line 2 of {lines} is not JSON"))), "{logs:?}");
}

#[test]
fn properties_baton_does_not_implement_are_refused() {
    let registry = shared::plugins::Registry::builtin();
    let renderer = shared::template::Renderer::new();
    let flow = "id: f\nnamespace: n\ntasks:\n  - id: w\n    type: io.kestra.plugin.serdes.csv.IonToCsv\n    from: kestra:///x.ion\n    dateFormat: yyyy\n";
    let (_, diags) = shared::validate::validate_source("f.yaml", flow, &registry, &renderer);
    assert!(format!("{diags:?}").contains("dateFormat"), "{diags:?}");
    let ok = "id: f\nnamespace: n\ntasks:\n  - id: r\n    type: io.kestra.plugin.serdes.csv.CsvReader\n    from: kestra:///x.csv\n    fieldSeparator: \";\"\n";
    let (_, diags) = shared::validate::validate_source("f.yaml", ok, &registry, &renderer);
    assert!(diags.is_empty(), "the legacy name is accepted: {diags:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_to_typed_avro_and_back() {
    let h = harness();
    let csv = "id,name,price,day,active\n1,Alice,12.50,2024-01-31,yes\n2,,3.10,2024-02-29,false\n";
    let src = put(&h, "/in/items.csv", csv.as_bytes().to_vec()).await;
    let e = h
        .run(
            r#"
id: avro
namespace: test
inputs:
  - {id: src, type: STRING}
tasks:
  - id: to_ion
    type: io.kestra.plugin.serdes.csv.CsvToIon
    from: "{{ inputs.src }}"
  - id: to_avro
    type: io.kestra.plugin.serdes.avro.IonToAvro
    from: "{{ outputs.to_ion.uri }}"
    schema: |
      {"type": "record", "name": "item", "fields": [
        {"name": "id", "type": "long"},
        {"name": "name", "type": ["null", "string"]},
        {"name": "price", "type": {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2}},
        {"name": "day", "type": {"type": "int", "logicalType": "date"}},
        {"name": "active", "type": "boolean"}]}
  - id: back
    type: io.kestra.plugin.serdes.avro.AvroToIon
    from: "{{ outputs.to_avro.uri }}"
  - id: bad
    type: io.kestra.plugin.serdes.avro.IonToAvro
    from: "{{ outputs.to_ion.uri }}"
    schema: '{"type": "record", "name": "r", "fields": [{"name": "name", "type": "string"}]}'
    nullValues: []
    strictSchema: true
    onBadLines: WARN
"#,
            json!({"src": src}),
        )
        .await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    let avro = h.read_storage(uri_of(&e, "to_avro")).await;
    assert_eq!(&avro[..4], b"Obj\x01", "an Avro object container file");
    let ion = String::from_utf8(h.read_storage(uri_of(&e, "back")).await).unwrap();
    assert_eq!(
        ion,
        "{\"id\":1,\"name\":\"Alice\",\"price\":12.50,\"day\":\"2024-01-31\",\"active\":true}\n\
         {\"id\":2,\"name\":null,\"price\":3.10,\"day\":\"2024-02-29\",\"active\":false}\n",
        "Avro decimals are Ion decimals with their scale, as Kestra's BigDecimal"
    );
    // every row has fields the strict schema lacks: both skipped with a warning
    assert_eq!(output(&e, "bad", "size"), 0);
    let logs = h.logs(&e.id).await;
    assert!(logs.iter().any(|l| l.contains("field 'id' is not in the schema (strictSchema) (skipped)")), "{logs:?}");
}

#[test]
fn serdes_formats_baton_lacks_are_refused_by_name() {
    let registry = shared::plugins::Registry::builtin();
    let renderer = shared::template::Renderer::new();
    let flow = "id: f\nnamespace: n\ntasks:\n  - id: p\n    type: io.kestra.plugin.serdes.yaml.IonToYaml\n    from: kestra:///x.ion\n";
    let (_, diags) = shared::validate::validate_source("f.yaml", flow, &registry, &renderer);
    assert!(format!("{diags:?}").contains("Baton does not implement the YAML serdes tasks"), "{diags:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ion_to_avro_reads_dates_with_kestras_patterns() {
    let h = harness();
    let csv = "ride,started_at,day\nr1,2024-03-01 10:00:00,01/03/2024\nr2,2024-03-02 23:59:59,02/03/2024\n";
    let src = put(&h, "/in/rides.csv", csv.as_bytes().to_vec()).await;
    let e = h
        .run(
            r#"
id: avro_dates
namespace: test
inputs:
  - {id: src, type: STRING}
tasks:
  - id: csv_to_ion
    type: io.kestra.plugin.serdes.csv.CsvToIon
    from: "{{ inputs.src }}"
  - id: to_avro
    type: io.kestra.plugin.serdes.avro.IonToAvro
    from: "{{ outputs.csv_to_ion.uri }}"
    datetimeFormat: yyyy-MM-dd' 'HH:mm:ss
    dateFormat: dd/MM/yyyy
    timeZoneId: America/New_York
    schema: |
      {"type": "record", "name": "Ride", "fields": [
        {"name": "ride", "type": "string"},
        {"name": "started_at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "day", "type": {"type": "int", "logicalType": "date"}}]}
  - id: back
    type: io.kestra.plugin.serdes.avro.AvroToIon
    from: "{{ outputs.to_avro.uri }}"
"#,
            json!({"src": src}),
        )
        .await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    let ion = String::from_utf8(h.read_storage(uri_of(&e, "back")).await).unwrap();
    assert_eq!(
        ion,
        "{\"ride\":\"r1\",\"started_at\":\"2024-03-01T15:00:00Z\",\"day\":\"2024-03-01\"}\n\
         {\"ride\":\"r2\",\"started_at\":\"2024-03-03T04:59:59Z\",\"day\":\"2024-03-02\"}\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xml_round_trips_and_a_malformed_file_fails_naming_its_line() {
    let h = harness();
    let mut xml = String::from("<?xml version=\"1.0\"?>\n<catalog>\n");
    for i in 0..3_000 {
        xml.push_str(&format!("  <book id=\"bk{i}\"><title>Title &amp; {i}</title><price>{i}.5</price></book>\n"));
    }
    xml.push_str("</catalog>\n");
    let src = put(&h, "/in/books.xml", xml.into_bytes()).await;
    let flow = r#"
id: xml
namespace: test
inputs:
  - {id: src, type: STRING}
tasks:
  - id: books
    type: io.kestra.plugin.serdes.xml.XmlToIon
    from: "{{ inputs.src }}"
    query: /catalog/book
  - id: to_xml
    type: io.kestra.plugin.serdes.xml.IonToXml
    from: "{{ outputs.books.uri }}"
    rootName: books
  - id: back
    type: io.kestra.plugin.serdes.xml.XmlReader
    from: "{{ outputs.to_xml.uri }}"
"#;
    let e = h.run(flow, json!({"src": src})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    for task in ["books", "to_xml", "back"] {
        assert_eq!(output(&e, task, "size"), 3_000, "{task}");
    }
    let first = String::from_utf8(h.read_storage(uri_of(&e, "books")).await).unwrap();
    assert_eq!(first.lines().nth(7).unwrap(), r#"{"id":"bk7","title":"Title & 7","price":7.5}"#);
    let again = String::from_utf8(h.read_storage(uri_of(&e, "back")).await).unwrap();
    assert_eq!(again, first, "XmlToIon of IonToXml gives back the records");
    let written = String::from_utf8(h.read_storage(uri_of(&e, "to_xml")).await).unwrap();
    assert!(written.starts_with("<?xml version='1.0' encoding='UTF-8'?>\n<books>\n  <item>\n    <id>bk0</id>\n"));

    let bad =
        put(&h, "/in/bad.xml", b"<catalog>\n  <book>\n    <title>x</price>\n  </book>\n</catalog>\n".to_vec()).await;
    let e = h.run(flow, json!({"src": bad})).await;
    assert_eq!(e.state.current, StateType::Failed);
    let logs = h.logs(&e.id).await;
    assert!(logs.iter().any(|l| l.contains("bad.xml at line 3: malformed XML")), "{logs:?}");
}
