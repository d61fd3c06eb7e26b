//! DuckDB tasks end to end (built with the `duckdb` feature, linked to the
//! prebuilt libduckdb from scripts/setup/duckdb.sh): a taxi `.csv.gz`
//! downloaded from a local server into storage and read with
//! `read_csv_auto`, CTAS with FETCH/FETCH_ONE/STORE, `COPY … TO
//! '{{ outputFiles.x }}'` as parquet read back by another task, SQL errors,
//! a database file reused across tasks (by path, and Kestra's
//! `outputDbFile` → `databaseUri`), a rolled-back `Queries` transaction,
//! and the getting-started example flow.

use std::path::PathBuf;

use e2e::taxi::{self, Kind};
use serde_json::{Value, json};
use shared::model::{Execution, StateType};

use crate::support::{Harness, harness, runs};

/// The outputs of the (only) run of `task_id`.
fn out(e: &Execution, task_id: &str) -> Value {
    let r = runs(e, task_id);
    assert_eq!(r.len(), 1, "one run of {task_id}");
    r[0].outputs.as_deref().cloned().map(Value::Object).unwrap_or(Value::Null)
}

fn assert_success(e: &Execution) {
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
}

/// A temp folder removed on drop.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A folder served over HTTP with a 500-row green taxi month; the file's URL.
fn serve_taxi() -> (String, TempDir) {
    let dir = TempDir(std::env::temp_dir().join(format!("baton-duckdb-data-{}", uuid::Uuid::new_v4())));
    std::fs::create_dir_all(&dir.0).unwrap();
    let name = format!("{}.gz", taxi::file_name(Kind::Green, 2019, 1));
    taxi::write_csv_gz(Kind::Green, 2019, 1, 500, &dir.0.join(&name)).unwrap();
    (format!("{}/{name}", e2e::http::serve_dir(&dir.0)), dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_a_csv_gz_from_storage_and_fetches_stores_and_fetches_one() {
    let (url, _data) = serve_taxi();
    let h = harness();
    let e = h
        .run(
            r#"
id: duck_csv
namespace: test.duckdb
inputs:
  - id: url
    type: STRING
tasks:
  - id: extract
    type: io.kestra.plugin.core.http.Download
    uri: "{{ inputs.url }}"
  - id: fetch
    type: io.kestra.plugin.jdbc.duckdb.Queries
    inputFiles:
      trips.csv.gz: "{{ outputs.extract.uri }}"
    sql: |
      CREATE TABLE trips AS SELECT * FROM read_csv_auto('{{ workingDir }}/trips.csv.gz');
      SELECT count(*) AS n, min(lpep_pickup_datetime) AS first_pickup, sum(total_amount) > 0 AS paid FROM trips;
      SELECT "VendorID" AS vendor, count(*) AS trips FROM trips GROUP BY ALL ORDER BY vendor;
    fetchType: FETCH
  - id: one
    type: io.kestra.plugin.jdbc.duckdb.Query
    inputFiles:
      trips.csv.gz: "{{ outputs.extract.uri }}"
    sql: |
      -- a relative name resolves in the working directory
      CREATE TABLE trips AS FROM read_csv_auto('trips.csv.gz');
      SELECT count(*) AS n FROM trips
    fetchType: FETCH_ONE
  - id: store
    type: io.kestra.plugin.jdbc.duckdb.Query
    inputFiles:
      trips.csv.gz: "{{ outputs.extract.uri }}"
    sql: SELECT * FROM 'trips.csv.gz' ORDER BY lpep_pickup_datetime
    store: true
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "{{ outputs.one.row.n }} trips, stored {{ outputs.store.size }}"
"#,
            json!({"url": url}),
        )
        .await;
    assert_success(&e);

    let fetch = out(&e, "fetch");
    let results = fetch["outputs"].as_array().unwrap();
    assert_eq!(results.len(), 2, "one output per SELECT, none for the CTAS: {fetch}");
    let first = &results[0]["rows"][0];
    assert_eq!(first["n"], json!(500));
    assert_eq!(first["paid"], json!(true));
    let pickup = first["first_pickup"].as_str().unwrap();
    assert!(pickup.starts_with("2019-01-01T"), "ISO timestamp: {pickup}");
    assert_eq!(results[0]["size"], json!(1));
    let vendors = results[1]["rows"].as_array().unwrap();
    let total: i64 = vendors.iter().map(|r| r["trips"].as_i64().unwrap()).sum();
    assert_eq!(total, 500);
    assert_eq!(results[1]["size"], json!(vendors.len()));
    assert_eq!(fetch["outputFiles"], json!({}));

    assert_eq!(out(&e, "one"), json!({"row": {"n": 500}, "size": 1, "outputFiles": {}}));

    let store = out(&e, "store");
    assert_eq!(store["size"], json!(500));
    let uri = store["uri"].as_str().unwrap();
    assert!(uri.starts_with("kestra:///test/duckdb/duck_csv/executions/") && uri.ends_with(".ion"), "{uri}");
    let text = String::from_utf8(h.read_storage(uri).await).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 500);
    let row: Value = serde_json::from_str(lines[0]).unwrap();
    let keys: Vec<&String> = row.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), taxi::GREEN_COLUMNS.len());
    assert_eq!(keys[1], "lpep_pickup_datetime", "column order kept");

    let logs = h.logs(&e.id).await;
    assert!(logs.iter().any(|l| l == "500 trips, stored 500"), "{logs:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copies_to_parquet_output_files_and_reads_them_back() {
    let h = harness();
    let e = h
        .run(
            r#"
id: duck_parquet
namespace: test.duckdb
tasks:
  - id: write
    type: io.kestra.plugin.jdbc.duckdb.Queries
    sql: |
      CREATE TABLE t AS SELECT range AS id, 'name ' || range AS name FROM range(1000);
      COPY t TO '{{ outputFiles.out }}' (FORMAT parquet);
      COPY (SELECT * FROM t WHERE id < 3) TO '{{ outputFiles["few.csv"] }}' (HEADER, DELIMITER ',');
    outputFiles:
      - out
      - few.csv
  - id: read
    type: io.kestra.plugin.jdbc.duckdb.Query
    inputFiles:
      back.parquet: "{{ outputs.write.outputFiles.out }}"
    sql: SELECT count(*) AS n, sum(id) AS total, max(name) AS last FROM read_parquet('{{ workingDir }}/back.parquet')
    fetchType: FETCH_ONE
"#,
            json!({}),
        )
        .await;
    assert_success(&e);
    let write = out(&e, "write");
    assert_eq!(write["outputs"], json!([]), "no SELECT, no result");
    let parquet = write["outputFiles"]["out"].as_str().unwrap();
    assert!(parquet.starts_with("kestra:///test/duckdb/duck_parquet/") && parquet.ends_with("/out"), "{parquet}");
    let bytes = h.read_storage(parquet).await;
    assert_eq!(&bytes[..4], b"PAR1", "a parquet file");
    let csv = String::from_utf8(h.read_storage(write["outputFiles"]["few.csv"].as_str().unwrap()).await).unwrap();
    assert_eq!(csv, "id,name\n0,name 0\n1,name 1\n2,name 2\n");
    assert_eq!(out(&e, "read")["row"], json!({"n": 1000, "total": 499500, "last": "name 999"}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_parameters_and_types_come_out_as_kestra_shows_them() {
    let h = harness();
    let e = h
        .run(
            r#"
id: duck_types
namespace: test.duckdb
tasks:
  - id: types
    type: io.kestra.plugin.jdbc.duckdb.Query
    timeZoneId: Europe/Paris
    parameters:
      who: Baton
      n: 41
    sql: |
      SELECT :who AS who, :n + 1 AS answer, 7::TINYINT AS tiny, 2.50::DECIMAL(5,2) AS price, 1.5::DOUBLE AS dbl,
             DATE '2019-01-02' AS day, TIMESTAMP '2019-01-01 10:30:00' AS ts,
             TIMESTAMPTZ '2019-01-01 10:30:00+00' AS tstz, TIME '01:02:03' AS tm, INTERVAL 90 MINUTE AS dur,
             [1, 2, 3] AS list, {'k': 'v', 'n': 1} AS obj, MAP {'a': 1} AS m, NULL AS nothing, true AS yes,
             'x''y' AS quoted, 123456789012::HUGEINT AS huge
    fetchType: FETCH_ONE
"#,
            json!({}),
        )
        .await;
    assert_success(&e);
    assert_eq!(
        out(&e, "types")["row"],
        json!({
            "who": "Baton", "answer": 42, "tiny": 7, "price": 2.5, "dbl": 1.5,
            "day": "2019-01-02", "ts": "2019-01-01T10:30:00", "tstz": "2019-01-01T11:30:00+01:00",
            "tm": "01:02:03", "dur": "PT1H30M", "list": [1, 2, 3], "obj": {"k": "v", "n": 1}, "m": {"a": 1},
            "nothing": null, "yes": true, "quoted": "x'y", "huge": 123456789012i64
        })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sql_error_names_the_statement_and_duckdb_s_message() {
    let h = harness();
    let e = h
        .run(
            r#"
id: duck_error
namespace: test.duckdb
tasks:
  - id: broken
    type: io.kestra.plugin.jdbc.duckdb.Queries
    sql: |
      CREATE TABLE t (a INTEGER);
      SELECT a FROM missing_table;
"#,
            json!({}),
        )
        .await;
    assert_eq!(e.state.current, StateType::Failed);
    let logs = h.logs(&e.id).await;
    let err = logs.iter().find(|l| l.contains("missing_table")).unwrap_or_else(|| panic!("{logs:?}"));
    assert!(err.contains("Catalog Error"), "DuckDB's message: {err}");
    assert!(err.contains("in statement 2 of 2: SELECT a FROM missing_table"), "{err}");

    let e = h
        .run(
            r#"
id: duck_no_file
namespace: test.duckdb
tasks:
  - id: no_output
    type: io.kestra.plugin.jdbc.duckdb.Query
    sql: SELECT 1
    outputFiles: [result]
"#,
            json!({}),
        )
        .await;
    assert_eq!(e.state.current, StateType::Failed);
    let logs = h.logs(&e.id).await;
    assert!(logs.iter().any(|l| l.contains("the SQL did not write 'result'")), "{logs:?}");
}

/// A database file on disk, used in place by several tasks.
fn db_flow(h: &Harness) -> (String, PathBuf) {
    let db = h.home.join("data").join("shop.duckdb");
    let yaml = format!(
        r#"
id: duck_persist
namespace: test.duckdb
tasks:
  - id: create
    type: io.kestra.plugin.jdbc.duckdb.Queries
    url: "jdbc:duckdb:{db}"
    sql: |
      CREATE OR REPLACE TABLE orders (id INTEGER, amount DECIMAL(10,2));
      INSERT INTO orders VALUES (1, 10.5), (2, 20);
    outputDbFile: true
  - id: failing_batch
    type: io.kestra.plugin.jdbc.duckdb.Queries
    allowFailure: true
    databaseUri: "{db}"
    sql: |
      INSERT INTO orders VALUES (3, 99);
      SELECT * FROM no_such_table;
  - id: read_in_place
    type: io.kestra.plugin.jdbc.duckdb.Query
    databaseUri: "{db}"
    sql: SELECT count(*) AS n, sum(amount) AS total FROM orders
    fetchType: FETCH_ONE
  - id: read_stored
    type: io.kestra.plugin.jdbc.duckdb.Query
    databaseUri: "{{{{ outputs.create.databaseUri }}}}"
    sql: SELECT max(id) AS top FROM orders
    fetchType: FETCH_ONE
"#,
        db = db.display()
    );
    (yaml, db)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_file_is_reused_across_tasks_and_a_failed_batch_rolls_back() {
    let h = harness();
    let (yaml, db) = db_flow(&h);
    let e = h.run(&yaml, json!({})).await;
    assert_eq!(e.state.current, StateType::Warning, "allowFailure turns the failed batch into a warning");
    assert!(db.is_file(), "the database stays at {}", db.display());
    let stored = out(&e, "create")["databaseUri"].as_str().unwrap().to_string();
    assert!(stored.ends_with("/shop.duckdb"), "{stored}");
    let failed = runs(&e, "failing_batch")[0];
    assert_eq!(failed.state.current, StateType::Warning);
    assert_eq!(failed.attempts[0].state.current, StateType::Failed);
    let logs = h.logs(&e.id).await;
    assert!(logs.iter().any(|l| l.contains("no_such_table") && l.contains("statement 2 of 2")), "{logs:?}");
    // the INSERT of the failed batch was rolled back with it
    assert_eq!(out(&e, "read_in_place")["row"], json!({"n": 2, "total": 30.5}));
    assert_eq!(out(&e, "read_stored")["row"], json!({"top": 2}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_getting_started_example_runs_against_a_local_server() {
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/data");
    let url = format!("{}/products.json", e2e::http::serve_dir(data));
    let yaml = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/getting_started_etl.yaml"))
        .expect("the example");
    let h = harness();
    let e = h.run(&yaml, json!({"source_url": url})).await;
    assert_success(&e);
    let transform = out(&e, "transform");
    assert!(
        transform["outputFiles"]["products.json"].as_str().is_some_and(|u| u.starts_with("kestra://")),
        "{transform}"
    );
    let query = out(&e, "query");
    let rows = query["rows"].as_array().unwrap();
    // 20 products: 14 distinct brands plus "N/A" for the groceries without one
    assert_eq!(query["size"], json!(15));
    assert_eq!(rows[0], json!({"brand": "Annibale Colombo", "avg_price": 2199.99}));
    assert!(rows.contains(&json!({"brand": "N/A", "avg_price": 7.99})), "{rows:?}");
    let logs = h.logs(&e.id).await;
    assert!(logs.iter().any(|l| l == "15 brands; highest average price: Annibale Colombo (2199.99)"), "{logs:?}");
}
