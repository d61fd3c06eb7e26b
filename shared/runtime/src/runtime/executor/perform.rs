//! The executor's actions once a decision is saved: jobs published,
//! Subflow and ForEachItem starts sent as their own messages, wakes armed,
//! logs written; at an execution's end its parent told and its flow's
//! concurrency slot freed; at every state change the Flow triggers fired.

use chrono::Utc;

use super::super::launcher::publish_event;
use super::super::messages::ExecutionEvent;
use super::{ExecutorError, ExecutorService};
use crate::backend::LogEntry;
use crate::executor::Action;
use crate::model::{Execution, StateType};

impl ExecutorService {
    pub(super) async fn perform(&self, exec: &Execution, actions: Vec<Action>) -> Result<(), ExecutorError> {
        let engine = &self.engine;
        let mut logs = Vec::new();
        for action in actions {
            match action {
                Action::Dispatch { group, job } => {
                    let sealer = engine.state.sealer();
                    super::super::messages::publish_job(engine.queue.as_ref(), group, *job, sealer.as_deref()).await?;
                }
                // its own message, published once the parent is saved: a
                // launch that fails is retried alone, and one lost with this
                // instance is sent again by the sweep (`subflow_start`)
                Action::StartSubflow { task_run_id, .. } => {
                    let event = ExecutionEvent::StartSubflow { execution_id: exec.id.clone(), task_run_id };
                    publish_event(engine, &event).await?;
                }
                Action::StartBatches { task_run_id, count } => {
                    let event =
                        ExecutionEvent::StartBatches { execution_id: exec.id.clone(), task_run_id, from: 0, to: count };
                    publish_event(engine, &event).await?;
                }
                // due already (units a step held back): published now, so a
                // Cloud Run instance that idles after its response loses nothing
                Action::WakeAt(at) if at <= Utc::now() => {
                    publish_event(engine, &ExecutionEvent::Wake { execution_id: exec.id.clone(), redispatch: false })
                        .await?;
                }
                Action::WakeAt(at) => {
                    let engine = engine.clone();
                    let id = exec.id.clone();
                    let delay = (at - Utc::now()).to_std().unwrap_or_default();
                    tokio::spawn(async move {
                        tokio::time::sleep(delay).await;
                        let _ =
                            publish_event(&engine, &ExecutionEvent::Wake { execution_id: id, redispatch: false }).await;
                    });
                }
                Action::Log { task_run_id, task_id, level, message } => logs.push(LogEntry {
                    namespace: exec.namespace.clone(),
                    flow_id: exec.flow_id.clone(),
                    execution_id: exec.id.clone(),
                    task_id,
                    task_run_id,
                    attempt_number: None,
                    timestamp: Utc::now(),
                    level: level.to_string(),
                    message,
                }),
                // written before the save
                Action::PutFile { .. } => {}
                Action::Ended(state) => {
                    tracing::info!(execution_id = %exec.id, flow_id = %exec.flow_id, state = %state, "execution ended");
                    super::super::telemetry::execution_ended(exec, state);
                    self.on_end(exec, state).await?;
                }
            }
        }
        if !logs.is_empty() {
            engine.state.append_logs(&logs).await?;
        }
        Ok(())
    }

    pub(super) async fn on_end(&self, exec: &Execution, state: StateType) -> Result<(), ExecutorError> {
        let engine = &self.engine;
        if let Some(event) = super::super::subflow_outputs::ended_event(engine, exec, state).await? {
            publish_event(engine, &event).await?;
        }
        // Flow triggers are not here: they fire at the state change (`save`)
        self.release_slot(exec).await
    }

    /// Starts the executions the Flow triggers listening to `exec`'s state ask for.
    pub(super) async fn flow_triggers(&self, exec: &Execution) -> Result<(), ExecutorError> {
        super::super::flow_triggers::on_state_change(&self.engine, exec).await.map_err(|e| match e {
            super::super::flow_triggers::FlowTriggerError::Backend(b) => ExecutorError::Backend(b),
            other => ExecutorError::FlowTrigger(other),
        })
    }

    /// Frees the flow's concurrency slot of an ended execution and wakes the
    /// oldest queued one if a slot is free. Idempotent.
    pub(super) async fn release_slot(&self, exec: &Execution) -> Result<(), ExecutorError> {
        let engine = &self.engine;
        let flow =
            match super::super::flows::at_revision(engine, &exec.namespace, &exec.flow_id, exec.flow_revision).await {
                Ok(f) => f,
                Err(super::super::flows::RevisionError::Backend(e)) => return Err(e.into()),
                Err(_) => return Ok(()),
            };
        let Some(c) = &flow.concurrency else { return Ok(()) };
        if let Some(next) =
            super::super::slots::release(engine, &exec.namespace, &exec.flow_id, &exec.id, c.limit).await?
        {
            publish_event(engine, &ExecutionEvent::Wake { execution_id: next, redispatch: false }).await?;
        }
        Ok(())
    }
}
