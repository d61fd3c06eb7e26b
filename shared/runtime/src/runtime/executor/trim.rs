//! Finished task runs kept small in the executor's memory: in a large
//! execution (a loop of thousands of iterations, a long chain), a task run
//! that ended SUCCESS is held as what a step still reads of it — its id,
//! task, parent, value, state and iteration — and its attempts, its
//! outputs (when no template of the flow can read them, `outputs_read`)
//! and the execution's names it repeats are dropped. The store keeps the
//! whole task run: the API and the UI read it there.
//!
//! A step never changes a task run that ended SUCCESS, and reads of its
//! outputs are the ones `outputs_read` names. If a decision ever changes
//! one all the same, the save refuses it (it would write the trimmed copy)
//! and the executor decides again on a copy read from the store
//! ([`changes_trimmed`]).

use std::collections::{BTreeSet, HashSet};

use crate::model::{Execution, Flow, StateType, TaskRun};

/// Executions with fewer task runs keep them whole (nothing to win).
pub(super) const TRIM_FROM: usize = 200;

/// What of a flow's finished task runs the executor may drop.
#[derive(Debug, Clone)]
pub(super) struct Trim {
    /// The tasks whose outputs a template may read (`None`: any).
    outputs_read: Option<BTreeSet<String>>,
    /// The tasks whose runs may be trimmed: the flow's tasks but flowables
    /// (a step reads their state histories, outputs and what they
    /// evaluated) and the tasks that start executions or wait. A run of a
    /// task not in the flow (one a flowable makes for itself) is kept whole.
    trimmable: HashSet<String>,
}

impl Trim {
    pub(super) fn of(flow: &Flow) -> Trim {
        let trimmable = flow
            .all_tasks()
            .into_iter()
            .filter(|t| {
                t.flowable.is_none()
                    && !["Pause", "Subflow", "ForEachItem", "WaitFor"].iter().any(|k| t.kind.ends_with(k))
            })
            .map(|t| t.id.clone())
            .collect();
        Trim { outputs_read: crate::executor::outputs_read(flow), trimmable }
    }

    /// Trims the task runs at `positions` of `exec` that ended SUCCESS, in
    /// an execution of at least [`TRIM_FROM`] task runs.
    pub(super) fn apply(&self, exec: &mut Execution, positions: &[usize]) {
        if exec.task_run_list.len() < TRIM_FROM {
            return;
        }
        for &p in positions {
            let Some(tr) = exec.task_run_list.get_mut(p) else { continue };
            // a retried run keeps its attempts (a Flow trigger's `hasRetryAttempt` reads them)
            let retried = tr.attempts.len() > 1;
            if tr.state.current != StateType::Success
                || retried
                || !self.trimmable.contains(&tr.task_id)
                || is_trimmed(tr)
            {
                continue;
            }
            let keep_outputs = self.outputs_read.as_ref().is_none_or(|read| read.contains(&tr.task_id));
            if !keep_outputs {
                tr.outputs = None;
            }
            tr.attempts = Default::default();
            tr.state.histories = Default::default();
            tr.error = None;
            // the mark of a trimmed copy: a stored task run always names its execution
            tr.execution_id = String::new();
            tr.namespace = String::new();
            tr.flow_id = String::new();
        }
    }
}

/// Whether `tr` is a trimmed copy (see the module's header).
pub(super) fn is_trimmed(tr: &TaskRun) -> bool {
    tr.execution_id.is_empty() && !tr.id.is_empty()
}

/// The first of `positions` holding a trimmed copy: a save must not write it.
pub(super) fn changes_trimmed(exec: &Execution, positions: &[usize]) -> Option<usize> {
    positions.iter().copied().find(|&p| exec.task_run_list.get(p).is_some_and(is_trimmed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn flow(yaml: &str) -> Flow {
        let (v, _) = crate::model::yaml::parse(yaml).expect("yaml");
        Flow::from_value(&v, yaml).0.expect("flow")
    }

    #[test]
    fn finished_runs_of_a_large_execution_lose_what_no_step_reads() {
        let f = flow(
            "id: f\nnamespace: n\ntasks:\n  - id: each\n    type: io.kestra.plugin.core.flow.ForEach\n    \
             values: [1]\n    tasks:\n      - id: r\n        type: io.kestra.plugin.core.debug.Return\n        \
             format: x\n      - id: s\n        type: io.kestra.plugin.core.debug.Return\n        \
             format: \"{{ outputs.r[taskrun.value].value }}\"\n",
        );
        let trim = Trim::of(&f);
        let mut exec = Execution::new("e".into(), "n", "f", 1, Default::default(), Vec::new(), Utc::now());
        for i in 0..TRIM_FROM {
            let mut tr = crate::executor::partial::placeholder();
            tr.id = format!("t{i}");
            tr.execution_id = "e".into();
            tr.task_id = ["each", "r", "s"][i % 3].into();
            tr.outputs = Some(Box::new(serde_json::Map::from_iter([("value".to_string(), serde_json::json!(i))])));
            tr.state.set(StateType::Running, Utc::now());
            if i != 4 {
                tr.state.set(StateType::Success, Utc::now());
            }
            exec.task_run_list.push(tr);
        }
        trim.apply(&mut exec, &[0, 1, 2, 4]);
        let list = &exec.task_run_list;
        assert!(!is_trimmed(&list[0]), "a flowable's run is kept whole");
        assert!(is_trimmed(&list[1]) && list[1].outputs.is_some(), "outputs a template reads are kept");
        assert!(is_trimmed(&list[2]) && list[2].outputs.is_none() && list[2].state.histories.is_empty());
        assert!(!is_trimmed(&list[4]), "a running task run is kept whole");
        assert!(!is_trimmed(&list[5]), "a position not changed is not looked at");
        assert_eq!(changes_trimmed(&exec, &[4, 5, 2]), Some(2));
        let mut small = Execution::new("s".into(), "n", "f", 1, Default::default(), Vec::new(), Utc::now());
        small.task_run_list = exec.task_run_list[3..6].to_vec();
        trim.apply(&mut small, &[0, 1, 2]);
        assert!(small.task_run_list.iter().all(|t| !is_trimmed(t)), "a small execution keeps its runs whole");
    }
}
