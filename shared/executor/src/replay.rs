//! Kestra's replay from a task run (`POST /api/v1/executions/{id}/replay
//! ?taskRunId=…`): a NEW execution (new id, the original's `originalId`,
//! labelled `system.replay: true`, RESTARTED) copying an ended one. What ran
//! before the chosen task run is kept as it was (outputs included, never run
//! again); the chosen task run runs again ([`super::restart::run_again`]:
//! a task as its next attempt, a flowable RUNNING and evaluated afresh);
//! its parents are RUNNING again; everything after it in its block and in
//! each enclosing block (later tasks, `errors` and `finally` handlers, later
//! iterations of a one-at-a-time ForEach) and everything under it is
//! removed, so the executor creates and runs it again. Parallel branches and
//! the other iterations of a concurrent ForEach are not "after": they are
//! kept. A task inside a WorkingDirectory replays the whole
//! WorkingDirectory (its tasks share one folder), as in Kestra. Pure.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use super::ids;
use super::restart::run_again;
use baton_model::flow::Children;
use baton_model::types::FlowableKind;
use baton_model::{Execution, Flow, Label, StateType, Task, TaskRun};

/// The label Kestra puts on a replay.
pub const REPLAY_LABEL: &str = "system.replay";
/// The label Kestra puts on the execution that was replayed.
pub const REPLAYED_LABEL: &str = "system.replayed";

/// Why an execution cannot be replayed from a task run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    #[error("execution {id} has no task run '{task_run_id}': nothing to replay from")]
    UnknownTaskRun { id: String, task_run_id: String },
    #[error("execution {id} is {state}: a replay from a task run needs an ended execution")]
    NotEnded { id: String, state: StateType },
    #[error(
        "execution {id}: task '{task}' (task run {task_run_id}) is not in revision {revision} of flow \
         {namespace}.{flow_id}: replay from a task run with a revision that has it"
    )]
    TaskNotInFlow { id: String, task: String, task_run_id: String, namespace: String, flow_id: String, revision: u32 },
}

/// The labels of a replay of `old`: its own, without the correlation id
/// (the replay gets its own) and the replayed mark, with `system.replay`.
pub fn replay_labels(old: &Execution) -> Vec<Label> {
    let mut labels: Vec<Label> = old
        .labels
        .iter()
        .filter(|l| l.key != "system.correlationId" && l.key != REPLAYED_LABEL && l.key != REPLAY_LABEL)
        .cloned()
        .collect();
    labels.push(Label { key: REPLAY_LABEL.into(), value: "true".into() });
    labels
}

/// The new execution `new_id` replaying `old` from task run `task_run_id`,
/// to run `flow` (at `flow.revision`-equivalent `revision`).
pub fn replay_from(
    flow: &Flow,
    revision: u32,
    old: &Execution,
    task_run_id: &str,
    new_id: &str,
    now: DateTime<Utc>,
) -> Result<Execution, ReplayError> {
    if !old.state.is_terminal() {
        return Err(ReplayError::NotEnded { id: old.id.clone(), state: old.state.current });
    }
    let tasks: HashMap<&str, &Task> = flow.all_tasks().into_iter().map(|t| (t.id.as_str(), t)).collect();
    let order: HashMap<&str, usize> =
        flow.all_tasks().into_iter().enumerate().map(|(i, t)| (t.id.as_str(), i)).collect();
    let by_id: HashMap<&str, &TaskRun> = old.task_run_list.iter().map(|t| (t.id.as_str(), t)).collect();
    let chosen = *by_id
        .get(task_run_id)
        .ok_or_else(|| ReplayError::UnknownTaskRun { id: old.id.clone(), task_run_id: task_run_id.to_string() })?;
    let parent_of = |t: &TaskRun| t.parent_task_run_id.as_deref().and_then(|p| by_id.get(p).copied());
    // the chosen task run, then its parents up to the top
    let mut line = vec![chosen];
    while let Some(p) = line.last().and_then(|t| parent_of(t)) {
        line.push(p);
    }
    // inside a WorkingDirectory, the outermost one runs again whole
    if let Some(i) = line.iter().rposition(|t| kind(&tasks, t) == Some(FlowableKind::WorkingDirectory)) {
        line.drain(..i);
    }
    let chosen = line[0];
    // each of them: what comes after it among its siblings goes
    let mut roots: HashSet<&str> = HashSet::from([chosen.id.as_str()]);
    for (i, x) in line.iter().enumerate() {
        let parent = line.get(i + 1).and_then(|p| tasks.get(p.task_id.as_str()).copied());
        for s in old.task_run_list.iter().filter(|s| s.parent_task_run_id == x.parent_task_run_id && s.id != x.id) {
            if comes_after(old, &order, parent, x, s) {
                roots.insert(&s.id);
            }
        }
    }
    // ... with everything under it (the chosen one stays, its children go)
    let removed = |t: &TaskRun| {
        let mut cur = Some(t);
        let mut first = true;
        while let Some(c) = cur {
            if roots.contains(c.id.as_str()) && !(first && c.id == chosen.id) {
                return true;
            }
            first = false;
            cur = parent_of(c);
        }
        false
    };
    let kept: Vec<&TaskRun> = old.task_run_list.iter().filter(|t| !removed(t)).collect();
    if let Some(t) = kept.iter().find(|t| !tasks.contains_key(t.task_id.as_str())) {
        return Err(ReplayError::TaskNotInFlow {
            id: old.id.clone(),
            task: t.task_id.clone(),
            task_run_id: t.id.clone(),
            namespace: old.namespace.clone(),
            flow_id: old.flow_id.clone(),
            revision,
        });
    }
    // the ids the executor derives in the new execution (parents first; at
    // their positions in it)
    let mut new_ids: HashMap<&str, String> = HashMap::new();
    while new_ids.len() < kept.len() {
        let before = new_ids.len();
        for (position, t) in kept.iter().enumerate() {
            if new_ids.contains_key(t.id.as_str()) {
                continue;
            }
            let parent = match t.parent_task_run_id.as_deref() {
                None => None,
                Some(p) => match new_ids.get(p) {
                    Some(n) => Some(n.clone()),
                    None => continue,
                },
            };
            let id = ids::task_run_id(new_id, position, &t.task_id, parent.as_deref(), t.value.as_deref());
            new_ids.insert(&t.id, id);
        }
        if new_ids.len() == before {
            break; // a parent outside the execution: cannot happen with a stored one
        }
    }
    let line_ids: HashSet<&str> = line.iter().map(|t| t.id.as_str()).collect();
    let mut task_runs = Vec::with_capacity(kept.len());
    for t in kept {
        let Some(id) = new_ids.get(t.id.as_str()) else { continue };
        let mut tr = t.clone();
        tr.id = id.clone();
        tr.execution_id = new_id.to_string();
        tr.parent_task_run_id = t.parent_task_run_id.as_deref().and_then(|p| new_ids.get(p).cloned());
        if line_ids.contains(t.id.as_str()) {
            run_again(flow, &mut tr, now);
        }
        if t.id == chosen.id {
            // evaluated and produced afresh
            tr.outputs = None;
            tr.evaluated = None;
        }
        task_runs.push(tr);
    }
    let mut e = old.clone();
    e.id = new_id.to_string();
    e.flow_revision = revision;
    e.labels = replay_labels(old);
    e.set_label("system.correlationId", new_id);
    e.task_run_list = task_runs;
    e.state.set(StateType::Restarted, now);
    e.outputs = None;
    e.error = None;
    // not a subflow of the original's parent: its end notifies no one
    e.parent_id = None;
    e.parent_task_run_id = None;
    e.version = 0;
    Ok(e)
}

fn kind(tasks: &HashMap<&str, &Task>, t: &TaskRun) -> Option<FlowableKind> {
    tasks.get(t.task_id.as_str()).and_then(|t| t.flowable_kind())
}

/// Whether sibling `s` of `x` (same parent task run) runs after `x`.
fn comes_after(old: &Execution, order: &HashMap<&str, usize>, parent: Option<&Task>, x: &TaskRun, s: &TaskRun) -> bool {
    // a task missing from the flow is never "after": it is kept, and refused
    let pos = |t: &TaskRun| order.get(t.task_id.as_str()).copied();
    // both among the parent's own tasks (not its errors / finally)
    let main = |t: &TaskRun| {
        parent.is_some_and(|p| matches!(&p.children, Children::Tasks(c) if c.iter().any(|c| c.id == t.task_id)))
    };
    match parent {
        Some(p) if p.flowable_kind() == Some(FlowableKind::Parallel) && main(x) && main(s) => false,
        Some(p) if p.flowable_kind() == Some(FlowableKind::ForEach) && main(x) && main(s) && x.value != s.value => {
            // iterations: one after the other only when one runs at a time
            let first = |v: &Option<String>| {
                old.task_run_list.iter().position(|t| t.parent_task_run_id == x.parent_task_run_id && t.value == *v)
            };
            p.flowable.as_ref().is_some_and(|f| f.concurrency() == 1) && first(&s.value) > first(&x.value)
        }
        _ => pos(s) > pos(x),
    }
}

#[cfg(test)]
mod tests;
