//! `baton server local`: one long-running process with the embedded engine
//! (executor and workers), the scheduler, the backfill runners, the event
//! trigger poller (`runtime::events::poller`: http, S3, GCS, Pub/Sub), a polled
//! flows folder and the HTTP API ([`api`]) on `127.0.0.1:8080` by default.
//!
//! Start-up order: open the home, load the flows, start the engine,
//! recover attempts orphaned by a previous process and resume unfinished
//! executions, then start the scheduler, the backfill supervisor (which
//! finishes backfills left RUNNING), the folder poller and the API. Every
//! execution state change is one structured log line.

pub mod api;
pub mod client;
pub mod guard;
pub mod revoke;
pub mod session;
pub mod supervisor;
pub mod throttle;
pub mod watch;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};
use tokio::sync::broadcast::error::RecvError;
use tokio::task::JoinHandle;

use crate::backend::BackendError;
use crate::backend::flow_files::FlowFiles;
use crate::backend::local::LocalBackends;
use crate::backend::schedule::TriggerStore;
use crate::runtime::embedded::Embedded;
use crate::runtime::engine::{Engine, EngineConfig, Wiring};
use crate::runtime::recovery::recover_orphaned_attempts;
use crate::runtime::scheduler::Scheduler;
use crate::runtime::secrets::Secrets;
use supervisor::BackfillSupervisor;
use watch::FlowWatcher;

/// How long a stopping server waits for requests in flight.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// How the server runs.
pub struct ServerOptions {
    /// The state folder (SQLite, internal storage).
    pub home: PathBuf,
    /// The flows folder, polled for changes.
    pub flows_dir: PathBuf,
    pub bind: IpAddr,
    /// 0 picks a free port (see [`LocalServer::addr`]).
    pub port: u16,
    /// Worker loops per worker group.
    pub workers: usize,
    pub secrets: Secrets,
    pub envs: Map<String, Value>,
    pub plugins: crate::plugins::PluginConfig,
    /// How often the scheduler, the folder poller and the backfill sweep run.
    pub tick: Duration,
    /// Echo task logs on stderr.
    pub echo_logs: bool,
    /// Kestra-style basic auth; required when `bind` is not a loopback address.
    pub basic_auth: Option<guard::BasicAuth>,
    /// Host names accepted besides localhost on a loopback bind.
    pub allowed_hosts: Vec<String>,
    /// How long a web UI login lasts (`BATON_SERVER_SESSION_HOURS`).
    pub session_ttl: Duration,
    /// Failed logins allowed (`BATON_SERVER_LOGIN_FAILURES`, `BATON_SERVER_LOGIN_WINDOW_SECONDS`).
    pub login: throttle::LoginLimits,
    /// Open connections and header time (`crate::serve`).
    pub http: crate::serve::ServeLimits,
}

impl ServerOptions {
    /// Defaults: `./flows`, 127.0.0.1:8080, 8 workers per group, a 1 s tick.
    pub fn new(home: PathBuf) -> ServerOptions {
        ServerOptions {
            home,
            flows_dir: PathBuf::from("flows"),
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 8080,
            workers: 8,
            secrets: Secrets::default(),
            envs: Map::new(),
            plugins: Default::default(),
            tick: Duration::from_secs(1),
            echo_logs: false,
            basic_auth: None,
            allowed_hosts: Vec::new(),
            session_ttl: session::SESSION_TTL,
            login: throttle::LoginLimits::default(),
            http: crate::serve::ServeLimits::default(),
        }
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot open Baton home: {0}")]
    Home(#[source] BackendError),
    #[error("flows folder {0} does not exist")]
    FlowsDir(PathBuf),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "refusing to listen on {0} without authentication: set basic auth (--basic-auth user:password or {env}) or bind 127.0.0.1",
        env = guard::BASIC_AUTH_ENV
    )]
    Unauthenticated(IpAddr),
    #[error("cannot start login sessions: {0}")]
    Sessions(#[source] session::SessionKeyError),
    #[error("cannot read the ended login sessions: {0}")]
    Revocations(#[source] revoke::RevokeError),
    #[error("cannot resume unfinished executions: {0}")]
    Resume(#[source] BackendError),
}

/// What [`open_local`] needs.
pub struct LocalEngineOptions {
    pub home: PathBuf,
    pub workers: usize,
    pub echo_logs: bool,
    pub secrets: Secrets,
    pub envs: Map<String, Value>,
    pub plugins: crate::plugins::PluginConfig,
    pub progress: Option<Arc<dyn crate::plugins::context::Progress>>,
    /// The flows folder, when the engine serves one (`baton server local`):
    /// where tasks write flows (`git.SyncFlows`).
    pub flows_dir: Option<PathBuf>,
}

/// Opens the embedded backends under `home`, starts the engine, and returns
/// it with its [`TriggerStore`] (the server and `baton backfill` share this).
pub fn open_local(opts: LocalEngineOptions) -> Result<(Embedded, Arc<dyn TriggerStore>), BackendError> {
    let backends = LocalBackends::open(&opts.home)?;
    let engine = Engine::new(EngineConfig {
        state: backends.state.clone(),
        kv: backends.state.clone(),
        storage: backends.storage.clone(),
        queue: backends.queue.clone(),
        registry: crate::plugins::Registry::builtin(),
        secrets: opts.secrets,
        envs: opts.envs,
        work_root: opts.home.join("work"),
        plugins: opts.plugins,
        echo_logs: opts.echo_logs,
        progress: opts.progress,
        wiring: Wiring {
            flow_files: opts
                .flows_dir
                .as_deref()
                .map(|dir| Arc::new(crate::backend::local::FolderFlows::new(dir)) as Arc<dyn FlowFiles>),
            // the folder's watcher keeps the engine's flows current
            latest_from_files: false,
            trigger_store: Some(backends.state.clone()),
            disk_guard: Some(crate::runtime::diskfull::DiskGuard::open(&opts.home)),
        },
    });
    let store: Arc<dyn TriggerStore> = backends.state.clone();
    crate::runtime::embedded::sweep_orphans();
    Ok((Embedded::start(engine, &backends.queue, opts.workers), store))
}

/// Re-runs attempts orphaned by a previous process, then resumes unfinished
/// executions of the loaded flows; returns (attempts re-run, executions resumed).
pub async fn resume_unfinished(embedded: &Embedded) -> Result<(usize, usize), BackendError> {
    let orphans = recover_orphaned_attempts(&embedded.engine).await?;
    let resumed = embedded.resume().await?;
    Ok((orphans, resumed))
}

/// A running server.
pub struct LocalServer {
    addr: SocketAddr,
    pub engine: Arc<Engine>,
    pub store: Arc<dyn TriggerStore>,
    pub watcher: Arc<FlowWatcher>,
    pub scheduler: Arc<Scheduler>,
    pub supervisor: Arc<BackfillSupervisor>,
    /// The event triggers' polling (http, s3; GCS and Pub/Sub with the `gcp` feature).
    pub events: Arc<crate::runtime::events::poller::EventPoller>,
    embedded: Embedded,
    tasks: Vec<JoinHandle<()>>,
    http: JoinHandle<()>,
    stop: tokio::sync::watch::Sender<bool>,
}

impl LocalServer {
    /// Starts everything (see the module documentation). Needs the
    /// multi-threaded tokio runtime.
    pub async fn start(opts: ServerOptions) -> Result<LocalServer, ServerError> {
        if !opts.flows_dir.is_dir() {
            return Err(ServerError::FlowsDir(opts.flows_dir));
        }
        if !opts.bind.is_loopback() && opts.basic_auth.is_none() {
            return Err(ServerError::Unauthenticated(opts.bind));
        }
        let (embedded, store) = open_local(LocalEngineOptions {
            home: opts.home.clone(),
            workers: opts.workers,
            echo_logs: opts.echo_logs,
            secrets: opts.secrets,
            envs: opts.envs,
            plugins: opts.plugins,
            progress: None,
            flows_dir: Some(opts.flows_dir.clone()),
        })
        .map_err(ServerError::Home)?;
        let mut guard =
            guard::Guard::new(opts.bind, &opts.allowed_hosts, opts.basic_auth.clone()).with_login_limits(opts.login);
        if let Some(auth) = &opts.basic_auth {
            let ended = revoke::Revocations::load(embedded.engine.state.clone(), &auth.user)
                .await
                .map_err(ServerError::Revocations)?;
            let sessions = auth.sessions(&opts.home, opts.session_ttl).map_err(ServerError::Sessions)?;
            guard = guard.with_sessions(sessions.with_revocations(Arc::new(ended)));
        }
        let guard = Arc::new(guard);
        let engine = embedded.engine.clone();
        let state_log = spawn_state_log(&engine);
        let watcher = Arc::new(FlowWatcher::new(
            &opts.flows_dir,
            engine.flows.clone(),
            engine.registry.clone(),
            engine.renderer.clone(),
        ));
        let first = watcher.scan();
        tracing::info!(dir = %opts.flows_dir.display(), loaded = first.loaded.len(), invalid = first.invalid.len(),
            "flows loaded");
        let (orphans, resumed) = resume_unfinished(&embedded).await.map_err(ServerError::Resume)?;
        if orphans + resumed > 0 {
            tracing::info!(executions = resumed, attempts_rerun = orphans, "unfinished executions resumed");
        }
        let scheduler = Arc::new(Scheduler::new(engine.clone(), store.clone(), watcher.clone()));
        let supervisor = Arc::new(BackfillSupervisor::new(engine.clone(), store.clone()));
        supervisor.sweep().await;
        let events = Arc::new(crate::runtime::events::poller::EventPoller::new(engine.clone()));
        let mut tasks = vec![state_log];
        tasks.push(events.clone().spawn(opts.tick));
        tasks.push(scheduler.clone().spawn(opts.tick));
        tasks.push(supervisor.clone().spawn(opts.tick));
        {
            let watcher = watcher.clone();
            let every = opts.tick;
            tasks.push(tokio::spawn(async move {
                let mut interval = tokio::time::interval(every);
                interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    interval.tick().await;
                    let w = watcher.clone();
                    // file reads and validation off the async threads
                    let _ = tokio::task::spawn_blocking(move || w.scan()).await;
                }
            }));
        }
        let addr = SocketAddr::new(opts.bind, opts.port);
        let listener =
            tokio::net::TcpListener::bind(addr).await.map_err(|source| ServerError::Bind { addr, source })?;
        let addr = listener.local_addr().map_err(|source| ServerError::Bind { addr, source })?;
        let host = api::LocalHost {
            engine: engine.clone(),
            store: store.clone(),
            supervisor: supervisor.clone(),
            watcher: watcher.clone(),
            tests: Arc::new(crate::backend::local::FolderFlows::tests(&opts.flows_dir)),
        };
        let host: Arc<dyn crate::api::host::ApiHost> = Arc::new(host);
        let router = crate::api::router(crate::api::ApiState { engine: engine.clone(), host })
            .merge(session::routes(guard.clone()))
            .layer(axum::middleware::from_fn_with_state(guard, guard::check))
            .layer(axum::middleware::from_fn(crate::prometheus::track));
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let http_limits = opts.http;
        let http = tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.wait_for(|s| *s).await;
            };
            if let Err(e) = crate::serve::serve(listener, router, http_limits, shutdown).await {
                tracing::error!(error = %e, "HTTP server stopped");
            }
        });
        tracing::info!(address = %addr, home = %opts.home.display(), "baton server listening");
        Ok(LocalServer { addr, engine, store, watcher, scheduler, supervisor, events, embedded, tasks, http, stop })
    }

    /// The address the API listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://{addr}`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting requests, lets running requests finish (for at most
    /// [`SHUTDOWN_GRACE`]: a client holding a half-sent request does not
    /// keep the server up), stops the loops. Unfinished executions and
    /// backfills resume at the next start.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let LocalServer { mut http, tasks, supervisor, events, embedded, engine, .. } = self;
        if tokio::time::timeout(SHUTDOWN_GRACE, &mut http).await.is_err() {
            tracing::warn!("requests still open after {:?}: closed", SHUTDOWN_GRACE);
            http.abort();
        }
        for t in tasks {
            t.abort();
        }
        supervisor.abort_all();
        events.abort_all();
        engine.logs.flush().await;
        embedded.shutdown();
    }

    /// Stops everything at once, as a crash would (for tests of recovery).
    pub fn abort(self) {
        self.http.abort();
        for t in self.tasks {
            t.abort();
        }
        self.supervisor.abort_all();
        self.events.abort_all();
        self.embedded.shutdown();
    }
}

/// Logs one line per execution state change: CREATED is logged by the
/// launcher, the final state by the executor, the others here.
fn spawn_state_log(engine: &Arc<Engine>) -> JoinHandle<()> {
    let mut updates = engine.notable.subscribe();
    tokio::spawn(async move {
        let mut last: HashMap<String, crate::model::StateType> = HashMap::new();
        loop {
            let u = match updates.recv().await {
                Ok(u) => u,
                Err(RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "state log lagged");
                    continue;
                }
                Err(RecvError::Closed) => break,
            };
            if u.state.is_terminal() {
                // the executor logs the end ("execution ended")
                last.remove(&u.execution_id);
                continue;
            }
            if last.get(&u.execution_id) == Some(&u.state) {
                continue;
            }
            tracing::info!(execution_id = %u.execution_id, namespace = %u.namespace, flow_id = %u.flow_id,
                state = %u.state, "execution state");
            last.insert(u.execution_id, u.state);
        }
    })
}
