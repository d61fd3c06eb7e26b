//! The MySQL tasks (`jdbc.mysql.Query`, `Queries`) end to end against a
//! real MariaDB server started by the tests (`e2e::mariadb`): fetch types
//! and typed cells, named parameters, transactions and `afterSQL`, Kestra's
//! blueprint that loads a downloaded CSV with `LOAD DATA LOCAL INFILE
//! '{{ inputFile }}'` (and a file outside the working directory refused),
//! the polling trigger, a killed statement stopped on the server, and the
//! error messages.

use std::time::Duration;

use e2e::mariadb;
use serde_json::{Value, json};
use shared::model::StateType;
use shared::runtime::events::http::{Evaluated, evaluate};
use shared::triggers::http::HttpTrigger;

use crate::sched_support::{at, wait_ended};
use crate::support::{harness, outputs, runs, serve};

/// A fresh database and the flow's `pluginDefaults` block pointing at it.
fn database(prefix: &str) -> (String, String) {
    let server = mariadb::shared();
    let db = server.create_database(prefix);
    let defaults = format!(
        "pluginDefaults:\n  - type: io.kestra.plugin.jdbc.mysql\n    values:\n      url: {}\n      username: {}\n      password: {}\n",
        server.jdbc_url(&db),
        mariadb::USER,
        mariadb::PASSWORD
    );
    (db, defaults)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_fetch_types_and_typed_cells() {
    let (db, defaults) = database("fetch");
    mariadb::shared()
        .sql(
            &db,
            "CREATE TABLE t (id INT PRIMARY KEY, amount DECIMAL(10,2), big BIGINT UNSIGNED, ratio DOUBLE, \
             name VARCHAR(20), ok TINYINT(1), flag BIT(1), at DATETIME(3), stamp TIMESTAMP NULL, day DATE, \
             yr YEAR, dur TIME, raw VARBINARY(4), doc JSON, nothing TEXT); \
             INSERT INTO t VALUES \
             (1, 12.50, 18446744073709551615, 0.25, 'a;b', 1, b'1', '2019-01-01 00:46:40.125', \
              '2019-01-01 00:46:40', '2019-01-31', 2024, '02:03:04', X'00FF', '{\"k\": [1, 2]}', NULL), \
             (2, 3, 2, 1, 'second', 0, b'0', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
        )
        .unwrap();
    let h = harness();
    let e = h
        .run_ok(&format!(
            r#"
id: fetch
namespace: test
tasks:
  - id: one
    type: io.kestra.plugin.jdbc.mysql.Query
    sql: SELECT * FROM t ORDER BY id
    fetchType: FETCH_ONE
  - id: all
    type: io.kestra.plugin.jdbc.mysql.Query
    sql: SELECT id, name FROM t WHERE id >= :low ORDER BY id
    parameters:
      low: 1
    fetchType: FETCH
  - id: store
    type: io.kestra.plugin.jdbc.mysql.Query
    sql: SELECT id FROM t ORDER BY id
    fetchType: STORE
  - id: none
    type: io.kestra.plugin.jdbc.mysql.Query
    sql: SELECT id FROM t
{defaults}"#
        ))
        .await;
    let row = &outputs(&e, "one")["row"];
    assert_eq!(row["id"], json!(1));
    assert_eq!(row["amount"], json!(12.5));
    assert_eq!(row["big"], json!("18446744073709551615"), "BIGINT UNSIGNED is Kestra's BigInteger: a string");
    assert_eq!(row["ratio"], json!(0.25));
    assert_eq!(row["name"], json!("a;b"));
    assert_eq!((row["ok"].clone(), row["flag"].clone()), (json!(true), json!(true)));
    assert_eq!(row["at"], json!("2019-01-01T00:46:40.125"));
    assert_eq!(row["stamp"], json!("2019-01-01T00:46:40Z"));
    assert_eq!(row["day"], json!("2019-01-31"));
    assert_eq!(row["yr"], json!("2024-01-01"));
    assert_eq!(row["dur"], json!("02:03:04"));
    assert_eq!(row["raw"], json!("AP8="), "binary is base64, as Kestra's byte[]");
    assert_eq!(serde_json::from_str::<Value>(row["doc"].as_str().unwrap()).unwrap(), json!({"k": [1, 2]}));
    assert_eq!(row["nothing"], Value::Null);
    assert_eq!(outputs(&e, "one")["size"], json!(1));
    let all = outputs(&e, "all");
    assert_eq!(all["rows"], json!([{"id": 1, "name": "a;b"}, {"id": 2, "name": "second"}]));
    assert_eq!(all["size"], json!(2));
    let store = outputs(&e, "store");
    assert_eq!(store["size"], json!(2));
    assert!(store["uri"].as_str().unwrap().starts_with("kestra://"), "{store:?}");
    let none = runs(&e, "none")[0].outputs.as_ref();
    assert!(none.is_none_or(|o| o.is_empty()), "fetchType NONE has no outputs: {none:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_roll_back_and_after_sql_commits() {
    let (db, defaults) = database("tx");
    let server = mariadb::shared();
    server.sql(&db, "CREATE TABLE t (id INT PRIMARY KEY, note VARCHAR(40)) ENGINE=InnoDB").unwrap();
    let h = harness();
    let e = h
        .run(
            &format!(
                r#"
id: tx
namespace: test
tasks:
  - id: fails
    type: io.kestra.plugin.jdbc.mysql.Queries
    sql: |
      INSERT INTO t VALUES (1, 'kept?');
      INSERT INTO t VALUES (1, 'duplicate');
{defaults}"#
            ),
            json!({}),
        )
        .await;
    assert_eq!(e.state.current, StateType::Failed);
    let logs = h.logs(&e.id).await.join("\n");
    assert!(logs.contains("statement 2 of 2 failed (the transaction was rolled back)"), "{logs}");
    assert!(logs.contains("MySQL error 1062"), "the server's error code: {logs}");
    assert_eq!(server.sql(&db, "SELECT count(*) FROM t").unwrap(), "0", "the first insert was rolled back");

    let e = h
        .run_ok(&format!(
            r#"
id: tx2
namespace: test
tasks:
  - id: many
    type: io.kestra.plugin.jdbc.mysql.Queries
    fetchType: FETCH
    parameters:
      note: "it's \\ quoted"
    sql: |
      INSERT INTO t VALUES (1, :note);
      SELECT note FROM t;
      SELECT count(*) AS n FROM t
  - id: with_after
    type: io.kestra.plugin.jdbc.mysql.Query
    sql: SELECT count(*) AS n FROM t
    afterSQL: INSERT INTO t VALUES (2, 'after')
    fetchType: FETCH_ONE
{defaults}"#
        ))
        .await;
    let many = &outputs(&e, "many")["outputs"];
    assert_eq!(many[0]["rows"], json!([{"note": "it's \\ quoted"}]), "a parameter is written in exactly");
    assert_eq!(many[1]["rows"], json!([{"n": 1}]));
    assert_eq!(outputs(&e, "with_after")["row"], json!({"n": 1}));
    assert_eq!(server.sql(&db, "SELECT note FROM t WHERE id = 2").unwrap(), "after", "afterSQL committed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kestra_s_blueprint_loads_a_downloaded_csv_with_local_infile() {
    let (db, defaults) = database("load");
    let csv = "order_id,customer_name,customer_email,product_id,price,quantity,total\n\
               1,Ann,ann@example.com,7,2.5,2,5\n2,Bob,bob@example.com,8,1.25,4,5\n3,Cy,cy@example.com,9,10,1,10\n";
    let url = serve(csv.as_bytes().to_vec(), 200).await;
    let h = harness();
    // Kestra's blueprint extract-load-mysql, its URL and connection changed
    let flow = format!(
        r#"
id: extract-load-mysql
namespace: company.team

variables:
  table: new

tasks:
  - id: extract
    type: io.kestra.plugin.core.http.Download
    uri: {url}

  - id: enable_local_files
    type: io.kestra.plugin.jdbc.mysql.Query
    sql: SET GLOBAL local_infile=1;

  - id: create_table
    type: io.kestra.plugin.jdbc.mysql.Query
    sql: |
      create table if not exists {{{{ vars.table }}}}
      (
          order_id       integer,
          customer_name  varchar(50),
          customer_email varchar(50),
          product_id     integer,
          price          real,
          quantity       integer,
          total          real
      );

  - id: load_data
    type: io.kestra.plugin.jdbc.mysql.Query
    inputFile: "{{{{ outputs.extract.uri }}}}"
    sql: |
      LOAD DATA LOCAL INFILE '{{{{ inputFile }}}}'
      INTO TABLE {{{{ vars.table }}}}
      FIELDS TERMINATED BY ','
      LINES TERMINATED BY '\n'
      IGNORE 1 ROWS;

{}"#,
        defaults.replace("io.kestra.plugin.jdbc.mysql\n", "io.kestra.plugin.jdbc.mysql.Query\n")
    );
    h.run_ok(&flow).await;
    let server = mariadb::shared();
    assert_eq!(server.sql(&db, "SELECT count(*), sum(total) FROM new").unwrap(), "3\t20");

    // a file outside the working directory is not sent to the server
    let e = h
        .run(
            &format!(
                r#"
id: outside
namespace: company.team
tasks:
  - id: load
    type: io.kestra.plugin.jdbc.mysql.Query
    sql: LOAD DATA LOCAL INFILE '/etc/passwd' INTO TABLE new
{defaults}"#
            ),
            json!({}),
        )
        .await;
    assert_eq!(e.state.current, StateType::Failed);
    let logs = h.logs(&e.id).await.join("\n");
    assert!(logs.contains("/etc/passwd") && logs.contains("working directory"), "{logs}");
    assert_eq!(server.sql(&db, "SELECT count(*) FROM new").unwrap(), "3");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_statement_is_stopped_on_the_server() {
    let (db, defaults) = database("kill");
    let h = harness();
    let e = h
        .run(
            &format!(
                r#"
id: slow
namespace: test
tasks:
  - id: sleep
    type: io.kestra.plugin.jdbc.mysql.Query
    timeout: PT1S
    sql: SELECT SLEEP(60) AS slept /* baton-kill-{db} */
{defaults}"#
            ),
            json!({}),
        )
        .await;
    assert_eq!(e.state.current, StateType::Failed);
    let server = mariadb::shared();
    let running = format!(
        "SELECT count(*) FROM information_schema.processlist WHERE info LIKE '%baton-kill-{db}%' AND info NOT LIKE '%processlist%'"
    );
    let mut left = String::new();
    for _ in 0..50 {
        left = server.sql("", &running).unwrap();
        if left == "0" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(left, "0", "the statement still runs on the server");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_name_the_server_the_statement_and_the_url_parameter() {
    let (db, defaults) = database("errors");
    let server = mariadb::shared();
    let h = harness();
    let wrong_password = format!(
        r#"
id: denied
namespace: test
tasks:
  - id: q
    type: io.kestra.plugin.jdbc.mysql.Query
    url: {}
    username: {}
    password: wrong
    sql: SELECT 1
"#,
        server.jdbc_url(&db),
        mariadb::USER
    );
    let e = h.run(&wrong_password, json!({})).await;
    assert_eq!(e.state.current, StateType::Failed);
    let logs = h.logs(&e.id).await.join("\n");
    assert!(logs.contains(&format!("cannot connect to MySQL at 127.0.0.1:{}/{db}", server.port())), "{logs}");
    assert!(logs.contains("Access denied"), "{logs}");

    let e = h
        .run(
            &format!("id: bad\nnamespace: test\ntasks:\n  - id: q\n    type: io.kestra.plugin.jdbc.mysql.Query\n    sql: SELEC 1\n{defaults}"),
            json!({}),
        )
        .await;
    let logs = h.logs(&e.id).await.join("\n");
    assert!(logs.contains("MySQL error 1064") && logs.contains("[in: SELEC 1]"), "{logs}");

    let tls = format!(
        "id: tls\nnamespace: test\ntasks:\n  - id: q\n    type: io.kestra.plugin.jdbc.mysql.Query\n    url: {}?sslMode=REQUIRED\n    sql: SELECT 1\n",
        server.jdbc_url(&db)
    );
    let e = h.run(&tls, json!({})).await;
    assert_eq!(e.state.current, StateType::Failed);
    let logs = h.logs(&e.id).await.join("\n");
    assert!(logs.contains("url") && logs.contains("encrypted"), "{logs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mysql_trigger_starts_an_execution_when_rows_come() {
    let (db, _) = database("trigger");
    let server = mariadb::shared();
    server.sql(&db, "CREATE TABLE orders (id INT, status VARCHAR(8)); INSERT INTO orders VALUES (7, 'NEW')").unwrap();
    let h = harness();
    let flow = format!(
        "id: watch\nnamespace: test\ntasks:\n  - id: first\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{{{ trigger.size }}}}:{{{{ trigger.rows[0].id }}}}\"\n\
         triggers:\n  - id: w\n    type: io.kestra.plugin.jdbc.mysql.Trigger\n    interval: PT10S\n    url: {}\n    username: {}\n    password: {}\n    \
         sql: SELECT id FROM orders WHERE status = 'NEW'\n    afterSQL: UPDATE orders SET status = 'SEEN' WHERE status = 'NEW'\n    fetchType: FETCH\n",
        server.jdbc_url(&db),
        mariadb::USER,
        mariadb::PASSWORD
    );
    let flow = h.flow(&flow);
    let trig = HttpTrigger::of(&flow.triggers[0]).expect("a polled trigger").expect("valid");
    let engine = &h.embedded.engine;
    let r = evaluate(engine, &flow, &trig, at("2025-01-01T10:00:03Z")).await.expect("evaluate");
    let Evaluated::Started(id) = r else { panic!("rows start an execution: {r:?}") };
    let e = wait_ended(engine, &id).await;
    assert_eq!(runs(&e, "first")[0].outputs.as_deref().cloned().unwrap_or_default()["value"], "1:7");
    assert_eq!(server.sql(&db, "SELECT status FROM orders").unwrap(), "SEEN", "afterSQL ran");
    let empty = evaluate(engine, &flow, &trig, at("2025-01-01T10:00:12Z")).await.expect("evaluate");
    assert_eq!(empty, Evaluated::ConditionFalse);
}
