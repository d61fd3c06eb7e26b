//! Recovery of work orphaned by a stopped process, before
//! [`super::embedded::Embedded::resume`] re-dispatches what is pending.
//!
//! When a process dies while one of its workers holds an attempt (claimed,
//! maybe started, its result maybe lost with the in-process queue), the
//! attempt's claim still names the dead worker, so a re-sent job would be
//! skipped as a duplicate and the execution would wait forever. At start
//! the server (and a resumed `baton backfill`) closes each such attempt as
//! KILLED ("worker lost") and opens the next attempt, which `resume` then
//! dispatches — the task runs again, at least once, as after any worker
//! loss. This assumes no other live process works on the same home.

use chrono::Utc;

use super::engine::Engine;
use crate::backend::{BackendError, ExecutionFilter, LogEntry};
use crate::model::{Attempt, State, StateType};

/// Reopens every attempt left unfinished by a previous process in the
/// RUNNING executions of loaded flows; returns how many.
pub async fn recover_orphaned_attempts(engine: &Engine) -> Result<usize, BackendError> {
    let filter = ExecutionFilter { state: Some(StateType::Running), ..ExecutionFilter::default() };
    let mut recovered = 0;
    for summary in engine.state.list_executions(&filter).await? {
        if engine.flows.get(&summary.namespace, &summary.flow_id).is_none() {
            continue;
        }
        recovered += recover_execution(engine, &summary.id).await?;
    }
    Ok(recovered)
}

/// Reopens the unfinished attempts of one RUNNING execution whose process
/// is gone (`baton executions resume`); returns how many.
pub async fn recover_execution(engine: &Engine, id: &str) -> Result<usize, BackendError> {
    let mut recovered = 0;
    for _ in 0..4 {
        let Some(mut exec) = engine.state.load_execution(id).await? else { break };
        if exec.state.current != StateType::Running {
            break;
        }
        let now = Utc::now();
        let mut changed = Vec::new();
        let mut logs = Vec::new();
        for tr in exec.task_run_list.iter_mut() {
            if tr.state.is_terminal() {
                continue;
            }
            let number = tr.attempts.len();
            let Some(last) = tr.attempts.last_mut() else { continue };
            if last.state.is_terminal() {
                continue;
            }
            let was = last.state.current;
            last.state.set(StateType::Killed, now);
            tr.attempts.push(Attempt { state: State::new(StateType::Created, now), worker_id: None, log_file: None });
            changed.push(tr.id.clone());
            logs.push(LogEntry {
                namespace: exec.namespace.clone(),
                flow_id: exec.flow_id.clone(),
                execution_id: exec.id.clone(),
                task_id: Some(tr.task_id.clone()),
                task_run_id: Some(tr.id.clone()),
                attempt_number: Some(number as u32),
                timestamp: now,
                level: "WARN".into(),
                message: format!(
                    "attempt {number} was {was} when Baton stopped: its worker is lost, the task runs again as attempt {}",
                    number + 1
                ),
            });
        }
        if changed.is_empty() {
            break;
        }
        match engine.state.save_execution(&exec, &changed).await {
            Ok(_) => {
                for l in &logs {
                    tracing::warn!(execution_id = %l.execution_id, task_id = ?l.task_id, "{}", l.message);
                }
                engine.state.append_logs(&logs).await?;
                recovered += changed.len();
                break;
            }
            Err(BackendError::Conflict { .. }) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(recovered)
}
