//! Metric handles built once per label set, for what is recorded on every
//! task run: the `metrics` macros build their labels as owned strings and
//! look the key up in the recorder at every call (about 9 µs for a worker's
//! start and end); a kept handle is one lookup here and an `Arc` clone.
//!
//! Label sets come from flows (namespace, flow, task type), so the kept
//! ones are bounded: at most [`MAX_LABEL_SETS`]; past it, the callers use
//! the macros as before (same series, only slower). Handles are made only
//! once recording is on, so they always belong to the installed recorder
//! (the process installs one, once).

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex, OnceLock};

use metrics::{Counter, Histogram};

use crate::model::StateType;

/// The most (namespace, flow, task type) label sets kept.
pub const MAX_LABEL_SETS: usize = 4_096;

/// A worker's handles for one (namespace, flow, task type).
pub struct JobHandles {
    pub started: Counter,
    /// By end state: the ended counter and the duration histogram.
    ended: Mutex<Vec<(StateType, Counter, Histogram)>>,
    namespace: Box<str>,
    flow_id: Box<str>,
    task_type: Box<str>,
}

impl JobHandles {
    /// The ended counter and duration histogram for `state`.
    pub fn ended(&self, state: StateType) -> (Counter, Histogram) {
        let mut ended = self.ended.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, c, h)) = ended.iter().find(|(s, _, _)| *s == state) {
            return (c.clone(), h.clone());
        }
        let name = state.to_string();
        let c = metrics::counter!(super::metrics::WORKER_ENDED, "namespace_id" => self.namespace.to_string(),
            "flow_id" => self.flow_id.to_string(), "task_type" => self.task_type.to_string(), "state" => name.clone());
        let h = metrics::histogram!(super::metrics::WORKER_ENDED_DURATION, "task_type" => self.task_type.to_string(),
            "state" => name);
        ended.push((state, c.clone(), h.clone()));
        (c, h)
    }
}

/// The kept sets, by a hash of their labels (a collision shares a bucket).
#[derive(Default)]
struct Kept {
    by_hash: HashMap<u64, Vec<Arc<JobHandles>>>,
    count: usize,
}

static HASHER: OnceLock<RandomState> = OnceLock::new();
static JOBS: Mutex<Option<Kept>> = Mutex::new(None);

/// The handles for a job of `task_type` in `namespace.flow_id`; `None` once
/// [`MAX_LABEL_SETS`] other sets are kept.
pub fn job(namespace: &str, flow_id: &str, task_type: &str) -> Option<Arc<JobHandles>> {
    let hash = HASHER.get_or_init(RandomState::new).hash_one((namespace, flow_id, task_type));
    let mut jobs = JOBS.lock().unwrap_or_else(|p| p.into_inner());
    let kept = jobs.get_or_insert_with(Kept::default);
    let bucket = kept.by_hash.get(&hash);
    let same =
        |h: &&Arc<JobHandles>| &*h.namespace == namespace && &*h.flow_id == flow_id && &*h.task_type == task_type;
    if let Some(h) = bucket.and_then(|b| b.iter().find(same)) {
        return Some(h.clone());
    }
    if kept.count >= MAX_LABEL_SETS {
        return None;
    }
    let started = metrics::counter!(super::metrics::WORKER_STARTED, "namespace_id" => namespace.to_string(),
        "flow_id" => flow_id.to_string(), "task_type" => task_type.to_string());
    let h = Arc::new(JobHandles {
        started,
        ended: Mutex::new(Vec::new()),
        namespace: namespace.into(),
        flow_id: flow_id.into(),
        task_type: task_type.into(),
    });
    kept.by_hash.entry(hash).or_default().push(h.clone());
    kept.count += 1;
    Some(h)
}

/// A histogram with no labels, made once.
pub fn unlabeled(cell: &'static OnceLock<Histogram>, name: &'static str) -> &'static Histogram {
    cell.get_or_init(|| metrics::histogram!(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_set_of_handles_per_label_set_and_the_kept_sets_are_bounded() {
        let a = job("ns", "f", "io.kestra.plugin.core.log.Log").expect("kept");
        let again = job("ns", "f", "io.kestra.plugin.core.log.Log").expect("kept");
        assert!(Arc::ptr_eq(&a, &again), "the same label set gives the same handles");
        let other = job("ns", "g", "io.kestra.plugin.core.log.Log").expect("kept");
        assert!(!Arc::ptr_eq(&a, &other));
        // the labels are compared, not only their hash: no two sets share handles
        assert!(!Arc::ptr_eq(&job("n", "sf", "x").expect("kept"), &job("ns", "f", "x").expect("kept")));
        let mut made = 0;
        while job("bound", &made.to_string(), "t").is_some() {
            made += 1;
            assert!(made <= MAX_LABEL_SETS, "more than {MAX_LABEL_SETS} label sets kept");
        }
        assert!(made > 0 && made < MAX_LABEL_SETS);
        // still served once the bound is reached
        assert!(job("ns", "f", "io.kestra.plugin.core.log.Log").is_some());
    }
}
