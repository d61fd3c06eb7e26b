//! The launcher: turns a request to run a flow (CLI, API, schedule,
//! backfill, Subflow) into a stored CREATED execution and an event for the
//! executor. Inputs are checked here, before anything runs.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::engine::Engine;
use super::messages::ExecutionEvent;
use crate::backend::{BackendError, Topic};
use crate::inputs::{self, InputError};
use crate::model::{Execution, Flow, Label, StateType, TriggerContext, ids};

/// A request to start an execution.
#[derive(Debug, Clone, Default)]
pub struct LaunchRequest {
    /// Raw inputs (strings from a CLI, JSON from an API).
    pub inputs: Map<String, Value>,
    pub labels: Vec<Label>,
    pub trigger: Option<TriggerContext>,
    /// `(parent execution, parent Subflow task run)`.
    pub parent: Option<(String, String)>,
    /// A fixed id (deterministic for subflows and schedule ticks).
    pub execution_id: Option<String>,
    pub schedule_date: Option<DateTime<Utc>>,
    /// The execution this one replays (Kestra's `originalId`); its own id otherwise.
    pub original_id: Option<String>,
}

/// Why an execution could not start.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("flow {namespace}.{id} is disabled: Cannot execute a flow which is disabled")]
    Disabled { namespace: String, id: String },
    #[error("invalid inputs for flow {flow}:\n{}", .errors.iter().map(|e| format!("  - {e}")).collect::<Vec<_>>().join("\n"))]
    Inputs { flow: String, errors: Vec<InputError> },
    #[error("execution {0} already exists")]
    Exists(String),
    #[error(transparent)]
    Backend(#[from] BackendError),
}

/// Creates, stores and announces an execution of `flow`.
pub async fn launch(engine: &Arc<Engine>, flow: &Flow, req: LaunchRequest) -> Result<Execution, LaunchError> {
    if flow.disabled {
        return Err(LaunchError::Disabled { namespace: flow.namespace.clone(), id: flow.id.clone() });
    }
    let now = Utc::now();
    let resolved = inputs::resolve_inputs(&flow.inputs, &req.inputs, now)
        .map_err(|errors| LaunchError::Inputs { flow: format!("{}.{}", flow.namespace, flow.id), errors })?;
    let revision = engine.state.save_flow(&flow.namespace, &flow.id, &flow.source).await?;
    // the executor runs exactly this revision, on whatever instance
    engine.flows.insert_revision(flow, revision);
    let id = req.execution_id.clone().unwrap_or_else(ids::new_id);
    let mut labels = flow.labels.clone();
    for l in &req.labels {
        if let Some(x) = labels.iter_mut().find(|x| x.key == l.key) {
            x.value = l.value.clone();
        } else {
            labels.push(l.clone());
        }
    }
    let mut exec = Execution::new(id.clone(), &flow.namespace, &flow.id, revision, resolved, labels, now);
    if !exec.labels.iter().any(|l| l.key == "system.correlationId") {
        exec.set_label("system.correlationId", &id);
    }
    exec.trigger = req.trigger.clone();
    exec.schedule_date = req.schedule_date;
    if let Some(original) = &req.original_id {
        exec.original_id = original.clone();
    }
    exec.secret_inputs = flow.secret_inputs();
    if let Some((pid, ptr)) = &req.parent {
        exec.parent_id = Some(pid.clone());
        exec.parent_task_run_id = Some(ptr.clone());
    }
    match engine.state.create_execution(&exec).await {
        Ok(()) => {}
        Err(BackendError::Invalid(_)) | Err(BackendError::Conflict { .. }) if req.execution_id.is_some() => {
            // the same launch again (a tick, a backfill or a subflow redelivered):
            // if the first one died between saving and announcing, announce now
            if engine.state.load_execution(&id).await?.is_some_and(|e| e.state.current == StateType::Created) {
                publish_event(engine, &ExecutionEvent::Created { execution_id: id.clone() }).await?;
            }
            return Err(LaunchError::Exists(id));
        }
        Err(e) => return Err(e.into()),
    }
    exec.version = 1;
    tracing::info!(execution_id = %id, namespace = %flow.namespace, flow_id = %flow.id, state = "CREATED", "execution created");
    publish_event(engine, &ExecutionEvent::Created { execution_id: id }).await?;
    Ok(exec)
}

/// Publishes an event for the executor.
pub async fn publish_event(engine: &Engine, ev: &ExecutionEvent) -> Result<(), BackendError> {
    let bytes = serde_json::to_vec(ev).map_err(|e| BackendError::Queue(e.to_string()))?;
    engine.queue.publish(&Topic::Executions, bytes).await
}

/// Where a FILE input's content lives in internal storage, as in Kestra:
/// `{execution prefix}/inputs/{input}/{file name}`.
pub fn input_file_path(flow: &Flow, execution_id: &str, input: &str, file_name: &str) -> String {
    let file_name = std::path::Path::new(file_name).file_name().and_then(|f| f.to_str()).unwrap_or("file");
    let prefix = crate::plugins::context::execution_prefix(&flow.namespace, &flow.id, execution_id);
    format!("{prefix}/inputs/{input}/{file_name}")
}

/// A local file given for a FILE input that could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum FileInputError {
    #[error("input '{input}': cannot read {path}: {source}")]
    Read {
        input: String,
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("input '{input}': cannot store {path} in internal storage: {source}")]
    Store {
        input: String,
        path: String,
        #[source]
        source: BackendError,
    },
}

/// Streams each FILE input given as a local path (anything without `://`)
/// into the execution's internal storage, replacing it by its `kestra://`
/// URI, as Kestra's UI upload does. Other values are left for input checks.
pub async fn store_file_inputs(
    engine: &Engine,
    flow: &Flow,
    execution_id: &str,
    inputs: &mut Map<String, Value>,
) -> Result<(), FileInputError> {
    for input in flow.inputs.iter().filter(|i| i.type_ == crate::model::InputType::File) {
        let Some(Value::String(local)) = inputs.get(&input.id) else { continue };
        if local.contains("://") || local.trim().is_empty() {
            continue;
        }
        let local = local.clone();
        let file = tokio::fs::File::open(&local).await.map_err(|source| FileInputError::Read {
            input: input.id.clone(),
            path: local.clone(),
            source,
        })?;
        let path = input_file_path(flow, execution_id, &input.id, &local);
        engine.storage.put(&path, Box::pin(file)).await.map_err(|source| FileInputError::Store {
            input: input.id.clone(),
            path: local.clone(),
            source,
        })?;
        inputs.insert(input.id.clone(), Value::String(format!("kestra://{path}")));
    }
    Ok(())
}
