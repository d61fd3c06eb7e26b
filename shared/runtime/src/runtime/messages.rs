//! Publishing the engine's messages ([`ExecutionEvent`], [`WorkerJob`],
//! declared with the flow model in `baton_model::wire`) on a [`Queue`].

use serde::Serialize;
use serde_json::Value;

pub use baton_model::wire::messages::*;

use crate::backend::seal::Sealer;
use crate::backend::{BackendError, Queue, Topic};
use baton_model::wire::job_context::JobContext;

/// Publishes an event for the executor (see [`publish`]).
pub async fn publish_event(queue: &dyn Queue, event: ExecutionEvent) -> Result<(), BackendError> {
    publish(queue, &Topic::Executions, event).await
}

/// Publishes a job for the workers of `group` (see [`publish`]). A job
/// leaving the process (any queue but the in-process one: Pub/Sub, the
/// functions' relay) carries its SECRET inputs sealed by `sealer` — the
/// store's (`seal.rs`) — and the worker opens them ([`open_job_inputs`]).
pub async fn publish_job(
    queue: &dyn Queue,
    group: String,
    mut job: WorkerJob,
    sealer: Option<&Sealer>,
) -> Result<(), BackendError> {
    if queue.local().is_none() && !job.secret_inputs.is_empty() {
        seal_job_inputs(&mut job, sealer)?;
    }
    publish(queue, &Topic::Tasks(group), job).await
}

/// `job`'s SECRET inputs sealed in its context.
fn seal_job_inputs(job: &mut WorkerJob, sealer: Option<&Sealer>) -> Result<(), BackendError> {
    let mut context = job.context.value().into_owned();
    let Some(inputs) = context.get_mut("inputs").and_then(Value::as_object_mut) else { return Ok(()) };
    if !job.secret_inputs.iter().any(|id| inputs.get(id).is_some_and(|v| !v.is_null())) {
        return Ok(());
    }
    let sealer = sealer.ok_or_else(|| {
        BackendError::Invalid(format!(
            "cannot send the SECRET inputs of execution {} to a worker: the store has no key to seal them",
            job.execution_id
        ))
    })?;
    sealer.seal_inputs(&job.execution_id, &job.secret_inputs, inputs)?;
    job.context = JobContext::compact(context);
    Ok(())
}

/// The sealed inputs of a job's `context` opened (a job that came through
/// a queue: [`publish_job`]); an input that cannot be opened is an error
/// naming it and the key.
pub fn open_job_inputs(
    execution_id: &str,
    context: &mut crate::template::Scope,
    sealer: Option<&Sealer>,
) -> Result<(), BackendError> {
    let Some(inputs) = context.get("inputs").and_then(Value::as_object) else { return Ok(()) };
    if !crate::backend::seal::has_sealed(inputs) {
        return Ok(());
    }
    let mut inputs = inputs.clone();
    match sealer {
        Some(s) => s.open_inputs(execution_id, &mut inputs)?,
        None => {
            Sealer::from_setting(None, crate::backend::seal::SEAL_KEY_SETTING).open_inputs(execution_id, &mut inputs)?
        }
    }
    context.insert("inputs", Value::Object(inputs));
    Ok(())
}

/// Publishes `message` on `topic`: handed over as it is to an in-process
/// queue (`Queue::local`), as its JSON to any other. Debug builds (every
/// test) hand over the message read back from its JSON instead, so the
/// embedded runtime's tests see exactly what Pub/Sub would deliver (a float
/// such as a timer metric's 0.029534 comes back as 0.029533999999999998).
async fn publish<T>(queue: &dyn Queue, topic: &Topic, message: T) -> Result<(), BackendError>
where
    T: Serialize + serde::de::DeserializeOwned + Send + 'static,
{
    let json = || serde_json::to_vec(&message).map_err(|e| BackendError::Queue(e.to_string()));
    match queue.local() {
        Some(local) if cfg!(debug_assertions) => {
            let back: T = serde_json::from_slice(&json()?).map_err(|e| BackendError::Queue(e.to_string()))?;
            local.publish_any(topic, Box::new(back))
        }
        Some(local) => local.publish_any(topic, Box::new(message)),
        None => queue.publish(topic, json()?).await,
    }
}
