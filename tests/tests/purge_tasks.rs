//! `log.PurgeLogs`, `execution.PurgeExecutions` and `metric.PurgeMetrics`
//! on the embedded runtime (SQLite, a local folder): executions with logs
//! and files are created by running flows, then purge flows delete by
//! namespace, flow, level, state and date, and the counts and what remains
//! are checked — the execution running a purge is never touched.

use serde_json::{Value, json};
use shared::backend::LogEntry;
use shared::model::{Execution, StateType};

use crate::support::{Harness, harness, runs};

const WORKER: &str = r#"
id: worker
namespace: company.team
tasks:
  - id: chatty
    type: io.kestra.plugin.core.log.Log
    level: DEBUG
    message: "debug line"
  - id: said
    type: io.kestra.plugin.core.log.Log
    message: "info line"
  - id: write
    type: io.kestra.plugin.core.storage.Write
    extension: .txt
    content: hello
"#;

const BROKEN: &str = r#"
id: broken
namespace: company.team.sub
tasks:
  - id: said
    type: io.kestra.plugin.core.log.Log
    message: "about to fail"
  - id: fail
    type: io.kestra.plugin.core.execution.Fail
"#;

const OTHER: &str = r#"
id: other
namespace: elsewhere
tasks:
  - id: said
    type: io.kestra.plugin.core.log.Log
    message: "keep me"
"#;

/// A flow of `namespace` running one purge task (`TASK` replaced), then a
/// log line: the flow goes on after its purge.
fn purge_flow(namespace: &str, task: &str) -> String {
    format!(
        "id: purge\nnamespace: {namespace}\ninputs:\n  - id: end\n    type: STRING\ntasks:\n  - id: purge\n{task}  - id: after\n    type: io.kestra.plugin.core.log.Log\n    message: \"still here\"\n"
    )
}

async fn lines(h: &Harness, id: &str) -> Vec<LogEntry> {
    h.embedded.engine.logs.flush().await;
    h.embedded.engine.state.logs(id).await.expect("logs")
}

fn outputs(e: &Execution) -> Value {
    Value::Object(runs(e, "purge")[0].outputs.as_deref().cloned().unwrap_or_default())
}

fn later() -> String {
    (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339()
}

async fn exists(h: &Harness, id: &str) -> bool {
    h.embedded.engine.state.load_execution(id).await.expect("load").is_some()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_logs_by_namespace_and_level() {
    let h = harness();
    let w = h.run(WORKER, json!({})).await;
    let o = h.run(OTHER, json!({})).await;
    assert_eq!((w.state.current, o.state.current), (StateType::Success, StateType::Success));
    let debug_before = lines(&h, &w.id).await.iter().filter(|l| l.level == "DEBUG").count();
    assert!(debug_before >= 1);
    let other_before = lines(&h, &o.id).await.len();

    // a window that ended before the lines: nothing
    let task = "    type: io.kestra.plugin.core.log.PurgeLogs\n    namespace: company.team\n    endDate: \"{{ inputs.end }}\"\n    logLevels: [DEBUG]\n";
    let e = h.run(&purge_flow("system", task), json!({"end": "2020-01-01T00:00:00Z"})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    assert_eq!(outputs(&e)["count"], json!(0));

    let e = h.run(&purge_flow("system", task), json!({"end": later()})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    assert_eq!(outputs(&e)["count"], json!(debug_before), "{}", outputs(&e));
    assert_eq!(outputs(&e)["executionLogsCount"], json!(debug_before));
    let left = lines(&h, &w.id).await;
    assert!(left.iter().all(|l| l.level != "DEBUG"), "no DEBUG line left");
    assert!(left.iter().any(|l| l.message == "info line"), "INFO lines stay");
    assert_eq!(lines(&h, &o.id).await.len(), other_before, "another namespace's lines stay");

    // one flow's lines, every level, by a flow of that namespace: its own
    // running execution's lines are another flow's
    let task = "    type: io.kestra.plugin.core.log.PurgeLogs\n    namespace: company.team\n    flowId: worker\n    endDate: \"{{ inputs.end }}\"\n";
    let e = h.run(&purge_flow("company.team", task), json!({"end": later()})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    assert_eq!(outputs(&e)["count"], json!(left.len()));
    assert!(lines(&h, &w.id).await.is_empty());
    assert!(lines(&h, &e.id).await.iter().any(|l| l.message == "still here"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_executions_by_state_and_namespace_never_the_running_one() {
    let h = harness();
    let w = h.run(WORKER, json!({})).await;
    let b = h.run(BROKEN, json!({})).await;
    let o = h.run(OTHER, json!({})).await;
    assert_eq!(b.state.current, StateType::Failed);
    let broken_lines = lines(&h, &b.id).await.len();
    let worker_lines = lines(&h, &w.id).await.len();

    // FAILED ones of company (children included): the broken one only
    let task = "    type: io.kestra.plugin.core.execution.PurgeExecutions\n    namespace: company\n    endDate: \"{{ inputs.end }}\"\n    states: [FAILED]\n";
    let e = h.run(&purge_flow("system", task), json!({"end": later()})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    let out = outputs(&e);
    assert_eq!((out["executionsCount"].clone(), out["logsCount"].clone()), (json!(1), json!(broken_lines)), "{out}");
    assert!(!exists(&h, &b.id).await && lines(&h, &b.id).await.is_empty());
    assert!(exists(&h, &w.id).await && exists(&h, &o.id).await);

    // started after the window's end: nothing
    let task = "    type: io.kestra.plugin.core.execution.PurgeExecutions\n    namespace: company.team\n    startDate: \"{{ inputs.end }}\"\n    endDate: \"{{ inputs.end }}\"\n";
    let e = h.run(&purge_flow("company.team", task), json!({"end": later()})).await;
    assert_eq!(outputs(&e)["executionsCount"], json!(0));

    // everything of company.team, from a flow of company.team: the worker,
    // the earlier purge run, never this one
    let task = "    type: io.kestra.plugin.core.execution.PurgeExecutions\n    namespace: company.team\n    endDate: \"{{ inputs.end }}\"\n    batchSize: 1\n";
    let e = h.run(&purge_flow("company.team", task), json!({"end": later()})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    let out = outputs(&e);
    assert_eq!(out["executionsCount"], json!(2), "{out}");
    assert!(out["logsCount"].as_u64().unwrap_or(0) >= worker_lines as u64, "{out}");
    assert_eq!(out["storagesCount"], json!(1), "the worker's file");
    assert!(!exists(&h, &w.id).await);
    assert!(exists(&h, &e.id).await, "the running execution is untouched");
    assert!(lines(&h, &e.id).await.iter().any(|l| l.message == "still here"));
    assert!(exists(&h, &o.id).await, "another namespace's execution stays");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_metrics_and_refusals() {
    let h = harness();
    let task = "    type: io.kestra.plugin.core.metric.PurgeMetrics\n    namespace: company.team\n    endDate: \"{{ inputs.end }}\"\n";
    let e = h.run(&purge_flow("system", task), json!({"end": later()})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    assert_eq!(outputs(&e)["count"], json!(0));

    let task = "    type: io.kestra.plugin.core.log.PurgeLogs\n    flowId: worker\n    endDate: \"{{ inputs.end }}\"\n";
    let e = h.run(&purge_flow("system", task), json!({"end": later()})).await;
    assert_eq!(e.state.current, StateType::Failed);
    let text = lines(&h, &e.id).await.into_iter().map(|l| l.message).collect::<Vec<_>>().join("\n");
    assert!(text.contains("'namespace' is required when 'flowId' is set"), "{text}");
    let task =
        task.replace("log.PurgeLogs", "metric.PurgeMetrics").replace("flowId: worker", "namespace: company.team");
    let e = h.run(&purge_flow("system", &task), json!({"end": "soon"})).await;
    assert_eq!(e.state.current, StateType::Failed);
    let text = lines(&h, &e.id).await.into_iter().map(|l| l.message).collect::<Vec<_>>().join("\n");
    assert!(text.contains("endDate") && text.contains("'soon'"), "{text}");
}
