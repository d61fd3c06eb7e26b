//! Pause scenarios (Kestra's `PauseTest` and corpus flows), without any
//! runtime: the scripted worker of `tests.rs`, resume events applied as the
//! API would send them, timers jumped by the simulation's clock.

use chrono::Duration;
use serde_json::{Map, Value, json};

use super::tests::{LOG, Sim, ok};
use super::*;
use baton_model::StateType;
use baton_model::wire::messages::ExecutionEvent;

const PAUSE: &str = "io.kestra.plugin.core.flow.Pause";
const RETURN: &str = "io.kestra.plugin.core.debug.Return";

fn histories(sim: &Sim<'_>, task_id: &str) -> Vec<StateType> {
    let tr = sim.exec.task_run_list.iter().find(|t| t.task_id == task_id).expect("task run");
    tr.state.histories.iter().map(|h| h.state).collect()
}

/// Resumes as the API does: validated against `onResume`, then the event.
fn resume(sim: &mut Sim<'_>, given: Value) -> Result<(), ResumeError> {
    let given = given.as_object().cloned().unwrap_or_default();
    let (task_run_id, inputs) = resume_inputs(&sim.flow, &sim.exec, &given, sim.now)?;
    let ev = ExecutionEvent::Resume { execution_id: sim.exec.id.clone(), task_run_id, inputs, by: None };
    sim.now += Duration::seconds(5);
    let now = sim.now;
    apply_event(&sim.flow, &mut sim.exec, &ev, now);
    Ok(())
}

fn no_tasks() -> String {
    format!(
        "id: pause_no_tasks\nnamespace: io.kestra.tests\ntasks:\n  - id: pause\n    type: {PAUSE}\n  - id: last\n    type: {RETURN}\n    format: \"{{{{task.id}}}}\"\n"
    )
}

#[test]
fn a_pause_without_duration_waits_until_resumed() {
    let y = no_tasks();
    let mut sim = Sim::new(&y, json!({}), &ok);
    assert_eq!(sim.run(), StateType::Paused);
    assert_eq!(sim.exec.task_run_list.len(), 1, "nothing after the pause starts");
    assert_eq!(sim.state_of("pause"), [StateType::Paused]);
    assert!(sim.task_ids().is_empty());
    assert_eq!(next_timer(&sim.exec), None, "no timer: nothing wakes it by itself");
    // a Wake (any event) changes nothing
    assert_eq!(sim.run(), StateType::Paused);
    resume(&mut sim, json!({})).expect("resume");
    assert_eq!(sim.exec.state.current, StateType::Running);
    assert_eq!(sim.run(), StateType::Success);
    assert_eq!(sim.task_ids(), ["last"]);
    assert_eq!(histories(&sim, "pause"), [StateType::Created, StateType::Paused, StateType::Success]);
    let out = sim.exec.task_run_list[0].outputs.clone().expect("outputs");
    assert_eq!(out["onResume"], json!({}));
    assert_eq!(out["resumed"]["to"], "SUCCESS");
    assert!(out["resumed"].get("by").is_none(), "no user: `by` is left out as Kestra leaves out its null");
}

#[test]
fn a_resume_records_who_resumed_it() {
    let y = no_tasks();
    let mut sim = Sim::new(&y, json!({}), &ok);
    sim.run();
    let (task_run_id, inputs) = resume_inputs(&sim.flow, &sim.exec, &Map::new(), sim.now).expect("paused");
    let by = Some("admin@kestra.io".to_string());
    let ev = ExecutionEvent::Resume { execution_id: sim.exec.id.clone(), task_run_id, inputs, by };
    let now = sim.now;
    apply_event(&sim.flow, &mut sim.exec, &ev, now);
    assert_eq!(sim.run(), StateType::Success);
    let out = sim.exec.task_run_list[0].outputs.clone().expect("outputs");
    assert_eq!(out["resumed"]["by"], "admin@kestra.io");
    assert_eq!(out["resumed"]["to"], "SUCCESS");
    assert_eq!(out["resumed"]["on"], shared_format(now));
}

fn shared_format(t: chrono::DateTime<chrono::Utc>) -> String {
    baton_template::inputs::format_datetime(t)
}

#[test]
fn a_duplicate_or_late_resume_changes_nothing() {
    let y = no_tasks();
    let mut sim = Sim::new(&y, json!({}), &ok);
    sim.run();
    let (task_run_id, _) = resume_inputs(&sim.flow, &sim.exec, &Map::new(), sim.now).expect("paused");
    let ev = ExecutionEvent::Resume { execution_id: sim.exec.id.clone(), task_run_id, inputs: Map::new(), by: None };
    let now = sim.now;
    assert!(!apply_event(&sim.flow, &mut sim.exec, &ev, now).0.is_empty());
    assert_eq!(sim.run(), StateType::Success);
    let before = sim.exec.clone();
    assert_eq!(apply_event(&sim.flow, &mut sim.exec, &ev, now), (vec![], false));
    assert_eq!(sim.exec, before);
    assert_eq!(
        resume_inputs(&sim.flow, &sim.exec, &Map::new(), now).unwrap_err(),
        ResumeError::NotPaused("exec1".into())
    );
    assert_eq!(ResumeError::NotPaused("exec1".into()).to_string(), "Execution 'exec1' is not paused, can't resume it");
}

#[test]
fn pause_delay_resumes_by_itself_and_runs_its_child_tasks() {
    // Kestra's corpus `pause-delay.yaml`: the deprecated child `tasks`
    let y = format!(
        "id: pause-delay\nnamespace: io.kestra.tests\ntasks:\n  - id: pause\n    type: {PAUSE}\n    delay: PT1S\n    tasks:\n      - id: subtask\n        type: {LOG}\n        message: x\n  - id: last\n    type: {RETURN}\n    format: y\n"
    );
    let mut sim = Sim::new(&y, json!({}), &ok);
    let t0 = sim.now;
    assert_eq!(sim.run(), StateType::Success);
    assert_eq!(sim.task_ids(), ["subtask", "last"]);
    let h = histories(&sim, "pause");
    assert_eq!(h.iter().filter(|s| **s == StateType::Paused).count(), 1);
    assert_eq!(h.iter().filter(|s| **s == StateType::Running).count(), 1);
    let pause = &sim.exec.task_run_list[0];
    let resumed_at = pause.state.histories.iter().find(|x| x.state == StateType::Running).map(|x| x.date);
    assert_eq!(resumed_at, Some(t0 + Duration::seconds(1)), "resumed when the delay elapsed");
    let states: Vec<_> = sim.exec.state.histories.iter().map(|h| h.state).collect();
    assert!(states.contains(&StateType::Paused), "the execution was PAUSED: {states:?}");
}

#[test]
fn the_timer_is_stored_and_armed() {
    let y = format!("id: f\nnamespace: n\ntasks:\n  - id: pause\n    type: {PAUSE}\n    pauseDuration: PT5M\n");
    let flow = super::tests::flow(&y);
    let exec = baton_model::Execution::new("e".into(), "n", "f", 1, Map::new(), vec![], super::tests::t0());
    let env = super::tests::Env(baton_template::Renderer::new());
    let t = step(&flow, &exec, super::tests::t0(), &env, StepOptions::default());
    let due = super::tests::t0() + Duration::minutes(5);
    assert!(t.actions.contains(&Action::WakeAt(due)));
    assert_eq!(t.execution.state.current, StateType::Paused);
    assert_eq!(next_timer(&t.execution), Some(due));
    // a step before the time re-arms the timer and changes nothing
    let again = step(&flow, &t.execution, super::tests::t0() + Duration::minutes(1), &env, StepOptions::default());
    assert!(!again.execution_changed && again.changed.is_empty());
    assert_eq!(again.actions, vec![Action::WakeAt(due)]);
}

#[test]
fn pause_delay_from_an_input() {
    let y = format!(
        "id: f\nnamespace: n\ninputs:\n  - id: delay\n    type: DURATION\n    defaults: PT1S\ntasks:\n  - id: pause\n    type: {PAUSE}\n    delay: \"{{{{inputs.delay}}}}\"\n  - id: last\n    type: {LOG}\n"
    );
    let mut sim = Sim::new(&y, json!({"delay": "PT3S"}), &ok);
    let t0 = sim.now;
    assert_eq!(sim.run(), StateType::Success);
    assert_eq!(next_timer(&sim.exec), None);
    let h = &sim.exec.task_run_list[0].state.histories;
    assert_eq!(h.last().map(|x| x.date), Some(t0 + Duration::seconds(3)));
}

#[test]
fn pause_timeout_fails_the_task_and_the_execution() {
    // corpus `pause-timeout.yaml`: its child task never runs
    let y = format!(
        "id: pause-timeout\nnamespace: n\ntasks:\n  - id: pause\n    type: {PAUSE}\n    timeout: PT1S\n    tasks:\n      - id: ko\n        type: {LOG}\n  - id: last\n    type: {LOG}\n"
    );
    let mut sim = Sim::new(&y, json!({}), &ok);
    assert_eq!(sim.run(), StateType::Failed);
    assert_eq!(sim.exec.task_run_list.len(), 1);
    assert_eq!(histories(&sim, "pause"), [StateType::Created, StateType::Paused, StateType::Failed]);
}

#[test]
fn pause_timeout_with_allow_failure_warns() {
    let y = format!(
        "id: f\nnamespace: n\ntasks:\n  - id: pause\n    type: {PAUSE}\n    timeout: PT1S\n    allowFailure: true\n  - id: last\n    type: {LOG}\n"
    );
    let mut sim = Sim::new(&y, json!({}), &ok);
    assert_eq!(sim.run(), StateType::Warning);
    assert_eq!(sim.exec.task_run_list.len(), 2);
    assert_eq!(sim.state_of("pause"), [StateType::Warning]);
}

#[test]
fn behaviors_when_the_duration_elapses() {
    for (behavior, task_state, exec_state, runs) in [
        ("RESUME", StateType::Success, StateType::Success, 2),
        ("WARN", StateType::Warning, StateType::Warning, 2),
        ("FAIL", StateType::Failed, StateType::Failed, 1),
        ("CANCEL", StateType::Cancelled, StateType::Cancelled, 1),
    ] {
        let y = format!(
            "id: f\nnamespace: n\ntasks:\n  - id: pause\n    type: {PAUSE}\n    pauseDuration: PT1S\n    behavior: {behavior}\n  - id: last\n    type: {LOG}\n"
        );
        let mut sim = Sim::new(&y, json!({}), &ok);
        assert_eq!(sim.run(), exec_state, "{behavior}");
        assert_eq!(sim.exec.task_run_list.len(), runs, "{behavior}");
        assert_eq!(sim.state_of("pause"), [task_state], "{behavior}");
    }
}

#[test]
fn a_resume_before_the_duration_always_succeeds() {
    let y = format!(
        "id: f\nnamespace: n\ntasks:\n  - id: pause\n    type: {PAUSE}\n    pauseDuration: PT1H\n    behavior: FAIL\n  - id: last\n    type: {LOG}\n"
    );
    let mut sim = Sim::new(&y, json!({}), &ok);
    // the simulation would jump to the timer: step once by hand instead
    let env = super::tests::Env(baton_template::Renderer::new());
    sim.exec = step(&sim.flow, &sim.exec, sim.now, &env, StepOptions::default()).execution;
    assert_eq!(sim.exec.state.current, StateType::Paused);
    resume(&mut sim, json!({})).expect("resume");
    assert_eq!(sim.run(), StateType::Success);
    assert_eq!(sim.task_ids(), ["last"]);
}

#[test]
fn on_resume_inputs_reach_the_next_tasks() {
    // corpus `pause_on_resume.yaml`
    let y = format!(
        "id: pause_on_resume\nnamespace: n\ntasks:\n  - id: pause\n    type: {PAUSE}\n    onResume:\n      - id: asked\n        type: STRING\n      - id: data\n        type: FILE\n        required: false\n  - id: last\n    type: io.kestra.plugin.core.output.OutputValues\n    values:\n      asked: \"{{{{outputs.pause.onResume.asked}}}}\"\n"
    );
    let mut sim = Sim::new(&y, json!({}), &ok);
    assert_eq!(sim.run(), StateType::Paused);
    let missing = resume(&mut sim, json!({})).unwrap_err();
    assert_eq!(missing.to_string(), "Missing required input 'asked'");
    assert_eq!(sim.exec.state.current, StateType::Paused, "a refused resume changes nothing");
    resume(&mut sim, json!({"asked": "restarted", "data": "kestra:///n/f/x.txt"})).expect("resume");
    assert_eq!(sim.run(), StateType::Success);
    let job = sim.dispatched.iter().find(|j| j.task.id == "last").expect("last ran");
    assert_eq!(job.context.value()["outputs"]["pause"]["onResume"]["asked"], "restarted");
    assert_eq!(job.context.value()["outputs"]["pause"]["onResume"]["data"], "kestra:///n/f/x.txt");
}

#[test]
fn optional_on_resume_inputs_may_be_left_out() {
    let y = format!(
        "id: f\nnamespace: n\ntasks:\n  - id: pause\n    type: {PAUSE}\n    onResume:\n      - id: asked\n        type: STRING\n        required: false\n  - id: last\n    type: {LOG}\n    message: \"{{{{outputs.pause.onResume.asked ?? 'MISSING'}}}}\"\n"
    );
    let mut sim = Sim::new(&y, json!({}), &ok);
    sim.run();
    resume(&mut sim, json!({})).expect("resume");
    assert_eq!(sim.run(), StateType::Success);
    let env = super::tests::Env(baton_template::Renderer::new());
    let job = sim.dispatched.iter().find(|j| j.task.id == "last").expect("last ran");
    let msg = env.render(job.task.props["message"].as_str().unwrap_or_default(), &job.context.value());
    assert_eq!(msg.ok().as_deref(), Some("MISSING"));
}

#[test]
fn each_parallel_pauses_resume_one_by_one() {
    // corpus `each-parallel-pause.yml`
    let y = format!(
        "id: each-parallel-pause\nnamespace: n\ntasks:\n  - id: each\n    type: io.kestra.plugin.core.flow.EachParallel\n    value: [\"toto\", \"tata\", \"titi\"]\n    tasks:\n      - id: pause\n        type: {PAUSE}\n        delay: PT1S\n        tasks:\n          - id: log\n            type: {LOG}\n            message: Hello\n"
    );
    let mut sim = Sim::new(&y, json!({}), &ok);
    assert_eq!(sim.run(), StateType::Success);
    assert_eq!(sim.task_ids(), ["log", "log", "log"]);
    assert_eq!(sim.state_of("pause"), [StateType::Success; 3]);
}

#[test]
fn other_parallel_branches_go_on_while_one_is_paused() {
    let y = format!(
        "id: f\nnamespace: n\ntasks:\n  - id: par\n    type: io.kestra.plugin.core.flow.Parallel\n    tasks:\n      - id: pause\n        type: {PAUSE}\n      - id: other\n        type: {LOG}\n  - id: last\n    type: {LOG}\n"
    );
    let mut sim = Sim::new(&y, json!({}), &ok);
    assert_eq!(sim.run(), StateType::Paused);
    assert_eq!(sim.task_ids(), ["other"]);
    assert_eq!(sim.state_of("other"), [StateType::Success]);
    resume(&mut sim, json!({})).expect("resume");
    assert_eq!(sim.run(), StateType::Success);
    assert_eq!(sim.task_ids(), ["other", "last"]);
}

#[test]
fn killing_a_paused_execution_kills_the_pause_and_its_timer_does_nothing() {
    let y = format!(
        "id: f\nnamespace: n\ntasks:\n  - id: pause\n    type: {PAUSE}\n    pauseDuration: PT1M\n  - id: last\n    type: {LOG}\n"
    );
    let mut sim = Sim::new(&y, json!({}), &ok);
    let env = super::tests::Env(baton_template::Renderer::new());
    sim.exec = step(&sim.flow, &sim.exec, sim.now, &env, StepOptions::default()).execution;
    let kill = ExecutionEvent::Kill { execution_id: sim.exec.id.clone() };
    let now = sim.now;
    apply_event(&sim.flow, &mut sim.exec, &kill, now);
    assert_eq!(sim.exec.state.current, StateType::Killed);
    assert_eq!(sim.state_of("pause"), [StateType::Killed]);
    let later = step(&sim.flow, &sim.exec, now + Duration::minutes(2), &env, StepOptions::default());
    assert!(later.is_noop());
    assert!(sim.state_of("last").is_empty());
}

#[test]
fn a_bad_duration_fails_the_pause_with_its_name() {
    let y = format!(
        "id: f\nnamespace: n\ninputs:\n  - id: d\n    type: STRING\ntasks:\n  - id: pause\n    type: {PAUSE}\n    pauseDuration: \"{{{{inputs.d}}}}\"\n"
    );
    let mut sim = Sim::new(&y, json!({"d": "soon"}), &ok);
    assert_eq!(sim.run(), StateType::Failed);
    let err = sim.exec.task_run_list[0].error.clone().unwrap_or_default();
    assert!(err.contains("pauseDuration of task 'pause'") && err.contains("soon"), "{err}");
}
