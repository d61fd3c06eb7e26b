//! The per-render bridge to the `TemplateHost`. minijinja functions are
//! `'static`, but the host is only borrowed for one render, so functions
//! never call it directly: they read answers from the bridge (a hidden
//! context entry) and, on a miss, record a request and return a
//! placeholder. The renderer then asks the host and renders again. Answers
//! are cached for the whole `render_*` call; no global state.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use minijinja::value::{Object, Value};
use minijinja::{Error, ErrorKind, State};

use super::TemplateHost;

/// Name of the hidden context entry holding the bridge.
pub const HIDDEN: &str = "__baton_rt";

/// Something only the host can answer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Request {
    /// `kv(key, namespace)`; `walk` tries parent namespaces too.
    Kv { namespace: String, key: String, walk: bool },
    /// `secret(key)`.
    Secret(String),
    /// `read(path)`, or one revision of a namespace file (`revision=`/`version=`).
    Read { namespace: String, path: String, revision: Option<u32> },
    /// `fileSize(path)`, `fileExists(path)`, `isFileEmpty(path)`: the size
    /// of an internal-storage file, `None` when there is none.
    Size { namespace: String, path: String },
    /// `errorLogs()`: the ERROR lines of an execution.
    ErrorLogs(String),
    /// `tasksWithState(state)`: `(execution id, STATE)`.
    TasksWithState(String, String),
    /// `iterationOutput(taskId, iteration)`: the `value` output of `task_id`'s
    /// run under the iterative task run `parent_run_id` at `iteration`.
    IterationOutput { execution_id: String, parent_run_id: String, task_id: String, iteration: i64 },
    /// `subflow(namespace, id, inputs, revision, labels, timeout)` (Kestra
    /// 2.0): run a flow to its end and answer its id, state, outputs and labels.
    Subflow(SubflowCall),
}

/// One `subflow()` call, as the host runs it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SubflowCall {
    /// The flow calling it (`flow.namespace`, `flow.id`).
    pub caller_namespace: String,
    pub caller_id: String,
    pub namespace: String,
    pub id: String,
    /// The inputs, as a JSON object's text (a request is a map key).
    pub inputs: String,
    pub revision: Option<u32>,
    /// The labels, `(key, value)` in order, `system.from: subflow` not included.
    pub labels: Vec<(String, String)>,
    /// How long to wait for the end, in milliseconds.
    pub timeout_ms: u64,
}

/// The host's answer: `Ok(None)` for a missing KV key.
pub type Answer = Result<Option<serde_json::Value>, String>;

/// Per-render state shared by the template functions.
#[derive(Debug)]
pub struct Bridge {
    /// The user context (without the bridge), for `render()` and defaults.
    pub ctx: Value,
    answers: Mutex<HashMap<Request, Answer>>,
    pending: Mutex<Vec<Request>>,
    typed: Mutex<Option<Value>>,
    /// How many `render()` calls are open right now (nesting).
    depth: AtomicUsize,
    /// How many `render()` calls this render made in all (fan-out).
    renders: AtomicUsize,
    /// Fuel (template operations) the nested renders used in all.
    fuel: AtomicU64,
    /// Bytes every `{{ }}` of this pass emitted, captured or not.
    emitted: AtomicUsize,
}

/// Bounds on the work one top-level render may do through `render()`.
pub mod limits {
    /// How deep `render()` calls may nest.
    pub const MAX_NESTING: usize = 8;
    /// How many `render()` calls one render may make in all.
    pub const MAX_RENDERS: usize = 1_000;
    /// Operations one template evaluation may execute (minijinja fuel).
    pub const FUEL: u64 = 20_000_000;
}

/// Releases one nesting level when a nested render ends.
pub struct NestGuard<'a>(&'a Bridge);

impl Drop for NestGuard<'_> {
    fn drop(&mut self) {
        self.0.depth.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Object for Bridge {}

impl Bridge {
    /// A bridge for one `render_*` call.
    pub fn new(ctx: Value) -> Bridge {
        Bridge {
            ctx,
            answers: Mutex::default(),
            pending: Mutex::default(),
            typed: Mutex::default(),
            depth: AtomicUsize::new(0),
            renders: AtomicUsize::new(0),
            fuel: AtomicU64::new(0),
            emitted: AtomicUsize::new(0),
        }
    }

    /// The render context: the user context plus the hidden bridge entry.
    pub fn context(bridge: &Value, ctx: &Value) -> Value {
        minijinja::context! { __baton_rt => bridge.clone(), ..ctx.clone() }
    }

    /// Finds the bridge of the current render.
    pub fn of(state: &State) -> Result<Arc<Bridge>, Error> {
        state
            .lookup(HIDDEN)
            .and_then(|v| v.downcast_object::<Bridge>())
            .ok_or_else(|| Error::new(ErrorKind::InvalidOperation, "template services are not available here"))
    }

    /// The cached answer, or `None` after recording the request.
    pub fn ask(&self, req: Request) -> Option<Answer> {
        if let Some(a) = self.answers.lock().ok()?.get(&req) {
            return Some(a.clone());
        }
        if let Ok(mut p) = self.pending.lock()
            && !p.contains(&req)
        {
            p.push(req);
        }
        None
    }

    /// Answers every recorded request with `host`. Returns false if there was none.
    pub fn resolve(&self, host: &dyn TemplateHost) -> bool {
        let pending: Vec<Request> = self.pending.lock().map(|mut p| std::mem::take(&mut *p)).unwrap_or_default();
        if pending.is_empty() {
            return false;
        }
        for req in pending {
            let answer = answer(&req, host);
            if let Ok(mut a) = self.answers.lock() {
                a.insert(req, answer);
            }
        }
        true
    }

    /// Enters one nested `render()`, or says which bound it would break.
    pub fn enter_render(&self) -> Result<NestGuard<'_>, String> {
        let depth = self.depth.fetch_add(1, Ordering::SeqCst) + 1;
        let guard = NestGuard(self);
        if depth > limits::MAX_NESTING {
            return Err(format!(
                "render() nested more than {} levels deep (does a variable render itself?)",
                limits::MAX_NESTING
            ));
        }
        if self.renders.fetch_add(1, Ordering::SeqCst) + 1 > limits::MAX_RENDERS {
            return Err(format!("render() called more than {} times in one template", limits::MAX_RENDERS));
        }
        if self.fuel.load(Ordering::SeqCst) > limits::FUEL {
            return Err(format!("render() calls used more than {} template operations", limits::FUEL));
        }
        Ok(guard)
    }

    /// Starts one pass of a render (a pass repeated for host lookups
    /// counts its output afresh).
    pub fn start_pass(&self) {
        self.emitted.store(0, Ordering::SeqCst);
    }

    /// Counts `len` bytes emitted by a `{{ }}`; fails past the output bound.
    pub fn emit(&self, len: usize) -> Result<(), Error> {
        let total = self.emitted.fetch_add(len, Ordering::SeqCst).saturating_add(len);
        super::size::check(total, "the template")
    }

    /// Counts the operations a nested render used.
    pub fn spend_fuel(&self, used: u64) {
        self.fuel.fetch_add(used, Ordering::SeqCst);
    }

    /// Stores the value of a typed expression.
    pub fn set_typed(&self, v: Value) {
        if let Ok(mut t) = self.typed.lock() {
            *t = Some(v);
        }
    }

    /// Takes the value of a typed expression.
    pub fn take_typed(&self) -> Option<Value> {
        self.typed.lock().ok().and_then(|mut t| t.take())
    }

    /// The execution that started this one, from the context's `trigger`
    /// (a Subflow's parent), for the scope of `read()`.
    pub fn starter(&self) -> Option<baton_model::storage::scope::Starter> {
        let t = self.ctx.get_attr("trigger").ok()?;
        let s = |k: &str| t.get_attr(k).ok().and_then(|v| v.as_str().map(str::to_string));
        Some(baton_model::storage::scope::Starter {
            namespace: s("namespace")?,
            flow_id: s("flowId")?,
            execution_id: s("executionId")?,
        })
    }

    /// The flow namespace from the context (`flow.namespace`).
    pub fn namespace(&self) -> String {
        self.ctx
            .get_attr("flow")
            .and_then(|f| f.get_attr("namespace"))
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }
}

fn answer(req: &Request, host: &dyn TemplateHost) -> Answer {
    match req {
        Request::Kv { namespace, key, walk } => {
            let mut ns = namespace.as_str();
            loop {
                if let Some(v) = host.kv(ns, key)? {
                    return Ok(Some(v));
                }
                match ns.rfind('.') {
                    Some(i) if *walk => ns = &ns[..i],
                    _ => return Ok(None),
                }
            }
        }
        Request::Secret(key) => host.secret(key).map(|s| Some(serde_json::Value::String(s))),
        Request::Read { namespace, path, revision: None } => {
            host.read(namespace, path).map(|s| Some(serde_json::Value::String(s)))
        }
        Request::Read { namespace, path, revision: Some(r) } => {
            host.read_revision(namespace, path, *r).map(|s| Some(serde_json::Value::String(s)))
        }
        Request::Size { namespace, path } => host.file_size(namespace, path).map(|n| n.map(serde_json::Value::from)),
        Request::ErrorLogs(id) => host.error_logs(id).map(|l| Some(serde_json::Value::Array(l))),
        Request::IterationOutput { execution_id, parent_run_id, task_id, iteration } => {
            host.iteration_output(execution_id, parent_run_id, task_id, *iteration)
        }
        Request::TasksWithState(id, state) => {
            host.tasks_with_state(id, state).map(|l| Some(serde_json::Value::Array(l)))
        }
        Request::Subflow(call) => host.subflow(call).map(Some),
    }
}
