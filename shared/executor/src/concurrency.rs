//! Flow concurrency admission (Kestra C4): given the flow's limit and its
//! [`Slots`] (the executions holding a slot, and the queue in order),
//! admit, queue, cancel or fail a new execution. Pure: the runtime keeps
//! one `Slots` record per flow and changes it by compare-and-swap
//! (`runtime::slots`), so admission is atomic across instances.

use serde::{Deserialize, Serialize};

use baton_model::{Concurrency, ConcurrencyBehavior, StateType};

/// A flow's concurrency record: who holds a slot (RUNNING, PAUSED or
/// KILLING executions admitted) and who waits for one, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slots {
    #[serde(default)]
    pub running: Vec<String>,
    #[serde(default)]
    pub queued: Vec<String>,
}

impl Slots {
    /// Decides admission of execution `id` and records it: a slot taken, a
    /// place in the queue, or nothing (rejected). Idempotent: an execution
    /// that holds a slot is admitted again without change. Returns whether
    /// the record changed.
    pub fn admit(&mut self, id: &str, c: &Concurrency) -> (Admission, bool) {
        if self.running.iter().any(|r| r == id) {
            return (Admission::Run, false);
        }
        let queue = c.behavior == ConcurrencyBehavior::Queue;
        // FIFO: a new execution never overtakes queued ones; only the
        // oldest queued one may take a freed slot
        let first_in_line = !queue || self.queued.first().is_none_or(|q| q == id);
        if self.running.len() < c.limit as usize && first_in_line {
            self.queued.retain(|q| q != id);
            self.running.push(id.to_string());
            return (Admission::Run, true);
        }
        let decision = admit(Some(c), self.running.len().max(c.limit as usize));
        let changed = match decision {
            Admission::Queue { .. } if !self.queued.iter().any(|q| q == id) => {
                self.queued.push(id.to_string());
                true
            }
            _ => false,
        };
        (decision, changed)
    }

    /// Frees whatever `id` holds (its slot or its place in the queue);
    /// returns whether the record changed.
    pub fn release(&mut self, id: &str) -> bool {
        let before = (self.running.len(), self.queued.len());
        self.running.retain(|r| r != id);
        self.queued.retain(|q| q != id);
        before != (self.running.len(), self.queued.len())
    }

    /// The queued execution to wake: the oldest, when a slot is free.
    pub fn next_to_wake(&self, limit: u32) -> Option<&str> {
        (self.running.len() < limit as usize).then(|| self.queued.first().map(String::as_str)).flatten()
    }

    /// Whether `id` holds a slot or waits for one.
    pub fn holds(&self, id: &str) -> bool {
        self.running.iter().chain(&self.queued).any(|x| x == id)
    }
}

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

    fn c(limit: u32, behavior: ConcurrencyBehavior) -> Concurrency {
        Concurrency { limit, behavior }
    }

    #[test]
    fn slots_admit_in_fifo_order_and_never_exceed_the_limit() {
        let q = c(2, ConcurrencyBehavior::Queue);
        let mut s = Slots::default();
        assert_eq!(s.admit("a", &q), (Admission::Run, true));
        assert_eq!(s.admit("a", &q), (Admission::Run, false), "admitting twice changes nothing");
        assert_eq!(s.admit("b", &q), (Admission::Run, true));
        let (d, changed) = s.admit("c", &q);
        assert!(matches!(d, Admission::Queue { .. }) && changed);
        let (d, changed) = s.admit("c", &q);
        assert!(matches!(d, Admission::Queue { .. }) && !changed, "queued once");
        assert!(matches!(s.admit("d", &q).0, Admission::Queue { .. }));
        assert_eq!(s.queued, ["c", "d"]);
        assert!(s.release("a"));
        assert!(!s.release("a"), "releasing twice changes nothing");
        assert_eq!(s.next_to_wake(2), Some("c"));
        assert!(matches!(s.admit("d", &q).0, Admission::Queue { .. }), "d may not overtake c");
        assert_eq!(s.admit("c", &q), (Admission::Run, true));
        assert_eq!(s.running, ["b", "c"]);
        assert_eq!(s.next_to_wake(2), None, "no free slot");
        assert!(s.release("d"), "a queued execution killed leaves the queue");
        assert!(s.queued.is_empty());
        assert!(s.holds("b") && !s.holds("d"));
    }

    #[test]
    fn slots_cancel_and_fail_reject_without_queueing() {
        for (behavior, state) in
            [(ConcurrencyBehavior::Cancel, StateType::Cancelled), (ConcurrencyBehavior::Fail, StateType::Failed)]
        {
            let mut s = Slots::default();
            assert_eq!(s.admit("a", &c(1, behavior)).0, Admission::Run);
            let (d, changed) = s.admit("b", &c(1, behavior));
            assert!(matches!(d, Admission::Reject { state: st, .. } if st == state), "{d:?}");
            assert!(!changed);
            assert!(s.queued.is_empty());
        }
    }

    #[test]
    fn slots_hold_under_any_interleaving_of_admissions_and_releases() {
        // every order of 4 executions admitted, then released in turn, for limits 1..3
        let ids = ["a", "b", "c", "d"];
        for limit in 1..=3u32 {
            let q = c(limit, ConcurrencyBehavior::Queue);
            for seed in 0..200u64 {
                let mut s = Slots::default();
                let mut ended = Vec::new();
                let mut x = seed;
                for _ in 0..40 {
                    x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    let id = ids[(x >> 33) as usize % ids.len()];
                    if ended.contains(&id) {
                        continue;
                    }
                    if (x >> 20) % 3 == 0 && s.running.iter().any(|r| r == id) {
                        s.release(id);
                        ended.push(id);
                    } else {
                        s.admit(id, &q);
                    }
                    assert!(s.running.len() <= limit as usize, "limit {limit} exceeded: {s:?}");
                    assert!(s.running.iter().all(|r| !s.queued.contains(r)), "{s:?}");
                }
            }
        }
    }

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
