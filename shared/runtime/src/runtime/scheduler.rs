//! The scheduler: fires each due tick of the enabled Schedule triggers of
//! the loaded flows exactly once, through the tick key
//! `(namespace, flow, trigger, date)` of the [`TriggerStore`].
//!
//! [`fire_tick`] is the one way a tick becomes an execution — for live
//! ticks and for backfills — so a duplicate or late tick, two schedulers,
//! or a backfill racing the schedule never create a second execution: the
//! execution id is derived from the tick key, the tick is claimed
//! create-if-absent, and the launcher creates an execution id only once.
//! A tick where one of the trigger's `conditions` is false creates no
//! execution: [`fire_tick`] answers [`TickOutcome::ConditionFalse`] (logged
//! at INFO with the condition), and the trigger's state still advances.
//! [`Scheduler::evaluate`] is one pass over every trigger (what a Cloud
//! Scheduler tick calls on GCP); [`Scheduler::spawn`] runs passes every
//! second for `baton server local`.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use tokio::task::JoinHandle;

use super::engine::Engine;
use super::flows::FlowRepository;
use super::launcher::{self, LaunchError, LaunchRequest};
use super::stop_after::{self, Held};
use crate::backend::BackendError;
use crate::backend::schedule::{TickClaim, TickKey, TriggerKey, TriggerState, TriggerStore};
use crate::conditions::{ConditionContext, ConditionError};
use crate::model::{Flow, Label, StateType};
use crate::schedule::{Arrival, ScheduleTrigger, plan_due};
use crate::template::TemplateError;

/// Due ticks one trigger fires in one pass at most (a long `ALL` replay
/// continues on the next pass).
const MAX_TICKS_PER_PASS: usize = 100;

/// How many ticks are tested, each way, to find the nearest ticks whose
/// conditions hold (`trigger.next`/`trigger.previous` of a conditional
/// Schedule, as Kestra's `trueOutputWithCondition`); past it they are left out.
pub const MAX_CONDITION_SEARCH: usize = 1000;

/// How old the latest tick may be for a pass of the local loop to call it
/// on time (the loop wakes at each tick; later, the process was down).
pub const ON_TIME: TimeDelta = TimeDelta::seconds(15);

/// Why a tick could not be handled.
#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error("trigger '{trigger}' of {flow}, tick {tick}: cannot render {what}: {source}")]
    Render {
        flow: String,
        trigger: String,
        tick: String,
        what: String,
        #[source]
        source: TemplateError,
    },
    #[error("trigger '{trigger}' of {flow}, tick {tick}: cannot evaluate its conditions: {source}")]
    Condition {
        flow: String,
        trigger: String,
        tick: String,
        #[source]
        source: Box<ConditionError>,
    },
    #[error("tick {0}: too many concurrent changes of its claim; try again")]
    Contention(String),
    #[error("trigger '{trigger}' of {flow}, tick {tick}: {source}")]
    Launch {
        flow: String,
        trigger: String,
        tick: String,
        #[source]
        source: Box<LaunchError>,
    },
}

/// Who fires a tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TickOrigin<'a> {
    /// The scheduler, for a live (or recovered) tick.
    Schedule,
    /// A backfill; with `rerun_successful` a tick that already succeeded runs again.
    Backfill { id: &'a str, rerun_successful: bool },
}

impl std::fmt::Display for TickOrigin<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TickOrigin::Schedule => f.write_str("schedule"),
            TickOrigin::Backfill { id, .. } => write!(f, "backfill {id}"),
        }
    }
}

/// One tick to turn into an execution.
#[derive(Debug, Clone, Copy)]
pub struct TickRequest<'a> {
    pub flow: &'a Flow,
    pub trigger: &'a ScheduleTrigger,
    pub date: DateTime<Utc>,
    /// Inputs overriding the trigger's (a backfill's).
    pub inputs: &'a Map<String, Value>,
    /// Labels added to the execution (a backfill's).
    pub labels: &'a [Label],
    pub origin: TickOrigin<'a>,
}

/// What firing a tick did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TickOutcome {
    /// A new execution was created.
    Launched { execution_id: String },
    /// The tick already has this execution (a duplicate or late tick, or a
    /// backfill resuming): nothing was created. `state` is its current state.
    Existing { execution_id: String, state: Option<StateType> },
    /// A backfill found the tick already succeeded and skipped it.
    SkippedSuccessful { execution_id: String },
    /// One of the trigger's conditions was false at this tick (named, e.g.
    /// `DayWeekInMonth`): no execution, as in Kestra.
    ConditionFalse { condition: String },
}

impl TickOutcome {
    /// The tick's execution; `None` when its conditions said no.
    pub fn execution_id(&self) -> Option<&str> {
        match self {
            TickOutcome::Launched { execution_id }
            | TickOutcome::Existing { execution_id, .. }
            | TickOutcome::SkippedSuccessful { execution_id } => Some(execution_id),
            TickOutcome::ConditionFalse { .. } => None,
        }
    }
}

/// The execution id of a tick: 22 base62 characters derived from the tick
/// key and who fires it, so a retried or duplicated firing names the same
/// execution.
pub fn tick_execution_id(key: &TickKey, origin: TickOrigin<'_>) -> String {
    let salt = match origin {
        TickOrigin::Schedule => "schedule".to_string(),
        TickOrigin::Backfill { id, .. } => format!("backfill:{id}"),
    };
    crate::model::ids::derived_id(&format!("{salt}\n{}", key.id()))
}

/// Turns one tick into at most one execution (see the module documentation).
///
/// A backfill re-runs a tick whose execution failed, and one that succeeded
/// only with `rerun_successful`; an execution still running is adopted, not
/// duplicated.
pub async fn fire_tick(
    engine: &Arc<Engine>,
    store: &dyn TriggerStore,
    req: TickRequest<'_>,
) -> Result<TickOutcome, SchedulerError> {
    let key = TickKey {
        namespace: req.flow.namespace.clone(),
        flow_id: req.flow.id.clone(),
        trigger_id: req.trigger.id.clone(),
        date: req.date,
    };
    if let Some(condition) = condition_false(engine, req.flow, req.trigger, req.date)? {
        tracing::info!(
            namespace = %req.flow.namespace, flow_id = %req.flow.id, trigger_id = %req.trigger.id,
            tick = %req.trigger.cron.format(req.date), origin = %req.origin, condition = %condition,
            "tick skipped: condition {condition} is false"
        );
        return Ok(TickOutcome::ConditionFalse { condition });
    }
    let mine = tick_execution_id(&key, req.origin);
    for _ in 0..8 {
        let owner = match store.claim_tick(&key, &mine).await? {
            TickClaim::Created => return launch_tick(engine, &req, &mine).await,
            TickClaim::Existing { execution_id } => execution_id,
        };
        let existing = engine.state.load_execution(&owner).await?;
        let Some(existing) = existing else {
            // claimed, but its claimant stopped before creating it: create it
            // now under the claimed id (the launcher creates an id only once)
            return launch_tick(engine, &req, &owner).await;
        };
        let state = existing.state.current;
        let backfill = match req.origin {
            TickOrigin::Backfill { rerun_successful, .. } if owner != mine => Some(rerun_successful),
            _ => None,
        };
        match backfill {
            Some(rerun) if state.is_terminal() => {
                let succeeded = matches!(state, StateType::Success | StateType::Warning);
                if succeeded && !rerun {
                    return Ok(TickOutcome::SkippedSuccessful { execution_id: owner });
                }
                if store.replace_tick(&key, &owner, &mine).await? {
                    return launch_tick(engine, &req, &mine).await;
                }
                // someone else moved the tick meanwhile: look again
            }
            _ => return Ok(TickOutcome::Existing { execution_id: owner, state: Some(state) }),
        }
    }
    Err(SchedulerError::Contention(key.id()))
}

/// What a tick's templates and conditions see: the trigger's run context
/// (`flow`, `vars`, `envs`: `events::trigger_vars`), `trigger` (the tick's
/// `date`, `next`, `previous` in the trigger's zone, its id and type) and
/// `schedule` (the dates).
fn tick_render_context(
    engine: &Engine,
    flow: &Flow,
    trigger: &ScheduleTrigger,
    variables: &Map<String, Value>,
) -> Value {
    let mut t = variables.clone();
    t.insert("id".into(), Value::String(trigger.id.clone()));
    t.insert("type".into(), Value::String(trigger.type_name.to_string()));
    let mut ctx = super::events::trigger_vars(engine, flow, &trigger.id);
    ctx["trigger"] = Value::Object(t);
    ctx["schedule"] = Value::Object(variables.clone());
    ctx
}

/// The first of the trigger's conditions that is false at tick `date`
/// (its short type name), `None` when all hold (or there are none).
pub fn condition_false(
    engine: &Engine,
    flow: &Flow,
    trigger: &ScheduleTrigger,
    date: DateTime<Utc>,
) -> Result<Option<String>, SchedulerError> {
    if trigger.conditions.is_empty() {
        return Ok(None);
    }
    let vars = tick_render_context(engine, flow, trigger, &trigger.variables(date));
    let cx = ConditionContext {
        namespace: &flow.namespace,
        flow_id: &flow.id,
        execution: None,
        variables: &vars,
        renderer: engine.renderer.as_ref(),
        host: engine.host.as_ref(),
        now: Utc::now(),
    };
    crate::conditions::first_false(&trigger.conditions, &cx).map(|c| c.map(|c| c.short_name().to_string())).map_err(
        |source| SchedulerError::Condition {
            flow: format!("{}.{}", flow.namespace, flow.id),
            trigger: trigger.id.clone(),
            tick: trigger.cron.format(date),
            source: Box::new(source),
        },
    )
}

/// The nearest tick after (`forward`) or before `date` whose conditions
/// hold, within [`MAX_CONDITION_SEARCH`] ticks.
fn true_neighbour(
    engine: &Engine,
    flow: &Flow,
    trigger: &ScheduleTrigger,
    date: DateTime<Utc>,
    forward: bool,
) -> Result<Option<DateTime<Utc>>, SchedulerError> {
    let mut at = date;
    for _ in 0..MAX_CONDITION_SEARCH {
        let Some(t) = (if forward { trigger.cron.next_after(at) } else { trigger.cron.previous_before(at) }) else {
            return Ok(None);
        };
        if condition_false(engine, flow, trigger, t)?.is_none() {
            return Ok(Some(t));
        }
        at = t;
    }
    Ok(None)
}

/// The execution's trigger context of tick `date`: with conditions,
/// `next` and `previous` are the nearest ticks whose conditions hold (Kestra).
fn tick_context(
    engine: &Engine,
    flow: &Flow,
    trigger: &ScheduleTrigger,
    date: DateTime<Utc>,
) -> Result<crate::model::TriggerContext, SchedulerError> {
    let mut context = trigger.context(date);
    if trigger.conditions.is_empty() {
        return Ok(context);
    }
    for (key, forward) in [("next", true), ("previous", false)] {
        match true_neighbour(engine, flow, trigger, date, forward)? {
            Some(t) => context.variables.insert(key.into(), Value::String(trigger.cron.format(t))),
            None => context.variables.remove(key),
        };
    }
    Ok(context)
}

async fn launch_tick(engine: &Arc<Engine>, req: &TickRequest<'_>, id: &str) -> Result<TickOutcome, SchedulerError> {
    let flow = req.flow;
    let trigger = req.trigger;
    let tick = trigger.cron.format(req.date);
    let context = tick_context(engine, flow, trigger, req.date)?;
    let render_ctx = tick_render_context(engine, flow, trigger, &context.variables);
    let render_err = |what: &str, source: TemplateError| SchedulerError::Render {
        flow: format!("{}.{}", flow.namespace, flow.id),
        trigger: trigger.id.clone(),
        tick: tick.clone(),
        what: what.to_string(),
        source,
    };
    let mut inputs = Map::new();
    for (what, source) in [("trigger inputs", &trigger.inputs), ("backfill inputs", req.inputs)] {
        for (k, v) in source {
            let value = engine
                .renderer
                .render_typed(v, &render_ctx, engine.host.as_ref())
                .map_err(|e| render_err(&format!("{what} '{k}'"), e))?;
            inputs.insert(k.clone(), value);
        }
    }
    let mut labels = Vec::new();
    for l in req.labels {
        let value = engine
            .renderer
            .render_str(&l.value, &render_ctx, engine.host.as_ref())
            .map_err(|e| render_err(&format!("label '{}'", l.key), e))?;
        labels.push(Label { key: l.key.clone(), value });
    }
    let launch = LaunchRequest {
        inputs,
        labels,
        trigger: Some(context),
        parent: None,
        execution_id: Some(id.to_string()),
        schedule_date: Some(req.date),
        ..LaunchRequest::default()
    };
    match launcher::launch(engine, flow, launch).await {
        Ok(e) => {
            super::metrics::triggered(&flow.namespace, &flow.id);
            tracing::info!(
                execution_id = %e.id, namespace = %flow.namespace, flow_id = %flow.id, trigger_id = %trigger.id,
                tick = %tick, origin = %req.origin, "tick fired"
            );
            Ok(TickOutcome::Launched { execution_id: e.id })
        }
        Err(LaunchError::Exists(id)) => {
            let state = engine.state.load_execution(&id).await?.map(|e| e.state.current);
            Ok(TickOutcome::Existing { execution_id: id, state })
        }
        Err(source) => Err(SchedulerError::Launch {
            flow: format!("{}.{}", flow.namespace, flow.id),
            trigger: trigger.id.clone(),
            tick,
            source: Box::new(source),
        }),
    }
}

/// Where the scheduler finds the flows whose triggers it evaluates.
pub trait FlowSource: Send + Sync {
    fn flows(&self) -> Vec<Arc<Flow>>;
}

impl FlowSource for FlowRepository {
    fn flows(&self) -> Vec<Arc<Flow>> {
        self.all()
    }
}

/// What one evaluation of one trigger did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TriggerReport {
    pub namespace: String,
    pub flow_id: String,
    pub trigger_id: String,
    /// Ticks turned into executions (or found already handled).
    pub fired: Vec<(DateTime<Utc>, TickOutcome)>,
    /// Ticks skipped: later than `lateMaximumDelay`.
    pub late: Vec<DateTime<Utc>>,
    /// Missed ticks dropped by `recoverMissedSchedules`.
    pub dropped: usize,
    /// Ticks that failed to start, with why.
    pub errors: Vec<String>,
    /// The trigger is stopped by `stopAfter`.
    pub stopped: bool,
    /// The trigger's next tick after this evaluation.
    pub next: Option<DateTime<Utc>>,
}

/// Evaluates Schedule triggers and fires their due ticks.
pub struct Scheduler {
    engine: Arc<Engine>,
    store: Arc<dyn TriggerStore>,
    flows: Arc<dyn FlowSource>,
}

impl Scheduler {
    pub fn new(engine: Arc<Engine>, store: Arc<dyn TriggerStore>, flows: Arc<dyn FlowSource>) -> Scheduler {
        Scheduler { engine, store, flows }
    }

    /// One pass over every Schedule trigger of every flow at `now`.
    pub async fn evaluate(&self, now: DateTime<Utc>) -> Vec<TriggerReport> {
        let mut reports = Vec::new();
        for flow in self.flows.flows() {
            for parsed in ScheduleTrigger::of_flow(&flow) {
                let trigger = match parsed {
                    Ok(t) => t,
                    Err(e) => {
                        tracing::debug!(namespace = %flow.namespace, flow_id = %flow.id, error = %e, "trigger skipped");
                        continue;
                    }
                };
                match self.evaluate_trigger(&flow, &trigger, now, Arrival::Pass { on_time: ON_TIME }).await {
                    Ok(r) => reports.push(r),
                    Err(e) => tracing::error!(
                        namespace = %flow.namespace, flow_id = %flow.id, trigger_id = %trigger.id, error = %e,
                        "cannot evaluate trigger"
                    ),
                }
            }
        }
        reports
    }

    /// Evaluates one trigger at `now` (a tick's arrival, or a pass of the
    /// loop): fires its due ticks, applies `recoverMissedSchedules` to the
    /// ticks missed since the stored last tick, `lateMaximumDelay` and
    /// `stopAfter`, and stores the trigger's state. Decides from the stored
    /// state only, so any instance decides the same.
    pub async fn evaluate_trigger(
        &self,
        flow: &Flow,
        trigger: &ScheduleTrigger,
        now: DateTime<Utc>,
        arrival: Arrival,
    ) -> Result<TriggerReport, SchedulerError> {
        let key =
            TriggerKey { namespace: flow.namespace.clone(), flow_id: flow.id.clone(), trigger_id: trigger.id.clone() };
        let mut report = TriggerReport {
            namespace: key.namespace.clone(),
            flow_id: key.flow_id.clone(),
            trigger_id: key.trigger_id.clone(),
            ..TriggerReport::default()
        };
        if trigger.disabled || flow.disabled {
            // its state is kept: re-enabling it applies recoverMissedSchedules
            // to the ticks missed meanwhile, as in Kestra
            return Ok(report);
        }
        super::metrics::trigger_evaluated(&flow.namespace, &flow.id);
        let mut state =
            self.store.load_trigger_state(&key).await?.unwrap_or_else(|| TriggerState::fresh(key.clone(), now));
        let flow_hash = source_hash(&flow.source);
        match stop_after::held(&mut state, &flow_hash) {
            Held::Yes => {
                report.stopped = true;
                return Ok(report);
            }
            Held::Lifted => {
                tracing::info!(namespace = %key.namespace, flow_id = %key.flow_id, trigger_id = %key.trigger_id,
                    "flow changed: trigger stopped by stopAfter runs again");
                // ticks are not replayed across a stop: it starts afresh, as a new trigger
                state.next_tick = None;
                state.last_tick = None;
            }
            Held::No => {}
        }
        let signature = trigger.cron.signature();
        if state.schedule.as_deref() != Some(signature.as_str()) {
            if state.schedule.is_some() {
                tracing::info!(namespace = %key.namespace, flow_id = %key.flow_id, trigger_id = %key.trigger_id,
                    schedule = %signature, "schedule changed: its ticks start afresh");
                state.next_tick = None;
                state.last_tick = None;
            }
            state.schedule = Some(signature);
        }
        if let Some(reason) = stop_after::last_ended(&self.engine, &trigger.stop_after, &state).await? {
            stop_after::mark(&mut state, reason, flow_hash, now);
            self.store.save_trigger_state(&state).await?;
            report.stopped = true;
            return Ok(report);
        }
        let before = state.clone();
        let plan = plan_due(trigger, state.last_tick, now, arrival, MAX_TICKS_PER_PASS);
        if plan.dropped > 0 {
            tracing::info!(namespace = %key.namespace, flow_id = %key.flow_id, trigger_id = %key.trigger_id,
                missed = plan.dropped, policy = ?trigger.recover_missed_schedules, "missed schedules not recovered");
        }
        for t in &plan.late {
            tracing::warn!(namespace = %key.namespace, flow_id = %key.flow_id, trigger_id = %key.trigger_id,
                tick = %trigger.cron.format(*t), "tick skipped: later than lateMaximumDelay");
        }
        for &date in &plan.fire {
            let req =
                TickRequest { flow, trigger, date, inputs: &Map::new(), labels: &[], origin: TickOrigin::Schedule };
            match fire_tick(&self.engine, self.store.as_ref(), req).await {
                Ok(outcome) => {
                    if let Some(id) = outcome.execution_id() {
                        state.last_execution_id = Some(id.to_string());
                    }
                    report.fired.push((date, outcome));
                }
                Err(SchedulerError::Backend(e)) => return Err(e.into()),
                Err(e) => {
                    tracing::error!(error = %e, "scheduled execution not started");
                    report.errors.push(e.to_string());
                }
            }
            state.last_tick = Some(date);
        }
        if let Some(h) = plan.handled_until {
            state.last_tick = Some(state.last_tick.map_or(h, |l| l.max(h)));
        }
        report.late = plan.late;
        report.dropped = plan.dropped;
        report.next = plan.next;
        state.next_tick = plan.next;
        if state != before {
            state.updated = now;
            self.store.save_trigger_state(&state).await?;
        }
        Ok(report)
    }

    /// Runs passes until the handle is aborted: at the next due tick of
    /// any trigger, and at least every `every` (flows change).
    pub fn spawn(self: Arc<Self>, every: StdDuration) -> JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                let reports = self.evaluate(Utc::now()).await;
                let now = Utc::now();
                let wake = reports
                    .iter()
                    .filter_map(|r| r.next)
                    .min()
                    .map_or(every, |next| (next - now).to_std().unwrap_or_default().min(every));
                tokio::time::sleep(wake.max(StdDuration::from_millis(5))).await;
            }
        })
    }
}

/// A short stable hash of a flow's source (detects edits).
pub fn source_hash(source: &str) -> String {
    let d = Sha256::digest(source.as_bytes());
    d[..8].iter().map(|b| format!("{b:02x}")).collect()
}
