//! The flow-level keys in the step function: `sla` (MAX_DURATION from the
//! stored start date, EXECUTION_ASSERTION at each step), `afterExecution`
//! and `listeners` after the terminal state, the end announced once.

use chrono::Duration;
use serde_json::{Map, json};

use super::tests::{Env, LOG, Sim, fail_task, flow, ok, t0};
use super::*;
use baton_model::wire::messages::{ExecutionEvent, TaskResult};
use baton_model::{Execution, StateType};
use baton_template::Renderer;

fn env() -> Env {
    Env(Renderer::new())
}

fn ended(actions: &[Action]) -> Vec<StateType> {
    actions.iter().filter_map(|a| if let Action::Ended(s) = a { Some(*s) } else { None }).collect()
}

fn logs(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| if let Action::Log { message, .. } = a { Some(message.clone()) } else { None })
        .collect()
}

const SLEEP: &str = "io.kestra.plugin.core.flow.Sleep";

fn max_duration(behavior: &str) -> String {
    format!(
        "id: f\nnamespace: n\nsla:\n  - id: maxDuration\n    type: MAX_DURATION\n    behavior: {behavior}\n    duration: PT1S\n    labels:\n      sla: missed\ntasks:\n  - id: sleep\n    type: {SLEEP}\n    duration: PT3S\n"
    )
}

#[test]
fn max_duration_arms_a_timer_at_the_start_and_fails_past_the_deadline() {
    let f = flow(&max_duration("FAIL"));
    let exec = Execution::new("e".into(), "n", "f", 1, Map::new(), vec![], t0());
    let t = step(&f, &exec, t0(), &env(), StepOptions::default());
    let deadline = t0() + Duration::seconds(1);
    assert!(t.actions.contains(&Action::WakeAt(deadline)), "{:?}", t.actions);
    assert_eq!(t.execution.state.current, StateType::Running);
    // a step before the deadline (a task event) arms nothing more and acts not
    let early = step(&f, &t.execution, t0() + Duration::milliseconds(500), &env(), StepOptions::default());
    assert!(!early.actions.iter().any(|a| matches!(a, Action::WakeAt(_) | Action::Ended(_))));
    // the wake (or any later event, on any instance): decided from the stored start
    let late = step(&f, &t.execution, deadline + Duration::milliseconds(1), &env(), StepOptions::default());
    let e = &late.execution;
    assert_eq!(e.state.current, StateType::Failed);
    assert_eq!(ended(&late.actions), [StateType::Failed]);
    assert_eq!(e.task_run_list[0].state.current, StateType::Killed);
    assert!(late.changed.contains(&e.task_run_list[0].id));
    assert!(e.labels.iter().any(|l| l.key == "sla" && l.value == "missed"));
    let err = e.error.as_deref().unwrap_or_default();
    assert_eq!(
        err,
        "Execution failed due to SLA 'maxDuration' violated: execution duration of PT1.001S exceed the maximum duration of PT1S."
    );
    assert!(logs(&late.actions).iter().any(|m| m.starts_with("SLA 'maxDuration' violated")));
    // ended: a duplicate wake changes nothing
    assert!(step(&f, e, deadline + Duration::seconds(5), &env(), StepOptions::default()).is_noop());
}

#[test]
fn max_duration_cancel_and_none() {
    let f = flow(&max_duration("CANCEL"));
    let exec = Execution::new("e".into(), "n", "f", 1, Map::new(), vec![], t0());
    let t = step(&f, &exec, t0(), &env(), StepOptions::default());
    let late = step(&f, &t.execution, t0() + Duration::seconds(2), &env(), StepOptions::default());
    assert_eq!(late.execution.state.current, StateType::Cancelled);

    let f = flow(&max_duration("NONE"));
    let late = step(&f, &t.execution, t0() + Duration::seconds(2), &env(), StepOptions::default());
    assert_eq!(late.execution.state.current, StateType::Running);
    assert!(late.execution.labels.iter().any(|l| l.key == "sla"));
    assert_eq!(late.execution.sla_violations, ["maxDuration"]);
    assert_eq!(logs(&late.actions).len(), 1);
    // acted once: a later step logs nothing again
    let again = step(&f, &late.execution, t0() + Duration::seconds(3), &env(), StepOptions::default());
    assert!(logs(&again.actions).is_empty());
}

#[test]
fn max_duration_is_rearmed_by_a_recovery_step() {
    let f = flow(&max_duration("FAIL"));
    let exec = Execution::new("e".into(), "n", "f", 1, Map::new(), vec![], t0());
    let t = step(&f, &exec, t0(), &env(), StepOptions::default());
    let opts = StepOptions { redispatch_pending: true };
    let r = step(&f, &t.execution, t0() + Duration::milliseconds(200), &env(), opts);
    assert!(r.actions.contains(&Action::WakeAt(t0() + Duration::seconds(1))));
}

fn assertion_flow() -> String {
    format!(
        "id: f\nnamespace: n\ninputs:\n  - id: string\n    type: STRING\nsla:\n  - id: condition\n    type: EXECUTION_ASSERTION\n    behavior: CANCEL\n    assert: \"{{{{ inputs.string != 'CANCEL' }}}}\"\n  - id: label\n    type: EXECUTION_ASSERTION\n    behavior: NONE\n    assert: \"{{{{ inputs.string != 'LABEL' }}}}\"\n    labels:\n      sla: violated\ntasks:\n  - id: a\n    type: {LOG}\n    message: x\n"
    )
}

#[test]
fn execution_assertion_cancels_labels_or_passes() {
    let y = assertion_flow();
    let mut sim = Sim::new(&y, json!({"string": "CANCEL"}), &ok);
    assert_eq!(sim.run(), StateType::Cancelled);
    assert!(sim.task_ids().is_empty());

    let mut sim = Sim::new(&y, json!({"string": "LABEL"}), &ok);
    assert_eq!(sim.run(), StateType::Success);
    assert!(sim.exec.labels.iter().any(|l| l.key == "sla" && l.value == "violated"));

    let mut sim = Sim::new(&y, json!({"string": "PASS"}), &ok);
    assert_eq!(sim.run(), StateType::Success);
    assert!(!sim.exec.labels.iter().any(|l| l.key == "sla"));
}

fn with_after(extra: &str) -> String {
    format!(
        "id: f\nnamespace: n\ntasks:\n  - id: a\n    type: {LOG}\n    message: x\nafterExecution:\n  - id: after1\n    type: {LOG}\n    message: \"{{{{ execution.state }}}}\"\n  - id: after2\n    type: {LOG}\n    message: y\n{extra}"
    )
}

#[test]
fn after_execution_runs_after_the_terminal_state_and_the_end_is_announced_once() {
    let f = flow(&with_after(""));
    let mut exec = Execution::new("e".into(), "n", "f", 1, Map::new(), vec![], t0());
    let mut now = t0();
    let mut all_ended = Vec::new();
    let mut order = Vec::new();
    for _ in 0..20 {
        let t = step(&f, &exec, now, &env(), StepOptions::default());
        exec = t.execution;
        all_ended.extend(ended(&t.actions));
        let jobs: Vec<_> = t
            .actions
            .iter()
            .filter_map(|a| if let Action::Dispatch { job, .. } = a { Some(job.clone()) } else { None })
            .collect();
        if jobs.is_empty() {
            break;
        }
        for job in jobs {
            order.push((job.task.id.clone(), exec.state.current));
            if job.task.id == "after1" {
                // the task sees the execution's terminal state
                assert_eq!(job.context.value()["execution"]["state"], "SUCCESS");
            }
            now += Duration::milliseconds(10);
            let result = if job.task.id == "after1" { StateType::Failed } else { StateType::Success };
            let ev = ExecutionEvent::TaskResult {
                execution_id: "e".into(),
                task_run_id: job.task_run_id.clone(),
                attempt: job.attempt,
                result: TaskResult {
                    state: result,
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
            };
            apply_event(&f, &mut exec, &ev, now);
        }
    }
    assert_eq!(order, [("a".to_string(), StateType::Running), ("after1".to_string(), StateType::Success),]);
    // after1 failed: after2 is skipped, the execution stays SUCCESS, ended once
    assert_eq!(exec.state.current, StateType::Success);
    assert_eq!(all_ended, [StateType::Success]);
    assert!(exec.is_done());
    let after1 = exec.task_run_list.iter().find(|t| t.task_id == "after1").map(|t| t.state.current);
    assert_eq!(after1, Some(StateType::Failed));
    // a duplicate wake of the ended execution does nothing
    assert!(step(&f, &exec, now, &env(), StepOptions::default()).is_noop());
}

#[test]
fn after_execution_runs_after_a_failure_and_a_kill() {
    let script = fail_task("a");
    let mut sim = Sim::new(&with_after(""), json!({}), &script);
    assert_eq!(sim.run(), StateType::Failed);
    assert_eq!(sim.task_ids(), ["a", "after1", "after2"]);
    assert!(sim.exec.is_done());

    let f = flow(&with_after(""));
    let exec = Execution::new("e".into(), "n", "f", 1, Map::new(), vec![], t0());
    let mut e = step(&f, &exec, t0(), &env(), StepOptions::default()).execution;
    apply_event(&f, &mut e, &ExecutionEvent::Kill { execution_id: "e".into() }, t0());
    assert_eq!(e.state.current, StateType::Killed);
    assert!(e.ending && !e.is_done());
    let t = step(&f, &e, t0(), &env(), StepOptions::default());
    assert!(ended(&t.actions).is_empty());
    assert!(t.actions.iter().any(|a| matches!(a, Action::Dispatch { job, .. } if job.task.id == "after1")));
}

#[test]
fn listeners_run_before_after_execution() {
    let extra = format!("listeners:\n  - tasks:\n      - id: l1\n        type: {LOG}\n        message: z\n");
    let mut sim = Sim::new(&with_after(&extra), json!({}), &ok);
    assert_eq!(sim.run(), StateType::Success);
    assert_eq!(sim.task_ids(), ["a", "l1", "after1", "after2"]);
}

fn status_listeners() -> String {
    format!(
        "id: f\nnamespace: n\ntasks:\n  - id: a\n    type: {LOG}\n    message: x\nlisteners:\n  - conditions:\n      - type: io.kestra.plugin.core.condition.ExecutionStatus\n        in: [FAILED]\n    tasks:\n      - id: on_failed\n        type: {LOG}\n        message: f\n  - conditions:\n      - type: io.kestra.plugin.core.condition.ExecutionStatus\n        in: [SUCCESS]\n      - type: io.kestra.plugin.core.condition.ExecutionFlow\n        namespace: n\n        flowId: f\n    tasks:\n      - id: on_success\n        type: {LOG}\n        message: s\n"
    )
}

#[test]
fn listeners_run_only_when_their_conditions_hold_on_the_ended_execution() {
    let mut sim = Sim::new(&status_listeners(), json!({}), &ok);
    assert_eq!(sim.run(), StateType::Success);
    assert_eq!(sim.task_ids(), ["a", "on_success"]);
    assert!(!sim.exec.ending);

    let fails = fail_task("a");
    let mut sim = Sim::new(&status_listeners(), json!({}), &fails);
    assert_eq!(sim.run(), StateType::Failed);
    assert_eq!(sim.task_ids(), ["a", "on_failed"]);
}

#[test]
fn a_listener_whose_condition_fails_or_errors_is_skipped() {
    let extra = format!(
        "listeners:\n  - conditions:\n      - type: io.kestra.plugin.core.condition.Expression\n        expression: \"{{{{ nope.missing }}}}\"\n    tasks:\n      - id: l1\n        type: {LOG}\n        message: z\n  - conditions:\n      - type: io.kestra.plugin.core.condition.Expression\n        expression: \"{{{{ execution.state == 'SUCCESS' }}}}\"\n    tasks:\n      - id: l2\n        type: {LOG}\n        message: z\n"
    );
    let mut sim = Sim::new(&with_after(&extra), json!({}), &ok);
    assert_eq!(sim.run(), StateType::Success);
    assert_eq!(sim.task_ids(), ["a", "l2", "after1", "after2"]);
}

#[test]
fn without_after_tasks_the_end_is_announced_with_the_state() {
    let f = flow(&format!("id: f\nnamespace: n\ntasks:\n  - id: a\n    type: {LOG}\n    message: x\n"));
    let mut sim = Sim::new(&f.source, json!({}), &ok);
    assert_eq!(sim.run(), StateType::Success);
    assert!(!sim.exec.ending);
}
