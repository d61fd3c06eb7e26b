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
