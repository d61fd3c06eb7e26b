//! ForEachItem in the step: its `_split` task run (a worker splits the
//! items), then its `_items` task run — the executor asks the runtime to
//! start one subflow execution per batch (`Action::StartBatches`: the
//! runtime fans the launches out, one message per batch) and waits for
//! `BatchesEnded`, which carries the counts per state — then its `_merge`
//! task run (a worker joins the subflows' outputs). The execution holds
//! counters only, never one entry per batch, so every step and event
//! costs the same whatever the number of batches.

use serde_json::{Map, Value, json};

use super::{Block, Stepper, normalize, truthy};
use crate::Action;
use baton_model::flow::{Children, scalar_string};
use baton_model::for_each_item as fei;
use baton_model::{Attempt, Execution, State, StateType, Task};

/// Kestra's `iterations` keys that are not terminal states.
const LIVE: [&str; 2] = ["CREATED", "RUNNING"];

impl<'a> Stepper<'a> {
    pub(super) fn for_each_item(&mut self, task: &'a Task, idx: usize) -> Block {
        let Children::Tasks(children) = &task.children else { return Block::Done(StateType::Success) };
        let [split, items, merge] = children.as_slice() else { return Block::Done(StateType::Success) };
        let (id, value) = self.slot_of(idx);
        let (parent, value) = (Some(id.as_str()), value.as_deref());
        let (block, split_idx) = self.task(split, parent, value);
        match block {
            Block::Running => return Block::Running,
            Block::Done(StateType::Failed) => return Block::Done(StateType::Failed),
            Block::Done(_) => {}
        }
        let items_idx = match self.find(&items.id, parent, value) {
            Some(i) => i,
            None => self.create(items, parent, value),
        };
        match self.batches(items, items_idx, split_idx) {
            Block::Running => return Block::Running,
            Block::Done(StateType::Failed) => return Block::Done(StateType::Failed),
            Block::Done(_) => {}
        }
        let merge_idx = match self.find(&merge.id, parent, value) {
            Some(i) => i,
            None => self.create(merge, parent, value),
        };
        let current = self.exec.task_run_list[merge_idx].state.current;
        if current.is_terminal() {
            return Block::Done(normalize(current));
        }
        // the merge reads the outputs the subflows of this `_items` task run wrote
        let mut merge = merge.clone();
        let items_tr = &self.exec.task_run_list[items_idx];
        let prefix = baton_model::storage::execution_prefix(&self.exec.namespace, &self.exec.flow_id, &self.exec.id);
        let batches = items_tr.outputs.as_ref().and_then(|o| o.get("numberOfBatches")).cloned().unwrap_or(json!(0));
        merge.props.insert("numberOfBatches".into(), batches);
        merge.props.insert(
            "subflowOutputsBase".into(),
            json!(format!("kestra://{}", fei::outputs_base(&prefix, &items.id, &items_tr.id))),
        );
        self.advance_runnable(&merge, merge_idx)
    }

    /// The `_items` task run: starts the batches once, then waits for their end.
    fn batches(&mut self, items: &Task, idx: usize, split_idx: usize) -> Block {
        let tr = &self.exec.task_run_list[idx];
        if tr.state.is_terminal() {
            return Block::Done(normalize(tr.state.current));
        }
        if let Some(ev) = &tr.evaluated {
            // a lost fan-out message is sent again (launches are idempotent)
            if self.opts.redispatch_pending && ev.get("wait").and_then(Value::as_bool).unwrap_or(true) {
                let count = ev.get("numberOfBatches").and_then(Value::as_u64).unwrap_or(0);
                self.actions.push(Action::StartBatches { task_run_id: tr.id.clone(), count });
            }
            return Block::Running;
        }
        let split_out = self.exec.task_run_list[split_idx].outputs.as_deref().cloned().unwrap_or_default();
        let count = split_out.get("numberOfBatches").and_then(Value::as_u64).unwrap_or(0);
        let pattern = split_out.get("batchUri").and_then(Value::as_str).unwrap_or_default().to_string();
        let ctx = self.task_context(items, idx);
        let mut fixed = Map::new();
        for key in ["namespace", "flowId", "revision", "wait", "transmitFailed", "inheritLabels"] {
            let Some(raw) = items.props.get(key) else { continue };
            match self.env.render_value(raw, &ctx) {
                Ok(v) => {
                    fixed.insert(key.to_string(), v);
                }
                Err(e) => {
                    self.fail(idx, format!("property '{key}' of task '{}': {e}", items.id));
                    return Block::Done(StateType::Failed);
                }
            }
        }
        let text = |k: &str| fixed.get(k).map(scalar_string).filter(|s| !s.is_empty());
        let (Some(namespace), Some(flow_id)) = (text("namespace"), text("flowId")) else {
            self.fail(idx, format!("task '{}': ForEachItem needs 'namespace' and 'flowId'", items.id));
            return Block::Done(StateType::Failed);
        };
        let flag = |k: &str, default: bool| text(k).map_or(default, |s| truthy(&s));
        let revision = match text("revision").map(|r| r.parse::<u32>()) {
            None => None,
            Some(Ok(r)) => Some(r),
            Some(Err(_)) => {
                self.fail(
                    idx,
                    format!("task '{}': revision '{}' is not a number", items.id, text("revision").unwrap_or_default()),
                );
                return Block::Done(StateType::Failed);
            }
        };
        let wait = flag("wait", true);
        let evaluated = json!({
            "namespace": namespace, "flowId": flow_id, "revision": revision, "wait": wait,
            "transmitFailed": flag("transmitFailed", true), "inheritLabels": flag("inheritLabels", false),
            "numberOfBatches": count, "batchUri": pattern,
        });
        let id = self.exec.task_run_list[idx].id.clone();
        self.exec.task_run_list[idx].evaluated = Some(std::sync::Arc::new(evaluated));
        self.set_state(idx, StateType::Running);
        if count == 0 {
            // nothing to start: Kestra's `_items` ends with no outputs
            self.finish_items(idx, StateType::Success, None);
            return Block::Done(StateType::Success);
        }
        self.actions.push(Action::StartBatches { task_run_id: id, count });
        if !wait {
            let iterations = json!({"RUNNING": 0, "SUCCESS": count});
            self.exec.task_run_list[idx].outputs = Some(Box::new(Map::from_iter([
                ("numberOfBatches".into(), json!(count)),
                ("iterations".into(), iterations),
            ])));
            self.finish_items(idx, StateType::Success, None);
            return Block::Done(StateType::Success);
        }
        self.exec.task_run_list[idx].outputs = Some(Box::new(Map::from_iter([
            ("numberOfBatches".into(), json!(count)),
            ("iterations".into(), json!({"CREATED": count, "RUNNING": 0})),
        ])));
        Block::Running
    }

    fn finish_items(&mut self, idx: usize, state: StateType, error: Option<String>) {
        let now = self.now;
        let tr = &mut self.exec.task_run_list[idx];
        tr.attempts.push(Attempt { state: State::new(state, now), worker_id: None, log_file: None });
        if error.is_some() {
            tr.error = error;
        }
        self.set_state(idx, state);
    }
}

/// Applies the end of every batch of the `_items` task run `task_run_id`:
/// Kestra's `iterations` counts and the task run's state from them
/// (with `transmitFailed`: FAILED if one failed, else KILLED if one was
/// killed, else WARNING if one warned; without it SUCCESS). A duplicate
/// or late event changes nothing. Pure. The caller checks that the task
/// run at `pos` is an `_items` one.
pub(crate) fn apply_batches_ended(
    exec: &mut Execution,
    pos: usize,
    counts: &Map<String, Value>,
    error: Option<&str>,
    now: chrono::DateTime<chrono::Utc>,
) -> bool {
    let tr = &mut exec.task_run_list[pos];
    if tr.state.is_terminal() {
        return false;
    }
    let transmit = tr.evaluated.as_ref().and_then(|e| e.get("transmitFailed")).and_then(Value::as_bool).unwrap_or(true);
    let n = |s: &str| counts.get(s).and_then(Value::as_u64).unwrap_or(0);
    let state = if error.is_some() {
        StateType::Failed
    } else if !transmit {
        StateType::Success
    } else if n("FAILED") > 0 {
        StateType::Failed
    } else if n("KILLED") > 0 {
        StateType::Killed
    } else if n("WARNING") > 0 {
        StateType::Warning
    } else {
        StateType::Success
    };
    let mut iterations: Map<String, Value> = LIVE.iter().map(|k| (k.to_string(), json!(0))).collect();
    for (k, v) in counts {
        iterations.insert(k.clone(), v.clone());
    }
    let mut outputs = tr.outputs.as_deref().cloned().unwrap_or_default();
    outputs.insert("iterations".into(), Value::Object(iterations));
    tr.outputs = Some(Box::new(outputs));
    tr.error = match error {
        Some(e) => Some(e.to_string()),
        None if state.is_failed() => {
            let total: u64 = counts.values().filter_map(Value::as_u64).sum();
            Some(format!("{} of {total} subflow executions failed, {} were killed", n("FAILED"), n("KILLED")))
        }
        None => None,
    };
    tr.attempts.push(Attempt { state: State::new(state, now), worker_id: None, log_file: None });
    tr.state.set(state, now);
    true
}
