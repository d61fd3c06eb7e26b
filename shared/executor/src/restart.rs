//! Kestra's restart of an ended execution, in place (`POST
//! /api/v1/executions/{id}/restart`): the execution becomes RESTARTED, each
//! failed or killed task run of a task becomes RESTARTED and runs again as
//! its next attempt, each failed flowable around them RUNNING again (its
//! state is recomputed from its children), and what had succeeded is kept;
//! it is labelled `system.restarted: true`, as in Kestra.
//! The next step runs the execution on from there. Pure.

use chrono::{DateTime, Utc};

use baton_model::types::FlowableKind;
use baton_model::{Execution, Flow, StateType, TaskRun};

/// Why an execution cannot be restarted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RestartError {
    #[error("execution {id} is {state}: only a FAILED or KILLED execution can be restarted")]
    NotRestartable { id: String, state: StateType },
    #[error(
        "execution {id}: task '{task}' is a Subflow that failed, and restarting a subflow in place is not \
         supported by Baton; replay the execution (POST /api/v1/executions/{id}/replay) instead"
    )]
    Subflow { id: String, task: String },
}

/// Restarts `exec` in place; returns the ids of the task runs it changed.
pub fn restart(flow: &Flow, exec: &mut Execution, now: DateTime<Utc>) -> Result<Vec<String>, RestartError> {
    let state = exec.state.current;
    if !matches!(state, StateType::Failed | StateType::Killed) {
        return Err(RestartError::NotRestartable { id: exec.id.clone(), state });
    }
    let failed = |s: StateType| matches!(s, StateType::Failed | StateType::Killed | StateType::Killing);
    for tr in exec.task_run_list.iter().filter(|t| failed(t.state.current)) {
        // a ForEachItem's batches, like a Subflow's child, are not restarted in place
        let task = flow.find_task(&tr.task_id);
        if task.is_some_and(|t| {
            t.flowable_kind() == Some(FlowableKind::Subflow) || t.kind == baton_model::for_each_item::ITEMS_TYPE
        }) {
            return Err(RestartError::Subflow { id: exec.id.clone(), task: tr.task_id.clone() });
        }
    }
    let mut changed = Vec::new();
    for tr in exec.task_run_list.iter_mut().filter(|t| failed(t.state.current)) {
        run_again(flow, tr, now);
        changed.push(tr.id.clone());
    }
    exec.state.set(StateType::Restarted, now);
    exec.set_label("system.restarted", "true");
    exec.error = None;
    exec.outputs = None;
    Ok(changed)
}

/// Sets one task run to run again, as restart and replay
/// ([`super::replay`]) both do: a task becomes RESTARTED (the executor
/// dispatches its next attempt; an attempt cut short is closed KILLED), a
/// flowable RUNNING (its state is recomputed from its children).
pub(crate) fn run_again(flow: &Flow, tr: &mut TaskRun, now: DateTime<Utc>) {
    let flowable = flow.find_task(&tr.task_id).is_some_and(|t| t.flowable.is_some());
    tr.state.set(if flowable { StateType::Running } else { StateType::Restarted }, now);
    tr.error = None;
    tr.next_retry_date = None;
    if !flowable
        && let Some(last) = tr.attempts.last_mut()
        && !last.state.is_terminal()
    {
        last.state.set(StateType::Killed, now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_model::{Attempt, State};

    fn flow(yaml: &str) -> Flow {
        crate::tests::flow(yaml)
    }

    fn run(id: &str, task: &str, state: StateType, attempts: usize) -> TaskRun {
        let now = Utc::now();
        TaskRun {
            id: id.into(),
            execution_id: "e".into(),
            namespace: "n".into(),
            flow_id: "f".into(),
            task_id: task.into(),
            parent_task_run_id: None,
            value: None,
            attempts: (0..attempts)
                .map(|_| Attempt { state: State::new(state, now), worker_id: None, log_file: None })
                .collect(),
            outputs: None,
            state: State::new(state, now),
            iteration: None,
            next_retry_date: None,
            error: state.is_failed().then(|| "boom".to_string()),
            evaluated: None,
        }
    }

    #[test]
    fn failed_task_runs_restart_and_what_succeeded_stays() {
        let f = flow(
            "id: f\nnamespace: n\ntasks:\n  - id: ok\n    type: io.kestra.plugin.core.log.Log\n    message: a\n  - id: bad\n    type: io.kestra.plugin.core.log.Log\n    message: b\n",
        );
        let now = Utc::now();
        let mut e = Execution::new("e".into(), "n", "f", 1, Default::default(), vec![], now);
        e.task_run_list = vec![run("t1", "ok", StateType::Success, 1), run("t2", "bad", StateType::Failed, 1)];
        e.state.set(StateType::Failed, now);
        e.error = Some("task 'bad' failed: boom".into());
        let changed = restart(&f, &mut e, now).expect("restart");
        assert_eq!(changed, ["t2"]);
        assert_eq!(e.state.current, StateType::Restarted);
        assert_eq!(
            (e.task_run_list[0].state.current, e.task_run_list[1].state.current),
            (StateType::Success, StateType::Restarted)
        );
        assert_eq!((e.error.clone(), e.task_run_list[1].error.clone()), (None, None));
        assert!(e.labels.iter().any(|l| l.key == "system.restarted" && l.value == "true"), "{:?}", e.labels);
        let again = restart(&f, &mut e, now).unwrap_err();
        assert!(matches!(again, RestartError::NotRestartable { state: StateType::Restarted, .. }), "{again}");
    }

    #[test]
    fn a_failed_subflow_is_refused_with_the_way_out() {
        let f = flow(
            "id: f\nnamespace: n\ntasks:\n  - id: call\n    type: io.kestra.plugin.core.flow.Subflow\n    namespace: n\n    flowId: child\n",
        );
        let now = Utc::now();
        let mut e = Execution::new("e".into(), "n", "f", 1, Default::default(), vec![], now);
        e.task_run_list = vec![run("t1", "call", StateType::Failed, 0)];
        e.state.set(StateType::Failed, now);
        let err = restart(&f, &mut e, now).unwrap_err().to_string();
        assert!(err.contains("'call' is a Subflow") && err.contains("/replay"), "{err}");
        assert_eq!(e.state.current, StateType::Failed, "nothing changed");
    }
}
