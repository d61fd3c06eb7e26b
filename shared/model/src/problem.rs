//! A problem found reading part of a flow that is not a task (a trigger,
//! its conditions): a path relative to it and a message for humans.

/// A problem a trigger type's own check found: `path` is relative to the
/// trigger (e.g. `cron`, `preconditions.flows[0].flowId`; empty for the
/// trigger itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriggerProblem {
    pub path: String,
    pub message: String,
}

impl TriggerProblem {
    pub fn at(path: impl Into<String>, message: impl Into<String>) -> TriggerProblem {
        TriggerProblem { path: path.into(), message: message.into() }
    }
}
