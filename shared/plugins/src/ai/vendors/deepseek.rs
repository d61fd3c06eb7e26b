//! `io.kestra.plugin.deepseek.ChatCompletion`: DeepSeek's OpenAI-style
//! chat API — `POST {baseUrl}/chat/completions` (`baseUrl` by default
//! `https://api.deepseek.com/v1`), `Authorization: Bearer`, a body of
//! `model` and `messages` only. A `jsonResponseSchema` asks for JSON mode
//! as Kestra's plugin does: a first system message carrying the schema and
//! `response_format: {type: json_object}`; when the schema mentions an
//! array type, an answer that is not a JSON array is wrapped into one (the
//! plugin's normalization). Outputs `response` (the answer's text) and
//! `raw` (the whole answer as JSON text).

use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{base_url, check_messages, need, post_json, typed_messages};
use crate::ai::http::{Callee, MAX_RESPONSE};
use crate::ai::props::str_of;
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput};

/// Kestra's default `baseUrl`.
pub const DEFAULT_BASE: &str = "https://api.deepseek.com/v1";
const TYPES: &[&str] = &["SYSTEM", "ASSISTANT", "USER"];

fn messages_check(v: &Value) -> Result<(), String> {
    check_messages(v, TYPES)
}

/// Ask a DeepSeek model (Kestra's DeepSeek plugin).
///
/// Sends `messages` to DeepSeek's chat completions API, optionally in JSON mode, and outputs the answer.
#[derive(Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
#[plugin(
    type = "io.kestra.plugin.deepseek.ChatCompletion",
    group = "core",
    example = "id: ask\ntype: io.kestra.plugin.deepseek.ChatCompletion\napiKey: \"{{ secret('DEEPSEEK_API_KEY') }}\"\nmodelName: deepseek-chat\nmessages:\n  - type: USER\n    content: What is the capital of Germany?\n",
    outputs(
        response(String, "The answer's text (choices[0].message.content)."),
        raw(String, "DeepSeek's whole answer, as JSON text.")
    )
)]
struct Props {
    /// The DeepSeek API key.
    #[prop(kind = "String", required)]
    api_key: Option<Value>,
    /// The model (deepseek-chat, deepseek-coder…).
    #[prop(kind = "String", required)]
    model_name: Option<Value>,
    /// The API's base URL (a proxy, a compatible server).
    #[prop(kind = "String", default = "\"https://api.deepseek.com/v1\"")]
    base_url: Option<Value>,
    /// The conversation: [{type: SYSTEM|USER|ASSISTANT, content}].
    #[prop(kind = "List", required, check = messages_check)]
    messages: Option<Value>,
    /// A JSON schema (text) the answer should follow: turns JSON mode on.
    #[prop(kind = "String")]
    json_response_schema: Option<Value>,
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));

struct ChatCompletion {
    api_key: String,
    model: String,
    base_url: Option<String>,
    schema: Option<String>,
    body: Value,
}

/// The schema as text: a mapping written in YAML is sent as JSON text.
fn schema_text(v: Option<&Value>) -> Option<String> {
    match v {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
        Some(v @ (Value::Object(_) | Value::Array(_))) => Some(v.to_string()),
        _ => None,
    }
}

fn build(p: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let model = need(p, "modelName")?;
    let schema = schema_text(p.get("jsonResponseSchema"));
    let mut messages = Vec::new();
    if let Some(s) = &schema {
        messages.push(json!({"role": "system", "content": format!(
            "You must output valid JSON only (no extra text). Follow this JSON Schema strictly when formatting your response. If a field is unknown, output a sensible empty value of the correct type. JSON Schema:\n{s}"
        )}));
    }
    messages.extend(typed_messages(p.get("messages"), TYPES)?);
    let mut body = Map::new();
    body.insert("model".into(), json!(model));
    body.insert("messages".into(), Value::Array(messages));
    if schema.is_some() {
        body.insert("response_format".into(), json!({"type": "json_object"}));
    }
    Ok(Box::new(ChatCompletion {
        api_key: need(p, "apiKey")?,
        model,
        base_url: str_of(p.get("baseUrl")),
        schema,
        body: Value::Object(body),
    }))
}

/// The plugin's normalization: when the schema asks for an array
/// (`"type":"array"` anywhere in it), an answer that is not one is made one.
pub fn normalize(content: &str, schema: Option<&str>) -> String {
    let wants_array = schema.is_some_and(|s| {
        let squeezed: String = s.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_lowercase();
        squeezed.contains("\"type\":\"array\"")
    });
    let t = content.trim();
    if !wants_array || t.starts_with('[') {
        return content.to_string();
    }
    let is_object =
        (t.starts_with('{') && t.ends_with('}')) || matches!(serde_json::from_str::<Value>(t), Ok(Value::Object(_)));
    if is_object || t.ends_with(']') {
        return if is_object { format!("[{content}]") } else { format!("[{content}") };
    }
    let mut repaired = format!("[{content}");
    if !repaired.trim().ends_with(']') {
        repaired.push(']');
    }
    repaired
}

#[async_trait]
impl RunnableTask for ChatCompletion {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let base = base_url(self.base_url.clone(), None, DEFAULT_BASE);
        let callee = Callee::new(format!("DeepSeek model '{}'", self.model)).secret(Some(&self.api_key));
        let headers = [("authorization", format!("Bearer {}", self.api_key))];
        let url = format!("{base}/chat/completions");
        let v = post_json(cx, &callee, &url, &headers, &self.body, MAX_RESPONSE, "MAX_RESPONSE").await?;
        let content = match v.pointer("/choices/0/message/content") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => {
                return Err(callee.error("the answer has no choices[0].message.content").into());
            }
            Some(other) => other.to_string(),
        };
        let mut o = Map::new();
        o.insert("response".into(), json!(normalize(&content, self.schema.as_deref())));
        o.insert("raw".into(), json!(v.to_string()));
        Ok(TaskOutput::with(o))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_schemas_wrap_objects_as_the_plugin_does() {
        let s = Some(r#"{"type": "array", "items": {}}"#);
        assert_eq!(normalize(r#"{"a":1}"#, s), r#"[{"a":1}]"#);
        assert_eq!(normalize("[1]", s), "[1]");
        assert_eq!(normalize("1]", s), "[1]");
        assert_eq!(normalize("1", s), "[1]");
        assert_eq!(normalize(r#"{"a":1}"#, Some(r#"{"type":"object"}"#)), r#"{"a":1}"#);
        assert_eq!(normalize("x", None), "x");
    }
}
