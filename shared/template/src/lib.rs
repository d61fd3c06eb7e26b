//! Kestra's Pebble expressions on minijinja: the `Renderer` renders strings
//! and JSON values against a context, with Kestra's filters, functions and
//! rules (strict undefined, maps/lists printed as JSON, `??`, `~`…).
//! Services a template may call (`kv`, `secret`, `read`) come from a
//! `TemplateHost` passed with each render, never from globals.
//!
//! Also in this layer, because they render templates: evaluating trigger
//! conditions ([`conditions`]) and reading execution inputs ([`inputs`]).
//!
//! Layer: above the flow model (`baton_model`) only; no runtime, store or
//! cloud crate (no tokio, no I/O). Whatever a template needs from a store
//! (`kv()`, `secret()`, `read()`, subflow calls) reaches it through the
//! [`TemplateHost`] trait, which the runtime implements.

mod bridge;
mod calendar;
pub mod conditions;
mod date;
mod execution_fns;
mod filters;
mod functions;
#[cfg(test)]
mod hostile;
pub mod inputs;
pub mod jq;
mod json;
mod names;
mod pebble;
mod scope;
#[cfg(test)]
use scope::template_value;
use scope::{Ctx, context_value};
pub mod size;
mod subflow_fn;
mod vocabulary;

use std::sync::Arc;

use minijinja::value::Value as MjValue;
use serde_json::Value;

use bridge::Bridge;
pub use bridge::SubflowCall;
/// Block YAML of a value (Jackson YAML style), e.g. a flow sent as JSON.
pub use json::to_yaml;
pub use scope::Scope;
pub use subflow_fn::{DEFAULT_TIMEOUT_MS as SUBFLOW_DEFAULT_TIMEOUT_MS, MAX_TIMEOUT_MS as SUBFLOW_MAX_TIMEOUT_MS};
pub use vocabulary::Vocabulary;

/// A template failed to parse or render. The message says what and where.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct TemplateError {
    /// The human message, e.g. `template error in "{{ inputs.x }}": 'inputs.x' is undefined`.
    pub message: String,
}

impl TemplateError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> TemplateError {
        TemplateError { message: message.into() }
    }
}

/// What templates may call out to. Implemented by the runtime (KV store,
/// internal storage, secrets) and by tests.
pub trait TemplateHost: Send + Sync {
    /// `kv(key, namespace)`: `Ok(None)` when missing; `Err` when expired or unreachable.
    fn kv(&self, namespace: &str, key: &str) -> Result<Option<Value>, String>;
    /// `secret(key)`: the decoded secret.
    fn secret(&self, key: &str) -> Result<String, String>;
    /// `read(path)`: a `kestra://` file or a namespace file, as text.
    fn read(&self, namespace: &str, path: &str) -> Result<String, String>;
    /// `read(path, revision=N)`: revision `N` of a namespace file, as text.
    fn read_revision(&self, _namespace: &str, path: &str, revision: u32) -> Result<String, String> {
        Err(format!("read('{path}', revision={revision}) is not available here"))
    }
    /// Every secret value known, for log masking.
    fn secret_values(&self) -> Vec<String>;
    /// `fileSize(path)`: the size of a `kestra://` file, `None` if absent.
    fn file_size(&self, _namespace: &str, path: &str) -> Result<Option<u64>, String> {
        Err(format!("file functions cannot read '{path}' here"))
    }
    /// `errorLogs()`: the ERROR log lines of execution `id`, in Kestra's
    /// `LogEntry` shape, oldest first.
    fn error_logs(&self, id: &str) -> Result<Vec<Value>, String> {
        Err(format!("errorLogs() cannot read the logs of execution {id} here"))
    }
    /// `tasksWithState(state)`: the task runs of execution `id` in `state`,
    /// as Kestra lists them (`{taskId, state}`, and `value` for an iteration).
    fn tasks_with_state(&self, id: &str, state: &str) -> Result<Vec<Value>, String> {
        Err(format!("tasksWithState('{state}') cannot read the task runs of execution {id} here"))
    }
    /// `iterationOutput()`: the `value` output of task `task_id`'s run under
    /// `parent_run_id` at `iteration`; `Ok(None)` when it has none yet.
    fn iteration_output(
        &self,
        execution_id: &str,
        _parent_run_id: &str,
        task_id: &str,
        _iteration: i64,
    ) -> Result<Option<Value>, String> {
        Err(format!("iterationOutput('{task_id}') cannot read the task runs of execution {execution_id} here"))
    }
    /// `subflow(...)`: runs the flow to its end; answers `{id, state,
    /// outputs, labels}` (Kestra's `SubflowFunction.Result`). Only where an
    /// execution's inputs are resolved from a request (an API or CLI start).
    fn subflow(&self, call: &bridge::SubflowCall) -> Result<Value, String> {
        Err(format!(
            "The 'subflow' function (calling '{}'.'{}') can only be used where a flow's inputs are rendered for \
             an execution started by hand, the API or the CLI (e.g. an input's 'expression'); it is not supported \
             inside task or trigger properties.",
            call.namespace, call.id
        ))
    }
}

/// A host with nothing behind it: kv and read fail, no secrets.
pub struct NoHost;

impl TemplateHost for NoHost {
    fn kv(&self, _namespace: &str, key: &str) -> Result<Option<Value>, String> {
        Err(format!("kv('{key}') is not available here"))
    }
    fn secret(&self, key: &str) -> Result<String, String> {
        Err(format!("Cannot find secret for key '{key}'."))
    }
    fn read(&self, _namespace: &str, path: &str) -> Result<String, String> {
        Err(format!("read('{path}') is not available here"))
    }
    fn secret_values(&self) -> Vec<String> {
        Vec::new()
    }
}

/// Renders Pebble-style templates.
///
/// The environment is built once; compiled templates are cached inside it,
/// keyed by their source (sources come from flow definitions, so the cache
/// stays bounded by the flows loaded). Templates produced at run time by
/// `render()` are compiled without caching.
pub struct Renderer {
    env: minijinja::Environment<'static>,
    /// The names of the filters Baton added (minijinja cannot list them).
    filters: Vec<&'static str>,
}

impl Default for Renderer {
    fn default() -> Self {
        Renderer::new()
    }
}

/// Cache-key prefix of the typed form of a `{{ expr }}` template.
const TYPED_PREFIX: &str = "\u{1}typed:";
/// How many times a render may be repeated to answer host lookups.
const MAX_PASSES: usize = 32;

/// One `render_*` call: the converted context and the host bridge.
struct Session {
    ctx: MjValue,
    full: MjValue,
    bridge: Arc<Bridge>,
}

impl Session {
    fn new(ctx: &Value) -> Session {
        Session::of(context_value(ctx))
    }

    fn of(ctx: MjValue) -> Session {
        let bridge_val = MjValue::from_object(Bridge::new(ctx.clone()));
        let full = Bridge::context(&bridge_val, &ctx);
        let bridge = bridge_val.downcast_object::<Bridge>().unwrap_or_else(|| Arc::new(Bridge::new(ctx.clone())));
        Session { ctx, full, bridge }
    }
}

impl Renderer {
    /// Builds the environment: strict undefined, Kestra printing, filters and functions.
    pub fn new() -> Renderer {
        let mut env = minijinja::Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        env.set_keep_trailing_newline(true);
        env.set_debug(false);
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        env.set_recursion_limit(200);
        env.set_fuel(Some(bridge::limits::FUEL));
        env.set_formatter(|out, state, value| {
            let text = match value.as_str() {
                Some(s) => std::borrow::Cow::Borrowed(s),
                None => std::borrow::Cow::Owned(json::to_text(value)),
            };
            if let Ok(bridge) = Bridge::of(state) {
                bridge.emit(text.len())?;
            }
            out.write_str(&text)?;
            Ok(())
        });
        env.set_loader(|name| {
            if let Some(src) = name.strip_prefix(TYPED_PREFIX) {
                return match pebble::single_expression(src) {
                    Some(Ok(expr)) => Ok(Some(format!("{{{{ __b_typed({expr}) }}}}"))),
                    Some(Err(e)) => Err(minijinja::Error::new(minijinja::ErrorKind::SyntaxError, e.message)),
                    None => Ok(None),
                };
            }
            pebble::rewrite(name)
                .map(|r| Some(r.source))
                .map_err(|e| minijinja::Error::new(minijinja::ErrorKind::SyntaxError, e.message))
        });
        let filters = filters::register(&mut env);
        functions::register(&mut env);
        calendar::register(&mut env);
        execution_fns::register(&mut env);
        subflow_fn::register(&mut env);
        Renderer { env, filters }
    }

    /// The functions and filters a template can use (for the editor's
    /// completion, through the flow schema's `$expressions`).
    pub fn vocabulary(&self) -> Vocabulary {
        Vocabulary::of(&self.env, &self.filters)
    }

    /// Renders a template string. Strings without `{{`/`{%` are returned as is.
    pub fn render_str(&self, template: &str, ctx: &Value, host: &dyn TemplateHost) -> Result<String, TemplateError> {
        self.render_str_ctx(template, Ctx::Tree(ctx), host)
    }

    /// One string rendered against either kind of context; a string with
    /// no template in it is returned as it is, without a session.
    fn render_str_ctx(&self, template: &str, ctx: Ctx<'_>, host: &dyn TemplateHost) -> Result<String, TemplateError> {
        if !is_template(template) {
            return Ok(template.to_string());
        }
        self.render_in(&ctx.session(), template, host)
    }

    /// Renders every string (keys untouched) inside a JSON value.
    pub fn render_value(&self, v: &Value, ctx: &Value, host: &dyn TemplateHost) -> Result<Value, TemplateError> {
        self.walk(v, Ctx::Tree(ctx), host, &mut None, false)
    }

    /// Like `render_value`, but a string that is exactly one `{{ expr }}`
    /// keeps the expression's type (number, boolean, list, map, string).
    pub fn render_typed(&self, v: &Value, ctx: &Value, host: &dyn TemplateHost) -> Result<Value, TemplateError> {
        self.walk(v, Ctx::Tree(ctx), host, &mut None, true)
    }

    /// [`Renderer::render_str`] against a [`Scope`] (its entries are
    /// converted as templates read them).
    pub fn render_str_in(
        &self,
        template: &str,
        scope: &Scope,
        host: &dyn TemplateHost,
    ) -> Result<String, TemplateError> {
        self.render_str_ctx(template, Ctx::Scope(scope), host)
    }

    /// [`Renderer::render_value`] against a [`Scope`].
    pub fn render_value_in(&self, v: &Value, scope: &Scope, host: &dyn TemplateHost) -> Result<Value, TemplateError> {
        self.walk(v, Ctx::Scope(scope), host, &mut None, false)
    }

    /// [`Renderer::render_typed`] against a [`Scope`].
    pub fn render_typed_in(&self, v: &Value, scope: &Scope, host: &dyn TemplateHost) -> Result<Value, TemplateError> {
        self.walk(v, Ctx::Scope(scope), host, &mut None, true)
    }

    /// Evaluates one Pebble expression (no `{{ }}`) to a JSON value, e.g. an
    /// `If` condition.
    pub fn eval_expression(&self, expr: &str, ctx: &Value, host: &dyn TemplateHost) -> Result<Value, TemplateError> {
        let template = format!("{{{{ {expr} }}}}");
        self.render_typed_str(&Session::new(ctx), &template, host)
    }

    /// Checks a template's syntax without rendering it.
    pub fn check_syntax(&self, template: &str) -> Result<(), TemplateError> {
        if !is_template(template) {
            return Ok(());
        }
        let rw = pebble::rewrite(template).map_err(|e| syntax_error(template, &e.message, e.pos))?;
        let env: &minijinja::Environment<'_> = &self.env;
        match env.template_from_named_str("check", &rw.source) {
            Ok(_) => {
                let known = |name: &str| env.globals().any(|(n, _)| n == name);
                match names::check(template, &known) {
                    None => Ok(()),
                    Some(problem) => Err(TemplateError::new(format!("in {}: {problem}", quote(template)))),
                }
            }
            Err(e) => {
                let pos = e.range().and_then(|r| rw.original_range(r.start)).map(|r| r.start).unwrap_or(0);
                Err(syntax_error(template, &detail(&e), pos))
            }
        }
    }

    fn walk(
        &self,
        v: &Value,
        ctx: Ctx<'_>,
        host: &dyn TemplateHost,
        session: &mut Option<Session>,
        typed: bool,
    ) -> Result<Value, TemplateError> {
        Ok(match v {
            Value::String(s) if is_template(s) => {
                let sess = session.get_or_insert_with(|| ctx.session());
                if typed && pebble::single_expression(s).is_some() {
                    self.render_typed_str(sess, s, host)?
                } else {
                    Value::String(self.render_in(sess, s, host)?)
                }
            }
            Value::Array(a) => {
                Value::Array(a.iter().map(|x| self.walk(x, ctx, host, session, typed)).collect::<Result<_, _>>()?)
            }
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, x)| Ok((k.clone(), self.walk(x, ctx, host, session, typed)?)))
                    .collect::<Result<_, TemplateError>>()?,
            ),
            other => other.clone(),
        })
    }

    fn render_in(&self, sess: &Session, template: &str, host: &dyn TemplateHost) -> Result<String, TemplateError> {
        let tmpl = self.env.get_template(template).map_err(|e| self.describe(template, template, &e, sess))?;
        for _ in 0..MAX_PASSES {
            sess.bridge.start_pass();
            let mut out = size::BoundedOut::default();
            let r = tmpl.render_captured_to(&sess.full, &mut out).map(drop);
            if !sess.bridge.resolve(host) {
                if out.overflowed {
                    return Err(TemplateError::new(format!(
                        "template error in {}: {}",
                        quote(template),
                        size::too_large("the template")
                    )));
                }
                r.map_err(|e| self.describe(template, template, &e, sess))?;
                return String::from_utf8(out.buf).map_err(|_| {
                    TemplateError::new(format!("template error in {}: output is not UTF-8", quote(template)))
                });
            }
        }
        Err(TemplateError::new(format!("template error in {}: too many kv/secret/read lookups", quote(template))))
    }

    fn render_typed_str(
        &self,
        sess: &Session,
        template: &str,
        host: &dyn TemplateHost,
    ) -> Result<Value, TemplateError> {
        let name = format!("{TYPED_PREFIX}{template}");
        let tmpl = self.env.get_template(&name).map_err(|e| self.describe(template, &name, &e, sess))?;
        for _ in 0..MAX_PASSES {
            sess.bridge.start_pass();
            let r = tmpl.render(&sess.full);
            if !sess.bridge.resolve(host) {
                r.map_err(|e| self.describe(template, &name, &e, sess))?;
                let v = sess.bridge.take_typed().unwrap_or_default();
                return Ok(json::to_serde(&v));
            }
        }
        Err(TemplateError::new(format!("template error in {}: too many kv/secret/read lookups", quote(template))))
    }

    /// Turns a minijinja error into a message naming the tag and the problem.
    fn describe(&self, template: &str, name: &str, e: &minijinja::Error, sess: &Session) -> TemplateError {
        if e.kind() == minijinja::ErrorKind::SyntaxError || e.kind() == minijinja::ErrorKind::TemplateNotFound {
            return match pebble::rewrite(template) {
                Err(se) => syntax_error(template, &se.message, se.pos),
                Ok(rw) => {
                    let pos = e
                        .range()
                        .filter(|_| e.name() == Some(name) && !name.starts_with(TYPED_PREFIX))
                        .and_then(|r| rw.original_range(r.start))
                        .map(|r| r.start)
                        .unwrap_or(0);
                    syntax_error(template, &detail(e), pos)
                }
            };
        }
        let (snippet, pos) = match pebble::rewrite(template) {
            Ok(rw) if e.name() == Some(name) && !name.starts_with(TYPED_PREFIX) => {
                match e.range().and_then(|r| rw.original_range(r.start)) {
                    Some(r) => (&template[r.clone()], Some(r.start)),
                    None => (template, None),
                }
            }
            _ => (template, None),
        };
        let mut message = if e.kind() == minijinja::ErrorKind::UndefinedError {
            let via_render = snippet.contains("render(");
            match undefined_path(template, snippet, &sess.ctx, 0) {
                Some((p, None)) => format!("'{p}' is undefined"),
                Some((p, Some(via))) if via_render => {
                    format!("'{p}' is undefined (in {via}, rendered by render())")
                }
                Some((p, Some(via))) => format!("'{p}' is undefined (in {via})"),
                None => "undefined value".to_string(),
            }
        } else {
            detail(e)
        };
        if let Some(line) = pos.filter(|_| template.contains('\n')).map(|p| line_col(template, p).0) {
            message.push_str(&format!(" (line {line})"));
        }
        TemplateError::new(format!("template error in {}: {message}", quote(snippet)))
    }
}

fn detail(e: &minijinja::Error) -> String {
    if e.kind() == minijinja::ErrorKind::OutOfFuel {
        return format!("the template ran more than {} operations (a loop too large?)", bridge::limits::FUEL);
    }
    match e.detail() {
        Some(d) => d.to_string(),
        None => e.kind().to_string(),
    }
}

fn quote(s: &str) -> String {
    const MAX: usize = 160;
    if s.chars().count() > MAX {
        format!("\"{}…\"", s.chars().take(MAX).collect::<String>())
    } else {
        format!("\"{s}\"")
    }
}

fn line_col(template: &str, pos: usize) -> (usize, usize) {
    let before = &template[..pos.min(template.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map(|l| l.chars().count()).unwrap_or(0) + 1;
    (line, col)
}

fn syntax_error(template: &str, message: &str, pos: usize) -> TemplateError {
    let (line, col) = line_col(template, pos);
    TemplateError::new(format!("template syntax error in {}: {message} (line {line}, column {col})", quote(template)))
}

/// The `{{ … }}` and `{% … %}` tags of a template, in order.
fn tags(t: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = 0;
    while let Some(start) = t[rest..].find(['{']).map(|i| rest + i) {
        let close = match t[start..].get(..2) {
            Some("{{") => "}}",
            Some("{%") => "%}",
            _ => {
                rest = start + 1;
                continue;
            }
        };
        let Some(end) = t[start + 2..].find(close).map(|i| start + 2 + i + 2) else { break };
        out.push(&t[start..end]);
        rest = end;
    }
    out
}

/// How deep [`undefined_path`] follows templates held in variables.
const MAX_VIA_DEPTH: usize = 4;

/// The first variable path of `snippet` that is undefined in `ctx`; when
/// every path is defined, the first undefined path inside a template that
/// one of them holds (`render(vars.file)`), with the variable that held it.
fn undefined_path(template: &str, snippet: &str, ctx: &MjValue, depth: usize) -> Option<(String, Option<String>)> {
    let inner = snippet
        .trim_start_matches(['{'])
        .trim_start_matches(['{', '%', '-'])
        .trim_end_matches('}')
        .trim_end_matches(['}', '%', '-'])
        .trim();
    let expr = if snippet.starts_with("{%") {
        let mut words = inner.splitn(2, char::is_whitespace);
        let tag = words.next().unwrap_or("");
        let rest = words.next().unwrap_or("");
        match tag {
            "for" => rest.split_once(" in ").map(|(_, e)| e).unwrap_or(rest),
            "set" => rest.split_once('=').map(|(_, e)| e).unwrap_or(rest),
            _ => rest,
        }
    } else {
        inner
    };
    let mut held = Vec::new();
    for (_, root, keys) in pebble::paths_in(expr) {
        let mut cur = ctx.get_attr(&root).unwrap_or_default();
        let mut shown = root.clone();
        if cur.is_undefined() {
            let local = template.contains(&format!("set {root}"))
                || template.contains(&format!("for {root}"))
                || template.contains(&format!(", {root} in"));
            if local || root == "loop" {
                continue;
            }
            return Some((shown, None));
        }
        for k in keys {
            let is_ident = k.chars().all(|c| c.is_alphanumeric() || c == '_');
            if is_ident {
                shown.push('.');
                shown.push_str(&k);
            } else {
                shown.push_str(&format!("['{k}']"));
            }
            let next = if cur.kind() == minijinja::value::ValueKind::Seq {
                k.parse::<i64>().ok().and_then(|i| cur.get_item(&MjValue::from(i)).ok()).unwrap_or_default()
            } else {
                cur.get_item(&MjValue::from(k.as_str())).unwrap_or_default()
            };
            if next.is_undefined() {
                return Some((shown, None));
            }
            cur = next;
        }
        if let Some(t) = cur.as_str().filter(|t| is_template(t)) {
            held.push((shown, t.to_string()));
        }
    }
    if depth < MAX_VIA_DEPTH {
        for (var, t) in held {
            for tag in tags(&t) {
                if let Some((p, via)) = undefined_path(&t, tag, ctx, depth + 1) {
                    return Some((p, Some(via.unwrap_or(var))));
                }
            }
        }
    }
    None
}

pub use baton_model::expr::is_template;

#[cfg(test)]
mod tests;
