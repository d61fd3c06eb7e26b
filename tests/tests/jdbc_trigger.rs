//! The JDBC polling triggers on a real PostgreSQL: an evaluation runs the
//! query (`afterSQL` in the same transaction) and starts one execution
//! holding the rows when it returns any; a second evaluation of the same
//! slot (a duplicate tick, two servers) starts nothing; an empty result
//! starts nothing; new rows start the next slot's execution; the local
//! poller evaluates it; and validation names what a JDBC trigger lacks.

use std::sync::Arc;

use e2e::pg;
use shared::model::StateType;
use shared::runtime::events::http::{Evaluated, evaluate};
use shared::triggers::http::HttpTrigger;

use crate::sched_support::{at, executions_of, wait_ended};
use crate::support::{harness, runs};

fn flow(url: &str) -> String {
    format!(
        "id: orders\nnamespace: shop\ntasks:\n  - id: first\n    type: io.kestra.plugin.core.debug.Return\n    \
         format: \"{{{{ trigger.size }}}}:{{{{ trigger.rows[0].id }}}}\"\n\
         triggers:\n  - id: watch\n    type: io.kestra.plugin.jdbc.postgresql.Trigger\n    interval: PT10S\n    \
         url: {url}\n    username: {}\n    password: {}\n    \
         sql: SELECT id, status FROM orders WHERE status = 'NEW' ORDER BY id\n    \
         afterSQL: UPDATE orders SET status = 'SEEN' WHERE status = 'NEW'\n    fetchType: FETCH\n",
        pg::USER,
        pg::PASSWORD
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_postgres_trigger_starts_one_execution_per_slot_with_rows() {
    let cluster = pg::shared();
    let db = cluster.create_database("jdbctrigger");
    cluster
        .psql(&db, "CREATE TABLE orders (id int, status text); INSERT INTO orders VALUES (7, 'NEW'), (8, 'NEW');")
        .expect("table");
    let h = harness();
    let flow = h.flow(&flow(&cluster.jdbc_url(&db)));
    let trig = HttpTrigger::of(&flow.triggers[0]).expect("a polled trigger").expect("valid");
    let engine = &h.embedded.engine;

    let r = evaluate(engine, &flow, &trig, at("2025-01-01T10:00:03Z")).await.expect("evaluate");
    let Evaluated::Started(id) = r else { panic!("rows start an execution: {r:?}") };
    let e = wait_ended(engine, &id).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    let out = runs(&e, "first")[0].outputs.as_deref().cloned().unwrap_or_default();
    assert_eq!(out["value"], "2:7", "trigger.size and trigger.rows");
    let trigger = e.trigger.as_ref().expect("the trigger's variables");
    assert_eq!(trigger.type_, "io.kestra.plugin.jdbc.postgresql.Trigger");
    assert_eq!(trigger.variables["rows"][1]["status"], "NEW");
    assert_eq!(cluster.count(&db, "SELECT count(*) FROM orders WHERE status = 'SEEN'"), 2, "afterSQL ran");

    // the same slot again: nothing; the next slot: no rows, nothing
    let again = evaluate(engine, &flow, &trig, at("2025-01-01T10:00:07Z")).await.expect("evaluate");
    assert!(matches!(again, Evaluated::Skipped(_)), "{again:?}");
    let empty = evaluate(engine, &flow, &trig, at("2025-01-01T10:00:12Z")).await.expect("evaluate");
    assert_eq!(empty, Evaluated::ConditionFalse);

    // a new row: the next slot's execution
    cluster.psql(&db, "INSERT INTO orders VALUES (9, 'NEW');").expect("insert");
    let r = evaluate(engine, &flow, &trig, at("2025-01-01T10:00:21Z")).await.expect("evaluate");
    let Evaluated::Started(next) = r else { panic!("the new row starts one: {r:?}") };
    let e = wait_ended(engine, &next).await;
    assert_eq!(runs(&e, "first")[0].outputs.as_deref().cloned().unwrap_or_default()["value"], "1:9");
    assert_eq!(executions_of(engine, "shop", "orders").await.len(), 2);

    // the local poller evaluates it too
    cluster.psql(&db, "INSERT INTO orders VALUES (10, 'NEW');").expect("insert");
    let poller = Arc::new(shared::runtime::events::poller::EventPoller::new(engine.clone()));
    poller.pass();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while cluster.count(&db, "SELECT count(*) FROM orders WHERE status = 'NEW'") > 0 {
        assert!(tokio::time::Instant::now() < deadline, "the poller did not run the query");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    poller.abort_all();
}

#[test]
fn a_jdbc_trigger_validates_as_kestra_s_and_names_what_it_lacks() {
    let registry = shared::plugins::Registry::builtin();
    let renderer = shared::template::Renderer::new();
    let ok = flow("jdbc:postgresql://127.0.0.1:5432/db");
    let (_, diags) = shared::validate::validate_source("f.yaml", &ok, &registry, &renderer);
    assert!(diags.is_empty(), "{diags:?}");
    let duck = "id: d\nnamespace: n\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: hi\ntriggers:\n  - id: w\n    type: io.kestra.plugin.jdbc.duckdb.Trigger\n    url: \"jdbc:duckdb:\"\n    sql: SELECT 1\n    fetchType: FETCH_ONE\n    interval: PT1M\n";
    let (_, diags) = shared::validate::validate_source("d.yaml", duck, &registry, &renderer);
    assert!(diags.is_empty(), "{diags:?}");
    let text = |src: &str| -> String {
        let (_, diags) = shared::validate::validate_source("f.yaml", src, &registry, &renderer);
        diags.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n")
    };
    let missing = text(&ok.replace("    sql: SELECT id, status FROM orders WHERE status = 'NEW' ORDER BY id\n", ""));
    assert!(missing.contains("needs 'sql'"), "{missing}");
    let unknown = text(&ok.replace("    fetchType: FETCH\n", "    fetchType: FETCH\n    pollEvery: PT1S\n"));
    assert!(unknown.contains("pollEvery"), "{unknown}");
    let bad = text(&ok.replace("interval: PT10S", "interval: soon"));
    assert!(bad.contains("interval"), "{bad}");
}
