//! Helpers for the schedule, backfill and server tests: an embedded engine
//! with its trigger store on a temp home, flows from YAML, and a watcher of
//! execution updates that records how many executions ran at once.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use shared::backend::ExecutionFilter;
use shared::backend::schedule::TriggerStore;
use shared::model::{Execution, Flow, StateType};
use shared::runtime::embedded::Embedded;
use shared::runtime::engine::ExecutionUpdate;
use shared::server::{LocalEngineOptions, open_local};

use crate::support::TempHome;

/// An embedded engine with its trigger store, on a temp home removed on drop.
pub struct Sched {
    pub embedded: Embedded,
    pub store: Arc<dyn TriggerStore>,
    _home: TempHome,
}

pub fn temp_dir(prefix: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("{prefix}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

pub fn sched() -> Sched {
    let home = temp_dir("baton-sched");
    let (embedded, store) = open_local(LocalEngineOptions {
        home: home.clone(),
        workers: 4,
        echo_logs: false,
        secrets: Default::default(),
        envs: Default::default(),
        plugins: Default::default(),
        progress: None,
        flows_dir: None,
    })
    .expect("open engine");
    Sched { embedded, store, _home: TempHome(home) }
}

/// Parses and validates a flow (panics with the problems otherwise).
pub fn parse_flow(yaml: &str) -> Flow {
    let registry = shared::plugins::Registry::builtin();
    let renderer = shared::template::Renderer::new();
    let (flow, diags) = shared::validate::validate_source("test.yaml", yaml, &registry, &renderer);
    assert!(diags.is_empty(), "invalid test flow: {diags:?}");
    flow.expect("flow")
}

impl Sched {
    pub fn flow(&self, yaml: &str) -> Arc<Flow> {
        self.embedded.engine.flows.insert(parse_flow(yaml))
    }

    /// Every execution of a flow, loaded.
    pub async fn executions(&self, namespace: &str, flow_id: &str) -> Vec<Execution> {
        executions_of(&self.embedded.engine, namespace, flow_id).await
    }
}

pub async fn executions_of(engine: &shared::runtime::engine::Engine, namespace: &str, flow_id: &str) -> Vec<Execution> {
    let filter = ExecutionFilter {
        namespace: Some(namespace.into()),
        flow_id: Some(flow_id.into()),
        ..ExecutionFilter::default()
    };
    let mut out = Vec::new();
    for s in engine.state.list_executions(&filter).await.expect("list") {
        out.push(engine.state.load_execution(&s.id).await.expect("load").expect("exists"));
    }
    out
}

/// Waits (at most a minute, a failure guard) until `id` has ended.
pub async fn wait_ended(engine: &shared::runtime::engine::Engine, id: &str) -> Execution {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(e) = engine.state.load_execution(id).await.expect("load")
            && e.state.is_terminal()
        {
            return e;
        }
        assert!(tokio::time::Instant::now() < deadline, "execution {id} did not end");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).expect("test date").with_timezone(&Utc)
}

/// `trigger.variables.date` of an execution.
pub fn trigger_date(e: &Execution) -> String {
    e.trigger.as_ref().and_then(|t| t.variables.get("date")).and_then(|d| d.as_str()).unwrap_or_default().to_string()
}

/// Records, from the update feed, the most executions of a set RUNNING at once.
pub struct OverlapProbe {
    running: HashMap<String, bool>,
    pub max: usize,
}

impl OverlapProbe {
    pub fn new() -> OverlapProbe {
        OverlapProbe { running: HashMap::new(), max: 0 }
    }

    pub fn see(&mut self, u: &ExecutionUpdate) {
        self.running.insert(u.execution_id.clone(), u.state == StateType::Running);
        self.max = self.max.max(self.running.values().filter(|r| **r).count());
    }

    /// Spawns a probe on `rx` until the returned handle is awaited after `stop`.
    pub fn spawn(
        mut rx: tokio::sync::broadcast::Receiver<ExecutionUpdate>,
    ) -> (tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<usize>) {
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let handle = tokio::spawn(async move {
            let mut probe = OverlapProbe::new();
            loop {
                tokio::select! {
                    u = rx.recv() => match u {
                        Ok(u) => probe.see(&u),
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => panic!("probe lagged by {n} updates"),
                        Err(_) => break,
                    },
                    _ = &mut stopped => {
                        while let Ok(u) = rx.try_recv() {
                            probe.see(&u);
                        }
                        break;
                    }
                }
            }
            probe.max
        });
        (stop, handle)
    }
}

/// `baton server local` in-process, as the API client tests drive it: a
/// temp folder (`prefix`) holding its flows folder (`flows/`, with `flows`
/// written there) and its home (`home/`), a free port, 4 workers, 200 ms
/// ticks, and Kestra's basic auth when `auth` (`user:password`) is given.
pub async fn api_server(
    prefix: &str,
    flows: &[(&str, &str)],
    auth: Option<&str>,
) -> (shared::server::LocalServer, std::path::PathBuf) {
    let dir = temp_dir(prefix);
    let flows_dir = dir.join("flows");
    std::fs::create_dir_all(&flows_dir).expect("flows folder");
    for (name, yaml) in flows {
        std::fs::write(flows_dir.join(name), yaml).expect("flow");
    }
    let mut opts = shared::server::ServerOptions::new(dir.join("home"));
    opts.flows_dir = flows_dir;
    opts.port = 0;
    opts.workers = 4;
    opts.tick = std::time::Duration::from_millis(200);
    opts.basic_auth = auth.map(|a| shared::server::guard::BasicAuth::parse(a).expect("auth"));
    (shared::server::LocalServer::start(opts).await.expect("server starts"), dir)
}

/// The text of the internal-storage file at `uri` (a `kestra://` URI).
pub async fn read_uri(engine: &shared::runtime::engine::Engine, uri: &serde_json::Value) -> String {
    use tokio::io::AsyncReadExt as _;
    let path = uri.as_str().expect("a uri").strip_prefix("kestra://").expect("a kestra:// URI");
    let mut text = String::new();
    engine.storage.get(path).await.expect("the file").read_to_string(&mut text).await.expect("read");
    text
}
