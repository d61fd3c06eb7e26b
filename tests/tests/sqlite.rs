//! SQLite end to end: `jdbc.sqlite.Queries` builds a database kept as
//! `databaseUri` (`outputDbFile`), `Query` reopens it from `sqliteFile`
//! with each fetch type (FETCH_ONE, FETCH, STORE, NONE) and writes an
//! `outputFiles` file; a failing statement is named and its transaction
//! rolled back; the business-automation blueprint (SQLite in a
//! WorkingDirectory, then CSV and Excel) runs; and the SQLite trigger
//! starts an execution when its query returns rows.

use serde_json::{Value, json};
use shared::model::StateType;
use shared::runtime::events::http::{Evaluated, evaluate};
use shared::triggers::http::HttpTrigger;

use crate::sched_support::{at, wait_ended};
use crate::support::{harness, runs};

fn output<'a>(e: &'a shared::model::Execution, task: &str) -> &'a serde_json::Map<String, Value> {
    runs(e, task)[0].outputs.as_ref().expect("outputs")
}

const SHOP: &str = r#"
id: shop
namespace: test
tasks:
  - id: init
    type: io.kestra.plugin.jdbc.sqlite.Queries
    url: jdbc:sqlite:shop.db
    outputDbFile: true
    fetchType: FETCH
    sql: |
      CREATE TABLE items (id INTEGER, name TEXT, price REAL, day DATE, at DATETIME, raw BLOB);
      INSERT INTO items VALUES (1, 'pen', 1.5, '2024-01-02', '2024-01-02 10:00:00', x'6869'),
                               (2, 'ink', NULL, '2024-01-03', '2024-01-03T11:30:00+02:00', NULL);
      SELECT id, name FROM items ORDER BY id;
      SELECT count(*) AS n FROM items;
  - id: one
    type: io.kestra.plugin.jdbc.sqlite.Query
    url: jdbc:sqlite:shop.db
    sqliteFile: "{{ outputs.init.databaseUri }}"
    sql: SELECT * FROM items WHERE id = :id
    parameters:
      id: 1
    fetchType: FETCH_ONE
  - id: all
    type: io.kestra.plugin.jdbc.sqlite.Query
    sqliteFile: "{{ outputs.init.databaseUri }}"
    sql: SELECT id, price FROM items ORDER BY id
    fetchType: FETCH
  - id: store
    type: io.kestra.plugin.jdbc.sqlite.Query
    sqliteFile: "{{ outputs.init.databaseUri }}"
    timeZoneId: Europe/Paris
    sql: SELECT id, at FROM items ORDER BY id
    fetchType: STORE
  - id: copy
    type: io.kestra.plugin.jdbc.sqlite.Query
    sqliteFile: "{{ outputs.init.databaseUri }}"
    outputFiles: [copy.db]
    sql: VACUUM INTO '{{ outputFiles["copy.db"] }}'
  - id: memory
    type: io.kestra.plugin.jdbc.sqlite.Query
    sql: SELECT 40 + 2 AS answer
    fetchType: FETCH_ONE
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_database_is_reopened_with_every_fetch_type() {
    let h = harness();
    let e = h.run(SHOP, json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);

    let init = output(&e, "init");
    assert_eq!(
        init["outputs"],
        json!([{"rows": [{"id": 1, "name": "pen"}, {"id": 2, "name": "ink"}], "size": 2}, {"rows": [{"n": 2}], "size": 1}])
    );
    let db = init["databaseUri"].as_str().unwrap();
    assert!(db.ends_with("/shop.db"), "{db}");
    assert!(h.read_storage(db).await.starts_with(b"SQLite format 3\0"));

    assert_eq!(
        output(&e, "one")["row"],
        json!({"id": 1, "name": "pen", "price": 1.5, "day": "2024-01-02", "at": "2024-01-02T10:00:00Z", "raw": "aGk="})
    );
    assert_eq!(output(&e, "one")["size"], 1);
    assert_eq!(output(&e, "all")["rows"], json!([{"id": 1, "price": 1.5}, {"id": 2, "price": null}]));
    assert_eq!(output(&e, "all")["size"], 2);

    let stored = output(&e, "store");
    assert_eq!(stored["size"], 2);
    let ion = String::from_utf8(h.read_storage(stored["uri"].as_str().unwrap()).await).unwrap();
    assert_eq!(ion, "{\"id\":1,\"at\":\"2024-01-02T09:00:00Z\"}\n{\"id\":2,\"at\":\"2024-01-03T09:30:00Z\"}\n");

    let copy = output(&e, "copy");
    assert!(!copy.contains_key("row") && !copy.contains_key("rows"), "NONE fetches nothing: {copy:?}");
    let file = copy["outputFiles"]["copy.db"].as_str().unwrap();
    assert!(h.read_storage(file).await.starts_with(b"SQLite format 3\0"));
    assert_eq!(output(&e, "memory")["row"], json!({"answer": 42}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_statement_is_named_and_rolled_back() {
    let h = harness();
    let dir = h.home.join("db");
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("jdbc:sqlite:{}/t.db", dir.display());
    let flow = format!(
        "id: tx\nnamespace: test\ntasks:\n  - id: setup\n    type: io.kestra.plugin.jdbc.sqlite.Query\n    url: \"{url}\"\n    sql: CREATE TABLE t (a INTEGER)\n  \
         - id: fail\n    type: io.kestra.plugin.jdbc.sqlite.Queries\n    url: \"{url}\"\n    sql: \"INSERT INTO t VALUES (1); SELECT nope FROM t; INSERT INTO t VALUES (2)\"\n"
    );
    let e = h.run(&flow, json!({})).await;
    assert_eq!(e.state.current, StateType::Failed);
    let logs = h.logs(&e.id).await.join("\n");
    assert!(logs.contains("no such column: nope") && logs.contains("in statement 2 of 3"), "{logs}");
    let conn = rusqlite::Connection::open(dir.join("t.db")).unwrap();
    let n: i64 = conn.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 0, "the transaction was rolled back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_business_automation_blueprint_runs() {
    let h = harness();
    let flow = r#"
id: business-automation
namespace: tutorial
tasks:
  - id: working_directory
    type: io.kestra.plugin.core.flow.WorkingDirectory
    tasks:
      - id: query
        type: io.kestra.plugin.jdbc.sqlite.Queries
        url: jdbc:sqlite:kestra.db
        fetchType: STORE
        sql: |
          CREATE TABLE IF NOT EXISTS features (id INTEGER PRIMARY KEY, name TEXT NOT NULL, edition TEXT NOT NULL);
          DELETE FROM features;
          INSERT INTO features (name, edition) VALUES ('Worker Groups', 'Enterprise'), ('KV Store', 'Open-Source');
          SELECT * FROM features ORDER BY name;
      - id: to_csv
        type: io.kestra.plugin.serdes.csv.IonToCsv
        from: "{{ outputs.query.outputs[0].uri }}"
      - id: to_excel
        type: io.kestra.plugin.serdes.excel.IonToExcel
        from: "{{ outputs.query.outputs[0].uri }}"
"#;
    let e = h.run(flow, json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    let csv = h.read_storage(output(&e, "to_csv")["uri"].as_str().unwrap()).await;
    assert_eq!(
        String::from_utf8(csv).unwrap(),
        "id,name,edition\n2,KV Store,Open-Source\n1,Worker Groups,Enterprise\n"
    );
    assert_eq!(output(&e, "to_excel")["size"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sqlite_trigger_starts_an_execution_when_rows_come() {
    let h = harness();
    let path = h.home.join("events.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("CREATE TABLE events (id INTEGER, seen INTEGER); INSERT INTO events VALUES (7, 0);").unwrap();
    let flow = format!(
        "id: watch\nnamespace: test\ntasks:\n  - id: first\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{{{ trigger.size }}}}:{{{{ trigger.rows[0].id }}}}\"\n\
         triggers:\n  - id: w\n    type: io.kestra.plugin.jdbc.sqlite.Trigger\n    interval: PT10S\n    url: \"jdbc:sqlite:{}\"\n    \
         sql: SELECT id FROM events WHERE seen = 0\n    afterSQL: UPDATE events SET seen = 1\n    fetchType: FETCH\n",
        path.display()
    );
    let flow = h.flow(&flow);
    let trig = HttpTrigger::of(&flow.triggers[0]).expect("a polled trigger").expect("valid");
    let engine = &h.embedded.engine;
    let r = evaluate(engine, &flow, &trig, at("2025-01-01T10:00:03Z")).await.expect("evaluate");
    let Evaluated::Started(id) = r else { panic!("rows start an execution: {r:?}") };
    let e = wait_ended(engine, &id).await;
    assert_eq!(runs(&e, "first")[0].outputs.as_deref().cloned().unwrap_or_default()["value"], "1:7");
    let seen: i64 = conn.query_row("SELECT sum(seen) FROM events", [], |r| r.get(0)).unwrap();
    assert_eq!(seen, 1, "afterSQL ran");
    let empty = evaluate(engine, &flow, &trig, at("2025-01-01T10:00:12Z")).await.expect("evaluate");
    assert_eq!(empty, Evaluated::ConditionFalse);
}
