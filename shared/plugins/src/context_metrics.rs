//! The metrics a task attempt records ([`RunContext::counter`],
//! [`RunContext::timer`], a script's protocol lines): kept in the context
//! while the task runs, merged as Kestra merges them, bounded (see
//! [`baton_backend::metrics`]), and stored by the worker when the attempt
//! ends, whatever its state. A metric past a bound is not recorded and the
//! task logs a WARN line naming the bound (once for the per-task-run count).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::Utc;

use super::RunContext;
use baton_backend::metrics::{MetricBuffer, MetricEntry, MetricRejected, MetricType};

/// An attempt's metrics.
#[derive(Debug, Default)]
pub struct MetricRecorder {
    buffer: Mutex<MetricBuffer>,
    warned_count: AtomicBool,
}

impl RunContext {
    /// Records metric `name` of `kind` (a timer's `value` in milliseconds),
    /// secrets masked in its tags.
    pub fn metric(&self, kind: MetricType, name: &str, value: f64, tags: BTreeMap<String, String>) {
        let tags = tags.into_iter().map(|(k, v)| (k, self.mask_text(&v))).collect();
        let r = self.metrics.buffer.lock().unwrap_or_else(std::sync::PoisonError::into_inner).record(
            kind,
            name,
            value,
            tags,
            Utc::now(),
        );
        match r {
            Ok(()) => {}
            Err(e @ MetricRejected::TooMany { .. }) => {
                if !self.metrics.warned_count.swap(true, Ordering::Relaxed) {
                    self.warn(&format!("{e} (further metrics past the bound are not recorded)"));
                }
            }
            Err(e) => self.warn(&e.to_string()),
        }
    }

    /// Adds `value` to counter `name` (Kestra's `Counter.of(name, value, tags…)`).
    pub fn counter(&self, name: &str, value: f64, tags: &[(&str, &str)]) {
        self.metric(MetricType::Counter, name, value, tag_map(tags));
    }

    /// Adds `d` to timer `name` (Kestra's `Timer.of(name, duration, tags…)`).
    pub fn timer(&self, name: &str, d: Duration, tags: &[(&str, &str)]) {
        self.metric(MetricType::Timer, name, d.as_secs_f64() * 1000.0, tag_map(tags));
    }

    /// What this attempt recorded, as entries of its task run.
    pub fn metric_entries(&self) -> Vec<MetricEntry> {
        let b = self.metrics.buffer.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        b.entries(&self.namespace, &self.flow_id, &self.execution_id, &self.task_id, &self.task_run_id)
    }
}

fn tag_map(tags: &[(&str, &str)]) -> BTreeMap<String, String> {
    tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}
