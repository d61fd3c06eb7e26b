//! Flow-level `sla`, `afterExecution`, `listeners` and `checks` on the
//! embedded runtime (SQLite, in-process queues), with Kestra's corpus flows.

use std::time::Instant;

use serde_json::json;
use shared::model::StateType;
use shared::runtime::launcher::{LaunchError, LaunchRequest};

use crate::support::{harness, runs};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/kestra-corpus/valids");

fn corpus(name: &str) -> String {
    std::fs::read_to_string(format!("{CORPUS}/{name}")).expect("corpus flow")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sla_max_duration_fails_a_long_execution_and_spares_a_short_one() {
    let h = harness();
    let started = Instant::now();
    let e = h.run(&corpus("sla-max-duration-fail.yaml"), json!({})).await;
    let took = started.elapsed();
    assert_eq!(e.state.current, StateType::Failed);
    // the 2 s Sleep was cut at the 0.5 s deadline
    assert!(took.as_millis() < 1900, "took {took:?}");
    assert_eq!(runs(&e, "sleep")[0].state.current, StateType::Killed);
    let err = e.error.clone().unwrap_or_default();
    assert!(err.starts_with("Execution failed due to SLA 'maxDuration' violated: execution duration of"), "{err}");
    assert!(h.logs(&e.id).await.iter().any(|l| l.starts_with("SLA 'maxDuration' violated")));

    let ok = h.run(&corpus("sla-max-duration-ok.yaml"), json!({})).await;
    assert_eq!(ok.state.current, StateType::Success);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sla_execution_assertion_cancels_or_labels() {
    let h = harness();
    let flow = corpus("sla-execution-condition.yaml");
    let e = h.run(&flow, json!({"string": "CANCEL"})).await;
    assert_eq!(e.state.current, StateType::Cancelled);
    let e = h.run(&flow, json!({"string": "LABEL"})).await;
    assert_eq!(e.state.current, StateType::Success);
    assert!(e.labels.iter().any(|l| l.key == "sla" && l.value == "violated"), "{:?}", e.labels);
    let e = h.run(&flow, json!({"string": "PASS"})).await;
    assert_eq!(e.state.current, StateType::Success);
    assert!(!e.labels.iter().any(|l| l.key == "sla"));
}

const AFTER: &str = r#"
id: after
namespace: test
tasks:
  - id: boom
    type: io.kestra.plugin.core.execution.Fail
listeners:
  - tasks:
      - id: listener
        type: io.kestra.plugin.core.log.Log
        message: "listener saw {{ execution.state }}"
afterExecution:
  - id: seen
    type: io.kestra.plugin.core.log.Log
    message: "after saw {{ execution.state }}"
  - id: breaks
    type: io.kestra.plugin.core.execution.Fail
  - id: never
    type: io.kestra.plugin.core.log.Log
    message: never
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_execution_sees_the_final_state_and_never_changes_it() {
    let h = harness();
    let e = h.run(AFTER, json!({})).await;
    assert_eq!(e.state.current, StateType::Failed);
    assert!(e.is_done());
    assert_eq!(runs(&e, "listener")[0].state.current, StateType::Success);
    assert_eq!(runs(&e, "seen")[0].state.current, StateType::Success);
    assert_eq!(runs(&e, "breaks")[0].state.current, StateType::Failed);
    assert!(runs(&e, "never").is_empty());
    let logs = h.logs(&e.id).await;
    assert!(logs.iter().any(|l| l == "listener saw FAILED"), "{logs:?}");
    assert!(logs.iter().any(|l| l == "after saw FAILED"), "{logs:?}");
    // the state was terminal before the afterExecution task runs started
    let ended = e.state.end_date().expect("end date");
    let seen_start = runs(&e, "seen")[0].state.start_date().expect("start");
    assert!(seen_start >= ended);
}

const LISTENERS: &str = r#"
id: listened
namespace: test
inputs:
  - id: fail
    type: BOOLEAN
tasks:
  - id: maybe
    type: io.kestra.plugin.core.execution.Fail
    condition: "{{ inputs.fail }}"
listeners:
  - conditions:
      - type: io.kestra.plugin.core.condition.ExecutionStatus
        in: [FAILED]
    tasks:
      - id: on_failed
        type: io.kestra.plugin.core.log.Log
        message: "failed listener saw {{ execution.state }}"
  - conditions:
      - type: io.kestra.plugin.core.condition.ExecutionStatus
        in: [SUCCESS]
    tasks:
      - id: on_success
        type: io.kestra.plugin.core.log.Log
        message: "success listener saw {{ execution.state }}"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listeners_run_only_when_their_execution_status_condition_holds() {
    let h = harness();
    let e = h.run(LISTENERS, json!({"fail": true})).await;
    assert_eq!(e.state.current, StateType::Failed);
    assert!(e.is_done());
    assert_eq!(runs(&e, "on_failed")[0].state.current, StateType::Success);
    assert!(runs(&e, "on_success").is_empty());
    let logs = h.logs(&e.id).await;
    assert!(logs.iter().any(|l| l == "failed listener saw FAILED"), "{logs:?}");

    let e = h.run(LISTENERS, json!({"fail": false})).await;
    assert_eq!(e.state.current, StateType::Success);
    assert!(e.is_done());
    assert!(runs(&e, "on_failed").is_empty());
    assert_eq!(runs(&e, "on_success")[0].state.current, StateType::Success);
    let logs = h.logs(&e.id).await;
    assert!(logs.iter().any(|l| l == "success listener saw SUCCESS"), "{logs:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parent_hears_of_its_subflow_after_the_subflows_after_execution() {
    let h = harness();
    h.flow(
        r#"
id: child
namespace: test
tasks:
  - id: a
    type: io.kestra.plugin.core.log.Log
    message: a
afterExecution:
  - id: slow
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT0.3S
"#,
    );
    let e = h
        .run(
            r#"
id: parent
namespace: test
tasks:
  - id: call
    type: io.kestra.plugin.core.flow.Subflow
    namespace: test
    flowId: child
"#,
            json!({}),
        )
        .await;
    assert_eq!(e.state.current, StateType::Success);
    let child_id = runs(&e, "call")[0].outputs.as_ref().and_then(|o| o.get("executionId")).cloned();
    let child_id = child_id.and_then(|v| v.as_str().map(str::to_string)).expect("child id");
    let child = h.embedded.engine.state.load_execution(&child_id).await.unwrap().expect("child");
    let slow_end = runs(&child, "slow")[0].state.end_date().expect("slow ended");
    assert!(runs(&e, "call")[0].state.end_date().expect("call ended") >= slow_end);
}

fn checked(behavior: &str) -> String {
    format!(
        r#"
id: checked
namespace: test
inputs:
  - id: vm
    type: STRING
checks:
  - condition: "{{{{ inputs.vm != 'none' }}}}"
    message: No VM provided
    style: ERROR
    behavior: {behavior}
tasks:
  - id: a
    type: io.kestra.plugin.core.log.Log
    message: "{{{{ inputs.vm }}}}"
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checks_block_fail_or_create() {
    let h = harness();
    let req = |vm: &str| LaunchRequest {
        inputs: json!({"vm": vm}).as_object().cloned().unwrap_or_default(),
        ..LaunchRequest::default()
    };
    let block = h.flow(&checked("BLOCK_EXECUTION"));
    match h.embedded.launch(&block, req("none")).await {
        Err(e @ LaunchError::Blocked { .. }) => assert_eq!(
            e.to_string(),
            "Flow execution blocked: one or more condition checks evaluated to false.\nFailed checks: No VM provided"
        ),
        other => panic!("expected a block, got {other:?}"),
    }
    assert!(h.embedded.engine.state.list_executions(&Default::default()).await.unwrap().is_empty());
    // a passing check lets it run
    assert_eq!(h.run_flow(&block, json!({"vm": "vm1"})).await.state.current, StateType::Success);

    let fail = h.flow(&checked("FAIL_EXECUTION"));
    let e = h.run_flow(&fail, json!({"vm": "none"})).await;
    assert_eq!(e.state.current, StateType::Failed);
    assert!(e.task_run_list.is_empty());
    let logs = h.logs(&e.id).await;
    assert!(logs.iter().any(|l| l == "No VM provided"), "{logs:?}");

    let create = h.flow(&checked("CREATE_EXECUTION"));
    let e = h.run_flow(&create, json!({"vm": "none"})).await;
    assert_eq!(e.state.current, StateType::Success);
    assert!(h.logs(&e.id).await.iter().any(|l| l == "No VM provided"));
}
