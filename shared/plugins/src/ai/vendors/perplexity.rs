//! `io.kestra.plugin.perplexity.ChatCompletion`: Perplexity's chat API —
//! `POST {base}/chat/completions` (base `https://api.perplexity.ai`, or
//! `BATON_PERPLEXITY_BASE_URL`: Kestra's plugin has no `baseUrl`),
//! `Authorization: Bearer`, and every sampling setting the plugin always
//! sends with its defaults (temperature 0.2, top_p 0.9, top_k 0, stream
//! false, presence and frequency penalties 0), plus `max_tokens` and a
//! `json_schema` response format when set. Outputs `outputText`
//! (`choices[0].message.content`) and `rawResponse` (the answer's JSON
//! text); counters `usage.prompt.tokens`, `usage.completion.tokens`,
//! `usage.total.tokens`.

use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{base_url, check_messages, need, post_json, token_counters, typed_messages};
use crate::ai::http::{Callee, MAX_RESPONSE};
use crate::ai::props::{bool_of, f64_of, i64_of};
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput};

/// Perplexity's public endpoint.
pub const DEFAULT_BASE: &str = "https://api.perplexity.ai";
const TYPES: &[&str] = &["SYSTEM", "ASSISTANT", "USER"];

fn messages_check(v: &Value) -> Result<(), String> {
    check_messages(v, TYPES)
}

/// Ask a Perplexity model (Kestra's Perplexity plugin).
///
/// Sends `messages` to Perplexity's chat completions API and outputs the answer.
#[derive(Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
#[plugin(
    type = "io.kestra.plugin.perplexity.ChatCompletion",
    group = "core",
    example = "id: ask\ntype: io.kestra.plugin.perplexity.ChatCompletion\napiKey: \"{{ secret('PERPLEXITY_API_KEY') }}\"\nmodel: sonar\nmessages:\n  - type: USER\n    content: What is Kestra?\n",
    outputs(
        outputText(String, "The answer's text (choices[0].message.content)."),
        rawResponse(String, "Perplexity's whole answer, as JSON text.")
    )
)]
struct Props {
    /// The Perplexity API key.
    #[prop(kind = "String", required)]
    api_key: Option<Value>,
    /// The model (sonar, sonar-pro…).
    #[prop(kind = "String", required)]
    model: Option<Value>,
    /// The conversation: [{type: SYSTEM|USER|ASSISTANT, content}].
    #[prop(kind = "List", required, check = messages_check)]
    messages: Option<Value>,
    /// Sampling temperature (0 to 2).
    #[prop(kind = "Number", default = "0.2")]
    temperature: Option<Value>,
    /// Nucleus sampling (0 to 1).
    #[prop(kind = "Number", default = "0.9")]
    top_p: Option<Value>,
    /// Sample from the K likeliest tokens only (0: all).
    #[prop(kind = "Integer", default = "0")]
    top_k: Option<Value>,
    /// Passed to the API as `stream`; the answer is read as one JSON body, so keep it false.
    #[prop(kind = "Boolean", default = "false")]
    stream: Option<Value>,
    /// Penalty for repeated topics (0 to 2).
    #[prop(kind = "Number", default = "0.0")]
    presence_penalty: Option<Value>,
    /// Penalty for frequent tokens (0 to 2).
    #[prop(kind = "Number", default = "0.0")]
    frequency_penalty: Option<Value>,
    /// The most tokens the answer may have.
    #[prop(kind = "Integer")]
    max_tokens: Option<Value>,
    /// A JSON schema (text) for structured output.
    #[prop(kind = "String")]
    json_response_schema: Option<Value>,
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));

struct ChatCompletion {
    api_key: String,
    model: String,
    body: Value,
}

fn build(p: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let model = need(p, "model")?;
    let num = |k: &str, default: f64, max: f64| -> Result<f64, TaskError> {
        let v = f64_of(k, p.get(k))?.unwrap_or(default);
        if v > max {
            return Err(TaskError::property(k, format!("must be at most {max}, got {v}")));
        }
        Ok(v)
    };
    let mut b = Map::new();
    b.insert("model".into(), json!(model));
    b.insert("messages".into(), Value::Array(typed_messages(p.get("messages"), TYPES)?));
    b.insert("temperature".into(), json!(num("temperature", 0.2, f64::MAX)?));
    b.insert("top_p".into(), json!(num("topP", 0.9, 1.0)?));
    b.insert("top_k".into(), json!(i64_of("topK", p.get("topK"))?.unwrap_or(0)));
    b.insert("stream".into(), json!(bool_of("stream", p.get("stream"))?.unwrap_or(false)));
    b.insert("presence_penalty".into(), json!(num("presencePenalty", 0.0, 2.0)?));
    b.insert("frequency_penalty".into(), json!(num("frequencyPenalty", 0.0, 2.0)?));
    if let Some(n) = i64_of("maxTokens", p.get("maxTokens"))? {
        b.insert("max_tokens".into(), json!(n));
    }
    let schema = match p.get("jsonResponseSchema") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(
            serde_json::from_str::<Value>(s)
                .map_err(|e| TaskError::property("jsonResponseSchema", format!("not JSON: {e}")))?,
        ),
        Some(v) => Some(v.clone()),
    };
    if let Some(s) = schema {
        b.insert("response_format".into(), json!({"type": "json_schema", "json_schema": {"schema": s}}));
    }
    Ok(Box::new(ChatCompletion { api_key: need(p, "apiKey")?, model, body: Value::Object(b) }))
}

#[async_trait]
impl RunnableTask for ChatCompletion {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let base = base_url(None, cx.services.config.ai.perplexity_base_url.as_ref(), DEFAULT_BASE);
        let callee = Callee::new(format!("Perplexity model '{}'", self.model)).secret(Some(&self.api_key));
        let headers = [("authorization", format!("Bearer {}", self.api_key))];
        let url = format!("{base}/chat/completions");
        let v = post_json(cx, &callee, &url, &headers, &self.body, MAX_RESPONSE, "MAX_RESPONSE").await?;
        token_counters(
            cx,
            v.get("usage"),
            &[
                ("/prompt_tokens", "usage.prompt.tokens"),
                ("/completion_tokens", "usage.completion.tokens"),
                ("/total_tokens", "usage.total.tokens"),
            ],
        );
        let text = v
            .pointer("/choices/0/message/content")
            .ok_or_else(|| callee.error("the answer has no choices[0].message"))?
            .clone();
        let mut o = Map::new();
        o.insert("outputText".into(), text);
        o.insert("rawResponse".into(), json!(v.to_string()));
        Ok(TaskOutput::with(o))
    }
}
