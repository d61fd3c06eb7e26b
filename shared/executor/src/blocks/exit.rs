//! `io.kestra.plugin.core.execution.Exit`, run by the executor as Kestra's
//! `ExecutionUpdatableTask`: its task run and every enclosing task run end
//! in `state` (SUCCESS, WARNING, FAILED, KILLED, CANCELED — CANCELLED in
//! Kestra 2.0; SUCCESS when absent), so does the execution; the task runs still running are killed
//! and nothing after it starts.

use super::{Action, Block, Stepper};
use baton_model::flowable::Exit;
use baton_model::{StateType, Task};

/// The state an Exit `state` value ends the execution in.
fn exit_state(s: &str) -> Option<StateType> {
    Some(match s {
        "SUCCESS" => StateType::Success,
        "WARNING" => StateType::Warning,
        "FAILED" => StateType::Failed,
        "KILLED" => StateType::Killed,
        // 1.x's `ExitState` spelling, and 2.0's (`CANCELED` became `CANCELLED`)
        "CANCELED" | "CANCELLED" => StateType::Cancelled,
        _ => return None,
    })
}

impl<'a> Stepper<'a> {
    /// Runs an Exit task run: notes the state the step ends the execution in.
    pub(super) fn exit(&mut self, task: &'a Task, idx: usize, spec: &Exit) -> Block {
        let raw = spec.state.clone().unwrap_or_else(|| "SUCCESS".to_string());
        let ctx = self.task_context(task, idx);
        let rendered = match self.env.render(&raw, &ctx) {
            Ok(s) => s.trim().to_string(),
            Err(e) => {
                self.fail(idx, format!("state of task '{}': {e}", task.id));
                return Block::Done(StateType::Failed);
            }
        };
        let Some(state) = exit_state(&rendered) else {
            let known = baton_model::types::EXIT_STATES.join(", ");
            self.fail(idx, format!("state of task '{}': '{rendered}' is not one of {known}", task.id));
            return Block::Done(StateType::Failed);
        };
        // the task run and its parents end in the exit state
        let mut at = Some(idx);
        while let Some(i) = at {
            if !self.exec.task_run_list[i].state.is_terminal() {
                self.set_state(i, state);
            }
            at = self.exec.task_run_list[i]
                .parent_task_run_id
                .clone()
                .and_then(|p| self.index.position(&self.exec.task_run_list, &p));
        }
        self.exited = Some((state, task.id.clone()));
        Block::Running
    }

    /// Ends the execution an Exit asked to end: what this step started is
    /// not sent, what still runs is killed.
    pub(super) fn end_exited(&mut self, state: StateType, task_id: &str) {
        self.actions.retain(|a| !matches!(a, Action::Dispatch { .. } | Action::StartSubflow { .. }));
        self.kill_running();
        if state == StateType::Failed {
            self.exec.error = Some(format!("task '{task_id}' (Exit) ended the execution FAILED"));
        }
        self.log("INFO", format!("Execution ended {} by task '{task_id}' (Exit)", state.as_str()));
        self.terminate(state);
    }
}
