//! `io.kestra.plugin.anthropic.ChatCompletion`: Claude over Anthropic's
//! Messages API — `POST {base}/v1/messages` with `x-api-key` and
//! `anthropic-version: 2023-06-01`, the body Kestra's plugin builds (model,
//! max_tokens (1024 by default), messages, system, temperature, top_p,
//! top_k, tools, and `cache_control` for `promptCaching`). Outputs
//! `rawResponse` (the answer as JSON text), `outputText` (the text blocks
//! joined), `toolUses`, `stopReason` and the cache token counts; counters
//! `usage.input.tokens`, `usage.output.tokens`, `usage.cache.*.tokens`.
//! The base URL is `https://api.anthropic.com`, or `BATON_ANTHROPIC_BASE_URL`.

use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{base_url, check_messages, need, post_json, token_counters, typed_messages};
use crate::ai::http::{Callee, MAX_RESPONSE};
use crate::ai::props::{bool_of, f64_of, i64_of, str_of};
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput};

/// Anthropic's public endpoint.
pub const DEFAULT_BASE: &str = "https://api.anthropic.com";
/// The Messages API version Anthropic's Java SDK sends.
pub const API_VERSION: &str = "2023-06-01";
const TYPES: &[&str] = &["USER", "ASSISTANT"];

fn messages_check(v: &Value) -> Result<(), String> {
    check_messages(v, TYPES)
}

/// Ask Claude (Kestra's Anthropic plugin).
///
/// Sends `messages` (and an optional `system` prompt) to Anthropic's Messages API and outputs Claude's answer.
#[derive(Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
#[plugin(
    type = "io.kestra.plugin.anthropic.ChatCompletion",
    group = "core",
    example = "id: ask\ntype: io.kestra.plugin.anthropic.ChatCompletion\napiKey: \"{{ secret('ANTHROPIC_API_KEY') }}\"\nmodel: claude-sonnet-4-6\nmessages:\n  - type: USER\n    content: What is the capital of Japan?\n",
    outputs(
        rawResponse(String, "Anthropic's answer, as JSON text."),
        outputText(String, "The text blocks of the answer, joined."),
        toolUses(List, "The tools Claude asked to use: [{id, name, input}] (absent when none)."),
        stopReason(String, "Why Claude stopped: end_turn, max_tokens, tool_use…"),
        cacheCreationInputTokens(Integer, "Tokens written to the prompt cache."),
        cacheReadInputTokens(Integer, "Tokens read from the prompt cache.")
    )
)]
struct Props {
    /// The Anthropic API key.
    #[prop(kind = "String", required)]
    api_key: Option<Value>,
    /// The Claude model (claude-sonnet-4-6…).
    #[prop(kind = "String", required)]
    model: Option<Value>,
    /// The conversation: [{type: USER|ASSISTANT, content}].
    #[prop(kind = "List", required, check = messages_check)]
    messages: Option<Value>,
    /// A system prompt for the whole conversation.
    #[prop(kind = "String")]
    system: Option<Value>,
    /// The most tokens Claude may generate.
    #[prop(kind = "Integer", default = "1024")]
    max_tokens: Option<Value>,
    /// Sampling temperature (0 to 1); sent only when set.
    #[prop(kind = "Number")]
    temperature: Option<Value>,
    /// Nucleus sampling; sent only when set.
    #[prop(kind = "Number")]
    top_p: Option<Value>,
    /// Sample from the K likeliest tokens only; sent only when set.
    #[prop(kind = "Integer")]
    top_k: Option<Value>,
    /// Tools Claude may ask to use: [{name, description, inputSchema: {properties, required}}].
    #[prop(kind = "List")]
    tools: Option<Value>,
    /// Let Anthropic cache the longest cacheable prefix of the request.
    #[prop(kind = "Boolean", default = "false")]
    prompt_caching: Option<Value>,
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));

struct ChatCompletion {
    api_key: String,
    model: String,
    body: Value,
}

/// Kestra's `tools`: `input_schema` is always an object with the given
/// `properties` and `required`.
fn tools(v: Option<&Value>) -> Result<Option<Value>, TaskError> {
    let items = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(a)) => a.clone(),
        Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
            Ok(Value::Array(a)) => a,
            _ => return Err(TaskError::property("tools", "expected a list of {name, description, inputSchema}")),
        },
        Some(other) => return Err(TaskError::property("tools", format!("expected a list, got {other}"))),
    };
    let mut out = Vec::new();
    for (i, t) in items.iter().enumerate() {
        let field = format!("tools[{i}]");
        let Value::Object(o) = t else {
            return Err(TaskError::property(&field, "expected {name, description, inputSchema}"));
        };
        if let Some(k) =
            o.keys().find(|k| !matches!(k.as_str(), "name" | "description" | "inputSchema" | "input_schema"))
        {
            return Err(TaskError::property(&field, format!("unknown key '{k}' (name, description, inputSchema)")));
        }
        let name = str_of(o.get("name")).ok_or_else(|| TaskError::property(&format!("{field}.name"), "required"))?;
        let mut schema = Map::new();
        schema.insert("type".into(), json!("object"));
        if let Some(Value::Object(s)) = o.get("inputSchema").or_else(|| o.get("input_schema"))
            && let Some(props) = s.get("properties")
        {
            schema.insert("properties".into(), props.clone());
            if let Some(req) = s.get("required") {
                schema.insert("required".into(), req.clone());
            }
        }
        let mut tool = Map::new();
        tool.insert("name".into(), json!(name));
        tool.insert("input_schema".into(), Value::Object(schema));
        if let Some(d) = str_of(o.get("description")) {
            tool.insert("description".into(), json!(d));
        }
        out.push(Value::Object(tool));
    }
    Ok((!out.is_empty()).then_some(Value::Array(out)))
}

/// The Messages API body for the rendered properties.
fn body(p: &Map<String, Value>) -> Result<Value, TaskError> {
    let mut b = Map::new();
    b.insert("model".into(), json!(need(p, "model")?));
    b.insert("max_tokens".into(), json!(i64_of("maxTokens", p.get("maxTokens"))?.unwrap_or(1024)));
    b.insert("messages".into(), Value::Array(typed_messages(p.get("messages"), TYPES)?));
    if let Some(s) = p.get("system").and_then(Value::as_str) {
        b.insert("system".into(), json!(s));
    }
    if let Some(t) = f64_of("temperature", p.get("temperature"))? {
        if !(0.0..=1.0).contains(&t) {
            return Err(TaskError::property("temperature", format!("must be between 0 and 1, got {t}")));
        }
        b.insert("temperature".into(), json!(t));
    }
    if let Some(v) = f64_of("topP", p.get("topP"))? {
        b.insert("top_p".into(), json!(v));
    }
    if let Some(v) = i64_of("topK", p.get("topK"))? {
        b.insert("top_k".into(), json!(v));
    }
    if let Some(t) = tools(p.get("tools"))? {
        b.insert("tools".into(), t);
    }
    if bool_of("promptCaching", p.get("promptCaching"))?.unwrap_or(false) {
        b.insert("cache_control".into(), json!({"type": "ephemeral"}));
    }
    Ok(Value::Object(b))
}

fn build(p: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    Ok(Box::new(ChatCompletion { api_key: need(p, "apiKey")?, model: need(p, "model")?, body: body(p)? }))
}

/// Kestra's outputs of a Messages API answer.
fn outputs(v: &Value) -> Map<String, Value> {
    let mut text = String::new();
    let mut uses = Vec::new();
    for block in v.get("content").and_then(Value::as_array).into_iter().flatten() {
        match block.get("type").and_then(Value::as_str) {
            Some("text") => text.push_str(block.get("text").and_then(Value::as_str).unwrap_or_default()),
            Some("tool_use") => uses.push(json!({
                "id": block.get("id"),
                "name": block.get("name"),
                "input": block.get("input").filter(|i| i.is_object()),
            })),
            _ => {}
        }
    }
    let mut o = Map::new();
    o.insert("rawResponse".into(), json!(v.to_string()));
    o.insert("outputText".into(), json!(text));
    if !uses.is_empty() {
        o.insert("toolUses".into(), Value::Array(uses));
    }
    if let Some(s) = v.get("stop_reason").filter(|s| !s.is_null()) {
        o.insert("stopReason".into(), s.clone());
    }
    for (k, out) in [
        ("cache_creation_input_tokens", "cacheCreationInputTokens"),
        ("cache_read_input_tokens", "cacheReadInputTokens"),
    ] {
        if let Some(n) = v.pointer(&format!("/usage/{k}")).filter(|n| n.is_number()) {
            o.insert(out.into(), n.clone());
        }
    }
    o
}

#[async_trait]
impl RunnableTask for ChatCompletion {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let base = base_url(None, cx.services.config.ai.anthropic_base_url.as_ref(), DEFAULT_BASE);
        let callee = Callee::new(format!("Anthropic model '{}'", self.model)).secret(Some(&self.api_key));
        let headers = [("x-api-key", self.api_key.clone()), ("anthropic-version", API_VERSION.to_string())];
        let url = format!("{base}/v1/messages");
        let v = post_json(cx, &callee, &url, &headers, &self.body, MAX_RESPONSE, "MAX_RESPONSE").await?;
        token_counters(
            cx,
            v.get("usage"),
            &[
                ("/input_tokens", "usage.input.tokens"),
                ("/output_tokens", "usage.output.tokens"),
                ("/cache_creation_input_tokens", "usage.cache.creation.tokens"),
                ("/cache_read_input_tokens", "usage.cache.read.tokens"),
            ],
        );
        Ok(TaskOutput::with(outputs(&v)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_is_the_one_kestra_s_plugin_sends() {
        let p = json!({"model": "claude", "messages": [{"type": "USER", "content": "hi"}], "system": "be brief",
            "topK": "5", "promptCaching": true,
            "tools": [{"name": "f", "inputSchema": {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}}]});
        let b = body(p.as_object().unwrap()).unwrap();
        assert_eq!(b["max_tokens"], 1024);
        assert_eq!(b["messages"], json!([{"role": "user", "content": "hi"}]));
        assert_eq!(b["top_k"], 5);
        assert!(b.get("temperature").is_none());
        assert_eq!(b["cache_control"], json!({"type": "ephemeral"}));
        assert_eq!(b["tools"][0]["input_schema"]["required"], json!(["a"]));
        let o = outputs(&json!({"content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"},
            {"type": "tool_use", "id": "t", "name": "f", "input": {"a": "x"}}], "stop_reason": "tool_use",
            "usage": {"input_tokens": 1, "output_tokens": 2}}));
        assert_eq!(o["outputText"], "ab");
        assert_eq!(o["toolUses"][0]["input"]["a"], "x");
        assert_eq!(o["stopReason"], "tool_use");
        assert!(o.get("cacheReadInputTokens").is_none());
    }
}
