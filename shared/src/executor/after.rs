//! What runs after an execution's terminal state, as Kestra's executor
//! does it (`ExecutorService.handleListeners` / `handleAfterExecution`,
//! `ExecutionService.isTerminated`): the state is set first (SUCCESS,
//! FAILED, CANCELLED, KILLED…) and stays; then the tasks of the legacy
//! `listeners`, in order, then the `afterExecution` tasks, each list one
//! task after the other and stopping at a failure (a listener's failure
//! skips the later listeners, not afterExecution). Their task runs are
//! appended to the execution, their failures shown on them; the
//! execution's state never changes. While they run, `Execution::ending` is
//! set; the end (`Action::Ended`: parent notified, concurrency slot freed,
//! Flow triggers) is announced once, when they are all done — where Kestra
//! considers the execution terminated.

use super::{Action, Block, Stepper};
use crate::model::StateType;

impl<'a> Stepper<'a> {
    /// Sets the execution's terminal state; announces the end now, or once
    /// the tasks that run after it are done.
    pub(super) fn terminate(&mut self, state: StateType) {
        self.exec.state.set(state, self.now);
        self.execution_changed = true;
        if self.flow.has_after() {
            self.exec.ending = true;
            self.after();
        } else {
            self.actions.push(Action::Ended(state));
        }
    }

    /// Advances the listeners' and afterExecution tasks of an ended
    /// execution; announces the end when none is left to run.
    pub(super) fn after(&mut self) {
        let flow = self.flow;
        for l in &flow.listeners {
            // listeners with conditions are refused by validation
            if !l.conditions.is_empty() {
                continue;
            }
            match self.sequence(&l.tasks, None, None) {
                Block::Running => return,
                Block::Done(StateType::Failed) => break,
                Block::Done(_) => {}
            }
        }
        if let Block::Running = self.sequence(&flow.after_execution, None, None) {
            return;
        }
        self.exec.ending = false;
        self.execution_changed = true;
        self.actions.push(Action::Ended(self.exec.state.current));
    }
}
