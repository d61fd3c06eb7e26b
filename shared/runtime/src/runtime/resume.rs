//! Resuming a PAUSED execution, for every caller (the API, the CLI, the
//! `execution.Resume` task): the stored execution and the flow revision it
//! runs are read, the `onResume` inputs validated
//! (`executor::resume_inputs`), and a `Resume` event naming the paused task
//! run is published. The executor applies it idempotently: a duplicate or
//! late event finds the task run no longer PAUSED and changes nothing.

use std::sync::Arc;

use chrono::Utc;
use serde_json::{Map, Value};

use super::engine::Engine;
use super::flows::{RevisionError, at_revision};
use super::launcher::publish_event;
use super::messages::ExecutionEvent;
use crate::backend::BackendError;
use crate::executor::{ResumeError, resume_inputs};
use crate::model::{Execution, Flow};

/// Why an execution could not be resumed.
#[derive(Debug, thiserror::Error)]
pub enum ResumeFailure {
    #[error("execution {0} not found")]
    NotFound(String),
    #[error(transparent)]
    Flow(#[from] RevisionError),
    /// Not paused, or inputs that do not fit `onResume`.
    #[error(transparent)]
    Refused(#[from] ResumeError),
    #[error(transparent)]
    Backend(#[from] BackendError),
}

/// The stored execution and the flow revision it runs.
pub async fn load(engine: &Engine, id: &str) -> Result<(Execution, Arc<Flow>), ResumeFailure> {
    let exec = engine.state.load_execution(id).await?.ok_or_else(|| ResumeFailure::NotFound(id.to_string()))?;
    let flow = at_revision(engine, &exec.namespace, &exec.flow_id, exec.flow_revision).await?;
    Ok((exec, flow))
}

/// Resumes execution `id` with `given` onResume inputs; returns the id of
/// the task run resumed.
pub async fn resume(
    engine: &Engine,
    id: &str,
    given: &Map<String, Value>,
    by: Option<&str>,
) -> Result<String, ResumeFailure> {
    let (exec, flow) = load(engine, id).await?;
    let (task_run_id, inputs) = resume_inputs(&flow, &exec, given, Utc::now())?;
    let event = ExecutionEvent::Resume {
        execution_id: exec.id.clone(),
        task_run_id: task_run_id.clone(),
        inputs,
        by: by.map(str::to_string),
    };
    publish_event(engine, &event).await?;
    Ok(task_run_id)
}

/// `execution.Resume`'s access to other executions, over the engine.
pub struct EngineControl(pub Arc<Engine>);

#[async_trait::async_trait]
impl crate::plugins::core::resume::ExecutionControl for EngineControl {
    async fn owner(&self, id: &str) -> Result<Option<(String, String)>, String> {
        let e = self.0.state.load_execution(id).await.map_err(|e| e.to_string())?;
        Ok(e.map(|e| (e.namespace, e.flow_id)))
    }

    async fn resume(&self, id: &str, inputs: &Map<String, Value>) -> Result<(), String> {
        resume(&self.0, id, inputs, None).await.map(|_| ()).map_err(|e| e.to_string())
    }

    async fn logs(&self, id: &str) -> Result<Vec<crate::backend::LogEntry>, String> {
        // lines still queued by this process's log sink are written first
        self.0.logs.flush().await;
        self.0.state.logs(id).await.map_err(|e| e.to_string())
    }

    async fn set_trigger_enabled(&self, namespace: &str, flow_id: &str, trigger: &str, on: bool) -> Result<(), String> {
        super::toggle::set_enabled(&self.0, namespace, flow_id, trigger, on).await
    }

    fn state_store(&self) -> Option<Arc<dyn crate::backend::StateStore>> {
        Some(self.0.state.clone())
    }

    async fn flush_logs(&self) {
        self.0.logs.flush().await;
    }
}
