//! Starting a Subflow's child execution from its own `StartSubflow`
//! message (published after the parent's save), or, for a Subflow with
//! `wait: false`, before the save that ends its task run: the child is launched
//! from the stored parent under the id derived from the parent's task run,
//! within the bounds on nesting depth and fan-out; a child that cannot
//! start fails the parent's task run through a `SubflowEnded` event.

use serde_json::{Map, json};

use super::super::engine::Engine;
use super::super::launcher::{self, LaunchRequest, publish_event};
use super::super::messages::ExecutionEvent;
use super::{ExecutorError, ExecutorService};
use crate::backend::LogEntry;
use crate::model::{Execution, StateType};
use chrono::Utc;

impl ExecutorService {
    /// Handles `StartSubflow`: launches the child of the parent's Subflow
    /// task run unless it is stored already (`subflow_start::plan`).
    pub(super) async fn start_child(&self, execution_id: &str, task_run_id: &str) -> Result<(), ExecutorError> {
        let Some(parent) = self.engine.state.load_execution(execution_id).await? else { return Ok(()) };
        self.start_child_of(&parent, task_run_id).await
    }

    /// Launches the child of `parent`'s Subflow task run unless it is stored.
    pub(super) async fn start_child_of(&self, parent: &Execution, task_run_id: &str) -> Result<(), ExecutorError> {
        let engine = &self.engine;
        match super::super::subflow_start::plan(engine, parent, task_run_id).await? {
            super::super::subflow_start::Plan::Nothing => Ok(()),
            super::super::subflow_start::Plan::Fail { child_id, message } => {
                self.log_error(parent, task_run_id, &message).await?;
                let event = ExecutionEvent::SubflowEnded {
                    execution_id: parent.id.clone(),
                    task_run_id: task_run_id.to_string(),
                    child_execution_id: child_id,
                    state: StateType::Failed,
                    outputs: Map::from_iter([("error".to_string(), serde_json::Value::String(message))]),
                    iteration: None,
                };
                Ok(publish_event(engine, &event).await?)
            }
            super::super::subflow_start::Plan::Start(s) => {
                let tr = task_run_id.to_string();
                self.start_subflow(parent, tr, s.child_id, &s.namespace, &s.flow_id, s.inputs, s.labels).await
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn start_subflow(
        &self,
        parent: &Execution,
        task_run_id: String,
        child_id: String,
        namespace: &str,
        flow_id: &str,
        inputs: Map<String, serde_json::Value>,
        labels: Vec<crate::model::Label>,
    ) -> Result<(), ExecutorError> {
        let engine = &self.engine;
        let fail = |msg: String| ExecutionEvent::SubflowEnded {
            execution_id: parent.id.clone(),
            task_run_id: task_run_id.clone(),
            child_execution_id: child_id.clone(),
            state: StateType::Failed,
            outputs: Map::from_iter([("error".to_string(), serde_json::Value::String(msg))]),
            iteration: None,
        };
        let (depth, root) = subflow_depth(engine, parent).await?;
        if let Err(msg) = super::super::fanout::check(engine, &root, &format!("Subflow {namespace}.{flow_id}")).await? {
            self.log_error(parent, &task_run_id, &msg).await?;
            publish_event(engine, &fail(msg)).await?;
            return Ok(());
        }
        if depth >= MAX_SUBFLOW_DEPTH {
            let msg = format!(
                "Subflow {namespace}.{flow_id} not started: executions nest {depth} subflows deep already \
                 (at most {MAX_SUBFLOW_DEPTH}; does a flow call itself?)"
            );
            self.log_error(parent, &task_run_id, &msg).await?;
            publish_event(engine, &fail(msg)).await?;
            return Ok(());
        }
        let Some(flow) = engine.latest_flow(namespace, flow_id).await else {
            let msg = format!("Subflow {namespace}.{flow_id} not found (load it with --flows DIR)");
            self.log_error(parent, &task_run_id, &msg).await?;
            publish_event(engine, &fail(msg)).await?;
            return Ok(());
        };
        let mut labels = labels;
        if let Some(c) = parent.labels.iter().find(|l| l.key == "system.correlationId") {
            labels.push(c.clone());
        }
        // Kestra's trigger of a subflow execution: the task that started it
        // and the parent execution (`{{ trigger.executionId }}`…); it also
        // lets the child read the parent's files (backend::scope)
        let task_id = parent.task_run(&task_run_id).map(|t| t.task_id.clone()).unwrap_or_default();
        let task_type =
            super::super::flows::at_revision(engine, &parent.namespace, &parent.flow_id, parent.flow_revision)
                .await
                .ok()
                .and_then(|f| f.find_task(&task_id).map(|t| t.kind.clone()))
                .unwrap_or_else(|| "io.kestra.plugin.core.flow.Subflow".to_string());
        let trigger = crate::model::TriggerContext {
            id: task_id,
            type_: task_type,
            variables: Map::from_iter([
                ("executionId".to_string(), json!(parent.id)),
                ("namespace".to_string(), json!(parent.namespace)),
                ("flowId".to_string(), json!(parent.flow_id)),
                ("flowRevision".to_string(), json!(parent.flow_revision)),
            ]),
        };
        let req = LaunchRequest {
            inputs,
            labels,
            trigger: Some(trigger),
            parent: Some((parent.id.clone(), task_run_id.clone())),
            secrets: crate::model::flow::secret_values_of(&parent.secret_inputs, &parent.inputs),
            execution_id: Some(child_id.clone()),
            ..LaunchRequest::default()
        };
        let launched = launcher::launch(engine, &flow, req).await;
        if launched.is_ok() {
            super::super::fanout::add(engine, &root).await?;
        }
        match launched {
            // created FAILED by its checks: it never runs, so its end is told here
            Ok(child) if child.state.is_terminal() => {
                let msg = child
                    .error
                    .unwrap_or_else(|| format!("subflow execution {child_id} ended {}", child.state.current));
                publish_event(engine, &fail(msg)).await?;
                Ok(())
            }
            Ok(_) | Err(launcher::LaunchError::Exists(_)) => Ok(()),
            Err(launcher::LaunchError::Backend(e)) => Err(e.into()),
            Err(e) => {
                let msg = format!("cannot start subflow {namespace}.{flow_id}: {e}");
                self.log_error(parent, &task_run_id, &msg).await?;
                publish_event(engine, &fail(msg)).await?;
                Ok(())
            }
        }
    }

    async fn log_error(&self, exec: &Execution, task_run_id: &str, message: &str) -> Result<(), ExecutorError> {
        let task_id = exec.task_run(task_run_id).map(|t| t.task_id.clone());
        self.engine
            .state
            .append_logs(&[LogEntry {
                namespace: exec.namespace.clone(),
                flow_id: exec.flow_id.clone(),
                execution_id: exec.id.clone(),
                task_id,
                task_run_id: Some(task_run_id.to_string()),
                attempt_number: None,
                timestamp: Utc::now(),
                level: "ERROR".into(),
                message: message.to_string(),
            }])
            .await?;
        Ok(())
    }
}

/// How many subflow levels an execution may sit under: a flow that calls
/// itself stops here instead of creating executions without end.
pub const MAX_SUBFLOW_DEPTH: usize = 10;

/// How many ancestors `exec` has (0 for a top-level execution), counted up
/// to `MAX_SUBFLOW_DEPTH` from the stored executions, and the root
/// execution (the oldest ancestor reached) that its fan-out counts against.
pub async fn subflow_depth(engine: &Engine, exec: &Execution) -> Result<(usize, String), ExecutorError> {
    let mut depth = 0;
    let mut root = exec.id.clone();
    let mut parent = exec.parent_id.clone();
    while let Some(id) = parent {
        depth += 1;
        root = id.clone();
        if depth >= MAX_SUBFLOW_DEPTH {
            break;
        }
        parent = engine.state.load_execution(&id).await?.and_then(|p| p.parent_id);
    }
    Ok((depth, root))
}
