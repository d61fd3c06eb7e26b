//! The flow's `sla`, as Kestra's executor applies it (`SLAService`,
//! `ExecutorService.processViolation`), decided from stored state only:
//!
//! - `MAX_DURATION`: the deadline is the execution's start date plus
//!   `duration`. The step that starts the execution (and a recovery step)
//!   arms a `WakeAt` for it; any later step past the deadline acts, so a
//!   timer lost with its process (a Cloud Run instance stopped) is replaced
//!   by the next event or the scheduler's sweep of RUNNING executions.
//! - `EXECUTION_ASSERTION`: `assert` is rendered at each step of the running
//!   execution (Kestra evaluates it at each change); not truthy is a
//!   violation. Only the first violated assertion acts, as in Kestra.
//!
//! A violation is logged (WARN `SLA '<id>' violated: <reason>`), adds the
//! SLA's labels, and by `behavior`: FAIL fails the execution (its running
//! task runs killed), CANCEL cancels it, NONE does nothing more. Each SLA
//! acts once: its id is kept in `Execution::sla_violations`.

use chrono::Duration;

use super::{Action, Stepper, truthy};
use crate::index::partly::is_placeholder;
use baton_model::duration::format_iso;
use baton_model::flowkeys::{Sla, SlaBehavior, SlaKind};
use baton_model::{Label, StateType};

/// A violated SLA and why.
struct Violation<'a> {
    sla: &'a Sla,
    reason: String,
}

impl<'a> Stepper<'a> {
    /// Evaluates the flow's SLAs on the running execution; returns true if
    /// a violation ended it. `arm` asks for the MAX_DURATION timers.
    pub(super) fn check_sla(&mut self, arm: bool) -> bool {
        let flow = self.flow;
        if flow.sla.is_empty() {
            return false;
        }
        let mut violations = Vec::new();
        let mut assertion_acted = false;
        for sla in &flow.sla {
            if self.exec.sla_violations.contains(&sla.id) {
                continue;
            }
            match &sla.kind {
                SlaKind::MaxDuration(max) => {
                    let Some(start) = self.exec.state.start_date() else { continue };
                    let deadline = start + *max;
                    if self.now >= deadline {
                        let took = self.now - start;
                        let took = Duration::milliseconds(took.num_milliseconds());
                        let reason = format!(
                            "execution duration of {} exceed the maximum duration of {}.",
                            format_iso(took),
                            format_iso(*max)
                        );
                        violations.push(Violation { sla, reason });
                    } else if arm {
                        self.actions.push(Action::WakeAt(deadline));
                    }
                }
                SlaKind::ExecutionAssertion(assert) => {
                    let ctx = self.context(None);
                    match self.env.render(assert, &ctx) {
                        Ok(r) if truthy(&r) => {}
                        Ok(_) if assertion_acted => self.log("WARN", format!(
                            "SLA '{}' violated: assertion is false: {assert}. (only the first violated assertion acts)",
                            sla.id
                        )),
                        Ok(_) => {
                            assertion_acted = true;
                            violations.push(Violation { sla, reason: format!("assertion is false: {assert}.") });
                        }
                        Err(e) => self.log("ERROR", format!("Ignoring SLA '{}' because of the error: {e}", sla.id)),
                    }
                }
            }
        }
        for v in violations {
            if self.violate(v) {
                return true;
            }
        }
        false
    }

    /// Acts on one violation; true if it ended the execution.
    fn violate(&mut self, v: Violation<'_>) -> bool {
        let Violation { sla, reason } = v;
        self.exec.sla_violations.push(sla.id.clone());
        self.execution_changed = true;
        self.log("WARN", format!("SLA '{}' violated: {reason}", sla.id));
        self.add_labels(&sla.labels);
        let state = match sla.behavior {
            SlaBehavior::None => return false,
            SlaBehavior::Fail => StateType::Failed,
            SlaBehavior::Cancel => StateType::Cancelled,
        };
        let message = format!("Execution {} due to SLA '{}' violated: {reason}", verb(state), sla.id);
        if state == StateType::Failed {
            self.log("ERROR", message.clone());
        }
        self.exec.error = Some(message);
        self.kill_running();
        self.terminate(state);
        true
    }

    fn add_labels(&mut self, labels: &[Label]) {
        for l in labels {
            if !self.exec.labels.iter().any(|x| x.key == l.key && x.value == l.value) {
                self.exec.set_label(&l.key, &l.value);
            }
        }
    }

    /// Every unfinished task run (and its attempt) KILLED, as Kestra's kill
    /// after an SLA violation leaves them.
    pub(super) fn kill_running(&mut self) {
        self.index.need_states(|s| !s.is_terminal());
        let now = self.now;
        for i in 0..self.exec.task_run_list.len() {
            let tr = &mut self.exec.task_run_list[i];
            if tr.state.is_terminal() || is_placeholder(tr) {
                continue;
            }
            if let Some(a) = tr.attempts.last_mut()
                && !a.state.is_terminal()
            {
                a.state.set(StateType::Killed, now);
            }
            tr.state.set(StateType::Killed, now);
            tr.next_retry_date = None;
            self.mark(i);
        }
    }

    pub(super) fn log(&mut self, level: &'static str, message: String) {
        self.actions.push(Action::Log { task_run_id: None, task_id: None, level, message });
    }
}

fn verb(state: StateType) -> &'static str {
    if state == StateType::Failed { "failed" } else { "cancelled" }
}
