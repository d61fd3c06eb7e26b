//! Test helpers for the core plugins: the in-memory backends, a log sink that collects lines, a `RunContext` builder, and a
//! tiny raw HTTP/1.1 server on 127.0.0.1.

use std::sync::{Arc, Mutex};

use serde_json::{Map, Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::backend::LogEntry;
use crate::backend::memory::{MemoryKv, MemoryStorage};
use crate::plugins::context::{LogSink, Services};
use crate::plugins::registry::PluginDef;
use crate::plugins::{RunContext, TaskError, TaskOutput};
use crate::template::{NoHost, Renderer};

/// Collects log lines.
#[derive(Default)]
pub struct Logs {
    pub lines: Mutex<Vec<LogEntry>>,
}

impl LogSink for Logs {
    fn emit(&self, entry: LogEntry) {
        self.lines.lock().unwrap().push(entry);
    }
}

impl Logs {
    /// `LEVEL message` lines.
    pub fn text(&self) -> Vec<String> {
        self.lines.lock().unwrap().iter().map(|l| format!("{} {}", l.level, l.message)).collect()
    }
}

/// A test environment: fake services shared by the contexts it builds.
pub struct Env {
    pub kv: Arc<MemoryKv>,
    pub storage: Arc<MemoryStorage>,
    pub logs: Arc<Logs>,
    pub context: Value,
    /// A state store the tasks reach through `ExecutionControl` (the purge tasks).
    pub state: Option<Arc<crate::backend::local::SqliteStore>>,
}

/// `ExecutionControl` over a bare state store.
struct StoreControl(Arc<crate::backend::local::SqliteStore>);

#[async_trait::async_trait]
impl crate::plugins::core::resume::ExecutionControl for StoreControl {
    async fn owner(&self, id: &str) -> Result<Option<(String, String)>, String> {
        use crate::backend::StateStore;
        let e = self.0.load_execution(id).await.map_err(|e| e.to_string())?;
        Ok(e.map(|e| (e.namespace, e.flow_id)))
    }
    async fn resume(&self, id: &str, _inputs: &Map<String, Value>) -> Result<(), String> {
        Err(format!("cannot resume {id} here"))
    }
    fn state_store(&self) -> Option<Arc<dyn crate::backend::StateStore>> {
        Some(self.0.clone())
    }
}

impl Env {
    pub fn new() -> Env {
        Env {
            kv: Arc::new(MemoryKv::new()),
            storage: Arc::new(MemoryStorage::new()),
            logs: Arc::new(Logs::default()),
            context: json!({
                "flow": {"namespace": "company.team", "id": "my-flow"},
                "inputs": {"name": "world", "n": 42},
            }),
            state: None,
        }
    }

    /// [`Env::new`] with an in-memory SQLite state store.
    pub fn with_state_store() -> Env {
        let store = crate::backend::local::SqliteStore::open_in_memory().expect("open an in-memory store");
        Env { state: Some(Arc::new(store)), ..Env::new() }
    }

    /// The state store of [`Env::with_state_store`].
    pub fn state(&self) -> &crate::backend::local::SqliteStore {
        self.state.as_deref().expect("an Env with a state store")
    }

    /// A context for task `t1` of execution `exec1` with these raw properties.
    pub fn cx(&self, raw_props: &Value) -> RunContext {
        let services = Services {
            renderer: Arc::new(Renderer::new()),
            kv: self.kv.clone(),
            storage: self.storage.clone(),
            logs: self.logs.clone(),
            http: reqwest::Client::builder().no_proxy().build().unwrap().into(),
            progress: None,
            config: Default::default(),
            flows: None,
            executions: self
                .state
                .clone()
                .map(|s| Arc::new(StoreControl(s)) as Arc<dyn crate::plugins::core::resume::ExecutionControl>),
            work_root: std::env::temp_dir().join("baton-core-tests"),
        };
        RunContext::new(
            "exec1".into(),
            "tr1".into(),
            1,
            "company.team".into(),
            "my-flow".into(),
            "t1".into(),
            "test".into(),
            self.context.clone(),
            raw_props.as_object().cloned().unwrap_or_default(),
            services,
            Arc::new(NoHost),
        )
    }

    /// Renders `raw` as the worker does, builds the task and runs it.
    pub async fn run(&self, def: &PluginDef, raw: Value) -> Result<TaskOutput, TaskError> {
        let cx = self.cx(&raw);
        // as the worker: a task's own per-item expressions stay as written
        let mut raw_map = raw.as_object().cloned().unwrap_or_default();
        let kept = crate::plugins::registry::take_unrendered(def.type_name, &mut raw_map);
        let rendered = cx.render_value(&Value::Object(raw_map))?;
        let mut props: Map<String, Value> = rendered.as_object().cloned().unwrap_or_default();
        props.extend(kept);
        let task = (def.build)(&props)?;
        task.run(&cx).await
    }
}

/// A canned HTTP response.
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> Resp {
        Resp { status, headers: Vec::new(), body: body.into() }
    }
    pub fn header(mut self, k: &str, v: &str) -> Resp {
        self.headers.push((k.to_string(), v.to_string()));
        self
    }
}

/// A received request: method, path, headers (lower-cased names), body.
#[derive(Debug, Clone)]
pub struct Req {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Req {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Starts a server answering each request with `handler`; returns its base URL.
pub async fn serve(handler: fn(&Req) -> Resp) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else { return };
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 8192];
                let head_end = loop {
                    if let Some(p) = find(&buf, b"\r\n\r\n") {
                        break p;
                    }
                    match sock.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                };
                let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                let mut lines = head.split("\r\n");
                let first = lines.next().unwrap_or_default();
                let mut parts = first.split(' ');
                let method = parts.next().unwrap_or_default().to_string();
                let path = parts.next().unwrap_or_default().split('?').next().unwrap_or_default().to_string();
                let headers: Vec<(String, String)> = lines
                    .filter_map(|l| l.split_once(':'))
                    .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
                    .collect();
                let len: usize =
                    headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
                let mut body = buf[head_end + 4..].to_vec();
                while body.len() < len {
                    match sock.read(&mut chunk).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => body.extend_from_slice(&chunk[..n]),
                    }
                }
                let req = Req { method, path, headers, body };
                let resp = handler(&req);
                let mut out = format!("HTTP/1.1 {} X\r\n", resp.status);
                for (k, v) in &resp.headers {
                    out.push_str(&format!("{k}: {v}\r\n"));
                }
                out.push_str(&format!("Content-Length: {}\r\nConnection: close\r\n\r\n", resp.body.len()));
                if sock.write_all(out.as_bytes()).await.is_err() {
                    return;
                }
                for c in resp.body.chunks(64 * 1024) {
                    if sock.write_all(c).await.is_err() {
                        return;
                    }
                }
                let _ = sock.shutdown().await;
            });
        }
    });
    format!("http://{addr}")
}
