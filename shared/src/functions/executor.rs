//! The `executor` function: an [`ExecutionEvent`] per push, handed to
//! [`ExecutorService::handle`] — load, apply, step, compare-and-swap save,
//! publish the jobs.
//!
//! One service per instance, whose cache keeps the executions it decided
//! on with their index (bounded, `runtime::executor::MAX_CACHED`), so a
//! delivery costs what changed, not the execution. Several instances serve
//! the same executions: a decision made on a cached copy is saved only by
//! compare-and-swap (a copy behind the store loses and is read again), and
//! one that saves nothing is checked against the stored version first
//! (`runtime::executor_cache_tests`). A redelivered
//! event (`deliveryAttempt` > 1) may follow a crash between a save and its
//! publishes, so it re-dispatches attempts that were dispatched but never
//! started (duplicates are harmless: workers claim attempts). Within one
//! instance the events of one execution take turns, which spares them
//! compare-and-swap retries among themselves (Cloud Run delivers many
//! requests to an instance at once).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;

use super::envelope::Delivery;
use super::idle::IdleGate;
use super::push::{Outcome, PushHandler};
use crate::backend::BackendError;
use crate::executor::StepOptions;
use crate::runtime::engine::Engine;
use crate::runtime::executor::{ExecutorError, ExecutorService};
use crate::runtime::messages::ExecutionEvent;

/// Handles execution events.
pub struct ExecutorFunction {
    engine: Arc<Engine>,
    service: ExecutorService,
    locks: ExecutionLocks,
    idle: Option<IdleGate>,
}

impl ExecutorFunction {
    /// Executions run the flow revision they were created with, read from
    /// the state store (`runtime::flows::at_revision`): no flow source
    /// needed. With `idle`, an execution's creation resumes the sweep job.
    pub fn new(engine: Arc<Engine>, idle: Option<IdleGate>) -> ExecutorFunction {
        let service = ExecutorService::new(engine.clone());
        ExecutorFunction { engine, service, locks: ExecutionLocks::default(), idle }
    }
}

/// One lock per execution being handled in this instance.
#[derive(Default)]
struct ExecutionLocks(Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>);

impl ExecutionLocks {
    fn of(&self, id: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).entry(id.to_string()).or_default().clone()
    }

    /// Forgets the lock of `id` once nobody else holds or waits for it.
    fn release(&self, id: &str, lock: Arc<tokio::sync::Mutex<()>>) {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        drop(lock);
        if map.get(id).is_some_and(|l| Arc::strong_count(l) == 1) {
            map.remove(id);
        }
    }
}

/// The outcome of a backend failure: invalid data is permanent, the rest transient.
pub fn backend_outcome(e: &BackendError) -> Outcome {
    match e {
        BackendError::Invalid(m) => Outcome::Ignored(m.clone()),
        other => Outcome::Retry(other.to_string()),
    }
}

#[async_trait]
impl PushHandler for ExecutorFunction {
    fn name(&self) -> &'static str {
        "executor"
    }

    async fn handle(&self, delivery: Delivery) -> Outcome {
        let event: ExecutionEvent = match serde_json::from_slice(&delivery.data) {
            Ok(e) => e,
            Err(e) => return Outcome::Ignored(format!("not an execution event: {e}")),
        };
        if let (ExecutionEvent::Created { .. } | ExecutionEvent::Resume { .. }, Some(idle)) = (&event, &self.idle)
            && let Err(e) = idle.work_started(&self.engine).await
        {
            // the sweep must run while this execution is in flight
            return Outcome::Retry(format!("cannot resume the sweep: {e}"));
        }
        // a redelivery may follow a crash between a save and its jobs; the
        // sweep asks for jobs that waited too long to start
        let asked = matches!(event, ExecutionEvent::Wake { redispatch: true, .. });
        let opts = StepOptions { redispatch_pending: asked || delivery.delivery_attempt > 1 };
        let id = event.execution_id().to_string();
        let lock = self.locks.of(&id);
        let outcome = {
            let _turn = lock.lock().await;
            self.handle_event(&event, &id, opts).await
        };
        self.locks.release(&id, lock);
        outcome
    }
}

impl ExecutorFunction {
    async fn handle_event(&self, event: &ExecutionEvent, id: &str, opts: StepOptions) -> Outcome {
        match self.service.handle(event, opts).await {
            Ok(()) => Outcome::Done,
            Err(ExecutorError::Missing(_)) => Outcome::Ignored(format!("execution {id} does not exist")),
            // the execution's flow revision is not stored or no longer parses: a
            // valid message this deployment cannot serve, kept by Pub/Sub's
            // dead-letter policy rather than dropped
            Err(e @ (ExecutorError::FlowMissing(..) | ExecutorError::FlowTrigger(_))) => Outcome::Retry(e.to_string()),
            // another delivery of the same execution saved first: redelivered
            Err(e @ ExecutorError::Contention(_)) => Outcome::Later(e.to_string()),
            // a child's end before the parent's save recording its start
            // landed: redelivered once that save is stored
            Err(e @ ExecutorError::EarlyEnd(_)) => Outcome::Later(e.to_string()),
            Err(ExecutorError::Backend(e)) => backend_outcome(&e),
        }
    }
}
