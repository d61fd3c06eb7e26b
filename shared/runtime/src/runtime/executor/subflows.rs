//! Starting a Subflow's child execution from its own `StartSubflow`
//! message (published after the parent's save), or, for a Subflow with
//! `wait: false`, before the save that ends its task run: the child is launched
//! from the stored parent under the id derived from the parent's task run,
//! within the bounds on nesting depth and fan-out. A child that cannot start
//! fails the parent's task run: through a `SubflowEnded` event for a waiting
//! Subflow, decided in the same step for one that does not wait (as Kestra's
//! executor fails the task run when `createSubflowExecutions` throws).

use serde_json::{Map, json};

use super::super::engine::Engine;
use super::super::launcher::{self, LaunchRequest, publish_event};
use super::super::messages::ExecutionEvent;
use super::{ExecutorError, ExecutorService};
use crate::backend::LogEntry;
use crate::model::{Execution, StateType};
use chrono::Utc;

/// What launching a Subflow's child came to.
#[derive(Debug)]
pub(super) enum Launch {
    /// Nothing to start: not a Subflow's task run, or a parent that stopped waiting.
    Nothing,
    /// The child is stored (created now, or by an earlier delivery).
    Stored(String),
    /// The child cannot start: the parent's task run fails with this
    /// message (logged on the task run already).
    Failed { child_id: String, message: String },
}

impl Launch {
    /// The event that tells the parent: a waiting Subflow hears only of a
    /// failure here (its child's end comes later); one that does not wait
    /// ends with the start (`CREATED`: the child is stored) or the failure.
    pub(super) fn event(self, parent: &str, task_run_id: &str, waits: bool) -> Option<ExecutionEvent> {
        let (child_execution_id, state, outputs) = match self {
            Launch::Nothing => return None,
            Launch::Stored(_) if waits => return None,
            Launch::Stored(child) => (child, StateType::Created, Map::new()),
            Launch::Failed { child_id, message } => {
                (child_id, StateType::Failed, Map::from_iter([("error".to_string(), json!(message))]))
            }
        };
        Some(ExecutionEvent::SubflowEnded {
            execution_id: parent.to_string(),
            task_run_id: task_run_id.to_string(),
            child_execution_id,
            state,
            outputs,
            iteration: None,
        })
    }
}

impl ExecutorService {
    /// Handles `StartSubflow`: launches the child of the parent's Subflow
    /// task run unless it is stored already (`subflow_start::plan`); a
    /// child that cannot start fails the task run through an event.
    pub(super) async fn start_child(&self, execution_id: &str, task_run_id: &str) -> Result<(), ExecutorError> {
        let Some(parent) = self.engine.state.load_execution(execution_id).await? else { return Ok(()) };
        if let Some(event) = self.launch_child(&parent, task_run_id).await?.event(&parent.id, task_run_id, true) {
            publish_event(&self.engine, &event).await?;
        }
        Ok(())
    }

    /// Launches the child of `parent`'s Subflow task run unless it is
    /// stored, and says what came of it.
    pub(super) async fn launch_child(&self, parent: &Execution, task_run_id: &str) -> Result<Launch, ExecutorError> {
        let engine = &self.engine;
        match super::super::subflow_start::plan(engine, parent, task_run_id).await? {
            super::super::subflow_start::Plan::Nothing => {
                // stored already (a copy of this start, or a re-decision)
                let child = super::super::subflow_start::child_id(parent, task_run_id);
                match child {
                    Some(id) if engine.state.load_execution(&id).await?.is_some() => Ok(Launch::Stored(id)),
                    _ => Ok(Launch::Nothing),
                }
            }
            super::super::subflow_start::Plan::Fail { child_id, message } => {
                self.log_error(parent, task_run_id, &message).await?;
                Ok(Launch::Failed { child_id, message })
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
    ) -> Result<Launch, ExecutorError> {
        let engine = &self.engine;
        let (depth, root) = subflow_depth(engine, parent).await?;
        let refused = if let Err(msg) =
            super::super::fanout::check(engine, &root, &format!("Subflow {namespace}.{flow_id}")).await?
        {
            Some(msg)
        } else if depth >= MAX_SUBFLOW_DEPTH {
            Some(format!(
                "Subflow {namespace}.{flow_id} not started: executions nest {depth} subflows deep already \
                 (at most {MAX_SUBFLOW_DEPTH}; does a flow call itself?)"
            ))
        } else {
            None
        };
        let flow = match refused {
            Some(msg) => Err(msg),
            None => engine
                .latest_flow(namespace, flow_id)
                .await
                .ok_or_else(|| format!("Subflow {namespace}.{flow_id} not found (load it with --flows DIR)")),
        };
        let flow = match flow {
            Ok(f) => f,
            Err(message) => {
                self.log_error(parent, &task_run_id, &message).await?;
                return Ok(Launch::Failed { child_id, message });
            }
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
                let message = child
                    .error
                    .unwrap_or_else(|| format!("subflow execution {child_id} ended {}", child.state.current));
                Ok(Launch::Failed { child_id, message })
            }
            Ok(_) | Err(launcher::LaunchError::Exists(_)) => Ok(Launch::Stored(child_id)),
            Err(launcher::LaunchError::Backend(e)) => Err(e.into()),
            Err(e) => {
                let message = format!("cannot start subflow {namespace}.{flow_id}: {e}");
                self.log_error(parent, &task_run_id, &message).await?;
                Ok(Launch::Failed { child_id, message })
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
