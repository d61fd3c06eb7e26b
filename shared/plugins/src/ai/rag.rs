//! `io.kestra.plugin.ai.rag.ChatCompletion`: the `prompt` is embedded with
//! `embeddingProvider` (the `chatProvider` when absent), the best segments
//! of `embeddings` (`contentRetrieverConfiguration.maxResults`/`minScore`,
//! 3 and 0 by default) and of any `contentRetrievers` are put in front of
//! it, and `chatProvider` answers with `chatConfiguration` and optional
//! `tools`. Outputs Kestra's `AIOutput` (with `sources`) plus the
//! deprecated `completion`.

use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::agent_loop::converse;
use super::model::{ChatConfig, Message};
use super::props::{f64_of, i64_of, map_of, not_carried_out, refuse_not_carried_out, str_of};
use super::providers::Provider;
use super::retrievers::{self, Retriever};
use super::tools::Toolbox;
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput};

// The task reads its rendered properties itself, with the lenient readers
// of `super::props` (numbers and booleans written as strings, as Kestra's
// `Property<T>`): this struct only declares them, serde naming them.
/// Ask a chat model with retrieved context.
///
/// Retrieves documents from an embedding store and asks the model with them as context.
#[derive(Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
#[plugin(
    type = "io.kestra.plugin.ai.rag.ChatCompletion",
    aliases = ["io.kestra.plugin.langchain4j.rag.ChatCompletion"],
    group = "core",
    example = "id: rag\ntype: io.kestra.plugin.ai.rag.ChatCompletion\nchatProvider:\n  type: io.kestra.plugin.ai.provider.OpenAI\n  modelName: gpt-4o-mini\n  apiKey: \"{{ secret('OPENAI_API_KEY') }}\"\nembeddings:\n  type: io.kestra.plugin.ai.embeddings.KestraKVStore\nprompt: Which flows load taxi data?\n",
    outputs(
        textOutput(String, "The model's answer."),
        tokenUsage(Map, "Tokens used."),
        finishReason(String, "Why the model stopped.")
    ),
)]
struct Props {
    /// The user's message.
    #[prop(kind = "String", required)]
    prompt: Option<Value>,
    /// The chat model provider: {type, modelName, apiKey…}.
    #[prop(kind = "Map", required)]
    chat_provider: Option<Value>,
    /// The system message.
    #[prop(kind = "String")]
    system_message: Option<Value>,
    /// The embedding store: {type, …}.
    #[prop(kind = "Map")]
    embeddings: Option<Value>,
    /// The embedding model provider, when not the chat one.
    #[prop(kind = "Map")]
    embedding_provider: Option<Value>,
    /// Model settings of the chat model.
    #[prop(kind = "Map")]
    chat_configuration: Option<Value>,
    /// maxResults and minScore of the retrieval.
    #[prop(kind = "Map")]
    content_retriever_configuration: Option<Value>,
    /// Retrievers that add context to the prompt.
    #[prop(kind = "Any")]
    content_retrievers: Option<Value>,
    /// Tools the model may call.
    #[prop(kind = "List")]
    tools: Option<Value>,
    /// Conversation memory kept between executions: {type, ttl, messages}.
    /// Not kept by Baton yet: refused.
    #[prop(kind = "Map", check = not_carried_out)]
    memory: Option<Value>,
    /// Checks on the input and output. Not applied by Baton yet: refused.
    #[prop(kind = "Map", check = not_carried_out)]
    guardrails: Option<Value>,
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));

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
    refuse_not_carried_out(p, &["memory", "guardrails"])?;
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
        let _cleanup = super::agent_loop::WorkDirCleanup::new(cx);
        let mut all: Vec<Retriever> = Vec::new();
        if let Some(spec) = &self.embeddings {
            let store = super::embeddings::open(cx, "embeddings", spec, false).await?;
            let provider = self.embedding.clone().unwrap_or_else(|| self.chat.clone());
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
