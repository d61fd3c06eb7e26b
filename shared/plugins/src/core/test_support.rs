//! Test helpers for the core plugins: the in-memory backends, a log sink that collects lines, a `RunContext` builder, and a
//! tiny raw HTTP/1.1 server on 127.0.0.1 (`backend::test_http`).

use std::sync::{Arc, Mutex};

use serde_json::{Map, Value, json};

use crate::context::{LogSink, Services};
use crate::registry::PluginDef;
use crate::{RunContext, TaskError, TaskOutput};
use baton_backend::LogEntry;
use baton_backend::memory::{MemoryKv, MemoryStorage};
use baton_template::{NoHost, Renderer};

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
    pub state: Option<Arc<baton_local::SqliteStore>>,
}

/// `ExecutionControl` over a bare state store.
struct StoreControl(Arc<baton_local::SqliteStore>);

#[async_trait::async_trait]
impl crate::core::resume::ExecutionControl for StoreControl {
    async fn owner(&self, id: &str) -> Result<Option<(String, String)>, String> {
        use baton_backend::StateStore;
        let e = self.0.load_execution(id).await.map_err(|e| e.to_string())?;
        Ok(e.map(|e| (e.namespace, e.flow_id)))
    }
    async fn resume(&self, id: &str, _inputs: &Map<String, Value>) -> Result<(), String> {
        Err(format!("cannot resume {id} here"))
    }
    fn state_store(&self) -> Option<Arc<dyn baton_backend::StateStore>> {
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
        let store = baton_local::SqliteStore::open_in_memory().expect("open an in-memory store");
        Env { state: Some(Arc::new(store)), ..Env::new() }
    }

    /// The state store of [`Env::with_state_store`].
    pub fn state(&self) -> &baton_local::SqliteStore {
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
                .map(|s| Arc::new(StoreControl(s)) as Arc<dyn crate::core::resume::ExecutionControl>),
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
        let kept = crate::registry::take_unrendered(def, &mut raw_map);
        let rendered = cx.render_value(&Value::Object(raw_map))?;
        let mut props: Map<String, Value> = rendered.as_object().cloned().unwrap_or_default();
        props.extend(kept);
        let task = (def.build)(&props)?;
        task.run(&cx).await
    }
}

pub use baton_backend::test_http::{Req, Resp, serve};
