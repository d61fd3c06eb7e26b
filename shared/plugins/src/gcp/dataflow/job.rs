//! `io.kestra.plugin.gcp.dataflow.GetJob`, `CancelJob` and `WaitForJob`
//! (plugin-gcp `dataflow/GetJob.java`, `CancelJob.java`,
//! `WaitForJob.java`), on one job `jobId`:
//!
//! - `GetJob`: `jobs.get` then `jobs.getMetrics`; outputs `jobId`,
//!   `currentState`, `currentStateTime`, `createTime`, `type` and
//!   `metrics`.
//! - `CancelJob`: `jobs.update` with `requestedState` `JOB_STATE_CANCELLED`,
//!   or `JOB_STATE_DRAINING` when `drain` is true; outputs `jobId` and
//!   `currentState` of the job Google answers.
//! - `WaitForJob`: `jobs.get` at once, then every `pollInterval` (PT15S)
//!   until the job is in a state that ends it ([`super::TERMINAL`]), for at
//!   most `maxDuration` (PT1H), past which the task fails naming it. A job
//!   ending `JOB_STATE_FAILED` or `JOB_STATE_CANCELLED` fails the task,
//!   naming the job and the state; otherwise outputs `jobId`, `state` and
//!   `metrics`. Kestra also cancels the job when its task is killed; a
//!   killed Baton task stops waiting and leaves the job running.

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{Conn, TERMINAL, segment, text};
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// Kestra's default `pollInterval`.
const POLL: Duration = Duration::from_secs(15);
/// Kestra's default `maxDuration`.
const MAX: Duration = Duration::from_secs(3600);

/// Retrieve status and metadata of a Dataflow job.
///
/// Reads the job jobId and its metrics; outputs its currentState, currentStateTime, createTime, type and metrics.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.gcp.dataflow.GetJob",
    group = "gcp",
    example = "id: get_job\ntype: io.kestra.plugin.gcp.dataflow.GetJob\nprojectId: my-project\nlocation: us-central1\njobId: 2026-06-25_00_00_00-123456789\n",
    outputs(
        jobId(String, "The job ID."),
        currentState(String, "The job's current state (JOB_STATE_RUNNING, JOB_STATE_DONE…)."),
        currentStateTime(String, "When the job entered its current state."),
        createTime(String, "When the job was created."),
        type(String, "The job type (JOB_TYPE_BATCH, JOB_TYPE_STREAMING)."),
        metrics(Map, "The job's metrics: each metric's name and scalar value.")
    )
)]
struct GetProps {
    #[serde(flatten)]
    conn: Conn,
    /// The Dataflow job ID.
    #[serde(deserialize_with = "de::string_lenient")]
    job_id: String,
}

/// Cancel or drain a running Dataflow job.
///
/// Asks Dataflow to cancel the job jobId at once, or to drain it (drain: true, streaming jobs: in-flight data is processed first); outputs the job's jobId and currentState.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.gcp.dataflow.CancelJob",
    group = "gcp",
    example = "id: cancel\ntype: io.kestra.plugin.gcp.dataflow.CancelJob\nprojectId: my-project\nlocation: us-central1\njobId: 2026-06-25_00_00_00-123456789\ndrain: false\n",
    outputs(jobId(String, "The job ID."), currentState(String, "The job's current state."))
)]
struct CancelProps {
    #[serde(flatten)]
    conn: Conn,
    /// The Dataflow job ID.
    #[serde(deserialize_with = "de::string_lenient")]
    job_id: String,
    /// Drain the job instead of cancelling it (streaming jobs: in-flight data is processed first).
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "false")]
    drain: Option<bool>,
}

/// Wait for a Dataflow job to complete.
///
/// Reads the job jobId every pollInterval until it ends (JOB_STATE_DONE, JOB_STATE_FAILED, JOB_STATE_CANCELLED, JOB_STATE_DRAINED or JOB_STATE_UPDATED), at most maxDuration; fails when it ends failed or cancelled. Outputs jobId, state and metrics.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.gcp.dataflow.WaitForJob",
    group = "gcp",
    example = "id: wait\ntype: io.kestra.plugin.gcp.dataflow.WaitForJob\nprojectId: my-project\nlocation: us-central1\njobId: \"{{ outputs.launch.jobId }}\"\npollInterval: PT15S\nmaxDuration: PT1H\n",
    outputs(
        jobId(String, "The job ID."),
        state(String, "The state the job ended in."),
        metrics(Map, "The job's metrics when it ended: each metric's name and scalar value.")
    )
)]
struct WaitProps {
    #[serde(flatten)]
    conn: Conn,
    /// The Dataflow job ID.
    #[serde(deserialize_with = "de::string_lenient")]
    job_id: String,
    /// How often the job is read.
    #[serde(default, deserialize_with = "de::opt_duration")]
    #[prop(kind = "Duration", default = "\"PT15S\"")]
    poll_interval: Option<chrono::TimeDelta>,
    /// The longest wait for the job to end.
    #[serde(default, deserialize_with = "de::opt_duration")]
    #[prop(kind = "Duration", default = "\"PT1H\"")]
    max_duration: Option<chrono::TimeDelta>,
}

/// A positive duration property, or its default.
fn positive(property: &str, v: Option<chrono::TimeDelta>, default: Duration) -> Result<Duration, TaskError> {
    match v {
        None => Ok(default),
        Some(d) => d
            .to_std()
            .ok()
            .filter(|d| !d.is_zero())
            .ok_or_else(|| TaskError::property(property, "the duration must be positive")),
    }
}

enum Action {
    Get,
    Cancel { drain: bool },
    Wait { every: Duration, max: Duration },
}

struct JobTask {
    conn: Conn,
    job_id: String,
    action: Action,
}

fn build_get(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: GetProps = parse_props(props)?;
    Ok(Box::new(JobTask { job_id: segment("jobId", &p.job_id)?, conn: p.conn, action: Action::Get }))
}

fn build_cancel(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: CancelProps = parse_props(props)?;
    let action = Action::Cancel { drain: p.drain.unwrap_or(false) };
    Ok(Box::new(JobTask { job_id: segment("jobId", &p.job_id)?, conn: p.conn, action }))
}

fn build_wait(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: WaitProps = parse_props(props)?;
    let action = Action::Wait {
        every: positive("pollInterval", p.poll_interval, POLL)?,
        max: positive("maxDuration", p.max_duration, MAX)?,
    };
    Ok(Box::new(JobTask { job_id: segment("jobId", &p.job_id)?, conn: p.conn, action }))
}

/// What a job that ended in `state` does to the task: `Err` for the
/// states that fail it, naming the job and the state.
fn ended(job_id: &str, state: &str) -> Result<(), TaskError> {
    match state {
        "JOB_STATE_FAILED" => Err(TaskError::failed(format!(
            "Dataflow job '{job_id}' ended JOB_STATE_FAILED: check the Google Cloud Dataflow console for error details"
        ))),
        "JOB_STATE_CANCELLED" => {
            Err(TaskError::failed(format!("Dataflow job '{job_id}' was cancelled (JOB_STATE_CANCELLED)")))
        }
        _ => Ok(()),
    }
}

/// A duration as ISO-8601 text (`PT1H`, `PT1M30S`), for errors.
fn iso(d: Duration) -> String {
    let s = d.as_secs();
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    let mut out = String::from("PT");
    for (n, unit) in [(h, 'H'), (m, 'M'), (s, 'S')] {
        if n > 0 {
            out.push_str(&format!("{n}{unit}"));
        }
    }
    if out.len() == 2 { format!("PT{}S", d.as_secs_f64()) } else { out }
}

impl JobTask {
    async fn get(&self, cx: &RunContext) -> Result<Map<String, Value>, TaskError> {
        let df = self.conn.connect(cx).await?;
        let job = df.api.get(cx, &df.job_path(&self.job_id)).await?;
        let mut out = Map::new();
        out.insert("jobId".into(), Value::String(text(&job, "id")));
        for (k, field) in [
            ("currentState", "currentState"),
            ("currentStateTime", "currentStateTime"),
            ("createTime", "createTime"),
            ("type", "type"),
        ] {
            if let Some(v) = job.get(field).filter(|v| !v.is_null()) {
                out.insert(k.into(), v.clone());
            }
        }
        out.insert("metrics".into(), df.metrics(cx, &self.job_id).await);
        Ok(out)
    }

    async fn cancel(&self, cx: &RunContext, drain: bool) -> Result<Map<String, Value>, TaskError> {
        let df = self.conn.connect(cx).await?;
        let requested = if drain { "JOB_STATE_DRAINING" } else { "JOB_STATE_CANCELLED" };
        let body = json!({"requestedState": requested});
        let job = df.api.send(cx, Method::PUT, &df.job_path(&self.job_id), Some(&body)).await?;
        cx.info(&format!("Dataflow job '{}': requested {requested}", self.job_id));
        let mut out = Map::new();
        out.insert("jobId".into(), Value::String(text(&job, "id")));
        out.insert("currentState".into(), job.get("currentState").cloned().unwrap_or(Value::Null));
        Ok(out)
    }

    async fn wait(&self, cx: &RunContext, every: Duration, max: Duration) -> Result<Map<String, Value>, TaskError> {
        let df = self.conn.connect(cx).await?;
        let started = Instant::now();
        let mut last = String::new();
        let job = loop {
            let job = df.api.get(cx, &df.job_path(&self.job_id)).await?;
            let state = text(&job, "currentState");
            if state != last {
                cx.info(&format!("Dataflow job '{}' is {state}", self.job_id));
                last = state.clone();
            }
            if TERMINAL.contains(&state.as_str()) {
                break job;
            }
            if started.elapsed() + every > max {
                return Err(TaskError::failed(format!(
                    "Dataflow job '{}' did not complete within the maximum duration of {} (maxDuration); it is {state}",
                    self.job_id,
                    iso(max)
                )));
            }
            tokio::time::sleep(every).await;
        };
        let state = text(&job, "currentState");
        ended(&self.job_id, &state)?;
        let mut out = Map::new();
        out.insert("jobId".into(), Value::String(text(&job, "id")));
        out.insert("state".into(), Value::String(state));
        out.insert("metrics".into(), df.metrics(cx, &self.job_id).await);
        Ok(out)
    }
}

#[async_trait]
impl RunnableTask for JobTask {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let out = match self.action {
            Action::Get => self.get(cx).await?,
            Action::Cancel { drain } => self.cancel(cx, drain).await?,
            Action::Wait { every, max } => self.wait(cx, every, max).await?,
        };
        Ok(TaskOutput::with(out))
    }
}

pub static GET: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<GetProps>(build_get));
pub static CANCEL: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<CancelProps>(build_cancel));
pub static WAIT: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<WaitProps>(build_wait));

#[cfg(test)]
mod tests {
    use super::*;

    fn props(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn failed_and_cancelled_jobs_fail_naming_the_state() {
        let e = ended("j1", "JOB_STATE_FAILED").unwrap_err().to_string();
        assert!(e.contains("'j1'") && e.contains("JOB_STATE_FAILED"), "{e}");
        assert!(ended("j1", "JOB_STATE_CANCELLED").unwrap_err().to_string().contains("JOB_STATE_CANCELLED"));
        for ok in ["JOB_STATE_DONE", "JOB_STATE_DRAINED", "JOB_STATE_UPDATED"] {
            assert!(TERMINAL.contains(&ok) && ended("j", ok).is_ok(), "{ok}");
        }
        assert!(!TERMINAL.contains(&"JOB_STATE_RUNNING"));
    }

    #[test]
    fn durations_are_positive_and_the_job_a_segment() {
        let base = json!({"location": "us-central1", "jobId": "j"});
        assert!(build_wait(&props(base.clone())).is_ok());
        let mut bad = base.clone();
        bad["maxDuration"] = json!("PT0S");
        assert!(build_wait(&props(bad)).err().unwrap().to_string().contains("'maxDuration'"));
        let e = build_get(&props(json!({"location": "l", "jobId": "a/b"}))).err().unwrap().to_string();
        assert!(e.contains("'jobId'"), "{e}");
        assert_eq!((iso(Duration::from_secs(3600)), iso(Duration::from_secs(90))), ("PT1H".into(), "PT1M30S".into()));
    }
}
