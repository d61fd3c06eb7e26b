//! Subflows on the deployed shape (`e2e::deployed`: the functions as
//! separate processes on the Firestore and Pub/Sub emulators and
//! fake-gcs-server, two push subscriptions per topic so every message is
//! delivered twice, the sweep's Cloud Scheduler job on its stand-in,
//! ticking every second; Pub/Sub backoff is Terraform's divided by 10).
//!
//! - A parent's `Subflow` (`wait: true`, `transmitFailed: true`) starts its
//!   child once though every message comes twice and the executor is
//!   killed and started again while the child runs; the parent gets the
//!   child flow's `outputs` and the task's rendered `outputs` and ends
//!   SUCCESS. A child that fails fails its parent, and nothing after the
//!   Subflow runs.
//! - A child whose end message is lost (the executor's proxy acks every
//!   `subflowEnded` without passing it on, as if the instance that ended
//!   the child died before publishing it): the parent waits, and the
//!   sweep finds the child over and publishes its end again, with the
//!   same outputs.
//! - A child whose start is lost (the executor's proxy acks every
//!   `startSubflow` without passing it on, as if the instance that saved
//!   the parent died before publishing it): the parent waits with no child,
//!   the sweep publishes the start again once the parent's task run waited
//!   past a lease (`BATON_LEASE_SECONDS=5` here), and when messages get
//!   through, exactly one child runs and the parent ends SUCCESS.

use std::time::Duration;

use e2e::deployed::Deployment;
use serde_json::{Value, json};
use shared::backend::StateStore;
use shared::model::{Execution, StateType, TaskRun};

use crate::deployed::{executions_in, push_shape, until};

const NS: &str = "gcp.subflow";

const CHILD: &str = r#"id: child
namespace: gcp.subflow
inputs:
  - id: name
    type: STRING
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT2S
  - id: greet
    type: io.kestra.plugin.core.debug.Return
    format: "hello {{ inputs.name }}"
outputs:
  - id: greeting
    type: STRING
    value: "{{ outputs.greet.value }}"
"#;

const CHILD_FAILS: &str = r#"id: child_fails
namespace: gcp.subflow
tasks:
  - id: stop
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: the child gives up
"#;

/// A parent calling `flow`, then a task reading what the child gave back.
fn parent(id: &str, flow: &str) -> String {
    format!(
        r#"id: {id}
namespace: gcp.subflow
tasks:
  - id: call
    type: io.kestra.plugin.core.flow.Subflow
    namespace: gcp.subflow
    flowId: {flow}
    inputs:
      name: world
    wait: true
    transmitFailed: true
    outputs:
      shout: "{{{{ outputs.greet.value | upper }}}}"
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ outputs.call.outputs.greeting }}}} / {{{{ outputs.call.outputs.shout }}}}"
"#
    )
}

fn run_of<'e>(e: &'e Execution, task: &str) -> Vec<&'e TaskRun> {
    e.task_run_list.iter().filter(|t| t.task_id == task).collect()
}

/// Starts `flow` through the api function; its execution id.
async fn start(d: &Deployment, flow: &str) -> String {
    let url = format!("{}/api/v1/executions/{NS}/{flow}", d.function("api").url);
    let body: Value = d.http.post(url).send().await.expect("start").json().await.expect("json");
    body["id"].as_str().unwrap_or_else(|| panic!("no execution: {body}")).to_string()
}

async fn ended(d: &Deployment, id: &str, what: &str) -> Execution {
    until(d, Duration::from_secs(90), what, || async {
        let e = d.backends.state.load_execution(id).await.ok()??;
        e.is_done().then_some(e)
    })
    .await
}

/// The one execution of `flow` (there must be exactly one).
async fn only_child(d: &Deployment, flow: &str) -> Execution {
    let mut children = executions_in(d, NS, flow).await;
    assert_eq!(children.len(), 1, "{flow} started {} times: {children:?}\n{}", children.len(), d.logs());
    children.remove(0)
}

/// Checks the parent `done` got the child's outputs and went on.
fn assert_outputs_passed_back(d: &Deployment, done: &Execution, child: &Execution) {
    assert_eq!(done.state.current, StateType::Success, "{:?}\n{}", done.task_run_list, d.logs());
    let call = run_of(done, "call");
    assert_eq!(call.len(), 1);
    let outputs = call[0].outputs.clone().expect("call outputs");
    assert_eq!(outputs["executionId"], json!(child.id));
    assert_eq!(outputs["state"], json!("SUCCESS"));
    assert_eq!(outputs["outputs"]["greeting"], json!("hello world"), "the child flow's outputs: {outputs:?}");
    assert_eq!(outputs["outputs"]["shout"], json!("HELLO WORLD"), "the task's outputs: {outputs:?}");
    let after = run_of(done, "after");
    assert_eq!(after.len(), 1, "the task after the Subflow ran once though every message came twice");
    assert_eq!(after[0].attempts.len(), 1);
    assert_eq!(after[0].outputs.as_ref().expect("after")["value"], json!("hello world / HELLO WORLD"));
    assert_eq!(child.parent_id.as_deref(), Some(done.id.as_str()));
    assert_eq!(run_of(child, "greet")[0].attempts.len(), 1, "the child's task ran once");
}

// Run alone by scripts/test.sh, as deployed.rs: timing-sensitive.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "run alone by scripts/test.sh: cargo test -p e2e --test e2e -- --ignored --exact deployed_subflow::a_subflow_runs_once_through_the_functions_and_passes_its_outputs_or_its_failure_back"]
async fn a_subflow_runs_once_through_the_functions_and_passes_its_outputs_or_its_failure_back() {
    let d = Deployment::start(&push_shape(), 2, Duration::from_secs(1)).await;
    d.upload_flow("flows/gcp.subflow/child.yml", CHILD).await;
    d.upload_flow("flows/gcp.subflow/child_fails.yml", CHILD_FAILS).await;
    d.upload_flow("flows/gcp.subflow/parent.yml", &parent("parent", "child")).await;
    d.upload_flow("flows/gcp.subflow/parent_of_failure.yml", &parent("parent_of_failure", "child_fails")).await;

    let id = start(&d, "parent").await;
    // the child runs: its executor dies and a new instance takes over
    until(&d, Duration::from_secs(60), "the child to run", || async {
        let c = executions_in(&d, NS, "child").await;
        c.first().filter(|c| c.state.current == StateType::Running).map(|_| ())
    })
    .await;
    let executor = d.function("executor");
    executor.kill();
    tokio::time::sleep(Duration::from_millis(500)).await;
    executor.start().await;
    let done = ended(&d, &id, "the parent to end").await;
    let child = only_child(&d, "child").await;
    assert_eq!(child.state.current, StateType::Success, "{:?}", child.task_run_list);
    assert_outputs_passed_back(&d, &done, &child);

    let id = start(&d, "parent_of_failure").await;
    let failed = ended(&d, &id, "the parent of a failing child to end").await;
    let child = only_child(&d, "child_fails").await;
    assert_eq!(child.state.current, StateType::Failed);
    assert_eq!(failed.state.current, StateType::Failed, "{:?}\n{}", failed.task_run_list, d.logs());
    let call = run_of(&failed, "call");
    assert_eq!(call[0].state.current, StateType::Failed);
    assert_eq!(call[0].outputs.as_ref().expect("outputs")["executionId"], json!(child.id));
    assert!(run_of(&failed, "after").is_empty(), "nothing after a failed Subflow runs");
    // a while later, still one child each: no late copy started another
    tokio::time::sleep(Duration::from_secs(3)).await;
    only_child(&d, "child").await;
    only_child(&d, "child_fails").await;
}

// Run alone by scripts/test.sh, as deployed.rs: timing-sensitive.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "run alone by scripts/test.sh: cargo test -p e2e --test e2e -- --ignored --exact deployed_subflow::the_sweep_ends_a_parent_whose_childs_end_message_was_lost"]
async fn the_sweep_ends_a_parent_whose_childs_end_message_was_lost() {
    let d = Deployment::start(&push_shape(), 2, Duration::from_secs(1)).await;
    d.upload_flow("flows/gcp.subflow/child.yml", CHILD).await;
    d.upload_flow("flows/gcp.subflow/parent.yml", &parent("parent", "child")).await;
    let executor = d.function("executor");
    executor.lose(Some("subflowEnded"));

    let id = start(&d, "parent").await;
    let child = until(&d, Duration::from_secs(60), "the child to end", || async {
        let c = executions_in(&d, NS, "child").await;
        c.into_iter().find(Execution::is_done)
    })
    .await;
    assert_eq!(child.state.current, StateType::Success, "{:?}", child.task_run_list);
    // its end is lost (both copies), and so is each sweep's copy meanwhile
    until(&d, Duration::from_secs(30), "the child's end to be lost", || async { (executor.lost() >= 2).then_some(()) })
        .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let waiting = d.backends.state.load_execution(&id).await.expect("load").expect("parent");
    assert_eq!(waiting.state.current, StateType::Running, "the parent cannot end without its child's end");
    assert_eq!(run_of(&waiting, "call")[0].state.current, StateType::Running);
    let lost = executor.lost();
    assert!(lost >= 4, "the sweep sent the end again while it was lost ({lost} lost)");

    // messages arrive again: the next sweep's copy ends the parent
    executor.lose(None);
    let done = ended(&d, &id, "the sweep to end the parent").await;
    assert_outputs_passed_back(&d, &done, &only_child(&d, "child").await);
    let said = d.function("scheduler").log();
    assert!(said.contains("its end is published again"), "the sweep says what it did:\n{}", d.logs());
}

// Run alone by scripts/test.sh, as deployed.rs: timing-sensitive.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "run alone by scripts/test.sh: cargo test -p e2e --test e2e -- --ignored --exact deployed_subflow::the_sweep_starts_the_child_whose_start_was_lost_once"]
async fn the_sweep_starts_the_child_whose_start_was_lost_once() {
    let lease = [("BATON_LEASE_SECONDS", "5")];
    let d = Deployment::start_with(&push_shape(), 2, Duration::from_secs(1), &lease).await;
    d.upload_flow("flows/gcp.subflow/child.yml", CHILD).await;
    d.upload_flow("flows/gcp.subflow/parent.yml", &parent("parent", "child")).await;
    let executor = d.function("executor");
    executor.lose(Some("startSubflow"));

    let id = start(&d, "parent").await;
    // both copies of the start are lost, then the sweep's copies past the lease
    until(&d, Duration::from_secs(60), "the sweep's copies of the start to be lost", || async {
        (executor.lost() >= 4).then_some(())
    })
    .await;
    let waiting = d.backends.state.load_execution(&id).await.expect("load").expect("parent");
    assert_eq!(waiting.state.current, StateType::Running, "the parent waits on its child");
    assert_eq!(run_of(&waiting, "call")[0].state.current, StateType::Running);
    assert!(executions_in(&d, NS, "child").await.is_empty(), "no child without its start");
    let said = d.function("scheduler").log();
    assert!(said.contains("its start is published again"), "the sweep says what it did:\n{}", d.logs());

    // messages arrive again: the next sweep's copy starts the one child
    executor.lose(None);
    let done = ended(&d, &id, "the sweep to start the child and the parent to end").await;
    let child = only_child(&d, "child").await;
    assert_eq!(child.state.current, StateType::Success, "{:?}", child.task_run_list);
    assert_outputs_passed_back(&d, &done, &child);
    // a while later (sweeps and their duplicates went by), still one child
    tokio::time::sleep(Duration::from_secs(3)).await;
    only_child(&d, "child").await;
}
