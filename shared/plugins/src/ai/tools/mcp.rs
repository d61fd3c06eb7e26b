//! A Model Context Protocol client (JSON-RPC 2.0, protocol 2025-06-18):
//! `initialize`, `notifications/initialized`, `tools/list`, `tools/call`,
//! over stdio (a child process, newline-delimited JSON: `StdioMcpClient`,
//! and `DockerMcpClient` as `docker run -i` through the Docker CLI) or over
//! streamable HTTP (`StreamableHttpMcpClient`: POST, the answer as JSON or
//! as a server-sent event, `Mcp-Session-Id` kept).
//!
//! Hand-written: the official Rust SDK (`rmcp`) is sound but brings its own
//! transport stack and a large dependency tree for the four calls an agent
//! needs; this client is small and its stdio transport is tested against a
//! real child process.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout};
use tokio::sync::Mutex;

use crate::ai::model::ToolSpec;

/// How long one MCP request may take.
const TIMEOUT: Duration = Duration::from_secs(120);

/// A failure talking to an MCP server.
#[derive(Debug, thiserror::Error)]
#[error("MCP server {server}: {message}")]
pub struct McpError {
    pub server: String,
    pub message: String,
}

enum Transport {
    Stdio { _child: Box<Child>, stdin: ChildStdin, stdout: Box<Lines<BufReader<ChildStdout>>> },
    Http { http: reqwest::Client, url: String, headers: Vec<(String, String)>, session: Option<String> },
}

/// A connected client.
pub struct McpClient {
    name: String,
    transport: Mutex<Transport>,
    next_id: std::sync::atomic::AtomicU64,
}

impl McpClient {
    /// Starts `command` and initializes the session.
    pub async fn stdio(
        name: &str,
        command: &[String],
        env: &[(String, String)],
        dir: &std::path::Path,
    ) -> Result<McpClient, McpError> {
        let err = |m: String| McpError { server: name.to_string(), message: m };
        let (prog, args) = command.split_first().ok_or_else(|| err("the command is empty".into()))?;
        let mut cmd = tokio::process::Command::new(prog);
        cmd.args(args)
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        let mut child = cmd.spawn().map_err(|e| err(format!("cannot start '{prog}': {e}")))?;
        let stdin = child.stdin.take().ok_or_else(|| err("no stdin".into()))?;
        let stdout = Box::new(BufReader::new(child.stdout.take().ok_or_else(|| err("no stdout".into()))?).lines());
        let c = McpClient {
            name: name.to_string(),
            transport: Mutex::new(Transport::Stdio { _child: Box::new(child), stdin, stdout }),
            next_id: 1.into(),
        };
        c.initialize().await?;
        Ok(c)
    }

    /// Connects to a streamable HTTP server and initializes the session.
    pub async fn http(
        name: &str,
        http: reqwest::Client,
        url: &str,
        headers: Vec<(String, String)>,
    ) -> Result<McpClient, McpError> {
        let c = McpClient {
            name: name.to_string(),
            transport: Mutex::new(Transport::Http { http, url: url.to_string(), headers, session: None }),
            next_id: 1.into(),
        };
        c.initialize().await?;
        Ok(c)
    }

    fn err(&self, m: impl Into<String>) -> McpError {
        McpError { server: self.name.clone(), message: m.into() }
    }

    async fn initialize(&self) -> Result<(), McpError> {
        self.request(
            "initialize",
            json!({"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "baton", "version": env!("CARGO_PKG_VERSION")}}),
        )
        .await?;
        self.notify("notifications/initialized").await
    }

    async fn notify(&self, method: &str) -> Result<(), McpError> {
        let msg = json!({"jsonrpc": "2.0", "method": method});
        let mut t = self.transport.lock().await;
        match &mut *t {
            Transport::Stdio { stdin, .. } => write_line(stdin, &msg).await.map_err(|e| self.err(e)),
            Transport::Http { http, url, headers, session } => {
                let rb = http_request(http, url, headers, session, &msg);
                rb.send().await.map_err(|e| self.err(format!("cannot reach {url}: {e}")))?;
                Ok(())
            }
        }
    }

    /// One request; returns its `result`.
    pub async fn request(&self, method: &str, params: Value) -> Result<Value, McpError> {
        let id = self.next_id.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let msg = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let mut t = self.transport.lock().await;
        let answer = match &mut *t {
            Transport::Stdio { stdin, stdout, .. } => {
                write_line(stdin, &msg).await.map_err(|e| self.err(e))?;
                tokio::time::timeout(TIMEOUT, read_answer(stdout, id))
                    .await
                    .map_err(|_| self.err(format!("no answer to '{method}' within {} s", TIMEOUT.as_secs())))?
                    .map_err(|e| self.err(e))?
            }
            Transport::Http { http, url, headers, session } => {
                let resp = http_request(http, url, headers, session, &msg)
                    .timeout(TIMEOUT)
                    .send()
                    .await
                    .map_err(|e| self.err(format!("cannot reach {url}: {e}")))?;
                if let Some(s) = resp.headers().get("mcp-session-id").and_then(|v| v.to_str().ok()) {
                    *session = Some(s.to_string());
                }
                let status = resp.status();
                let sse = resp
                    .headers()
                    .get(reqwest::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.starts_with("text/event-stream"));
                let body = resp.text().await.map_err(|e| self.err(e.to_string()))?;
                if !status.is_success() {
                    return Err(self.err(format!(
                        "HTTP {}: {}",
                        status.as_u16(),
                        body.chars().take(300).collect::<String>()
                    )));
                }
                if sse { answer_in_events(&body, id) } else { serde_json::from_str(&body).ok() }
                    .ok_or_else(|| self.err(format!("no JSON-RPC answer to '{method}'")))?
            }
        };
        if let Some(e) = answer.get("error") {
            return Err(
                self.err(format!("'{method}' failed: {}", e.get("message").and_then(Value::as_str).unwrap_or("error")))
            );
        }
        Ok(answer.get("result").cloned().unwrap_or(Value::Null))
    }

    /// The server's tools.
    pub async fn list_tools(&self) -> Result<Vec<ToolSpec>, McpError> {
        let r = self.request("tools/list", json!({})).await?;
        Ok(r.get("tools")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|t| ToolSpec {
                name: t.get("name").and_then(Value::as_str).unwrap_or_default().to_string(),
                description: t.get("description").and_then(Value::as_str).unwrap_or_default().to_string(),
                parameters: t.get("inputSchema").cloned().unwrap_or_else(|| json!({"type": "object"})),
            })
            .collect())
    }

    /// Calls a tool; its text contents joined, or an error when the server flags one.
    pub async fn call_tool(&self, name: &str, arguments: &Value) -> Result<String, McpError> {
        let r = self.request("tools/call", json!({"name": name, "arguments": arguments})).await?;
        let text: Vec<String> = r
            .get("content")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|c| match c.get("text").and_then(Value::as_str) {
                Some(t) => t.to_string(),
                None => c.to_string(),
            })
            .collect();
        let text = text.join("\n");
        if r.get("isError").and_then(Value::as_bool) == Some(true) {
            return Err(self.err(format!("tool '{name}' failed: {text}")));
        }
        Ok(text)
    }
}

fn http_request(
    http: &reqwest::Client,
    url: &str,
    headers: &[(String, String)],
    session: &Option<String>,
    msg: &Value,
) -> reqwest::RequestBuilder {
    let mut rb = http.post(url).header("accept", "application/json, text/event-stream").json(msg);
    for (k, v) in headers {
        rb = rb.header(k, v);
    }
    if let Some(s) = session {
        rb = rb.header("mcp-session-id", s);
    }
    rb
}

async fn write_line(stdin: &mut ChildStdin, msg: &Value) -> Result<(), String> {
    let mut line = msg.to_string();
    line.push('\n');
    stdin.write_all(line.as_bytes()).await.map_err(|e| format!("cannot write to the server: {e}"))?;
    stdin.flush().await.map_err(|e| format!("cannot write to the server: {e}"))
}

/// Reads lines until the answer with `id` (server requests and notifications are skipped).
async fn read_answer(stdout: &mut Lines<BufReader<ChildStdout>>, id: u64) -> Result<Value, String> {
    loop {
        let line = stdout.next_line().await.map_err(|e| format!("cannot read from the server: {e}"))?;
        let Some(line) = line else { return Err("the server exited".into()) };
        let Ok(v) = serde_json::from_str::<Value>(&line) else { continue };
        if v.get("id").and_then(Value::as_u64) == Some(id) && (v.get("result").is_some() || v.get("error").is_some()) {
            return Ok(v);
        }
    }
}

/// The answer with `id` among server-sent events.
fn answer_in_events(body: &str, id: u64) -> Option<Value> {
    body.lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
        .find(|v| v.get("id").and_then(Value::as_u64) == Some(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny MCP server in sh+python: echoes tool calls.
    const SERVER: &str = r#"
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if "id" not in m: continue
    if m["method"] == "initialize": r = {"protocolVersion": "2025-06-18", "capabilities": {"tools": {}}, "serverInfo": {"name": "t", "version": "1"}}
    elif m["method"] == "tools/list": r = {"tools": [{"name": "echo", "description": "echoes", "inputSchema": {"type": "object", "properties": {"s": {"type": "string"}}}}]}
    elif m["method"] == "tools/call": r = {"content": [{"type": "text", "text": "echo:" + m["params"]["arguments"]["s"]}], "isError": m["params"]["arguments"]["s"] == "bad"}
    print(json.dumps({"jsonrpc": "2.0", "id": m["id"], "result": r}), flush=True)
"#;

    #[tokio::test]
    async fn a_stdio_server_lists_and_runs_its_tools() {
        let dir = std::env::temp_dir();
        let cmd = vec!["python3".to_string(), "-c".to_string(), SERVER.to_string()];
        let c = McpClient::stdio("echo", &cmd, &[], &dir).await.unwrap();
        let tools = c.list_tools().await.unwrap();
        assert_eq!(tools[0].name, "echo");
        assert_eq!(c.call_tool("echo", &json!({"s": "hi"})).await.unwrap(), "echo:hi");
        let e = c.call_tool("echo", &json!({"s": "bad"})).await.unwrap_err();
        assert!(e.to_string().contains("tool 'echo' failed"), "{e}");
    }

    /// A streamable HTTP server: answers `initialize` as JSON with a
    /// session id, everything else as a server-sent event, and checks the
    /// session id comes back.
    #[tokio::test]
    async fn a_streamable_http_server_keeps_its_session_and_answers_in_events() {
        use axum::http::HeaderMap;
        use axum::response::IntoResponse;
        let app = axum::Router::new().route(
            "/mcp",
            axum::routing::post(|headers: HeaderMap, axum::Json(m): axum::Json<Value>| async move {
                let Some(id) = m.get("id").cloned() else { return axum::http::StatusCode::ACCEPTED.into_response() };
                let method = m["method"].as_str().unwrap_or_default().to_string();
                if method == "initialize" {
                    let body = json!({"jsonrpc": "2.0", "id": id, "result": {"protocolVersion": "2025-06-18"}});
                    return ([("mcp-session-id", "s1")], axum::Json(body)).into_response();
                }
                let session_ok = headers.get("mcp-session-id").and_then(|v| v.to_str().ok()) == Some("s1");
                let result = match method.as_str() {
                    "tools/list" => json!({"tools": [{"name": "t", "inputSchema": {"type": "object"}}]}),
                    _ => json!({"content": [{"type": "text", "text": format!("session ok: {session_ok}")}]}),
                };
                let event =
                    format!("event: message\ndata: {}\n\n", json!({"jsonrpc": "2.0", "id": id, "result": result}));
                ([("content-type", "text/event-stream")], event).into_response()
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/mcp", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        let c = McpClient::http("t", reqwest::Client::new(), &url, vec![]).await.unwrap();
        assert_eq!(c.list_tools().await.unwrap()[0].name, "t");
        assert_eq!(c.call_tool("t", &json!({})).await.unwrap(), "session ok: true");
    }

    #[test]
    fn answers_are_found_in_server_sent_events() {
        let body = "event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{}}\n\n";
        assert!(answer_in_events(body, 3).is_some());
        assert!(answer_in_events(body, 4).is_none());
    }
}
