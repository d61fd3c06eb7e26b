//! What one decision changed, read from its events and the execution:
//! the attempts whose results it applies, the attempts a kill ended, and
//! the ids of the task runs it changed, each once.

use crate::backend::AttemptEnd;
use crate::model::{Execution, StateType};
use crate::runtime::messages::ExecutionEvent;

/// The attempts whose results `events` carry, with their metrics.
pub(super) fn attempt_ends(events: &[ExecutionEvent]) -> Vec<AttemptEnd> {
    events
        .iter()
        .filter_map(|e| match e {
            ExecutionEvent::TaskResult { task_run_id, attempt, result, .. } => Some(AttemptEnd {
                task_run_id: task_run_id.clone(),
                attempt: *attempt,
                metrics: result.metrics.clone(),
                close_claim: result.claim_left_open,
            }),
            _ => None,
        })
        .collect()
}

/// The attempts of the `changed` task runs that a step ended KILLED.
pub(super) fn killed_in(exec: &Execution, changed: &[String]) -> Vec<(String, u32)> {
    changed
        .iter()
        .filter_map(|id| exec.task_run(id))
        .filter(|tr| tr.attempts.last().is_some_and(|a| a.state.current == StateType::Killed))
        .map(|tr| (tr.id.clone(), tr.attempts.len() as u32))
        .collect()
}

/// The attempts a kill ended (KILLED, as `apply_event` leaves them), for a
/// `Kill` event; none for any other.
pub(super) fn killed_attempts(exec: &Execution, event: &ExecutionEvent) -> Vec<(String, u32)> {
    if !matches!(event, ExecutionEvent::Kill { .. }) {
        return Vec::new();
    }
    exec.task_run_list
        .iter()
        .filter(|tr| tr.attempts.last().is_some_and(|a| a.state.current == StateType::Killed))
        .map(|tr| (tr.id.clone(), tr.attempts.len() as u32))
        .collect()
}

/// The ids of the task runs one decision changed, each once, in the order
/// first seen (a step that creates 100,000 task runs merges in O(n)).
#[derive(Default)]
pub(super) struct Changed {
    ids: Vec<String>,
    seen: std::collections::HashSet<String>,
}

impl Changed {
    pub(super) fn extend(&mut self, ids: impl IntoIterator<Item = String>) {
        for id in ids {
            if !self.seen.contains(&id) {
                self.seen.insert(id.clone());
                self.ids.push(id);
            }
        }
    }
}

impl std::ops::Deref for Changed {
    type Target = [String];
    fn deref(&self) -> &[String] {
        &self.ids
    }
}
