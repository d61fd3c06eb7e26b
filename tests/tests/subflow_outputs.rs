//! Kestra's Subflow `outputs` (Kestra's own `task-flow.yaml` uses it):
//! templates rendered in the child execution when it ends, beside the
//! child flow's outputs, under `outputs.<task>.outputs`; one that cannot be
//! rendered fails the parent's task, naming it.

use serde_json::json;
use shared::model::StateType;

use crate::support::{harness, runs};

const CHILD: &str = r#"
id: switch
namespace: io.kestra.tests
inputs:
  - id: string
    type: STRING
tasks:
  - id: default
    type: io.kestra.plugin.core.debug.Return
    format: "child got {{ inputs.string }}"
outputs:
  - id: own
    type: STRING
    value: "{{ outputs.default.value }}!"
"#;

const PARENT: &str = r#"
id: task-flow
namespace: io.kestra.tests
tasks:
  - id: launch
    type: io.kestra.plugin.core.flow.Subflow
    namespace: io.kestra.tests
    flowId: switch
    inputs:
      string: "{{ execution.id | length > 0 }}"
    wait: true
    transmitFailed: true
    outputs:
      extracted: "{{ outputs.default.value ?? outputs['error-t1'].value }}"
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.launch.outputs.extracted }} / {{ outputs.launch.outputs.own }}"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn subflow_outputs_are_rendered_in_the_child() {
    let h = harness();
    h.flow(CHILD);
    let e = h.run(PARENT, json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?} {:?}", e.error, h.logs(&e.id).await);
    let launch = runs(&e, "launch")[0].outputs.clone().expect("outputs");
    assert_eq!(launch["outputs"]["extracted"], json!("child got true"));
    assert_eq!(launch["outputs"]["own"], json!("child got true!"), "the child flow's outputs stay");
    assert_eq!(
        runs(&e, "after")[0].outputs.as_ref().expect("after")["value"],
        json!("child got true / child got true!")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_output_that_cannot_be_rendered_fails_the_task_naming_it() {
    let h = harness();
    h.flow(CHILD);
    let broken = PARENT.replace(
        "extracted: \"{{ outputs.default.value ?? outputs['error-t1'].value }}\"",
        "extracted: \"{{ outputs.missing.value }}\"",
    );
    let e = h.run(&broken, json!({})).await;
    assert_eq!(e.state.current, StateType::Failed);
    let launch = runs(&e, "launch")[0];
    let said = format!("{:?}", launch.error);
    assert!(said.contains("Subflow output 'extracted'") && said.contains("missing"), "{said}");
}

/// A `StartSubflow` is the one way a Subflow's child starts (the executor
/// publishes it, the GCP sweep publishes it again for a parent that waited
/// past a lease on a child never stored): copies of it, racing, after the
/// child ran and the parent ended, start no second child and change
/// nothing; one naming a task run that is not a Subflow's does nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn copies_of_a_subflows_start_create_one_child() {
    use shared::backend::ExecutionFilter;
    use shared::runtime::messages::ExecutionEvent;

    let h = harness();
    h.flow(CHILD);
    let e = h.run(PARENT, json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    let engine = &h.embedded.engine;
    let children = || async {
        let filter = ExecutionFilter { flow_id: Some("switch".into()), ..Default::default() };
        engine.state.list_executions(&filter).await.expect("list")
    };
    let child = children().await;
    assert_eq!(child.len(), 1);
    let start = |task: &str| ExecutionEvent::StartSubflow {
        execution_id: e.id.clone(),
        task_run_id: runs(&e, task)[0].id.clone(),
    };
    let (a, b) = (start("launch"), start("after"));
    let publish = |ev| shared::runtime::launcher::publish_event(engine, ev);
    let sent = tokio::join!(publish(&a), publish(&a), publish(&a), publish(&b));
    for r in [sent.0, sent.1, sent.2, sent.3] {
        r.expect("publish");
    }
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let again = children().await;
    assert_eq!(again.len(), 1, "copies of the start made another child: {again:?}");
    assert_eq!(again[0].id, child[0].id);
    assert_eq!(again[0].id, runs(&e, "launch")[0].outputs.as_ref().expect("outputs")["executionId"]);
    let parent = engine.state.load_execution(&e.id).await.expect("load").expect("parent");
    assert_eq!(parent.version, e.version, "the copies changed the parent");
}

/// A Subflow with `wait: false` ends its task run in the save that decides
/// its start, often with its parent: nothing would look at it again if a
/// message sent after that save were lost. Its child is created before the
/// save instead, so once the parent is stored ended, its child is stored
/// (no later message needed); copies of its start, and the event that
/// decided it delivered again, make no second child.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_subflow_that_does_not_wait_has_its_child_stored_before_its_parent_ends() {
    use shared::backend::ExecutionFilter;
    use shared::runtime::messages::ExecutionEvent;

    let h = harness();
    h.flow(CHILD);
    let parent = PARENT
        .replace("    wait: true\n    transmitFailed: true\n", "    wait: false\n")
        .replace("    outputs:\n      extracted: \"{{ outputs.default.value ?? outputs['error-t1'].value }}\"\n", "");
    let parent = parent.split("  - id: after").next().expect("launch only").to_string();
    assert!(parent.contains("wait: false") && !parent.contains("after"), "{parent}");
    let engine = &h.embedded.engine;
    let e = h.run(&parent, json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    let launch = runs(&e, "launch")[0].clone();
    let child_id = launch.outputs.as_ref().expect("outputs")["executionId"].as_str().expect("id").to_string();
    // Kestra's outputs of a Subflow that does not wait: the child's id and state
    assert_eq!(launch.outputs.as_ref().expect("outputs")["state"], json!("CREATED"));
    // read at once: a child started by a message after the parent's save could be missing here
    let child = engine.state.load_execution(&child_id).await.expect("load");
    let child = child.expect("the child is stored when its parent has ended");
    assert_eq!(child.parent_id.as_deref(), Some(e.id.as_str()));
    let start = ExecutionEvent::StartSubflow { execution_id: e.id.clone(), task_run_id: launch.id.clone() };
    let publish = |ev| shared::runtime::launcher::publish_event(engine, ev);
    let sent = tokio::join!(publish(&start), publish(&start), publish(&start));
    for r in [sent.0, sent.1, sent.2] {
        r.expect("publish");
    }
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let filter = ExecutionFilter { flow_id: Some("switch".into()), ..Default::default() };
    let children = engine.state.list_executions(&filter).await.expect("list");
    assert_eq!(children.len(), 1, "copies of the start made another child: {children:?}");
    assert_eq!(children[0].id, child_id);
}

/// A Subflow that does not wait fails when its child cannot start (Kestra's
/// executor fails the task run when it cannot create the execution): a
/// missing flow fails the task naming it, the next task never runs and the
/// execution ends FAILED, within one decision (nothing later could).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subflow_that_does_not_wait_fails_when_its_child_cannot_start() {
    let h = harness();
    let parent = r#"
id: lost
namespace: io.kestra.tests
tasks:
  - id: launch
    type: io.kestra.plugin.core.flow.Subflow
    namespace: io.kestra.tests
    flowId: nowhere
    wait: false
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: never
"#;
    let e = h.run(parent, json!({})).await;
    assert_eq!(e.state.current, StateType::Failed, "{:?}", h.logs(&e.id).await);
    let launch = runs(&e, "launch")[0].clone();
    assert_eq!(launch.state.current, StateType::Failed);
    let err = launch.error.clone().unwrap_or_default();
    assert!(err.contains("Subflow io.kestra.tests.nowhere not found"), "{err}");
    assert!(runs(&e, "after").is_empty(), "the next task ran");
    let logs = h.logs(&e.id).await;
    assert!(logs.iter().any(|l| l.contains("io.kestra.tests.nowhere not found")), "{logs:?}");
}
