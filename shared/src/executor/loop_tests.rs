//! Kestra 2.0's `Loop` on the ForEach machinery: `item.value`,
//! `item.index` and `item.key` in every child (nested ones too), maps as
//! values, `concurrencyLimit`, and a file URI refused by name.

use serde_json::{Map, Value, json};

use super::tests::Sim;
use crate::model::StateType;
use crate::runtime::messages::WorkerJob;

fn echo_item(j: &WorkerJob) -> (StateType, Map<String, Value>) {
    let item = &j.context["item"];
    let key = item.get("key").and_then(Value::as_str).map(|k| format!("{k}=")).unwrap_or_default();
    let v = format!("{key}{}#{}", item["value"].as_str().unwrap_or("?"), item["index"]);
    (StateType::Success, Map::from_iter([("value".to_string(), Value::String(v))]))
}

fn seen(sim: &Sim<'_>) -> Vec<String> {
    sim.exec
        .task_run_list
        .iter()
        .filter_map(|t| t.outputs.as_ref()?.get("value")?.as_str().map(str::to_string))
        .collect()
}

#[test]
fn loop_children_read_item_value_and_index_even_nested() {
    let y = "id: f\nnamespace: n\ntasks:\n  - id: loop\n    type: io.kestra.plugin.core.flow.Loop\n    values: [north, south]\n    tasks:\n      - id: a\n        type: io.kestra.plugin.core.debug.Return\n        format: x\n      - id: if\n        type: io.kestra.plugin.core.flow.If\n        condition: \"{{ item.value == 'south' }}\"\n        then:\n          - id: b\n            type: io.kestra.plugin.core.debug.Return\n            format: x\n";
    let mut sim = Sim::new(y, json!({}), &echo_item);
    assert_eq!(sim.run(), StateType::Success);
    assert_eq!(seen(&sim), ["north#0", "south#1", "south#1"]);
    assert_eq!(sim.task_ids(), ["a", "a", "b"]);
}

#[test]
fn a_loop_over_a_map_gives_item_key_and_runs_concurrently_when_asked() {
    let y = "id: f\nnamespace: n\ntasks:\n  - id: loop\n    type: io.kestra.plugin.core.flow.Loop\n    values: {fr: Paris, de: Berlin, it: Rome}\n    concurrencyLimit: 0\n    tasks:\n      - id: a\n        type: io.kestra.plugin.core.debug.Return\n        format: x\n";
    let mut sim = Sim::new(y, json!({}), &echo_item);
    assert_eq!(sim.run(), StateType::Success);
    let mut got = seen(&sim);
    got.sort();
    assert_eq!(got, ["de=Berlin#1", "fr=Paris#0", "it=Rome#2"]);
    assert_eq!(sim.max_parallel, 3, "concurrencyLimit: 0 runs every iteration at once");
}

#[test]
fn a_loop_over_an_expression_and_a_file_uri() {
    let y = "id: f\nnamespace: n\ntasks:\n  - id: loop\n    type: io.kestra.plugin.core.flow.Loop\n    values: \"{{ inputs.v }}\"\n    tasks:\n      - id: a\n        type: io.kestra.plugin.core.debug.Return\n        format: x\n";
    let mut sim = Sim::new(y, json!({"v": "[1, 2]"}), &echo_item);
    assert_eq!(sim.run(), StateType::Success);
    assert_eq!(seen(&sim), ["1#0", "2#1"]);
    let mut sim = Sim::new(y, json!({"v": "kestra:///n/f/file.txt"}), &echo_item);
    assert_eq!(sim.run(), StateType::Failed);
    let err = sim.exec.task_run_list[0].error.clone().unwrap_or_default();
    assert!(err.contains("not supported by Baton yet"), "{err}");
}
