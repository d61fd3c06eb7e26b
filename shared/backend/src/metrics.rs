//! Task metrics (Kestra's `MetricEntry`): what a task run counted or timed
//! — a core task's counters (`Split`'s `splits`, `Deduplicate`'s
//! `records`…), a script's `::{"metrics":[…]}::` lines — kept per task run
//! attempt, listed per execution and aggregated per flow by the API.
//!
//! The [`MetricStore`] contract is small: write an attempt's metrics
//! (idempotent: a redelivered attempt replaces its own, never adds), read an
//! execution's, read a flow's (newest first, by time range), delete an
//! execution's. Names, task ids and aggregations are computed from those
//! reads by [`super::metrics_query`], one implementation for every store.
//!
//! Bounds: at most [`MAX_METRICS_PER_TASK_RUN`] distinct metrics per task
//! run attempt, names of at most [`MAX_NAME_BYTES`], tags of at most
//! [`MAX_TAG_BYTES`] (keys and values together); a read returns at most
//! [`MAX_READ`] entries (a listing past it is an error naming the bound).

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::Result;

/// Distinct metrics (type, name, tags) one task run attempt may record.
pub const MAX_METRICS_PER_TASK_RUN: usize = 1_000;
/// Bytes of a metric's name.
pub const MAX_NAME_BYTES: usize = 256;
/// Bytes of a metric's tags, keys and values together.
pub const MAX_TAG_BYTES: usize = 1_024;
/// Entries one read (an execution's metrics, a flow's over a time range)
/// returns at most.
pub const MAX_READ: usize = 50_000;

pub use baton_model::wire::metric::{MetricEntry, MetricType};

/// Which of a flow's metrics to read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FlowMetricQuery {
    pub namespace: String,
    pub flow_id: String,
    /// Only this task's.
    pub task_id: Option<String>,
    /// Only metrics of this name.
    pub name: Option<String>,
    /// Recorded at or after.
    pub from: Option<DateTime<Utc>>,
    /// Recorded at or before.
    pub to: Option<DateTime<Utc>>,
}

impl FlowMetricQuery {
    /// Whether `m` matches every filter of the query.
    pub fn matches(&self, m: &MetricEntry) -> bool {
        m.namespace == self.namespace
            && m.flow_id == self.flow_id
            && self.task_id.as_ref().is_none_or(|t| m.task_id.as_ref() == Some(t))
            && self.name.as_ref().is_none_or(|n| &m.name == n)
            && self.from.is_none_or(|f| m.timestamp >= f)
            && self.to.is_none_or(|t| m.timestamp <= t)
    }
}

/// What a read gave: the entries, and whether more matched than
/// [`MAX_READ`] (then `entries` holds the first `MAX_READ` in the read's order).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricRead {
    pub entries: Vec<MetricEntry>,
    pub truncated: bool,
}

/// Where task metrics are kept (SQLite locally, Firestore on GCP).
#[async_trait]
pub trait MetricStore: Send + Sync {
    /// Stores the metrics attempt `attempt` of task run `task_run_id`
    /// recorded, replacing any that attempt stored before (a redelivered
    /// attempt does not add to them). At most [`MAX_METRICS_PER_TASK_RUN`].
    async fn save_metrics(&self, task_run_id: &str, attempt: u32, metrics: &[MetricEntry]) -> Result<()>;
    /// The metrics of an execution, oldest first.
    async fn execution_metrics(&self, execution_id: &str) -> Result<MetricRead>;
    /// The metrics of a flow matching `query`, newest first.
    async fn flow_metrics(&self, query: &FlowMetricQuery) -> Result<MetricRead>;
    /// Deletes the metrics of an execution; returns how many there were.
    async fn delete_metrics(&self, execution_id: &str) -> Result<usize>;
    /// Deletes the metrics `query` matches, at most `query.limit` of them
    /// (`metric.PurgeMetrics`).
    async fn purge_metrics(&self, query: &super::purge::MetricPurge) -> Result<super::purge::Purged>;
}

/// Why a metric was not recorded: each names the bound it broke.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MetricRejected {
    #[error("metric '{name}' not recorded: a task run records at most {MAX_METRICS_PER_TASK_RUN} distinct metrics")]
    TooMany { name: String },
    #[error("metric name '{shown}…' not recorded: a metric name has at most {MAX_NAME_BYTES} bytes")]
    NameTooLong { shown: String },
    #[error("metric '{name}' not recorded: its name is empty")]
    EmptyName { name: String },
    #[error("metric '{name}' not recorded: its tags take {bytes} bytes, more than the {MAX_TAG_BYTES} allowed")]
    TagsTooLarge { name: String, bytes: usize },
    #[error("metric '{name}' not recorded: its value {value} is not a finite number")]
    NotFinite { name: String, value: f64 },
}

/// The metrics one attempt records: Kestra's `RunContext.metric()` merge
/// (same type, name and tags add up, keeping the first timestamp), within
/// the bounds above.
#[derive(Debug, Default)]
pub struct MetricBuffer {
    entries: Vec<Recorded>,
}

/// One recorded metric: type, name, tags, value, first recorded at.
type Recorded = (MetricType, String, BTreeMap<String, String>, f64, DateTime<Utc>);

impl MetricBuffer {
    /// Adds `value` to the metric (type, name, tags), creating it if new.
    pub fn record(
        &mut self,
        kind: MetricType,
        name: &str,
        value: f64,
        tags: BTreeMap<String, String>,
        at: DateTime<Utc>,
    ) -> std::result::Result<(), MetricRejected> {
        if name.len() > MAX_NAME_BYTES {
            let cut = (0..=64).rev().find(|i| name.is_char_boundary(*i)).unwrap_or(0);
            return Err(MetricRejected::NameTooLong { shown: name[..cut].to_string() });
        }
        if name.is_empty() {
            return Err(MetricRejected::EmptyName { name: name.to_string() });
        }
        if !value.is_finite() {
            return Err(MetricRejected::NotFinite { name: name.to_string(), value });
        }
        let bytes: usize = tags.iter().map(|(k, v)| k.len() + v.len()).sum();
        if bytes > MAX_TAG_BYTES {
            return Err(MetricRejected::TagsTooLarge { name: name.to_string(), bytes });
        }
        if let Some(e) = self.entries.iter_mut().find(|e| e.0 == kind && e.1 == name && e.2 == tags) {
            e.3 += value;
            return Ok(());
        }
        if self.entries.len() >= MAX_METRICS_PER_TASK_RUN {
            return Err(MetricRejected::TooMany { name: name.to_string() });
        }
        self.entries.push((kind, name.to_string(), tags, value, at));
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The recorded metrics as entries of task run `task_run_id` of task
    /// `task_id` in execution `execution_id` of `namespace.flow_id`.
    pub fn entries(
        &self,
        namespace: &str,
        flow_id: &str,
        execution_id: &str,
        task_id: &str,
        task_run_id: &str,
    ) -> Vec<MetricEntry> {
        self.entries
            .iter()
            .map(|(kind, name, tags, value, at)| MetricEntry {
                namespace: namespace.to_string(),
                flow_id: flow_id.to_string(),
                task_id: Some(task_id.to_string()),
                execution_id: Some(execution_id.to_string()),
                task_run_id: Some(task_run_id.to_string()),
                kind: *kind,
                name: name.clone(),
                value: *value,
                timestamp: *at,
                tags: tags.clone(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn same_type_name_and_tags_add_up_like_kestra() {
        let now = Utc::now();
        let mut b = MetricBuffer::default();
        b.record(MetricType::Counter, "rows", 2.0, tags(&[("t", "a")]), now).expect("first");
        b.record(MetricType::Counter, "rows", 3.0, tags(&[("t", "a")]), now).expect("adds");
        b.record(MetricType::Counter, "rows", 1.0, tags(&[("t", "b")]), now).expect("other tags");
        b.record(MetricType::Timer, "rows", 7.0, BTreeMap::new(), now).expect("other type");
        let e = b.entries("ns", "f", "e", "t", "tr");
        assert_eq!(e.len(), 3);
        assert_eq!((e[0].value, e[1].value, e[2].value), (5.0, 1.0, 7.0));
        assert_eq!(e[0].task_run_id.as_deref(), Some("tr"));
    }

    #[test]
    fn bounds_are_named() {
        let now = Utc::now();
        let mut b = MetricBuffer::default();
        for i in 0..MAX_METRICS_PER_TASK_RUN {
            b.record(MetricType::Counter, &format!("m{i}"), 1.0, BTreeMap::new(), now).expect("within bound");
        }
        let err = b.record(MetricType::Counter, "one-more", 1.0, BTreeMap::new(), now).expect_err("past the bound");
        assert!(err.to_string().contains("at most 1000 distinct metrics"), "{err}");
        // an existing metric still adds up past the bound
        b.record(MetricType::Counter, "m0", 1.0, BTreeMap::new(), now).expect("existing metric");
        let big = tags(&[("k", &"x".repeat(MAX_TAG_BYTES))]);
        let err = MetricBuffer::default().record(MetricType::Counter, "t", 1.0, big, now).expect_err("tags");
        assert!(err.to_string().contains("more than the 1024 allowed"), "{err}");
        let err = MetricBuffer::default()
            .record(MetricType::Counter, &"n".repeat(300), 1.0, BTreeMap::new(), now)
            .expect_err("name");
        assert!(err.to_string().contains("at most 256 bytes"), "{err}");
        let err =
            MetricBuffer::default().record(MetricType::Timer, "t", f64::NAN, BTreeMap::new(), now).expect_err("nan");
        assert!(err.to_string().contains("not a finite number"), "{err}");
    }
}
