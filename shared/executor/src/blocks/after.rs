//! What runs after an execution's terminal state, as Kestra's executor
//! does it (`ExecutorService.handleListeners` / `handleAfterExecution`,
//! `ExecutionService.isTerminated`): the state is set first (SUCCESS,
//! FAILED, CANCELLED, KILLED…) and stays; then the tasks of the legacy
//! `listeners`, in order, then the `afterExecution` tasks, each list one
//! task after the other and stopping at a failure (a listener's failure
//! skips the later listeners, not afterExecution). Their task runs are
//! appended to the execution, their failures shown on them; the
//! execution's state never changes. While they run, `Execution::ending` is
//! set; the end (`Action::Ended`: parent notified, concurrency slot freed)
//! is announced once, when they are all done — where Kestra considers the
//! execution terminated. Flow triggers fire at the state change itself
//! (`runtime::executor`), before these tasks run, as in Kestra.

use super::{Action, Block, Stepper};
use baton_model::StateType;
use baton_model::flowkeys::Listener;
use baton_template::conditions::{ConditionContext, first_false};

impl<'a> Stepper<'a> {
    /// Sets the execution's terminal state; announces the end now, or once
    /// the tasks that run after it are done.
    pub(super) fn terminate(&mut self, state: StateType) {
        self.exec.state.set(state, self.now);
        self.execution_changed = true;
        if self.flow.has_after() {
            self.exec.ending = true;
            self.after(true);
        } else {
            self.actions.push(Action::Ended(state));
        }
    }

    /// Advances the listeners' and afterExecution tasks of an ended
    /// execution; announces the end when none is left to run. `first`: the
    /// end is being handled for the first time (problems are logged then).
    pub(super) fn after(&mut self, first: bool) {
        let flow = self.flow;
        for (i, l) in flow.listeners.iter().enumerate() {
            if !self.listener_started(l) && !self.listener_holds(i, l, first) {
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

    /// Whether one of the listener's tasks has a run already: once started,
    /// a listener goes on whatever its conditions say now.
    fn listener_started(&self, l: &Listener) -> bool {
        l.tasks.iter().any(|t| self.find(&t.id, None, None).is_some())
    }

    /// Whether every condition of listener `i` holds on the ended execution
    /// (Kestra's `ConditionService.findValidListeners`). A condition that
    /// cannot be evaluated counts as false; it is logged only when that
    /// happens as the end is first handled (a later listener reached after
    /// an earlier one's tasks ran is skipped silently: the step keeps no
    /// record of what it already logged).
    fn listener_holds(&mut self, i: usize, l: &Listener, first: bool) -> bool {
        if l.conditions.is_empty() {
            return true;
        }
        let vars = self.context(None);
        let (renderer, host) = self.env.templates();
        let cx = ConditionContext {
            namespace: &self.flow.namespace,
            flow_id: &self.flow.id,
            execution: Some(&self.exec),
            variables: &vars,
            renderer,
            host,
            now: self.now,
        };
        match first_false(&l.conditions, &cx) {
            Ok(None) => true,
            Ok(Some(_)) => false,
            Err(e) => {
                if first {
                    let msg = self.env.mask(serde_json::Value::String(format!(
                        "listeners[{i}] not run: a condition could not be evaluated: {e}"
                    )));
                    self.log("ERROR", msg.as_str().unwrap_or_default().to_string());
                }
                false
            }
        }
    }
}
