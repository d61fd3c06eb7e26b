//! Starting a Subflow's child from a `StartSubflow` message, on both
//! runtimes. The executor's step decides the start (the task run gets its
//! child's id in `evaluated`) and the executor publishes the message after
//! saving the parent, so the launch is its own delivery: retried alone by
//! Pub/Sub when it fails, and sent again by the GCP sweep when the parent
//! has waited past a lease on a child that was never stored (the message
//! was lost with the instance that published it).
//!
//! A Subflow that does not wait (`wait: false`) ends its task run in the
//! very save that decides its start, so a message lost after that save
//! would leave a terminal task run (and often an ended parent) that no
//! sweep looks at: its child is launched by the executor while it decides,
//! before that save (`ExecutorService::decide_and_save`), and the task run
//! ends SUCCESS once the child is stored, or FAILED when it cannot start (a
//! missing flow, the depth or fan-out bound), as Kestra's executor decides
//! it. An instance that dies between the launch and the save leaves the
//! event unacknowledged; its redelivery decides the same start again and
//! finds the child stored.
//!
//! The child's id is derived from the parent's execution and task run
//! (`executor::ids::derive`), and the launcher creates an execution only
//! if none has its id (a create-if-absent, compare-and-swap): a copy of
//! the message finds the child stored and starts nothing, and two copies
//! racing create one child.
//!
//! The Subflow's properties are rendered here again from the stored parent
//! (as a ForEachItem's batch's are, `for_each_item`), with the parent's
//! task run as `taskrun`: the message carries ids only, so the sweep can
//! make it from stored state.

use serde_json::{Map, Value};

use super::engine::Engine;
use super::executor::ExecutorError;
use crate::executor::StepEnv;
use crate::model::flowable::{self, Flowable};
use crate::model::{Execution, Label};

/// What a `StartSubflow` message asks for, read from the stored parent.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// Launch the child (it is not stored yet).
    Start(Start),
    /// The start cannot be made: the parent's task run fails with this.
    Fail { child_id: String, message: String },
    /// Nothing to do: the child is stored already, the parent stopped
    /// waiting, or the task run is not a Subflow's.
    Nothing,
}

/// A child execution to launch.
#[derive(Debug, Clone, PartialEq)]
pub struct Start {
    pub child_id: String,
    pub namespace: String,
    pub flow_id: String,
    pub inputs: Map<String, Value>,
    pub labels: Vec<Label>,
}

/// The child id the step gave the Subflow task run `task_run_id` of
/// `parent` (`None` for any other task run, or a ForEachItem's `_items`).
pub fn child_id(parent: &Execution, task_run_id: &str) -> Option<String> {
    let ev = parent.task_run(task_run_id)?.evaluated.as_ref()?.as_object()?;
    if ev.contains_key("batchUri") {
        return None;
    }
    ev.get("executionId").and_then(Value::as_str).map(str::to_string)
}

/// Reads what starting the child of `parent`'s Subflow task run
/// `task_run_id` takes; one read of the child, to find it stored.
pub async fn plan(engine: &Engine, parent: &Execution, task_run_id: &str) -> Result<Plan, ExecutorError> {
    let (Some(tr), Some(child_id)) = (parent.task_run(task_run_id), child_id(parent, task_run_id)) else {
        return Ok(Plan::Nothing);
    };
    if engine.state.load_execution(&child_id).await?.is_some() {
        return Ok(Plan::Nothing);
    }
    let flow = super::flows::at_revision(engine, &parent.namespace, &parent.flow_id, parent.flow_revision)
        .await
        .map_err(|e| match e {
            super::flows::RevisionError::Backend(b) => ExecutorError::Backend(b),
            other => ExecutorError::FlowMissing(other.to_string(), parent.id.clone()),
        })?;
    let Some(task) = flow.find_task(&tr.task_id) else { return Ok(Plan::Nothing) };
    let fail = |message: String| Ok(Plan::Fail { child_id: child_id.clone(), message });
    // Kestra's (deprecated) `outputs` are rendered in the child when it ends
    let mut raw = task.props.clone();
    raw.shift_remove("outputs");
    let env = engine.step_env();
    let by_id = crate::executor::context::runs_by_id(parent);
    let runs = |id: &str| by_id.get(id).copied();
    let mut ctx = crate::executor::context::build(&flow, parent, Some(tr), &runs, true);
    ctx["envs"] = env.envs();
    let props = match env.render_value(&Value::Object(raw), &ctx) {
        Ok(Value::Object(p)) => p,
        Ok(_) => Map::new(),
        Err(e) => return fail(format!("task '{}': {e}", task.id)),
    };
    let Some(Flowable::Subflow(spec)) = flowable::parse(&task.kind, &props) else { return Ok(Plan::Nothing) };
    let target = spec.target;
    // a parent that stopped waiting (killed, failed elsewhere) starts no child
    if target.waits() && (parent.state.is_terminal() || tr.state.is_terminal()) {
        return Ok(Plan::Nothing);
    }
    let (Some(namespace), Some(flow_id)) = (target.namespace.clone(), target.flow_id.clone()) else {
        return fail(format!("task '{}': Subflow needs 'namespace' and 'flowId'", task.id));
    };
    let labels = target.labels();
    Ok(Plan::Start(Start { child_id, namespace, flow_id, inputs: target.inputs.unwrap_or_default(), labels }))
}
