//! Tools an agent may call (`tools`): another agent (`tool.AIAgent`), web
//! search (`tool.TavilyWebSearch`, `tool.GoogleCustomWebSearch`) and MCP
//! servers (`tool.StdioMcpClient`, `tool.DockerMcpClient`,
//! `tool.StreamableHttpMcpClient`). A [`Toolbox`] holds the declarations
//! sent to the model and runs the calls it makes.

pub mod mcp;

use serde_json::{Map, Value, json};

use super::AiError;
use super::agent_loop::{self, AgentSpec};
use super::model::ToolSpec;
use super::props::{str_of, strings_of};
use super::retrievers::{WebSearch, web_search_kind};
use crate::{RunContext, TaskError};
use mcp::McpClient;

enum Handler {
    Agent(Box<AgentSpec>),
    Web(WebSearch),
    Mcp(usize),
}

/// The tools of one agent.
#[derive(Default)]
pub struct Toolbox {
    tools: Vec<(ToolSpec, Handler)>,
    clients: Vec<McpClient>,
}

fn short(t: &str) -> Option<&str> {
    t.strip_prefix("io.kestra.plugin.ai.tool.").or_else(|| t.strip_prefix("io.kestra.plugin.langchain4j.tool."))
}

/// The list at `field`, accepting a whole-list expression rendered to JSON text.
pub fn list_of(field: &str, v: Option<&Value>) -> Result<Vec<Value>, TaskError> {
    match v {
        None | Some(Value::Null) => Ok(vec![]),
        Some(Value::Array(a)) => Ok(a.clone()),
        Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
            Ok(Value::Array(a)) => Ok(a),
            _ => Err(TaskError::property(field, "expected a list")),
        },
        Some(_) => Err(TaskError::property(field, "expected a list")),
    }
}

fn env_of(m: &Map<String, Value>) -> Vec<(String, String)> {
    m.get("env")
        .and_then(Value::as_object)
        .map(|e| e.iter().map(|(k, v)| (k.clone(), str_of(Some(v)).unwrap_or_default())).collect())
        .unwrap_or_default()
}

impl Toolbox {
    /// Builds the tools of `field` (rendered); MCP servers are started and asked for their tools.
    pub async fn build(cx: &RunContext, field: &str, v: Option<&Value>) -> Result<Toolbox, TaskError> {
        let mut tb = Toolbox::default();
        for (i, t) in list_of(field, v)?.iter().enumerate() {
            let f = format!("{field}[{i}]");
            let Value::Object(m) = t else { return Err(TaskError::property(&f, "expected a tool with a `type`")) };
            let ty = str_of(m.get("type")).unwrap_or_default();
            if web_search_kind(&ty).is_some() {
                let w = WebSearch::from_value(&f, m)?;
                let name = tb.unique("searchWeb");
                tb.tools.push((
                    ToolSpec {
                        name,
                        description: "This tool can be used to perform web searches".into(),
                        parameters: json!({"type": "object", "properties": {"query": {"type": "string", "description": "the search query"}}, "required": ["query"]}),
                    },
                    Handler::Web(w),
                ));
                continue;
            }
            match short(&ty) {
                Some("AIAgent") => {
                    let spec = AgentSpec::from_map(&f, m)?;
                    let name = str_of(m.get("name")).unwrap_or_else(|| "tool".into());
                    let description = str_of(m.get("description")).ok_or_else(|| {
                        TaskError::property(&format!("{f}.description"), "an AIAgent tool needs a description")
                    })?;
                    let tool_name = tb.unique(&format!("kestra_agent_{name}"));
                    tb.tools.push((
                        ToolSpec {
                            name: tool_name,
                            description: format!("This tool allows to call an AI agent named '{name}'. {description}"),
                            parameters: json!({"type": "object", "description": description,
                                "properties": {"prompt": {"type": "string", "description": "The AI agent prompt also called a user message"}},
                                "required": ["prompt"]}),
                        },
                        Handler::Agent(Box::new(spec)),
                    ));
                }
                Some("StdioMcpClient") | Some("DockerMcpClient") | Some("StreamableHttpMcpClient") => {
                    let kind = short(&ty).unwrap_or_default();
                    let client = tb.connect(cx, &f, kind, m).await?;
                    let specs = client.list_tools().await.map_err(|e| TaskError::failed(e.to_string()))?;
                    cx.info(&format!("{kind} {}: {} tools", f, specs.len()));
                    let idx = tb.clients.len();
                    tb.clients.push(client);
                    for s in specs {
                        tb.tools.push((s, Handler::Mcp(idx)));
                    }
                }
                _ => {
                    return Err(TaskError::property(
                        &format!("{f}.type"),
                        format!(
                            "tool '{ty}' is not supported by Baton (supported: AIAgent, TavilyWebSearch, \
                             GoogleCustomWebSearch, StdioMcpClient, DockerMcpClient, StreamableHttpMcpClient)"
                        ),
                    ));
                }
            }
        }
        Ok(tb)
    }

    fn unique(&self, base: &str) -> String {
        let mut name = base.to_string();
        let mut n = 1;
        while self.tools.iter().any(|(s, _)| s.name == name) {
            n += 1;
            name = format!("{base}_{n}");
        }
        name
    }

    async fn connect(
        &self,
        cx: &RunContext,
        f: &str,
        kind: &str,
        m: &Map<String, Value>,
    ) -> Result<McpClient, TaskError> {
        let failed = |e: mcp::McpError| TaskError::failed(e.to_string());
        match kind {
            "StdioMcpClient" => {
                let command = strings_of(&format!("{f}.command"), m.get("command"))?;
                let dir = cx.working_dir()?;
                let name = format!("'{}'", command.first().map(String::as_str).unwrap_or_default());
                McpClient::stdio(&name, &command, &env_of(m), &dir).await.map_err(failed)
            }
            "DockerMcpClient" => {
                let image = str_of(m.get("image"))
                    .ok_or_else(|| TaskError::property(&format!("{f}.image"), "DockerMcpClient needs an image"))?;
                let docker = cx.services.config.scripts.docker_bin.display().to_string();
                let mut cmd = vec![docker, "run".into(), "-i".into(), "--rm".into()];
                for b in strings_of(&format!("{f}.binds"), m.get("binds"))? {
                    cmd.push("-v".into());
                    cmd.push(b);
                }
                for (k, v) in env_of(m) {
                    cmd.push("-e".into());
                    cmd.push(format!("{k}={v}"));
                }
                cmd.push(image.clone());
                cmd.extend(strings_of(&format!("{f}.command"), m.get("command"))?);
                let dir = cx.working_dir()?;
                McpClient::stdio(&image, &cmd, &[], &dir).await.map_err(failed)
            }
            _ => {
                let url = str_of(m.get("url"))
                    .ok_or_else(|| TaskError::property(&format!("{f}.url"), "StreamableHttpMcpClient needs a url"))?;
                let headers: Vec<(String, String)> = m
                    .get("headers")
                    .and_then(Value::as_object)
                    .map(|h| h.iter().map(|(k, v)| (k.clone(), str_of(Some(v)).unwrap_or_default())).collect())
                    .unwrap_or_default();
                McpClient::http(&url, cx.services.http.client(), &url, headers).await.map_err(failed)
            }
        }
    }

    /// The declarations for the model.
    pub fn specs(&self) -> Vec<ToolSpec> {
        self.tools.iter().map(|(s, _)| s.clone()).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.tools.is_empty()
    }

    /// Runs one call; the text result for the model.
    pub async fn call(&self, cx: &RunContext, name: &str, args: &Value) -> Result<String, AiError> {
        let Some((_, h)) = self.tools.iter().find(|(s, _)| s.name == name) else {
            return Err(AiError::Tool {
                tool: name.to_string(),
                cause: "the model called a tool that does not exist".into(),
            });
        };
        let arg = |k: &str| args.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
        match h {
            Handler::Web(w) => {
                let found = w.search(cx, &arg("query")).await?;
                Ok(found.iter().map(|c| c.text.as_str()).collect::<Vec<_>>().join("\n\n"))
            }
            Handler::Agent(spec) => {
                let run = Box::pin(agent_loop::run_agent(cx, spec, &arg("prompt")))
                    .await
                    .map_err(|e| AiError::Tool { tool: name.to_string(), cause: e.to_string() })?;
                Ok(run.response.text.unwrap_or_default())
            }
            Handler::Mcp(i) => self.clients[*i]
                .call_tool(name, args)
                .await
                .map_err(|e| AiError::Tool { tool: name.to_string(), cause: e.to_string() }),
        }
    }
}
