//! `bigquery.StorageWrite` on bqemulator (`e2e::emulators`, its gRPC port
//! as `BIGQUERY_STORAGE_EMULATOR_HOST`): records of an Ion file appended to
//! the default stream (one record an append) and through a PENDING stream
//! (finalized, committed), then read back with `bigquery.Query`, with
//! their typed values (DATE, TIMESTAMP from text and from epoch
//! microseconds, a REPEATED column); a record with a field that is no
//! column fails, naming it.
//!
//! No RECORD column here: bqemulator's write servicer builds the target
//! table's Arrow schema from each column's name, type and mode only
//! (`_table_arrow_schema`), so a RECORD becomes an empty STRUCT and DuckDB
//! refuses the append whatever the rows hold. The RECORD encoding (nested
//! descriptors, nested messages) is checked byte for byte by the unit tests
//! of `gcp::bigquery::storage_rows`.

use e2e::emulators::emulators;
use serde_json::{Value, json};
use shared::model::{Execution, StateType};
use shared::plugins::PluginConfig;
use shared::plugins::gcp::GcpConfig;

use crate::support::{Harness, harness_with_plugins, runs};

fn harness() -> Harness {
    let emu = emulators();
    let mut gcp = GcpConfig::emulators(Some(&emu.storage_host), Some(&emu.bigquery_host));
    gcp.endpoints = gcp.endpoints.with_bigquery_storage_emulator(&emu.bigquery_grpc_host);
    harness_with_plugins(PluginConfig { gcp, ..PluginConfig::default() })
}

fn unique(prefix: &str) -> String {
    format!("{prefix}{}", &uuid::Uuid::new_v4().simple().to_string()[..10])
}

fn output(e: &Execution, task: &str) -> Value {
    let r = runs(e, task);
    assert!(!r.is_empty(), "task {task} did not run: {:?}", e.error);
    Value::Object(r[0].outputs.as_deref().cloned().unwrap_or_default())
}

/// A flow creating dataset `ds` with table `t`, then running `tasks`.
fn flow(ds: &str, tasks: &str) -> String {
    format!(
        r#"
id: storage_write
namespace: test.gcp
tasks:
  - id: dataset
    type: io.kestra.plugin.gcp.bigquery.CreateDataset
    name: {ds}
  - id: table
    type: io.kestra.plugin.gcp.bigquery.CreateTable
    dataset: {ds}
    table: t
    tableDefinition:
      type: TABLE
      schema:
        fields:
          - {{name: id, type: INT64, mode: REQUIRED}}
          - {{name: name, type: STRING}}
          - {{name: score, type: FLOAT64}}
          - {{name: ok, type: BOOL}}
          - {{name: born, type: DATE}}
          - {{name: seen, type: TIMESTAMP}}
          - {{name: tags, type: STRING, mode: REPEATED}}
{tasks}
pluginDefaults:
  - type: io.kestra.plugin.gcp
    values:
      projectId: test-proj
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_and_pending_streams_write_typed_rows() {
    let h = harness();
    let ds = unique("sw_");
    let first = [
        json!({"id": 1, "name": "a", "score": 1.5, "ok": true, "born": "2024-01-02", "seen": "2024-01-02T03:04:05Z",
               "tags": ["x", "y"]}),
        json!({"id": 2, "name": "b", "score": null, "ok": false, "born": "2024-02-03", "seen": 1_704_164_645_000_000i64,
               "tags": []}),
    ];
    let lines: String = first.iter().map(|r| format!("{r}\\n")).collect();
    let pending = json!({"ID": 3, "name": "c", "tags": ["z"]});
    let tasks = format!(
        r#"
  - id: file
    type: io.kestra.plugin.core.storage.Write
    extension: .ion
    content: "{}"
  - id: default
    type: io.kestra.plugin.gcp.bigquery.StorageWrite
    from: "{{{{ outputs.file.uri }}}}"
    destinationTable: test-proj.{ds}.t
    bufferSize: 1
  - id: pending_file
    type: io.kestra.plugin.core.storage.Write
    extension: .ion
    content: "{}\n"
  - id: pending
    type: io.kestra.plugin.gcp.bigquery.StorageWrite
    from: "{{{{ outputs.pending_file.uri }}}}"
    destinationTable: test-proj.{ds}.t
    writeStreamType: PENDING
  - id: read
    type: io.kestra.plugin.gcp.bigquery.Query
    fetchType: FETCH
    sql: >-
      SELECT id, name, score, ok, CAST(born AS STRING) AS born, UNIX_MICROS(seen) AS seen,
      ARRAY_LENGTH(tags) AS n_tags FROM {ds}.t ORDER BY id
"#,
        lines.replace('"', "\\\""),
        pending.to_string().replace('"', "\\\""),
    );
    let e = h.run(&flow(&ds, &tasks), json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}\n{}", e.error, h.logs(&e.id).await.join("\n"));
    assert_eq!(output(&e, "default"), json!({"rows": 2}));
    let p = output(&e, "pending");
    assert_eq!((p["rows"].clone(), p["rowsCount"].clone()), (json!(1), json!(1)));
    assert!(p["commitTime"].as_str().is_some_and(|t| t.ends_with('Z')), "{p}");
    let rows = output(&e, "read")["rows"].clone();
    assert_eq!(
        rows,
        json!([
            {"id": 1, "name": "a", "score": 1.5, "ok": true, "born": "2024-01-02", "seen": 1_704_164_645_000_000i64,
             "n_tags": 2},
            {"id": 2, "name": "b", "score": null, "ok": false, "born": "2024-02-03", "seen": 1_704_164_645_000_000i64,
             "n_tags": 0},
            {"id": 3, "name": "c", "score": null, "ok": null, "born": null, "seen": null, "n_tags": 1},
        ])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_field_that_is_no_column_fails_naming_it() {
    let h = harness();
    let ds = unique("sw_");
    let tasks = format!(
        r#"
  - id: file
    type: io.kestra.plugin.core.storage.Write
    extension: .ion
    content: "{{\"id\": 1, \"nope\": 2}}\n"
  - id: write
    type: io.kestra.plugin.gcp.bigquery.StorageWrite
    from: "{{{{ outputs.file.uri }}}}"
    destinationTable: test-proj.{ds}.t
"#
    );
    let e = h.run(&flow(&ds, &tasks), json!({})).await;
    assert_eq!(e.state.current, StateType::Failed);
    let logs = h.logs(&e.id).await.join("\n");
    assert!(logs.contains("cannot be written: field 'nope' is not a column of the table"), "{logs}");
}
