//! `io.kestra.plugin.ai.completion.ChatCompletion`: a conversation given as
//! `messages` (`SYSTEM`/`USER`/`AI`, the last one USER) sent to `provider`
//! with `configuration` and optional `tools`; outputs Kestra's `AIOutput`
//! plus the deprecated `aiResponse`.

use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::agent_loop::converse;
use super::model::{ChatConfig, Message};
use super::props::{chat_config, messages, not_carried_out, refuse_not_carried_out};
use super::providers::Provider;
use super::tools::Toolbox;
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput};

// The task reads its rendered properties itself, with the lenient readers
// of `super::props` (numbers and booleans written as strings, as Kestra's
// `Property<T>`): this struct only declares them, serde naming them.
/// Ask a chat model.
///
/// Sends messages to an LLM provider and returns its answer.
#[derive(Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
#[plugin(
    type = "io.kestra.plugin.ai.completion.ChatCompletion",
    aliases = ["io.kestra.plugin.langchain4j.ChatCompletion", "io.kestra.plugin.langchain4j.completion.ChatCompletion"],
    group = "core",
    example = "id: ask\ntype: io.kestra.plugin.ai.completion.ChatCompletion\nprovider:\n  type: io.kestra.plugin.ai.provider.OpenAI\n  modelName: gpt-4o-mini\n  apiKey: \"{{ secret('OPENAI_API_KEY') }}\"\nmessages:\n  - type: USER\n    content: Summarize today's run in one line.\n",
    outputs(
        textOutput(String, "The model's answer."),
        tokenUsage(Map, "Tokens used."),
        finishReason(String, "Why the model stopped.")
    ),
)]
struct Props {
    /// The conversation: [{type: SYSTEM|USER|AI, content}].
    #[prop(kind = "List", required)]
    messages: Option<Value>,
    /// The model provider: {type, modelName, apiKey, baseUrl…}.
    #[prop(kind = "Map", required)]
    provider: Option<Value>,
    /// Model settings: temperature, topP, maxToken, seed…
    #[prop(kind = "Map")]
    configuration: Option<Value>,
    /// Tools the model may call.
    #[prop(kind = "List")]
    tools: Option<Value>,
    /// Checks on the input and output. Not applied by Baton yet: refused.
    #[prop(kind = "Map", check = not_carried_out)]
    guardrails: Option<Value>,
    /// Tracing options. Not applied by Baton yet: refused.
    #[prop(kind = "Map", check = not_carried_out)]
    observability: Option<Value>,
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));

struct ChatCompletion {
    messages: Vec<Message>,
    provider: Provider,
    config: ChatConfig,
    tools: Option<Value>,
}

fn build(p: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    refuse_not_carried_out(p, &["guardrails", "observability"])?;
    Ok(Box::new(ChatCompletion {
        messages: messages(p.get("messages"))?,
        provider: Provider::from_value("provider", p.get("provider").unwrap_or(&Value::Null))?,
        config: chat_config("configuration", p.get("configuration"))?,
        tools: p.get("tools").cloned(),
    }))
}

#[async_trait]
impl RunnableTask for ChatCompletion {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let _cleanup = super::agent_loop::WorkDirCleanup::new(cx);
        let tools = Toolbox::build(cx, "tools", self.tools.as_ref()).await?;
        let run = converse(cx, &self.provider, self.messages.clone(), &self.config, &tools, None).await?;
        let mut out = super::output::outputs(&run, &self.config, &self.provider)?;
        if let Some(t) = out.get("textOutput").cloned() {
            out.insert("aiResponse".into(), t);
        }
        Ok(TaskOutput::with(out))
    }
}
