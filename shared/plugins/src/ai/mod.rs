//! Kestra's AI plugin (`io.kestra.plugin.ai.*`, and the older
//! `io.kestra.plugin.langchain4j.*` names): chat completion, agents with
//! tools and content retrievers, document ingestion into embedding stores
//! and RAG chat, over Google Gemini, Vertex AI and OpenAI-compatible
//! providers. Tasks are in [`chat`], [`agent`], [`ingest`] and [`rag`]; the
//! providers' protocols in [`providers`]; stores in [`embeddings`]. The
//! single-vendor plugins (Anthropic, DeepSeek, Perplexity, OpenAI's
//! Responses and CreateImage, Hugging Face) are in [`vendors`].

pub mod agent;
pub mod agent_loop;
pub mod chat;
pub mod config;
pub mod embeddings;
pub mod http;
pub mod ingest;
pub mod model;
pub mod openai_chat;
pub mod output;
pub mod props;
pub mod providers;
pub mod rag;
pub mod retrievers;
pub mod split;
pub mod tools;
pub mod vendors;

pub use config::AiConfig;

use super::{Registry, TaskError};

/// A failure of an AI call, a tool or a store. Messages name the
/// provider and model (or the tool, or the store) and never hold a key.
#[derive(Debug, thiserror::Error)]
pub enum AiError {
    #[error("{callee}: {cause}")]
    Call { callee: String, cause: String },
    #[error("tool '{tool}': {cause}")]
    Tool { tool: String, cause: String },
    #[error("{0}")]
    Store(String),
}

impl AiError {
    pub fn into_task(self) -> TaskError {
        TaskError::Failed(self.to_string())
    }
}

impl From<AiError> for TaskError {
    fn from(e: AiError) -> TaskError {
        e.into_task()
    }
}

/// Registers the AI tasks. They run in the `core` worker group (their
/// `#[plugin(group)]`): they only make HTTP calls (and, for PGVector,
/// PostgreSQL ones).
pub fn register(r: &mut Registry) {
    for def in [*chat::DEF, *agent::DEF, *ingest::DEF, *rag::DEF, *openai_chat::DEF] {
        r.register(def);
    }
    for def in [
        *vendors::anthropic::DEF,
        *vendors::deepseek::DEF,
        *vendors::perplexity::DEF,
        *vendors::openai_responses::DEF,
        *vendors::openai_image::DEF,
        *vendors::huggingface::DEF,
    ] {
        r.register(def);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_and_langchain4j_names_resolve() {
        let r = Registry::builtin();
        for (t, want) in [
            ("io.kestra.plugin.ai.completion.ChatCompletion", "io.kestra.plugin.ai.completion.ChatCompletion"),
            ("io.kestra.plugin.langchain4j.ChatCompletion", "io.kestra.plugin.ai.completion.ChatCompletion"),
            ("io.kestra.plugin.langchain4j.completion.ChatCompletion", "io.kestra.plugin.ai.completion.ChatCompletion"),
            ("io.kestra.plugin.ai.agent.AIAgent", "io.kestra.plugin.ai.agent.AIAgent"),
            ("io.kestra.plugin.ai.rag.IngestDocument", "io.kestra.plugin.ai.rag.IngestDocument"),
            ("io.kestra.plugin.langchain4j.rag.IngestDocument", "io.kestra.plugin.ai.rag.IngestDocument"),
            ("io.kestra.plugin.ai.rag.ChatCompletion", "io.kestra.plugin.ai.rag.ChatCompletion"),
            ("io.kestra.plugin.langchain4j.rag.ChatCompletion", "io.kestra.plugin.ai.rag.ChatCompletion"),
        ] {
            let def = r.get(t).unwrap_or_else(|| panic!("{t} not registered"));
            assert_eq!(def.type_name, want);
        }
    }

    #[test]
    fn plugin_defaults_reach_the_providers_nested_in_tasks_and_tools() {
        let flow = serde_json::json!({
            "id": "f", "namespace": "n",
            "tasks": [
                {"id": "a", "type": "io.kestra.plugin.ai.agent.AIAgent", "prompt": "p"},
                {"id": "b", "type": "io.kestra.plugin.ai.agent.AIAgent", "prompt": "p",
                 "provider": {"type": "io.kestra.plugin.ai.provider.GoogleGemini"},
                 "tools": [{"type": "io.kestra.plugin.ai.tool.AIAgent", "description": "d",
                            "provider": {"type": "io.kestra.plugin.ai.provider.GoogleGemini", "modelName": "own"}}]}
            ],
            "pluginDefaults": [
                {"type": "io.kestra.plugin.ai.agent.AIAgent",
                 "values": {"provider": {"type": "io.kestra.plugin.ai.provider.GoogleGemini"}}},
                {"type": "io.kestra.plugin.ai.provider.GoogleGemini", "values": {"modelName": "m", "apiKey": "k"}},
                {"type": "io.kestra.plugin.ai", "values": {"systemMessage": "s"}}
            ]
        });
        let (f, problems) = baton_model::Flow::from_value(&flow, "");
        assert!(problems.is_empty(), "{problems:?}");
        let f = f.unwrap();
        assert_eq!(f.tasks[0].props["provider"]["modelName"], "m");
        assert_eq!(f.tasks[1].props["provider"]["apiKey"], "k");
        let tool = &f.tasks[1].props["tools"][0]["provider"];
        assert_eq!(tool["modelName"], "own", "a value written wins");
        assert_eq!(tool["apiKey"], "k");
        assert_eq!(f.tasks[0].props["systemMessage"], "s", "a package default fills the task");
        assert!(tool.get("systemMessage").is_none(), "but not the plugins nested in it: {tool}");
    }
}
