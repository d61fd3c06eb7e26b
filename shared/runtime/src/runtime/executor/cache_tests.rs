//! The executor's cache never decides alone: two executor instances over
//! one store (Cloud Run runs several) each see events the other's saves
//! made possible, and none is judged stale on an old cached copy.

use std::sync::Arc;

use chrono::Utc;
use serde_json::Map;

use super::ExecutorService;
use crate::executor::StepOptions;
use crate::model::{Execution, StateType};
use crate::runtime::engine::Engine;
use crate::runtime::launcher::{self, LaunchRequest};
use crate::runtime::messages::{ExecutionEvent, TaskResult};

const FLOW: &str = "id: two\nnamespace: company.team\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: a\n  - id: b\n    type: io.kestra.plugin.core.log.Log\n    message: b\n";

fn engine(home: &std::path::Path) -> Arc<Engine> {
    crate::runtime::engine::for_tests(home)
}

/// A SUCCESS result of the last attempt of `task_id`'s task run (also
/// `subflow_end_tests`).
pub(super) fn success(exec: &Execution, task_id: &str) -> ExecutionEvent {
    let tr = exec.task_run_list.iter().find(|t| t.task_id == task_id).expect("task run");
    let now = Utc::now();
    ExecutionEvent::TaskResult {
        execution_id: exec.id.clone(),
        task_run_id: tr.id.clone(),
        attempt: tr.attempts.len() as u32,
        result: TaskResult {
            state: StateType::Success,
            outputs: Map::new(),
            error: None,
            labels: vec![],
            variables: None,
            start: now,
            end: now,
            log_file: None,
            metrics: Vec::new(),
            claim_left_open: false,
        },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_result_reaching_an_instance_with_an_old_cached_copy_is_applied_not_dropped() {
    let home = std::env::temp_dir().join(format!("baton-exec-cache-{}", uuid::Uuid::new_v4()));
    let engine = engine(&home);
    let (flow, diags) = crate::validate::validate_source("two.yaml", FLOW, &engine.registry, &engine.renderer);
    assert!(diags.is_empty(), "{diags:?}");
    let flow = engine.flows.insert(flow.expect("flow"));
    let exec = launcher::launch(&engine, &flow, LaunchRequest::default()).await.expect("launch");
    let (one, two) = (ExecutorService::new(engine.clone()), ExecutorService::new(engine.clone()));
    let opts = StepOptions::default();
    let load = || async { engine.state.load_execution(&exec.id).await.expect("load").expect("stored") };

    // instance one starts the execution and caches it: task a dispatched
    one.handle(&ExecutionEvent::Created { execution_id: exec.id.clone() }, opts).await.expect("created");
    // instance two gets a's result: b is dispatched, in the store only
    two.handle(&success(&load().await, "a"), opts).await.expect("a's result");
    let stored = load().await;
    assert!(stored.task_run_list.iter().any(|t| t.task_id == "b"), "b was dispatched");
    // b's result reaches instance one, whose cached copy has never seen b
    one.handle(&success(&stored, "b"), opts).await.expect("b's result");

    let end = load().await;
    let _ = std::fs::remove_dir_all(&home);
    assert_eq!(end.state.current, StateType::Success, "b's result was lost: {:?}", end.task_run_list);
}

const EACH: &str = "id: each\nnamespace: company.team\ntasks:\n  - id: e\n    type: io.kestra.plugin.core.flow.ForEach\n    values: [1, 2, 3]\n    concurrencyLimit: 0\n    tasks:\n      - id: r\n        type: io.kestra.plugin.core.debug.Return\n        format: x\n  - id: after\n    type: io.kestra.plugin.core.log.Log\n    message: after\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_decided_together_end_where_one_at_a_time_would_in_one_save() {
    let home = std::env::temp_dir().join(format!("baton-exec-batch-{}", uuid::Uuid::new_v4()));
    let engine = engine(&home);
    let (flow, diags) = crate::validate::validate_source("each.yaml", EACH, &engine.registry, &engine.renderer);
    assert!(diags.is_empty(), "{diags:?}");
    let flow = engine.flows.insert(flow.expect("flow"));
    let exec = launcher::launch(&engine, &flow, LaunchRequest::default()).await.expect("launch");
    let service = ExecutorService::new(engine.clone());
    let opts = StepOptions::default();
    let load = || async { engine.state.load_execution(&exec.id).await.expect("load").expect("stored") };
    service.handle(&ExecutionEvent::Created { execution_id: exec.id.clone() }, opts).await.expect("created");
    let started = load().await;
    let runs: Vec<_> = started.task_run_list.iter().filter(|t| t.task_id == "r").cloned().collect();
    assert_eq!(runs.len(), 3, "every iteration dispatched at once");
    // each run's start and result, one batch: started, result, started, result…
    let mut events = Vec::new();
    for tr in &runs {
        events.push(ExecutionEvent::TaskStarted {
            execution_id: exec.id.clone(),
            task_run_id: tr.id.clone(),
            attempt: 1,
            worker_id: "w".into(),
            at: Utc::now(),
        });
        let mut one = started.clone();
        one.task_run_list.retain(|t| t.id == tr.id);
        events.push(success(&one, "r"));
    }
    // a duplicate in the same batch changes nothing
    events.push(events[1].clone());
    let before = started.version;
    service.handle_events(&events, opts).await.expect("batch");
    let after = load().await;
    assert_eq!(after.version, before + 1, "one save for the whole batch");
    let after_run = after.task_run_list.iter().find(|t| t.task_id == "after").expect("the next task was dispatched");
    assert_eq!(after_run.state.current, StateType::Created);
    assert!(
        after.task_run_list.iter().filter(|t| t.task_id == "r").all(|t| t.state.current == StateType::Success
            && t.state.histories.iter().any(|h| h.state == StateType::Running)),
        "each iteration went RUNNING then SUCCESS: {:?}",
        after.task_run_list
    );
    let _ = std::fs::remove_dir_all(&home);
}
