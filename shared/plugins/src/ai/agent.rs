//! `io.kestra.plugin.ai.agent.AIAgent`: `prompt` and `systemMessage` sent
//! to `provider` (often from `pluginDefaults`) with `configuration`,
//! `tools`, `contentRetrievers` and `maxSequentialToolsInvocations`;
//! `outputFiles` are collected from the task's working directory (where
//! MCP tools such as a filesystem server write). `memory`, `guardrails`
//! and `observability` are not carried out yet: they are refused.

use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::agent_loop::{AgentSpec, run_agent};
use super::props::{not_carried_out, refuse_not_carried_out, str_of, strings_of};
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput};

// The task reads its rendered properties itself, with the lenient readers
// of `super::props` (numbers and booleans written as strings, as Kestra's
// `Property<T>`): this struct only declares them, serde naming them.
/// Run an AI agent with tools.
///
/// Lets a model answer a prompt, calling tools (and retrievers) in a loop.
#[derive(Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
#[plugin(
    type = "io.kestra.plugin.ai.agent.AIAgent",
    group = "core",
    example = "id: agent\ntype: io.kestra.plugin.ai.agent.AIAgent\nprovider:\n  type: io.kestra.plugin.ai.provider.OpenAI\n  modelName: gpt-4o-mini\n  apiKey: \"{{ secret('OPENAI_API_KEY') }}\"\nprompt: What is the capital of France?\n",
    outputs(
        textOutput(String, "The model's answer."),
        tokenUsage(Map, "Tokens used."),
        finishReason(String, "Why the model stopped.")
    )
)]
struct Props {
    /// The user's message.
    #[prop(kind = "String", required)]
    prompt: Option<Value>,
    /// The model provider: {type, modelName, apiKey, baseUrl…}.
    #[prop(kind = "Map", required)]
    provider: Option<Value>,
    /// The system message.
    #[prop(kind = "String")]
    system_message: Option<Value>,
    /// Model settings: temperature, topP, maxToken, seed…
    #[prop(kind = "Map")]
    configuration: Option<Value>,
    /// Tools the model may call.
    #[prop(kind = "List")]
    tools: Option<Value>,
    /// Retrievers that add context to the prompt.
    #[prop(kind = "Any")]
    content_retrievers: Option<Value>,
    /// Tool calls allowed in a row.
    #[prop(kind = "Integer")]
    max_sequential_tools_invocations: Option<Value>,
    /// Files of the working directory kept as outputs.
    #[prop(kind = "List")]
    output_files: Option<Value>,
    /// Conversation memory kept between executions: {type, ttl, messages}.
    /// Not kept by Baton yet: refused.
    #[prop(kind = "Map", check = not_carried_out)]
    memory: Option<Value>,
    /// Checks on the input and output. Not applied by Baton yet: refused.
    #[prop(kind = "Map", check = not_carried_out)]
    guardrails: Option<Value>,
    /// Tracing options. Not applied by Baton yet: refused.
    #[prop(kind = "Map", check = not_carried_out)]
    observability: Option<Value>,
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));

struct AIAgent {
    prompt: String,
    spec: AgentSpec,
    output_files: Vec<String>,
}

fn build(p: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    refuse_not_carried_out(p, &["memory", "guardrails", "observability"])?;
    Ok(Box::new(AIAgent {
        prompt: str_of(p.get("prompt")).ok_or_else(|| TaskError::property("prompt", "the prompt is empty"))?,
        spec: AgentSpec::from_map("", p)?,
        output_files: strings_of("outputFiles", p.get("outputFiles"))?,
    }))
}

#[async_trait]
impl RunnableTask for AIAgent {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let _cleanup = super::agent_loop::WorkDirCleanup::new(cx);
        let run = run_agent(cx, &self.spec, &self.prompt).await?;
        let mut out = super::output::outputs(&run, &self.spec.config, &self.spec.provider)?;
        if !self.output_files.is_empty() {
            out.insert("outputFiles".into(), Value::Object(collect_files(cx, &self.output_files).await?));
        }
        Ok(TaskOutput::with(out))
    }
}

/// Uploads the working directory's files matching `patterns` (globs), as script tasks do.
async fn collect_files(cx: &RunContext, patterns: &[String]) -> Result<Map<String, Value>, TaskError> {
    let dir = cx.working_dir()?;
    let out = crate::scripts::files::upload_output_files(cx, &dir, patterns, &[], false).await?;
    for p in patterns {
        if !p.contains(['*', '?', '[', '{']) && !out.contains_key(p) {
            cx.warn(&format!("output file '{p}' was not created by the agent"));
        }
    }
    Ok(out)
}
