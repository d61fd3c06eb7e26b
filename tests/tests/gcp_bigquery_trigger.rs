//! `io.kestra.plugin.gcp.bigquery.Trigger` on bqemulator
//! (`e2e::emulators`), polled as the scheduler polls it (one evaluation a
//! slot of `interval`): a query returning rows starts one execution whose
//! `trigger` holds them (`rows`, `size`, `jobId`), a second evaluation of
//! the same slot starts none, and a query returning no rows starts none.

use e2e::emulators::emulators;
use serde_json::{Value, json};
use shared::model::StateType;
use shared::plugins::PluginConfig;
use shared::plugins::gcp::GcpConfig;
use shared::runtime::events::http::{Evaluated, evaluate};
use shared::triggers::http::HttpTrigger;

use crate::sched_support::{at, wait_ended};
use crate::support::{harness_with_plugins, runs};

/// A flow `id` in `ns` whose trigger `watch` polls `ds.orders` every
/// `interval` for the rows matching `filter` (also used by `deployed_timed`).
pub(crate) fn watch(ns: &str, ds: &str, id: &str, filter: &str, interval: &str) -> String {
    format!(
        r#"
id: {id}
namespace: {ns}
tasks:
  - id: seen
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ trigger.size }}}}:{{{{ trigger.rows[0].name }}}},{{{{ trigger.rows[1].name }}}}"
triggers:
  - id: watch
    type: io.kestra.plugin.gcp.bigquery.Trigger
    projectId: test-proj
    interval: {interval}
    sql: SELECT id, name FROM {ds}.orders WHERE {filter} ORDER BY id
    fetchType: FETCH
"#
    )
}

/// A new dataset on bqemulator holding `orders`: two NEW rows (tea, cake)
/// and a DONE one, created by an in-process engine; its name.
pub(crate) async fn orders_dataset() -> String {
    let emu = emulators();
    let h = harness_with_plugins(PluginConfig {
        gcp: GcpConfig::emulators(None, Some(&emu.bigquery_host)),
        ..PluginConfig::default()
    });
    let ds = format!("ds_{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let setup = format!(
        r#"
id: setup
namespace: test.gcp
tasks:
  - id: dataset
    type: io.kestra.plugin.gcp.bigquery.CreateDataset
    name: {ds}
  - id: table
    type: io.kestra.plugin.gcp.bigquery.Query
    sql: CREATE TABLE {ds}.orders AS SELECT 1 AS id, 'tea' AS name, 'NEW' AS status UNION ALL SELECT 2, 'cake', 'NEW' UNION ALL SELECT 3, 'jam', 'DONE'
pluginDefaults:
  - type: io.kestra.plugin.gcp
    values:
      projectId: test-proj
"#
    );
    let e = h.run(&setup, json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    ds
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bigquery_trigger_starts_one_execution_when_its_query_returns_rows() {
    let emu = emulators();
    let h = harness_with_plugins(PluginConfig {
        gcp: GcpConfig::emulators(None, Some(&emu.bigquery_host)),
        ..PluginConfig::default()
    });
    let ds = orders_dataset().await;
    let engine = &h.embedded.engine;

    // rows: one execution with the rows in its trigger outputs
    let flow = h.flow(&watch("test.gcp", &ds, "new_orders", "status = 'NEW'", "PT10S"));
    let trig = HttpTrigger::of(&flow.triggers[0]).expect("a polled trigger").expect("valid");
    let started = std::time::Instant::now();
    let r = evaluate(engine, &flow, &trig, at("2025-01-01T10:00:03Z")).await.expect("evaluate");
    let poll = started.elapsed();
    let Evaluated::Started(id) = r else { panic!("rows start an execution: {r:?}") };
    let e = wait_ended(engine, &id).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    assert_eq!(runs(&e, "seen")[0].outputs.as_deref().cloned().unwrap_or_default()["value"], "2:tea,cake");
    let trigger = e.trigger.as_ref().expect("the execution's trigger");
    let vars = Value::Object(trigger.variables.clone());
    assert_eq!(vars["rows"], json!([{"id": 1, "name": "tea"}, {"id": 2, "name": "cake"}]), "{vars:#}");
    assert_eq!(vars["size"], json!(2));
    assert!(vars["jobId"].as_str().is_some_and(|j| !j.is_empty()), "{vars:#}");
    assert_eq!((trigger.id.as_str(), trigger.type_.as_str()), ("watch", "io.kestra.plugin.gcp.bigquery.Trigger"));
    // the same slot again: no second execution
    let again = evaluate(engine, &flow, &trig, at("2025-01-01T10:00:07Z")).await.expect("evaluate");
    assert!(matches!(again, Evaluated::Skipped(_)), "{again:?}");

    // no rows: no execution
    let flow = h.flow(&watch("test.gcp", &ds, "late_orders", "status = 'LATE'", "PT10S"));
    let trig = HttpTrigger::of(&flow.triggers[0]).expect("a polled trigger").expect("valid");
    let r = evaluate(engine, &flow, &trig, at("2025-01-01T10:00:03Z")).await.expect("evaluate");
    assert_eq!(r, Evaluated::ConditionFalse);
    eprintln!("bigquery trigger: one poll with rows took {poll:?}");
}
