//! The conversation loop every AI task runs: send the messages, and while
//! the model asks for tools, run each call (logged), send the results back
//! and ask again — at most `maxSequentialToolsInvocations` calls (Kestra's
//! default is unlimited; Baton stops at [`DEFAULT_MAX_TOOL_CALLS`] so a
//! looping model cannot run forever). [`AgentSpec`] is what `AIAgent`
//! (the task and the tool) is made of.

use std::time::Instant;

use serde_json::{Map, Value, json};

use super::AiError;
use super::model::{ChatConfig, ChatRequest, ChatResponse, Message, TokenUsage};
use super::props::{chat_config, i64_of, str_of};
use super::providers::Provider;
use super::retrievers::{self, Content};
use super::tools::Toolbox;
use crate::{RunContext, TaskError};

/// Removes the task's working directory (where MCP servers ran and files
/// were written) when dropped, unless `BATON_KEEP_WORKING_DIRS` keeps it.
pub struct WorkDirCleanup(Option<std::path::PathBuf>);

impl WorkDirCleanup {
    pub fn new(cx: &RunContext) -> WorkDirCleanup {
        let keep = cx.services.config.scripts.keep_working_dirs;
        WorkDirCleanup((!keep).then(|| cx.working_dir_path()))
    }
}

impl Drop for WorkDirCleanup {
    fn drop(&mut self) {
        if let Some(d) = &self.0
            && d.exists()
        {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

/// The bound on tool calls when the flow sets none.
pub const DEFAULT_MAX_TOOL_CALLS: usize = 100;

/// What one conversation produced.
pub struct Run {
    /// The last answer.
    pub response: ChatResponse,
    /// Usage summed over every call.
    pub usage: TokenUsage,
    /// Kestra's `toolExecutions`.
    pub tool_executions: Vec<Value>,
    /// Kestra's `intermediateResponses`.
    pub intermediate: Vec<Value>,
    /// Retrieved contents (Kestra's `sources`).
    pub sources: Vec<Content>,
    pub duration_ms: u64,
}

/// Runs `messages` to the final answer.
pub async fn converse(
    cx: &RunContext,
    provider: &Provider,
    messages: Vec<Message>,
    config: &ChatConfig,
    tools: &Toolbox,
    max_tool_calls: Option<usize>,
) -> Result<Run, AiError> {
    let start = Instant::now();
    let max = max_tool_calls.unwrap_or(DEFAULT_MAX_TOOL_CALLS);
    let mut req = ChatRequest { messages, tools: tools.specs(), config: config.clone() };
    let mut usage = TokenUsage::default();
    let mut executions = Vec::new();
    let mut intermediate = Vec::new();
    let mut calls = 0usize;
    loop {
        let resp = provider.chat(cx, &req).await?;
        usage.add(resp.usage);
        if resp.tool_calls.is_empty() {
            return Ok(Run {
                response: resp,
                usage,
                tool_executions: executions,
                intermediate,
                sources: vec![],
                duration_ms: start.elapsed().as_millis() as u64,
            });
        }
        intermediate.push(json!({
            "id": resp.id, "completion": resp.text, "tokenUsage": resp.usage.to_json(),
            "finishReason": resp.finish_reason.map(|f| f.as_str()),
            "requestDuration": start.elapsed().as_millis() as u64,
        }));
        req.messages.push(Message::Ai { text: resp.text.clone(), tool_calls: resp.tool_calls.clone() });
        for call in &resp.tool_calls {
            calls += 1;
            if calls > max {
                return Err(AiError::Tool {
                    tool: call.name.clone(),
                    cause: format!(
                        "the model made more than {max} tool calls (maxSequentialToolsInvocations{}); it may be looping",
                        if max_tool_calls.is_none() { ", Baton's default bound" } else { "" }
                    ),
                });
            }
            cx.info(&format!("tool call {calls}: {}({})", call.name, call.arguments));
            let result = tools.call(cx, &call.name, &call.arguments).await.inspect_err(|e| cx.warn(&e.to_string()))?;
            cx.info(&format!("tool {} returned {} characters", call.name, result.chars().count()));
            let mut args = Map::new();
            if let Value::Object(a) = &call.arguments {
                args = a.clone();
            }
            executions.push(
                json!({"requestId": call.id, "requestName": call.name, "requestArguments": args, "result": result}),
            );
            req.messages.push(Message::ToolResult { id: call.id.clone(), name: call.name.clone(), result });
        }
    }
}

/// An agent: provider, instructions, tools, retrievers and bound.
#[derive(Debug, Clone)]
pub struct AgentSpec {
    pub field: String,
    pub provider: Provider,
    pub system: Option<String>,
    pub config: ChatConfig,
    pub tools: Option<Value>,
    pub retrievers: Option<Value>,
    pub max_tool_calls: Option<usize>,
}

impl AgentSpec {
    /// Reads an agent from rendered properties (the task's, or a `tool.AIAgent`'s at `field`).
    pub fn from_map(field: &str, m: &Map<String, Value>) -> Result<AgentSpec, TaskError> {
        let f = |k: &str| if field.is_empty() { k.to_string() } else { format!("{field}.{k}") };
        let provider = Provider::from_value(&f("provider"), m.get("provider").unwrap_or(&Value::Null))?;
        let max = i64_of(&f("maxSequentialToolsInvocations"), m.get("maxSequentialToolsInvocations"))?;
        Ok(AgentSpec {
            field: field.to_string(),
            provider,
            system: str_of(m.get("systemMessage")),
            config: chat_config(&f("configuration"), m.get("configuration"))?,
            tools: m.get("tools").cloned(),
            retrievers: m.get("contentRetrievers").cloned(),
            max_tool_calls: max.map(|n| n.max(0) as usize),
        })
    }
}

/// Runs an agent on `prompt`: retrieval first (every retriever, as
/// langchain4j's default router does), then the conversation with tools.
pub async fn run_agent(cx: &RunContext, spec: &AgentSpec, prompt: &str) -> Result<Run, TaskError> {
    let f = |k: &str| if spec.field.is_empty() { k.to_string() } else { format!("{}.{k}", spec.field) };
    let retrievers = retrievers::parse_list(cx, &f("contentRetrievers"), spec.retrievers.as_ref()).await?;
    let tools = Toolbox::build(cx, &f("tools"), spec.tools.as_ref()).await?;
    let mut contents = Vec::new();
    for r in &retrievers {
        contents.extend(r.retrieve(cx, prompt).await.map_err(AiError::into_task)?);
    }
    let mut messages = Vec::new();
    if let Some(s) = &spec.system {
        messages.push(Message::System(s.clone()));
    }
    messages.push(Message::User(retrievers::augment(prompt, &contents)));
    let mut run = converse(cx, &spec.provider, messages, &spec.config, &tools, spec.max_tool_calls)
        .await
        .map_err(AiError::into_task)?;
    run.sources = contents;
    Ok(run)
}
