//! The template context of an execution or a task run, as Kestra exposes
//! it: `flow`, `execution`, `inputs`, `vars`, `outputs` (per-iteration
//! outputs of ForEach children keyed by value), `labels`, `trigger`,
//! `taskrun`, `parent`, `parents`, `task`, and in a Loop `item`.
//!
//! A Loop iteration is isolated, as Kestra 2.0 runs each in its own
//! sub-execution: a task inside it sees the outputs of its own iteration
//! (unkeyed) and of what encloses it, never another iteration's; after the
//! loop only the Loop's own outputs are visible.

use serde_json::{Map, Value, json};

use baton_model::flowable::{Flowable, FlowableKind};
use baton_model::{Execution, Flow, Task, TaskRun};

/// Context key of the task run id of the `WorkingDirectory` enclosing a
/// task (absent outside one): the worker gives all its tasks one folder.
pub const WORKING_DIRECTORY_ID: &str = "workingDirectoryTaskRunId";

/// One variable of the context: its name, a line, and its fields (the
/// keys [`build`] sets under it; empty when they are the flow's own, as
/// `inputs.<id>` or `outputs.<taskId>`).
#[derive(Debug, Clone, Copy)]
pub struct ContextVar {
    pub name: &'static str,
    pub doc: &'static str,
    pub fields: &'static [&'static str],
}

const fn var(name: &'static str, doc: &'static str, fields: &'static [&'static str]) -> ContextVar {
    ContextVar { name, doc, fields }
}

/// The variables a template sees: what [`build`] sets, and `envs` (the
/// runtime's `ENV_*` variables). The flow editor completes `{{ … }}` from
/// them (the flow schema's `$expressions`); a test checks [`build`] sets
/// no other.
pub const ROOTS: &[ContextVar] = &[
    var("inputs", "The execution's inputs, by input id.", &[]),
    var("outputs", "The outputs of the tasks that ran, by task id (inside a ForEach, by value).", &[]),
    var("vars", "The flow's variables.", &[]),
    var("taskrun", "The current task run.", &["id", "value", "attemptsCount", "parentId", "startDate", "iteration"]),
    var("task", "The current task.", &["id", "type"]),
    var("parent", "The enclosing flowable's task run (inside one).", &["taskrun", "task"]),
    var("parents", "The enclosing flowables' task runs, innermost first.", &[]),
    var("item", "The current Loop iteration.", &["value", "index", "key", "parent", "parents"]),
    var("execution", "The execution.", &["id", "originalId", "startDate", "state", "parentId"]),
    var("flow", "The flow.", &["id", "namespace", "revision"]),
    var("labels", "The execution's labels.", &[]),
    var("trigger", "The variables of the trigger that started the execution (empty when started by hand).", &[]),
    var("envs", "The environment variables named ENV_* (as Kestra), lower-cased, without the prefix.", &[]),
];

/// Finds a task run of the execution by id.
pub type Runs<'e> = dyn Fn(&str) -> Option<&'e TaskRun> + 'e;

/// The task runs of `exec` by id, built once (O(n)) for a rendering outside
/// the executor's step, which has its own index: a lookup per task run
/// through it keeps [`build`] O(n) where a scan of the list would make it
/// O(n²). A repeated id maps to its last task run, as
/// [`Execution::task_run`].
pub fn runs_by_id(exec: &Execution) -> std::collections::HashMap<&str, &TaskRun> {
    exec.task_run_list.iter().map(|t| (t.id.as_str(), t)).collect()
}

/// Builds the context for rendering in `task_run` (or at execution level);
/// `task_runs` finds the task runs of `exec` by id.
pub fn build<'e>(
    flow: &Flow,
    exec: &'e Execution,
    task_run: Option<&TaskRun>,
    task_runs: &Runs<'e>,
    with_outputs: bool,
) -> Value {
    let all = |_: &str| true;
    build_reading(flow, exec, task_run, task_runs, with_outputs.then_some(&all))
}

/// [`build`] with the outputs of the tasks `reads` accepts (none: no
/// `outputs` at all).
pub fn build_reading<'e>(
    flow: &Flow,
    exec: &'e Execution,
    task_run: Option<&TaskRun>,
    task_runs: &Runs<'e>,
    reads: Option<&dyn Fn(&str) -> bool>,
) -> Value {
    let mut ctx = shared_entries(flow, exec);
    own_entries(&mut ctx, flow, exec, task_run, task_runs, reads);
    Value::Object(ctx)
}

/// [`build_reading`] without the entries [`shared_entries`] makes: what a
/// job carries beside the ones its step's jobs share
/// (`baton_model::wire::JobContext::Parts`).
pub fn build_own<'e>(
    flow: &Flow,
    exec: &'e Execution,
    task_run: Option<&TaskRun>,
    task_runs: &Runs<'e>,
    reads: Option<&dyn Fn(&str) -> bool>,
) -> Value {
    let mut ctx = Map::new();
    own_entries(&mut ctx, flow, exec, task_run, task_runs, reads);
    Value::Object(ctx)
}

/// The entries of a context that come from the execution alone, in order
/// (`baton_model::wire::SHARED_KEYS`).
pub fn shared_entries(flow: &Flow, exec: &Execution) -> Map<String, Value> {
    let mut ctx = Map::new();
    ctx.insert("flow".into(), json!({"id": flow.id, "namespace": flow.namespace, "revision": exec.flow_revision}));
    let mut execution = json!({
        "id": exec.id,
        "originalId": exec.original_id,
        "startDate": exec.state.start_date().map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        "state": exec.state.current.as_str(),
    });
    if let Some(p) = &exec.parent_id {
        execution["parentId"] = Value::String(p.clone());
    }
    ctx.insert("execution".into(), execution);
    ctx.insert("inputs".into(), Value::Object(exec.inputs.clone()));
    ctx.insert("vars".into(), Value::Object(exec.variables_or(&flow.variables).clone()));
    ctx.insert("labels".into(), Value::Object(exec.labels_map()));
    let trigger = match &exec.trigger {
        Some(t) => {
            let mut m = t.variables.clone();
            m.entry("id").or_insert_with(|| Value::String(t.id.clone()));
            m.entry("type").or_insert_with(|| Value::String(t.type_.clone()));
            Value::Object(m)
        }
        None => Value::Object(Map::new()),
    };
    ctx.insert("trigger".into(), trigger);
    ctx
}

/// The entries of a context that depend on the task run: `outputs`,
/// `taskrun`, `task`, `parent(s)`, `item`.
fn own_entries<'e>(
    ctx: &mut Map<String, Value>,
    flow: &Flow,
    exec: &'e Execution,
    task_run: Option<&TaskRun>,
    task_runs: &Runs<'e>,
    reads: Option<&dyn Fn(&str) -> bool>,
) {
    let scope = task_run.map(|tr| loop_scope(tr, flow, task_runs)).unwrap_or_default();
    let outputs = match reads {
        Some(reads) => outputs_reading(flow, exec, task_runs, &scope, reads),
        None => Map::new(),
    };
    ctx.insert("outputs".into(), Value::Object(outputs));
    if let Some(tr) = task_run {
        // a WaitFor's children: their slot's value is the iteration number
        let wait_for = tr
            .parent_task_run_id
            .as_deref()
            .and_then(task_runs)
            .filter(|p| flow.find_task(&p.task_id).and_then(Task::flowable_kind) == Some(FlowableKind::WaitFor));
        let value = wait_for.map_or(tr.value.as_ref(), |p| p.value.as_ref());
        ctx.insert(
            "taskrun".into(),
            json!({
                "id": tr.id,
                "value": value,
                // Kestra counts the attempts before this one (0 on the
                // first; its RetryCaseTest/RestartCaseTest rely on it)
                "attemptsCount": tr.attempts.len().saturating_sub(1),
                "parentId": tr.parent_task_run_id,
                "startDate": tr.state.start_date().map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
            }),
        );
        if let (Some(_), Some(n)) = (wait_for, tr.value.as_deref().and_then(|v| v.parse::<u64>().ok())) {
            ctx["taskrun"]["iteration"] = json!(n);
        }
        if let Some(t) = flow.find_task(&tr.task_id) {
            ctx.insert("task".into(), json!({"id": t.id, "type": t.type_}));
        }
        let mut parents = Vec::new();
        let mut items = Vec::new();
        let mut cur = tr.parent_task_run_id.as_deref();
        let mut node = tr;
        while let Some(pid) = cur {
            let Some(p) = task_runs(pid) else { break };
            // the enclosing Loop iterations, innermost first: `item`, `item.parents`
            if is_loop(flow, p) {
                items.push(loop_item(p, node.value.as_deref()));
            }
            node = p;
            // the innermost enclosing WorkingDirectory: its tasks share one folder
            let is_wd =
                flow.find_task(&p.task_id).and_then(Task::flowable_kind) == Some(FlowableKind::WorkingDirectory);
            if is_wd && !ctx.contains_key(WORKING_DIRECTORY_ID) {
                ctx.insert(WORKING_DIRECTORY_ID.into(), Value::String(p.id.clone()));
                // its own files, done around its first and last child (plugins::core::working_dir)
                if tr.parent_task_run_id.as_deref() == Some(p.id.as_str())
                    && let Some(spec) = working_directory_files(flow, p, &tr.task_id)
                {
                    ctx.insert(baton_model::types::working_dir::CONTEXT_KEY.into(), spec);
                }
            }
            parents.push(json!({"taskrun": {"value": p.value, "id": p.id}, "task": {"id": p.task_id}}));
            cur = p.parent_task_run_id.as_deref();
        }
        if let Some(first) = parents.first() {
            ctx.insert("parent".into(), first.clone());
        }
        ctx.insert("parents".into(), Value::Array(parents));
        if !items.is_empty() {
            let mut item = items.remove(0);
            if let Some(p) = items.first() {
                item["parent"] = p.clone();
            }
            item["parents"] = Value::Array(items);
            ctx.insert("item".into(), item);
        }
    }
}

/// A WorkingDirectory's `cache`, `namespaceFiles`, `inputFiles` and
/// `outputFiles` as written, for its direct child `child_id`, with whether
/// that child is its first or last (enabled) task; None when it has none.
fn working_directory_files(flow: &Flow, wd_run: &TaskRun, child_id: &str) -> Option<Value> {
    let wd = flow.find_task(&wd_run.task_id)?;
    let Some(Flowable::WorkingDirectory(written)) = &wd.flowable else { return None };
    let mut spec = written.files_spec();
    if spec.is_empty() {
        return None;
    }
    let baton_model::flow::Children::Tasks(children) = &wd.children else { return None };
    let mut enabled = children.iter().filter(|t| !t.disabled);
    let first = enabled.next().map(|t| t.id.as_str());
    let last = enabled.next_back().map(|t| t.id.as_str()).or(first);
    spec.insert("taskId".into(), json!(wd.id));
    spec.insert("value".into(), json!(wd_run.value));
    spec.insert("first".into(), json!(first == Some(child_id)));
    spec.insert("last".into(), json!(last == Some(child_id)));
    Some(Value::Object(spec))
}

fn is_loop(flow: &Flow, tr: &TaskRun) -> bool {
    flow.find_task(&tr.task_id).is_some_and(|t| matches!(t.flowable, Some(Flowable::Loop(_))))
}

/// The Loop iterations enclosing a task run, outermost first, each as
/// (the Loop's task run id, the iteration's value).
pub type LoopScope = Vec<(String, String)>;

/// The Loop iterations enclosing `tr` (see [`LoopScope`]).
pub fn loop_scope<'t, 'e: 't>(tr: &'t TaskRun, flow: &Flow, task_runs: &Runs<'e>) -> LoopScope {
    let mut scope = Vec::new();
    let mut node = tr;
    while let Some(pid) = node.parent_task_run_id.as_deref() {
        let Some(parent) = task_runs(pid) else { break };
        if is_loop(flow, parent) {
            scope.push((parent.id.clone(), node.value.clone().unwrap_or_default()));
        }
        node = parent;
    }
    scope.reverse();
    scope
}

/// `item` of a Loop iteration: `value` (a string, as Kestra: objects as
/// JSON), `index` (0-based, the first iteration with that value) and, over
/// a map, `key`.
fn loop_item(loop_run: &TaskRun, value: Option<&str>) -> Value {
    let value = value.unwrap_or_default();
    let same = |v: &Value| baton_model::flow::scalar_string(v) == value;
    let (index, key) = match loop_run.evaluated.as_deref() {
        Some(Value::Array(a)) => (a.iter().position(same), None),
        Some(Value::Object(m)) => match m.iter().position(|(_, v)| same(v)) {
            Some(i) => (Some(i), m.keys().nth(i).cloned()),
            None => (None, None),
        },
        _ => (None, None),
    };
    let mut item = json!({"value": value, "index": index});
    if let Some(k) = key {
        item["key"] = Value::String(k);
    }
    item
}

/// The iteration values of the ForEach loops enclosing a task run (below
/// its innermost Loop, whose iterations are not keyed), outermost first,
/// and the Loop iterations enclosing it.
fn iteration_path<'e>(tr: &'e TaskRun, flow: &Flow, task_runs: &Runs<'e>) -> (Vec<String>, LoopScope) {
    let mut values = Vec::new();
    let mut scope = Vec::new();
    let mut node = tr;
    while let Some(pid) = node.parent_task_run_id.as_deref() {
        let Some(parent) = task_runs(pid) else { break };
        if is_loop(flow, parent) {
            scope.push((parent.id.clone(), node.value.clone().unwrap_or_default()));
        } else if scope.is_empty()
            && flow.find_task(&parent.task_id).and_then(Task::flowable_kind) == Some(FlowableKind::ForEach)
            && let Some(v) = &node.value
        {
            values.push(v.clone());
        }
        node = parent;
    }
    values.reverse();
    scope.reverse();
    (values, scope)
}

/// `outputs` at execution level (flow outputs, listeners): the task runs
/// outside any Loop iteration.
pub fn outputs<'e>(flow: &Flow, exec: &'e Execution, task_runs: &Runs<'e>) -> Map<String, Value> {
    outputs_in(flow, exec, task_runs, &[])
}

/// `outputs` as seen from inside the Loop iterations `scope`:
/// `{taskId: outputs}`, or `{taskId: {value: outputs}}` inside ForEach;
/// the task runs of other iterations are not visible.
pub fn outputs_in<'e>(
    flow: &Flow,
    exec: &'e Execution,
    task_runs: &Runs<'e>,
    scope: &[(String, String)],
) -> Map<String, Value> {
    outputs_reading(flow, exec, task_runs, scope, &|_| true)
}

/// [`outputs_in`] for the tasks `reads` accepts.
fn outputs_reading<'e>(
    flow: &Flow,
    exec: &'e Execution,
    task_runs: &Runs<'e>,
    scope: &[(String, String)],
    reads: &dyn Fn(&str) -> bool,
) -> Map<String, Value> {
    let mut out = Map::new();
    for tr in &exec.task_run_list {
        let Some(o) = &tr.outputs else { continue };
        if !reads(&tr.task_id) {
            continue;
        }
        let (path, own) = iteration_path(tr, flow, task_runs);
        if !scope.starts_with(&own) {
            continue;
        }
        let mut slot: &mut Value = out.entry(tr.task_id.clone()).or_insert_with(|| Value::Object(Map::new()));
        for v in &path {
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            slot = match slot {
                Value::Object(m) => m.entry(v.clone()).or_insert_with(|| Value::Object(Map::new())),
                other => other,
            };
        }
        if let Value::Object(m) = slot {
            for (k, v) in o.iter() {
                m.insert(k.clone(), v.clone());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use serde_json::json;

    use super::*;

    fn run(id: &str, task: &str, parent: Option<&str>, value: Option<String>, out: Option<Value>) -> TaskRun {
        serde_json::from_value(json!({
            "id": id, "executionId": "e", "namespace": "n", "flowId": "f", "taskId": task,
            "parentTaskRunId": parent, "value": value, "outputs": out,
            "state": {"current": "SUCCESS", "histories": []}
        }))
        .expect("task run")
    }

    /// A flow with a ForEach `each` around a Return `ret`, and an
    /// execution holding the ForEach's task run `p`.
    fn for_each() -> (Flow, Execution) {
        let yaml = "id: f\nnamespace: n\ntasks:\n  - id: each\n    type: io.kestra.plugin.core.flow.ForEach\n    values: [1]\n    tasks:\n      - id: ret\n        type: io.kestra.plugin.core.debug.Return\n        format: x\n";
        let (v, _) = baton_model::yaml::parse(yaml).expect("yaml");
        let flow = Flow::from_value(&v, yaml).0.expect("flow");
        let mut exec = Execution::new("e".into(), "n", "f", 1, Map::new(), vec![], chrono::Utc::now());
        exec.task_run_list.push(run("p", "each", None, None, None));
        (flow, exec)
    }

    /// A child execution of 5,000 task runs, all inside one ForEach: every
    /// one looks its parent up, so a scan of the list per lookup would
    /// make this quadratic (12.5 million comparisons).
    #[test]
    fn outputs_of_a_large_execution_are_built_through_the_index() {
        let (flow, mut exec) = for_each();
        for i in 0..5_000 {
            let out = json!({"value": i});
            exec.task_run_list.push(run(&format!("r{i}"), "ret", Some("p"), Some(i.to_string()), Some(out)));
        }
        let started = Instant::now();
        let by_id = runs_by_id(&exec);
        let ctx = build(&flow, &exec, None, &|id| by_id.get(id).copied(), true);
        let elapsed = started.elapsed();
        let ret = ctx["outputs"]["ret"].as_object().expect("outputs.ret keyed by value");
        assert_eq!(ret.len(), 5_000);
        assert_eq!(ret["4999"]["value"], json!(4999));
        // generous: the linear build takes milliseconds even unoptimised
        assert!(elapsed < Duration::from_secs(5), "building the context took {elapsed:?}");
    }

    /// What `ROOTS` declares (and the editor offers) is what `build` sets.
    #[test]
    fn the_declared_roots_are_the_context_built() {
        let (flow, mut exec) = for_each();
        exec.task_run_list.push(run("r", "ret", Some("p"), Some("1".into()), None));
        let by_id = runs_by_id(&exec);
        let tr = exec.task_run_list[1].clone();
        let ctx = build(&flow, &exec, Some(&tr), &|id| by_id.get(id).copied(), true);
        let root = |n: &str| ROOTS.iter().find(|r| r.name == n);
        for (k, v) in ctx.as_object().expect("a map") {
            let Some(r) = root(k) else { panic!("context key '{k}' is not declared in ROOTS") };
            if !r.fields.is_empty()
                && let Some(m) = v.as_object()
            {
                for f in m.keys() {
                    assert!(r.fields.contains(&f.as_str()), "{k}.{f} is not declared in ROOTS");
                }
            }
        }
        for n in [
            "inputs",
            "outputs",
            "vars",
            "taskrun",
            "task",
            "parent",
            "parents",
            "execution",
            "flow",
            "labels",
            "trigger",
        ] {
            assert!(ctx.get(n).is_some(), "ROOTS declares '{n}', which build does not set");
        }
    }
}
