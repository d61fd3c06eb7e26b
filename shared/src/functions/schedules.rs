//! [`ScheduleEngine`]: the [`Schedules`] the functions use, on the schedule
//! runtime (`runtime::scheduler`, `runtime::backfill`) and a
//! [`TriggerStore`] (Firestore on GCP, SQLite locally).
//!
//! - A tick without a date stands for the latest cron instant at or before
//!   the message's publish time, and fires it — the first tick a trigger
//!   ever receives included ([`Scheduler::evaluate_trigger`] with
//!   [`Arrival::Tick`]); the ticks missed since the stored last tick are
//!   recovered per `recoverMissedSchedules`, late ones are skipped per
//!   `lateMaximumDelay`, and `stopAfter` applies. With a date it fires that
//!   tick. Either way a tick key makes a duplicate tick a no-op, and every
//!   decision comes from stored trigger state, so a cold instance decides
//!   as a warm one would.
//! - A tick for an `http.Trigger` (its Cloud Scheduler job) evaluates it
//!   once at the publish time (`runtime::events::http`); one for an
//!   `s3.Trigger` polls its bucket once (`runtime::events::s3`).
//! - A backfill is created (or the RUNNING one of the same request found)
//!   and driven by [`ScheduleEngine::run_backfills`] for at most a time
//!   budget per request, so no request outlives Pub/Sub's ack deadline; the
//!   sweep drives it on every minute until it ends. A runner stopped halfway
//!   (budget, instance gone) resumes without duplicating a tick.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Map;

use super::scheduler::{BackfillRequest, ScheduleFailure, Schedules, TickRequest};
use crate::backend::schedule::{BackfillState, TriggerStore};
use crate::model::Flow;
use crate::runtime::backfill::{self, BackfillError};
use crate::runtime::engine::Engine;
use crate::runtime::events::http::Evaluated;
use crate::runtime::flow_files::{FlowError, current_flow};
use crate::runtime::scheduler::{self as rs, Scheduler, SchedulerError, TickOrigin, TickOutcome};
use crate::schedule::backfill::{Bound, parse_bound};
use crate::schedule::{Arrival, ScheduleTrigger};
use crate::triggers::http::HttpTrigger;

/// How long one request drives backfills, by default (under the 600 s ack deadline, and a minute's sweep).
pub const BACKFILL_BUDGET: Duration = Duration::from_secs(50);

/// Ticks and backfills on the schedule runtime.
pub struct ScheduleEngine {
    engine: Arc<Engine>,
    store: Arc<dyn TriggerStore>,
    scheduler: Scheduler,
    budget: Duration,
}

impl ScheduleEngine {
    pub fn new(engine: Arc<Engine>, store: Arc<dyn TriggerStore>, budget: Duration) -> ScheduleEngine {
        let scheduler = Scheduler::new(engine.clone(), store.clone(), engine.flows.clone());
        ScheduleEngine { engine, store, scheduler, budget }
    }

    async fn flow(&self, namespace: &str, flow_id: &str) -> Result<Arc<Flow>, ScheduleFailure> {
        current_flow(&self.engine, self.engine.flow_files.as_deref(), namespace, flow_id, None).await.map_err(|e| {
            match e {
                FlowError::Backend(b) => ScheduleFailure::Transient(b.to_string()),
                other => ScheduleFailure::Invalid(other.to_string()),
            }
        })
    }
}

fn scheduler_failure(e: SchedulerError) -> ScheduleFailure {
    match e {
        SchedulerError::Backend(_) | SchedulerError::Contention(_) => ScheduleFailure::Transient(e.to_string()),
        SchedulerError::Render { .. } | SchedulerError::Launch { .. } | SchedulerError::Condition { .. } => {
            ScheduleFailure::Invalid(e.to_string())
        }
    }
}

fn backfill_failure(e: BackfillError) -> ScheduleFailure {
    match e {
        BackfillError::Backend(_) => ScheduleFailure::Transient(e.to_string()),
        other => ScheduleFailure::Invalid(other.to_string()),
    }
}

fn launched(outcome: &TickOutcome) -> Option<String> {
    match outcome {
        TickOutcome::Launched { execution_id } => Some(execution_id.clone()),
        _ => None,
    }
}

#[async_trait]
impl Schedules for ScheduleEngine {
    async fn tick(&self, tick: &TickRequest, published: DateTime<Utc>) -> Result<Vec<String>, ScheduleFailure> {
        let flow = self.flow(&tick.namespace, &tick.flow_id).await?;
        if let Some(http) = flow.triggers.iter().find(|t| t.id == tick.trigger_id).and_then(HttpTrigger::of) {
            // an http.Trigger's Cloud Scheduler job: one evaluation
            let http = http.map_err(ScheduleFailure::Invalid)?;
            return match crate::runtime::events::http::evaluate(&self.engine, &flow, &http, published).await {
                Ok(Evaluated::Started(id)) => Ok(vec![id]),
                Ok(_) => Ok(Vec::new()),
                Err(e) if e.is_transient() => Err(ScheduleFailure::Transient(e.to_string())),
                Err(e) => Err(ScheduleFailure::Invalid(e.to_string())),
            };
        }
        #[cfg(feature = "aws")]
        if let Some(t) = flow.triggers.iter().find(|t| {
            t.id == tick.trigger_id
                && crate::triggers::find(&t.type_).is_some_and(|d| d.type_name == crate::triggers::s3::TYPE)
        }) {
            // an s3.Trigger's Cloud Scheduler job: one poll
            if t.disabled {
                return Ok(Vec::new());
            }
            return match crate::runtime::events::s3::poll(&self.engine, &flow, &t.id).await {
                Ok(fired) => Ok(fired.filter(|f| f.created).map(|f| f.execution_id).into_iter().collect()),
                Err(e) if e.is_transient() => Err(ScheduleFailure::Transient(e.to_string())),
                Err(e) => Err(ScheduleFailure::Invalid(e.to_string())),
            };
        }
        let trigger = match ScheduleTrigger::find(&flow, &tick.trigger_id) {
            Some(Ok(t)) => t,
            Some(Err(e)) => return Err(ScheduleFailure::Invalid(e.to_string())),
            None => {
                return Err(ScheduleFailure::Invalid(format!(
                    "flow {}.{} has no Schedule trigger '{}'",
                    tick.namespace, tick.flow_id, tick.trigger_id
                )));
            }
        };
        match tick.date {
            Some(date) => {
                let req = rs::TickRequest {
                    flow: &flow,
                    trigger: &trigger,
                    date,
                    inputs: &Map::new(),
                    labels: &[],
                    origin: TickOrigin::Schedule,
                };
                let outcome = rs::fire_tick(&self.engine, self.store.as_ref(), req).await.map_err(scheduler_failure)?;
                Ok(launched(&outcome).into_iter().collect())
            }
            None => {
                let report = self
                    .scheduler
                    .evaluate_trigger(&flow, &trigger, published, Arrival::Tick)
                    .await
                    .map_err(scheduler_failure)?;
                for e in &report.errors {
                    tracing::error!(flow_id = %flow.id, trigger_id = %trigger.id, error = %e, "tick not started");
                }
                Ok(report.fired.iter().filter_map(|(_, o)| launched(o)).collect())
            }
        }
    }

    async fn backfill(&self, request: &BackfillRequest) -> Result<String, ScheduleFailure> {
        self.flow(&request.namespace, &request.flow_id).await?;
        let (_, trigger) =
            backfill::backfill_target(&self.engine, &request.namespace, &request.flow_id, &request.trigger_id)
                .map_err(backfill_failure)?;
        let bound =
            |s: &str, b: Bound| parse_bound(s, &trigger.cron, b).map_err(|e| ScheduleFailure::Invalid(e.to_string()));
        let req = backfill::BackfillRequest {
            namespace: request.namespace.clone(),
            flow_id: request.flow_id.clone(),
            trigger_id: request.trigger_id.clone(),
            start: bound(&request.start, Bound::Start)?,
            end: request.end.as_deref().map(|e| bound(e, Bound::End)).transpose()?,
            inputs: request.inputs.clone(),
            labels: request.labels.clone(),
            rerun_successful: request.rerun_successful,
            id: request.id.clone(),
        };
        // the same request redelivered finds its backfill instead of starting another
        if let Some(b) = backfill::find_resumable(self.store.as_ref(), &req).await.map_err(backfill_failure)? {
            return Ok(b.id);
        }
        let b = backfill::create_backfill(&self.engine, self.store.as_ref(), req).await.map_err(backfill_failure)?;
        Ok(b.id)
    }

    async fn run_backfills(&self) -> Result<usize, ScheduleFailure> {
        let running = self
            .store
            .list_backfills(Some(BackfillState::Running))
            .await
            .map_err(|e| ScheduleFailure::Transient(e.to_string()))?;
        let runs = running.into_iter().map(|b| async move {
            match self.flow(&b.namespace, &b.flow_id).await {
                Ok(_) => {}
                // deleted, or broken with no good revision: it can not go on
                Err(ScheduleFailure::Invalid(m)) => {
                    if let Err(e) = backfill::fail_backfill(self.store.as_ref(), &b.id, &m).await {
                        tracing::warn!(backfill_id = %b.id, error = %e, "cannot mark the backfill FAILED");
                    }
                    return false;
                }
                Err(e) => {
                    tracing::warn!(backfill_id = %b.id, error = %e, "backfill not driven now; the sweep tries again");
                    return false;
                }
            }
            let mut progress = |_: &crate::backend::schedule::Backfill| {};
            let run = backfill::drive_backfill(&self.engine, self.store.as_ref(), &b.id, &mut progress, false);
            match tokio::time::timeout(self.budget, run).await {
                Ok(Ok(done)) => {
                    tracing::info!(backfill_id = %done.id, state = %done.state, "backfill driven");
                    false
                }
                Ok(Err(e)) => {
                    tracing::warn!(backfill_id = %b.id, error = %e, "backfill runner stopped; the sweep carries it on");
                    false
                }
                // the runner is dropped (its ownership released): continued by the caller
                Err(_) => true,
            }
        });
        Ok(futures::future::join_all(runs).await.into_iter().filter(|left| *left).count())
    }
}
