//! Steps on a partly loaded execution, at size: in a ForEach of 10,000
//! iterations half-way through, an instance that kept nothing decides a
//! task run's end from a handful of task runs, as the whole would.

use chrono::Duration;
use serde_json::Map;

use super::super::cold_tests::{cold_step, same_decision};
use super::super::tests::{Env, flow, t0};
use super::super::{Action, ExecIndex, StepOptions, apply_event_indexed, step_indexed};
use super::export_state;
use baton_model::wire::messages::{ExecutionEvent, TaskResult, WorkerJob};
use baton_model::{Execution, StateType};
use baton_template::Renderer;

/// A ForEach of `n` values, `limit` at a time, whose body is `body`.
fn for_each(n: usize, limit: usize, body: &str) -> String {
    let values: Vec<String> = (0..n).map(|i| i.to_string()).collect();
    format!(
        "id: f\nnamespace: n\ntasks:\n  - id: first\n    type: io.kestra.plugin.core.debug.Return\n    format: x\n  - id: each\n    type: io.kestra.plugin.core.flow.ForEach\n    values: [{}]\n    concurrencyLimit: {limit}\n    tasks:\n{body}  - id: last\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{{{ outputs.first.value }}}}\"\n",
        values.join(", ")
    )
}

fn events(job: &WorkerJob, at: chrono::DateTime<chrono::Utc>) -> [ExecutionEvent; 2] {
    let result = TaskResult {
        state: StateType::Success,
        outputs: Map::from_iter([("value".to_string(), serde_json::json!(job.task_run_id))]),
        error: None,
        labels: vec![],
        variables: None,
        start: at,
        end: at,
        log_file: None,
        metrics: Vec::new(),
        claim_left_open: false,
    };
    let (execution_id, task_run_id, attempt) = (job.execution_id.clone(), job.task_run_id.clone(), job.attempt);
    [
        ExecutionEvent::TaskStarted {
            execution_id: execution_id.clone(),
            task_run_id: task_run_id.clone(),
            attempt,
            worker_id: "w".into(),
            at,
        },
        ExecutionEvent::TaskResult { execution_id, task_run_id, attempt, result },
    ]
}

/// Runs the flow with a kept index until `answered` jobs ended (each its
/// own event and step), then ends one more: the cold step on that event
/// loads at most `bound` task runs in at most `rounds` rounds and decides
/// as the kept index does (`moves`: something to do). Gives the task runs
/// loaded.
fn cold_event(yaml: &str, answered: usize, moves: bool, bound: usize, rounds: usize) -> usize {
    baton_model::ids::pin_id_order_for_this_thread(false);
    let flow = flow(yaml);
    let env = Env(Renderer::new());
    let mut exec = Execution::new("exec1".into(), &flow.namespace, &flow.id, 1, Map::new(), vec![], t0());
    let mut index = ExecIndex::default();
    let mut now = t0();
    let mut queue = std::collections::VecDeque::new();
    let step = |exec: Execution, index: &mut ExecIndex, now, queue: &mut std::collections::VecDeque<WorkerJob>| {
        let t = step_indexed(&flow, exec, index, now, &env, StepOptions::default());
        for a in &t.actions {
            if let Action::Dispatch { job, .. } = a {
                queue.push_back((**job).clone());
            }
        }
        t
    };
    let mut t = step(exec, &mut index, now, &mut queue);
    for _ in 0..answered {
        // the held-back iterations are admitted as their wake-ups come
        while t.actions.iter().any(|a| matches!(a, Action::WakeAt(at) if *at <= now)) {
            t = step(t.execution, &mut index, now, &mut queue);
        }
        let job = queue.pop_front().expect("a job to answer");
        now += Duration::milliseconds(10);
        exec = t.execution;
        for e in events(&job, now) {
            apply_event_indexed(&flow, &mut exec, &mut index, &e, now);
        }
        t = step(exec, &mut index, now, &mut queue);
    }
    let state = export_state(&index, &t.execution);
    let job = queue.pop_front().expect("a job to answer");
    now += Duration::milliseconds(10);
    let mut exec = t.execution;
    let before = exec.task_run_list.clone();
    for e in events(&job, now) {
        apply_event_indexed(&flow, &mut exec, &mut index, &e, now);
    }
    let dirty: Vec<usize> =
        (0..exec.task_run_list.len()).filter(|p| before.get(*p) != Some(&exec.task_run_list[*p])).collect();
    let cold = cold_step(&flow, &exec, &state, &dirty, now, &env);
    let kept = step_indexed(&flow, exec, &mut index, now, &env, StepOptions::default());
    let (decided, _) = cold.outcome.expect("decided without every task run");
    same_decision(&decided, &kept);
    assert_eq!(!decided.actions.is_empty(), moves, "{:?}", decided.actions);
    assert!(cold.loaded <= bound, "{} task runs loaded of {}", cold.loaded, kept.execution.task_run_list.len());
    assert!(cold.rounds <= rounds, "{} rounds", cold.rounds);
    eprintln!(
        "cold step: {} task runs loaded of {} in {} rounds",
        cold.loaded,
        decided.execution.task_run_list.len(),
        cold.rounds
    );
    cold.loaded
}

const BODY: &str =
    "      - id: r\n        type: io.kestra.plugin.core.debug.Return\n        format: \"{{ taskrun.value }}\"\n";

#[test]
fn a_cold_event_in_a_large_for_each_loads_a_few_task_runs() {
    // unlimited: a window of 1,000 with a job out, 5,000 ended: the next iteration starts
    let unlimited = cold_event(&for_each(10_000, 0, BODY), 5_000, true, 8, 4);
    // 100 at a time: the next iteration starts
    let limited = cold_event(&for_each(10_000, 100, BODY), 5_000, true, 8, 4);
    // a two-task body whose second task reads the first's outputs in its iteration
    let two = "      - id: a\n        type: io.kestra.plugin.core.debug.Return\n        format: x\n      - id: b\n        type: io.kestra.plugin.core.debug.Return\n        format: \"{{ outputs.first.value }}\"\n";
    let reads = cold_event(&for_each(2_000, 0, two), 1_000, true, 10, 4);
    assert!(unlimited + limited + reads > 0);
}

#[test]
fn the_end_of_a_large_for_each_is_decided_cold() {
    // the last iteration's end ends the ForEach and starts `last`, which reads `first`'s outputs
    // (`first`'s job and 2,999 iterations answered before)
    cold_event(&for_each(3_000, 0, BODY), 3_000, true, 8, 4);
}
