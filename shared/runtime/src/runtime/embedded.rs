//! The embedded runtime: one process, SQLite + a folder + in-process
//! queues. Starts the executor loop and a worker pool per worker group,
//! each fed only through the `Queue` topics — the same messages the Cloud
//! Run services receive from Pub/Sub.

use std::collections::BTreeSet;
use std::sync::Arc;

use tokio::sync::Mutex;
use tokio::sync::broadcast::error::RecvError;
use tokio::task::JoinHandle;

use super::engine::{Engine, ExecutionUpdate};
use super::executor::ExecutorService;
use super::launcher::{self, LaunchError, LaunchRequest, publish_event};
use super::messages::{ExecutionEvent, WorkerJob};
use super::worker::Worker;
use crate::backend::local::LocalQueue;
use crate::backend::{BackendError, ExecutionFilter, Topic};
use crate::executor::StepOptions;
use crate::model::{Execution, Flow, StateType};

/// A running embedded engine.
pub struct Embedded {
    pub engine: Arc<Engine>,
    pub executor: Arc<ExecutorService>,
    handles: Vec<JoinHandle<()>>,
}

impl Embedded {
    /// Starts the executor loop and `workers` worker loops per group.
    pub fn start(engine: Arc<Engine>, queue: &Arc<LocalQueue>, workers: usize) -> Embedded {
        let executor = Arc::new(ExecutorService::new(engine.clone()));
        let mut handles = Vec::new();
        let mut rx = queue.subscribe(&Topic::Executions);
        // events of one execution stay in order on one lane; different
        // executions are decided side by side (as several executor
        // instances do on Cloud Run: saves are compare-and-swap)
        let lane_count = executor_lanes();
        let mut sources = Vec::with_capacity(lane_count);
        if lane_count == 1 {
            // one lane reads the topic itself: no hop through a dispatcher
            sources.push(Events::Topic(rx, 0));
        } else {
            let mut lanes = Vec::with_capacity(lane_count);
            for _ in 0..lane_count {
                let (tx, lane_rx) = tokio::sync::mpsc::unbounded_channel::<ExecutionEvent>();
                lanes.push(tx);
                sources.push(Events::Lane(lane_rx));
            }
            let queue = queue.clone();
            handles.push(tokio::spawn(async move {
                while let Some(msg) = rx.recv().await {
                    match decode(msg) {
                        Some(ev) => {
                            let _ = lanes[lane_of(&ev, lanes.len())].send(ev);
                        }
                        None => queue.handled(1),
                    }
                }
            }));
        }
        for mut source in sources {
            let executor = executor.clone();
            let engine = engine.clone();
            let queue = queue.clone();
            handles.push(tokio::spawn(async move {
                while let Some(ev) = source.recv().await {
                    // every event already waiting: an execution's reports share one decision
                    let mut waiting = vec![ev];
                    while waiting.len() < super::batch::MAX_BATCH {
                        match source.try_recv() {
                            Some(ev) => waiting.push(ev),
                            None => break,
                        }
                    }
                    let taken = waiting.len();
                    // executions side by side (their saves share a commit),
                    // each one's groups in order; creations admitted in order
                    let mut turns = super::batch::Turns::default();
                    let sequences = super::batch::sequences(waiting).into_iter().map(|sequence| {
                        let mut turn = sequence
                            .iter()
                            .flatten()
                            .any(|e| matches!(e, ExecutionEvent::Created { .. }))
                            .then(|| turns.next_turn());
                        let (executor, engine) = (&executor, &engine);
                        async move {
                            for group in sequence {
                                let turn = turn.take().unwrap_or_else(super::batch::Turn::free);
                                let id = group[0].execution_id().to_string();
                                let decided = executor.handle_events_in_turn(&group, StepOptions::default(), turn);
                                if let Err(e) = decided.await {
                                    tracing::error!(execution_id = %id, error = %e, "cannot process execution event");
                                    super::diskfull::on_error(engine, &id, &e.to_string()).await;
                                }
                            }
                        }
                    });
                    futures::future::join_all(sequences).await;
                    // decided: out of the backlog the API's admission reads
                    queue.handled(taken + source.dropped());
                }
            }));
        }
        let mut groups: BTreeSet<String> = engine.registry.groups().into_iter().collect();
        groups.insert("core".to_string());
        for group in groups {
            let rx = Arc::new(Mutex::new(queue.subscribe(&Topic::Tasks(group.clone()))));
            for n in 0..workers.max(1) {
                let rx = rx.clone();
                let worker = Worker::new(engine.clone(), format!("local-{group}-{n}")).in_process();
                let engine = engine.clone();
                let queue = queue.clone();
                handles.push(tokio::spawn(async move {
                    loop {
                        let msg = { rx.lock().await.recv().await };
                        let Some(msg) = msg else { break };
                        // a job taken by a worker is running, no longer waiting
                        queue.handled(1);
                        match msg.decode::<WorkerJob>() {
                            Ok(job) => {
                                if let Err(e) = worker.handle(&job).await {
                                    tracing::error!(task_run_id = %job.task_run_id, error = %e, "worker failed to report");
                                    super::diskfull::on_error(&engine, &job.execution_id, &e.to_string()).await;
                                }
                            }
                            Err(e) => tracing::error!(error = %e, "malformed job dropped"),
                        }
                    }
                }));
            }
        }
        Embedded { engine, executor, handles }
    }

    /// Re-dispatches work of executions left unfinished by a previous
    /// process (their queued messages were lost with it).
    pub async fn resume(&self) -> Result<usize, BackendError> {
        let mut n = 0;
        for state in [StateType::Running, StateType::Created, StateType::Queued] {
            let list = self
                .engine
                .state
                .list_executions(&ExecutionFilter { state: Some(state), ..ExecutionFilter::default() })
                .await?;
            for e in list {
                if self.engine.flows.get(&e.namespace, &e.flow_id).is_none() {
                    continue;
                }
                let ev = ExecutionEvent::Wake { execution_id: e.id.clone(), redispatch: true };
                if let Err(err) = self.executor.handle(&ev, StepOptions { redispatch_pending: true }).await {
                    tracing::warn!(execution_id = %e.id, error = %err, "cannot resume execution");
                }
                n += 1;
            }
        }
        Ok(n)
    }

    /// Starts an execution of `flow`.
    pub async fn launch(&self, flow: &Flow, req: LaunchRequest) -> Result<Execution, LaunchError> {
        launcher::launch(&self.engine, flow, req).await
    }

    /// A feed of execution updates; subscribe before launching to miss nothing.
    pub fn updates(&self) -> tokio::sync::broadcast::Receiver<ExecutionUpdate> {
        self.engine.updates.subscribe()
    }

    /// A feed of the notable updates only (`ExecutionUpdate::is_notable`):
    /// enough for [`Embedded::wait`] and [`Embedded::wait_settled`] when
    /// `on_update` shows only failures.
    pub fn notable_updates(&self) -> tokio::sync::broadcast::Receiver<ExecutionUpdate> {
        self.engine.notable.subscribe()
    }

    /// Waits until `id` ends, calling `on_update` for each of its updates.
    pub async fn wait(
        &self,
        id: &str,
        mut updates: tokio::sync::broadcast::Receiver<ExecutionUpdate>,
        mut on_update: impl FnMut(&ExecutionUpdate),
    ) -> Result<Execution, BackendError> {
        let mut done = self.engine.state.load_execution(id).await?.is_some_and(|e| e.is_done());
        while !done {
            match updates.recv().await {
                Ok(u) if u.execution_id == id => {
                    on_update(&u);
                    if u.done {
                        done = true;
                    }
                }
                Ok(_) => {}
                Err(RecvError::Lagged(_)) => {
                    if let Some(e) = self.engine.state.load_execution(id).await?
                        && e.is_done()
                    {
                        done = true;
                    }
                }
                Err(RecvError::Closed) => done = true,
            }
        }
        self.engine.logs.flush().await;
        self.engine
            .state
            .load_execution(id)
            .await?
            .ok_or_else(|| BackendError::NotFound { what: format!("execution {id}") })
    }

    /// Like [`Embedded::wait`], but also returns when the execution is
    /// PAUSED with nothing to wake it here (a Pause without a duration): it
    /// waits for a resume another process will drive. Returns the execution
    /// whole, or with `head_only` its head (no task runs) when it ended
    /// SUCCESS or WARNING: what `baton run` prints then needs no task run,
    /// and a 100,000-iteration loop is not decoded again at its end.
    pub async fn wait_settled(
        &self,
        id: &str,
        updates: tokio::sync::broadcast::Receiver<ExecutionUpdate>,
        on_update: impl FnMut(&ExecutionUpdate),
        head_only: bool,
    ) -> Result<Execution, BackendError> {
        let (settled, whole) = self.wait_settled_head(id, updates, on_update).await?;
        if whole || (head_only && matches!(settled.state.current, StateType::Success | StateType::Warning)) {
            return Ok(settled);
        }
        self.engine
            .state
            .load_execution(id)
            .await?
            .ok_or_else(|| BackendError::NotFound { what: format!("execution {id}") })
    }

    /// [`Embedded::wait_settled`], returning the head once settled, or the
    /// execution whole (`true`) when a full disk failed it here: that copy
    /// may be newer than the store's.
    async fn wait_settled_head(
        &self,
        id: &str,
        mut updates: tokio::sync::broadcast::Receiver<ExecutionUpdate>,
        mut on_update: impl FnMut(&ExecutionUpdate),
    ) -> Result<(Execution, bool), BackendError> {
        // paused with no timer and no task in flight (a parallel branch may
        // still run, e.g. the `execution.Resume` that resumes it)
        let settled = |e: &Execution| {
            let in_flight = e.task_run_list.iter().any(|tr| {
                tr.state.current == StateType::Retrying || tr.attempts.last().is_some_and(|a| !a.state.is_terminal())
            });
            e.state.is_terminal()
                || (e.state.current == StateType::Paused && crate::executor::next_timer(e).is_none() && !in_flight)
        };
        let load = || async {
            self.engine
                .state
                .load_execution(id)
                .await?
                .ok_or_else(|| BackendError::NotFound { what: format!("execution {id}") })
        };
        let mut done = settled(&load().await?);
        let mut disk = self.engine.disk_guard.as_ref().map(|g| g.watch());
        while !done {
            let update = tokio::select! {
                u = updates.recv() => u,
                Some(full) = disk_full(&mut disk) => {
                    // fail it here too: the write that hit the full disk may
                    // have been another execution's
                    return match super::diskfull::fail_execution(&self.engine, id, &full).await {
                        Ok(Some(e)) => Ok((e, true)),
                        Ok(None) | Err(_) => Err(BackendError::Invalid(full)),
                    };
                }
            };
            match update {
                Ok(u) if u.execution_id == id => {
                    on_update(&u);
                    done = u.state.is_terminal() || (u.state == StateType::Paused && settled(&load().await?));
                }
                Ok(_) => {}
                Err(RecvError::Lagged(_)) => done = settled(&load().await?),
                Err(RecvError::Closed) => done = true,
            }
        }
        self.engine.logs.flush().await;
        let head = self.engine.state.load_execution_head(id).await?;
        Ok((head.ok_or_else(|| BackendError::NotFound { what: format!("execution {id}") })?, false))
    }

    /// The home's disk guard, when it has one.
    pub fn disk_guard(&self) -> Option<&Arc<super::diskfull::DiskGuard>> {
        self.engine.disk_guard.as_ref()
    }

    /// Asks the executor to kill an execution.
    pub async fn kill(&self, id: &str) -> Result<(), BackendError> {
        publish_event(&self.engine, &ExecutionEvent::Kill { execution_id: id.to_string() }).await
    }

    /// Stops the loops.
    pub fn shutdown(self) {
        for h in self.handles {
            h.abort();
        }
    }
}

/// Executor loops of the embedded runtime, by default: each holds the
/// events of the executions hashed to it (unbounded, as the in-process
/// queue feeding it). `BATON_EXECUTOR_LANES` (1 to [`MAX_EXECUTOR_LANES`])
/// sets another number.
pub const EXECUTOR_LANES: usize = 1;

/// The most executor lanes `BATON_EXECUTOR_LANES` may ask for.
pub const MAX_EXECUTOR_LANES: usize = 64;

/// The number of executor lanes `BATON_EXECUTOR_LANES` asks for ([`EXECUTOR_LANES`]
/// when unset); anything but a number from 1 to [`MAX_EXECUTOR_LANES`] is
/// refused, naming the setting. The CLI checks it before it starts anything
/// (a bad value stops it with exit 2, as a bad flag does).
pub fn executor_lanes_setting() -> Result<usize, String> {
    match std::env::var("BATON_EXECUTOR_LANES") {
        Ok(v) => lanes_from(&v),
        Err(std::env::VarError::NotPresent) => Ok(EXECUTOR_LANES),
        Err(std::env::VarError::NotUnicode(_)) => Err("BATON_EXECUTOR_LANES is not valid UTF-8".to_string()),
    }
}

/// `value` of `BATON_EXECUTOR_LANES` as a number of lanes.
fn lanes_from(value: &str) -> Result<usize, String> {
    match value.trim().parse::<usize>() {
        Ok(n) if (1..=MAX_EXECUTOR_LANES).contains(&n) => Ok(n),
        _ => Err(format!(
            "BATON_EXECUTOR_LANES={value:?} is not valid: expected a number from 1 to {MAX_EXECUTOR_LANES}"
        )),
    }
}

/// The number of executor lanes: [`executor_lanes_setting`], whose error
/// the CLI reported before starting (a library caller that did not check
/// gets the default, with the error logged).
pub fn executor_lanes() -> usize {
    executor_lanes_setting().unwrap_or_else(|e| {
        tracing::error!("{e}: using {EXECUTOR_LANES}");
        EXECUTOR_LANES
    })
}

/// The lane of an event. Every creation is decided on lane 0, in the order
/// the launchers published them: a flow's `concurrency` queue takes
/// executions in that order (FIFO), which creations decided side by side
/// on several lanes would not keep. Every other event goes to its
/// execution's lane ([`lane`]); an execution's creation and its later
/// events may then be decided on two lanes at once, which the saves'
/// compare-and-swap settles as between two Cloud Run instances.
fn lane_of(ev: &ExecutionEvent, lanes: usize) -> usize {
    match ev {
        ExecutionEvent::Created { .. } => 0,
        _ => lane(ev.execution_id(), lanes),
    }
}

/// The lane of an execution's events: stable for an id (FNV-1a), so one
/// execution's events are handled one at a time, in the order published.
fn lane(execution_id: &str, lanes: usize) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in execution_id.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    (h % lanes.max(1) as u64) as usize
}

/// Where an executor lane takes its events from.
enum Events {
    /// The executions topic itself (the only lane), and the malformed
    /// messages it dropped since [`Events::dropped`] last said.
    Topic(tokio::sync::mpsc::UnboundedReceiver<crate::backend::local::LocalMessage>, usize),
    /// Its share, routed by a dispatcher reading the topic.
    Lane(tokio::sync::mpsc::UnboundedReceiver<ExecutionEvent>),
}

impl Events {
    async fn recv(&mut self) -> Option<ExecutionEvent> {
        match self {
            Events::Lane(rx) => rx.recv().await,
            Events::Topic(rx, dropped) => loop {
                let msg = rx.recv().await?;
                match decode(msg) {
                    Some(ev) => return Some(ev),
                    None => *dropped += 1,
                }
            },
        }
    }

    /// The malformed messages dropped since the last call (the dispatcher
    /// of several lanes counts its own).
    fn dropped(&mut self) -> usize {
        match self {
            Events::Topic(_, dropped) => std::mem::take(dropped),
            Events::Lane(_) => 0,
        }
    }

    /// An event already waiting, if any.
    fn try_recv(&mut self) -> Option<ExecutionEvent> {
        match self {
            Events::Lane(rx) => rx.try_recv().ok(),
            Events::Topic(rx, dropped) => loop {
                let msg = rx.try_recv().ok()?;
                match decode(msg) {
                    Some(ev) => return Some(ev),
                    None => *dropped += 1,
                }
            },
        }
    }
}

/// An event off the wire; a malformed one is logged and dropped.
fn decode(msg: crate::backend::local::LocalMessage) -> Option<ExecutionEvent> {
    msg.decode::<ExecutionEvent>()
        .inspect_err(|e| tracing::error!(error = %e, "malformed execution event dropped"))
        .ok()
}

/// How to open an embedded engine on a home folder.
pub struct LocalOptions {
    /// The state folder (`BATON_HOME` or `~/.baton`, chosen by the binary).
    pub home: std::path::PathBuf,
    /// Worker loops per worker group.
    pub workers: usize,
    /// Echo task logs on stderr.
    pub echo_logs: bool,
    pub secrets: super::secrets::Secrets,
    pub envs: serde_json::Map<String, serde_json::Value>,
    pub progress: Option<Arc<dyn crate::plugins::context::Progress>>,
    pub plugins: crate::plugins::PluginConfig,
    /// Sweep orphans (`sweep_orphans`) on a thread of its own instead of
    /// before starting: for a run that resumes nothing (`baton run` of a new
    /// execution), whose own tasks are never orphans.
    pub sweep_in_background: bool,
}

impl Embedded {
    /// Opens SQLite, the storage folder and the in-process queues under
    /// `opts.home`, and starts the engine. Must run inside a multi-threaded
    /// tokio runtime.
    pub fn open_local(opts: LocalOptions) -> Result<Embedded, BackendError> {
        Embedded::open_local_with(opts, |s| s)
    }

    /// [`Embedded::open_local`] with the home's storage seen through
    /// `storage` (a recording run reads namespace files through to the
    /// user's home: `unittest::nsfiles`).
    pub fn open_local_with(
        opts: LocalOptions,
        storage: impl FnOnce(Arc<dyn crate::backend::Storage>) -> Arc<dyn crate::backend::Storage>,
    ) -> Result<Embedded, BackendError> {
        let b = crate::backend::local::LocalBackends::open(&opts.home)?;
        if opts.sweep_in_background {
            std::thread::spawn(sweep_orphans);
        } else {
            sweep_orphans();
        }
        let work_root = opts.home.join("work");
        let engine = Engine::new(super::engine::EngineConfig {
            state: b.state.clone(),
            kv: b.state.clone(),
            storage: storage(b.storage.clone()),
            queue: b.queue.clone(),
            registry: crate::plugins::Registry::builtin(),
            secrets: opts.secrets,
            envs: opts.envs,
            work_root,
            plugins: opts.plugins,
            echo_logs: opts.echo_logs,
            progress: opts.progress,
            wiring: super::engine::Wiring {
                // trigger.Toggle keeps its changes where `baton server local`'s scheduler reads them
                trigger_store: Some(b.state.clone()),
                disk_guard: Some(super::diskfull::DiskGuard::open(&opts.home)),
                ..Default::default()
            },
        });
        Ok(Embedded::start(engine, &b.queue, opts.workers))
    }
}

/// The message once the disk was found full; pending forever without a
/// guard (or once its sender is gone).
async fn disk_full(w: &mut Option<tokio::sync::watch::Receiver<Option<String>>>) -> Option<String> {
    let Some(w) = w else { return std::future::pending().await };
    // the guard is dropped before anything else is awaited (the future stays `Send`)
    let found = w.wait_for(Option::is_some).await.map(|m| m.clone());
    match found {
        Ok(m) => m,
        Err(_) => std::future::pending().await,
    }
}

impl LocalOptions {
    /// A throwaway home's options (`workers` loops per worker group): no
    /// secrets, variables or plugin settings, logs not echoed.
    pub fn throwaway(home: std::path::PathBuf, workers: usize) -> LocalOptions {
        LocalOptions {
            home,
            workers,
            echo_logs: false,
            secrets: Default::default(),
            envs: Default::default(),
            progress: None,
            plugins: Default::default(),
            sweep_in_background: true,
        }
    }

    /// A throwaway home's options configured as `engine`: its secrets,
    /// variables and plugin settings (a test run's home).
    pub fn like(engine: &Engine, home: std::path::PathBuf, workers: usize) -> LocalOptions {
        LocalOptions {
            secrets: (*engine.secrets).clone(),
            envs: engine.envs.clone(),
            plugins: (*engine.plugins).clone(),
            ..LocalOptions::throwaway(home, workers)
        }
    }
}

impl Embedded {
    /// Another engine on `home` (`workers` loops per worker group),
    /// configured as this one, with no flows (a test case's own home:
    /// `unittest::nsfiles`).
    pub fn open_beside(&self, home: std::path::PathBuf, workers: usize) -> Result<Embedded, BackendError> {
        Embedded::open_local(LocalOptions::like(&self.engine, home, workers))
    }
}

/// Kills what a killed `baton` left running, before anything resumes
/// (`reap`): a resumed attempt never runs beside a live earlier one.
pub fn sweep_orphans() {
    if cfg!(target_os = "linux") {
        let killed = crate::plugins::scripts::reap::sweep_orphans();
        if killed > 0 {
            tracing::warn!(killed, "killed processes left by a baton that is no longer running");
        }
    }
}

#[cfg(test)]
mod lane_tests {
    use super::{MAX_EXECUTOR_LANES, lane, lanes_from};

    #[test]
    fn a_lane_count_outside_one_to_the_max_is_refused_naming_the_setting() {
        assert_eq!(lanes_from(" 4 "), Ok(4));
        assert_eq!(lanes_from(&MAX_EXECUTOR_LANES.to_string()), Ok(MAX_EXECUTOR_LANES));
        for bad in ["0", "65", "-1", "four", ""] {
            let err = lanes_from(bad).expect_err(bad);
            assert!(err.contains("BATON_EXECUTOR_LANES") && err.contains("1 to 64"), "{err}");
        }
    }

    #[test]
    fn an_executions_events_keep_one_lane_and_executions_spread_over_all() {
        let ids: Vec<String> = (0..400).map(|_| crate::model::ids::new_id()).collect();
        let first: Vec<usize> = ids.iter().map(|id| lane(id, 4)).collect();
        let copies: Vec<String> = ids.iter().map(|id| id.to_string()).collect();
        let again: Vec<usize> = copies.iter().map(|id| lane(id, 4)).collect();
        assert_eq!(first, again, "an execution's lane never changes");
        // a fixed function, not a per-process hasher: FNV-1a of "a" is 0xaf63dc4c8601ec8c
        assert_eq!(lane("a", 4), (0xaf63_dc4c_8601_ec8c_u64 % 4) as usize);
        let mut used = [0usize; 4];
        for &l in &first {
            used[l] += 1;
        }
        assert!(used.iter().all(|&n| n > 50), "spread: {used:?}");
        assert_eq!(lane("x", 0), 0, "no lanes is one lane");
    }

    #[test]
    fn creations_are_decided_on_lane_zero_in_order_other_events_on_their_executions_lane() {
        use super::{ExecutionEvent, lane_of};
        let ids: Vec<String> = (0..64).map(|_| crate::model::ids::new_id()).collect();
        for id in &ids {
            let created = ExecutionEvent::Created { execution_id: id.clone() };
            assert_eq!(lane_of(&created, 4), 0);
            let kill = ExecutionEvent::Kill { execution_id: id.clone() };
            assert_eq!(lane_of(&kill, 4), lane(id, 4));
        }
        assert!(ids.iter().any(|id| lane(id, 4) != 0), "other events spread");
    }
}
