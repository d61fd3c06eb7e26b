//! The `worker` function of one worker group (`BATON_WORKER_GROUP`): a
//! [`WorkerJob`] per push, handed to [`Worker::handle_job`].
//!
//! At-least-once, per delivery:
//! - every delivery runs under its own worker id (instance + sequence), so
//!   even two copies of one job delivered concurrently to the same instance
//!   compete for the claim and only one runs;
//! - a duplicate whose attempt is running elsewhere under a live lease, or
//!   already finished, is acked without running (a task may outlive
//!   Pub/Sub's 600 s ack deadline: the redelivered copy lands here);
//! - a duplicate whose holder let the lease expire (the instance died
//!   mid-task) reports the attempt FAILED as lost, and the task's retry
//!   policy decides; the `scheduler` function's sweep does the same for
//!   attempts whose message was already acked.
//!
//! The request is answered when the task has finished, so Cloud Run keeps
//! the instance (and its CPU) for the whole task, up to the service timeout.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use chrono::Duration;

use super::cloud_run_jobs::{CloudRunDone, finish};
use super::envelope::Delivery;
use super::executor::backend_outcome;
use super::push::{Outcome, PushHandler};
use crate::runtime::engine::Engine;
use crate::runtime::messages::WorkerJob;
use crate::runtime::worker::{JobOutcome, Worker};

/// Deliveries of a job whose attempt is held elsewhere that are answered
/// "again later" (under the subscriptions' `max_delivery_attempts`).
pub const HELD_RETRIES: u32 = 4;

/// Runs the jobs of one worker group.
pub struct WorkerFunction {
    engine: Arc<Engine>,
    group: String,
    instance: String,
    seq: AtomicU64,
    lease: Duration,
}

impl WorkerFunction {
    /// `instance` names this process in claims (unique per instance).
    pub fn new(engine: Arc<Engine>, group: &str, instance: &str, lease: Duration) -> WorkerFunction {
        WorkerFunction {
            engine,
            group: group.to_string(),
            instance: instance.to_string(),
            seq: AtomicU64::new(0),
            lease,
        }
    }
}

#[async_trait]
impl PushHandler for WorkerFunction {
    fn name(&self) -> &'static str {
        "worker"
    }

    async fn handle(&self, delivery: Delivery) -> Outcome {
        // the sweep's word that a task's Cloud Run Job execution ended
        if let Ok(done) = serde_json::from_slice::<CloudRunDone>(&delivery.data) {
            let outcome = finish(&self.engine, &done).await;
            self.engine.logs.flush().await;
            return match outcome {
                Ok(true) => Outcome::Done,
                Ok(false) => Outcome::Duplicate(format!("{} was already reported", done.cloud_run_done)),
                Err(e) => backend_outcome(&e),
            };
        }
        let job: WorkerJob = match serde_json::from_slice(&delivery.data) {
            Ok(j) => j,
            Err(e) => return Outcome::Ignored(format!("not a worker job: {e}")),
        };
        if let Some(def) = self.engine.registry.get(&job.task.kind)
            && def.group != self.group
        {
            tracing::warn!(
                task_type = %job.task.kind,
                task_group = def.group,
                worker_group = %self.group,
                "job routed to another worker group's function; running it here"
            );
        }
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        let worker = Worker::new(self.engine.clone(), format!("{}-{n}", self.instance)).with_lease(self.lease);
        let outcome = worker.handle_job(&job).await;
        // task logs are written in the background: store them before acking
        self.engine.logs.flush().await;
        match outcome {
            Ok(JobOutcome::Ran) => Outcome::Done,
            Ok(JobOutcome::Duplicate) => {
                Outcome::Duplicate(format!("task run {} attempt {} already finished", job.task_run_id, job.attempt))
            }
            // Its holder may have just died (its push request dropped, so Pub/Sub
            // redelivered): ask for the message again until the lease runs out
            // (then this job takes the attempt over) or the attempt finishes. A
            // live task outlasting a few redeliveries is acked, so a long task
            // never ends in the dead-letter topic; the sweep is the backstop.
            Ok(JobOutcome::HeldElsewhere { worker_id, until }) if delivery.delivery_attempt < HELD_RETRIES => {
                Outcome::Later(format!(
                    "task run {} attempt {} is held by {worker_id} until {until}: checking again later",
                    job.task_run_id, job.attempt
                ))
            }
            Ok(JobOutcome::HeldElsewhere { worker_id, .. }) => Outcome::Duplicate(format!(
                "task run {} attempt {} is running on {worker_id}",
                job.task_run_id, job.attempt
            )),
            Ok(JobOutcome::Lost { worker_id }) => Outcome::Duplicate(format!(
                "task run {} attempt {} was lost by worker {worker_id}: reported failed",
                job.task_run_id, job.attempt
            )),
            Err(e) => backend_outcome(&e),
        }
    }
}
