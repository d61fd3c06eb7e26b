//! ForEachItem in the pure executor: Kestra's four task runs (the
//! ForEachItem, `_split`, `_items`, `_merge`), one `StartBatches` for all
//! the batches, the `_items` state and `iterations` from `BatchesEnded`
//! (a duplicate changes nothing), `transmitFailed`, `wait: false`, no
//! items, and `allowFailure` on the ForEachItem.

use serde_json::{Map, Value, json};

use super::tests::Sim;
use super::*;
use baton_model::StateType;
use baton_model::for_each_item::{MERGE_TYPE, SPLIT_TYPE};
use baton_model::wire::messages::{ExecutionEvent, WorkerJob};

fn yaml(extra: &str) -> String {
    format!(
        "id: parent\nnamespace: n\ninputs:\n  - id: file\n    type: STRING\ntasks:\n  - id: each\n    type: io.kestra.plugin.core.flow.ForEachItem\n    items: \"{{{{ inputs.file }}}}\"\n    batch:\n      rows: 4\n    namespace: n\n    flowId: child\n    inputs:\n      items: \"{{{{ taskrun.items }}}}\"\n{extra}  - id: after\n    type: io.kestra.plugin.core.log.Log\n    message: \"{{{{ outputs.each_merge.subflowOutputs ?? 'none' }}}}\"\n"
    )
}

/// A worker: the split makes `n` batches; the merge finds outputs.
fn worker(n: u64) -> impl Fn(&WorkerJob) -> (StateType, Map<String, Value>) {
    move |j| {
        let out = match j.task.kind.as_str() {
            SPLIT_TYPE => {
                assert_eq!(j.task.props["items"], "{{ inputs.file }}");
                assert_eq!(j.task.props["rows"], 4);
                json!({"splits": "kestra:///n/parent/executions/exec1/tasks/each_split/x/splits.txt",
                    "numberOfBatches": n, "batchUri": "kestra:///n/parent/executions/exec1/tasks/each_split/x/{iteration}.txt"})
            }
            MERGE_TYPE => {
                assert_eq!(j.task.props["numberOfBatches"], n);
                let base = j.task.props["subflowOutputsBase"].as_str().unwrap();
                assert!(base.starts_with("kestra:///n/parent/executions/exec1/tasks/each_items/"), "{base}");
                json!({"subflowOutputs": "kestra:///merged.ion"})
            }
            _ => json!({}),
        };
        (StateType::Success, out.as_object().cloned().unwrap())
    }
}

fn ended(sim: &Sim<'_>, counts: Value) -> ExecutionEvent {
    let Some(Action::StartBatches { task_run_id, .. }) = sim.subflows.last().cloned() else { panic!("no batches") };
    ExecutionEvent::BatchesEnded {
        execution_id: "exec1".into(),
        task_run_id,
        iterations: counts.as_object().cloned().unwrap(),
        error: None,
    }
}

fn items_outputs(sim: &Sim<'_>) -> Option<Map<String, Value>> {
    sim.exec.task_run_list.iter().find(|t| t.task_id == "each_items").and_then(|t| t.outputs.as_deref().cloned())
}

#[test]
fn batches_start_once_and_their_counts_end_the_items_task_run() {
    let script = worker(26);
    let mut sim =
        Sim::new(&yaml(""), json!({"file": "kestra:///n/parent/executions/exec1/inputs/file/f.txt"}), &script);
    assert_eq!(sim.run(), StateType::Running);
    assert_eq!(
        sim.subflows,
        vec![Action::StartBatches { task_run_id: sim.exec.task_run_list[2].id.clone(), count: 26 }]
    );
    let ids: Vec<&str> = sim.exec.task_run_list.iter().map(|t| t.task_id.as_str()).collect();
    assert_eq!(ids, ["each", "each_split", "each_items"]);
    let out = items_outputs(&sim).unwrap();
    assert_eq!(out["numberOfBatches"], 26);
    // the step again starts nothing more
    assert!(sim.step().is_empty());
    let ev = ended(&sim, json!({"SUCCESS": 26}));
    let now = sim.now;
    let (changed, _) = apply_event(&sim.flow, &mut sim.exec, &ev, now);
    assert_eq!(changed.len(), 1);
    // a duplicate changes nothing
    let (changed, _) = apply_event(&sim.flow, &mut sim.exec, &ev, now);
    assert!(changed.is_empty());
    assert_eq!(sim.run(), StateType::Success);
    let ids: Vec<&str> = sim.exec.task_run_list.iter().map(|t| t.task_id.as_str()).collect();
    assert_eq!(ids, ["each", "each_split", "each_items", "each_merge", "after"]);
    let out = items_outputs(&sim).unwrap();
    assert_eq!(out["iterations"], json!({"CREATED": 0, "RUNNING": 0, "SUCCESS": 26}));
    let items = &sim.exec.task_run_list[2];
    assert_eq!(items.attempts.len(), 1);
    assert_eq!(items.attempts[0].state.current, StateType::Success);
    assert_eq!(sim.task_ids(), ["each_split", "each_merge", "after"]);
    // the merged outputs are the ForEachItem's `subflowOutputs`
    let after = sim.dispatched.iter().find(|j| j.task.id == "after").unwrap();
    assert_eq!(after.context.value()["outputs"]["each_merge"]["subflowOutputs"], "kestra:///merged.ion");
    // the execution holds counters only: a few task runs whatever the batches
    assert!(serde_json::to_string(&sim.exec).unwrap().len() < 8_000);
}

#[test]
fn a_failed_batch_fails_the_for_each_item_unless_not_transmitted_or_allowed() {
    let script = worker(26);
    let input = json!({"file": "kestra:///n/parent/executions/exec1/inputs/file/f.txt"});
    let mut sim = Sim::new(&yaml(""), input.clone(), &script);
    sim.run();
    let ev = ended(&sim, json!({"SUCCESS": 20, "FAILED": 6}));
    let now = sim.now;
    apply_event(&sim.flow, &mut sim.exec, &ev, now);
    assert_eq!(sim.run(), StateType::Failed);
    // Kestra: no merge after a failure
    assert_eq!(sim.exec.task_run_list.len(), 3);
    assert_eq!(sim.state_of("each_items"), [StateType::Failed]);
    assert!(sim.exec.task_run_list[2].error.as_deref().unwrap().contains("6 of 26"));
    assert_eq!(items_outputs(&sim).unwrap()["iterations"]["FAILED"], 6);

    let mut sim = Sim::new(&yaml("    transmitFailed: false\n"), input.clone(), &script);
    sim.run();
    let ev = ended(&sim, json!({"FAILED": 26}));
    apply_event(&sim.flow, &mut sim.exec, &ev, now);
    assert_eq!(sim.run(), StateType::Success);

    let mut sim = Sim::new(&yaml("    allowFailure: true\n"), input, &script);
    sim.run();
    let ev = ended(&sim, json!({"FAILED": 1, "SUCCESS": 25}));
    apply_event(&sim.flow, &mut sim.exec, &ev, now);
    assert_eq!(sim.run(), StateType::Warning);
    assert_eq!(sim.state_of("each"), [StateType::Warning]);
}

#[test]
fn no_wait_and_no_items_end_at_once() {
    let input = json!({"file": "kestra:///n/parent/executions/exec1/inputs/file/f.txt"});
    let script = worker(26);
    let mut sim = Sim::new(&yaml("    wait: false\n"), input.clone(), &script);
    assert_eq!(sim.run(), StateType::Success);
    assert_eq!(sim.subflows.len(), 1, "the batches still start");
    assert_eq!(items_outputs(&sim).unwrap()["iterations"], json!({"RUNNING": 0, "SUCCESS": 26}));

    let script = worker(0);
    let mut sim = Sim::new(&yaml(""), input, &script);
    assert_eq!(sim.run(), StateType::Success);
    assert!(sim.subflows.is_empty());
    assert_eq!(items_outputs(&sim), None);
    assert_eq!(sim.exec.task_run_list.len(), 5);
}

#[test]
fn a_restarted_runtime_sends_the_fan_out_again() {
    let script = worker(3);
    let input = json!({"file": "kestra:///n/parent/executions/exec1/inputs/file/f.txt"});
    let mut sim = Sim::new(&yaml(""), input, &script);
    sim.run();
    let opts = StepOptions { redispatch_pending: true };
    let t = step(&sim.flow, &sim.exec, sim.now, &super::tests::Env(baton_template::Renderer::new()), opts);
    assert!(t.actions.iter().any(|a| matches!(a, Action::StartBatches { count: 3, .. })), "{:?}", t.actions);
}
