//! The flowables of Kestra 1.x's core on the pure executor, on Kestra's
//! own test flows where one exists (`AllowFailureTest`, `WaitForCaseTest`,
//! `DagTest`), each step taken with a fresh and a kept index (the `Sim`).

use serde_json::{Map, Value, json};

use super::tests::{Sim, ok};
use super::*;
use baton_model::StateType;
use baton_model::wire::messages::WorkerJob;
use baton_template::{NoHost, Renderer};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/kestra-corpus/valids");

fn corpus(name: &str) -> String {
    std::fs::read_to_string(format!("{CORPUS}/{name}")).expect("corpus flow")
}

/// A worker: `execution.Fail` fails (also under its legacy name
/// `executions.Fail`, which the loader above this crate resolves from the
/// task's declaration and these tests, parsing flows directly, do not),
/// `OutputValues` renders its `values`.
fn worker(job: &WorkerJob) -> (StateType, Map<String, Value>) {
    if job.task.kind.ends_with("execution.Fail") || job.task.kind.ends_with("executions.Fail") {
        return (StateType::Failed, Map::new());
    }
    let mut out = Map::new();
    if let Some(v) = job.task.props.get("values") {
        let rendered = Renderer::new().render_value(v, &job.context.value(), &NoHost).expect("values render");
        out.insert("values".into(), rendered);
    }
    (StateType::Success, out)
}

fn runs<'s>(sim: &'s Sim<'_>, task_id: &str) -> Vec<&'s baton_model::TaskRun> {
    sim.exec.task_run_list.iter().filter(|t| t.task_id == task_id).collect()
}

#[test]
fn allow_failure_ends_warning_and_the_flow_goes_on() {
    let mut sim = Sim::new(&corpus("allow-failure.yaml"), json!({}), &worker);
    assert_eq!(sim.run(), StateType::Warning);
    assert_eq!(sim.exec.task_run_list.len(), 9);
    for (id, s) in [
        ("first", StateType::Warning),
        ("1-1-allow-failure", StateType::Warning),
        ("1-1-1_seq", StateType::Failed),
        ("1-1-1-1", StateType::Success),
        ("ko", StateType::Failed),
        ("local-error", StateType::Success),
        ("1-2-todo", StateType::Success),
        ("last", StateType::Success),
    ] {
        assert_eq!(sim.state_of(id), [s], "{id}");
    }
    assert!(sim.state_of("global-error").is_empty());
    assert!(sim.state_of("1-1-1-3").is_empty(), "the block stops at its failure");
}

#[test]
fn allow_failure_does_not_hide_a_later_failure() {
    let mut sim = Sim::new(&corpus("allow-failure.yaml"), json!({"crash": "1"}), &worker);
    assert_eq!(sim.run(), StateType::Failed);
    assert_eq!(sim.exec.task_run_list.len(), 10);
    assert_eq!(sim.state_of("global-error"), [StateType::Success]);
    assert_eq!(sim.state_of("switch"), [StateType::Failed]);
    assert_eq!(sim.state_of("crash"), [StateType::Failed]);
    assert_eq!(sim.state_of("first"), [StateType::Warning]);
}

#[test]
fn wait_for_runs_its_tasks_until_the_condition_holds() {
    let mut sim = Sim::new(&corpus("waitfor-multiple-tasks.yaml"), json!({}), &worker);
    // first iteration: echo, output_values; then PAUSED with a stored timer
    for _ in 0..3 {
        let actions = sim.step();
        let jobs: Vec<WorkerJob> = actions
            .into_iter()
            .filter_map(|a| if let Action::Dispatch { job, .. } = a { Some(*job) } else { None })
            .collect();
        for j in &jobs {
            let (state, outputs) = worker(j);
            sim.answer_with(j, state, outputs);
        }
    }
    sim.step();
    assert_eq!(sim.state_of("waitfor"), [StateType::Paused]);
    assert_eq!(sim.exec.state.current, StateType::Paused, "the execution waits PAUSED, holding nothing");
    let due = next_timer(&sim.exec).expect("a stored timer");
    assert_eq!(due, sim.now + chrono::Duration::seconds(1), "Kestra's default interval");
    assert!(paused_task(&sim.flow, &sim.exec).is_err(), "a WaitFor is not resumed by hand");
    assert_eq!(sim.run(), StateType::Success);
    assert_eq!(runs(&sim, "output_values").len(), 3);
    assert_eq!(runs(&sim, "echo").len(), 3);
    assert_eq!(sim.exec.task_run_list.len(), 7);
    let last = sim.exec.task_run_list.last().expect("runs");
    assert_eq!(last.task_id, "output_values");
    assert_eq!(last.outputs.as_ref().unwrap()["values"]["count"], json!("4"));
    assert_eq!(runs(&sim, "waitfor")[0].outputs.as_ref().unwrap()["iterationCount"], json!(3));
}

#[test]
fn wait_for_children_see_their_iteration_and_the_parent_value() {
    let yaml = r#"
id: f
namespace: n
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["x"]
    tasks:
      - id: loop
        type: io.kestra.plugin.core.flow.WaitFor
        condition: "{{ outputs.loop['x'].iterationCount == 2 }}"
        checkFrequency:
          interval: PT5S
        tasks:
          - id: ret
            type: io.kestra.plugin.core.debug.Return
            format: "{{ taskrun.value }}-{{ taskrun.iteration }}"
"#;
    let mut sim = Sim::new(yaml, json!({}), &ok);
    assert_eq!(sim.run(), StateType::Success);
    let ctxs: Vec<(Value, Value)> = sim
        .dispatched
        .iter()
        .map(|j| (j.context.value()["taskrun"]["value"].clone(), j.context.value()["taskrun"]["iteration"].clone()))
        .collect();
    assert_eq!(ctxs, [(json!("x"), json!(1)), (json!("x"), json!(2))]);
}

#[test]
fn wait_for_max_iterations_fails_with_fail_on_max_reached() {
    let mut sim = Sim::new(&corpus("waitfor-max-iterations.yaml"), json!({}), &worker);
    assert_eq!(sim.run(), StateType::Failed);
    assert_eq!(runs(&sim, "output_values").len(), 3);
    let wf = runs(&sim, "waitfor")[0];
    assert_eq!(wf.outputs.as_ref().unwrap()["iterationCount"], json!(3));
    assert!(wf.error.as_deref().unwrap_or_default().contains("Max iterations reached"), "{:?}", wf.error);
}

#[test]
fn wait_for_max_reached_without_fail_on_max_succeeds() {
    let mut sim = Sim::new(&corpus("waitfor-no-success.yaml"), json!({}), &worker);
    assert_eq!(sim.run(), StateType::Success);
    assert_eq!(runs(&sim, "output_values").len(), 5);
}

#[test]
fn wait_for_max_duration_fails_with_fail_on_max_reached() {
    let mut sim = Sim::new(&corpus("waitfor-max-duration.yaml"), json!({}), &worker);
    let start = sim.now;
    assert_eq!(sim.run(), StateType::Failed);
    let n = runs(&sim, "output_values").len();
    assert!((20..=26).contains(&n), "about 5 s / 0.2 s iterations: {n}");
    assert!(sim.now - start >= chrono::Duration::seconds(5));
}

#[test]
fn wait_for_stops_at_a_failed_child() {
    let mut sim = Sim::new(&corpus("waitfor-multiple-tasks-failed.yaml"), json!({}), &worker);
    assert_eq!(sim.run(), StateType::Failed);
    assert_eq!(runs(&sim, "fail").len(), 1);
    assert_eq!(sim.exec.task_run_list.last().unwrap().attempt_number(), 1);
}

#[test]
fn wait_for_condition_met_first_time_runs_once() {
    let mut sim = Sim::new(&corpus("waitfor.yaml"), json!({}), &worker);
    assert_eq!(sim.run(), StateType::Success);
    assert_eq!(runs(&sim, "output_values").len(), 1);
    assert!(sim.exec.task_run_list[0].outputs.is_some());
}

/// The dispatched task ids, one list per step that dispatched.
fn batches(sim: &mut Sim<'_>) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for _ in 0..50 {
        let jobs: Vec<WorkerJob> = sim
            .step()
            .into_iter()
            .filter_map(|a| if let Action::Dispatch { job, .. } = a { Some(*job) } else { None })
            .collect();
        if sim.exec.is_done() || jobs.is_empty() {
            break;
        }
        out.push(jobs.iter().map(|j| j.task.id.clone()).collect());
        for j in &jobs {
            let state =
                if j.task.id == "task2" && sim.flow.id == "dag-fail" { StateType::Failed } else { StateType::Success };
            sim.answer_with(j, state, Map::new());
        }
    }
    out
}

#[test]
fn dag_runs_each_task_once_its_dependencies_are_done() {
    let mut sim = Sim::new(&corpus("dag.yaml"), json!({}), &ok);
    let b = batches(&mut sim);
    assert_eq!(b, [vec!["task1"], vec!["task2", "task3"], vec!["task4", "task6"], vec!["task5"]]);
    assert_eq!(sim.exec.state.current, StateType::Success);
    assert_eq!(sim.exec.task_run_list.len(), 7);
}

#[test]
fn dag_concurrent_limits_the_running_tasks() {
    let yaml = corpus("dag.yaml").replace(
        "    tasks:\n      - task:\n          id: task1",
        "    concurrent: 1\n    tasks:\n      - task:\n          id: task1",
    );
    let mut sim = Sim::new(&yaml, json!({}), &ok);
    let b = batches(&mut sim);
    assert_eq!(b.len(), 6, "{b:?}");
    assert!(b.iter().all(|x| x.len() == 1));
    assert_eq!(sim.exec.state.current, StateType::Success);
}

#[test]
fn dag_starts_nothing_after_a_failure() {
    let yaml = corpus("dag.yaml").replace("id: \"dag\"", "id: dag-fail");
    let mut sim = Sim::new(&yaml, json!({}), &ok);
    let b = batches(&mut sim);
    assert_eq!(b, [vec!["task1"], vec!["task2", "task3"]]);
    assert_eq!(sim.exec.state.current, StateType::Failed);
    assert_eq!(sim.state_of("dag"), [StateType::Failed]);
    assert!(sim.state_of("task4").is_empty() && sim.state_of("task5").is_empty());
}

const EXIT: &str = r#"
id: exit
namespace: n
inputs:
  - id: state
    type: STRING
tasks:
  - id: par
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: long
        type: io.kestra.plugin.core.log.Log
        message: slow
      - id: seq
        type: io.kestra.plugin.core.flow.Sequential
        tasks:
          - id: exit
            type: io.kestra.plugin.core.execution.Exit
            state: "{{ inputs.state }}"
  - id: end
    type: io.kestra.plugin.core.log.Log
    message: never
errors:
  - id: on_error
    type: io.kestra.plugin.core.log.Log
    message: not for an Exit
"#;

#[test]
fn exit_ends_the_execution_in_its_state_and_kills_the_rest() {
    for (given, state) in [
        ("SUCCESS", StateType::Success),
        ("WARNING", StateType::Warning),
        ("FAILED", StateType::Failed),
        ("KILLED", StateType::Killed),
        ("CANCELED", StateType::Cancelled),
        ("CANCELLED", StateType::Cancelled),
    ] {
        let mut sim = Sim::new(EXIT, json!({"state": given}), &ok);
        let actions = sim.step();
        assert!(!actions.iter().any(|a| matches!(a, Action::Dispatch { .. })), "nothing is sent: {actions:?}");
        assert!(actions.contains(&Action::Ended(state)), "{actions:?}");
        assert_eq!(sim.exec.state.current, state);
        assert_eq!(sim.state_of("exit"), [state]);
        assert_eq!(sim.state_of("seq"), [state], "its parents end so");
        assert_eq!(sim.state_of("par"), [state]);
        assert_eq!(sim.state_of("long"), [StateType::Killed], "a running sibling is killed");
        assert!(sim.state_of("end").is_empty() && sim.state_of("on_error").is_empty());
        assert!(sim.step().is_empty(), "an ended execution stays so");
    }
}

#[test]
fn exit_with_an_unknown_state_fails_its_task() {
    let mut sim = Sim::new(EXIT, json!({"state": "DONE"}), &ok);
    assert_eq!(sim.run(), StateType::Failed);
    let tr = runs(&sim, "exit")[0];
    assert!(
        tr.error
            .as_deref()
            .unwrap()
            .contains("'DONE' is not one of SUCCESS, WARNING, KILLED, FAILED, CANCELED, CANCELLED")
    );
    assert_eq!(sim.state_of("on_error"), [StateType::Success]);
}

#[test]
fn for_each_runs_a_duplicated_value_once_as_kestra() {
    // Kestra's FlowableUtils.resolveEachTasks keeps the distinct values
    let yaml = r#"
id: f
namespace: n
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["a", "a", "b"]
    concurrencyLimit: 0
    tasks:
      - id: ret
        type: io.kestra.plugin.core.debug.Return
        format: "{{ taskrun.value }}"
"#;
    let mut sim = Sim::new(yaml, json!({}), &ok);
    assert_eq!(sim.run(), StateType::Success);
    let values: Vec<_> = runs(&sim, "ret").iter().map(|t| t.value.clone().unwrap_or_default()).collect();
    assert_eq!(values, ["a", "b"]);
    assert_eq!(sim.task_ids(), ["ret", "ret"]);
}

#[test]
fn allow_failure_inside_each_sequential_as_kestra() {
    // Kestra's EachSequentialTest.sequential: 11 task runs, WARNING (the
    // Log's `ko` is undefined but for the first value)
    let script = |j: &WorkerJob| {
        let first = j.context.value()["parent"]["taskrun"]["value"] == json!("value 1");
        if j.task.id == "1-2" && !first { (StateType::Failed, Map::new()) } else { (StateType::Success, Map::new()) }
    };
    let mut sim = Sim::new(&corpus("each-sequential.yaml"), json!({}), &script);
    assert_eq!(sim.run(), StateType::Warning);
    assert_eq!(sim.exec.task_run_list.len(), 11);
    assert_eq!(sim.state_of("failed"), [StateType::Success, StateType::Warning, StateType::Warning]);
}

/// A ForEach's literal values are the flow's own, shared by what the
/// execution evaluated (not copied per execution); a list holding a
/// template is rendered into a list of its own.
#[test]
fn for_each_literal_values_are_shared_with_the_flow_and_templates_rendered() {
    let each = |values: &str| {
        format!(
            "id: f\nnamespace: n\ntasks:\n  - id: each\n    type: io.kestra.plugin.core.flow.ForEach\n    \
             values: {values}\n    tasks:\n      - id: r\n        type: io.kestra.plugin.core.debug.Return\n        \
             format: \"{{{{ taskrun.value }}}}\"\n"
        )
    };
    let evaluated = |sim: &Sim<'_>| sim.exec.task_run_list[0].evaluated.clone().expect("evaluated");
    let written = |sim: &Sim<'_>| match &sim.flow.tasks[0].flowable {
        Some(baton_model::flowable::Flowable::ForEach(spec)) => spec.raw_values(),
        other => panic!("{other:?}"),
    };

    let mut sim = Sim::new(&each("[1, a]"), json!({}), &ok);
    assert_eq!(sim.run(), StateType::Success);
    assert_eq!(*evaluated(&sim), json!([1, "a"]));
    assert!(std::sync::Arc::ptr_eq(&evaluated(&sim), &written(&sim)), "the flow's list, shared");

    let mut sim = Sim::new(&each("[\"{{ flow.id }}\", c]"), json!({}), &ok);
    assert_eq!(sim.run(), StateType::Success);
    assert_eq!(*evaluated(&sim), json!(["f", "c"]));
    assert_eq!(*written(&sim), json!(["{{ flow.id }}", "c"]), "the flow's list is left as written");
    let values: Vec<Value> = sim.dispatched.iter().map(|j| j.context.value()["taskrun"]["value"].clone()).collect();
    assert_eq!(values, [json!("f"), json!("c")]);
}
