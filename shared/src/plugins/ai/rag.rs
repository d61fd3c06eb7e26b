//! `io.kestra.plugin.ai.rag.ChatCompletion`: the `prompt` is embedded with
//! `embeddingProvider` (the `chatProvider` when absent), the best segments
//! of `embeddings` (`contentRetrieverConfiguration.maxResults`/`minScore`,
//! 3 and 0 by default) and of any `contentRetrievers` are put in front of
//! it, and `chatProvider` answers with `chatConfiguration` and optional
//! `tools`. Outputs Kestra's `AIOutput` (with `sources`) plus the
//! deprecated `completion`.

use async_trait::async_trait;
use serde_json::{Map, Value};

use super::agent_loop::converse;
use super::model::{ChatConfig, Message};
use super::props::{f64_of, i64_of, map_of, str_of};
use super::providers::Provider;
use super::retrievers::{self, Retriever};
use super::tools::Toolbox;
use crate::plugins::registry::{PluginDef, PropKind, PropSpec};
use crate::plugins::{RunContext, RunnableTask, TaskError, TaskOutput};

pub const DEF: PluginDef = PluginDef {
    type_name: "io.kestra.plugin.ai.rag.ChatCompletion",
    aliases: &["io.kestra.plugin.langchain4j.rag.ChatCompletion"],
    group: super::GROUP,
    props: &[
        PropSpec::required("prompt", PropKind::String),
        PropSpec::required("chatProvider", PropKind::Map),
        PropSpec::optional("systemMessage", PropKind::String),
        PropSpec::optional("embeddings", PropKind::Map),
        PropSpec::optional("embeddingProvider", PropKind::Map),
        PropSpec::optional("chatConfiguration", PropKind::Map),
        PropSpec::optional("contentRetrieverConfiguration", PropKind::Map),
        PropSpec::optional("contentRetrievers", PropKind::Any),
        PropSpec::optional("tools", PropKind::List),
        PropSpec::optional("memory", PropKind::Map),
        PropSpec::optional("guardrails", PropKind::Map),
    ],
    build,
};

struct RagChat {
    prompt: String,
    system: Option<String>,
    chat: Provider,
    embedding: Option<Provider>,
    embeddings: Option<Value>,
    config: ChatConfig,
    max_results: usize,
    min_score: f64,
    retrievers: Option<Value>,
    tools: Option<Value>,
}

fn build(p: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let crc = map_of("contentRetrieverConfiguration", p.get("contentRetrieverConfiguration"))?.unwrap_or_default();
    let embeddings = p.get("embeddings").filter(|v| !v.is_null()).cloned();
    let retrievers = p.get("contentRetrievers").filter(|v| !v.is_null()).cloned();
    if embeddings.is_none() && retrievers.is_none() {
        return Err(TaskError::property("embeddings", "either `embeddings` or `contentRetrievers` must be provided"));
    }
    Ok(Box::new(RagChat {
        prompt: str_of(p.get("prompt")).ok_or_else(|| TaskError::property("prompt", "the prompt is empty"))?,
        system: str_of(p.get("systemMessage")),
        chat: Provider::from_value("chatProvider", p.get("chatProvider").unwrap_or(&Value::Null))?,
        embedding: match p.get("embeddingProvider") {
            None | Some(Value::Null) => None,
            Some(v) => Some(Provider::from_value("embeddingProvider", v)?),
        },
        embeddings,
        config: super::props::chat_config("chatConfiguration", p.get("chatConfiguration"))?,
        max_results: i64_of("contentRetrieverConfiguration.maxResults", crc.get("maxResults"))?.unwrap_or(3).max(1)
            as usize,
        min_score: f64_of("contentRetrieverConfiguration.minScore", crc.get("minScore"))?.unwrap_or(0.0),
        retrievers,
        tools: p.get("tools").cloned(),
    }))
}

#[async_trait]
impl RunnableTask for RagChat {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        self.chat.mask(cx);
        let _cleanup = super::agent_loop::WorkDirCleanup::new(cx);
        let mut all: Vec<Retriever> = Vec::new();
        if let Some(spec) = &self.embeddings {
            let store = super::embeddings::open(cx, "embeddings", spec, false).await?;
            let provider = self.embedding.clone().unwrap_or_else(|| self.chat.clone());
            provider.mask(cx);
            all.push(Retriever::Store { store, provider, max_results: self.max_results, min_score: self.min_score });
        }
        all.extend(retrievers::parse_list(cx, "contentRetrievers", self.retrievers.as_ref()).await?);
        let mut contents = Vec::new();
        for r in &all {
            contents.extend(r.retrieve(cx, &self.prompt).await?);
        }
        let tools = Toolbox::build(cx, "tools", self.tools.as_ref()).await?;
        let mut messages = Vec::new();
        if let Some(s) = &self.system {
            messages.push(Message::System(s.clone()));
        }
        messages.push(Message::User(retrievers::augment(&self.prompt, &contents)));
        let mut run = converse(cx, &self.chat, messages, &self.config, &tools, None).await?;
        run.sources = contents;
        let mut out = super::output::outputs(&run, &self.config, &self.chat)?;
        if let Some(t) = out.get("textOutput").cloned() {
            out.insert("completion".into(), t);
        }
        Ok(TaskOutput::with(out))
    }
}
