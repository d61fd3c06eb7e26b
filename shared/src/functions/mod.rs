//! The Cloud Run function runtime: a small lambda_http-style host for one
//! handler. It reads `PORT`, serves Pub/Sub push on `POST /` and
//! `GET /healthz` ([`server`]), decodes the push envelope ([`envelope`]),
//! verifies the caller's Google-signed OIDC token ([`oidc`]), logs JSON
//! lines Cloud Logging understands ([`logging`]) and shuts down gracefully
//! on SIGTERM. Each binary under `functions/` is one call:
//! `shared::functions::run(Handler::Executor)`.
//!
//! The handlers wire the same runtime pieces as the embedded runtime:
//! [`executor`] (`ExecutorService::handle`), [`worker`] (`Worker::handle_job`,
//! one group per deployment), [`scheduler`] (ticks and backfills through
//! [`schedules`], the lease and timer [`sweep`]) and [`api`] (REST). How an outcome maps to an ack, a
//! redelivery or the dead-letter topic: [`push`]. Configuration: [`config`].
//! [`relay`] stands in for Pub/Sub push when running without Google.

pub mod api;
pub mod cloud_run_jobs;
pub mod config;
pub mod envelope;
pub mod events;
pub mod executor;
pub mod flows;
pub mod idle;
pub mod logging;
pub mod oidc;
pub mod push;
pub mod relay;
pub mod scheduler;
pub mod schedules;
pub mod server;
pub mod sweep;
pub mod worker;

use std::collections::HashMap;
use std::future::Future;
use std::process::ExitCode;
use std::sync::Arc;

use async_trait::async_trait;
use axum::Router;
use chrono::{DateTime, Duration, Utc};

use self::config::{AuthConfig, BackendConfig, ConfigError, FunctionConfig};
use self::flows::FlowSource;
use self::oidc::OidcVerifier;
use self::relay::{PushRelay, RelayOptions};
use self::scheduler::{BackfillRequest, ScheduleFailure, Schedules, TickRequest};
use self::server::PushAuth;
use crate::backend::schedule::TriggerStore;
use crate::backend::{BackendError, KvStore, Queue, StateStore, Storage};
use crate::runtime::engine::{Engine, EngineConfig, Wiring};
use crate::runtime::secrets::{Secrets, envs_map};

/// Which function a binary is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handler {
    /// Execution events → advance executions, dispatch jobs.
    Executor,
    /// Ticks, backfill requests and the sweep.
    Scheduler,
    /// Jobs of one worker group (`BATON_WORKER_GROUP`).
    Worker,
    /// The REST API.
    Api,
}

impl Handler {
    pub fn name(self) -> &'static str {
        match self {
            Handler::Executor => "executor",
            Handler::Scheduler => "scheduler",
            Handler::Worker => "worker",
            Handler::Api => "api",
        }
    }
}

/// Why a function could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot open the backends: {0}")]
    Backend(#[from] BackendError),
    #[error("cannot listen on port {port}: {source}")]
    Listen {
        port: u16,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start the tokio runtime: {0}")]
    Runtime(std::io::Error),
}

/// What a handler needs beside the engine (tests build it directly).
#[derive(Clone)]
pub struct FunctionOptions {
    pub auth: PushAuth,
    pub worker_group: String,
    pub lease: Duration,
    /// Names this instance in worker claims.
    pub instance: String,
    /// The schedule engine (ticks, backfills); by default a
    /// [`schedules::ScheduleEngine`] on `triggers`.
    pub schedules: Option<Arc<dyn Schedules>>,
    /// Ticks, trigger state and backfills; without it (and without
    /// `schedules`) ticks and backfills are not served.
    pub triggers: Option<Arc<dyn TriggerStore>>,
    /// How long one request drives backfills.
    pub backfill_budget: std::time::Duration,
    /// The sweep job paused while nothing is in flight (`BATON_SWEEP_JOB`);
    /// without it the sweep job is left as it is.
    pub idle: Option<idle::IdleGate>,
}

impl FunctionOptions {
    /// Options with verification off, the `core` group.
    pub fn unauthenticated() -> FunctionOptions {
        FunctionOptions {
            auth: PushAuth::Off,
            worker_group: "core".into(),
            lease: Duration::seconds(crate::runtime::worker::LEASE_SECONDS),
            instance: format!("fn-{}", uuid::Uuid::new_v4().simple()),
            schedules: None,
            triggers: None,
            backfill_budget: schedules::BACKFILL_BUDGET,
            idle: None,
        }
    }
}

/// A schedule engine that is not there: ticks and backfills stay on the
/// topic (redelivered, then dead-lettered) rather than being dropped.
struct NoSchedules;

#[async_trait]
impl Schedules for NoSchedules {
    async fn tick(&self, _: &TickRequest, _: DateTime<Utc>) -> Result<Vec<String>, ScheduleFailure> {
        Err(ScheduleFailure::Transient("this scheduler has no schedule engine".into()))
    }
    async fn backfill(&self, _: &BackfillRequest) -> Result<String, ScheduleFailure> {
        Err(ScheduleFailure::Transient("this scheduler has no schedule engine".into()))
    }
}

/// The router of `handler` over `engine`. The executor and the API load
/// their flows first.
pub async fn router(handler: Handler, engine: Arc<Engine>, opts: &FunctionOptions) -> Router {
    if handler != Handler::Worker
        && let Some(files) = engine.flow_files.as_deref()
        && let Err(e) = crate::runtime::flow_files::load_all(&engine, files).await
    {
        tracing::error!(error = %e, "cannot load flows at start; they will be loaded on demand");
    }
    let auth = opts.auth.clone();
    let schedules: Option<Arc<dyn Schedules>> = opts.schedules.clone().or_else(|| {
        let store = opts.triggers.clone()?;
        let engine = schedules::ScheduleEngine::new(engine.clone(), store, opts.backfill_budget);
        Some(Arc::new(engine) as Arc<dyn Schedules>)
    });
    match handler {
        Handler::Executor => {
            server::push_router(Arc::new(executor::ExecutorFunction::new(engine, opts.idle.clone())), auth)
        }
        Handler::Worker => server::push_router(
            Arc::new(worker::WorkerFunction::new(engine, &opts.worker_group, &opts.instance, opts.lease)),
            auth,
        ),
        Handler::Scheduler => {
            let schedules = schedules.unwrap_or_else(|| Arc::new(NoSchedules));
            let sweeper = format!("sweeper-{}", opts.instance);
            server::push_router(
                Arc::new(
                    scheduler::SchedulerFunction::new(engine, schedules, &sweeper, opts.lease)
                        .with_idle(opts.idle.clone()),
                ),
                auth,
            )
        }
        Handler::Api => api::router(engine, schedules),
    }
}

/// The backends an engine runs on.
pub struct Backends {
    pub state: Arc<dyn StateStore>,
    pub kv: Arc<dyn KvStore>,
    pub storage: Arc<dyn Storage>,
    pub queue: Arc<dyn Queue>,
    pub triggers: Arc<dyn TriggerStore>,
}

/// Opens the configured backends. Must run inside a tokio runtime.
pub async fn open_backends(cfg: &FunctionConfig) -> Result<Backends, StartError> {
    match &cfg.backend {
        BackendConfig::Gcp => {
            let b = crate::backend::gcp::GcpBackends::from_env().await?;
            if b.config.seal_key.is_none() {
                tracing::warn!(
                    "BATON_SEAL_KEY is not set: executions with a SECRET input are refused (their values are stored sealed under that key)"
                );
            }
            Ok(Backends {
                state: b.state.clone(),
                kv: b.state.clone(),
                triggers: b.state,
                storage: b.storage,
                queue: b.queue,
            })
        }
        BackendConfig::Local { home, relay } => {
            let b = crate::backend::local::LocalBackends::open(home)?;
            if relay.is_empty() {
                tracing::warn!("BATON_RELAY is not set: messages this function publishes are dropped");
            }
            let queue = PushRelay::start(relay.clone(), RelayOptions::default());
            Ok(Backends {
                state: b.state.clone(),
                kv: b.state.clone(),
                triggers: b.state,
                storage: b.storage,
                queue: Arc::new(queue),
            })
        }
    }
}

/// An engine on `backends` with the built-in plugins, secrets and `envs`
/// from `vars`.
pub fn engine(backends: Backends, cfg: &FunctionConfig, vars: &HashMap<String, String>) -> Arc<Engine> {
    let secrets = Secrets::from_vars(vars.iter().map(|(k, v)| (k.clone(), v.clone())));
    for bad in &secrets.invalid {
        tracing::warn!(variable = %bad, "secret is not valid base64 and is ignored");
    }
    let wiring = function_wiring(Some(&cfg.flows), Some(backends.triggers.clone()), &backends.storage);
    Engine::new(EngineConfig {
        state: logging::task_logs_on_stdout(backends.state, cfg.project.clone()),
        kv: backends.kv,
        storage: backends.storage,
        queue: backends.queue,
        registry: crate::plugins::Registry::builtin(),
        secrets,
        envs: envs_map(vars.iter().map(|(k, v)| (k.clone(), v.clone()))),
        work_root: cfg.work_root.clone(),
        plugins: plugins(cfg, vars),
        echo_logs: false,
        progress: None,
        wiring,
    })
}

/// What a function's engine adds to its backends: its flows (read as they
/// are now, for new executions and Subflow; written by `git.SyncFlows`
/// where the api function reads them) and the trigger state the engine's
/// own code reads and writes (trigger.Toggle on the worker, http.Trigger
/// evaluations on the scheduler, as the schedules do).
pub fn function_wiring(
    flows: Option<&FlowSource>,
    triggers: Option<Arc<dyn TriggerStore>>,
    storage: &Arc<dyn Storage>,
) -> Wiring {
    Wiring {
        flow_files: flows.map(|f| f.open(storage.clone())),
        latest_from_files: true,
        trigger_store: triggers,
        disk_guard: None,
    }
}

/// The plugins' settings from the environment; on the GCP backends only,
/// Docker-runner script tasks run as Cloud Run Jobs when
/// `BATON_CLOUD_RUN_REGION` is set (never on the local backends: their
/// files are not in a bucket a Job could mount).
fn plugins(cfg: &FunctionConfig, vars: &HashMap<String, String>) -> crate::plugins::PluginConfig {
    let mut p = crate::plugins::PluginConfig::from_env();
    if cfg.backend == BackendConfig::Gcp {
        p.scripts.cloud_run = crate::plugins::scripts::CloudRunConfig::from_vars(|k| vars.get(k).cloned());
    }
    p
}

/// Builds everything from the configuration and serves until `shutdown`.
pub async fn start(
    handler: Handler,
    cfg: FunctionConfig,
    vars: &HashMap<String, String>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let backends = open_backends(&cfg).await?;
    let triggers = backends.triggers.clone();
    let engine = engine(backends, &cfg, vars);
    let auth = match &cfg.auth {
        AuthConfig::Off => {
            if handler != Handler::Api {
                tracing::warn!("push verification is OFF (BATON_PUSH_AUTH=off): any caller is trusted");
            }
            PushAuth::Off
        }
        AuthConfig::Oidc(o) => PushAuth::Oidc(Arc::new(OidcVerifier::new(o.clone(), engine.http.client()))),
    };
    let idle = match &cfg.sweep_job {
        None => None,
        Some(name) => {
            let job = crate::gcp::scheduler::CloudSchedulerJob::new(name, cfg.scheduler_endpoint.as_deref())
                .await
                .map_err(|reason| {
                    StartError::Config(ConfigError::Invalid { name: "BATON_SWEEP_JOB", value: name.clone(), reason })
                })?;
            Some(idle::IdleGate::new(Arc::new(job), Some(triggers.clone())))
        }
    };
    let opts = FunctionOptions {
        auth,
        worker_group: cfg.worker_group.clone(),
        lease: cfg.lease,
        instance: cfg.instance.clone(),
        schedules: None,
        triggers: Some(triggers),
        backfill_budget: schedules::BACKFILL_BUDGET,
        idle,
    };
    let app = if handler == Handler::Api && cfg.webhooks_only {
        tracing::info!("serving only the webhook routes (BATON_API_ROUTES=webhooks)");
        api::webhooks_router(engine.clone()).await
    } else {
        router(handler, engine.clone(), &opts).await
    };
    let app = crate::prometheus::tracked(app);
    let listener = tokio::net::TcpListener::bind(("0.0.0.0", cfg.port))
        .await
        .map_err(|source| StartError::Listen { port: cfg.port, source })?;
    tracing::info!(function = handler.name(), port = cfg.port, instance = %cfg.instance, "listening");
    server::serve(listener, app, cfg.http, shutdown)
        .await
        .map_err(|source| StartError::Listen { port: cfg.port, source })?;
    engine.logs.flush().await;
    tracing::info!(function = handler.name(), "stopped");
    Ok(())
}

/// The whole life of a function binary: configuration from the
/// environment, logging, the runtime, serving until SIGTERM.
pub fn run(handler: Handler) -> ExitCode {
    // a task's shim runs its program and exits; else script tasks get one
    crate::plugins::scripts::shim::enter_if_asked();
    crate::allocator::tune();
    let vars: HashMap<String, String> = std::env::vars().collect();
    let cfg = match FunctionConfig::from_vars(handler, &vars) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {} function: {e}", handler.name());
            return ExitCode::from(2);
        }
    };
    let telemetry = match logging::init(cfg.project.clone(), &format!("baton-{}", handler.name())) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {} function: {e}", handler.name());
            return ExitCode::from(2);
        }
    };
    if let Err(e) = crate::prometheus::start(true) {
        eprintln!("error: {} function: {e}", handler.name());
        return ExitCode::from(2);
    }
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %StartError::Runtime(e), "cannot start");
            return ExitCode::FAILURE;
        }
    };
    let ran = rt.block_on(start(handler, cfg, &vars, server::shutdown_signal()));
    drop(rt);
    drop(telemetry);
    match ran {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(function = handler.name(), error = %e, "cannot start");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloud_run_jobs_only_on_the_gcp_backends() {
        let vars = |backend: &str| -> HashMap<String, String> {
            [
                ("BATON_PUSH_AUTH", "off"),
                ("BATON_BACKEND", backend),
                ("GOOGLE_CLOUD_PROJECT", "p"),
                ("BATON_INTERNAL_BUCKET", "p-baton-internal"),
                ("BATON_CLOUD_RUN_REGION", "europe-west1"),
                ("BATON_CLOUD_RUN_SERVICE_ACCOUNT", "baton-tasks@p.iam.gserviceaccount.com"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
        };
        let gcp = vars("gcp");
        let cfg = FunctionConfig::from_vars(Handler::Worker, &gcp).expect("config");
        let c = plugins(&cfg, &gcp).scripts.cloud_run.expect("Cloud Run on GCP");
        assert_eq!(
            (c.project.as_str(), c.region.as_str(), c.bucket.as_str()),
            ("p", "europe-west1", "p-baton-internal")
        );
        assert_eq!(c.mount_path, "/mnt/baton");
        assert_eq!(c.service_account.as_deref(), Some("baton-tasks@p.iam.gserviceaccount.com"));
        let local = vars("local");
        let cfg = FunctionConfig::from_vars(Handler::Worker, &local).expect("config");
        assert!(plugins(&cfg, &local).scripts.cloud_run.is_none(), "never on the local backends");
    }
}
