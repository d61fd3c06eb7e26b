//! The attempts a worker reported lately, whose claims the executor may
//! not have closed yet: a duplicate job reaching the same worker id (which
//! the store would let re-claim its own lease) is skipped. Bounded at
//! [`REPORTED_KEPT`]; checked once per job, so a lookup, not a scan.

/// The last [`REPORTED_KEPT`] attempts a worker reported: in arrival
/// order (which one to forget) and by task run (a job's check is one
/// lookup, not a comparison with each of them).
#[derive(Default)]
pub(super) struct Reported(std::sync::Mutex<ReportedSet>);

#[derive(Default)]
struct ReportedSet {
    order: std::collections::VecDeque<(String, u32)>,
    /// By task run, its attempts reported (looked up by `&str`).
    by_run: std::collections::HashMap<String, Vec<u32>>,
}

/// How many reported attempts a worker remembers.
const REPORTED_KEPT: usize = 256;

impl Reported {
    pub(super) fn note(&self, task_run_id: &str, attempt: u32) {
        let mut q = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let attempts = q.by_run.entry(task_run_id.to_string()).or_default();
        if attempts.contains(&attempt) {
            return;
        }
        attempts.push(attempt);
        if q.order.len() >= REPORTED_KEPT
            && let Some((old, a)) = q.order.pop_front()
            && let Some(attempts) = q.by_run.get_mut(&old)
        {
            attempts.retain(|x| *x != a);
            if attempts.is_empty() {
                q.by_run.remove(&old);
            }
        }
        q.order.push_back((task_run_id.to_string(), attempt));
    }

    pub(super) fn contains(&self, task_run_id: &str, attempt: u32) -> bool {
        let q = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        q.by_run.get(task_run_id).is_some_and(|a| a.contains(&attempt))
    }
}

#[cfg(test)]
mod reported_tests {
    use super::*;

    #[test]
    fn a_worker_remembers_its_last_reported_attempts_and_forgets_older_ones() {
        let r = Reported::default();
        r.note("a", 1);
        r.note("a", 1);
        r.note("a", 2);
        assert!(r.contains("a", 1) && r.contains("a", 2) && !r.contains("a", 3) && !r.contains("b", 1));
        for i in 0..REPORTED_KEPT {
            r.note(&format!("t{i}"), 1);
        }
        assert!(!r.contains("a", 1) && !r.contains("a", 2), "the oldest are forgotten");
        assert!(r.contains("t0", 1) && r.contains(&format!("t{}", REPORTED_KEPT - 1), 1));
        let q = r.0.lock().expect("lock");
        assert_eq!((q.order.len(), q.by_run.len()), (REPORTED_KEPT, REPORTED_KEPT), "bounded");
    }
}
