//! `io.kestra.plugin.ai.completion.ChatCompletion`: a conversation given as
//! `messages` (`SYSTEM`/`USER`/`AI`, the last one USER) sent to `provider`
//! with `configuration` and optional `tools`; outputs Kestra's `AIOutput`
//! plus the deprecated `aiResponse`.

use async_trait::async_trait;
use serde_json::{Map, Value};

use super::agent_loop::converse;
use super::model::{ChatConfig, Message};
use super::props::{chat_config, messages};
use super::providers::Provider;
use super::tools::Toolbox;
use crate::plugins::registry::{PluginDef, PropKind, PropSpec};
use crate::plugins::{RunContext, RunnableTask, TaskError, TaskOutput};

pub const DEF: PluginDef = PluginDef {
    type_name: "io.kestra.plugin.ai.completion.ChatCompletion",
    aliases: &["io.kestra.plugin.langchain4j.ChatCompletion", "io.kestra.plugin.langchain4j.completion.ChatCompletion"],
    group: super::GROUP,
    props: &[
        PropSpec::required("messages", PropKind::List),
        PropSpec::required("provider", PropKind::Map),
        PropSpec::optional("configuration", PropKind::Map),
        PropSpec::optional("tools", PropKind::List),
        PropSpec::optional("guardrails", PropKind::Map),
        PropSpec::optional("observability", PropKind::Map),
    ],
    build,
};

struct ChatCompletion {
    messages: Vec<Message>,
    provider: Provider,
    config: ChatConfig,
    tools: Option<Value>,
}

fn build(p: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
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
        self.provider.mask(cx);
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
