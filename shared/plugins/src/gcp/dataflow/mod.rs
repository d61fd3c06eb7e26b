//! The Google Cloud Dataflow tasks (`io.kestra.plugin.gcp.dataflow.*`,
//! plugin-gcp `dataflow/`): `LaunchTemplate` and `LaunchFlexTemplate`
//! ([`launch`]) start a job from a template, `GetJob`, `CancelJob` and
//! `WaitForJob` ([`job`]) read, cancel (or drain) and follow one. Each
//! calls the Dataflow REST API v1b3 at `dataflow.googleapis.com` with the
//! task's Google credentials, in `location` of `projectId` (Kestra's
//! `AbstractDataflow`: the common GCP properties and `location`).
//!
//! What they share is here: the connection properties, a job's path, the
//! job states that end a job (Kestra's `WaitForJob`), and the job's
//! metrics as Kestra outputs them (each metric's `name.name` → its
//! `scalar`, read through `jobs.getMetrics`; a failed read is a warning, as
//! in Kestra). What the polling `dataflow.Trigger` does at each poll is in
//! [`watch`] (the trigger itself is `triggers::dataflow`).

pub mod job;
pub mod launch;
pub mod watch;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::common::GcpProps;
use super::rest::Api;
use crate::{Declare, RunContext, TaskError, de};

/// The job states that end a job: `WaitForJob` stops at the first.
pub const TERMINAL: &[&str] =
    &["JOB_STATE_DONE", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED", "JOB_STATE_DRAINED", "JOB_STATE_UPDATED"];

/// What every Dataflow task declares (Kestra's `AbstractDataflow`).
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
pub struct Conn {
    #[serde(flatten)]
    pub gcp: GcpProps,
    /// The regional endpoint of the job (e.g. us-central1).
    #[serde(deserialize_with = "de::string_lenient")]
    pub location: String,
}

/// A connected Dataflow API and the `projects/{p}/locations/{l}` path of
/// the task's calls.
pub struct Dataflow {
    pub api: Api,
    /// `/v1b3/projects/{projectId}/locations/{location}`.
    pub base: String,
}

impl Conn {
    /// The API with the task's credentials, and the path of its location.
    pub async fn connect(&self, cx: &RunContext) -> Result<Dataflow, TaskError> {
        let r = self.gcp.resolve(cx)?;
        let project = segment("projectId", r.project()?)?;
        let location = segment("location", &self.location)?;
        let api = Api::connect(cx, &r, "Dataflow", "dataflow.googleapis.com").await?;
        Ok(Dataflow { api, base: format!("/v1b3/projects/{project}/locations/{location}") })
    }
}

impl Dataflow {
    /// `…/jobs/{jobId}`.
    pub fn job_path(&self, job_id: &str) -> String {
        format!("{}/jobs/{job_id}", self.base)
    }

    /// The job's metrics as Kestra outputs them: `name.name` → `scalar`
    /// (the last one of a name wins); a failed read is logged and empty.
    pub async fn metrics(&self, cx: &RunContext, job_id: &str) -> Value {
        match self.api.get(cx, &format!("{}/metrics", self.job_path(job_id))).await {
            Ok(v) => Value::Object(metrics_of(&v)),
            Err(e) => {
                cx.warn(&format!("Failed to retrieve metrics for Dataflow job '{job_id}': {e}"));
                Value::Object(Map::new())
            }
        }
    }
}

/// `JobMetrics` → `{name: scalar}`.
fn metrics_of(v: &Value) -> Map<String, Value> {
    let mut out = Map::new();
    for m in v["metrics"].as_array().into_iter().flatten() {
        if let (Some(name), Some(scalar)) = (m["name"]["name"].as_str(), m.get("scalar").filter(|s| !s.is_null())) {
            out.insert(name.to_string(), scalar.clone());
        }
    }
    out
}

/// `value` as one segment of a call's path: trimmed, not empty, without
/// the characters that would change the path (`/`, `?`, `#`, `%`, spaces).
pub fn segment(property: &str, value: &str) -> Result<String, TaskError> {
    let v = value.trim();
    if v.is_empty() {
        return Err(TaskError::property(property, "is required"));
    }
    if let Some(c) = v.chars().find(|c| matches!(c, '/' | '?' | '#' | '%') || c.is_whitespace()) {
        return Err(TaskError::property(property, format!("'{v}' cannot hold '{c}'")));
    }
    Ok(v.to_string())
}

/// A field of the job Google answered, as a string (empty when absent).
pub fn text(job: &Value, field: &str) -> String {
    job[field].as_str().unwrap_or_default().to_string()
}

/// Registers the Dataflow tasks.
pub fn register(r: &mut crate::Registry) {
    r.register(*launch::TEMPLATE);
    r.register(*launch::FLEX);
    r.register(*job::GET);
    r.register(*job::CANCEL);
    r.register(*job::WAIT);
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn metrics_are_name_to_scalar() {
        let v = json!({"metrics": [
            {"name": {"name": "ElementCount", "origin": "dataflow/v1b3"}, "scalar": 42},
            {"name": {"name": "MeanByteCount"}, "meanSum": 3},
            {"scalar": 1}
        ]});
        assert_eq!(Value::Object(metrics_of(&v)), json!({"ElementCount": 42}));
        assert!(metrics_of(&json!({})).is_empty());
    }

    #[test]
    fn segments_and_queries_are_safe() {
        assert_eq!(segment("jobId", " 2026-01-01_00_00-1 ").unwrap(), "2026-01-01_00_00-1");
        assert!(segment("jobId", "a/b").unwrap_err().to_string().contains("'jobId'"));
        assert!(segment("location", "  ").unwrap_err().to_string().contains("required"));
    }
}
