//! The executor's walk over the flow: Kestra's rules for sequences,
//! `errors` and `finally` handlers, Parallel, If, Switch, ForEach and
//! Subflow, recomputed from the task runs that exist (never from the event
//! alone), so a replayed step decides the same thing.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::index::partly::Need;
use super::index::{ExecIndex, SeqMemo, seq_key};
use super::output_refs::{OutputRefs, output_refs};
use super::{Action, StepEnv, StepOptions, Transition, context, ids};
use baton_model::flow::{Children, scalar_string};
use baton_model::flowable::{self, Flowable, FlowableKind};
use baton_model::mask::mask_json;
use baton_model::wire::job_context::JobContext;
use baton_model::wire::messages::{JobTask, WorkerJob};
use baton_model::{Attempt, Execution, Flow, State, StateType, Task, TaskRun};

mod after;
pub(crate) mod concurrent;
mod dag;
mod exit;
pub(crate) mod for_each_item;
pub(super) mod loops;
pub(crate) mod pause;
mod sla;
mod task_runs;
mod wait_for;

/// The state of a block of tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Block {
    Running,
    /// SUCCESS, WARNING or FAILED.
    Done(StateType),
}

pub(crate) struct Stepper<'a> {
    flow: &'a Flow,
    exec: Execution,
    now: DateTime<Utc>,
    env: &'a dyn StepEnv,
    opts: StepOptions,
    /// Task runs by slot and id, and what is known done (kept between steps).
    index: ExecIndex,
    changed: Vec<String>,
    changed_set: HashSet<String>,
    execution_changed: bool,
    actions: Vec<Action>,
    /// A Pause's timer cancelled the execution (`behavior: CANCEL`).
    cancelled: bool,
    /// An Exit ends the execution in this state (and its task id).
    exited: Option<(StateType, String)>,
    /// Units (iterations, branches) this step started, against
    /// [`concurrent::UNITS_A_STEP`]; and whether one was held back for it.
    units_started: u32,
    held_back: bool,
    /// Units this step refused to start for [`concurrent::UNITS_A_STEP`].
    refused: u32,
    /// Task runs (and nested blocks) walked with a job out: a unit whose
    /// walk moved it has one ([`concurrent::JOB_WINDOW`]).
    jobs_out: u32,
    /// Jobs this step may still emit with their context as one tree
    /// ([`task_runs::TREES_A_STEP`]); the rest carry their own entries as
    /// JSON text beside the shared ones.
    trees_left: u32,
    /// The context entries this step's jobs share past the trees
    /// (`task_runs::shared_context`), with what of the execution they were
    /// built from that a step may change: its state, history and labels.
    shared_context: Option<SharedContext>,
    /// The concurrent block (its position) and unit being walked: a task
    /// run found or created in it as a direct child of the block is the
    /// unit's (`ExecIndex::note_unit`).
    unit_walked: Option<(u32, u32)>,
}

pub use baton_model::flowable::truthy;

/// The context entries a step's jobs share, and the execution's state,
/// history length and labels they were built with.
struct SharedContext {
    state: StateType,
    histories: usize,
    labels: Vec<baton_model::Label>,
    entries: Arc<Map<String, Value>>,
}

fn normalize(s: StateType) -> StateType {
    match s {
        StateType::Warning => StateType::Warning,
        s if s.is_failed() => StateType::Failed,
        _ => StateType::Success,
    }
}

fn worst(a: StateType, b: StateType) -> StateType {
    let rank = |s: StateType| match normalize(s) {
        StateType::Failed => 2,
        StateType::Warning => 1,
        _ => 0,
    };
    if rank(b) > rank(a) { normalize(b) } else { normalize(a) }
}

impl<'a> Stepper<'a> {
    pub(crate) fn new(
        flow: &'a Flow,
        exec: Execution,
        now: DateTime<Utc>,
        env: &'a dyn StepEnv,
        opts: StepOptions,
        mut index: ExecIndex,
    ) -> Stepper<'a> {
        index.sync(&exec);
        index.spread_dirty(&exec.task_run_list);
        Stepper {
            flow,
            exec,
            now,
            env,
            opts,
            index,
            changed: Vec::new(),
            changed_set: HashSet::new(),
            execution_changed: false,
            actions: Vec::new(),
            cancelled: false,
            exited: None,
            units_started: 0,
            held_back: false,
            refused: 0,
            jobs_out: 0,
            trees_left: task_runs::TREES_A_STEP,
            shared_context: None,
            unit_walked: None,
        }
    }

    pub(crate) fn finish(self) -> (Transition, ExecIndex) {
        let t = Transition {
            execution: self.exec,
            execution_changed: self.execution_changed,
            changed: self.changed,
            actions: self.actions,
        };
        (t, self.index)
    }

    pub(crate) fn run(&mut self) {
        if self.exec.state.is_terminal() {
            if self.exec.ending {
                self.after(false);
            }
            return;
        }
        let mut started = false;
        if matches!(self.exec.state.current, StateType::Created | StateType::Queued | StateType::Restarted) {
            self.exec.state.set(StateType::Running, self.now);
            self.execution_changed = true;
            started = true;
        }
        if self.check_sla(started || self.opts.redispatch_pending) {
            return;
        }
        let flow = self.flow;
        let block = self.handled_sequence(&flow.tasks, &flow.errors, &flow.finally, None, None);
        if let Some((state, task_id)) = self.exited.take() {
            return self.end_exited(state, &task_id);
        }
        match block {
            _ if self.cancelled => self.end(StateType::Cancelled),
            Block::Running => {
                if self.held_back {
                    // the units held back start at the next step, at once
                    self.actions.push(Action::WakeAt(self.now));
                }
                self.sync_paused()
            }
            Block::Done(s) => self.end(s),
        }
    }

    fn end(&mut self, mut state: StateType) {
        if !self.flow.outputs.is_empty() && state != StateType::Failed {
            match self.flow_outputs() {
                Ok(o) => self.exec.outputs = Some(o),
                Err(e) => {
                    self.exec.error = Some(e);
                    state = StateType::Failed;
                }
            }
        }
        if state == StateType::Failed && self.exec.error.is_none() {
            self.exec.error = self.first_error();
        }
        self.terminate(state);
    }

    fn first_error(&self) -> Option<String> {
        self.index.need_states(StateType::is_failed);
        self.exec
            .task_run_list
            .iter()
            .find(|t| t.state.current.is_failed() && t.error.is_some())
            .map(|t| format!("task '{}' failed: {}", t.task_id, t.error.clone().unwrap_or_default()))
    }

    /// The execution's SECRET inputs: the flow's, and those its launch
    /// found holding a secret (a subflow's inputs rendered from secrets).
    fn secret_inputs(&self) -> Vec<String> {
        let mut ids = self.flow.secret_inputs();
        for id in &self.exec.secret_inputs {
            if !ids.contains(id) {
                ids.push(id.clone());
            }
        }
        ids
    }

    fn flow_outputs(&self) -> Result<Map<String, Value>, String> {
        let ctx = self.context(None);
        let mut out = Map::new();
        for o in &self.flow.outputs {
            let id = o.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
            let v = o.get("value").cloned().unwrap_or(Value::Null);
            let rendered = self.env.render_value(&v, &ctx).map_err(|e| format!("flow output '{id}': {e}"))?;
            let rendered =
                mask_json(rendered, &baton_model::flow::secret_values_of(&self.secret_inputs(), &self.exec.inputs));
            out.insert(id, self.env.mask(rendered));
        }
        Ok(out)
    }

    // ------------------------------------------------------------ blocks --

    /// A sequence with its `errors` and `finally` handlers.
    fn handled_sequence(
        &mut self,
        tasks: &'a [Task],
        errors: &'a [Task],
        finally: &'a [Task],
        parent: Option<&str>,
        value: Option<&str>,
    ) -> Block {
        let main = self.sequence(tasks, parent, value);
        let after_errors = match main {
            Block::Running => return Block::Running,
            Block::Done(StateType::Failed) if !errors.is_empty() => match self.sequence(errors, parent, value) {
                Block::Running => return Block::Running,
                Block::Done(_) => StateType::Failed,
            },
            Block::Done(s) => s,
        };
        if finally.is_empty() {
            return Block::Done(after_errors);
        }
        match self.sequence(finally, parent, value) {
            Block::Running => Block::Running,
            Block::Done(f) => Block::Done(worst(after_errors, f)),
        }
    }

    /// Tasks one after the other; stops at the first failure. Starts after
    /// the tasks known done (their task runs are terminal and stay so).
    fn sequence(&mut self, tasks: &'a [Task], parent: Option<&str>, value: Option<&str>) -> Block {
        let key = seq_key(tasks, parent, value);
        let memo =
            key.and_then(|k| self.index.seqs.get(&k).copied()).filter(|m| self.memo_holds(m, tasks, parent, value));
        let mut state = memo.map_or(StateType::Success, |m| m.state);
        let mut known = memo;
        for (i, task) in tasks.iter().enumerate().skip(memo.map_or(0, |m| m.done as usize)) {
            if task.disabled {
                continue;
            }
            let (block, idx) = self.task(task, parent, value);
            match block {
                Block::Done(StateType::Failed) => return Block::Done(StateType::Failed),
                Block::Done(s) => {
                    state = worst(state, s);
                    known = Some(SeqMemo {
                        done: i as u32 + 1,
                        state,
                        last_task: i as u32,
                        last_run: idx as u32,
                        unit: self.unit_walked.is_some(),
                    });
                }
                Block::Running => {
                    self.remember(key, known, memo);
                    return Block::Running;
                }
            }
        }
        self.remember(key, known, memo);
        Block::Done(state)
    }

    fn remember(&mut self, key: Option<u64>, known: Option<SeqMemo>, before: Option<SeqMemo>) {
        if let (Some(key), Some(m)) = (key, known)
            && Some(m) != before
        {
            self.index.seqs.insert(key, m);
        }
    }

    /// Whether a sequence memo describes this sequence in this slot.
    fn memo_holds(&self, m: &SeqMemo, tasks: &[Task], parent: Option<&str>, value: Option<&str>) -> bool {
        if let Some(task) = tasks.get(m.last_task as usize)
            && self.index.unloaded(&self.exec.task_run_list, m.last_run as usize)
        {
            // kept with the execution: its task run is needed to check it
            // (the step is void then, whatever the memo says)
            self.index.need(Need::Slot {
                task_id: task.id.clone(),
                parent: parent.map(str::to_string),
                value: value.map(str::to_string),
            });
            return true;
        }
        let (Some(task), Some(tr)) =
            (tasks.get(m.last_task as usize), self.exec.task_run_list.get(m.last_run as usize))
        else {
            return false;
        };
        m.done as usize <= tasks.len()
            && tr.task_id == task.id
            && tr.parent_task_run_id.as_deref() == parent
            && tr.value.as_deref() == value
            && tr.state.is_terminal()
    }

    /// Finds or creates the task run of `task` in this slot, then advances
    /// it; says where it is.
    fn task(&mut self, task: &'a Task, parent: Option<&str>, value: Option<&str>) -> (Block, usize) {
        let idx = match self.find(&task.id, parent, value) {
            Some(i) => i,
            None => self.create(task, parent, value),
        };
        if let Some((at, u)) = self.unit_walked
            && parent.is_some_and(|p| self.exec.task_run_list[at as usize].id == p)
        {
            self.index.note_unit(idx, u);
        }
        (self.advance(task, idx), idx)
    }

    // -------------------------------------------------------- flowables --

    fn slot_of(&self, idx: usize) -> (String, Option<String>) {
        let tr = &self.exec.task_run_list[idx];
        (tr.id.clone(), tr.value.clone())
    }

    fn children(&mut self, task: &'a Task, idx: usize) -> Block {
        let (id, value) = self.slot_of(idx);
        let block = match &task.children {
            Children::Tasks(t) => self.sequence(t, Some(&id), value.as_deref()),
            _ => Block::Done(StateType::Success),
        };
        if task.flowable_kind() == Some(FlowableKind::WorkingDirectory)
            && matches!(block, Block::Done(s) if s != StateType::Failed)
        {
            self.working_directory_outputs(task, idx, &id, value.as_deref());
        }
        block
    }

    /// A WorkingDirectory's `outputFiles`, handed over by its last child's
    /// worker (`plugins::core::working_dir::OUTPUT_KEY`), become its output.
    fn working_directory_outputs(&mut self, task: &Task, idx: usize, id: &str, value: Option<&str>) {
        use baton_model::types::working_dir::OUTPUT_KEY;
        let Children::Tasks(children) = &task.children else { return };
        // its children by slot, in the order they ran (not a scan of the execution)
        let has_files =
            |i: &usize| self.exec.task_run_list[*i].outputs.as_ref().is_some_and(|o| o.contains_key(OUTPUT_KEY));
        let found: Vec<usize> = children.iter().filter_map(|c| self.find(&c.id, Some(id), value)).collect();
        let Some(child) = found.into_iter().find(has_files) else {
            return;
        };
        let files = self.exec.task_run_list[child].outputs.as_mut().and_then(|o| o.remove(OUTPUT_KEY));
        self.mark(child);
        if let Some(files) = files {
            self.exec.task_run_list[idx]
                .outputs
                .get_or_insert_with(Default::default)
                .insert("outputFiles".into(), files);
            self.mark(idx);
        }
    }

    fn parallel(&mut self, task: &'a Task, idx: usize, limit: usize) -> Block {
        let Children::Tasks(tasks) = &task.children else { return Block::Done(StateType::Success) };
        self.concurrent(concurrent::Body { tasks, looped: None }, idx, limit, None)
    }

    /// Renders a property of a flowable once, storing the result in `evaluated`.
    fn evaluate(
        &mut self,
        task: &Task,
        idx: usize,
        f: impl FnOnce(&Self, &Value) -> Result<Value, String>,
    ) -> Result<Arc<Value>, ()> {
        self.evaluate_shared(task, idx, |s, ctx| {
            f(s, ctx).map(|mut v| {
                // kept as long as the execution: without the slack of a list grown by doubling
                if let Value::Array(a) = &mut v {
                    a.shrink_to_fit();
                }
                Arc::new(v)
            })
        })
    }

    /// [`Self::evaluate`] of a rendering that may share what it read (a
    /// ForEach's literal values, held by the flow).
    fn evaluate_shared(
        &mut self,
        task: &Task,
        idx: usize,
        f: impl FnOnce(&Self, &Value) -> Result<Arc<Value>, String>,
    ) -> Result<Arc<Value>, ()> {
        if let Some(v) = &self.exec.task_run_list[idx].evaluated {
            return Ok(v.clone());
        }
        let ctx = self.task_context(task, idx);
        match f(self, &ctx) {
            Ok(v) => {
                self.exec.task_run_list[idx].evaluated = Some(v.clone());
                self.mark(idx);
                Ok(v)
            }
            Err(e) => {
                self.fail(idx, e);
                Err(())
            }
        }
    }

    fn if_(&mut self, task: &'a Task, idx: usize, spec: &flowable::If) -> Block {
        let cond = &spec.condition;
        let id = task.id.clone();
        let Ok(result) = self.evaluate(task, idx, |s, ctx| {
            s.env
                .render(cond, ctx)
                .map(|r| Value::Bool(truthy(&r)))
                .map_err(|e| format!("condition of task '{id}': {e}"))
        }) else {
            return Block::Done(StateType::Failed);
        };
        let result = result.as_bool().unwrap_or(false);
        if self.exec.task_run_list[idx].outputs.is_none() {
            self.exec.task_run_list[idx].outputs =
                Some(Box::new(Map::from_iter([("evaluationResult".into(), json!(result))])));
            self.mark(idx);
        }
        let (tr_id, value) = self.slot_of(idx);
        let Children::If { then, else_ } = &task.children else { return Block::Done(StateType::Success) };
        let branch = if result { then } else { else_ };
        self.sequence(branch, Some(&tr_id), value.as_deref())
    }

    fn switch(&mut self, task: &'a Task, idx: usize, spec: &flowable::Switch) -> Block {
        let expr = &spec.value;
        let id = task.id.clone();
        let Ok(v) = self.evaluate(task, idx, |s, ctx| {
            s.env.render(expr, ctx).map(Value::String).map_err(|e| format!("value of task '{id}': {e}"))
        }) else {
            return Block::Done(StateType::Failed);
        };
        let v = scalar_string(&v);
        let Children::Switch { cases, defaults } = &task.children else { return Block::Done(StateType::Success) };
        let branch = cases.iter().find(|(k, _)| *k == v).map(|(_, t)| t);
        if self.exec.task_run_list[idx].outputs.is_none() {
            self.exec.task_run_list[idx].outputs = Some(Box::new(Map::from_iter([
                ("value".into(), json!(v)),
                ("defaults".into(), json!(branch.is_none())),
            ])));
            self.mark(idx);
        }
        let (tr_id, value) = self.slot_of(idx);
        self.sequence(branch.unwrap_or(defaults), Some(&tr_id), value.as_deref())
    }

    fn for_each(&mut self, task: &'a Task, idx: usize, spec: &flowable::ForEach, limit: usize) -> Block {
        let Children::Tasks(tasks) = &task.children else { return Block::Done(StateType::Success) };
        let body = concurrent::Body { tasks, looped: None };
        if self.index.blocks.contains_key(&(idx as u32)) {
            // the values were evaluated and are known, unit by unit
            return self.concurrent(body, idx, limit, None);
        }
        let raw = spec.raw_values();
        let id = task.id.clone();
        let Ok(values) = self.evaluate_shared(task, idx, |s, ctx| for_each_values(s.env, &raw, ctx, &id, false)) else {
            return Block::Done(StateType::Failed);
        };
        let values: Vec<Box<str>> = match &*values {
            Value::Array(a) => a.iter().map(|v| scalar_string(v).into()).collect(),
            _ => Vec::new(),
        };
        self.concurrent(body, idx, limit, Some(values))
    }

    fn subflow(&mut self, task: &'a Task, idx: usize) -> Block {
        if self.exec.task_run_list[idx].evaluated.is_some() {
            return Block::Running;
        }
        let ctx = self.task_context(task, idx);
        // Kestra's (deprecated) `outputs` are rendered in the child execution when it ends
        let mut raw = task.props.clone();
        raw.shift_remove("outputs");
        let props = match self.env.render_value(&Value::Object(raw), &ctx) {
            Ok(Value::Object(p)) => p,
            Ok(_) => Map::new(),
            Err(e) => {
                self.fail(idx, format!("task '{}': {e}", task.id));
                return Block::Done(StateType::Failed);
            }
        };
        // the rendered properties, read as the declaration types them
        let flowable::Subflow { target, .. } = flowable::parse(&task.kind, &props)
            .and_then(|f| match f {
                Flowable::Subflow(s) => Some(s),
                _ => None,
            })
            .unwrap_or_default();
        let (Some(namespace), Some(flow_id)) = (target.namespace.clone(), target.flow_id.clone()) else {
            self.fail(idx, format!("task '{}': Subflow needs 'namespace' and 'flowId'", task.id));
            return Block::Done(StateType::Failed);
        };
        let wait = target.waits();
        let labels = target.labels();
        let revision = target.revision();
        let inputs = target.inputs.unwrap_or_default();
        let tr_id = self.exec.task_run_list[idx].id.clone();
        let child = ids::subflow_child_id(&self.exec.id, &tr_id);
        self.exec.task_run_list[idx].evaluated = Some(Arc::new(json!({"executionId": child})));
        self.exec.task_run_list[idx].outputs = Some(Box::new(Map::from_iter([("executionId".into(), json!(child))])));
        self.mark(idx);
        self.actions.push(Action::StartSubflow {
            task_run_id: tr_id,
            execution_id: child,
            namespace,
            flow_id,
            revision,
            inputs,
            labels,
            wait,
        });
        // one that does not wait ends when its child is stored (the runtime
        // launches it while deciding and tells the start, or why it failed,
        // as a `SubflowEnded`)
        Block::Running
    }
}

/// Values one ForEach or Loop may iterate over (Kestra has no bound;
/// a ForEach of 100,000 runs to its end locally; see the docs' performance page).
pub const MAX_FOREACH_VALUES: usize = 100_000;

/// ForEach `values`: a list (each item rendered) or a string rendering to a
/// JSON list. A `Loop` (`is_loop`) also takes a map, or a string rendering
/// to a JSON object (iterated in order, keys as `item.key`); a
/// `kestra://` URI (one iteration per line) is refused by name. At most
/// [`MAX_FOREACH_VALUES`]. A list with nothing to render is the flow's
/// own, shared.
fn for_each_values(
    env: &dyn StepEnv,
    raw: &Arc<Value>,
    ctx: &Value,
    task_id: &str,
    is_loop: bool,
) -> Result<Arc<Value>, String> {
    let err = |e: String| format!("values of task '{task_id}': {e}");
    let values = for_each_values_unbounded(env, raw, ctx, task_id, is_loop)?;
    // Kestra's ForEach (and the Each* tasks) fail on a null value, naming
    // how many (its `EachSequentialTest.eachNull`)
    if let Some(items) = values.as_array().filter(|_| !is_loop) {
        let nulls = items.iter().filter(|v| v.is_null()).count();
        if nulls > 0 {
            return Err(err(format!("Found '{nulls}' null values on Each, with values={values}")));
        }
    }
    let n = values.as_array().map(Vec::len).or_else(|| values.as_object().map(|m| m.len()));
    match n {
        Some(n) if n > MAX_FOREACH_VALUES => {
            Err(err(format!("{n} values, more than {MAX_FOREACH_VALUES} (MAX_FOREACH_VALUES)")))
        }
        _ => Ok(values),
    }
}

/// Whether rendering `v` could change it: a string in it (keys aside) is a
/// template.
fn has_template(v: &Value) -> bool {
    match v {
        Value::String(s) => baton_template::is_template(s),
        Value::Array(a) => a.iter().any(has_template),
        Value::Object(m) => m.values().any(has_template),
        _ => false,
    }
}

fn for_each_values_unbounded(
    env: &dyn StepEnv,
    raw: &Arc<Value>,
    ctx: &Value,
    task_id: &str,
    is_loop: bool,
) -> Result<Arc<Value>, String> {
    let err = |e: String| format!("values of task '{task_id}': {e}");
    let rendering = |e: baton_template::TemplateError| err(e.to_string());
    let shared = |mut v: Value| {
        // kept as long as the execution: without the slack of a list grown by doubling
        if let Value::Array(a) = &mut v {
            a.shrink_to_fit();
        }
        Arc::new(v)
    };
    let listed = raw.is_array() || (is_loop && raw.is_object());
    if listed && !has_template(raw) {
        // rendering would copy it unchanged
        return Ok(raw.clone());
    }
    match &**raw {
        Value::Array(_) | Value::Object(_) if listed => env.render_value(raw, ctx).map(shared).map_err(rendering),
        Value::String(s) => {
            let r = env.render(s, ctx).map_err(rendering)?;
            match serde_json::from_str::<Value>(&r) {
                Ok(v @ Value::Array(_)) => Ok(shared(v)),
                Ok(v @ Value::Object(_)) if is_loop => Ok(shared(v)),
                _ if is_loop && r.trim().starts_with("kestra://") => {
                    loops::file_values(env, r.trim(), ctx).map(shared).map_err(err)
                }
                _ if is_loop => Err(err(format!("must be a list, a map or a JSON array or object, got '{r}'"))),
                _ => Err(err(format!("must be a list or a JSON array, got '{r}'"))),
            }
        }
        Value::Null => Err(err("missing required property 'values'".into())),
        other => Err(err(format!("must be a list, got {other}"))),
    }
}
