//! The executor service: for each event, load the execution, apply the
//! event, admit it against the flow's concurrency limit, run the pure
//! step, save with compare-and-swap (re-deciding on a lost race), then
//! perform the actions: publish jobs, start subflows, arm timers, write
//! logs, and on the end notify the parent and release a queued execution.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::Utc;
use tokio::sync::Mutex;

use super::batch::Turn;
use super::engine::Engine;
use super::messages::ExecutionEvent;
use crate::backend::{AttemptClaim, AttemptEnd, BackendError};
use crate::executor::concurrency::Admission;
use crate::executor::{self, Action, ExecIndex, StepOptions};
use crate::model::{Execution, Flow, StateType};

/// Failure to process an event (the event may be retried).
#[derive(Debug, thiserror::Error)]
pub enum ExecutorError {
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error("execution {0} not found")]
    Missing(String),
    #[error("{0} (execution {1})")]
    FlowMissing(String, String),
    #[error("too many concurrent updates of execution {0}")]
    Contention(String),
    /// A Subflow child's end before the parent's save that records its
    /// start: to deliver again later (`executor::early_subflow_end`).
    #[error("{0}")]
    EarlyEnd(String),
    #[error(transparent)]
    FlowTrigger(super::flow_triggers::FlowTriggerError),
}

/// What deciding on an event did.
enum Decided {
    /// Saved (compare-and-swap) and performed.
    Saved,
    /// Nothing to save: the copy decided on, to cache once it is known current.
    Unchanged(Box<Cached>),
}

/// An execution as this process last saw it, with the executor's index of
/// it (so the next event's step costs what changed, not the execution).
struct Cached {
    exec: Execution,
    index: ExecIndex,
    /// A step ran on the index (it knows every block walked): its state is
    /// kept with the execution at the save (`executor::partial`).
    stepped: bool,
}

impl Cached {
    /// A copy read from the store: indexed afresh.
    fn loaded(exec: Execution) -> Cached {
        let mut index = ExecIndex::default();
        index.sync(&exec);
        Cached { exec, index, stepped: false }
    }
}

/// Per flow (namespace, id, revision), the flow and what of its finished
/// task runs the cache holds (`trim`).
type Trims = HashMap<(String, String, u32), (Arc<Flow>, Arc<trim::Trim>)>;

/// Processes execution events.
pub struct ExecutorService {
    engine: Arc<Engine>,
    /// Executions known to be current (this process is their only writer
    /// locally; the CAS on save catches any other writer).
    cache: Mutex<HashMap<String, Cached>>,
    /// Per flow revision, what of its finished task runs is held (`trim`).
    trims: Mutex<Trims>,
    /// Whose claims a save opens for the attempts it dispatches to this
    /// process's workers (`local-<group>@<this process>`), when its queue is
    /// in process; `None` otherwise (see [`ExecutorService::open_claims`]).
    claims_for: Option<String>,
}

impl ExecutorService {
    pub fn new(engine: Arc<Engine>) -> ExecutorService {
        let claims_for = engine.queue.local().is_some().then(|| {
            let process = uuid::Uuid::new_v4().simple().to_string();
            format!("@{}", &process[..12])
        });
        ExecutorService { engine, cache: Mutex::new(HashMap::new()), trims: Mutex::new(HashMap::new()), claims_for }
    }

    /// The claims a save opens for the attempts its actions dispatch, each
    /// job then naming its holder: with an in-process queue the save that
    /// creates an attempt also claims it (one commit per task run instead of
    /// two), and the worker confirms the claim with a read. The holder is
    /// this process's, not a worker's: any of the group's workers may take
    /// the job, and a job sent again (`resume`) carries no holder, so it
    /// claims for its worker and finds this claim held, or done.
    fn open_claims(&self, actions: &mut [Action]) -> Vec<AttemptClaim> {
        let Some(process) = &self.claims_for else { return Vec::new() };
        let until = Utc::now() + chrono::Duration::seconds(super::worker::LEASE_SECONDS);
        let stamp = (std::time::Instant::now(), self.engine.claims_closed.load(std::sync::atomic::Ordering::Acquire));
        let mut opened = Vec::new();
        for a in actions.iter_mut() {
            if let Action::Dispatch { group, job } = a {
                let holder = format!("local-{group}{process}");
                opened.push(AttemptClaim {
                    task_run_id: job.task_run_id.clone(),
                    attempt: job.attempt,
                    worker_id: holder.clone(),
                    until,
                });
                job.claimed_by = Some(holder);
                // a new attempt's claim is this save's own (its compare-and-swap
                // made the attempt); one sent again may be a dead process's
                job.opened = job.new_attempt.then_some(stamp);
            }
        }
        opened
    }

    /// The cached copy of `id` (taken out, not cloned: `save` puts the new
    /// version back), unless `fresh`.
    async fn take_cached(&self, id: &str, fresh: bool) -> Option<Cached> {
        if fresh { None } else { self.cache.lock().await.remove(id) }
    }

    /// Caches `c` as the copy of `id` to decide the next event on; beyond
    /// [`MAX_CACHED`] executions another one is dropped (read again when
    /// its next event comes).
    async fn cache_insert(&self, id: String, c: Cached) {
        let mut cache = self.cache.lock().await;
        if cache.len() >= MAX_CACHED && !cache.contains_key(&id) {
            let other = cache.keys().next().cloned();
            if let Some(other) = other {
                cache.remove(&other);
            }
        }
        // two lanes may decide on one execution at once (its creation on
        // lane 0, its other events on its own): never replace a newer copy
        if cache.get(&id).is_some_and(|held| held.exec.version > c.exec.version) {
            return;
        }
        cache.insert(id, c);
    }

    /// What of `flow`'s finished task runs may be dropped from memory,
    /// worked out once per flow (kept with it, so a flow replaced under the
    /// same revision, as tests do, is never answered for another).
    async fn trim_of(&self, flow: &Arc<Flow>) -> Arc<trim::Trim> {
        let key = (flow.namespace.clone(), flow.id.clone(), flow.revision);
        let mut trims = self.trims.lock().await;
        if let Some((f, t)) = trims.get(&key)
            && Arc::ptr_eq(f, flow)
        {
            return t.clone();
        }
        if trims.len() >= MAX_CACHED {
            trims.clear();
        }
        let t = Arc::new(trim::Trim::of(flow));
        trims.insert(key, (flow.clone(), t.clone()));
        t
    }

    async fn load_stored(&self, id: &str) -> Result<Execution, ExecutorError> {
        self.engine.state.load_execution(id).await?.ok_or_else(|| ExecutorError::Missing(id.to_string()))
    }

    /// Handles one event, idempotently.
    pub async fn handle(&self, event: &ExecutionEvent, opts: StepOptions) -> Result<(), ExecutorError> {
        self.handle_events(std::slice::from_ref(event), opts).await
    }

    /// Handles events of one execution, in order, idempotently: one load,
    /// every event applied, one step, one save (`super::batch` says which
    /// events may share a decision; any other comes alone).
    pub async fn handle_events(&self, events: &[ExecutionEvent], opts: StepOptions) -> Result<(), ExecutorError> {
        self.handle_events_in_turn(events, opts, Turn::free()).await
    }

    /// [`ExecutorService::handle_events`] deciding side by side with other
    /// executions' events: `turn` orders this execution's admission under
    /// its flow's concurrency limit after the creations that came before it
    /// (`super::batch::Turns`).
    pub async fn handle_events_in_turn(
        &self,
        events: &[ExecutionEvent],
        opts: StepOptions,
        mut turn: Turn,
    ) -> Result<(), ExecutorError> {
        let _timer = super::metrics::MessageTimer::start();
        let Some(event) = events.first() else { return Ok(()) };
        if events.len() > 1 {
            debug_assert!(
                events.iter().all(|e| super::batch::batchable(e) && e.execution_id() == event.execution_id())
            );
            return self.decide_events(events, opts, &mut turn).await;
        }
        // a ForEachItem's batches: launched and counted without the parent's
        // document; it hears only of their common end
        let counted;
        let event = match event {
            ExecutionEvent::StartBatches { execution_id, task_run_id, from, to } => {
                return super::for_each_item::start(&self.engine, execution_id, task_run_id, *from, *to).await;
            }
            // a Subflow's child: launched from the stored parent, not decided on it
            ExecutionEvent::StartSubflow { execution_id, task_run_id } => {
                return self.start_child(execution_id, task_run_id).await;
            }
            ExecutionEvent::SubflowEnded { execution_id, task_run_id, state, outputs, iteration: Some(i), .. } => {
                let engine = &self.engine;
                match super::for_each_item::ended(engine, execution_id, task_run_id, *i, *state, outputs).await? {
                    Some(e) => {
                        counted = e;
                        &counted
                    }
                    None => return Ok(()),
                }
            }
            e => e,
        };
        self.decide_events(std::slice::from_ref(event), opts, &mut turn).await
    }

    /// Loads, decides on `events` and saves, re-deciding on a lost race.
    /// A Subflow child's end that came before the save recording its start
    /// (`executor::early_subflow_end`) is left out of the decision and
    /// asked for again ([`ExecutorError::EarlyEnd`]) once the rest is decided.
    async fn decide_events(
        &self,
        events: &[ExecutionEvent],
        opts: StepOptions,
        turn: &mut Turn,
    ) -> Result<(), ExecutorError> {
        let mut early = None;
        let decided = self.decide_events_but_early(events, opts, turn, &mut early).await;
        match (decided, early) {
            (Ok(()), Some(why)) => Err(ExecutorError::EarlyEnd(why)),
            (decided, _) => decided,
        }
    }

    async fn decide_events_but_early(
        &self,
        events: &[ExecutionEvent],
        opts: StepOptions,
        turn: &mut Turn,
        early: &mut Option<String>,
    ) -> Result<(), ExecutorError> {
        let mut events = std::borrow::Cow::Borrowed(events);
        let Some(event) = events.first().cloned() else { return Ok(()) };
        let event = &event;
        let id = event.execution_id().to_string();
        let mut fresh = false;
        // a stored copy read to check a decision, decided on next
        let mut next: Option<Execution> = None;
        for _ in 0..8 {
            let (current, cached) = match next.take() {
                Some(e) => (Cached::loaded(e), false),
                None => match self.take_cached(&id, fresh).await {
                    Some(c) => (c, true),
                    // held nowhere here: decided on part of it where it can be
                    None => match self.decide_partly(&id, &events, opts, turn).await? {
                        Partly::Saved => return Ok(()),
                        Partly::Conflict => {
                            fresh = true;
                            continue;
                        }
                        Partly::Whole => (Cached::loaded(self.load_stored(&id).await?), false),
                    },
                },
            };
            let exec = &current.exec;
            if exec.is_done() {
                if cached {
                    // the cache may be behind: an end is confirmed by the store
                    fresh = true;
                    continue;
                }
                // an event of an ended execution: make sure its slot is free,
                // a kill's claims closed and its Flow triggers fired (the
                // executor that ended it may have died before any; each is idempotent)
                self.close_claims(&killed_attempts(exec, event)).await?;
                self.engine.state.end_attempts(&attempt_ends(&events)).await?;
                self.flow_triggers(exec).await?;
                return self.release_slot(exec).await;
            }
            let mut current = current;
            let too_early: Vec<Option<String>> =
                events.iter().map(|e| executor::early_subflow_end(&current.exec, &mut current.index, e)).collect();
            if too_early.iter().any(Option::is_some) {
                if cached {
                    // the store may hold the start this copy has not seen
                    fresh = true;
                    continue;
                }
                let rest: Vec<ExecutionEvent> =
                    events.iter().zip(&too_early).filter(|(_, t)| t.is_none()).map(|(e, _)| e.clone()).collect();
                *early = Some(too_early.into_iter().flatten().collect::<Vec<_>>().join("; "));
                if rest.is_empty() {
                    return Ok(());
                }
                events = std::borrow::Cow::Owned(rest);
            }
            let version = current.exec.version;
            match self.decide_and_save(current, &events, opts, turn).await {
                Ok(Decided::Saved) => return Ok(()),
                Ok(Decided::Unchanged(exec)) => {
                    // nothing to save, so no compare-and-swap checked the copy
                    // the decision was made on: a cached copy may be behind
                    // the store (another instance, or a concurrent event here,
                    // saved since), and an event judged stale on it — a result
                    // for a task run the copy has not seen — would be acked
                    // and lost. Such a decision stands only on the stored version.
                    if cached {
                        let stored = self.load_stored(&id).await?;
                        if stored.version != version {
                            next = Some(stored);
                            continue;
                        }
                    } else {
                        // a duplicate or late event decided on the stored copy:
                        // the executor that saved the last state change may
                        // have died before evaluating its Flow triggers
                        // (idempotent: derived ids, windows remember)
                        self.flow_triggers(&exec.exec).await?;
                    }
                    // results that changed nothing (duplicates, late ones):
                    // their claims are closed all the same
                    self.engine.state.end_attempts(&attempt_ends(&events)).await?;
                    self.cache_insert(id, *exec).await;
                    return Ok(());
                }
                Err(ExecutorError::Backend(BackendError::Conflict { .. })) => {
                    self.cache.lock().await.remove(&id);
                    fresh = true;
                    continue;
                }
                Err(e) => return Err(e),
            }
        }
        Err(ExecutorError::Contention(id))
    }

    async fn decide_and_save(
        &self,
        current: Cached,
        events: &[ExecutionEvent],
        opts: StepOptions,
        turn: &mut Turn,
    ) -> Result<Decided, ExecutorError> {
        let Some(event) = events.first() else { return Ok(Decided::Unchanged(Box::new(current))) };
        let Cached { mut exec, mut index, stepped } = current;
        let engine = &self.engine;
        // the revision the execution was created with, never the latest
        let flow = super::flows::at_revision(engine, &exec.namespace, &exec.flow_id, exec.flow_revision)
            .await
            .map_err(|e| match e {
                super::flows::RevisionError::Backend(b) => ExecutorError::Backend(b),
                other => ExecutorError::FlowMissing(other.to_string(), exec.id.clone()),
            })?;
        let now = Utc::now();
        // the attempts whose results this decision applies: the save closes
        // their claims and stores their metrics
        let ended = attempt_ends(events);
        // the state before this event: a save that changes it evaluates the Flow triggers
        let from = exec.state.current;
        let (mut changed, mut exec_changed) = (Changed::default(), false);
        for event in events {
            let (c, e) = executor::apply_event_indexed(&flow, &mut exec, &mut index, event, now);
            exec_changed |= e;
            changed.extend(c);
        }
        let mut actions = Vec::new();
        if exec.is_done() {
            // the event ended it (a kill): announce the end as any other, so a
            // queued execution takes the slot and a parent hears of it
            actions.push(Action::Ended(exec.state.current));
            let killed = killed_attempts(&exec, event);
            self.save(&flow, Cached { exec, index, stepped }, from, &changed, &ended, actions).await?;
            self.close_claims(&killed).await?;
            return Ok(Decided::Saved);
        }

        let admit = flow
            .concurrency
            .as_ref()
            .filter(|_| matches!(exec.state.current, StateType::Created | StateType::Queued | StateType::Restarted));
        if admit.is_none() {
            turn.pass();
        }
        if let Some(c) = admit {
            // admitted in the order the creations came, then the next one's turn
            turn.wait().await;
            // one record per flow, changed by compare-and-swap: atomic across instances
            let admission = super::slots::admit(engine, &exec.namespace, &exec.flow_id, &exec.id, c).await;
            turn.pass();
            match admission? {
                Admission::Run => {}
                Admission::Queue { message } => {
                    if exec.state.current == StateType::Queued {
                        return Ok(Decided::Unchanged(Box::new(Cached { exec, index, stepped })));
                    }
                    exec.state.set(StateType::Queued, now);
                    actions.push(Action::Log { task_run_id: None, task_id: None, level: "WARN", message });
                    return self
                        .save(&flow, Cached { exec, index, stepped }, from, &changed, &ended, actions)
                        .await
                        .map(|()| Decided::Saved);
                }
                Admission::Reject { state, message } => {
                    exec.state.set(state, now);
                    exec.error = Some(message.clone());
                    actions.push(Action::Log { task_run_id: None, task_id: None, level: "ERROR", message });
                    actions.push(Action::Ended(state));
                    return self
                        .save(&flow, Cached { exec, index, stepped }, from, &changed, &ended, actions)
                        .await
                        .map(|()| Decided::Saved);
                }
            }
        }

        // a task starting never enables anything new: saved without a step,
        // once a step made the index's state (a copy just read steps first:
        // a save without the state drops the one the head held, and a cold
        // executor could decide nothing on part of the execution after it)
        if stepped
            && events.iter().all(|e| matches!(e, ExecutionEvent::TaskStarted { .. }))
            && exec.state.current == StateType::Running
        {
            if changed.is_empty() {
                return Ok(Decided::Unchanged(Box::new(Cached { exec, index, stepped })));
            }
            return self
                .save(&flow, Cached { exec, index, stepped }, from, &changed, &ended, actions)
                .await
                .map(|()| Decided::Saved);
        }
        // the step's time is taken after admission: an execution admitted
        // into a slot freed meanwhile starts after the previous one ended
        let now = Utc::now().max(now);
        let env = engine.step_env();
        let mut exec = exec;
        // a Subflow that does not wait ends its task run once its child is
        // stored, or fails it when the child cannot start (Kestra's executor
        // creates the child while deciding): each such start is launched
        // here, before the save, and its outcome decided at once (a task run
        // is launched once: the step records the start in `evaluated`)
        loop {
            let t = super::metrics::step(|| executor::step_indexed(&flow, exec, &mut index, now, &env, opts));
            exec = t.execution;
            exec_changed |= t.execution_changed;
            changed.extend(t.changed);
            let mut unwaited = Vec::new();
            for a in t.actions {
                match a {
                    Action::StartSubflow { task_run_id, wait: false, .. } => unwaited.push(task_run_id),
                    a => actions.push(a),
                }
            }
            if unwaited.is_empty() {
                break;
            }
            for task_run_id in unwaited {
                let launch = self.launch_child(&exec, &task_run_id).await?;
                if let Some(event) = launch.event(&exec.id, &task_run_id, false) {
                    let (c, e) = executor::apply_event_indexed(&flow, &mut exec, &mut index, &event, now);
                    exec_changed |= e;
                    changed.extend(c);
                }
            }
        }
        if !exec_changed && changed.is_empty() && actions.is_empty() {
            return Ok(Decided::Unchanged(Box::new(Cached { exec, index, stepped: true })));
        }
        // a kill (or an SLA) ended task runs: their workers are told to stop
        let killed = if exec.state.is_terminal() { killed_in(&exec, &changed) } else { Vec::new() };
        self.save(&flow, Cached { exec, index, stepped: true }, from, &changed, &ended, actions).await?;
        self.close_claims(&killed).await?;
        Ok(Decided::Saved)
    }

    /// Closes the claims of attempts a kill stopped: a worker still running
    /// one (in another process) finds its claim gone at its next heartbeat
    /// and stops the task; a job not started yet is then a duplicate.
    async fn close_claims(&self, attempts: &[(String, u32)]) -> Result<(), ExecutorError> {
        if !attempts.is_empty() {
            // this process's workers read their claims again from now on
            self.engine.claims_closed.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        }
        for (task_run_id, attempt) in attempts {
            self.engine.state.finish_claim(task_run_id, *attempt).await?;
        }
        Ok(())
    }

    /// Saves `exec` (compare-and-swap), performs `actions`, and — when its
    /// state is no longer `from`, the state it was loaded in — evaluates the
    /// Flow triggers listening to the new state, as Kestra's executor does on
    /// every state change (`JdbcExecutor.toExecution`: current state !=
    /// original state), before `afterExecution` tasks run.
    async fn save(
        &self,
        flow: &Arc<Flow>,
        current: Cached,
        from: StateType,
        changed: &[String],
        ended: &[AttemptEnd],
        mut actions: Vec<Action>,
    ) -> Result<(), ExecutorError> {
        let engine = &self.engine;
        let Cached { mut exec, mut index, stepped } = current;
        debug_assert!(
            !actions.iter().any(|a| matches!(a, Action::StartSubflow { wait: false, .. })),
            "a Subflow that does not wait is launched while deciding"
        );
        index.sync(&exec);
        // files the state refers to are written first (idempotent: a lost
        // race re-decides and writes the same path again)
        for a in actions.iter_mut() {
            if let Action::PutFile { path, content } = a {
                let content = std::mem::take(content);
                engine.storage.put(path, Box::pin(std::io::Cursor::new(content))).await?;
            }
        }
        let positions: Vec<usize> = changed.iter().filter_map(|id| index.position(&exec.task_run_list, id)).collect();
        if let Some(at) = trim::changes_trimmed(&exec, &positions) {
            // never written from the trimmed copy: decided again on the stored one
            let (what, v) = (format!("execution {} (task run {at} held trimmed: read again)", exec.id), exec.version);
            return Err(BackendError::Conflict { what, expected: v, found: v }.into());
        }
        let opened = self.open_claims(&mut actions);
        // the index's state goes with the head, for a decision on part of it
        // (`partly`, which loads executions of PARTIAL_FROM task runs or more)
        let state = (stepped && engine.state.partial().is_some() && exec.task_run_list.len() >= partly::PARTIAL_FROM)
            .then(|| executor::partial::export_state(&index, &exec));
        let new_version = super::metrics::commit(async {
            match engine.state.partial() {
                Some(store) => store.save_stepped(&exec, &positions, ended, &opened, state.as_ref(), false).await,
                None => engine.state.save_execution_claiming(&exec, &positions, ended, &opened).await,
            }
        })
        .await?;
        exec.version = new_version;
        super::metrics::execution_saved(&exec, from);
        let ended = exec.is_done();
        let state_changed = exec.state.current != from;
        let update = engine.update_of(&exec, &positions, ended);
        for tr in positions.iter().filter_map(|&i| exec.task_run_list.get(i)) {
            tracing::debug!(execution_id = %exec.id, task_id = %tr.task_id, state = %tr.state.current, "task run");
        }
        self.perform(&exec, actions).await?;
        if state_changed {
            self.flow_triggers(&exec).await?;
        }
        if !ended {
            // finished task runs held small (`trim`), unless the store's
            // saves copy task runs that did not change (Firestore's chunks)
            if !engine.state.partial().is_some_and(|p| p.copies_unchanged_runs()) {
                self.trim_of(flow).await.apply(&mut exec, &positions);
            }
            // moved, not copied: the next event of this execution starts from here
            self.cache_insert(exec.id.clone(), Cached { exec, index, stepped }).await;
        }
        engine.announce(update, state_changed);
        Ok(())
    }
}

/// How many executions one executor keeps in memory between their events
/// (each with its index): the bound on its cache.
pub const MAX_CACHED: usize = 1024;

mod changed;
use changed::{Changed, attempt_ends, killed_attempts, killed_in};
mod partly;
mod perform;
use partly::Partly;
mod subflows;
mod trim;
pub use subflows::{MAX_SUBFLOW_DEPTH, subflow_depth};

#[cfg(test)]
mod cache_tests;
#[cfg(test)]
mod subflow_end_tests;
#[cfg(test)]
mod trim_tests;
