//! The `scheduler` function: the messages of the `baton-scheduler` topic —
//! Cloud Scheduler ticks (one job per enabled `Schedule` trigger), backfill
//! requests (`gcloud pubsub topics publish`, `baton backfill --remote`, the
//! API) and the periodic sweep — decoded into [`SchedulerMessage`] and
//! handed to the schedule engine through the [`Schedules`] trait (ticks and
//! backfills; `super::schedules` implements it on `runtime::scheduler` and
//! `runtime::backfill`) or to [`super::sweep`], which also drives the
//! RUNNING backfills for a while.
//!
//! Message schema (JSON in the Pub/Sub message data):
//! ```json
//! {"type":"tick","namespace":"zoomcamp","flowId":"taxi","triggerId":"monthly"}
//! {"type":"backfill","namespace":"zoomcamp","flowId":"taxi","triggerId":"monthly",
//!  "start":"2019-01-01T00:00:00Z","end":"2019-12-31T23:59:59Z",
//!  "inputs":{"taxi":"green"},"labels":[{"key":"backfill","value":"true"}],"rerunSuccessful":false}
//! {"type":"sweep"}
//! {"type":"backfills"}
//! ```
//! GCS notifications and Pub/Sub trigger messages also arrive here, on
//! their own push subscriptions: [`super::events`] recognises and handles them.
//! Cloud Scheduler cannot put the scheduled time in a payload, so a tick
//! carries none: its date is derived from the message's publish time (the
//! latest cron tick at or before it), unless `date` is given explicitly.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::envelope::Delivery;
use super::executor::backend_outcome;
use super::idle::IdleGate;
use super::push::{Outcome, PushHandler};
use super::sweep::sweep;
use crate::model::Label;
use crate::runtime::engine::Engine;

/// A Cloud Scheduler tick of one `Schedule` trigger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TickRequest {
    pub namespace: String,
    pub flow_id: String,
    pub trigger_id: String,
    /// The tick's date, when the sender knows it (otherwise the publish time decides).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<DateTime<Utc>>,
}

/// A backfill of one `Schedule` trigger over `[start, end]` (Kestra's backfill body).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackfillRequest {
    pub namespace: String,
    pub flow_id: String,
    pub trigger_id: String,
    /// ISO-8601 date-time (with or without offset: then in the trigger's time zone).
    pub start: String,
    /// Inclusive; now when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
    /// Override the trigger's `inputs`.
    #[serde(default)]
    pub inputs: Map<String, Value>,
    #[serde(default)]
    pub labels: Vec<Label>,
    /// Also re-run ticks that already have a successful execution.
    #[serde(default)]
    pub rerun_successful: bool,
    /// The backfill's id: the same id twice is one backfill. A message
    /// without one gets an id derived from its Pub/Sub message id, so a
    /// message delivered twice (even to two instances at once) creates one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// A message of the `baton-scheduler` topic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum SchedulerMessage {
    Tick(TickRequest),
    Backfill(BackfillRequest),
    /// Lost attempts and due timers (see [`super::sweep`]).
    Sweep,
    /// Drive the RUNNING backfills on: what a runner whose time budget ran
    /// out publishes, so a long backfill does not wait for the next sweep.
    Backfills,
}

/// Why a tick or backfill was not done.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ScheduleFailure {
    /// It can never be done (unknown flow or trigger, bad dates): acked.
    #[error("{0}")]
    Invalid(String),
    /// It may work later (a backend is unavailable): redelivered.
    #[error("{0}")]
    Transient(String),
}

/// What the schedule engine does with ticks and backfills.
#[async_trait]
pub trait Schedules: Send + Sync {
    /// Fires the tick once (a duplicate tick creates nothing); returns the
    /// ids of the executions created. `published` is when Cloud Scheduler
    /// published the tick.
    async fn tick(&self, tick: &TickRequest, published: DateTime<Utc>) -> Result<Vec<String>, ScheduleFailure>;
    /// Creates a backfill (or finds the RUNNING one of the same request);
    /// returns its id. Does not wait for its executions: see `run_backfills`.
    async fn backfill(&self, request: &BackfillRequest) -> Result<String, ScheduleFailure>;
    /// Drives every RUNNING backfill (creates the executions of its next
    /// ticks, waits for them) for at most the engine's time budget; two
    /// drivers of one backfill never duplicate a tick. Returns how many it
    /// left unfinished when the budget ran out.
    async fn run_backfills(&self) -> Result<usize, ScheduleFailure> {
        Ok(0)
    }
}

/// Handles the scheduler topic.
pub struct SchedulerFunction {
    engine: Arc<Engine>,
    schedules: Arc<dyn Schedules>,
    sweeper: String,
    lease: Duration,
    idle: Option<IdleGate>,
}

impl SchedulerFunction {
    /// `sweeper` names this instance in the claims a sweep takes; `lease` is
    /// the workers' lease (the sweep holds a lost attempt as long).
    pub fn new(
        engine: Arc<Engine>,
        schedules: Arc<dyn Schedules>,
        sweeper: &str,
        lease: Duration,
    ) -> SchedulerFunction {
        SchedulerFunction { engine, schedules, sweeper: sweeper.to_string(), lease, idle: None }
    }

    /// Pauses the sweep job after a sweep that finds nothing in flight, and
    /// resumes it for a backfill (see `super::idle`).
    pub fn with_idle(mut self, idle: Option<IdleGate>) -> SchedulerFunction {
        self.idle = idle;
        self
    }
}

fn failure_outcome(what: &str, e: ScheduleFailure) -> Outcome {
    match e {
        ScheduleFailure::Invalid(m) => Outcome::Ignored(format!("{what}: {m}")),
        ScheduleFailure::Transient(m) => Outcome::Retry(format!("{what}: {m}")),
    }
}

impl SchedulerFunction {
    /// Drives the RUNNING backfills for the budget; if some are left
    /// unfinished, publishes `{"type":"backfills"}` so they go on at once
    /// (a runner that finds a backfill owned elsewhere publishes nothing).
    async fn drive_backfills(&self, what: &str) -> Outcome {
        match self.schedules.run_backfills().await {
            Ok(0) => Outcome::Done,
            Ok(left) => {
                let msg = serde_json::to_vec(&SchedulerMessage::Backfills).unwrap_or_default();
                match self.engine.queue.publish(&crate::backend::Topic::Scheduler, msg).await {
                    Ok(()) => {
                        tracing::info!(backfills = left, "{what}: budget spent, continuing in a new request");
                        Outcome::Done
                    }
                    // the sweep carries them on
                    Err(e) => {
                        tracing::warn!(error = %e, "{what}: cannot publish the continuation");
                        Outcome::Done
                    }
                }
            }
            Err(e) => failure_outcome(what, e),
        }
    }
}

#[async_trait]
impl PushHandler for SchedulerFunction {
    fn name(&self) -> &'static str {
        "scheduler"
    }

    async fn handle(&self, delivery: Delivery) -> Outcome {
        if let Some(route) = super::events::route(&self.engine, &delivery).await {
            return super::events::handle(&self.engine, route, &delivery).await;
        }
        let message: SchedulerMessage = match serde_json::from_slice(&delivery.data) {
            Ok(m) => m,
            Err(e) => return Outcome::Ignored(format!("not a scheduler message: {e}")),
        };
        match message {
            SchedulerMessage::Tick(t) => {
                let what = format!("tick of {}.{} trigger {}", t.namespace, t.flow_id, t.trigger_id);
                match self.schedules.tick(&t, delivery.publish_time).await {
                    Ok(ids) if ids.is_empty() => Outcome::Duplicate(format!("{what}: nothing to start")),
                    Ok(ids) => {
                        tracing::info!(executions = ?ids, "{what}: started");
                        Outcome::Done
                    }
                    Err(e) => failure_outcome(&what, e),
                }
            }
            SchedulerMessage::Backfill(mut b) => {
                if b.id.is_none() {
                    b.id = Some(crate::model::ids::derived_id(&format!("pubsub-message:{}", delivery.message_id)));
                }
                let what = format!("backfill of {}.{} trigger {}", b.namespace, b.flow_id, b.trigger_id);
                if let Some(idle) = &self.idle
                    && let Err(e) = idle.work_started(&self.engine).await
                {
                    return Outcome::Retry(format!("{what}: cannot resume the sweep: {e}"));
                }
                match self.schedules.backfill(&b).await {
                    Ok(id) => {
                        tracing::info!(backfill_id = %id, "{what}: started");
                        // progress now; what is left continues at once
                        self.drive_backfills(&what).await
                    }
                    Err(e) => failure_outcome(&what, e),
                }
            }
            SchedulerMessage::Backfills => {
                // asked by the api for a new backfill: the sweep carries it on
                if let Some(idle) = &self.idle
                    && let Err(e) = idle.work_started(&self.engine).await
                {
                    return Outcome::Retry(format!("backfills: cannot resume the sweep: {e}"));
                }
                self.drive_backfills("backfills").await
            }
            SchedulerMessage::Sweep => {
                let report = match sweep(&self.engine, &self.sweeper, self.lease).await {
                    Ok(r) => r,
                    Err(e) => return backend_outcome(&e),
                };
                tracing::info!(
                    executions = report.executions,
                    lost = report.lost.len(),
                    resent = report.resent.len(),
                    subflows = report.subflows.len(),
                    subflow_starts = report.subflow_starts.len(),
                    "sweep done"
                );
                if let o @ (Outcome::Retry(_) | Outcome::Ignored(_)) = self.drive_backfills("backfills").await {
                    return o;
                }
                match &self.idle {
                    None => Outcome::Done,
                    Some(idle) => match idle.sweep_finished(&self.engine).await {
                        Ok(_) => Outcome::Done,
                        // the next sweep tries again: the job still runs
                        Err(e) => {
                            tracing::warn!(error = %e, "cannot pause the idle sweep job");
                            Outcome::Done
                        }
                    },
                }
            }
        }
    }
}
