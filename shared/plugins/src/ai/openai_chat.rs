//! `io.kestra.plugin.openai.ChatCompletion`, Kestra's older OpenAI plugin
//! (14 of Kestra's blueprints use it): `apiKey`, `model`, `messages`
//! (`{role, content}`) and/or `prompt`, sampling settings, and
//! `jsonResponseSchema`. It runs on the AI family's OpenAI provider (the
//! same client, retries, bounds and `BATON_OPENAI_BASE_URL`), and answers
//! in the shape the plugin's outputs have: `id`, `model`, `choices`
//! (`[{index, message: {role, content}, finishReason}]`) and `usage`. The
//! plugin's function-calling properties (`functions`, `functionName`…) are
//! not declared: a flow using them is refused at validation.

use std::sync::LazyLock;
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::agent_loop::converse;
use super::model::{ChatConfig, FinishReason, Message};
use super::props::{f64_of, i64_of, str_of};
use super::providers::{Kind, Provider};
use super::tools::Toolbox;
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput};

/// Ask an OpenAI chat model (Kestra's OpenAI plugin).
///
/// Sends `messages` and/or a `prompt` to an OpenAI chat model; outputs the answer in OpenAI's shape (`choices[0].message.content`).
#[derive(Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
#[plugin(
    type = "io.kestra.plugin.openai.ChatCompletion",
    group = "core",
    example = "id: ask\ntype: io.kestra.plugin.openai.ChatCompletion\napiKey: \"{{ secret('OPENAI_API_KEY') }}\"\nmodel: gpt-4o-mini\nprompt: Summarize today's run in one line.\n",
    outputs(
        id(String, "The completion's id."),
        model(String, "The model that answered."),
        choices(List, "The answers: [{index, message: {role, content}, finishReason}]."),
        usage(Map, "Tokens used: promptTokens, completionTokens, totalTokens.")
    )
)]
struct Props {
    /// The OpenAI API key.
    #[prop(kind = "String", required)]
    api_key: Option<Value>,
    /// The model (gpt-4o-mini…).
    #[prop(kind = "String", required)]
    model: Option<Value>,
    /// The conversation: [{role: system|user|assistant, content}].
    #[prop(kind = "List")]
    messages: Option<Value>,
    /// A user message sent after `messages`.
    #[prop(kind = "String")]
    prompt: Option<Value>,
    /// Sampling temperature (0 to 2).
    #[prop(kind = "Number")]
    temperature: Option<Value>,
    /// Nucleus sampling.
    #[prop(kind = "Number")]
    top_p: Option<Value>,
    /// The most tokens the answer may have.
    #[prop(kind = "Integer")]
    max_tokens: Option<Value>,
    /// A JSON schema the answer must follow (JSON text or a mapping).
    #[prop(kind = "Any")]
    json_response_schema: Option<Value>,
    /// Seconds to wait for the answer.
    #[prop(kind = "Integer", default = "10")]
    client_timeout: Option<Value>,
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));

struct OpenAiChat {
    provider: Provider,
    messages: Vec<Message>,
    config: ChatConfig,
    timeout: Duration,
}

fn build(p: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let need = |k: &str| str_of(p.get(k)).ok_or_else(|| TaskError::property(k, "required"));
    let provider = Provider {
        kind: Kind::OpenAI,
        model: need("model")?,
        api_key: Some(need("apiKey")?),
        base_url: None,
        project: None,
        location: None,
        endpoint: None,
        task_type: None,
        output_dimensionality: None,
    };
    let mut messages = Vec::new();
    if let Some(v) = p.get("messages").filter(|v| !v.is_null()) {
        let Value::Array(items) = v else {
            return Err(TaskError::property("messages", "expected a list of {role, content}"));
        };
        for (i, m) in items.iter().enumerate() {
            let role = str_of(m.get("role")).unwrap_or_else(|| "user".into()).to_ascii_lowercase();
            let content = str_of(m.get("content"))
                .ok_or_else(|| TaskError::property(&format!("messages[{i}].content"), "required"))?;
            messages.push(match role.as_str() {
                "system" | "developer" => Message::System(content),
                "user" => Message::User(content),
                "assistant" => Message::Ai { text: Some(content), tool_calls: Vec::new() },
                other => {
                    return Err(TaskError::property(
                        &format!("messages[{i}].role"),
                        format!("unknown role '{other}' (system, user or assistant)"),
                    ));
                }
            });
        }
    }
    if let Some(prompt) = str_of(p.get("prompt")) {
        messages.push(Message::User(prompt));
    }
    if messages.is_empty() {
        return Err(TaskError::property("messages", "give `messages` or a `prompt`"));
    }
    let json_schema = match p.get("jsonResponseSchema") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(
            serde_json::from_str::<Value>(s)
                .map_err(|e| TaskError::property("jsonResponseSchema", format!("not a JSON schema: {e}")))?,
        ),
        Some(v @ Value::Object(_)) => Some(v.clone()),
        Some(other) => {
            return Err(TaskError::property("jsonResponseSchema", format!("expected a JSON schema, got {other}")));
        }
    };
    let config = ChatConfig {
        temperature: f64_of("temperature", p.get("temperature"))?,
        top_p: f64_of("topP", p.get("topP"))?,
        max_tokens: i64_of("maxTokens", p.get("maxTokens"))?,
        json: json_schema.is_some(),
        json_schema,
        ..ChatConfig::default()
    };
    let secs = i64_of("clientTimeout", p.get("clientTimeout"))?.unwrap_or(10);
    if secs <= 0 {
        return Err(TaskError::property("clientTimeout", format!("must be a positive number of seconds, got {secs}")));
    }
    Ok(Box::new(OpenAiChat { provider, messages, config, timeout: Duration::from_secs(secs as u64) }))
}

/// OpenAI's name of why the model stopped.
fn finish_reason(f: Option<FinishReason>) -> Value {
    match f {
        Some(FinishReason::Stop) => json!("stop"),
        Some(FinishReason::Length) => json!("length"),
        Some(FinishReason::ToolExecution) => json!("tool_calls"),
        Some(FinishReason::ContentFilter) => json!("content_filter"),
        Some(FinishReason::Other) | None => Value::Null,
    }
}

#[async_trait]
impl RunnableTask for OpenAiChat {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let tools = Toolbox::default();
        let call = converse(cx, &self.provider, self.messages.clone(), &self.config, &tools, None);
        let run = tokio::time::timeout(self.timeout, call).await.map_err(|_| {
            TaskError::failed(format!(
                "OpenAI model '{}' did not answer within clientTimeout ({} s)",
                self.provider.model,
                self.timeout.as_secs()
            ))
        })??;
        let r = &run.response;
        let mut out = Map::new();
        out.insert("id".into(), r.id.clone().map(Value::String).unwrap_or(Value::Null));
        out.insert("model".into(), Value::String(self.provider.model.clone()));
        out.insert(
            "choices".into(),
            json!([{
                "index": 0,
                "message": {"role": "assistant", "content": r.text.clone().unwrap_or_default()},
                "finishReason": finish_reason(r.finish_reason),
            }]),
        );
        out.insert(
            "usage".into(),
            json!({
                "promptTokens": run.usage.input,
                "completionTokens": run.usage.output,
                "totalTokens": run.usage.total,
            }),
        );
        Ok(TaskOutput::with(out))
    }
}
