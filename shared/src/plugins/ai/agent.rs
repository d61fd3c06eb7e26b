//! `io.kestra.plugin.ai.agent.AIAgent`: `prompt` and `systemMessage` sent
//! to `provider` (often from `pluginDefaults`) with `configuration`,
//! `tools`, `contentRetrievers` and `maxSequentialToolsInvocations`;
//! `outputFiles` are collected from the task's working directory (where
//! MCP tools such as a filesystem server write). `memory` is not kept
//! across executions yet: it is accepted and ignored with a warning.

use async_trait::async_trait;
use serde_json::{Map, Value};

use super::agent_loop::{AgentSpec, run_agent};
use super::props::{str_of, strings_of};
use crate::plugins::registry::{PluginDef, PropKind, PropSpec};
use crate::plugins::{RunContext, RunnableTask, TaskError, TaskOutput};

pub const DEF: PluginDef = PluginDef {
    type_name: "io.kestra.plugin.ai.agent.AIAgent",
    aliases: &[],
    group: super::GROUP,
    props: &[
        PropSpec::required("prompt", PropKind::String),
        PropSpec::required("provider", PropKind::Map),
        PropSpec::optional("systemMessage", PropKind::String),
        PropSpec::optional("configuration", PropKind::Map),
        PropSpec::optional("tools", PropKind::List),
        PropSpec::optional("contentRetrievers", PropKind::Any),
        PropSpec::optional("maxSequentialToolsInvocations", PropKind::Integer),
        PropSpec::optional("outputFiles", PropKind::List),
        PropSpec::optional("memory", PropKind::Map),
        PropSpec::optional("guardrails", PropKind::Map),
        PropSpec::optional("observability", PropKind::Map),
    ],
    build,
};

struct AIAgent {
    prompt: String,
    spec: AgentSpec,
    output_files: Vec<String>,
    memory: bool,
}

fn build(p: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    Ok(Box::new(AIAgent {
        prompt: str_of(p.get("prompt")).ok_or_else(|| TaskError::property("prompt", "the prompt is empty"))?,
        spec: AgentSpec::from_map("", p)?,
        output_files: strings_of("outputFiles", p.get("outputFiles"))?,
        memory: p.get("memory").is_some_and(|m| !m.is_null()),
    }))
}

#[async_trait]
impl RunnableTask for AIAgent {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        self.spec.provider.mask(cx);
        let _cleanup = super::agent_loop::WorkDirCleanup::new(cx);
        if self.memory {
            cx.warn("memory is not supported by Baton yet: this agent starts without previous messages");
        }
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
    let out = crate::plugins::scripts::files::upload_output_files(cx, &dir, patterns, &[], false).await?;
    for p in patterns {
        if !p.contains(['*', '?', '[', '{']) && !out.contains_key(p) {
            cx.warn(&format!("output file '{p}' was not created by the agent"));
        }
    }
    Ok(out)
}
