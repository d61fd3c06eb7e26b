//! Idle means no invocations: the sweep (`super::sweep`) is the only thing
//! that calls a function on a timer, so its Cloud Scheduler job runs only
//! while work is in flight. The last sweep that finds no execution in
//! flight (CREATED, QUEUED, RUNNING, KILLING, or PAUSED with a Pause timer
//! to wake) and no RUNNING backfill pauses the job; the executor resumes it
//! when an execution is created or resumed, the scheduler when a backfill
//! is requested. A PAUSED execution without a timer waits for a resume
//! and keeps nothing running.
//!
//! The decision is shared through one compare-and-swap record
//! (`sweep/job` = `{active}`), never an instance's memory:
//! - work starting reads it; if not active, it resumes the job, then marks
//!   it active (a lost race reads again, and resumes again);
//! - a sweep marks it inactive first, then looks for work in flight (so
//!   either it sees an execution created before that, or that execution's
//!   executor sees "inactive" and resumes); with none, it pauses the job,
//!   then writes the record again: if that write loses, someone resumed
//!   meanwhile and the sweep resumes the job itself, so a pause that
//!   reaches Cloud Scheduler after a resume is always undone.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::backend::schedule::{BackfillState, TriggerStore};
use crate::backend::{BackendError, ExecutionFilter};
use crate::gcp::scheduler::SweepJob;
use crate::model::StateType;
use crate::runtime::engine::Engine;

/// The record kind and key of the sweep's state.
pub const KIND: &str = "sweep";
const KEY: &str = "job";
const ATTEMPTS: usize = 16;

/// Why the gate could not do its part (the message is retried).
#[derive(Debug, thiserror::Error)]
pub enum IdleError {
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error("{0}")]
    Job(String),
}

/// The sweep job and the record that says whether it runs.
#[derive(Clone)]
pub struct IdleGate {
    job: Arc<dyn SweepJob>,
    /// Where RUNNING backfills are (they need the sweep to go on).
    triggers: Option<Arc<dyn TriggerStore>>,
}

fn active(body: &Value) -> bool {
    body.get("active").and_then(Value::as_bool).unwrap_or(true)
}

impl IdleGate {
    pub fn new(job: Arc<dyn SweepJob>, triggers: Option<Arc<dyn TriggerStore>>) -> IdleGate {
        IdleGate { job, triggers }
    }

    /// Work started: make sure the sweep runs.
    pub async fn work_started(&self, engine: &Engine) -> Result<(), IdleError> {
        for _ in 0..ATTEMPTS {
            let (version, body) = engine.state.load_record(KIND, KEY).await?.unwrap_or((0, json!({"active": false})));
            if version > 0 && active(&body) {
                return Ok(());
            }
            self.job.resume().await.map_err(IdleError::Job)?;
            match engine.state.save_record(KIND, KEY, version, &json!({"active": true})).await {
                Ok(_) => {
                    tracing::info!(job = self.job.name(), "work in flight: sweep job resumed");
                    return Ok(());
                }
                Err(BackendError::Conflict { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(IdleError::Backend(BackendError::Database {
            what: "sweep record".into(),
            message: format!("still contended after {ATTEMPTS} attempts"),
        }))
    }

    /// After a sweep: pause the job if nothing is in flight. Returns
    /// whether it paused.
    pub async fn sweep_finished(&self, engine: &Engine) -> Result<bool, IdleError> {
        let version = engine.state.load_record(KIND, KEY).await?.map_or(0, |(v, _)| v);
        let off = match engine.state.save_record(KIND, KEY, version, &json!({"active": false})).await {
            Ok(v) => v,
            // someone is resuming right now: work is starting
            Err(BackendError::Conflict { .. }) => return Ok(false),
            Err(e) => return Err(e.into()),
        };
        if in_flight(engine, self.triggers.as_deref()).await? {
            // still busy: leave it running (an executor may already have marked it)
            let _ = engine.state.save_record(KIND, KEY, off, &json!({"active": true})).await;
            return Ok(false);
        }
        self.job.pause().await.map_err(IdleError::Job)?;
        match engine.state.save_record(KIND, KEY, off, &json!({"active": false})).await {
            Ok(_) => {
                tracing::info!(job = self.job.name(), "nothing in flight: sweep job paused");
                Ok(true)
            }
            Err(BackendError::Conflict { .. }) => {
                // work started while pausing: whatever order the two calls
                // reached Cloud Scheduler in, the job must run
                self.job.resume().await.map_err(IdleError::Job)?;
                Ok(false)
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// Any execution not ended (a PAUSED one only with a timer), or any RUNNING backfill.
pub async fn in_flight(engine: &Engine, triggers: Option<&dyn TriggerStore>) -> Result<bool, BackendError> {
    for state in [StateType::Running, StateType::Created, StateType::Queued, StateType::Killing] {
        let filter = ExecutionFilter { state: Some(state), limit: Some(1), ..ExecutionFilter::default() };
        if !engine.state.list_executions(&filter).await?.is_empty() {
            return Ok(true);
        }
    }
    if super::sweep::pause_timer_pending(engine).await? {
        return Ok(true);
    }
    if let Some(t) = triggers
        && !t.list_backfills(Some(BackfillState::Running)).await?.is_empty()
    {
        return Ok(true);
    }
    Ok(false)
}
