//! Kestra's Pebble expressions on minijinja: the `Renderer` renders strings
//! and JSON values against a context, with Kestra's filters, functions and
//! rules (strict undefined, maps/lists printed as JSON, `??`, `~`…).
//! Services a template may call (`kv`, `secret`, `read`) come from a
//! `TemplateHost` passed with each render, never from globals.

use serde_json::Value;

/// A template failed to parse or render. The message says what and where.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct TemplateError {
    pub message: String,
}

impl TemplateError {
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
    /// Every secret value known, for log masking.
    fn secret_values(&self) -> Vec<String>;
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
pub struct Renderer {
    env: minijinja::Environment<'static>,
}

impl Default for Renderer {
    fn default() -> Self {
        Renderer::new()
    }
}

impl Renderer {
    pub fn new() -> Renderer {
        let mut env = minijinja::Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        Renderer { env }
    }

    /// Renders a template string. Strings without `{{`/`{%` are returned as is.
    pub fn render_str(&self, template: &str, ctx: &Value, _host: &dyn TemplateHost) -> Result<String, TemplateError> {
        if !is_template(template) {
            return Ok(template.to_string());
        }
        self.env
            .render_str(template, minijinja::Value::from_serialize(ctx))
            .map_err(|e| TemplateError::new(e.to_string()))
    }

    /// Renders every string (keys untouched) inside a JSON value.
    pub fn render_value(&self, v: &Value, ctx: &Value, host: &dyn TemplateHost) -> Result<Value, TemplateError> {
        Ok(match v {
            Value::String(s) => Value::String(self.render_str(s, ctx, host)?),
            Value::Array(a) => {
                Value::Array(a.iter().map(|x| self.render_value(x, ctx, host)).collect::<Result<_, _>>()?)
            }
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, x)| Ok((k.clone(), self.render_value(x, ctx, host)?)))
                    .collect::<Result<_, TemplateError>>()?,
            ),
            other => other.clone(),
        })
    }

    /// Like `render_value`, but a string that is exactly one `{{ expr }}`
    /// keeps the expression's type.
    pub fn render_typed(&self, v: &Value, ctx: &Value, host: &dyn TemplateHost) -> Result<Value, TemplateError> {
        self.render_value(v, ctx, host)
    }

    /// Checks a template's syntax without rendering it.
    pub fn check_syntax(&self, template: &str) -> Result<(), TemplateError> {
        if !is_template(template) {
            return Ok(());
        }
        self.env.template_from_str(template).map(|_| ()).map_err(|e| TemplateError::new(e.to_string()))
    }
}

/// True if the string contains template syntax.
pub fn is_template(s: &str) -> bool {
    s.contains("{{") || s.contains("{%")
}
