//! Kestra's workflow helper functions that read other task runs:
//! `parentOutput()` on Kestra's own test flows (`parent-output.yaml`,
//! `parents-output.yaml`, `ParentOutputFunctionTest`), `tasksWithState()`
//! in an `errors` branch, `iterationOutput()` in a WaitFor.

use serde_json::json;
use shared::model::StateType;

use crate::support::{harness, runs};

const PARENT_OUTPUT: &str = r#"
id: parent-output
namespace: io.kestra.tests
tasks:
  - id: forEach
    type: io.kestra.plugin.core.flow.ForEach
    values: [1, 2, 3]
    tasks:
      - id: value
        type: io.kestra.plugin.core.output.OutputValues
        values:
          some: output
      - id: if
        type: io.kestra.plugin.core.flow.If
        condition: "true"
        then:
          - id: parentOutput
            type: io.kestra.plugin.core.output.OutputValues
            values:
              parentOutput: "{{parentOutput()}}"
"#;

const PARENTS_OUTPUT: &str = r#"
id: parents-output
namespace: io.kestra.tests
tasks:
  - id: value
    type: io.kestra.plugin.core.output.OutputValues
    values:
      some: output
  - id: if
    type: io.kestra.plugin.core.flow.If
    condition: "true"
    then:
      - id: forEach
        type: io.kestra.plugin.core.flow.ForEach
        values: [ 1, 2, 3 ]
        tasks:
        - id: parentOutput
          type: io.kestra.plugin.core.output.OutputValues
          values:
            parentOutput: "{{parentOutput(0)}}"
"#;

const WITH_STATE: &str = r#"
id: alert
namespace: company.team
tasks:
  - id: ok
    type: io.kestra.plugin.core.log.Log
    message: fine
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: [a, b]
    tasks:
      - id: boom
        type: io.kestra.plugin.core.execution.Fail
        condition: "{{ taskrun.value == 'b' }}"
errors:
  - id: report
    type: io.kestra.plugin.core.debug.Return
    format: "{% for t in tasksWithState('FAILED') %}{{ t.taskId }}:{{ t.value ?? '-' }} {% endfor %}/ {{ tasksWithState('success') | length }}"
"#;

const ITERATIONS: &str = r#"
id: iterations
namespace: company.team
tasks:
  - id: loop
    type: io.kestra.plugin.core.flow.WaitFor
    condition: "{{ outputs.loop.iterationCount >= 3 }}"
    checkFrequency:
      maxIterations: 5
      interval: PT0.05S
    tasks:
      - id: ret
        type: io.kestra.plugin.core.debug.Return
        format: "v{{ taskrun.iteration }}"
      - id: prev
        type: io.kestra.plugin.core.debug.Return
        format: "{{ taskrun.iteration > 1 ? iterationOutput('ret') : 'none' }}"
"#;

fn value_of(e: &shared::model::Execution, task: &str, key: &str) -> Vec<serde_json::Value> {
    runs(e, task).iter().map(|r| r.outputs.as_ref().map(|o| o[key].clone()).unwrap_or_default()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parent_output_reads_the_enclosing_task_as_kestras_tests_expect() {
    let h = harness();
    for flow in [PARENT_OUTPUT, PARENTS_OUTPUT] {
        let e = h.run(flow, json!({})).await;
        assert_eq!(e.state.current, StateType::Success, "{:?} {:?}", e.error, h.logs(&e.id).await);
        let last = runs(&e, "parentOutput").last().and_then(|r| r.outputs.clone()).expect("outputs");
        assert_eq!(last["values"]["parentOutput"], json!("{\"evaluationResult\":true}"), "{flow}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tasks_with_state_lists_the_failed_runs_in_an_errors_branch() {
    let h = harness();
    let e = h.run(WITH_STATE, json!({})).await;
    assert_eq!(e.state.current, StateType::Failed);
    let report = value_of(&e, "report", "value");
    let text = report[0].as_str().unwrap_or_default().to_string();
    assert!(text.contains("boom:b ") && text.contains("each:- "), "{text} {:?}", h.logs(&e.id).await);
    assert!(!text.contains("boom:a") && !text.contains("ok:"), "only the failed ones: {text}");
    assert!(text.ends_with("/ 2"), "ok and boom:a succeeded: {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn iteration_output_reads_the_previous_iteration_of_a_wait_for() {
    let h = harness();
    let e = h.run(ITERATIONS, json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?} {:?}", e.error, h.logs(&e.id).await);
    let mut prev: Vec<String> =
        value_of(&e, "prev", "value").iter().map(|v| v.as_str().unwrap_or("?").to_string()).collect();
    prev.sort();
    assert_eq!(prev, ["none", "v1", "v2"]);
}

// Kestra's Assert example, with a condition that cannot be rendered beside them
const ASSERT: &str = r#"
id: assert
namespace: company.team
inputs:
  - id: param
    type: STRING
    required: true
tasks:
  - id: fail
    type: io.kestra.plugin.core.execution.Assert
    conditions:
      - "{{ inputs.param == 'ok' }}"
      - "{{ 1 + 1 == 2 }}"
      - "{{ outputs.nope.value }}"
    errorMessage: "param was {{ inputs.param }}"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn assert_checks_every_condition_and_counts_them() {
    let h = harness();
    let e = h.run(ASSERT, json!({"param": "ko"})).await;
    assert_eq!(e.state.current, StateType::Failed);
    let logs = h.logs(&e.id).await;
    assert!(logs.iter().any(|l| l == "Assertion `{{ inputs.param == 'ok' }}` failed!"), "{logs:?}");
    assert!(
        logs.iter().any(|l| l.starts_with("Assertion `{{ outputs.nope.value }}` failed, failed to render")),
        "{logs:?}"
    );
    assert!(logs.iter().any(|l| l.contains("2 assertions failed!\nparam was ko")), "{logs:?}");
    let kept = h.embedded.engine.state.metrics().execution_metrics(&e.id).await.expect("metrics").entries;
    let count = |n: &str| kept.iter().find(|m| m.name == n).map(|m| m.value);
    assert_eq!((count("success"), count("failed")), (Some(1.0), Some(2.0)), "{kept:?}");
}

// Kestra's metric.Publish example
const PUBLISH: &str = r#"
id: publish_metrics
namespace: company.team
tasks:
  - id: metric
    type: io.kestra.plugin.core.metric.Publish
    metrics:
      - type: timer
        name: duration
        value: PT10M
        tags:
          flow: "{{flow.id}}"
          project: kestra
      - type: counter
        name: number
        value: 42
        tags:
          flow: "{{flow.id}}"
          project: kestra
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn publish_keeps_the_metrics_it_is_given() {
    let h = harness();
    let e = h.run(PUBLISH, json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", h.logs(&e.id).await);
    let kept = h.embedded.engine.state.metrics().execution_metrics(&e.id).await.expect("metrics").entries;
    let timer = kept.iter().find(|m| m.name == "duration").expect("the timer");
    assert_eq!(timer.value, 600_000.0, "kept in milliseconds: {timer:?}");
    assert_eq!(timer.tags.get("flow").map(String::as_str), Some("publish_metrics"));
    let counter = kept.iter().find(|m| m.name == "number").expect("the counter");
    assert_eq!(counter.value, 42.0);
}

// Kestra's LoopUntil example (interval shortened)
const LOOP_UNTIL: &str = r#"
id: loop_until
namespace: company.team
tasks:
  - id: loop
    type: io.kestra.plugin.core.flow.LoopUntil
    condition: "{{ outputs.return.value == '4' }}"
    checkFrequency:
      interval: PT0.05S
    tasks:
      - id: return
        type: io.kestra.plugin.core.debug.Return
        format: "{{ outputs.loop.iterationCount }}"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn loop_until_repeats_until_its_condition_holds() {
    let h = harness();
    let e = h.run(LOOP_UNTIL, json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", h.logs(&e.id).await);
    assert_eq!(value_of(&e, "loop", "iterationCount"), [json!(4)]);
    assert_eq!(runs(&e, "return").len(), 4);
}

// Kestra's TemplatedTask: the whole task from inputs
const TEMPLATED: &str = r#"
id: templated
namespace: company.team
inputs:
  - id: property
    type: STRING
    defaults: format
  - id: value
    type: STRING
    defaults: built at run time
tasks:
  - id: dynamic
    type: io.kestra.plugin.core.templating.TemplatedTask
    spec: |
      type: io.kestra.plugin.core.debug.Return
      {{ inputs.property }}: "{{ inputs.value }}"
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: "{{ outputs.dynamic.value }}"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn templated_task_runs_the_task_its_spec_renders_to() {
    let h = harness();
    let e = h.run(TEMPLATED, json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", h.logs(&e.id).await);
    assert_eq!(value_of(&e, "dynamic", "value"), [json!("built at run time")]);
    let e = h.run(TEMPLATED, json!({"property": "formatt"})).await;
    assert_eq!(e.state.current, StateType::Failed);
    assert!(h.logs(&e.id).await.iter().any(|l| l.contains("has no property 'formatt'")), "{:?}", h.logs(&e.id).await);
}
