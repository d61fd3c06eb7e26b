//! Kestra's single-vendor AI plugins, each a task calling one vendor's own
//! REST API: `io.kestra.plugin.anthropic.ChatCompletion` (Messages API),
//! `io.kestra.plugin.deepseek.ChatCompletion`,
//! `io.kestra.plugin.perplexity.ChatCompletion`,
//! `io.kestra.plugin.openai.Responses` and `CreateImage`, and
//! `io.kestra.plugin.huggingface.Inference`.
//!
//! Each task sends the request Kestra's plugin sends and answers with its
//! outputs. Calls go through [`super::http::call_json_limited`] (retries on
//! 429/5xx, the vendor's error message, the API key masked, the response
//! bounded). Where Kestra's plugin has a base-URL property (DeepSeek's
//! `baseUrl`, Hugging Face's `endpoint`) it is honoured; where it has none
//! (Anthropic, Perplexity, OpenAI) the base URL comes from
//! `BATON_ANTHROPIC_BASE_URL`, `BATON_PERPLEXITY_BASE_URL` and
//! `BATON_OPENAI_BASE_URL` ([`super::AiConfig`]), for every flow.

pub mod anthropic;
pub mod deepseek;
pub mod huggingface;
pub mod openai_image;
pub mod openai_responses;
pub mod perplexity;

use std::time::Duration;

use serde_json::{Map, Value, json};

use super::http::{Callee, call_json_limited, trim_base};
use super::props::str_of;
use crate::{RunContext, TaskError};

/// The longest a vendor call may take (the vendors' Java clients' own read
/// timeouts are of this order); past it the task fails naming the bound.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(600);

/// A required string property.
pub fn need(p: &Map<String, Value>, k: &str) -> Result<String, TaskError> {
    str_of(p.get(k)).ok_or_else(|| TaskError::property(k, "required"))
}

/// `configured`, else the run-time default, else `default`; no trailing slash.
pub fn base_url(configured: Option<String>, env: Option<&String>, default: &str) -> String {
    let b = configured.or_else(|| env.cloned()).unwrap_or_else(|| default.to_string());
    trim_base(&b).to_string()
}

/// Kestra's chat `messages` of these vendor plugins: `[{type, content}]`,
/// `type` one of `types` (the enum's names), mapped to lower-case roles.
/// A whole-list expression rendered to JSON text is read too.
pub fn typed_messages(v: Option<&Value>, types: &[&str]) -> Result<Vec<Value>, TaskError> {
    let list = match v {
        Some(Value::Array(a)) => a.clone(),
        Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
            Ok(Value::Array(a)) => a,
            _ => return Err(TaskError::property("messages", "expected a list of {type, content}")),
        },
        _ => return Err(TaskError::property("messages", "required")),
    };
    let mut out = Vec::new();
    for (i, m) in list.iter().enumerate() {
        let Value::Object(o) = m else {
            return Err(TaskError::property(&format!("messages[{i}]"), "expected {type, content}"));
        };
        check_message(o, types).map_err(|e| TaskError::property(&format!("messages[{i}]"), e))?;
        let t = str_of(o.get("type")).unwrap_or_default();
        let content = match o.get("content") {
            Some(Value::String(s)) => s.clone(),
            None | Some(Value::Null) => String::new(),
            Some(other) => other.to_string(),
        };
        out.push(json!({"role": t.to_ascii_lowercase(), "content": content}));
    }
    Ok(out)
}

/// One message's keys and `type` (shared by validation and run time).
fn check_message(o: &Map<String, Value>, types: &[&str]) -> Result<(), String> {
    if let Some(k) = o.keys().find(|k| !matches!(k.as_str(), "type" | "content")) {
        return Err(format!("unknown key '{k}' (a message has `type` and `content`)"));
    }
    match o.get("type") {
        Some(Value::String(t)) if types.contains(&t.as_str()) || t.contains("{{") => Ok(()),
        Some(Value::String(t)) => Err(format!("unknown type '{t}' (one of {})", types.join(", "))),
        _ => Err(format!("a message needs a `type` ({})", types.join(", "))),
    }
}

/// A validation check of a literal `messages` list against `types`.
pub fn check_messages(v: &Value, types: &[&str]) -> Result<(), String> {
    let Value::Array(items) = v else { return Ok(()) };
    for (i, m) in items.iter().enumerate() {
        match m {
            Value::Object(o) => check_message(o, types).map_err(|e| format!("messages[{i}]: {e}"))?,
            Value::String(s) if s.contains("{{") => {}
            _ => return Err(format!("messages[{i}]: expected {{type, content}}")),
        }
    }
    Ok(())
}

/// POSTs `body` as JSON to `url` with `headers`, within [`CALL_TIMEOUT`];
/// the answer is read up to `limit` bytes (`bound` names it).
pub async fn post_json(
    cx: &RunContext,
    callee: &Callee,
    url: &str,
    headers: &[(&str, String)],
    body: &Value,
    limit: usize,
    bound: &str,
) -> Result<Value, TaskError> {
    let http = &cx.services.http;
    let send = call_json_limited(cx, &cx.services.config.ai, callee, limit, bound, || {
        let mut rb = http.post(url).json(body);
        for (k, v) in headers {
            rb = rb.header(*k, v.as_str());
        }
        rb
    });
    let v = tokio::time::timeout(CALL_TIMEOUT, send).await.map_err(|_| {
        callee.error(format!("no answer within {} s (CALL_TIMEOUT)", CALL_TIMEOUT.as_secs())).into_task()
    })??;
    Ok(v)
}

/// Adds Kestra's token counters (`usage.*.tokens`) for the numbers found.
pub fn token_counters(cx: &RunContext, usage: Option<&Value>, names: &[(&str, &str)]) {
    let Some(u) = usage else { return };
    for (field, metric) in names {
        if let Some(n) = u.pointer(field).and_then(Value::as_f64) {
            cx.counter(metric, n, &[]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_checked_by_type_and_keys() {
        let types = ["USER", "ASSISTANT"];
        let ok = json!([{"type": "USER", "content": "hi"}, {"type": "ASSISTANT", "content": 3}]);
        let m = typed_messages(Some(&ok), &types).unwrap();
        assert_eq!(m[0], json!({"role": "user", "content": "hi"}));
        assert_eq!(m[1]["content"], "3");
        let sys = json!([{"type": "SYSTEM", "content": "s"}]);
        let e = check_messages(&sys, &types).unwrap_err();
        assert!(e.contains("messages[0]") && e.contains("SYSTEM"), "{e}");
        assert!(check_messages(&json!([{"type": "USER", "role": "user"}]), &types).unwrap_err().contains("'role'"));
        let text = Value::String(ok.to_string());
        assert_eq!(typed_messages(Some(&text), &types).unwrap().len(), 2);
    }
}
