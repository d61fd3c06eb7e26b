//! Kestra 1.x's core flowables on the embedded runtime (SQLite, in-process
//! queues, real workers), on Kestra's own test flows with what its tests
//! assert (`AllowFailureTest`, `WaitForCaseTest`, `DagTest`,
//! `EachSequentialTest`), and `execution.Exit`.

use serde_json::{Value, json};
use shared::model::{Execution, StateType};

use crate::support::{harness, runs};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/kestra-corpus/valids");

fn corpus(name: &str) -> String {
    std::fs::read_to_string(format!("{CORPUS}/{name}")).expect("corpus flow")
}

fn state(e: &Execution, task: &str) -> Vec<StateType> {
    runs(e, task).iter().map(|t| t.state.current).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_failure_as_kestra_tests_expect() {
    let h = harness();
    // Kestra's test runs it without the (required) input, past input
    // validation: here it is made optional instead, and an optional input
    // not given is null, which Baton's `is defined` counts as defined
    let flow = corpus("allow-failure.yaml")
        .replace("type: STRING", "type: STRING\n    required: false")
        .replace("inputs.crash is defined", "inputs.crash is not null");
    let e = h.run(&flow, json!({})).await;
    assert_eq!(e.state.current, StateType::Warning, "{:?}", e.error);
    assert_eq!(e.task_run_list.len(), 9);
    assert_eq!(state(&e, "1-1-allow-failure"), [StateType::Warning]);
    assert_eq!(state(&e, "1-1-1_seq"), [StateType::Failed]);
    assert_eq!(state(&e, "local-error"), [StateType::Success]);
    assert_eq!(state(&e, "last"), [StateType::Success]);
    assert!(runs(&e, "global-error").is_empty());
    let e = h.run(&flow, json!({"crash": "1"})).await;
    assert_eq!(e.state.current, StateType::Failed);
    assert_eq!(e.task_run_list.len(), 10);
    assert_eq!(state(&e, "global-error"), [StateType::Success]);
    assert_eq!(state(&e, "crash"), [StateType::Failed]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_sequential_with_allow_failure_ends_warning() {
    let h = harness();
    let e = h.run(&corpus("each-sequential.yaml"), json!({})).await;
    assert_eq!(e.state.current, StateType::Warning, "{:?}", e.error);
    assert_eq!(e.task_run_list.len(), 11);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_for_as_kestra_tests_expect() {
    let h = harness();
    let e = h.run(&corpus("waitfor.yaml"), json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    assert!(e.task_run_list[0].outputs.is_some());
    let started = std::time::Instant::now();
    let e = h.run(&corpus("waitfor-multiple-tasks.yaml"), json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    let last = e.task_run_list.iter().filter(|t| t.task_id == "output_values").max_by_key(|t| t.iteration).unwrap();
    assert_eq!(last.outputs.as_ref().unwrap()["values"]["count"], json!("4"));
    assert_eq!(runs(&e, "output_values").len(), 3);
    assert_eq!(runs(&e, "waitfor")[0].outputs.as_ref().unwrap()["iterationCount"], json!(3));
    assert!(started.elapsed() >= std::time::Duration::from_secs(2), "two 1 s intervals between three iterations");
    let e = h.run(&corpus("waitfor-max-iterations.yaml"), json!({})).await;
    assert_eq!(e.state.current, StateType::Failed);
    assert_eq!(runs(&e, "output_values").len(), 3);
    let e = h.run(&corpus("waitfor-no-success.yaml"), json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    assert_eq!(runs(&e, "output_values").len(), 5);
    let e = h.run(&corpus("waitfor-multiple-tasks-failed.yaml"), json!({})).await;
    assert_eq!(e.state.current, StateType::Failed);
    assert_eq!(e.task_run_list.iter().max_by_key(|t| t.iteration).unwrap().attempts.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_for_max_duration_fails() {
    let h = harness();
    let started = std::time::Instant::now();
    let e = h.run(&corpus("waitfor-max-duration.yaml"), json!({})).await;
    assert_eq!(e.state.current, StateType::Failed);
    assert!(started.elapsed() >= std::time::Duration::from_secs(5));
    let n = runs(&e, "output_values").len();
    assert!(n > 3, "iterations every 0.2 s for 5 s: {n}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dag_as_kestra_tests_expect() {
    let h = harness();
    let e = h.run(&corpus("dag.yaml"), json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    assert_eq!(e.task_run_list.len(), 7);
    let end = |id: &str| runs(&e, id)[0].state.end_date().expect("ended");
    let start = |id: &str| runs(&e, id)[0].state.start_date().expect("started");
    for (task, deps) in [("task2", &["task1"][..]), ("task4", &["task2"]), ("task5", &["task4", "task3"])] {
        for d in deps {
            assert!(start(task) >= end(d), "{task} starts after {d}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_ends_the_execution_as_kestra() {
    let h = harness();
    // Kestra's own Exit example
    let flow = r#"
id: exit
namespace: company.team
inputs:
  - id: state
    type: SELECT
    values:
      - CONTINUE
      - END
    defaults: CONTINUE
tasks:
  - id: if
    type: io.kestra.plugin.core.flow.If
    condition: "{{inputs.state == 'CONTINUE'}}"
    then:
      - id: hello
        type: io.kestra.plugin.core.log.Log
        message: I'm continuing
    else:
      - id: exit
        type: io.kestra.plugin.core.execution.Exit
        state: KILLED
  - id: end
    type: io.kestra.plugin.core.log.Log
    message: I'm ending
"#;
    let e = h.run(flow, json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    assert_eq!(e.task_run_list.len(), 3);
    let e = h.run(flow, json!({"state": "END"})).await;
    assert_eq!(e.state.current, StateType::Killed);
    assert_eq!(state(&e, "exit"), [StateType::Killed]);
    assert_eq!(state(&e, "if"), [StateType::Killed]);
    assert!(runs(&e, "end").is_empty());
    // a running sibling is killed, the execution ends WARNING
    let e = h
        .run(
            r#"
id: exit-warning
namespace: company.team
tasks:
  - id: par
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: slow
        type: io.kestra.plugin.core.flow.Sleep
        duration: PT30S
      - id: seq
        type: io.kestra.plugin.core.flow.Sequential
        tasks:
          - id: first
            type: io.kestra.plugin.core.debug.Return
            format: ok
          - id: exit
            type: io.kestra.plugin.core.execution.Exit
            state: WARNING
  - id: end
    type: io.kestra.plugin.core.log.Log
    message: never
"#,
            json!({}),
        )
        .await;
    assert_eq!(e.state.current, StateType::Warning, "{:?}", e.error);
    assert_eq!(state(&e, "slow"), [StateType::Killed]);
    assert_eq!(state(&e, "exit"), [StateType::Warning]);
    assert!(runs(&e, "end").is_empty());
    let outputs: Vec<Value> =
        runs(&e, "first").iter().filter_map(|t| t.outputs.as_deref().cloned().map(Value::Object)).collect();
    assert_eq!(outputs, [json!({"value": "ok"})]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn for_each_keeps_distinct_values_as_kestra() {
    let h = harness();
    let e = h
        .run(
            r#"
id: each-dup
namespace: company.team
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["a", "a", "b"]
    tasks:
      - id: ret
        type: io.kestra.plugin.core.debug.Return
        format: "{{ taskrun.value }}"
"#,
            json!({}),
        )
        .await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    let values: Vec<_> = runs(&e, "ret").iter().map(|t| t.value.clone().unwrap_or_default()).collect();
    assert_eq!(values, ["a", "b"]);
}
