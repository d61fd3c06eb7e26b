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
