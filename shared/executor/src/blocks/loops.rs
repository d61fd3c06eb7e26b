//! Kestra 2.0's `Loop`, on the ForEach machinery with Kestra's isolation:
//! each iteration runs the Loop's `tasks` then its own `errors` and
//! `finally` (Kestra runs each iteration as a sub-execution), sees only
//! its own outputs (`context`), and after the loop only the Loop's outputs
//! are visible: `iterationCount`, `runningIterations`,
//! `terminatedIterations` (iterations per final state) and, when the Loop
//! declares `outputs`, `outputs`: one `{item: {value, iteration, key},
//! outputs}` per iteration that did not fail, in iteration order (read
//! with `loopOutputs()`). With `fetchType: STORE` — or AUTO, the default,
//! over a `kestra://` file, as Kestra resolves it — each iteration's
//! outputs go to an internal-storage file and its entry's `outputs` is
//! `{uri}` (`loopOutputs(…, 'uri')`). A failed iteration fails the Loop only with
//! `transmitFailed` (default true); the Loop is SUCCESS otherwise, as
//! Kestra ends it.
//!
//! `breakWhen`, rendered after each iteration, stops the Loop from starting
//! another when truthy (the running ones end; the Loop is SUCCESS unless an
//! iteration failed with `transmitFailed`). `runningIterations` is kept
//! live while the Loop runs.
//!
//! Values: a list, a map (`item.key`), an expression, or a `kestra://`
//! file read one value per line (Ion written as JSON, as Baton's tasks
//! write it).

use serde_json::{Map, Value, json};

use super::concurrent::Body;
use super::{Block, Stepper, for_each_values};
use baton_model::flow::{Children, scalar_string};
use baton_model::flowable::{Flowable, Loop};
use baton_model::{StateType, Task};

/// The largest file of one iteration's outputs a Loop with `fetchType:
/// STORE` writes (it is held in memory until the runtime writes it).
pub const MAX_STORED_ITERATION_BYTES: usize = 10 << 20;

/// Kestra's `transmitFailed` of a Loop (default true).
pub(super) fn transmit_failed(task: &Task) -> bool {
    spec(task).is_none_or(Loop::transmits_failed)
}

/// The Loop's properties (`None` for a task that is not a Loop).
fn spec(task: &Task) -> Option<&Loop> {
    match &task.flowable {
        Some(Flowable::Loop(l)) => Some(l),
        _ => None,
    }
}

/// The outputs a Loop declares (`outputs: [{id, type, value}]`).
fn declared(task: &Task) -> &[Value] {
    spec(task).map(|l| l.outputs.as_slice()).unwrap_or_default()
}

impl<'a> Stepper<'a> {
    pub(super) fn loop_(&mut self, task: &'a Task, idx: usize, spec: &Loop) -> Block {
        let limit = spec.concurrency_limit.unwrap_or(0);
        let Children::Tasks(tasks) = &task.children else { return Block::Done(StateType::Success) };
        let body = Body { tasks, looped: Some(task) };
        let block = if self.index.blocks.contains_key(&(idx as u32)) {
            self.concurrent(body, idx, limit, None)
        } else {
            let raw = spec.raw_values();
            let id = task.id.clone();
            let Ok(values) = self.evaluate_shared(task, idx, |s, ctx| for_each_values(s.env, &raw, ctx, &id, true))
            else {
                return Block::Done(StateType::Failed);
            };
            let values: Vec<Box<str>> = match &*values {
                Value::Array(a) => a.iter().map(|v| scalar_string(v).into()).collect(),
                Value::Object(m) => m.values().map(|v| scalar_string(v).into()).collect(),
                _ => Vec::new(),
            };
            if self.exec.task_run_list[idx].outputs.is_none() {
                let n = values.len();
                self.exec.task_run_list[idx].outputs = Some(Box::new(Map::from_iter([
                    ("iterationCount".into(), json!(n)),
                    ("runningIterations".into(), json!(0)),
                    ("terminatedIterations".into(), json!({})),
                ])));
                self.mark(idx);
            }
            self.concurrent(body, idx, limit, Some(values))
        };
        match block {
            Block::Running => {
                self.live_running(idx);
                Block::Running
            }
            Block::Done(s) => {
                self.loop_ended(task, idx);
                Block::Done(if s == StateType::Failed { s } else { StateType::Success })
            }
        }
    }

    /// An iteration of the Loop `l` (task run `parent`) ended: its declared
    /// outputs are rendered in it and kept in the Loop's `outputs`, once.
    /// `acted`: the iteration ended in this walk (it is said once).
    pub(super) fn loop_iteration_done(
        &mut self,
        l: &Task,
        parent: &str,
        u: usize,
        value: &str,
        block: Block,
        acted: bool,
    ) {
        let Some(pos) = self.index.position(&self.exec.task_run_list, parent) else { return };
        if block == Block::Done(StateType::Failed) {
            if transmit_failed(l) && acted {
                self.actions.push(super::Action::Log {
                    task_run_id: Some(parent.to_string()),
                    task_id: Some(l.id.clone()),
                    level: "ERROR",
                    message: format!("Loop iteration {u} (value '{value}') ended in FAILED"),
                });
            }
            return;
        }
        let decl = declared(l);
        if decl.is_empty() {
            return;
        }
        let list =
            self.exec.task_run_list[pos].outputs.as_ref().and_then(|o| o.get("outputs")).and_then(Value::as_array);
        let at = match list.map(|a| a.binary_search_by_key(&u, iteration_of)) {
            Some(Ok(_)) => return,
            Some(Err(at)) => at,
            None => 0,
        };
        let Children::Tasks(tasks) = &l.children else { return };
        let Some(first) = tasks.iter().find(|t| !t.disabled) else { return };
        let Some(inside) = self.find(&first.id, Some(parent), Some(value)) else { return };
        let ctx = self.context(Some(inside));
        let mut outputs = Map::new();
        for o in decl {
            let id = o.get("id").map(scalar_string).unwrap_or_default();
            let kind = o.get("type").map(scalar_string).unwrap_or_else(|| "STRING".into());
            let raw = o.get("value").cloned().unwrap_or(Value::Null);
            match self.env.render_value(&raw, &ctx).map_err(|e| e.to_string()).and_then(|v| typed(&kind, v)) {
                Ok(v) => outputs.insert(id, v),
                Err(e) => {
                    let msg = format!("output '{id}' of Loop '{}' in iteration {u}: {e}", l.id);
                    self.fail(pos, msg);
                    return;
                }
            };
        }
        let outputs = if self.loop_stores(l, pos) {
            match self.store_iteration(l, parent, u, &outputs) {
                Ok(uri) => Map::from_iter([("uri".to_string(), Value::String(uri))]),
                Err(e) => {
                    self.fail(pos, e);
                    return;
                }
            }
        } else {
            outputs
        };
        let mut item = json!({"value": value, "iteration": u});
        if let Some(Value::Object(m)) = self.exec.task_run_list[pos].evaluated.as_deref()
            && let Some(k) = m.keys().nth(u)
        {
            item["key"] = Value::String(k.clone());
        }
        let entry = json!({"item": item, "outputs": outputs});
        let o = self.exec.task_run_list[pos].outputs.get_or_insert_with(Default::default);
        match o.entry("outputs").or_insert_with(|| Value::Array(Vec::new())) {
            Value::Array(a) => a.insert(at.min(a.len()), entry),
            other => *other = Value::Array(vec![entry]),
        }
        self.mark(pos);
    }

    /// Whether the Loop `l` (task run at `pos`) stores each iteration's
    /// outputs in a file (Kestra's `fetchType`): STORE, or AUTO (the
    /// default) when `values` renders to a `kestra://` URI; FETCH inlines.
    fn loop_stores(&self, l: &Task, pos: usize) -> bool {
        match spec(l).and_then(|s| s.fetch_type.as_deref()) {
            Some("STORE") => true,
            Some("FETCH") => false,
            _ => {
                let Some(Value::String(raw)) = spec(l).and_then(|s| s.values.as_deref()) else { return false };
                // outputs only when `values` may read them: the whole
                // execution's outputs are O(execution) to build
                let ctx = self.context_with(Some(pos), &crate::output_refs::text_refs(raw));
                self.env.render(raw, &ctx).is_ok_and(|r| r.trim().starts_with("kestra://"))
            }
        }
    }

    /// The outputs of iteration `u` of the Loop `l` (task run `parent`)
    /// written, as one JSON line (Ion as Baton writes it), to
    /// `{execution}/tasks/{loop}/{parent}/outputs-{u}.ion` by the runtime
    /// before the step is saved; its `kestra://` URI. At most
    /// [`MAX_STORED_ITERATION_BYTES`].
    fn store_iteration(
        &mut self,
        l: &Task,
        parent: &str,
        u: usize,
        outputs: &Map<String, Value>,
    ) -> Result<String, String> {
        let mut content = serde_json::to_vec(outputs).map_err(|e| format!("outputs of Loop '{}': {e}", l.id))?;
        content.push(b'\n');
        if content.len() > MAX_STORED_ITERATION_BYTES {
            return Err(format!(
                "outputs of Loop '{}' in iteration {u}: {} bytes, more than {MAX_STORED_ITERATION_BYTES} \
                 (MAX_STORED_ITERATION_BYTES)",
                l.id,
                content.len()
            ));
        }
        let prefix = baton_model::storage::execution_prefix(&self.exec.namespace, &self.exec.flow_id, &self.exec.id);
        let path = format!("{prefix}/tasks/{}/{parent}/outputs-{u}.ion", baton_model::ids::slugify(&l.id));
        self.actions.push(super::Action::PutFile { path: path.clone(), content });
        Ok(format!("kestra://{path}"))
    }

    /// `runningIterations` of the running Loop at `idx`, kept as its
    /// iterations start and end (written only when it changes).
    fn live_running(&mut self, idx: usize) {
        let Some(n) = self.index.blocks.get(&(idx as u32)).map(|m| m.running.len()) else { return };
        let o = self.exec.task_run_list[idx].outputs.get_or_insert_with(Default::default);
        if o.get("runningIterations").and_then(Value::as_u64) != Some(n as u64) {
            o.insert("runningIterations".into(), json!(n));
            self.mark(idx);
        }
    }

    /// Whether the Loop `l` starts no other iteration after iteration `u`
    /// ended as `block`: its `breakWhen`, rendered in that iteration with
    /// `iteration.executionId`, `iteration.state` and `iteration.outputs`
    /// (its declared outputs), is truthy. A render error fails the Loop.
    pub(super) fn loop_breaks(&mut self, l: &Task, parent: &str, u: usize, value: &str, block: Block) -> bool {
        let (Some(cond), Block::Done(state)) = (spec(l).and_then(|s| s.break_when.clone()), block) else {
            return false;
        };
        let Some(pos) = self.index.position(&self.exec.task_run_list, parent) else { return false };
        let Children::Tasks(tasks) = &l.children else { return false };
        let Some(first) = tasks.iter().find(|t| !t.disabled) else { return false };
        let Some(inside) = self.find(&first.id, Some(parent), Some(value)) else { return false };
        let declared = self.exec.task_run_list[pos]
            .outputs
            .as_ref()
            .and_then(|o| o.get("outputs"))
            .and_then(Value::as_array)
            .and_then(|a| a.iter().find(|e| iteration_of(e) == u))
            .and_then(|e| e.get("outputs").cloned())
            .unwrap_or_else(|| json!({}));
        let mut ctx = self.context(Some(inside));
        if let Value::Object(m) = &mut ctx {
            let iteration = json!({"executionId": self.exec.id, "state": state.as_str(), "outputs": declared});
            m.insert("iteration".into(), iteration);
        }
        match self.env.render(&cond, &ctx) {
            Ok(r) => super::truthy(&r),
            Err(e) => {
                self.fail(pos, format!("breakWhen of Loop '{}' after iteration {u}: {e}", l.id));
                true
            }
        }
    }

    /// The Loop at `idx` ended: its counters from its iterations' task runs.
    fn loop_ended(&mut self, task: &'a Task, idx: usize) {
        let Children::Tasks(tasks) = &task.children else { return };
        let (parent, values) = {
            let tr = &self.exec.task_run_list[idx];
            let values: Vec<String> = match tr.evaluated.as_deref() {
                Some(Value::Array(a)) => a.iter().map(scalar_string).collect(),
                Some(Value::Object(m)) => m.values().map(scalar_string).collect(),
                _ => Vec::new(),
            };
            (tr.id.clone(), values)
        };
        let mut terminated: Map<String, Value> = Map::new();
        for v in &values {
            let mut state: Option<StateType> = None;
            for t in tasks.iter().chain(&task.errors).chain(&task.finally) {
                if let Some(i) = self.find(&t.id, Some(&parent), Some(v)) {
                    let s = self.exec.task_run_list[i].state.current;
                    let s = if s.is_failed() { StateType::Failed } else { s };
                    state = Some(state.map_or(s, |w| super::worst(w, s)));
                }
            }
            // a failed iteration stays FAILED after its errors handlers
            if let Some(s) = state {
                let n = terminated.entry(s.as_str()).or_insert(json!(0));
                *n = json!(n.as_u64().unwrap_or(0) + 1);
            }
        }
        let ran: u64 = terminated.values().filter_map(Value::as_u64).sum();
        if spec(task).is_some_and(|s| s.break_when.is_some()) && (ran as usize) < values.len() {
            self.actions.push(super::Action::Log {
                task_run_id: Some(parent.clone()),
                task_id: Some(task.id.clone()),
                level: "INFO",
                message: format!("Loop stopped by breakWhen: {ran} of {} iterations ran", values.len()),
            });
        }
        let o = self.exec.task_run_list[idx].outputs.get_or_insert_with(Default::default);
        o.insert("iterationCount".into(), json!(values.len()));
        o.insert("runningIterations".into(), json!(0));
        o.insert("terminatedIterations".into(), Value::Object(terminated));
        self.mark(idx);
    }
}

fn iteration_of(e: &Value) -> usize {
    e.pointer("/item/iteration").and_then(Value::as_u64).unwrap_or(u64::MAX) as usize
}

/// A declared output's value as its `type` says (Kestra's typed outputs).
fn typed(kind: &str, v: Value) -> Result<Value, String> {
    let Value::String(s) = &v else { return Ok(v) };
    let bad = || format!("'{s}' is not a valid {kind}");
    match kind {
        "INT" => s.trim().parse::<i64>().map(|n| json!(n)).map_err(|_| bad()),
        "FLOAT" => s.trim().parse::<f64>().map(|n| json!(n)).map_err(|_| bad()),
        "BOOLEAN" | "BOOL" => s.trim().parse::<bool>().map(Value::Bool).map_err(|_| bad()),
        "JSON" | "ARRAY" => serde_json::from_str(s).map_err(|_| bad()),
        _ => Ok(v),
    }
}

/// The values of a Loop over a `kestra://` file: one per line, each line
/// parsed as JSON (Ion as Baton writes it) and given as a string.
pub(super) fn file_values(env: &dyn super::StepEnv, uri: &str, ctx: &Value) -> Result<Value, String> {
    let quoted = uri.replace('\\', "\\\\").replace('\'', "\\'");
    let text = env.render(&format!("{{{{ read('{quoted}') }}}}"), ctx).map_err(|e| e.to_string())?;
    let mut values = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        match serde_json::from_str::<Value>(line) {
            Ok(Value::Null) => return Err(format!("found a null value on line {} of {uri}", values.len() + 1)),
            Ok(Value::String(s)) => values.push(Value::String(s)),
            Ok(v) => values.push(Value::String(v.to_string())),
            Err(_) => values.push(Value::String(line.to_string())),
        }
        if values.len() > super::MAX_FOREACH_VALUES {
            break;
        }
    }
    Ok(Value::Array(values))
}
