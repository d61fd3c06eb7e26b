//! Backfills: create one execution per tick of a trigger between a start
//! and an end (inclusive), in tick order, through [`fire_tick`] — so the
//! backfill's inputs override the trigger's, its labels are added, a tick
//! whose execution already succeeded is skipped (unless
//! `rerunSuccessful`), and a backfill resumed after a crash never
//! duplicates an execution.
//!
//! At most the flow's `concurrency.limit` executions of a backfill are in
//! flight at once (one when the flow has no limit, as Kestra runs a
//! trigger's executions one at a time); the flow's concurrency admission
//! still counts every execution, whatever started it. Progress is stored
//! after every tick; pause, resume and cancel are state changes the runner
//! notices between ticks. The runner is a plain async function, callable
//! from the CLI, the local server or a Cloud Run handler.
//!
//! One runner owns a backfill at a time, under a lease record renewed as it
//! goes (a duplicate backfill message, a second scheduler instance or a
//! sweep finds it owned and leaves it alone), and its counters are derived
//! from one record per tick, so a runner resuming after another cannot
//! count a tick twice.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Map, Value, json};
use tokio::sync::broadcast::error::RecvError;

use super::engine::{Engine, ExecutionUpdate};
use super::scheduler::{SchedulerError, TickOrigin, TickOutcome, TickRequest, fire_tick, tick_execution_id};
use crate::backend::BackendError;
use crate::backend::schedule::{Backfill, BackfillProgress, BackfillState, BackfillTick, TickKey, TriggerStore};
use crate::model::{Flow, Label, StateType, ids};
use crate::schedule::backfill::{PlanError, plan_ticks};
use crate::schedule::{ScheduleError, ScheduleTrigger};

/// How often a waiting runner re-reads its executions and its own state
/// (updates usually wake it sooner).
const POLL: StdDuration = StdDuration::from_millis(250);

/// A request to backfill a trigger.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BackfillRequest {
    pub namespace: String,
    pub flow_id: String,
    pub trigger_id: String,
    pub start: DateTime<Utc>,
    /// `None` means now.
    pub end: Option<DateTime<Utc>>,
    pub inputs: Map<String, Value>,
    pub labels: Vec<Label>,
    pub rerun_successful: bool,
    /// A caller-chosen id (an idempotency key); a new one when `None`.
    pub id: Option<String>,
}

/// Why a backfill cannot be created, changed or run.
#[derive(Debug, thiserror::Error)]
pub enum BackfillError {
    #[error("flow {0} is not loaded")]
    FlowNotFound(String),
    #[error("flow {flow} has no trigger '{trigger}'{}", if .known.is_empty() { String::new() } else { format!(" (its Schedule triggers: {})", .known.join(", ")) })]
    TriggerNotFound { flow: String, trigger: String, known: Vec<String> },
    #[error("trigger '{trigger}' of flow {flow} is not a Schedule trigger; only Schedule triggers can be backfilled")]
    NotSchedule { flow: String, trigger: String },
    #[error("trigger '{trigger}' of flow {flow} is disabled; backfills run only for enabled triggers")]
    TriggerDisabled { flow: String, trigger: String },
    #[error("flow {0} is disabled")]
    FlowDisabled(String),
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error("backfill {0} not found")]
    NotFound(String),
    #[error("backfill {id} is {state}: cannot {action} it")]
    State { id: String, state: BackfillState, action: &'static str },
    #[error(transparent)]
    Backend(#[from] BackendError),
}

/// The flow and its Schedule trigger, checked for a backfill.
pub fn backfill_target(
    engine: &Engine,
    namespace: &str,
    flow_id: &str,
    trigger_id: &str,
) -> Result<(Arc<Flow>, ScheduleTrigger), BackfillError> {
    let name = format!("{namespace}.{flow_id}");
    let flow = engine.flows.get(namespace, flow_id).ok_or_else(|| BackfillError::FlowNotFound(name.clone()))?;
    if flow.disabled {
        return Err(BackfillError::FlowDisabled(name));
    }
    let Some(raw) = flow.triggers.iter().find(|t| t.id == trigger_id) else {
        let known = ScheduleTrigger::of_flow(&flow).into_iter().filter_map(|t| t.ok().map(|t| t.id)).collect();
        return Err(BackfillError::TriggerNotFound { flow: name, trigger: trigger_id.to_string(), known });
    };
    let trigger = ScheduleTrigger::from_trigger(raw)?
        .ok_or_else(|| BackfillError::NotSchedule { flow: name.clone(), trigger: trigger_id.to_string() })?;
    if trigger.disabled {
        return Err(BackfillError::TriggerDisabled { flow: name, trigger: trigger_id.to_string() });
    }
    Ok((flow, trigger))
}

/// Checks the request, plans its ticks and stores a RUNNING backfill. With
/// a caller-chosen id that exists already, that backfill is returned.
pub async fn create_backfill(
    engine: &Engine,
    store: &dyn TriggerStore,
    req: BackfillRequest,
) -> Result<Backfill, BackfillError> {
    let (_, trigger) = backfill_target(engine, &req.namespace, &req.flow_id, &req.trigger_id)?;
    let now = Utc::now();
    let end = req.end.unwrap_or(now);
    let ticks = plan_ticks(&trigger.cron, req.start, end)?;
    if let Some(id) = &req.id
        && let Some(existing) = store.load_backfill(id).await?
    {
        return Ok(existing);
    }
    let backfill = Backfill {
        id: req.id.clone().unwrap_or_else(ids::new_id),
        namespace: req.namespace,
        flow_id: req.flow_id,
        trigger_id: req.trigger_id,
        start: req.start,
        end,
        inputs: req.inputs,
        labels: req.labels,
        rerun_successful: req.rerun_successful,
        state: BackfillState::Running,
        progress: BackfillProgress { total: ticks.len() as u64, ..BackfillProgress::default() },
        created: now,
        updated: now,
    };
    if let Err(e) = store.create_backfill(&backfill).await {
        // created by a concurrent duplicate of the same request meanwhile
        if let Some(existing) = store.load_backfill(&backfill.id).await? {
            return Ok(existing);
        }
        return Err(e.into());
    }
    tracing::info!(backfill_id = %backfill.id, namespace = %backfill.namespace, flow_id = %backfill.flow_id,
        trigger_id = %backfill.trigger_id, ticks = ticks.len(), "backfill created");
    Ok(backfill)
}

/// A RUNNING backfill with exactly this request's window, inputs, labels
/// and mode: re-running the same backfill command resumes it.
pub async fn find_resumable(
    store: &dyn TriggerStore,
    req: &BackfillRequest,
) -> Result<Option<Backfill>, BackfillError> {
    let Some(end) = req.end else { return Ok(None) };
    Ok(store.list_backfills(Some(BackfillState::Running)).await?.into_iter().find(|b| {
        b.namespace == req.namespace
            && b.flow_id == req.flow_id
            && b.trigger_id == req.trigger_id
            && b.start == req.start
            && b.end == end
            && b.inputs == req.inputs
            && b.labels == req.labels
            && b.rerun_successful == req.rerun_successful
    }))
}

/// Pauses a RUNNING backfill (executions already started go on).
pub async fn pause_backfill(store: &dyn TriggerStore, id: &str) -> Result<Backfill, BackfillError> {
    transition(store, id, &[BackfillState::Running, BackfillState::Paused], BackfillState::Paused, "pause").await
}

/// Resumes a PAUSED backfill (a RUNNING one stays RUNNING).
pub async fn resume_backfill(store: &dyn TriggerStore, id: &str) -> Result<Backfill, BackfillError> {
    transition(store, id, &[BackfillState::Paused, BackfillState::Running], BackfillState::Running, "resume").await
}

/// Cancels a backfill: no more executions are created (started ones go on).
pub async fn cancel_backfill(store: &dyn TriggerStore, id: &str) -> Result<Backfill, BackfillError> {
    let from = [BackfillState::Running, BackfillState::Paused, BackfillState::Cancelled];
    transition(store, id, &from, BackfillState::Cancelled, "cancel").await
}

async fn transition(
    store: &dyn TriggerStore,
    id: &str,
    from: &[BackfillState],
    to: BackfillState,
    action: &'static str,
) -> Result<Backfill, BackfillError> {
    let b = store.transition_backfill(id, from, to).await?.ok_or_else(|| BackfillError::NotFound(id.to_string()))?;
    if b.state != to {
        return Err(BackfillError::State { id: id.to_string(), state: b.state, action });
    }
    tracing::info!(backfill_id = %id, state = %to, "backfill {action}");
    Ok(b)
}

/// The runner's view of the ticks it has not finished.
struct Tracker {
    /// Ticks still to handle or in flight, in order (for the cursor).
    order: Vec<DateTime<Utc>>,
    next_unhandled: usize,
    handled: HashSet<DateTime<Utc>>,
    in_flight: BTreeMap<DateTime<Utc>, String>,
}

impl Tracker {
    fn handle(&mut self, tick: DateTime<Utc>, progress: &mut BackfillProgress) {
        self.handled.insert(tick);
        let before = self.next_unhandled;
        while self.next_unhandled < self.order.len() && self.handled.contains(&self.order[self.next_unhandled]) {
            self.next_unhandled += 1;
        }
        if self.next_unhandled > before {
            progress.advance(self.order[self.next_unhandled - 1]);
        }
    }
}

/// Records the end of a tick's execution (idempotent: the counters come
/// from the ticks' records).
fn record_end(progress: &mut BackfillProgress, tick: DateTime<Utc>, id: &str, launched: bool, state: StateType) {
    let mut r = progress.ticks.get(&tick).cloned().unwrap_or_else(|| BackfillTick::started(id, launched));
    r.ended = Some(state);
    progress.record(tick, r);
}

/// Runs backfill `id` until every tick is handled (then it is SUCCESS),
/// or until it is paused or cancelled; returns it as stored then.
/// `on_progress` sees it after every change. Safe to call again after a
/// crash, or by two runners at once: one owns the backfill at a time
/// (the other waits for it to finish or die), and ticks are claimed
/// exactly once.
pub async fn run_backfill(
    engine: &Arc<Engine>,
    store: &dyn TriggerStore,
    id: &str,
    on_progress: &mut (dyn FnMut(&Backfill) + Send),
) -> Result<Backfill, BackfillError> {
    drive_backfill(engine, store, id, on_progress, true).await
}

/// [`run_backfill`]; with `wait == false` a backfill owned by another live
/// runner is left to it, and returned as stored.
pub async fn drive_backfill(
    engine: &Arc<Engine>,
    store: &dyn TriggerStore,
    id: &str,
    on_progress: &mut (dyn FnMut(&Backfill) + Send),
    wait: bool,
) -> Result<Backfill, BackfillError> {
    let mut b = store.load_backfill(id).await?.ok_or_else(|| BackfillError::NotFound(id.to_string()))?;
    if b.state != BackfillState::Running {
        return Ok(b);
    }
    let mut owner = loop {
        if let Some(o) = Owner::acquire(engine, id).await? {
            break o;
        }
        if !wait {
            tracing::info!(backfill_id = %id, "backfill is driven by another runner");
            return Ok(b);
        }
        tokio::time::sleep(POLL * 4).await;
        b = store.load_backfill(id).await?.ok_or_else(|| BackfillError::NotFound(id.to_string()))?;
        if b.state != BackfillState::Running {
            return Ok(b);
        }
    };
    // read again as owner: the previous owner may have moved it on
    b = store.load_backfill(id).await?.ok_or_else(|| BackfillError::NotFound(id.to_string()))?;
    if b.state != BackfillState::Running {
        return Ok(b);
    }
    let result = run_owned(engine, store, &mut b, &mut owner, on_progress).await;
    owner.release(engine).await;
    result
}

async fn run_owned(
    engine: &Arc<Engine>,
    store: &dyn TriggerStore,
    b: &mut Backfill,
    owner: &mut Owner,
    on_progress: &mut (dyn FnMut(&Backfill) + Send),
) -> Result<Backfill, BackfillError> {
    let target = backfill_target(engine, &b.namespace, &b.flow_id, &b.trigger_id)
        .and_then(|(f, t)| Ok((plan_ticks(&t.cron, b.start, b.end)?, f, t)));
    let (ticks, mut flow, mut trigger) = match target {
        Ok(x) => x,
        Err(BackfillError::Backend(e)) => return Err(e.into()),
        Err(e) => return fail_backfill(store, &b.id, &e.to_string()).await,
    };
    let window = flow.concurrency.as_ref().map_or(1, |c| c.limit.max(1) as usize);
    let mut updates = engine.notable.subscribe();
    let mut progress = b.progress.clone();
    progress.total = ticks.len() as u64;
    progress.recount();
    let pending: Vec<DateTime<Utc>> = ticks.into_iter().filter(|t| progress.cursor.is_none_or(|c| *t > c)).collect();
    let mut tracker =
        Tracker { order: pending.clone(), next_unhandled: 0, handled: HashSet::new(), in_flight: BTreeMap::new() };
    let (backfill_id, inputs, labels) = (b.id.clone(), b.inputs.clone(), b.labels.clone());
    let origin = TickOrigin::Backfill { id: &backfill_id, rerun_successful: b.rerun_successful };
    on_progress(b);
    for tick in pending {
        if progress.ticks.get(&tick).is_some_and(BackfillTick::is_done) {
            // handled by an earlier runner, past the contiguous cursor
            tracker.handle(tick, &mut progress);
            continue;
        }
        while tracker.in_flight.len() >= window {
            let waited = wait_for_one(engine, store, b, owner, &mut updates, &mut tracker, &mut progress).await?;
            if let Some(stopped) = waited {
                return Ok(stopped);
            }
            on_progress(b);
        }
        if let Some(stopped) = control(engine, store, b, owner, &progress).await? {
            return Ok(stopped);
        }
        // each execution runs the flow as it is when it is created: an update
        // mid-backfill applies from the next tick; one that breaks the
        // backfill (flow disabled, trigger renamed) ends it FAILED
        if let Some(latest) = engine.latest_flow(&b.namespace, &b.flow_id).await
            && latest.source != flow.source
        {
            match backfill_target(engine, &b.namespace, &b.flow_id, &b.trigger_id) {
                Ok((f, t)) => (flow, trigger) = (f, t),
                Err(BackfillError::Backend(e)) => return Err(e.into()),
                Err(e) => {
                    save(store, b, &progress).await?;
                    return fail_backfill(store, &b.id, &e.to_string()).await;
                }
            }
        }
        let req = TickRequest { flow: &flow, trigger: &trigger, date: tick, inputs: &inputs, labels: &labels, origin };
        let key = TickKey {
            namespace: flow.namespace.clone(),
            flow_id: flow.id.clone(),
            trigger_id: trigger.id.clone(),
            date: tick,
        };
        let mine = tick_execution_id(&key, origin);
        match fire_tick(engine, store, req).await {
            Ok(TickOutcome::Launched { execution_id }) => {
                progress.record(tick, BackfillTick::started(&execution_id, true));
                tracker.in_flight.insert(tick, execution_id);
            }
            Ok(TickOutcome::Existing { execution_id, state }) => {
                let launched = execution_id == mine;
                match state {
                    Some(s) if s.is_terminal() => {
                        record_end(&mut progress, tick, &execution_id, launched, s);
                        tracker.handle(tick, &mut progress);
                    }
                    _ => {
                        progress.record(tick, BackfillTick::started(&execution_id, launched));
                        tracker.in_flight.insert(tick, execution_id);
                    }
                }
            }
            Ok(TickOutcome::SkippedSuccessful { execution_id }) => {
                tracing::info!(backfill_id = %backfill_id, tick = %trigger.cron.format(tick), execution_id = %execution_id,
                    "tick skipped: it already succeeded");
                let r = BackfillTick { skipped: true, ..BackfillTick::started(&execution_id, false) };
                progress.record(tick, r);
                tracker.handle(tick, &mut progress);
            }
            Ok(TickOutcome::ConditionFalse { condition }) => {
                progress.record(tick, BackfillTick { condition_false: Some(condition), ..BackfillTick::default() });
                tracker.handle(tick, &mut progress);
            }
            Err(SchedulerError::Backend(e)) => return Err(e.into()),
            Err(e) => {
                tracing::error!(backfill_id = %backfill_id, error = %e, "backfill tick not started");
                let r = BackfillTick { error: Some(e.to_string()), ..BackfillTick::default() };
                progress.record(tick, r);
                tracker.handle(tick, &mut progress);
            }
        }
        save(store, b, &progress).await?;
        on_progress(b);
    }
    while !tracker.in_flight.is_empty() {
        if let Some(stopped) = wait_for_one(engine, store, b, owner, &mut updates, &mut tracker, &mut progress).await? {
            return Ok(stopped);
        }
        on_progress(b);
    }
    save(store, b, &progress).await?;
    let done = store
        .transition_backfill(&b.id, &[BackfillState::Running], BackfillState::Success)
        .await?
        .ok_or_else(|| BackfillError::NotFound(b.id.clone()))?;
    tracing::info!(backfill_id = %done.id, state = %done.state, launched = done.progress.launched,
        skipped = done.progress.skipped, conditions_false = done.progress.conditions_false, succeeded = done.progress.succeeded, failed = done.progress.failed,
        "backfill ended");
    on_progress(&done);
    Ok(done)
}

/// Ends a RUNNING backfill that cannot go on: FAILED, `reason` kept in its
/// progress (logged once, at ERROR: an operator must act). A backfill no
/// longer RUNNING is returned as stored.
pub async fn fail_backfill(store: &dyn TriggerStore, id: &str, reason: &str) -> Result<Backfill, BackfillError> {
    let b = store.load_backfill(id).await?.ok_or_else(|| BackfillError::NotFound(id.to_string()))?;
    if b.state != BackfillState::Running {
        return Ok(b);
    }
    let mut progress = b.progress.clone();
    progress.error = Some(reason.to_string());
    store.save_backfill_progress(id, &progress).await?;
    let done = store
        .transition_backfill(id, &[BackfillState::Running], BackfillState::Failed)
        .await?
        .ok_or_else(|| BackfillError::NotFound(id.to_string()))?;
    if done.state == BackfillState::Failed {
        tracing::error!(backfill_id = %id, namespace = %b.namespace, flow_id = %b.flow_id, trigger_id = %b.trigger_id,
            error = %reason, "backfill failed: it cannot go on");
    }
    Ok(done)
}

/// How long a runner owns a backfill without renewing (it renews on every
/// turn of its loop, at least every poll interval).
const OWNER_LEASE: TimeDelta = TimeDelta::seconds(30);
/// The record kind of owners.
const LEASES: &str = "leases";

/// This runner's ownership of a backfill: a compare-and-swap record
/// `leases/backfill:{id}` = `{owner, until}`. Another runner takes it over
/// only once `until` passed (its owner died or was stopped).
struct Owner {
    key: String,
    me: String,
    version: u64,
    until: DateTime<Utc>,
    engine: Option<Arc<Engine>>,
}

impl Owner {
    async fn acquire(engine: &Arc<Engine>, backfill_id: &str) -> Result<Option<Owner>, BackendError> {
        let key = format!("backfill:{backfill_id}");
        let me = ids::new_id();
        let now = Utc::now();
        let version = match engine.state.load_record(LEASES, &key).await? {
            None => 0,
            Some((v, body)) => {
                let until = body.get("until").and_then(Value::as_str).and_then(|u| u.parse::<DateTime<Utc>>().ok());
                if until.is_some_and(|u| u > now) {
                    return Ok(None);
                }
                v
            }
        };
        let until = now + OWNER_LEASE;
        match engine.state.save_record(LEASES, &key, version, &json!({"owner": me, "until": until})).await {
            Ok(version) => Ok(Some(Owner { key, me, version, until, engine: Some(engine.clone()) })),
            Err(BackendError::Conflict { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Renews the lease when a third of it is gone; false if it was lost.
    async fn renew(&mut self, engine: &Engine) -> Result<bool, BackendError> {
        let now = Utc::now();
        if self.until - now > OWNER_LEASE * 2 / 3 {
            return Ok(true);
        }
        let until = now + OWNER_LEASE;
        let body = json!({"owner": self.me, "until": until});
        match engine.state.save_record(LEASES, &self.key, self.version, &body).await {
            Ok(v) => {
                (self.version, self.until) = (v, until);
                Ok(true)
            }
            Err(BackendError::Conflict { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The record that gives the backfill up (a lease that ran out).
    fn released(&self) -> Value {
        json!({"owner": self.me, "until": DateTime::<Utc>::UNIX_EPOCH})
    }

    /// Gives the backfill up, waiting for the write (the next runner can take it at once).
    async fn release(mut self, engine: &Engine) {
        self.engine = None;
        let _ = engine.state.save_record(LEASES, &self.key, self.version, &self.released()).await;
    }
}

impl Drop for Owner {
    /// A runner dropped mid-way (a timeout, an aborted task) gives the
    /// backfill up at once; a process that dies lets the lease run out.
    fn drop(&mut self) {
        let Some(engine) = self.engine.take() else { return };
        let (key, version, body) = (self.key.clone(), self.version, self.released());
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let _ = engine.state.save_record(LEASES, &key, version, &body).await;
            });
        }
    }
}

async fn save(store: &dyn TriggerStore, b: &mut Backfill, progress: &BackfillProgress) -> Result<(), BackendError> {
    store.save_backfill_progress(&b.id, progress).await?;
    b.progress = progress.clone();
    Ok(())
}

/// The backfill's stored state: `Some` (as stored) when it is no longer
/// RUNNING, or when this runner lost its ownership (then as it is).
async fn control(
    engine: &Engine,
    store: &dyn TriggerStore,
    b: &mut Backfill,
    owner: &mut Owner,
    progress: &BackfillProgress,
) -> Result<Option<Backfill>, BackendError> {
    if !owner.renew(engine).await? {
        tracing::warn!(backfill_id = %b.id, "backfill taken over by another runner: this one stops");
        return Ok(Some(b.clone()));
    }
    let Some(current) = store.load_backfill(&b.id).await? else {
        return Ok(Some(b.clone()));
    };
    b.state = current.state;
    if current.state == BackfillState::Running {
        return Ok(None);
    }
    save(store, b, progress).await?;
    tracing::info!(backfill_id = %b.id, state = %b.state, "backfill stopped");
    Ok(Some(Backfill { progress: progress.clone(), ..current }))
}

/// Waits until at least one in-flight execution ends (recording it), or the
/// backfill stops being RUNNING (`Some`).
async fn wait_for_one(
    engine: &Engine,
    store: &dyn TriggerStore,
    b: &mut Backfill,
    owner: &mut Owner,
    updates: &mut tokio::sync::broadcast::Receiver<ExecutionUpdate>,
    tracker: &mut Tracker,
    progress: &mut BackfillProgress,
) -> Result<Option<Backfill>, BackendError> {
    loop {
        let mut ended = Vec::new();
        for (tick, id) in &tracker.in_flight {
            if let Some(e) = engine.state.load_execution(id).await?
                && e.state.is_terminal()
            {
                ended.push((*tick, id.clone(), e.state.current));
            }
        }
        if !ended.is_empty() {
            for (tick, id, state) in ended {
                tracker.in_flight.remove(&tick);
                let launched = progress.ticks.get(&tick).is_some_and(|r| r.launched);
                record_end(progress, tick, &id, launched, state);
                tracker.handle(tick, progress);
            }
            save(store, b, progress).await?;
            return Ok(None);
        }
        if let Some(stopped) = control(engine, store, b, owner, progress).await? {
            return Ok(Some(stopped));
        }
        // sleep until one of ours changes state terminally, or the poll interval passes
        let deadline = tokio::time::Instant::now() + POLL;
        loop {
            match tokio::time::timeout_at(deadline, updates.recv()).await {
                Err(_) => break,
                Ok(Ok(u)) if u.state.is_terminal() && tracker.in_flight.values().any(|id| *id == u.execution_id) => {
                    break;
                }
                Ok(Ok(_)) | Ok(Err(RecvError::Lagged(_))) => {}
                Ok(Err(RecvError::Closed)) => {
                    tokio::time::sleep_until(deadline).await;
                    break;
                }
            }
        }
    }
}
