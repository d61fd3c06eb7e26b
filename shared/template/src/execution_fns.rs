//! Kestra's functions about the execution and its files: `fileSize(path)`,
//! `fileExists(path)`, `isFileEmpty(path)` (a `kestra://` file this
//! execution may read), `fromIon(ion)` (the first value of an Ion text;
//! Baton reads the JSON subset of Ion, which is what its tasks write),
//! `errorLogs()` (the execution's ERROR log lines) and
//! `currentEachOutput(outputs.x)` (the outputs of `x` for the current
//! iteration of the enclosing ForEach loops), `loopOutputs(list, name)`
//! (one output of every Loop iteration). Host lookups go through the
//! bridge, so they are answered between render passes.

use minijinja::value::{Rest, Value, ValueKind};
use minijinja::{Environment, Error, State};

use super::bridge::{Bridge, Request};
use super::filters::{Args, err};
use super::json;

/// The size of the `kestra://` file `path` (checked against what this
/// execution may read), `None` while the host has not answered yet, and
/// `Some(None)` when there is no such file.
fn size_of(state: &State, args: &[Value], name: &str) -> Result<Option<Option<u64>>, Error> {
    let a = Args::new(args);
    let path = a.str(0, "path")?.ok_or_else(|| err(format!("The '{name}' function expects an argument 'path'.")))?;
    if !path.starts_with("kestra://") {
        return Err(err(format!("{name}: '{path}' is not an internal storage URI (kestra:///…)")));
    }
    let bridge = Bridge::of(state)?;
    let p = baton_model::storage::storage_path(&path).map_err(|e| err(e.to_string()))?;
    baton_model::storage::scope::check(&p, &bridge.namespace(), bridge.starter().as_ref())
        .map_err(|e| err(e.to_string()))?;
    match bridge.ask(Request::Size { namespace: bridge.namespace(), path }) {
        None => Ok(None),
        Some(Ok(v)) => Ok(Some(v.and_then(|n| n.as_u64()))),
        Some(Err(e)) => Err(err(e)),
    }
}

fn file_size(state: &State, args: Rest<Value>) -> Result<Value, Error> {
    match size_of(state, &args, "fileSize")? {
        None => Ok(Value::from(())),
        Some(Some(n)) => Ok(Value::from(n)),
        Some(None) => {
            Err(err(format!("fileSize: no file at {}", args.first().map(|v| v.to_string()).unwrap_or_default())))
        }
    }
}

fn file_exists(state: &State, args: Rest<Value>) -> Result<Value, Error> {
    Ok(match size_of(state, &args, "fileExists")? {
        None => Value::from(()),
        Some(n) => Value::from(n.is_some()),
    })
}

fn is_file_empty(state: &State, args: Rest<Value>) -> Result<Value, Error> {
    match size_of(state, &args, "isFileEmpty")? {
        None => Ok(Value::from(())),
        Some(Some(n)) => Ok(Value::from(n == 0)),
        Some(None) => {
            Err(err(format!("isFileEmpty: no file at {}", args.first().map(|v| v.to_string()).unwrap_or_default())))
        }
    }
}

fn from_ion(ion: Value) -> Result<Value, Error> {
    if ion.is_none() {
        return Ok(Value::from(()));
    }
    let s = ion.as_str().ok_or_else(|| err("The 'fromIon' function expects an argument 'ion' with type string."))?;
    let mut values = serde_json::Deserializer::from_str(s).into_iter::<serde_json::Value>();
    match values.next() {
        None => Ok(Value::from(())),
        Some(Ok(v)) => Ok(Value::from_serialize(v)),
        Some(Err(e)) => Err(err(format!("Invalid ion: {e} (Baton reads Ion written as JSON, as its tasks write it)"))),
    }
}

fn error_logs(state: &State) -> Result<Value, Error> {
    let bridge = Bridge::of(state)?;
    let id = bridge
        .ctx
        .get_attr("execution")
        .and_then(|e| e.get_attr("id"))
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .ok_or_else(|| err("errorLogs() needs an execution"))?;
    match bridge.ask(Request::ErrorLogs(id)) {
        None => Ok(Value::from(Vec::<Value>::new())),
        Some(Ok(v)) => Ok(v.map(Value::from_serialize).unwrap_or_default()),
        Some(Err(e)) => Err(err(e)),
    }
}

/// Kestra's `tasksWithState(state = 'FAILED')`: the execution's task runs
/// in that state, `[{taskId, state, value?}]` (read from the stored
/// execution: what the executor last saved).
fn tasks_with_state(state: &State, args: Rest<Value>) -> Result<Value, Error> {
    let a = Args::new(&args);
    let wanted = a.str(0, "state")?.unwrap_or_else(|| "FAILED".to_string()).to_uppercase();
    let bridge = Bridge::of(state)?;
    let id = bridge
        .ctx
        .get_attr("execution")
        .and_then(|e| e.get_attr("id"))
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .ok_or_else(|| err("tasksWithState() needs an execution"))?;
    match bridge.ask(Request::TasksWithState(id, wanted)) {
        None => Ok(Value::from(Vec::<Value>::new())),
        Some(Ok(v)) => Ok(v.map(Value::from_serialize).unwrap_or_default()),
        Some(Err(e)) => Err(err(e)),
    }
}

/// Kestra's `parentOutput(index)`: the outputs of the enclosing task
/// (`parent`), or of `parents` counted from the outermost (index 0), for
/// the current iteration when it has a value.
fn parent_output(state: &State, args: Rest<Value>) -> Result<Value, Error> {
    let a = Args::new(&args);
    let parent = match a.get(0, "index") {
        None => state.lookup("parent").filter(|p| !p.is_undefined() && !p.is_none()),
        Some(i) => {
            let index = i
                .as_i64()
                .filter(|_| i.is_integer())
                .ok_or_else(|| err("The 'parentOutput' function expects an argument 'index' of type integer."))?;
            let parents: Vec<Value> = match state.lookup("parents") {
                Some(p) if p.kind() == ValueKind::Seq => p.try_iter()?.collect(),
                _ => Vec::new(),
            };
            let at = usize::try_from(index)
                .ok()
                .filter(|i| *i < parents.len())
                .ok_or_else(|| err(format!("Invalid index: {index} for parents size: {}", parents.len())))?;
            // `parents` is innermost first; Kestra counts from the outermost
            Some(parents[parents.len() - 1 - at].clone())
        }
    };
    let Some(parent) = parent else { return Ok(Value::from(())) };
    let Some(id) = parent.get_attr("task").ok().and_then(|t| str_attr(&t, "id")) else { return Ok(Value::from(())) };
    let value = parent.get_attr("taskrun").ok().and_then(|t| str_attr(&t, "value"));
    let outputs = state.lookup("outputs").unwrap_or_default();
    let own = outputs.get_item(&Value::from(id.as_str())).unwrap_or_default();
    if own.is_undefined() || own.is_none() {
        return Ok(Value::from(()));
    }
    match value {
        Some(v) => Ok(own.get_item(&Value::from(v.as_str())).ok().filter(|x| !x.is_undefined()).unwrap_or_default()),
        None => Ok(own),
    }
}

/// Kestra's `iterationOutput(taskId, iteration)` inside an iterative task
/// (`taskrun.iteration`, a WaitFor/LoopUntil's children): the `value`
/// output of `taskId` (the current task by default) at iteration number
/// `iteration` (the previous one by default; Baton numbers iterations from
/// 1, as `taskrun.iteration` and `iterationCount` show them), read from the
/// stored task runs of the enclosing iterative task.
fn iteration_output(state: &State, args: Rest<Value>) -> Result<Value, Error> {
    let a = Args::new(&args);
    let current = state
        .lookup("taskrun")
        .and_then(|t| t.get_attr("iteration").ok())
        .filter(|i| !i.is_undefined() && !i.is_none())
        .and_then(|i| i.as_i64())
        .ok_or_else(|| err(" 'iterationOutputs()' function should be used inside iterative tasks only"))?;
    let task_id = match a.str(0, "taskId")? {
        Some(t) => t,
        None => state.lookup("task").and_then(|t| str_attr(&t, "id")).unwrap_or_default(),
    };
    let iteration = match a.get(1, "iteration") {
        None => current - 1,
        Some(v) => v.as_i64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok())).ok_or_else(|| {
            err(format!(
                "The 'iteration' argument for 'iterationOutputs' must be an integer, but got: {}",
                json::to_text(&v)
            ))
        })?,
    };
    if iteration < 0 {
        return Err(err(format!("Cannot fetch iteration {iteration}: no previous iteration exists.")));
    }
    // the iterative task run these iterations run under (the enclosing one)
    let parent_run_id = state
        .lookup("parent")
        .and_then(|p| p.get_attr("taskrun").ok())
        .and_then(|t| str_attr(&t, "id"))
        .ok_or_else(|| err(" 'iterationOutputs()' function should be used inside iterative tasks only"))?;
    let bridge = Bridge::of(state)?;
    let execution_id = bridge
        .ctx
        .get_attr("execution")
        .and_then(|e| e.get_attr("id"))
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .ok_or_else(|| err("iterationOutput() needs an execution"))?;
    let req = Request::IterationOutput { execution_id, parent_run_id, task_id: task_id.clone(), iteration };
    match bridge.ask(req) {
        None => Ok(Value::from(())),
        Some(Ok(Some(v))) => Ok(Value::from_serialize(v)),
        Some(Ok(None)) => Err(err(format!(
            "The provided index ({iteration}) is out of range. It refers to an iteration whose outputs do not exist \
             yet (task '{task_id}', iteration {iteration}; Baton numbers iterations from 1, as `taskrun.iteration` \
             shows them)."
        ))),
        Some(Err(e)) => Err(err(e)),
    }
}

/// The value of `v`'s string attribute `key`, if set.
fn str_attr(v: &Value, key: &str) -> Option<String> {
    v.get_attr(key).ok().filter(|x| !x.is_undefined() && !x.is_none()).map(|x| match x.as_str() {
        Some(s) => s.to_string(),
        None => x.to_string(),
    })
}

fn current_each_output(state: &State, outputs: Value) -> Result<Value, Error> {
    if outputs.is_undefined() || outputs.is_none() {
        return Ok(outputs);
    }
    // iteration values: the enclosing task runs' (outermost first), then this one's
    let mut path = Vec::new();
    if let Some(parents) = state.lookup("parents").filter(|p| p.kind() == ValueKind::Seq) {
        let list: Vec<Value> = parents.try_iter()?.collect();
        for p in list.iter().rev() {
            if let Some(v) = p.get_attr("taskrun").ok().and_then(|t| str_attr(&t, "value")) {
                path.push(v);
            }
        }
    }
    if let Some(v) = state.lookup("taskrun").and_then(|t| str_attr(&t, "value")) {
        path.push(v);
    }
    let mut cur = outputs;
    for v in path {
        let next = cur.get_item(&Value::from(v.as_str())).unwrap_or_default();
        if next.is_undefined() {
            return Ok(Value::UNDEFINED);
        }
        cur = next;
    }
    Ok(cur)
}

/// Kestra 2.0's `loopOutputs(outputs, name)`: the output `name` of each
/// iteration in a Loop's `outputs` list (null where an iteration lacks it).
fn loop_outputs(outputs: Value, name: Value) -> Result<Value, Error> {
    if outputs.is_undefined() || outputs.is_none() {
        return Err(err("The 'loopOutputs' function expects a non-null argument 'outputs'."));
    }
    if outputs.kind() != ValueKind::Seq {
        return Err(err("The 'loopOutputs' function expects 'outputs' to be a list."));
    }
    if name.is_undefined() || name.is_none() {
        return Err(err("The 'loopOutputs' function expects a non-null argument 'name'."));
    }
    let Some(name) = name.as_str() else {
        return Err(err("The 'loopOutputs' function expects 'name' to be a string."));
    };
    let mut out = Vec::new();
    for entry in outputs.try_iter()? {
        let v = entry.get_attr("outputs").ok().and_then(|o| o.get_attr(name).ok());
        out.push(v.filter(|v| !v.is_undefined()).unwrap_or_else(|| Value::from(())));
    }
    Ok(Value::from(out))
}

/// Registers the functions.
pub fn register(env: &mut Environment<'static>) {
    env.add_function("loopOutputs", loop_outputs);
    env.add_function("fileSize", file_size);
    env.add_function("fileExists", file_exists);
    env.add_function("isFileEmpty", is_file_empty);
    env.add_function("fromIon", from_ion);
    env.add_function("errorLogs", error_logs);
    env.add_function("currentEachOutput", current_each_output);
    env.add_function("tasksWithState", tasks_with_state);
    env.add_function("parentOutput", parent_output);
    env.add_function("iterationOutput", iteration_output);
}
