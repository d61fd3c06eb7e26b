//! Replay from a task run: a flow run to its end by the scripted worker of
//! the executor's tests, replayed, and run again — what is dispatched the
//! second time is exactly what comes from the chosen task run on.

use chrono::Duration;
use serde_json::json;

use super::*;
use crate::tests::{LOG, Sim, fail_task, ok, t0};
use baton_model::{Execution, StateType};

const SEQ: &str = "id: f\nnamespace: n\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: x\n  - id: b\n    type: io.kestra.plugin.core.log.Log\n    message: y\n  - id: c\n    type: io.kestra.plugin.core.log.Log\n    message: z\n";

fn each(limit: &str) -> String {
    format!(
        "id: f\nnamespace: n\ntasks:\n  - id: each\n    type: io.kestra.plugin.core.flow.ForEach\n    values: [x, y, z]\n{limit}    tasks:\n      - id: ret\n        type: {LOG}\n        message: v\n  - id: last\n    type: {LOG}\n    message: end\n"
    )
}

/// Runs `yaml` to its end with `first`; returns the ended execution.
fn ran(yaml: &str, first: super::super::tests::Script) -> Execution {
    let mut sim = Sim::new(yaml, json!({}), first);
    sim.run();
    sim.exec
}

fn run_of<'e>(e: &'e Execution, task: &str, value: Option<&str>) -> &'e baton_model::TaskRun {
    e.task_run_list.iter().find(|t| t.task_id == task && t.value.as_deref() == value).expect("task run")
}

/// Replays `old` from `task`/`value`, runs the replay with the OK worker;
/// returns (the replay as created, the tasks dispatched, the replay ended).
fn replay(yaml: &str, old: &Execution, task: &str, value: Option<&str>) -> (Execution, Vec<String>, Execution) {
    let mut sim = Sim::new(yaml, json!({}), &ok);
    let from = run_of(old, task, value).id.clone();
    let now = t0() + Duration::hours(1);
    let created = replay_from(&sim.flow, 1, old, &from, "exec2", now).expect("replay");
    sim.exec = created.clone();
    sim.now = now;
    sim.run();
    let dispatched = sim.task_ids().into_iter().map(String::from).collect();
    (created, dispatched, sim.exec)
}

fn tasks(e: &Execution) -> Vec<(String, Option<String>, StateType)> {
    e.task_run_list.iter().map(|t| (t.task_id.clone(), t.value.clone(), t.state.current)).collect()
}

#[test]
fn a_sequence_keeps_what_came_before_and_runs_the_rest_in_a_new_execution() {
    let old = ran(SEQ, &ok);
    let (created, dispatched, done) = replay(SEQ, &old, "b", None);
    assert_eq!(
        tasks(&created),
        [("a".into(), None, StateType::Success), ("b".into(), None, StateType::Restarted)],
        "a kept, b to run again, c gone"
    );
    assert_eq!((created.id.as_str(), created.original_id.as_str()), ("exec2", "exec1"));
    assert_eq!(created.state.current, StateType::Restarted);
    assert!(created.labels.iter().any(|l| l.key == "system.replay" && l.value == "true"), "{:?}", created.labels);
    assert!(created.labels.iter().any(|l| l.key == "system.correlationId" && l.value == "exec2"));
    assert_ne!(created.task_run_list[0].id, old.task_run_list[0].id, "task runs of the new execution have new ids");
    assert!(created.task_run_list.iter().all(|t| t.execution_id == "exec2"));
    assert_eq!(dispatched, ["b", "c"], "a is not run again");
    assert_eq!(done.state.current, StateType::Success);
    assert_eq!((run_of(&done, "a", None).attempts.len(), run_of(&done, "b", None).attempts.len()), (1, 2));
    assert_eq!(old.task_run_list.len(), 3, "the original is untouched");
}

#[test]
fn the_first_task_replays_everything_and_the_last_only_itself() {
    let old = ran(SEQ, &ok);
    assert_eq!(replay(SEQ, &old, "a", None).1, ["a", "b", "c"]);
    assert_eq!(replay(SEQ, &old, "c", None).1, ["c"]);
}

#[test]
fn a_failed_task_replayed_drops_the_errors_handler_that_ran_after_it() {
    let y = format!("{SEQ}errors:\n  - id: h\n    type: {LOG}\n    message: handled\n");
    let old = ran(&y, &fail_task("b"));
    assert_eq!(old.state.current, StateType::Failed);
    assert_eq!(tasks(&old).len(), 3, "a, b and the handler h ran: {:?}", tasks(&old));
    let (created, dispatched, done) = replay(&y, &old, "b", None);
    assert!(created.task_run_list.iter().all(|t| t.task_id != "h"), "{:?}", tasks(&created));
    assert_eq!(created.error, None);
    assert_eq!(dispatched, ["b", "c"]);
    assert_eq!(done.state.current, StateType::Success);
}

#[test]
fn inside_a_one_at_a_time_for_each_later_iterations_and_later_tasks_run_again() {
    let y = each("");
    let old = ran(&y, &ok);
    let (created, dispatched, done) = replay(&y, &old, "ret", Some("y"));
    assert_eq!(
        tasks(&created),
        [
            ("each".into(), None, StateType::Running),
            ("ret".into(), Some("x".into()), StateType::Success),
            ("ret".into(), Some("y".into()), StateType::Restarted),
        ],
        "the parent ForEach is RUNNING again"
    );
    let parent = &created.task_run_list[0].id;
    assert!(created.task_run_list[1..].iter().all(|t| t.parent_task_run_id.as_ref() == Some(parent)));
    assert_eq!(dispatched, ["ret", "ret", "last"], "y, z, then last");
    assert_eq!(done.state.current, StateType::Success);
    assert_eq!(run_of(&done, "ret", Some("x")).attempts.len(), 1);
}

#[test]
fn inside_a_concurrent_for_each_or_a_parallel_the_other_branches_are_kept() {
    let y = each("    concurrencyLimit: 0\n");
    let old = ran(&y, &ok);
    let (created, dispatched, _) = replay(&y, &old, "ret", Some("y"));
    assert_eq!(created.task_run_list.len(), 4, "{:?}", tasks(&created));
    assert_eq!(dispatched, ["ret", "last"]);

    let p = format!(
        "id: f\nnamespace: n\ntasks:\n  - id: p\n    type: io.kestra.plugin.core.flow.Parallel\n    tasks:\n      - id: a\n        type: {LOG}\n        message: a\n      - id: b\n        type: {LOG}\n        message: b\n      - id: c\n        type: {LOG}\n        message: c\n  - id: after\n    type: {LOG}\n    message: end\n"
    );
    let old = ran(&p, &ok);
    let (created, dispatched, done) = replay(&p, &old, "b", None);
    assert_eq!(run_of(&created, "p", None).state.current, StateType::Running);
    assert_eq!(run_of(&created, "c", None).state.current, StateType::Success, "a sibling branch is kept");
    assert_eq!(dispatched, ["b", "after"]);
    assert_eq!(done.state.current, StateType::Success);
}

#[test]
fn a_flowable_replayed_evaluates_again_and_runs_all_its_children() {
    let y = each("");
    let old = ran(&y, &ok);
    let (created, dispatched, done) = replay(&y, &old, "each", None);
    assert_eq!(tasks(&created), [("each".into(), None, StateType::Running)]);
    assert_eq!(created.task_run_list[0].evaluated, None, "values are rendered again");
    assert_eq!(dispatched, ["ret", "ret", "ret", "last"]);
    assert_eq!(done.state.current, StateType::Success);
}

#[test]
fn an_unknown_task_run_a_running_execution_and_a_missing_task_are_refused() {
    let old = ran(SEQ, &ok);
    let sim = Sim::new(SEQ, json!({}), &ok);
    let err = replay_from(&sim.flow, 1, &old, "nope", "e2", t0()).unwrap_err();
    assert!(matches!(err, ReplayError::UnknownTaskRun { .. }), "{err}");
    assert!(err.to_string().contains("has no task run 'nope'"), "{err}");

    let mut running = old.clone();
    running.state.set(StateType::Running, t0());
    let b = run_of(&old, "b", None).id.clone();
    let err = replay_from(&sim.flow, 1, &running, &b, "e2", t0()).unwrap_err();
    assert!(matches!(err, ReplayError::NotEnded { state: StateType::Running, .. }), "{err}");

    let other = Sim::new(&SEQ.replace("id: a\n", "id: a2\n"), json!({}), &ok);
    let r = replay_from(&other.flow, 2, &old, &b, "e2", t0());
    let err = r.map(|e| tasks(&e)).unwrap_err();
    assert!(err.to_string().contains("task 'a'") && err.to_string().contains("revision 2"), "{err}");
}

#[test]
fn a_task_inside_a_working_directory_replays_the_whole_working_directory() {
    let y = format!(
        "id: f\nnamespace: n\ntasks:\n  - id: before\n    type: {LOG}\n    message: a\n  - id: wd\n    type: io.kestra.plugin.core.flow.WorkingDirectory\n    tasks:\n      - id: make\n        type: {LOG}\n        message: m\n      - id: use\n        type: {LOG}\n        message: u\n  - id: after\n    type: {LOG}\n    message: end\n"
    );
    let old = ran(&y, &ok);
    let (created, dispatched, done) = replay(&y, &old, "use", None);
    assert_eq!(
        tasks(&created),
        [("before".into(), None, StateType::Success), ("wd".into(), None, StateType::Running)],
        "its tasks share one folder: they all run again"
    );
    assert_eq!(dispatched, ["make", "use", "after"]);
    assert_eq!(done.state.current, StateType::Success);
}

#[test]
fn inside_an_if_the_branch_taken_is_kept_and_its_later_tasks_run_again() {
    let y = format!(
        "id: f\nnamespace: n\ntasks:\n  - id: check\n    type: io.kestra.plugin.core.flow.If\n    condition: \"{{{{ 1 == 1 }}}}\"\n    then:\n      - id: t1\n        type: {LOG}\n        message: a\n      - id: t2\n        type: {LOG}\n        message: b\n    else:\n      - id: e1\n        type: {LOG}\n        message: c\n"
    );
    let old = ran(&y, &ok);
    let (created, dispatched, done) = replay(&y, &old, "t1", None);
    assert_eq!(run_of(&created, "check", None).state.current, StateType::Running);
    assert!(run_of(&created, "check", None).evaluated.is_some(), "the condition is not evaluated again");
    assert_eq!(dispatched, ["t1", "t2"]);
    assert_eq!(done.state.current, StateType::Success);
}

#[test]
fn a_subflow_replayed_starts_a_new_child_execution() {
    use crate::{Action, apply_event};
    use baton_model::wire::messages::ExecutionEvent;
    let y = "id: f\nnamespace: n\ntasks:\n  - id: sub\n    type: io.kestra.plugin.core.flow.Subflow\n    namespace: n\n    flowId: child\n  - id: after\n    type: io.kestra.plugin.core.log.Log\n    message: done\n";
    // runs `sim` to its end, ending the child it starts (the last one) with SUCCESS
    let finish = |sim: &mut Sim| -> String {
        assert_eq!(sim.run(), StateType::Running);
        let Some(Action::StartSubflow { task_run_id, execution_id, .. }) = sim.subflows.last().cloned() else {
            panic!("no subflow started")
        };
        let ev = ExecutionEvent::SubflowEnded {
            execution_id: sim.exec.id.clone(),
            task_run_id,
            child_execution_id: execution_id.clone(),
            state: StateType::Success,
            outputs: Default::default(),
            iteration: None,
        };
        let now = sim.now;
        apply_event(&sim.flow, &mut sim.exec, &ev, now);
        assert_eq!(sim.run(), StateType::Success);
        execution_id
    };
    let mut first = Sim::new(y, json!({}), &ok);
    let first_child = finish(&mut first);
    let mut again = Sim::new(y, json!({}), &ok);
    let from = run_of(&first.exec, "sub", None).id.clone();
    again.exec = replay_from(&again.flow, 1, &first.exec, &from, "exec2", t0()).expect("replay");
    assert_eq!(tasks(&again.exec), [("sub".into(), None, StateType::Running)]);
    let second_child = finish(&mut again);
    assert_ne!(first_child, second_child, "a new child execution");
    assert_eq!(again.task_ids(), ["after"]);
}
