//! Flow triggers on the embedded runtime (SQLite): an upstream that ends
//! starts its listener once, with Kestra's `trigger.*` variables and
//! inputs rendered from the upstream; two-flow preconditions fire once
//! after both; a duplicate end, a redelivered event and concurrent ends
//! create nothing more; a flow never triggers itself; Kestra's corpus
//! listeners behave as their names say.

use std::time::Duration;

use serde_json::json;
use shared::backend::ExecutionFilter;
use shared::model::{Execution, StateType};
use shared::runtime::flow_triggers;
use shared::runtime::launcher::publish_event;
use shared::runtime::messages::ExecutionEvent;

use crate::support::{Harness, harness};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/kestra-corpus/valids");

/// The executions of `namespace.flow_id`.
pub(crate) async fn executions(h: &Harness, namespace: &str, flow_id: &str) -> Vec<Execution> {
    let filter = ExecutionFilter {
        namespace: Some(namespace.into()),
        flow_id: Some(flow_id.into()),
        ..ExecutionFilter::default()
    };
    let mut out = Vec::new();
    for s in h.embedded.engine.state.list_executions(&filter).await.expect("list") {
        out.push(h.embedded.engine.state.load_execution(&s.id).await.expect("load").expect("stored"));
    }
    out
}

/// Waits until `namespace.flow_id` has `n` ended executions (30 s at most), then
/// a moment more so that an extra one would show.
pub(crate) async fn ended(h: &Harness, namespace: &str, flow_id: &str, n: usize) -> Vec<Execution> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let all = executions(h, namespace, flow_id).await;
        if all.len() >= n && all.iter().all(|e| e.state.is_terminal()) {
            tokio::time::sleep(Duration::from_millis(300)).await;
            return executions(h, namespace, flow_id).await;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{namespace}.{flow_id}: {} executions, want {n} ended",
            all.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn corpus(h: &Harness, name: &str) -> std::sync::Arc<shared::model::Flow> {
    let text = std::fs::read_to_string(format!("{CORPUS}/{name}")).expect("corpus file");
    h.flow(&text)
}

const UPSTREAM: &str = r#"
id: extract
namespace: company.team
labels:
  team: data
tasks:
  - id: only
    type: io.kestra.plugin.core.debug.Return
    format: "v-{{ execution.id }}"
outputs:
  - id: date
    type: STRING
    value: "2024-01-02"
"#;

const LISTENER: &str = r#"
id: transform
namespace: company.team
inputs:
  - id: date
    type: STRING
  - id: value
    type: STRING
tasks:
  - id: show
    type: io.kestra.plugin.core.debug.Return
    format: "{{ trigger.executionId }}|{{ trigger.namespace }}|{{ trigger.flowId }}|{{ trigger.flowRevision }}|{{ trigger.state }}|{{ trigger.outputs.date }}|{{ inputs.date }}|{{ inputs.value }}"
triggers:
  - id: after_extract
    type: io.kestra.plugin.core.trigger.Flow
    inputs:
      date: "{{ trigger.outputs.date }}"
      value: "{{ outputs.only.value }}"
    preconditions:
      id: flows
      flows:
        - namespace: company.team
          flowId: extract
          states: [SUCCESS]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_end_starts_its_listener_once_with_trigger_variables() {
    let h = harness();
    h.flow(LISTENER);
    let up = h.run(UPSTREAM, json!({})).await;
    assert_eq!(up.state.current, StateType::Success);
    let down = ended(&h, "company.team", "transform", 1).await;
    assert_eq!(down.len(), 1, "one downstream execution");
    let d = &down[0];
    assert_eq!(d.state.current, StateType::Success, "{d:#?}");
    let shown = d.task_run_list[0].outputs.as_ref().expect("outputs")["value"].as_str().expect("string").to_string();
    assert_eq!(
        shown,
        format!("{0}|company.team|extract|{1}|SUCCESS|2024-01-02|2024-01-02|v-{0}", up.id, up.flow_revision),
        "trigger.* and inputs rendered from the upstream"
    );
    let trigger = d.trigger.as_ref().expect("trigger context");
    assert_eq!((trigger.id.as_str(), trigger.type_.as_str()), ("after_extract", "io.kestra.plugin.core.trigger.Flow"));
    assert_eq!(trigger.variables["executionLabels"], json!({"team": "data"}));
    let corr = |e: &Execution| e.labels.iter().find(|l| l.key == "system.correlationId").map(|l| l.value.clone());
    assert_eq!(corr(d), corr(&up), "the correlation id is carried over");

    // the same end handled again (directly, and as a redelivered event of
    // the ended execution): nothing more
    let engine = &h.embedded.engine;
    flow_triggers::on_state_change(engine, &up).await.expect("again");
    publish_event(engine, &ExecutionEvent::Wake { execution_id: up.id.clone(), redispatch: false })
        .await
        .expect("publish");
    let down = ended(&h, "company.team", "transform", 1).await;
    assert_eq!(down.len(), 1, "a duplicate end creates nothing");

    // a second upstream execution: a second downstream one
    h.run(UPSTREAM, json!({})).await;
    assert_eq!(ended(&h, "company.team", "transform", 2).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corpus_preconditions_fire_once_after_both_upstreams() {
    let h = harness();
    let ns = "io.kestra.tests.trigger.preconditions";
    corpus(&h, "flow-trigger-preconditions-flow-listen.yaml");
    let a = corpus(&h, "flow-trigger-preconditions-flow-a.yaml");
    let b = corpus(&h, "flow-trigger-preconditions-flow-b.yaml");
    h.run_flow(&a, json!({})).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(executions(&h, ns, "flow-trigger-preconditions-flow-listen").await.is_empty(), "a alone is not enough");
    let eb = h.run_flow(&b, json!({})).await;
    let down = ended(&h, ns, "flow-trigger-preconditions-flow-listen", 1).await;
    assert_eq!(down.len(), 1);
    assert_eq!(down[0].state.current, StateType::Success);
    assert_eq!(down[0].trigger.as_ref().expect("trigger").variables["executionId"], json!(eb.id), "the last upstream");
    // b's end again: the window remembers it
    flow_triggers::on_state_change(&h.embedded.engine, &eb).await.expect("again");
    // b alone again: the window was reset on success
    h.run_flow(&b, json!({})).await;
    assert_eq!(ended(&h, ns, "flow-trigger-preconditions-flow-listen", 1).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_ends_of_two_upstreams_fire_exactly_once() {
    let h = harness();
    h.flow(
        r#"
id: both
namespace: conc
tasks:
  - id: t
    type: io.kestra.plugin.core.debug.Return
    format: ok
triggers:
  - id: on_both
    type: io.kestra.plugin.core.trigger.Flow
    preconditions:
      id: pair
      flows:
        - namespace: conc
          flowId: a
        - namespace: conc
          flowId: b
"#,
    );
    let a = h
        .run(
            "id: a\nnamespace: other\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.debug.Return\n    format: a\n",
            json!({}),
        )
        .await;
    let b = h
        .run(
            "id: b\nnamespace: other\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.debug.Return\n    format: b\n",
            json!({}),
        )
        .await;
    // the same ends, as if in namespace conc, delivered twice each, at once
    let as_conc = |e: &Execution| Execution { namespace: "conc".into(), ..e.clone() };
    let (a, b) = (as_conc(&a), as_conc(&b));
    let engine = h.embedded.engine.clone();
    let mut tasks = Vec::new();
    for e in [a.clone(), b.clone(), a, b] {
        let engine = engine.clone();
        tasks.push(tokio::spawn(async move { flow_triggers::on_state_change(&engine, &e).await }));
    }
    for t in tasks {
        t.await.expect("join").expect("evaluated");
    }
    assert_eq!(ended(&h, "conc", "both", 1).await.len(), 1, "both ends counted, one downstream");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_flow_disabled_triggers_and_other_states_do_not_fire() {
    let h = harness();
    h.flow(
        r#"
id: selfish
namespace: loop
tasks:
  - id: t
    type: io.kestra.plugin.core.debug.Return
    format: ok
triggers:
  - id: any_end
    type: io.kestra.plugin.core.trigger.Flow
    preconditions:
      id: ns
      where:
        - id: same_ns
          filters:
            - field: NAMESPACE
              type: EQUAL_TO
              value: loop
"#,
    );
    h.flow(
        r#"
id: off
namespace: loop
tasks:
  - id: t
    type: io.kestra.plugin.core.debug.Return
    format: ok
triggers:
  - id: disabled
    type: io.kestra.plugin.core.trigger.Flow
    disabled: true
    states: [SUCCESS]
"#,
    );
    h.flow(
        r#"
id: on_failure
namespace: loop
tasks:
  - id: t
    type: io.kestra.plugin.core.debug.Return
    format: ok
triggers:
  - id: failed_only
    type: io.kestra.plugin.core.trigger.Flow
    states: [FAILED]
    preconditions:
      id: up
      flows:
        - namespace: loop
          flowId: upstream
"#,
    );
    h.run("id: upstream\nnamespace: loop\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.debug.Return\n    format: x\n", json!({}))
        .await;
    // selfish fires once for upstream; its own end does not trigger it again
    assert_eq!(ended(&h, "loop", "selfish", 1).await.len(), 1);
    assert!(executions(&h, "loop", "off").await.is_empty(), "a disabled trigger does not fire");
    assert!(executions(&h, "loop", "on_failure").await.is_empty(), "SUCCESS is not in states");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corpus_listeners_with_legacy_conditions() {
    let h = harness();
    let ns = "io.kestra.tests.trigger";
    for f in
        ["trigger-flow-listener.yaml", "trigger-flow-listener-no-inputs.yaml", "trigger-flow-listener-invalid.yaml"]
    {
        corpus(&h, f);
    }
    let up = h.run_flow(&corpus(&h, "trigger-flow.yaml"), json!({})).await;
    let listener = ended(&h, ns, "trigger-flow-listener", 1).await;
    assert_eq!(listener.len(), 1);
    let value = |e: &Execution| e.task_run_list[0].outputs.as_ref().expect("outputs")["value"].clone();
    assert_eq!(
        value(&listener[0]),
        json!(format!("childs: from parents: {}", up.id)),
        "inputs from the upstream's outputs"
    );
    let no_inputs = ended(&h, ns, "trigger-flow-listener-no-inputs", 1).await;
    assert_eq!(no_inputs.len(), 1, "only listen-flow (SUCCESS of trigger-flow), not listen-flow-failed");
    assert_eq!(value(&no_inputs[0]), json!(format!("v1: {}", up.id)));
    assert!(
        executions(&h, ns, "trigger-flow-listener-invalid").await.is_empty(),
        "inputs that do not render start nothing"
    );

    // MultipleCondition: a then b fires the listener once; c failing never fires the other
    for f in ["trigger-multiplecondition-listener.yaml", "trigger-multiplecondition-failed.yaml"] {
        corpus(&h, f);
    }
    h.run_flow(&corpus(&h, "trigger-multiplecondition-flow-a.yaml"), json!({})).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(executions(&h, ns, "trigger-multiplecondition-listener").await.is_empty());
    h.run_flow(&corpus(&h, "trigger-multiplecondition-flow-b.yaml"), json!({})).await;
    assert_eq!(ended(&h, ns, "trigger-multiplecondition-listener", 1).await.len(), 1);
    h.run_flow(&corpus(&h, "trigger-multiplecondition-flow-d.yaml"), json!({})).await;
    let c = h.run_flow(&corpus(&h, "trigger-multiplecondition-flow-c.yaml"), json!({})).await;
    assert_eq!(c.state.current, StateType::Failed);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(executions(&h, ns, "trigger-multiplecondition-failed").await.is_empty(), "flow-c failed");
    assert_eq!(executions(&h, ns, "trigger-multiplecondition-listener").await.len(), 1);
}

/// The downstream executions' flow output `status` (`{{ trigger.state }}`), sorted.
fn statuses(execs: &[Execution]) -> Vec<String> {
    let mut out: Vec<String> = execs
        .iter()
        .map(|e| e.outputs.as_ref().and_then(|o| o.get("status")).and_then(|v| v.as_str()).unwrap_or("?").to_string())
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corpus_listener_with_pause_fires_once_per_state_change() {
    let h = harness();
    let ns = "io.kestra.tests.trigger.pause";
    corpus(&h, "trigger-flow-listener-with-pause.yaml");
    let up = h.run_flow(&corpus(&h, "trigger-flow-with-pause.yaml"), json!({})).await;
    assert_eq!(up.state.current, StateType::Success);
    assert_eq!(up.task_run_list.len(), 3);
    // Kestra's FlowTriggerCaseTest.triggerWithPause: RUNNING, PAUSED, RUNNING, SUCCESS
    let down = ended(&h, ns, "trigger-flow-listener-with-pause", 4).await;
    assert_eq!(statuses(&down), ["PAUSED", "RUNNING", "RUNNING", "SUCCESS"], "one execution per state change");
    assert!(down.iter().all(|d| d.state.current == StateType::Success));
    // every state change handled again (directly, and as a redelivered
    // event of the ended execution): nothing more
    for (i, h_) in up.state.histories.iter().enumerate() {
        let mut at = up.clone();
        at.state.current = h_.state;
        at.state.histories.truncate(i + 1);
        flow_triggers::on_state_change(&h.embedded.engine, &at).await.expect("again");
    }
    publish_event(&h.embedded.engine, &ExecutionEvent::Wake { execution_id: up.id.clone(), redispatch: false })
        .await
        .expect("publish");
    assert_eq!(ended(&h, ns, "trigger-flow-listener-with-pause", 4).await.len(), 4, "duplicates create nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_states_include_paused_and_listeners_fire_before_after_execution() {
    let h = harness();
    h.flow(
        r#"
id: listener
namespace: when
outputs:
  - id: status
    type: STRING
    value: "{{ trigger.state }}"
tasks:
  - id: t
    type: io.kestra.plugin.core.debug.Return
    format: "{{ trigger.state }}"
triggers:
  - id: on_upstream
    type: io.kestra.plugin.core.trigger.Flow
    conditions:
      - type: io.kestra.plugin.core.condition.ExecutionFlow
        namespace: when
        flowId: upstream
"#,
    );
    let up = h
        .run(
            r#"
id: upstream
namespace: when
tasks:
  - id: pause
    type: io.kestra.plugin.core.flow.Pause
    pauseDuration: PT0.2S
  - id: t
    type: io.kestra.plugin.core.debug.Return
    format: x
afterExecution:
  - id: slow
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT1S
"#,
            json!({}),
        )
        .await;
    assert_eq!(up.state.current, StateType::Success);
    let down = ended(&h, "when", "listener", 2).await;
    assert_eq!(statuses(&down), ["PAUSED", "SUCCESS"], "Kestra's default states: the terminal ones and PAUSED");
    // the SUCCESS listener was created at the state change, while the
    // afterExecution task still ran (Kestra: flow triggers on state change)
    let success = down.iter().find(|d| statuses(std::slice::from_ref(*d)) == ["SUCCESS"]).expect("SUCCESS one");
    let slow_end = crate::support::runs(&up, "slow")[0].state.end_date().expect("slow ended");
    let created = success.state.histories[0].date;
    assert!(created < slow_end, "listener created {created}, afterExecution ended {slow_end}");
    assert_eq!(up.state.current, StateType::Success, "afterExecution never changes the state");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_on_success_false_and_trigger_outputs_from_every_upstream() {
    let h = harness();
    h.flow(
        r#"
id: joined
namespace: multi
inputs:
  - id: x
    type: STRING
  - id: y
    type: STRING
tasks:
  - id: t
    type: io.kestra.plugin.core.debug.Return
    format: "{{ inputs.x }}|{{ inputs.y }}|{{ trigger.outputs.x }}|{{ trigger.outputs.y }}|{{ trigger.flowId }}"
triggers:
  - id: on_both
    type: io.kestra.plugin.core.trigger.Flow
    states: [SUCCESS]
    inputs:
      x: "{{ trigger.outputs.x }}"
      y: "{{ trigger.outputs.y }}"
    preconditions:
      id: pair
      resetOnSuccess: false
      flows:
        - namespace: multi
          flowId: a
        - namespace: multi
          flowId: b
"#,
    );
    let with_output = |id: &str, key: &str| {
        format!(
            "id: {id}\nnamespace: multi\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.debug.Return\n    format: {id}\noutputs:\n  - id: {key}\n    type: STRING\n    value: from-{id}\n"
        )
    };
    h.run(&with_output("a", "x"), json!({})).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(executions(&h, "multi", "joined").await.is_empty(), "a alone is not enough");
    h.run(&with_output("b", "y"), json!({})).await;
    let down = ended(&h, "multi", "joined", 1).await;
    assert_eq!(down.len(), 1);
    let value = |e: &Execution| e.task_run_list[0].outputs.as_ref().expect("outputs")["value"].clone();
    assert_eq!(value(&down[0]), json!("from-a|from-b|from-a|from-b|b"), "trigger.outputs merges both upstreams");
    // the window stays complete: an end of a flow the preconditions do not
    // name fires again (Kestra's MultipleCondition.test looks at the window only)
    h.run(
        "id: c\nnamespace: other\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.debug.Return\n    format: c\n",
        json!({}),
    )
    .await;
    let down = ended(&h, "multi", "joined", 2).await;
    assert_eq!(down.len(), 2, "resetOnSuccess: false fires on any later end");
    let last = down.iter().find(|e| e.trigger.as_ref().expect("trigger").variables["flowId"] == json!("c")).expect("c");
    assert_eq!(value(last), json!("from-a|from-b|from-a|from-b|c"), "the window's outputs are kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_execution_created_failed_by_checks_fires_no_flow_trigger() {
    // Kestra creates it FAILED and emits it; its executor sees no state
    // change (original state FAILED), so computeExecutionsFromFlowTriggers
    // never runs for it
    let h = harness();
    h.flow(
        r#"
id: on_failure
namespace: chk
tasks:
  - id: t
    type: io.kestra.plugin.core.debug.Return
    format: x
triggers:
  - id: failed
    type: io.kestra.plugin.core.trigger.Flow
    states: [FAILED]
"#,
    );
    let checked = h.flow(
        r#"
id: checked
namespace: chk
checks:
  - condition: "{{ false }}"
    message: never
    behavior: FAIL_EXECUTION
tasks:
  - id: t
    type: io.kestra.plugin.core.debug.Return
    format: x
"#,
    );
    let req = shared::runtime::launcher::LaunchRequest::default();
    let e = h.embedded.launch(&checked, req).await.expect("created");
    assert_eq!(e.state.current, StateType::Failed);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(executions(&h, "chk", "on_failure").await.is_empty(), "as in Kestra: no state change, no Flow trigger");
    // a FAILED that is a state change fires it
    h.run("id: breaks\nnamespace: chk\ntasks:\n  - id: f\n    type: io.kestra.plugin.core.execution.Fail\n", json!({}))
        .await;
    assert_eq!(ended(&h, "chk", "on_failure", 1).await.len(), 1);
}

/// `stopAfter` on a Flow trigger: once an execution it started ended in a
/// listed state, later upstream ends start nothing; its `labels` (rendered
/// with the trigger's variables) go onto the execution it started.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_after_stops_a_flow_trigger_and_its_labels_go_onto_the_execution() {
    let h = harness();
    h.flow(
        r#"
id: load_once
namespace: company.team
tasks:
  - id: ok
    type: io.kestra.plugin.core.log.Log
    message: loaded
triggers:
  - id: after_extract
    type: io.kestra.plugin.core.trigger.Flow
    labels:
      upstream: "{{ trigger.flowId }}"
    stopAfter: [SUCCESS]
    preconditions:
      id: flows
      flows:
        - namespace: company.team
          flowId: extract
          states: [SUCCESS]
"#,
    );
    h.run(UPSTREAM, json!({})).await;
    let down = ended(&h, "company.team", "load_once", 1).await;
    assert_eq!(down[0].state.current, StateType::Success);
    let upstream = down[0].labels.iter().find(|l| l.key == "upstream").map(|l| l.value.clone());
    assert_eq!(upstream.as_deref(), Some("extract"), "{:?}", down[0].labels);
    // the next upstream end: the trigger is stopped
    h.run(UPSTREAM, json!({})).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(executions(&h, "company.team", "load_once").await.len(), 1, "stopped after SUCCESS");
}
