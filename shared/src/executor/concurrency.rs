//! Flow concurrency admission (Kestra C4): given the flow's limit and how
//! many of its executions are active, admit, queue, cancel or fail a new
//! execution. The runtime counts atomically; this decides.

use crate::model::{Concurrency, ConcurrencyBehavior, StateType};

/// What to do with a CREATED execution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    Run,
    /// Becomes QUEUED until a slot frees (FIFO).
    Queue {
        message: String,
    },
    /// Ends in this state with this message.
    Reject {
        state: StateType,
        message: String,
    },
}

/// Decides admission for an execution when `active` executions of the flow
/// are RUNNING or PAUSED (not counting this one).
pub fn admit(concurrency: Option<&Concurrency>, active: usize) -> Admission {
    let Some(c) = concurrency else { return Admission::Run };
    if active < c.limit as usize {
        return Admission::Run;
    }
    match c.behavior {
        ConcurrencyBehavior::Queue => Admission::Queue {
            message: format!(
                "Flow is queued due to concurrency limit exceeded, {} running(s)",
                active.min(c.limit as usize)
            ),
        },
        ConcurrencyBehavior::Cancel => Admission::Reject {
            state: StateType::Cancelled,
            message: "Flow is CANCELLED due to concurrency limit exceeded".to_string(),
        },
        ConcurrencyBehavior::Fail => Admission::Reject {
            state: StateType::Failed,
            message: "Flow is FAILED due to concurrency limit exceeded".to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_behavior() {
        let mut c = Concurrency { limit: 2, behavior: ConcurrencyBehavior::Queue };
        assert_eq!(admit(None, 100), Admission::Run);
        assert_eq!(admit(Some(&c), 1), Admission::Run);
        assert!(matches!(admit(Some(&c), 2), Admission::Queue { .. }));
        c.behavior = ConcurrencyBehavior::Cancel;
        assert!(matches!(admit(Some(&c), 2), Admission::Reject { state: StateType::Cancelled, .. }));
        c.behavior = ConcurrencyBehavior::Fail;
        let Admission::Reject { state, message } = admit(Some(&c), 3) else { panic!() };
        assert_eq!(state, StateType::Failed);
        assert_eq!(message, "Flow is FAILED due to concurrency limit exceeded");
    }
}
