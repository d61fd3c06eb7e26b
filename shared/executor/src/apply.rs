//! Applying an event to an execution: a worker started or finished an
//! attempt, a subflow ended, a kill was asked. Pure and idempotent: a
//! duplicate or stale event changes nothing.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::index::ExecIndex;
use super::retry::{governing, next_retry_date};
use baton_model::wire::messages::ExecutionEvent;
use baton_model::{Execution, Flow, StateType};

/// Applies `event`; returns the ids of the task runs it changed, and
/// whether the execution itself changed.
pub fn apply_event(
    flow: &Flow,
    exec: &mut Execution,
    event: &ExecutionEvent,
    now: DateTime<Utc>,
) -> (Vec<String>, bool) {
    apply(flow, exec, event, now, &|e: &Execution, id: &str| e.task_run_list.iter().rposition(|t| t.id == id))
}

/// `apply_event` keeping `index` right for [`super::step_indexed`]: task
/// runs found by id in O(1), and those changed noted for the next step.
pub fn apply_event_indexed(
    flow: &Flow,
    exec: &mut Execution,
    index: &mut ExecIndex,
    event: &ExecutionEvent,
    now: DateTime<Utc>,
) -> (Vec<String>, bool) {
    index.sync(exec);
    if let ExecutionEvent::TaskStarted { task_run_id, .. } | ExecutionEvent::TaskResult { task_run_id, .. } = event
        && let Some(pos) = index.position(&exec.task_run_list, task_run_id)
    {
        index.warm(&exec.task_run_list, pos);
    }
    let (changed, exec_changed) =
        apply(flow, exec, event, now, &|e: &Execution, id: &str| index.position(&e.task_run_list, id));
    for id in &changed {
        if let Some(pos) = index.position(&exec.task_run_list, id) {
            index.touched(pos);
        }
    }
    (changed, exec_changed)
}

/// Finds a task run's position by id.
type Find<'f> = dyn Fn(&Execution, &str) -> Option<usize> + 'f;

fn apply(
    flow: &Flow,
    exec: &mut Execution,
    event: &ExecutionEvent,
    now: DateTime<Utc>,
    find: &Find<'_>,
) -> (Vec<String>, bool) {
    // an ended execution's listeners and afterExecution tasks still report
    // (a kill does not stop them: Kestra forces their execution)
    if exec.is_done() || (exec.state.is_terminal() && matches!(event, ExecutionEvent::Kill { .. })) {
        return (Vec::new(), false);
    }
    match event {
        ExecutionEvent::TaskStarted { task_run_id, attempt, worker_id, at, .. } => {
            let Some(tr) = find(exec, task_run_id).map(|i| &mut exec.task_run_list[i]) else {
                return (Vec::new(), false);
            };
            if tr.state.is_terminal() || tr.attempts.len() as u32 != *attempt {
                return (Vec::new(), false);
            }
            let Some(a) = tr.attempts.last_mut() else { return (Vec::new(), false) };
            if a.state.current != StateType::Created {
                return (Vec::new(), false);
            }
            a.state.set(StateType::Running, *at);
            a.worker_id = Some(worker_id.clone());
            tr.state.set(StateType::Running, *at);
            (vec![task_run_id.clone()], false)
        }
        ExecutionEvent::TaskResult { task_run_id, attempt, result, .. } => {
            let Some(pos) = find(exec, task_run_id) else { return (Vec::new(), false) };
            let Some(task) = flow.find_task(&exec.task_run_list[pos].task_id) else {
                return (Vec::new(), false);
            };
            let mut exec_changed = false;
            // the walk up the parents only when a retry may matter: a
            // failure, or a success after retries (warningOnRetry)
            let retry = if result.state.is_failed() || exec.task_run_list[pos].attempts.len() > 1 {
                governing(flow, exec, pos, task, |id| find(exec, id))
            } else {
                task.retry.as_ref()
            };
            {
                let tr = &mut exec.task_run_list[pos];
                if tr.state.is_terminal() || tr.attempts.len() as u32 != *attempt {
                    return (Vec::new(), false);
                }
                let Some(a) = tr.attempts.last_mut() else { return (Vec::new(), false) };
                if a.state.is_terminal() {
                    return (Vec::new(), false);
                }
                if a.state.current == StateType::Created {
                    a.state.set(StateType::Running, result.start);
                }
                a.state.set(result.state, result.end);
                a.log_file = result.log_file.clone();
                if tr.state.current == StateType::Created {
                    tr.state.set(StateType::Running, result.start);
                }
                tr.error = result.error.clone();
                if !result.outputs.is_empty() || tr.outputs.is_some() {
                    tr.outputs = Some(Box::new(result.outputs.clone()));
                }
                let failed = result.state.is_failed();
                let retry_at = if failed && result.state != StateType::Killed {
                    retry.and_then(|r| {
                        let first = tr.attempts.first().and_then(|a| a.state.start_date()).unwrap_or(result.start);
                        next_retry_date(r, tr.attempts.len() as u32, first, result.end)
                    })
                } else {
                    None
                };
                if let Some(at) = retry_at {
                    tr.state.set(StateType::Retrying, now);
                    tr.next_retry_date = Some(at);
                } else {
                    tr.next_retry_date = None;
                    let retried = tr.attempts.len() > 1;
                    let warn_on_retry = retry.is_some_and(|r| r.warning_on_retry);
                    let mut final_state = result.state;
                    if final_state == StateType::Success && retried && warn_on_retry {
                        final_state = StateType::Warning;
                    }
                    if final_state.is_failed() && task.allow_failure {
                        final_state = StateType::Warning;
                    }
                    if final_state == StateType::Warning && task.allow_warning {
                        final_state = StateType::Success;
                    }
                    tr.state.set(final_state, result.end.max(now));
                }
            }
            for l in &result.labels {
                exec.set_label(&l.key, &l.value);
                exec_changed = true;
            }
            if let Some(change) = &result.variables {
                exec.change_variables(&flow.variables, change);
                exec_changed = true;
            }
            (vec![task_run_id.clone()], exec_changed)
        }
        ExecutionEvent::SubflowEnded { task_run_id, child_execution_id, state, outputs, .. } => {
            let Some(pos) = find(exec, task_run_id) else { return (Vec::new(), false) };
            let tr = &mut exec.task_run_list[pos];
            let allow_failure = flow.find_task(&tr.task_id).is_some_and(|t| t.allow_failure);
            let allow_warning = flow.find_task(&tr.task_id).is_some_and(|t| t.allow_warning);
            // only the end of the child this copy recorded the start of: an
            // end that came before the save deciding the start (see
            // [`early_subflow_end`]), or of another child, changes nothing
            if tr.state.is_terminal() || started_child(tr) != Some(child_execution_id.as_str()) {
                return (Vec::new(), false);
            }
            let mut m = tr.outputs.as_deref().cloned().unwrap_or_default();
            m.insert("executionId".into(), json!(child_execution_id));
            m.insert("state".into(), json!(state.as_str()));
            if *state == StateType::Created {
                // the child of a Subflow that does not wait is stored: the
                // task run ends with its id and state (Kestra's `Output`)
                tr.outputs = Some(Box::new(m));
                tr.state.set(StateType::Success, now);
                return (vec![task_run_id.clone()], false);
            }
            m.insert("outputs".into(), Value::Object(outputs.clone()));
            tr.outputs = Some(Box::new(m));
            let mut s = *state;
            if s.is_failed() {
                // a child that never started says why in its outputs
                tr.error = Some(match outputs.get("error").and_then(Value::as_str) {
                    Some(why) => why.to_string(),
                    None => format!("subflow execution {child_execution_id} ended {s}"),
                });
                if allow_failure {
                    s = StateType::Warning;
                }
            }
            // as a runnable task's: a WARNING counts as SUCCESS
            // (Kestra's TaskWithAllowWarningTest.executableTask_Flow)
            if s == StateType::Warning && allow_warning {
                s = StateType::Success;
            }
            tr.state.set(s, now);
            (vec![task_run_id.clone()], false)
        }
        ExecutionEvent::Kill { .. } => {
            let mut changed = Vec::new();
            for tr in exec.task_run_list.iter_mut() {
                if !tr.state.is_terminal() {
                    if let Some(a) = tr.attempts.last_mut()
                        && !a.state.is_terminal()
                    {
                        a.state.set(StateType::Killed, now);
                    }
                    tr.state.set(StateType::Killed, now);
                    changed.push(tr.id.clone());
                }
            }
            exec.state.set(StateType::Killed, now);
            // what runs after the end runs after a kill too
            exec.ending = flow.has_after();
            (changed, true)
        }
        ExecutionEvent::Resume { task_run_id, inputs, by, .. } => {
            super::blocks::pause::apply_resume(flow, exec, task_run_id, inputs, by.as_deref(), now)
        }
        ExecutionEvent::BatchesEnded { task_run_id, iterations, error, .. } => {
            let Some(pos) = find(exec, task_run_id) else { return (Vec::new(), false) };
            let items = baton_model::for_each_item::ITEMS_TYPE;
            if flow.find_task(&exec.task_run_list[pos].task_id).is_none_or(|t| t.kind != items) {
                return (Vec::new(), false);
            }
            match super::blocks::for_each_item::apply_batches_ended(exec, pos, iterations, error.as_deref(), now) {
                true => (vec![task_run_id.clone()], false),
                false => (Vec::new(), false),
            }
        }
        // launches only: the runtime performs them without touching the execution
        ExecutionEvent::StartBatches { .. }
        | ExecutionEvent::StartSubflow { .. }
        | ExecutionEvent::Created { .. }
        | ExecutionEvent::Wake { .. } => (Vec::new(), false),
    }
}

/// The child a Subflow task run recorded starting (`evaluated.executionId`,
/// set by the step in the save that decides the start; `None` before).
fn started_child(tr: &baton_model::TaskRun) -> Option<&str> {
    tr.evaluated.as_ref()?.get("executionId")?.as_str()
}

/// Why `event`, a Subflow child's end, comes too early for `exec`: the
/// parent is running but this copy has not recorded the start of that child
/// (no task run yet, or one whose start is not decided). A `wait: false`
/// child is launched *before* the save that records its start, so it may
/// end first (another executor instance gets its end while that save is in
/// flight, or retried on a compare-and-swap conflict). Deciding the end on
/// such a copy would drop it, so the runtime asks for it again once the
/// store holds the start (Pub/Sub redelivers it; the GCP sweep sends the end
/// of a child long over again as the last resort). `None` when the end can
/// be decided: applied, or a duplicate, or for another child, or for a
/// parent that has ended.
pub fn early_subflow_end(exec: &Execution, index: &mut ExecIndex, event: &ExecutionEvent) -> Option<String> {
    let ExecutionEvent::SubflowEnded { task_run_id, child_execution_id, iteration: None, .. } = event else {
        return None;
    };
    if exec.state.is_terminal() {
        return None;
    }
    index.sync(exec);
    let recorded = index.position(&exec.task_run_list, task_run_id).map(|i| &exec.task_run_list[i]);
    match recorded {
        Some(tr) if tr.state.is_terminal() || started_child(tr).is_some() => None,
        _ => Some(format!(
            "execution {}: the end of subflow execution {child_execution_id} came before the save that \
             records its start in task run {task_run_id}: asked again later",
            exec.id
        )),
    }
}
