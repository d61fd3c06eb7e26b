//! Kestra's (deprecated, still common) Subflow `outputs`: a map of
//! templates on the parent's Subflow task, rendered in the child execution
//! once it ends — `{{ outputs.<child task>… }}` reads the child's tasks —
//! and added to what the parent's task run gets as `outputs.<task>.outputs`
//! beside the child flow's own `outputs`. The child finds the task through
//! its trigger context (the parent flow, revision and task id), so nothing
//! of the parent execution is read. A template that cannot be rendered
//! fails the parent's task run, naming it.
//!
//! [`ended_event`] is the one place the parent's `SubflowEnded` is made
//! from an ended child: the executor sends it when the child ends, and
//! the GCP sweep again for a parent still waiting on a child long over
//! (the first message was lost), so both carry the same outputs.
//!
//! Cost: O(n) in the child's task runs — they are indexed by id once per
//! rendering ([`crate::executor::context::runs_by_id`]).

use serde_json::{Map, Value};

use super::engine::Engine;
use crate::backend::BackendError;
use crate::executor::StepEnv;
use crate::model::{Execution, StateType};
use crate::runtime::messages::ExecutionEvent;

/// The `SubflowEnded` that tells `child`'s parent it ended in `state`:
/// the child's flow outputs plus the Subflow task's rendered `outputs` (a
/// template that cannot be rendered makes it FAILED, naming it). `None`
/// for an execution no Subflow or ForEachItem started.
pub async fn ended_event(
    engine: &Engine,
    child: &Execution,
    state: StateType,
) -> Result<Option<ExecutionEvent>, BackendError> {
    let (Some(pid), Some(ptr)) = (&child.parent_id, &child.parent_task_run_id) else { return Ok(None) };
    let iteration = super::for_each_item::iteration_of(child);
    let mut outputs = child.outputs.clone().unwrap_or_default();
    let mut state = state;
    if iteration.is_none() {
        match render(engine, child).await? {
            Ok(extra) => outputs.extend(extra),
            Err(msg) => {
                state = StateType::Failed;
                outputs = Map::from_iter([("error".to_string(), Value::String(msg))]);
            }
        }
    }
    Ok(Some(ExecutionEvent::SubflowEnded {
        execution_id: pid.clone(),
        task_run_id: ptr.clone(),
        child_execution_id: child.id.clone(),
        state,
        outputs,
        iteration,
    }))
}

/// The rendered `outputs` of the Subflow task that started `child`:
/// `Ok(empty)` when it has none, `Err` when one cannot be rendered.
pub async fn render(engine: &Engine, child: &Execution) -> Result<Result<Map<String, Value>, String>, BackendError> {
    let Some(t) = &child.trigger else { return Ok(Ok(Map::new())) };
    let var = |k: &str| t.variables.get(k).and_then(Value::as_str).map(str::to_string);
    let (Some(ns), Some(flow_id)) = (var("namespace"), var("flowId")) else { return Ok(Ok(Map::new())) };
    let Some(revision) = t.variables.get("flowRevision").and_then(Value::as_u64).and_then(|r| u32::try_from(r).ok())
    else {
        return Ok(Ok(Map::new()));
    };
    let parent_flow = match super::flows::at_revision(engine, &ns, &flow_id, revision).await {
        Ok(f) => f,
        Err(super::flows::RevisionError::Backend(e)) => return Err(e),
        Err(_) => return Ok(Ok(Map::new())),
    };
    let Some(templates) =
        parent_flow.find_task(&t.id).and_then(|task| task.props.get("outputs")).and_then(Value::as_object)
    else {
        return Ok(Ok(Map::new()));
    };
    let child_flow =
        match super::flows::at_revision(engine, &child.namespace, &child.flow_id, child.flow_revision).await {
            Ok(f) => f,
            Err(super::flows::RevisionError::Backend(e)) => return Err(e),
            Err(e) => return Ok(Err(format!("Subflow outputs: {e}"))),
        };
    // one map for the whole rendering: each task run's outputs look up its parents
    let by_id = crate::executor::context::runs_by_id(child);
    let runs = |id: &str| by_id.get(id).copied();
    let mut ctx = crate::executor::context::build(&child_flow, child, None, &runs, true);
    let env = engine.step_env();
    ctx["envs"] = env.envs();
    let mut out = Map::new();
    for (k, v) in templates {
        match env.render_value(v, &ctx) {
            Ok(r) => {
                out.insert(k.clone(), env.mask(r));
            }
            Err(e) => return Ok(Err(format!("Subflow output '{k}' of task '{}': {e}", t.id))),
        }
    }
    Ok(Ok(out))
}
