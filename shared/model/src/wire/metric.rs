//! A task run's metric (Kestra's `MetricEntry`, same JSON): what a worker
//! reports with an attempt's result and the stores keep (`backend::metrics`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Kestra's two metric types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricType {
    /// A count (`value` as counted).
    Counter,
    /// A duration (`value` in milliseconds, as Kestra stores timers).
    Timer,
}

impl MetricType {
    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Timer => "timer",
        }
    }

    pub fn parse(s: &str) -> Option<MetricType> {
        match s {
            "counter" => Some(MetricType::Counter),
            "timer" => Some(MetricType::Timer),
            _ => None,
        }
    }
}

/// One stored metric of a task run (Kestra's `MetricEntry`, same JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricEntry {
    pub namespace: String,
    pub flow_id: String,
    #[serde(default)]
    pub task_id: Option<String>,
    #[serde(default)]
    pub execution_id: Option<String>,
    #[serde(default)]
    pub task_run_id: Option<String>,
    #[serde(rename = "type")]
    pub kind: MetricType,
    pub name: String,
    /// A counter's count; a timer's milliseconds.
    pub value: f64,
    #[serde(serialize_with = "crate::date_text::write")]
    pub timestamp: DateTime<Utc>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}
