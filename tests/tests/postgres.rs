//! The PostgreSQL tasks (`jdbc.postgresql.Query`, `Queries`, `CopyIn`,
//! `CopyOut`) end to end against a real server started by the tests
//! (`e2e::pg`): fetch types and their outputs, value types, named
//! parameters, transactions, COPY both ways, prefix pluginDefaults, and the
//! error messages (unreachable host, bad password, SQL position, COPY line).

use e2e::pg;
use serde_json::{Value, json};
use shared::model::StateType;

use crate::support::{harness, outputs, runs, serve};

/// A fresh database and the flow's `pluginDefaults` block pointing at it.
fn database(prefix: &str) -> (String, String) {
    let cluster = pg::shared();
    let db = cluster.create_database(prefix);
    let defaults = format!(
        "pluginDefaults:\n  - type: io.kestra.plugin.jdbc.postgresql\n    values:\n      url: {}\n      username: {}\n      password: {}\n",
        cluster.jdbc_url(&db),
        pg::USER,
        pg::PASSWORD
    );
    (db, defaults)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_fetch_types_and_value_types() {
    let (db, defaults) = database("fetch");
    pg::shared()
        .psql(
            &db,
            "CREATE TABLE t (id int, amount numeric(10,2), big bigint, ratio double precision, name text, ok boolean, \
             at timestamp, at_tz timestamptz, day date, doc jsonb, uid uuid, tags text[], wait interval, nothing text); \
             INSERT INTO t VALUES \
             (1, 12.50, 9007199254740993, 0.25, 'a;b', true, '2019-01-01 00:46:40', '2019-01-01 00:46:40+00', \
              '2019-01-31', '{\"k\": [1, 2]}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', ARRAY['x','y'], '1 day 02:03:04', NULL), \
             (2, 3, 2, 1, 'second', false, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
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
    type: io.kestra.plugin.jdbc.postgresql.Query
    sql: SELECT * FROM t ORDER BY id
    fetchType: FETCH_ONE
    timeZoneId: Europe/Paris
  - id: all
    type: io.kestra.plugin.jdbc.postgresql.Query
    sql: SELECT id, name FROM t ORDER BY id
    fetch: true
  - id: stored
    type: io.kestra.plugin.jdbc.postgresql.Query
    sql: SELECT id, name, ok FROM t ORDER BY id
    fetchType: STORE
  - id: nothing
    type: io.kestra.plugin.jdbc.postgresql.Query
    sql: SELECT id FROM t
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "first={{{{ outputs.one.row.name }}}} size={{{{ outputs.all.size }}}}"
{defaults}"#
        ))
        .await;

    let one = outputs(&e, "one");
    assert_eq!(one["size"], json!(1));
    let row = one["row"].as_object().unwrap();
    let keys: Vec<&str> = row.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["id", "amount", "big", "ratio", "name", "ok", "at", "at_tz", "day", "doc", "uid", "tags", "wait", "nothing"]
    );
    assert_eq!(row["id"], json!(1));
    assert_eq!(row["amount"], json!(12.5));
    assert_eq!(row["big"], json!(9007199254740993i64));
    assert_eq!(row["ratio"], json!(0.25));
    assert_eq!(row["name"], json!("a;b"));
    assert_eq!(row["ok"], json!(true));
    assert_eq!(row["at"], json!("2019-01-01T00:46:40"));
    assert_eq!(row["at_tz"], json!("2019-01-01T01:46:40+01:00"));
    assert_eq!(row["day"], json!("2019-01-31"));
    assert_eq!(row["doc"], json!({"k": [1, 2]}));
    assert_eq!(row["uid"], json!("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"));
    assert_eq!(row["tags"], json!(["x", "y"]));
    assert_eq!(row["wait"], json!("P0Y0M1DT2H3M4S"));
    assert_eq!(row["nothing"], Value::Null);

    let all = outputs(&e, "all");
    assert_eq!(all["size"], json!(2));
    assert_eq!(all["rows"], json!([{"id": 1, "name": "a;b"}, {"id": 2, "name": "second"}]));

    let stored = outputs(&e, "stored");
    assert_eq!(stored["size"], json!(2));
    let uri = stored["uri"].as_str().unwrap();
    assert!(uri.starts_with("kestra:///test/fetch/executions/") && uri.ends_with(".ion"), "{uri}");
    let ion = String::from_utf8(h.read_storage(uri).await).unwrap();
    assert_eq!(ion, "{\"id\":1,\"name\":\"a;b\",\"ok\":true}\n{\"id\":2,\"name\":\"second\",\"ok\":false}\n");

    let none = runs(&e, "nothing")[0].outputs.as_deref().cloned().unwrap_or_default();
    assert!(none.is_empty(), "NONE has no outputs: {none:?}");
    let logs = h.logs(&e.id).await;
    assert!(logs.iter().any(|l| l == "first=a;b size=2"), "{logs:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn named_parameters_bind_with_inferred_types() {
    let (db, defaults) = database("params");
    pg::shared()
        .psql(&db, "CREATE TABLE p (id int, name text, at timestamp, amount numeric); INSERT INTO p VALUES (1, 'x', '2020-01-01', 1.5)")
        .unwrap();
    let h = harness();
    let e = h.run_ok(
        &format!(
            r#"
id: params
namespace: test
tasks:
  - id: insert
    type: io.kestra.plugin.jdbc.postgresql.Query
    sql: INSERT INTO p VALUES (:id, :name, :at, :amount)
    parameters:
      id: "{{{{ 40 + 2 }}}}"
      name: "it's :name"
      at: "2021-03-04T05:06:07"
      amount: 10.25
  - id: read
    type: io.kestra.plugin.jdbc.postgresql.Query
    sql: SELECT id, name, at, amount::text AS amount, ':id' AS literal, id::text AS cast FROM p WHERE id = :id AND name <> :other
    parameters:
      id: 42
      other: nobody
    fetchType: FETCH_ONE
{defaults}"#
        ),
    )
    .await;
    assert_eq!(
        Value::Object(outputs(&e, "read")["row"].as_object().unwrap().clone()),
        json!({"id": 42, "name": "it's :name", "at": "2021-03-04T05:06:07", "amount": "10.25", "literal": ":id", "cast": "42"})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_run_in_one_transaction_with_an_output_per_select() {
    let (db, defaults) = database("queries");
    let h = harness();
    let e = h
        .run_ok(&format!(
            r#"
id: queries
namespace: test
tasks:
  - id: setup
    type: io.kestra.plugin.jdbc.postgresql.Queries
    sql: |
      CREATE TABLE q (id int, note text);
      -- a comment; with a semicolon
      INSERT INTO q VALUES (1, 'semi;colon'), (2, 'it''s');
      DO $$ BEGIN RAISE NOTICE 'hello from plpgsql; really'; END $$;
      SELECT count(*) AS n FROM q;
      UPDATE q SET note = note || '!';
      SELECT id, note FROM q ORDER BY id;
    fetchType: FETCH
{defaults}"#
        ))
        .await;
    let out = outputs(&e, "setup");
    assert_eq!(
        out["outputs"],
        json!([
            {"rows": [{"n": 2}], "size": 1},
            {"rows": [{"id": 1, "note": "semi;colon!"}, {"id": 2, "note": "it's!"}], "size": 2}
        ])
    );
    let logs = h.logs(&e.id).await;
    assert!(logs.iter().any(|l| l.contains("hello from plpgsql; really")), "notices reach the logs: {logs:?}");

    // a failure in the third statement rolls back the first two
    let e = h
        .run(
            &format!(
                r#"
id: rollback
namespace: test
tasks:
  - id: broken
    type: io.kestra.plugin.jdbc.postgresql.Queries
    sql: |
      INSERT INTO q VALUES (3, 'three');
      DELETE FROM q WHERE id = 1;
      SELECT id,
             nope
      FROM q;
{defaults}"#
            ),
            json!({}),
        )
        .await;
    assert_eq!(e.state.current, StateType::Failed);
    let err = e.error.clone().unwrap_or_default();
    assert!(err.contains("statement 3 of 3 failed (the transaction was rolled back)"), "{err}");
    assert!(err.contains("column \"nope\" does not exist (SQLSTATE 42703)"), "{err}");
    assert!(err.contains("at line 2, column 8 of the statement"), "{err}");
    assert!(err.contains("  2 |        nope\n    |        ^"), "{err}");
    assert!(err.contains("statement: SELECT id, nope FROM q"), "{err}");
    assert_eq!(pg::shared().psql(&db, "SELECT string_agg(id::text, ',' ORDER BY id) FROM q").unwrap(), "1,2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_out_then_copy_in_and_a_malformed_csv_names_its_line() {
    let (db, defaults) = database("copy");
    pg::shared()
        .psql(
            &db,
            "CREATE TABLE src (id int, name text, amount double precision); \
             INSERT INTO src SELECT g, 'name ' || g, g * 1.5 FROM generate_series(1, 1000) g; \
             UPDATE src SET name = NULL WHERE id = 7; \
             CREATE TABLE dst (id int, name text, amount double precision)",
        )
        .unwrap();
    let bad = b"id,name,amount\n1,a,1.5\n2,b,2.5\n3,c,oops\n4,d,4\n".to_vec();
    let url = serve(bad, 200).await;
    let h = harness();
    let e = h
        .run_ok(&format!(
            r#"
id: copy
namespace: test
tasks:
  - id: out
    type: io.kestra.plugin.jdbc.postgresql.CopyOut
    table: src
    format: CSV
    header: true
  - id: query_out
    type: io.kestra.plugin.jdbc.postgresql.CopyOut
    sql: SELECT id FROM src WHERE id <= 3 ORDER BY id
  - id: in
    type: io.kestra.plugin.jdbc.postgresql.CopyIn
    from: "{{{{ outputs.out.uri }}}}"
    table: dst
    format: CSV
    header: true
    columns: [id, name, amount]
{defaults}"#
        ))
        .await;
    assert_eq!(outputs(&e, "out")["rowCount"], json!(1000));
    let csv = String::from_utf8(h.read_storage(outputs(&e, "out")["uri"].as_str().unwrap()).await).unwrap();
    assert!(csv.starts_with("id,name,amount\n1,name 1,1.5\n"), "{}", &csv[..60]);
    assert_eq!(outputs(&e, "query_out")["rowCount"], json!(3));
    let text = h.read_storage(outputs(&e, "query_out")["uri"].as_str().unwrap()).await;
    assert_eq!(text, b"1\n2\n3\n");
    assert_eq!(outputs(&e, "in")["rowCount"], json!(1000));
    let cluster = pg::shared();
    assert_eq!(cluster.count(&db, "SELECT count(*) FROM dst"), 1000);
    assert_eq!(cluster.count(&db, "SELECT count(*) FROM dst WHERE name IS NULL"), 1);
    assert_eq!(cluster.count(&db, "SELECT count(*) FROM (SELECT * FROM src EXCEPT SELECT * FROM dst) d"), 0);

    let e = h
        .run(
            &format!(
                r#"
id: bad_copy
namespace: test
tasks:
  - id: download
    type: io.kestra.plugin.core.http.Download
    uri: {url}/bad.csv
  - id: in
    type: io.kestra.plugin.jdbc.postgresql.CopyIn
    from: "{{{{ outputs.download.uri }}}}"
    table: dst
    format: CSV
    header: true
{defaults}"#
            ),
            json!({}),
        )
        .await;
    assert_eq!(e.state.current, StateType::Failed);
    let err = e.error.clone().unwrap_or_default();
    assert!(err.contains("invalid input syntax for type double precision: \"oops\""), "{err}");
    assert!(err.contains("where: COPY dst, line 4, column amount: \"oops\""), "{err}");
    assert!(err.contains("statement: COPY dst FROM STDIN WITH (FORMAT CSV, HEADER TRUE)"), "{err}");
    assert_eq!(cluster.count(&db, "SELECT count(*) FROM dst"), 1000, "a failed COPY adds nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_errors_name_the_server_and_the_cause() {
    let cluster = pg::shared();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let h = harness();
    let flow = |url: String, password: &str| {
        format!(
            r#"
id: conn
namespace: test
tasks:
  - id: q
    type: io.kestra.plugin.jdbc.postgresql.Query
    sql: SELECT 1
pluginDefaults:
  - type: io.kestra.plugin.jdbc
    values:
      url: "{url}"
      username: {}
      password: {password}
"#,
            pg::USER
        )
    };
    let e = h.run(&flow(format!("jdbc:postgresql://127.0.0.1:{closed}/x"), "pw"), json!({})).await;
    assert_eq!(e.state.current, StateType::Failed);
    let err = e.error.clone().unwrap_or_default();
    assert!(err.contains(&format!("cannot connect to PostgreSQL at 127.0.0.1:{closed}")), "{err}");
    assert!(err.contains("Connection refused"), "{err}");

    let e = h.run(&flow(cluster.jdbc_url("postgres"), "wrong-password"), json!({})).await;
    assert_eq!(e.state.current, StateType::Failed);
    let err = e.error.clone().unwrap_or_default();
    assert!(
        err.contains(&format!(
            "authentication failed for user '{}' on PostgreSQL at 127.0.0.1:{}",
            pg::USER,
            cluster.port()
        )),
        "{err}"
    );
    assert!(!err.contains("wrong-password"), "{err}");

    let e = h.run(&flow(format!("{}?sslmode=require", cluster.jdbc_url("postgres")), "x"), json!({})).await;
    assert_eq!(e.state.current, StateType::Failed);
    assert!(e.error.unwrap_or_default().contains("sslMode REQUIRE asks for an encrypted connection"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_query_is_cancelled_on_the_server() {
    let (db, defaults) = database("cancel");
    let h = harness();
    let e = h
        .run(
            &format!(
                r#"
id: cancel
namespace: test
tasks:
  - id: slow
    type: io.kestra.plugin.jdbc.postgresql.Query
    sql: SELECT pg_sleep(120) AS baton_cancel_probe
    timeout: PT1S
{defaults}"#
            ),
            json!({}),
        )
        .await;
    assert_eq!(e.state.current, StateType::Failed);
    assert!(e.error.clone().unwrap_or_default().contains("Timeout"), "{:?}", e.error);
    // without a cancel request the server would sleep on for two minutes
    let probe =
        "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%baton_cancel_probe%' AND pid <> pg_backend_pid()";
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while pg::shared().count(&db, probe) > 0 {
        assert!(std::time::Instant::now() < deadline, "the statement still runs on the server");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// A plain `password:` property is not a secret: Kestra masks only what
/// comes from `secret()`. Text that happens to hold the password — a row
/// value, a stored file's URI (the flow's id contains it here) — is kept as
/// it is in outputs and logs, and the next task can read the file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_password_is_not_masked_in_outputs_or_logs() {
    let (_db, defaults) = database("plainpw");
    let h = harness();
    let flow_id = format!("export_{}_table", pg::PASSWORD);
    let e = h
        .run_ok(&format!(
            r#"
id: {flow_id}
namespace: company.team
tasks:
  - id: word
    type: io.kestra.plugin.jdbc.postgresql.Query
    sql: SELECT '{pw}' AS word
    fetchType: FETCH_ONE
  - id: stored
    type: io.kestra.plugin.jdbc.postgresql.Query
    sql: SELECT 1 AS n
    fetchType: STORE
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "word {{{{ outputs.word.row.word }}}} file {{{{ read(outputs.stored.uri) | trim }}}}"
{defaults}"#,
            pw = pg::PASSWORD
        ))
        .await;
    assert_eq!(outputs(&e, "word")["row"]["word"], pg::PASSWORD);
    let uri = outputs(&e, "stored")["uri"].as_str().unwrap_or_default().to_string();
    assert!(uri.contains(&flow_id), "{uri}");
    let logs = h.logs(&e.id).await;
    assert!(logs.iter().any(|l| l == &format!("word {} file {{\"n\":1}}", pg::PASSWORD)), "{logs:?}");
}
