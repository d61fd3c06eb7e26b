//! Publishing the engine's messages ([`ExecutionEvent`], [`WorkerJob`],
//! declared with the flow model in `baton_model::wire`) on a [`Queue`].

use serde::Serialize;

pub use baton_model::wire::messages::*;

use crate::backend::{BackendError, Queue, Topic};

/// Publishes an event for the executor (see [`publish`]).
pub async fn publish_event(queue: &dyn Queue, event: ExecutionEvent) -> Result<(), BackendError> {
    publish(queue, &Topic::Executions, event).await
}

/// Publishes a job for the workers of `group` (see [`publish`]).
pub async fn publish_job(queue: &dyn Queue, group: String, job: WorkerJob) -> Result<(), BackendError> {
    publish(queue, &Topic::Tasks(group), job).await
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
