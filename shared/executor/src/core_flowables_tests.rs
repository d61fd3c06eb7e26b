//! The core branching and iterating flowables on the pure executor with the
//! scripted worker: `If`, `Switch`, `Parallel` (and its `concurrent`), and
//! `ForEach` (values, `concurrencyLimit`, null values, a failed iteration,
//! nesting).

use serde_json::{Map, json};

use super::tests::{LOG, Sim, ok};
use baton_model::StateType;
use baton_model::wire::messages::WorkerJob;

#[test]
fn if_runs_then_or_else() {
    let y = format!(
        "id: f\nnamespace: n\ntasks:\n  - id: if\n    type: io.kestra.plugin.core.flow.If\n    condition: \"{{{{ inputs.taxi == 'yellow' }}}}\"\n    then:\n      - id: yes\n        type: {LOG}\n    else:\n      - id: no\n        type: {LOG}\n"
    );
    let mut sim = Sim::new(&y, json!({"taxi": "yellow"}), &ok);
    assert_eq!(sim.run(), StateType::Success);
    assert_eq!(sim.task_ids(), ["yes"]);
    assert_eq!(sim.exec.task_run_list[0].outputs.as_ref().unwrap()["evaluationResult"], true);
    let mut sim = Sim::new(&y, json!({"taxi": "green"}), &ok);
    assert_eq!(sim.run(), StateType::Success);
    assert_eq!(sim.task_ids(), ["no"]);
}

#[test]
fn if_with_a_bad_condition_fails_the_task() {
    let y = format!(
        "id: f\nnamespace: n\ntasks:\n  - id: if\n    type: io.kestra.plugin.core.flow.If\n    condition: \"{{{{ inputs.missing.deeper }}}}\"\n    then:\n      - id: yes\n        type: {LOG}\n"
    );
    let mut sim = Sim::new(&y, json!({}), &ok);
    assert_eq!(sim.run(), StateType::Failed);
    assert!(sim.exec.task_run_list[0].error.as_deref().unwrap().contains("condition of task 'if'"));
}

#[test]
fn switch_picks_a_case_or_defaults() {
    let y = format!(
        "id: f\nnamespace: n\ntasks:\n  - id: sw\n    type: io.kestra.plugin.core.flow.Switch\n    value: \"{{{{ inputs.v }}}}\"\n    cases:\n      A:\n        - id: a\n          type: {LOG}\n      B:\n        - id: b\n          type: {LOG}\n    defaults:\n      - id: d\n        type: {LOG}\n"
    );
    let mut sim = Sim::new(&y, json!({"v": "B"}), &ok);
    assert_eq!(sim.run(), StateType::Success);
    assert_eq!(sim.task_ids(), ["b"]);
    let mut sim = Sim::new(&y, json!({"v": "Z"}), &ok);
    sim.run();
    assert_eq!(sim.task_ids(), ["d"]);
    assert_eq!(sim.exec.task_run_list[0].outputs.as_ref().unwrap()["defaults"], true);
}

#[test]
fn parallel_dispatches_all_children_at_once() {
    let y = format!(
        "id: f\nnamespace: n\ntasks:\n  - id: p\n    type: io.kestra.plugin.core.flow.Parallel\n    tasks:\n      - id: a\n        type: {LOG}\n      - id: b\n        type: {LOG}\n      - id: c\n        type: {LOG}\n  - id: after\n    type: {LOG}\n"
    );
    let mut sim = Sim::new(&y, json!({}), &ok);
    assert_eq!(sim.run(), StateType::Success);
    assert_eq!(sim.max_parallel, 3);
    assert_eq!(sim.task_ids(), ["a", "b", "c", "after"]);
}

#[test]
fn parallel_respects_concurrent() {
    let y = format!(
        "id: f\nnamespace: n\ntasks:\n  - id: p\n    type: io.kestra.plugin.core.flow.Parallel\n    concurrent: 2\n    tasks:\n      - id: a\n        type: {LOG}\n      - id: b\n        type: {LOG}\n      - id: c\n        type: {LOG}\n"
    );
    let mut sim = Sim::new(&y, json!({}), &ok);
    assert_eq!(sim.run(), StateType::Success);
    assert_eq!(sim.max_parallel, 2);
}

#[test]
fn for_each_runs_each_value_with_outputs_indexed_by_value() {
    let y = "id: f\nnamespace: n\ntasks:\n  - id: each\n    type: io.kestra.plugin.core.flow.ForEach\n    values: [\"a\", \"b\", \"c\"]\n    tasks:\n      - id: ret\n        type: io.kestra.plugin.core.debug.Return\n        format: \"{{ taskrun.value }}\"\n  - id: last\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ outputs.ret | length }}\"\n";
    let echo = |j: &WorkerJob| {
        let v = j.context.value()["taskrun"]["value"].clone();
        (StateType::Success, Map::from_iter([("value".to_string(), v)]))
    };
    let mut sim = Sim::new(y, json!({}), &echo);
    assert_eq!(sim.run(), StateType::Success);
    assert_eq!(sim.max_parallel, 1, "concurrencyLimit defaults to 1");
    assert_eq!(sim.task_ids(), ["ret", "ret", "ret", "last"]);
    let last = sim.dispatched.last().unwrap();
    assert_eq!(last.context.value()["outputs"]["ret"]["b"]["value"], "b");
    let values: Vec<_> = sim.exec.task_run_list.iter().filter_map(|t| t.value.clone()).collect();
    assert_eq!(values, ["a", "b", "c"]);
}

#[test]
fn for_each_unlimited_and_json_string_values() {
    let y = format!(
        "id: f\nnamespace: n\ntasks:\n  - id: each\n    type: io.kestra.plugin.core.flow.ForEach\n    values: '{{{{ inputs.list }}}}'\n    concurrencyLimit: 0\n    tasks:\n      - id: a\n        type: {LOG}\n      - id: b\n        type: {LOG}\n"
    );
    let mut sim = Sim::new(&y, json!({"list": [1, 2, 3, 4]}), &ok);
    assert_eq!(sim.run(), StateType::Success);
    assert_eq!(sim.max_parallel, 4);
    assert_eq!(sim.dispatched.len(), 8);
}

#[test]
fn for_each_with_a_null_value_fails_naming_it_as_kestra() {
    // Kestra's corpus each-null.yaml (EachSequentialTest.eachNull): FAILED,
    // one task run (the ForEach's), "Found '1' null values on Each"
    let y = format!(
        "id: f\nnamespace: n\ntasks:\n  - id: each\n    type: io.kestra.plugin.core.flow.ForEach\n    values: '[1, null, {{\"key\": \"k\"}}]'\n    tasks:\n      - id: a\n        type: {LOG}\n"
    );
    let mut sim = Sim::new(&y, json!({}), &ok);
    assert_eq!(sim.run(), StateType::Failed);
    assert!(sim.dispatched.is_empty());
    assert_eq!(sim.exec.task_run_list.len(), 1);
}

#[test]
fn for_each_stops_after_a_failed_iteration() {
    let y = format!(
        "id: f\nnamespace: n\ntasks:\n  - id: each\n    type: io.kestra.plugin.core.flow.ForEach\n    values: [1, 2, 3]\n    tasks:\n      - id: a\n        type: {LOG}\n"
    );
    let script = |j: &WorkerJob| {
        if j.context.value()["taskrun"]["value"] == "2" {
            (StateType::Failed, Map::new())
        } else {
            (StateType::Success, Map::new())
        }
    };
    let mut sim = Sim::new(&y, json!({}), &script);
    assert_eq!(sim.run(), StateType::Failed);
    assert_eq!(sim.dispatched.len(), 2);
}

#[test]
fn nested_for_each_sees_parent_value() {
    let y = "id: f\nnamespace: n\ntasks:\n  - id: outer\n    type: io.kestra.plugin.core.flow.ForEach\n    values: [\"x\", \"y\"]\n    tasks:\n      - id: inner\n        type: io.kestra.plugin.core.flow.ForEach\n        values: [1, 2]\n        tasks:\n          - id: r\n            type: io.kestra.plugin.core.debug.Return\n            format: v\n  - id: end\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ outputs.r }}\"\n";
    let echo = |j: &WorkerJob| {
        let v = format!(
            "{}-{}",
            j.context.value()["parent"]["taskrun"]["value"].as_str().unwrap_or("?"),
            j.context.value()["taskrun"]["value"].as_str().unwrap_or("?")
        );
        (StateType::Success, Map::from_iter([("value".to_string(), json!(v))]))
    };
    let mut sim = Sim::new(y, json!({}), &echo);
    assert_eq!(sim.run(), StateType::Success);
    let end = sim.dispatched.last().unwrap();
    assert_eq!(end.context.value()["outputs"]["r"]["y"]["2"]["value"], "y-2");
}
