//! The engine's shared parts, wired once by a binary: backends, registry,
//! renderer, flows, secrets, HTTP client and the update feed — everything
//! given to [`Engine::new`], nothing set on the engine afterwards. The launcher,
//! executor service and workers all take an `Arc<Engine>`.

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{Map, Value};
use tokio::sync::broadcast;

use super::flows::FlowRepository;
use super::host::RuntimeHost;
use super::logs::StoreLogSink;
use super::secrets::Secrets;
use crate::backend::flow_files::FlowFiles;
use crate::backend::schedule::TriggerStore;
use crate::backend::{KvStore, Queue, StateStore, Storage};
use crate::model::{Execution, StateType, TaskRun};
use crate::plugins::Registry;
use crate::plugins::context::Progress;
use crate::template::Renderer;

/// A change of an execution, for live progress and waiters.
#[derive(Debug, Clone)]
pub struct ExecutionUpdate {
    pub execution_id: String,
    /// The execution's flow (for logs, without loading the execution).
    pub namespace: String,
    pub flow_id: String,
    pub state: StateType,
    /// True once the execution is over: terminal, and its listeners and
    /// afterExecution tasks done (`Execution::is_done`).
    pub done: bool,
    /// The task runs that changed, as they are now.
    pub changed: Vec<TaskRun>,
}

impl ExecutionUpdate {
    /// Whether a listener that waits for an end or a state (not for every
    /// task run) must see it: the execution's state changed
    /// (`state_changed`), it is done or PAUSED (a paused execution settles
    /// when its last task in flight ends), or a task run is in a state other
    /// than CREATED, RUNNING or SUCCESS (a failure, a retry, a warning,
    /// which `baton run -q` still prints).
    pub fn is_notable(&self, state_changed: bool) -> bool {
        self.is_notable_head(state_changed) || self.changed.iter().any(|t| notable_run(t.state.current))
    }

    /// [`Self::is_notable`] on what does not depend on the task runs.
    fn is_notable_head(&self, state_changed: bool) -> bool {
        state_changed || self.done || self.state == StateType::Paused
    }
}

/// A task run in this state makes its update notable.
fn notable_run(state: StateType) -> bool {
    !matches!(state, StateType::Created | StateType::Running | StateType::Success)
}

/// Where new executions find a flow as it is now, when it can change under a
/// running process (the GCP functions read it from the bucket; the local
/// runtimes keep their repository current themselves).
#[async_trait::async_trait]
pub trait LatestFlows: Send + Sync {
    async fn latest(&self, namespace: &str, id: &str) -> Option<Arc<crate::model::Flow>>;
    /// Every flow as it is now (Flow triggers look for their listeners);
    /// `None`: the engine's repository is current.
    async fn all(&self) -> Result<Option<Vec<Arc<crate::model::Flow>>>, crate::backend::BackendError> {
        Ok(None)
    }
}

/// Everything the runtime's services share.
pub struct Engine {
    pub state: Arc<dyn StateStore>,
    pub kv: Arc<dyn KvStore>,
    pub storage: Arc<dyn Storage>,
    pub queue: Arc<dyn Queue>,
    pub registry: Arc<Registry>,
    pub renderer: Arc<Renderer>,
    pub flows: Arc<FlowRepository>,
    pub secrets: Arc<Secrets>,
    /// Kestra's `envs` variable.
    pub envs: Map<String, Value>,
    pub host: Arc<RuntimeHost>,
    pub http: crate::plugins::context::LazyHttp,
    pub work_root: PathBuf,
    pub plugins: Arc<crate::plugins::PluginConfig>,
    pub logs: StoreLogSink,
    pub progress: Option<Arc<dyn Progress>>,
    pub updates: broadcast::Sender<ExecutionUpdate>,
    /// The notable updates only ([`ExecutionUpdate::is_notable`]), for
    /// listeners that wait for an end or a state: they are not woken on
    /// every task run of every execution (one wake-up a task run was a
    /// tenth of a long chain's CPU under `baton run -q`). Each lists only
    /// its task runs in a notable state (a failure, a retry, a warning).
    pub notable: broadcast::Sender<ExecutionUpdate>,
    /// The ids of executions being killed, as the executor saves them
    /// KILLING or KILLED: running tasks listen here instead of to every
    /// update (which woke each of them on every task run of every execution).
    pub kills: broadcast::Sender<String>,
    /// Where the flows live (a folder or a bucket), when the runtime has
    /// such a place (`baton run` has none).
    pub flow_files: Option<Arc<dyn FlowFiles>>,
    /// Where new executions read a flow as it is now, for runtimes whose
    /// flows change under them (see [`LatestFlows`]); else [`Engine::flows`].
    pub latest_flows: Option<Arc<dyn LatestFlows>>,
    /// The flow store tasks write (`git.SyncFlows`, `PurgeFlows`), over
    /// [`Engine::flow_files`].
    pub flow_store: Option<Arc<dyn crate::plugins::flow_store::FlowStore>>,
    /// Where `trigger.Toggle` enables and disables triggers, for runtimes
    /// that keep trigger state.
    pub trigger_store: Option<Arc<dyn TriggerStore>>,
    /// What a full disk of a local home trips (`diskfull`).
    pub disk_guard: Option<Arc<super::diskfull::DiskGuard>>,
    /// Executions one root may have below it (`fanout`), settable by tests.
    pub max_descendants: std::sync::atomic::AtomicU64,
    /// Kills (and SLAs) whose claims this process's executor closed: a
    /// worker reads a fresh in-process claim only if this moved since the
    /// job's dispatch (`worker::FRESH_CLAIM`).
    pub claims_closed: std::sync::atomic::AtomicU64,
    /// The log volume bounds of this process's task attempts (`log_bounds`).
    pub log_bounds: super::log_bounds::LogBounds,
    /// The executions' stored log volume, as this process counts it.
    pub log_volumes: super::log_bounds::Volumes,
    /// The tasks that flow unit tests mock, per execution (`fixtures`).
    pub mocks: super::fixtures::MockTable,
}

/// What a binary decides when it builds an engine.
pub struct EngineConfig {
    pub state: Arc<dyn StateStore>,
    pub kv: Arc<dyn KvStore>,
    pub storage: Arc<dyn Storage>,
    pub queue: Arc<dyn Queue>,
    pub registry: Registry,
    pub secrets: Secrets,
    pub envs: Map<String, Value>,
    pub work_root: PathBuf,
    pub plugins: crate::plugins::PluginConfig,
    /// Echo task logs on stderr.
    pub echo_logs: bool,
    pub progress: Option<Arc<dyn Progress>>,
    /// What the runtime adds beyond its backends.
    pub wiring: Wiring,
}

/// What a runtime adds to an engine beyond its backends; everything is
/// given at construction ([`Engine::new`]), nothing is set later.
#[derive(Default)]
pub struct Wiring {
    /// Where the flows live (a folder or a bucket): the flow store tasks
    /// write is built over it.
    pub flow_files: Option<Arc<dyn FlowFiles>>,
    /// New executions read each flow from `flow_files` as its file is now
    /// (the functions, whose flows change under them); without it they use
    /// the engine's repository, which the runtime keeps current (the local
    /// server's watcher).
    pub latest_from_files: bool,
    /// Where `trigger.Toggle` enables and disables triggers.
    pub trigger_store: Option<Arc<dyn TriggerStore>>,
    /// What a full disk of the local home trips.
    pub disk_guard: Option<Arc<super::diskfull::DiskGuard>>,
}

impl Engine {
    /// Tells the update's listeners, and the running tasks of an execution
    /// being killed. `state_changed`: the save that made it changed the
    /// execution's state.
    /// The update of a save of `exec` whose task runs at `positions`
    /// changed. They are copied into it only for a listener: all of them
    /// when one listens to every update, those in a notable state when the
    /// only listeners are of the notable feed (`baton run -q`), none when
    /// nobody listens. The step that starts a `ForEach` of 100,000 values
    /// changes 100,000 task runs, and copying them beside the execution for
    /// no one was the largest allocation of such a loop.
    pub fn update_of(&self, exec: &Execution, positions: &[usize], done: bool) -> ExecutionUpdate {
        let runs = || positions.iter().filter_map(|&i| exec.task_run_list.get(i));
        let changed = if self.updates.receiver_count() > 0 {
            runs().cloned().collect()
        } else if self.notable.receiver_count() > 0 {
            runs().filter(|t| notable_run(t.state.current)).cloned().collect()
        } else {
            Vec::new()
        };
        ExecutionUpdate {
            execution_id: exec.id.clone(),
            namespace: exec.namespace.clone(),
            flow_id: exec.flow_id.clone(),
            state: exec.state.current,
            done,
            changed,
        }
    }

    /// Tells the listeners: every update to [`Self::updates`], a notable
    /// one ([`ExecutionUpdate::is_notable`]) to [`Self::notable`] too,
    /// there with only its task runs in a notable state.
    pub fn announce(&self, update: ExecutionUpdate, state_changed: bool) {
        if matches!(update.state, crate::model::StateType::Killing | crate::model::StateType::Killed) {
            let _ = self.kills.send(update.execution_id.clone());
        }
        if self.notable.receiver_count() > 0 && update.is_notable(state_changed) {
            let changed = update.changed.iter().filter(|t| notable_run(t.state.current)).cloned().collect();
            let _ = self.notable.send(ExecutionUpdate {
                execution_id: update.execution_id.clone(),
                namespace: update.namespace.clone(),
                flow_id: update.flow_id.clone(),
                changed,
                ..update
            });
        }
        let _ = self.updates.send(update);
    }

    /// The bound on executions descending from one root (`fanout`).
    pub fn max_descendants(&self) -> u64 {
        self.max_descendants.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Wires an engine. Must be called inside a tokio runtime.
    pub fn new(cfg: EngineConfig) -> Arc<Engine> {
        let secrets = Arc::new(cfg.secrets);
        let logs = StoreLogSink::start(cfg.state.clone(), cfg.echo_logs);
        let host = Arc::new(RuntimeHost {
            kv: cfg.kv.clone(),
            storage: cfg.storage.clone(),
            secrets: secrets.clone(),
            state: cfg.state.clone(),
            logs: logs.clone(),
        });
        let (updates, _) = broadcast::channel(4096);
        let (notable, _) = broadcast::channel(1024);
        let (kills, _) = broadcast::channel(256);
        let wiring = cfg.wiring;
        Arc::new_cyclic(|engine| Engine {
            latest_flows: match &wiring.flow_files {
                Some(files) if wiring.latest_from_files => {
                    Some(Arc::new(super::flow_files::FilesLatest { engine: engine.clone(), files: files.clone() })
                        as Arc<dyn LatestFlows>)
                }
                _ => None,
            },
            flow_store: wiring.flow_files.as_ref().map(|files| {
                Arc::new(super::flow_catalog::FlowCatalog { engine: engine.clone(), files: files.clone() })
                    as Arc<dyn crate::plugins::flow_store::FlowStore>
            }),
            flow_files: wiring.flow_files,
            trigger_store: wiring.trigger_store,
            disk_guard: wiring.disk_guard,
            logs,
            state: cfg.state,
            kv: cfg.kv,
            storage: cfg.storage,
            queue: cfg.queue,
            registry: Arc::new(cfg.registry),
            renderer: Arc::new(Renderer::new()),
            flows: Arc::new(FlowRepository::new()),
            secrets,
            envs: cfg.envs,
            host,
            http: Default::default(),
            work_root: cfg.work_root,
            plugins: Arc::new(cfg.plugins),
            progress: cfg.progress,
            updates,
            notable,
            kills,
            max_descendants: std::sync::atomic::AtomicU64::new(super::fanout::configured()),
            claims_closed: std::sync::atomic::AtomicU64::new(0),
            log_bounds: super::log_bounds::LogBounds::configured(),
            log_volumes: Default::default(),
            mocks: Default::default(),
        })
    }

    /// The flow `namespace.id` as it is now, for a new execution.
    pub async fn latest_flow(&self, namespace: &str, id: &str) -> Option<Arc<crate::model::Flow>> {
        match &self.latest_flows {
            Some(l) => l.latest(namespace, id).await,
            None => self.flows.get(namespace, id),
        }
    }

    /// The executor's rendering environment.
    pub fn step_env(&self) -> super::env::EngineEnv {
        super::env::EngineEnv {
            renderer: self.renderer.clone(),
            host: self.host.clone(),
            registry: self.registry.clone(),
            envs: Value::Object(self.envs.clone()),
        }
    }
}

/// An engine on the local backends under `home`, with the built-in
/// plugins and nothing else configured (for unit tests; the `testing`
/// feature for the crates above).
#[cfg(any(test, feature = "testing"))]
pub fn for_tests(home: &std::path::Path) -> Arc<Engine> {
    let b = crate::backend::local::LocalBackends::open(home).expect("local backends");
    Engine::new(EngineConfig {
        state: b.state.clone(),
        kv: b.state.clone(),
        storage: b.storage.clone(),
        queue: b.queue.clone(),
        registry: crate::plugins::Registry::builtin(),
        secrets: Default::default(),
        envs: Default::default(),
        work_root: home.join("work"),
        plugins: Default::default(),
        echo_logs: false,
        progress: None,
        wiring: Wiring::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::ExecutionUpdate;
    use crate::model::{State, StateType, TaskRun};

    fn update(state: StateType, done: bool, runs: &[StateType]) -> ExecutionUpdate {
        let changed = runs
            .iter()
            .map(|s| TaskRun {
                id: "tr".into(),
                execution_id: "e".into(),
                namespace: "ns".into(),
                flow_id: "f".into(),
                task_id: "t".into(),
                parent_task_run_id: None,
                value: None,
                attempts: Default::default(),
                outputs: None,
                state: State::new(*s, chrono::Utc::now()),
                iteration: None,
                next_retry_date: None,
                error: None,
                evaluated: None,
            })
            .collect();
        ExecutionUpdate { execution_id: "e".into(), namespace: "ns".into(), flow_id: "f".into(), state, done, changed }
    }

    #[test]
    fn notable_updates_are_state_changes_ends_pauses_and_unusual_task_runs() {
        use StateType::*;
        // a task run starting or succeeding in a running execution: not notable
        assert!(!update(Running, false, &[Success, Created]).is_notable(false));
        assert!(!update(Running, false, &[Running]).is_notable(false));
        // the execution's state changed, it is done, or PAUSED
        assert!(update(Running, false, &[]).is_notable(true));
        assert!(update(Success, true, &[]).is_notable(false));
        assert!(update(Paused, false, &[Success]).is_notable(false));
        // a failure, a retry, a warning, a kill: `baton run -q` prints them
        for s in [Failed, Retrying, Warning, Killed] {
            assert!(update(Running, false, &[Success, s]).is_notable(false), "{s:?}");
        }
    }

    /// A save's update carries its changed task runs only to a listener
    /// that receives it: none when nobody listens, or when only notable
    /// updates are listened to and this one is not.
    #[tokio::test]
    async fn an_update_copies_the_changed_task_runs_only_for_a_listener() {
        use StateType::*;
        let home = std::env::temp_dir().join(format!("baton-update-of-{}", uuid::Uuid::new_v4()));
        let engine = super::for_tests(&home);
        let mut exec =
            crate::model::Execution::new("e".into(), "ns", "f", 1, Default::default(), Vec::new(), chrono::Utc::now());
        exec.state = State::new(Running, chrono::Utc::now());
        exec.task_run_list = update(Running, false, &[Created, Success, Failed]).changed;
        let copied = |positions: &[usize]| engine.update_of(&exec, positions, false).changed.len();
        // nobody listens
        assert_eq!(copied(&[0, 1, 2]), 0);
        // a listener of notable updates: the failed task run only
        let mut notable = engine.notable.subscribe();
        assert_eq!(copied(&[0, 1]), 0, "nothing notable");
        assert_eq!(copied(&[0, 1, 2]), 1, "a task run failed");
        // a listener of every update: all of them; the notable feed still
        // gets the failed one only
        let mut every = engine.updates.subscribe();
        let update = engine.update_of(&exec, &[0, 1, 2], false);
        assert_eq!(update.changed.len(), 3);
        engine.announce(update, false);
        assert_eq!(every.try_recv().expect("every update").changed.len(), 3);
        let got = notable.try_recv().expect("a notable update");
        assert_eq!(got.changed.iter().map(|t| t.state.current).collect::<Vec<_>>(), vec![Failed]);
        // not notable: not on the notable feed
        engine.announce(engine.update_of(&exec, &[0, 1], false), false);
        assert_eq!(every.try_recv().expect("every update").changed.len(), 2);
        assert!(notable.try_recv().is_err());
        let _ = std::fs::remove_dir_all(&home);
    }
}
