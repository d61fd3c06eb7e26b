//! Tests of `execution.PurgeExecutions` on an in-memory SQLite store.

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Map, json};

use super::*;
use crate::core::test_support::Env;
use baton_backend::metrics::{MetricEntry, MetricType};
use baton_backend::{LogEntry, Storage};
use baton_model::Execution;

fn at(day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, day, 0, 0, 0).single().unwrap_or_default()
}

/// An execution of `ns`.`flow` started on `day`, ended on `end` in `state`
/// (running when `None`), with one log line, one metric and one file.
async fn seed(env: &Env, id: &str, ns: &str, flow: &str, day: u32, end: Option<(StateType, u32)>) {
    let mut e = Execution::new(id.into(), ns, flow, 1, Map::new(), vec![], at(day));
    e.state.set(StateType::Running, at(day));
    if let Some((s, d)) = end {
        e.state.set(s, at(d));
    }
    let store = env.state();
    store.create_execution(&e).await.unwrap();
    let line = LogEntry {
        namespace: ns.into(),
        flow_id: flow.into(),
        execution_id: id.into(),
        task_id: None,
        task_run_id: None,
        attempt_number: None,
        timestamp: at(day),
        level: "INFO".into(),
        message: "m".into(),
    };
    store.append_logs(&[line]).await.unwrap();
    let m = MetricEntry {
        namespace: ns.into(),
        flow_id: flow.into(),
        task_id: None,
        execution_id: Some(id.into()),
        task_run_id: Some(format!("{id}-t")),
        kind: MetricType::Counter,
        name: "n".into(),
        value: 1.0,
        timestamp: at(day),
        tags: Default::default(),
    };
    store.metrics().save_metrics(&format!("{id}-t"), 1, &[m]).await.unwrap();
    env.storage.insert(&format!("{}/tasks/t/out.csv", execution_prefix(ns, flow, id)), "x").unwrap();
}

fn counts(out: &TaskOutput) -> [u64; 4] {
    ["executionsCount", "logsCount", "metricsCount", "storagesCount"]
        .map(|k| out.outputs.get(k).and_then(Value::as_u64).unwrap_or(u64::MAX))
}

async fn exists(env: &Env, id: &str) -> bool {
    env.state().load_execution(id).await.unwrap().is_some()
}

#[tokio::test]
async fn purges_ended_executions_with_their_logs_metrics_and_files() {
    let env = Env::with_state_store();
    seed(&env, "old", "company.team", "etl", 1, Some((StateType::Success, 2))).await;
    seed(&env, "failed", "company.team.sub", "load", 2, Some((StateType::Failed, 3))).await;
    seed(&env, "late", "company.team", "etl", 8, Some((StateType::Success, 9))).await;
    seed(&env, "running", "company.team", "etl", 1, None).await;
    seed(&env, "exec1", "company.team", "my-flow", 1, Some((StateType::Success, 2))).await;
    seed(&env, "elsewhere", "company.teams", "etl", 1, Some((StateType::Success, 2))).await;
    let raw = json!({"namespace": "company.team", "endDate": "2026-01-05T00:00:00Z", "batchSize": 1});
    let out = env.run(&DEF, raw).await.unwrap();
    assert_eq!(counts(&out), [2, 2, 2, 2], "old and failed (a child namespace)");
    let logs = env.logs.text();
    // old, failed and exec1 match: three full pages of one, then an empty one
    assert!(logs.iter().any(|l| l.contains("(4 pages of at most 1)")), "read a page at a time: {logs:?}");
    assert!(!exists(&env, "old").await && !exists(&env, "failed").await);
    assert!(env.state().logs("old").await.unwrap().is_empty());
    assert!(env.storage.list("/company/team/etl/executions/old").await.unwrap().is_empty());
    for kept in ["late", "running", "exec1", "elsewhere"] {
        assert!(exists(&env, kept).await, "{kept} is kept");
        assert_eq!(env.state().logs(kept).await.unwrap().len(), 1, "{kept}'s logs are kept");
    }
}

#[tokio::test]
async fn flags_states_and_the_running_execution() {
    let env = Env::with_state_store();
    seed(&env, "ok", "company.team", "etl", 1, Some((StateType::Success, 2))).await;
    seed(&env, "ko", "company.team", "etl", 1, Some((StateType::Failed, 2))).await;
    seed(&env, "sub", "company.team.sub", "etl", 1, Some((StateType::Failed, 2))).await;
    let raw = json!({"namespace": "company.team", "flowId": "etl", "endDate": "2026-01-05T00:00:00Z",
                     "states": ["FAILED"], "purgeExecution": false, "purgeStorage": "false"});
    let out = env.run(&DEF, raw).await.unwrap();
    assert_eq!(counts(&out), [0, 1, 1, 0], "only ko's logs and metrics; with flowId the namespace is exact");
    assert!(exists(&env, "ko").await && exists(&env, "sub").await);
    assert_eq!(env.storage.list("/company/team/etl/executions/ko").await.unwrap().len(), 1);

    // the execution running the task is never purged, even ended
    seed(&env, "exec1", "company.team", "my-flow", 1, Some((StateType::Success, 2))).await;
    let out = env.run(&DEF, json!({"endDate": "2026-01-05T00:00:00Z"})).await.unwrap();
    assert_eq!(counts(&out)[0], 3, "ok, ko and sub; not exec1");
    assert!(exists(&env, "exec1").await);
}

#[tokio::test]
async fn refusals_name_the_property() {
    let env = Env::with_state_store();
    let e = env.run(&DEF, json!({"endDate": "2026-01-05T00:00:00Z", "states": ["DONE"]})).await.unwrap_err();
    assert!(e.to_string().contains("states") && e.to_string().contains("'DONE'"), "{e}");
    let e = env.run(&DEF, json!({"endDate": "2026-01-05T00:00:00Z", "batchSize": 0})).await.unwrap_err();
    assert!(e.to_string().contains("batchSize"), "{e}");
    let e = env.run(&DEF, json!({"startDate": "soon", "endDate": "2026-01-05T00:00:00Z"})).await.unwrap_err();
    assert!(e.to_string().contains("startDate"), "{e}");
}
