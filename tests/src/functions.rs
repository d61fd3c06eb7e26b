//! The Cloud Run functions in one process, for tests and benchmarks: the
//! `executor`, `worker` (core group), `scheduler` and `api` routers served
//! over real HTTP on local ports, each with its own engine on shared local
//! backends (SQLite + a storage folder), wired by a [`PushRelay`] that
//! delivers every published message as a Pub/Sub push envelope — optionally
//! twice and out of order. A worker can also run as a separate "instance"
//! (its own tokio runtime) that a test kills mid-task.
//!
//! [`Effects`] is a local HTTP server whose requests are the tasks' side
//! effects: each path is counted, so a test proves how often a task ran.

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use serde_json::{Map, Value};
use shared::backend::local::{FsStorage, SqliteStore};
use shared::backend::{StateStore, Topic};
use shared::functions::envelope::PushEnvelope;
use shared::functions::relay::{PushRelay, RelayOptions};
use shared::functions::server::{self, PushAuth};
use shared::functions::{FunctionOptions, Handler, flows::FlowSource};
use shared::model::Execution;
use shared::runtime::engine::{Engine, EngineConfig};
use tokio::sync::{Notify, oneshot};

/// How a cluster is set up.
pub struct ClusterOptions {
    pub relay: RelayOptions,
    /// The workers' lease.
    pub lease: chrono::Duration,
    /// `(file name, YAML)` written to the flows folder the API and executor load.
    pub flows: Vec<(String, String)>,
    pub schedules: Option<Arc<dyn shared::functions::scheduler::Schedules>>,
    pub auth: PushAuth,
    /// The plugins' settings of every function's engine.
    pub plugins: shared::plugins::PluginConfig,
    /// The secrets of every function's engine (`SECRET_*`).
    pub secrets: shared::runtime::secrets::Secrets,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            relay: RelayOptions::default(),
            lease: chrono::Duration::seconds(300),
            flows: Vec::new(),
            schedules: None,
            auth: PushAuth::Off,
            plugins: Default::default(),
            secrets: Default::default(),
        }
    }
}

/// A function served on a local port until dropped.
pub struct Served {
    /// `http://127.0.0.1:{port}/`
    pub url: String,
    stop: Option<oneshot::Sender<()>>,
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// Serves `router` on a random local port until the returned handle drops.
pub async fn serve(router: axum::Router) -> Served {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a local port");
    let url = format!("http://{}/", listener.local_addr().expect("local addr"));
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(server::serve(listener, router, server::function_limits(), async move {
        let _ = stopped.await;
    }));
    Served { url, stop: Some(stop) }
}

/// The shared backends of a cluster (cheap to clone into another runtime).
#[derive(Clone)]
pub struct SharedBackends {
    pub state: Arc<SqliteStore>,
    pub storage: Arc<FsStorage>,
    pub relay: PushRelay,
    pub work_root: PathBuf,
    pub plugins: shared::plugins::PluginConfig,
    pub secrets: shared::runtime::secrets::Secrets,
    /// Where the functions read their flows (the cluster's flows folder).
    pub flows: Option<FlowSource>,
}

impl SharedBackends {
    /// A fresh engine (its own log writer, renderer, flow cache) on the
    /// shared backends, as each Cloud Run service has. Inside a runtime.
    pub fn engine(&self) -> Arc<Engine> {
        let storage: Arc<dyn shared::backend::Storage> = self.storage.clone();
        let wiring = shared::functions::function_wiring(self.flows.as_ref(), Some(self.state.clone()), &storage);
        Engine::new(EngineConfig {
            state: self.state.clone(),
            kv: self.state.clone(),
            storage: self.storage.clone(),
            queue: Arc::new(self.relay.clone()),
            registry: shared::plugins::Registry::builtin(),
            secrets: self.secrets.clone(),
            envs: Map::new(),
            work_root: self.work_root.clone(),
            plugins: self.plugins.clone(),
            echo_logs: false,
            progress: None,
            wiring,
        })
    }
}

/// The four functions on one set of local backends.
pub struct Cluster {
    pub home: PathBuf,
    pub backends: SharedBackends,
    pub relay: PushRelay,
    pub executor: Served,
    pub worker: Served,
    pub scheduler: Served,
    pub api: Served,
    pub http: reqwest::Client,
    pub lease: chrono::Duration,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.home);
    }
}

impl Cluster {
    /// Starts the functions and routes `baton-executions` to the executor
    /// and `baton-tasks-core` to the worker.
    pub async fn start(opts: ClusterOptions) -> Cluster {
        let home = std::env::temp_dir().join(format!("baton-functions-{}", uuid::Uuid::new_v4()));
        let flows_dir = home.join("flows");
        std::fs::create_dir_all(&flows_dir).expect("flows folder");
        for (name, yaml) in &opts.flows {
            std::fs::write(flows_dir.join(name), yaml).expect("write flow");
        }
        let local = shared::backend::local::LocalBackends::open(&home.join("state")).expect("local backends");
        let relay = PushRelay::start(HashMap::new(), opts.relay.clone());
        let backends = SharedBackends {
            state: local.state.clone(),
            storage: local.storage.clone(),
            relay: relay.clone(),
            work_root: home.join("work"),
            plugins: opts.plugins.clone(),
            secrets: opts.secrets.clone(),
            flows: Some(FlowSource::Dir(flows_dir)),
        };
        let fopts = FunctionOptions {
            auth: opts.auth.clone(),
            worker_group: "core".into(),
            lease: opts.lease,
            instance: "test-worker".into(),
            schedules: opts.schedules.clone(),
            triggers: Some(local.state.clone()),
            backfill_budget: Duration::from_secs(30),
            idle: None,
        };
        let function = |h: Handler| {
            let engine = backends.engine();
            let fopts = fopts.clone();
            async move { serve(shared::functions::router(h, engine, &fopts).await).await }
        };
        let executor = function(Handler::Executor).await;
        let worker = function(Handler::Worker).await;
        let scheduler = function(Handler::Scheduler).await;
        let api = function(Handler::Api).await;
        relay.route(&Topic::Executions.name(), &executor.url);
        relay.route(&Topic::Tasks("core".into()).name(), &worker.url);
        relay.route(&Topic::Scheduler.name(), &scheduler.url);
        Cluster {
            home,
            backends,
            relay,
            executor,
            worker,
            scheduler,
            api,
            http: reqwest::Client::new(),
            lease: opts.lease,
        }
    }

    /// Starts an execution through the API function; returns its id.
    pub async fn launch(&self, namespace: &str, flow_id: &str, inputs: Value) -> String {
        let url = format!("{}api/v1/executions/{namespace}/{flow_id}", self.api.url);
        let resp = self.http.post(&url).json(&inputs).send().await.expect("POST execution");
        let status = resp.status();
        let body: Value = resp.json().await.expect("execution JSON");
        assert_eq!(status, 200, "start {namespace}.{flow_id}: {body}");
        body["id"].as_str().expect("execution id").to_string()
    }

    /// Waits (polling the state store) until execution `id` has ended.
    pub async fn wait(&self, id: &str) -> Execution {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        loop {
            let exec = self.execution(id).await;
            if exec.state.is_terminal() {
                return exec;
            }
            if tokio::time::Instant::now() > deadline {
                let runs: Vec<String> = exec
                    .task_run_list
                    .iter()
                    .map(|t| {
                        let attempts: Vec<&str> = t.attempts.iter().map(|a| a.state.current.as_str()).collect();
                        format!("{}[{}] {} {attempts:?}", t.task_id, t.value.as_deref().unwrap_or(""), t.state.current)
                    })
                    .collect();
                panic!(
                    "gave up waiting for execution {id} to end: {} (version {}), task runs {runs:#?}, relay {:?}",
                    exec.state.current,
                    exec.version,
                    self.relay.stats()
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The stored execution `id`.
    pub async fn execution(&self, id: &str) -> Execution {
        self.backends.state.load_execution(id).await.expect("load").expect("execution exists")
    }

    /// Log messages of an execution.
    pub async fn logs(&self, id: &str) -> Vec<String> {
        self.backends.state.logs(id).await.expect("logs").into_iter().map(|l| l.message).collect()
    }
}

/// Polls `probe` until it answers, panicking after `limit` (a safety net, not an assertion on speed).
pub async fn wait_for<T, F, Fut>(limit: Duration, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "gave up waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// POSTs `data` to a push endpoint in a Pub/Sub push envelope; returns the status.
pub async fn push(http: &reqwest::Client, url: &str, data: &[u8], bearer: Option<&str>) -> u16 {
    push_at(http, url, data, bearer, chrono::Utc::now()).await
}

/// [`push`] of a message published at `published`.
pub async fn push_at(
    http: &reqwest::Client,
    url: &str,
    data: &[u8],
    bearer: Option<&str>,
    published: chrono::DateTime<chrono::Utc>,
) -> u16 {
    let env = PushEnvelope::wrap(data, Default::default(), "test-1", published, "projects/t/subscriptions/s", None);
    let mut req = http.post(url).json(&env);
    if let Some(t) = bearer {
        req = req.bearer_auth(t);
    }
    req.send().await.expect("push request").status().as_u16()
}

/// A worker function running as its own instance (its own tokio runtime),
/// which [`WorkerInstance::kill`] stops dead: no graceful shutdown, no
/// heartbeat, connections dropped — a Cloud Run instance that vanished.
pub struct WorkerInstance {
    pub url: String,
    kill: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl WorkerInstance {
    /// Starts a worker instance named `instance` with leases of `lease`.
    pub fn start(backends: &SharedBackends, instance: &str, lease: chrono::Duration) -> WorkerInstance {
        let (url_tx, url_rx) = std::sync::mpsc::channel();
        let (kill, killed) = oneshot::channel::<()>();
        let backends = backends.clone();
        let instance = instance.to_string();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("instance runtime");
            rt.block_on(async move {
                let opts = FunctionOptions { lease, instance, ..FunctionOptions::unauthenticated() };
                let router = shared::functions::router(Handler::Worker, backends.engine(), &opts).await;
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
                let url = format!("http://{}/", listener.local_addr().expect("addr"));
                let _ = url_tx.send(url);
                tokio::select! {
                    _ = server::serve(listener, router, server::function_limits(), std::future::pending()) => {}
                    _ = killed => {}
                }
            });
            // every task of the instance (requests, running jobs, heartbeats) is dropped
            rt.shutdown_background();
        });
        let url = url_rx.recv().expect("instance URL");
        WorkerInstance { url, kill: Some(kill), thread: Some(thread) }
    }

    /// Kills the instance and waits until it is gone.
    pub fn kill(mut self) {
        if let Some(k) = self.kill.take() {
            let _ = k.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Counts the tasks' side effects: `GET /hit/{key}` (200), `/flaky/{key}`
/// (500 the first time, then 200), `/fail/{key}` (always 500) and
/// `/block/{key}` (the first request hangs until [`Effects::release`], later ones answer 200).
#[derive(Clone)]
pub struct Effects {
    pub url: String,
    counts: Arc<Mutex<HashMap<String, u32>>>,
    changed: Arc<Notify>,
    released: Arc<Released>,
    _server: Arc<Served>,
}

impl Effects {
    pub async fn start() -> Effects {
        let counts: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
        let changed = Arc::new(Notify::new());
        let released = Arc::new(Released::default());
        let st = (counts.clone(), changed.clone(), released.clone());
        // POST too: a push endpoint that acks and counts (a job swallowed)
        let router = axum::Router::new().route("/{kind}/{*key}", get(effect).post(effect)).with_state(st);
        let served = serve(router).await;
        Effects {
            url: served.url.trim_end_matches('/').to_string(),
            counts,
            changed,
            released,
            _server: Arc::new(served),
        }
    }

    /// How many requests `key` got (`kind/key`, e.g. `hit/t0/first`).
    pub fn count(&self, key: &str) -> u32 {
        self.counts.lock().map(|c| c.get(key).copied().unwrap_or(0)).unwrap_or(0)
    }

    /// Every key with its count.
    pub fn all(&self) -> HashMap<String, u32> {
        self.counts.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// Waits until `key` has had `n` requests.
    pub async fn wait_count(&self, key: &str, n: u32) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let notified = self.changed.notified();
            if self.count(key) >= n {
                return;
            }
            assert!(tokio::time::Instant::now() < deadline, "gave up waiting for {n} requests on {key}");
            let _ = tokio::time::timeout(Duration::from_millis(100), notified).await;
        }
    }

    /// Lets hanging `/block` requests answer.
    pub fn release(&self) {
        // a flag too: a request counted but not yet waiting is released as well
        self.released.done.store(true, std::sync::atomic::Ordering::SeqCst);
        self.released.notify.notify_waiters();
    }
}

type EffectState = (Arc<Mutex<HashMap<String, u32>>>, Arc<Notify>, Arc<Released>);

/// Whether hanging `/block` requests may answer.
#[derive(Default)]
struct Released {
    notify: Notify,
    done: std::sync::atomic::AtomicBool,
}

async fn effect(
    State((counts, changed, released)): State<EffectState>,
    Path((kind, key)): Path<(String, String)>,
) -> StatusCode {
    let n = {
        let Ok(mut c) = counts.lock() else { return StatusCode::INTERNAL_SERVER_ERROR };
        let n = c.entry(format!("{kind}/{key}")).or_insert(0);
        *n += 1;
        *n
    };
    changed.notify_waiters();
    match kind.as_str() {
        "hit" => StatusCode::OK,
        "flaky" if n == 1 => StatusCode::INTERNAL_SERVER_ERROR,
        "flaky" => StatusCode::OK,
        "fail" => StatusCode::INTERNAL_SERVER_ERROR,
        "block" if n == 1 => {
            let notified = released.notify.notified();
            if !released.done.load(std::sync::atomic::Ordering::SeqCst) {
                let _ = tokio::time::timeout(Duration::from_secs(120), notified).await;
            }
            StatusCode::OK
        }
        "block" => StatusCode::OK,
        _ => StatusCode::NOT_FOUND,
    }
}
