//! The per-render bridge to the `TemplateHost`. minijinja functions are
//! `'static`, but the host is only borrowed for one render, so functions
//! never call it directly: they read answers from the bridge (a hidden
//! context entry) and, on a miss, record a request and return a
//! placeholder. The renderer then asks the host and renders again. Answers
//! are cached for the whole `render_*` call; no global state.

use std::collections::HashMap;
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
    /// `read(path)`.
    Read { namespace: String, path: String },
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
}

impl Object for Bridge {}

impl Bridge {
    /// A bridge for one `render_*` call.
    pub fn new(ctx: Value) -> Bridge {
        Bridge { ctx, answers: Mutex::default(), pending: Mutex::default(), typed: Mutex::default() }
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
        Request::Read { namespace, path } => host.read(namespace, path).map(|s| Some(serde_json::Value::String(s))),
    }
}
