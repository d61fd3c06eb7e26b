//! `io.kestra.plugin.gcp.vertexai.CustomJob` (plugin-gcp
//! `vertexai/CustomJob.java`): creates a Vertex AI custom job
//! (`projects.locations.customJobs.create` at
//! `{region}-aiplatform.googleapis.com`) named `displayName`, its
//! `spec` mapped as Kestra maps it ([`super::vertexai_spec`]).
//!
//! As Kestra: an error in the creation's answer fails the task; with
//! `wait` (default) the job is read again every 30 s until it has an end
//! time, then `state` and `endDate` are its final ones; with `delete`
//! (default) the ended job is deleted and the deletion awaited; then the
//! job's `error`, if any, fails the task with its message (a job that
//! ended without one succeeds, whatever its state, as in Kestra). A
//! killed task cancels the job (`customJobs.cancel`), as Kestra's `kill`.
//!
//! Differences: Kestra tails the job's Cloud Logging entries
//! (`resource.type="ml_job"`) into the task's logs through the gRPC
//! `entries.tail` stream; Baton does not (no streaming Logging client
//! here): it logs the filter that finds them. Kestra waits without limit;
//! Baton waits at most the job's own `scheduling.timeOut` plus an hour,
//! or Vertex AI's 7-day maximum run time plus a day.

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::common::GcpProps;
use super::rest::{Api, Detached};
use super::vertexai_spec::{job_spec, spec_ok};
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// Kestra's interval between two reads of the job.
const POLL: Duration = Duration::from_secs(30);
/// The longest wait when the spec sets no timeout: Vertex AI's 7-day
/// maximum run time, and a day for queueing.
const MAX_WAIT: Duration = Duration::from_secs(8 * 24 * 3600);
/// The longest wait for the job's deletion.
const MAX_DELETE: Duration = Duration::from_secs(600);

fn region_ok(v: &Value) -> Result<(), String> {
    match v.as_str() {
        Some(s) if !baton_model::expr::is_template(s) => region(s).map(|_| ()),
        _ => Ok(()),
    }
}

/// A region as it goes in the host name (`europe-west1`).
pub(crate) fn region(s: &str) -> Result<String, String> {
    let s = s.trim();
    if s.is_empty() || !s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
        return Err(format!("'{s}' is not a Google Cloud region (e.g. europe-west1)"));
    }
    Ok(s.to_string())
}

/// Run a Vertex AI custom job.
///
/// Starts a Vertex AI custom training job from a spec, waits for it to end and deletes it afterwards.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.gcp.vertexai.CustomJob",
    group = "gcp",
    example = "id: custom_job\ntype: io.kestra.plugin.gcp.vertexai.CustomJob\nprojectId: my-gcp-project\nregion: europe-west1\ndisplayName: Start Custom Job\nspec:\n  workerPoolSpecs:\n    - containerSpec:\n        imageUri: gcr.io/my-gcp-project/my-dir/my-image:latest\n      machineSpec:\n        machineType: n1-standard-4\n      replicaCount: 1\n",
    outputs(
        name(String, "The job's resource name (projects/…/locations/…/customJobs/…)."),
        createDate(String, "When the job was created."),
        updateDate(String, "When the job was last updated."),
        endDate(String, "When the job ended (only with `wait`)."),
        state(String, "The job's state (JOB_STATE_SUCCEEDED…): its final one with `wait`.")
    )
)]
struct Props {
    #[serde(flatten)]
    gcp: GcpProps,
    /// The Vertex AI region of the job.
    #[serde(deserialize_with = "de::string_lenient")]
    #[prop(check = region_ok)]
    region: String,
    /// The job's display name.
    #[serde(deserialize_with = "de::string_lenient")]
    display_name: String,
    /// The job: workerPoolSpecs (containerSpec, machineSpec, discSpec, replicaCount, pythonPackageSpec), serviceAccount, network, tensorboard, enableWebAccess, scheduling (timeOut, restartJobOnWorkerRestart), baseOutputDirectory (outputUriPrefix).
    #[serde(default)]
    #[prop(kind = "Map", required, check = spec_ok)]
    spec: Option<Value>,
    /// Wait for the job to end.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "true")]
    wait: Option<bool>,
    /// Delete the job once it has ended (only with `wait`).
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "true")]
    delete: Option<bool>,
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));

struct CustomJob {
    gcp: GcpProps,
    region: String,
    display_name: String,
    spec: Value,
    wait: bool,
    delete: bool,
    max_wait: Duration,
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    let spec = job_spec(p.spec.as_ref().unwrap_or(&Value::Null)).map_err(|e| TaskError::property("spec", e))?;
    let max_wait = max_wait(&spec);
    Ok(Box::new(CustomJob {
        region: region(&p.region).map_err(|e| TaskError::property("region", e))?,
        display_name: p.display_name,
        spec,
        wait: p.wait.unwrap_or(true),
        delete: p.delete.unwrap_or(true),
        max_wait,
        gcp: p.gcp,
    }))
}

/// How long to wait for the job: its own timeout and an hour, else [`MAX_WAIT`].
fn max_wait(spec: &Value) -> Duration {
    spec.pointer("/scheduling/timeout")
        .and_then(Value::as_str)
        .and_then(|t| t.trim_end_matches('s').parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0 && *s < 1e9)
        .map_or(MAX_WAIT, |s| Duration::from_secs_f64(s) + Duration::from_secs(3600))
}

/// Cancels the job when dropped armed: the task was killed while it ran.
struct CancelOnDrop(Option<Detached>);

impl CancelOnDrop {
    fn disarm(&mut self) {
        self.0 = None;
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(d) = self.0.take() {
            d.spawn();
        }
    }
}

fn text(v: &Value, k: &str) -> Value {
    v.get(k).filter(|x| x.is_string()).cloned().unwrap_or(Value::Null)
}

/// How long the job ran, as an ISO-8601 duration (`PT95S`).
fn ran(job: &Value) -> String {
    let at = |k: &str| job[k].as_str().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
    match (at("createTime"), at("endTime")) {
        (Some(a), Some(b)) => format!("PT{}S", (b - a).num_seconds()),
        _ => "an unknown time".into(),
    }
}

/// The task's failure when the ended job carries an error.
fn job_error(job: &Value) -> Option<TaskError> {
    let e = job.get("error").filter(|e| e.is_object())?;
    let msg = e["message"].as_str().unwrap_or("no message");
    Some(TaskError::failed(format!(
        "Vertex AI custom job {} ended in {}: {msg}",
        job["name"].as_str().unwrap_or_default(),
        job["state"].as_str().unwrap_or("an unknown state")
    )))
}

#[async_trait]
impl RunnableTask for CustomJob {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let r = self.gcp.resolve(cx)?;
        let project = r.project()?.to_string();
        let api = Api::connect(cx, &r, "Vertex AI", &format!("{}-aiplatform.googleapis.com", self.region)).await?;
        let body = json!({"displayName": self.display_name, "jobSpec": self.spec});
        let parent = format!("/v1/projects/{project}/locations/{}/customJobs", self.region);
        let job = api.post(cx, &parent, &body).await?;
        let Some(name) = job["name"].as_str().map(str::to_string) else {
            return Err(TaskError::failed("Vertex AI answered the job's creation without its name"));
        };
        let mut cancel = CancelOnDrop(Some(api.detached(cx, Method::POST, &format!("/v1/{name}:cancel"))?));
        if let Some(e) = job_error(&job) {
            cancel.disarm();
            return Err(e);
        }
        cx.info(&format!("Job created with name {name}"));
        if let Some(uris) = job["webAccessUris"].as_object().filter(|m| !m.is_empty()) {
            cx.info(&format!("Web access: {}", Value::Object(uris.clone())));
        }
        let id = name.rsplit('/').next().unwrap_or_default();
        cx.info(&format!(
            "The job's logs are in Cloud Logging (resource.type=\"ml_job\" AND resource.labels.job_id=\"{id}\"); they are not copied into this task's logs"
        ));
        let mut out = Map::new();
        out.insert("name".into(), json!(name));
        out.insert("createDate".into(), text(&job, "createTime"));
        out.insert("updateDate".into(), text(&job, "updateTime"));
        out.insert("state".into(), text(&job, "state"));
        if !self.wait {
            cancel.disarm();
            return Ok(TaskOutput::with(out));
        }
        let started = Instant::now();
        let ended = loop {
            let now = api.get(cx, &format!("/v1/{name}")).await;
            let now = match now {
                Ok(v) => v,
                Err(e) => {
                    cancel.disarm();
                    return Err(e);
                }
            };
            if now.get("endTime").is_some_and(|t| t.is_string()) {
                break now;
            }
            if started.elapsed() >= self.max_wait {
                cancel.disarm();
                return Err(TaskError::failed(format!(
                    "Vertex AI custom job {name} had not ended after {}s (last state {})",
                    self.max_wait.as_secs(),
                    now["state"].as_str().unwrap_or("unknown")
                )));
            }
            tokio::time::sleep(POLL).await;
        };
        cancel.disarm();
        out.insert("endDate".into(), text(&ended, "endTime"));
        out.insert("state".into(), text(&ended, "state"));
        cx.info(&format!(
            "Job {name} ended in {} with status {}",
            ran(&ended),
            ended["state"].as_str().unwrap_or("unknown")
        ));
        if self.delete {
            let op = api.delete(cx, &format!("/v1/{name}")).await?;
            api.wait_operation(cx, op, "v1", Duration::from_secs(5), MAX_DELETE).await?;
            cx.info(&format!("Job {name} is deleted"));
        }
        if let Some(e) = job_error(&ended) {
            return Err(e);
        }
        Ok(TaskOutput::with(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_go_in_a_host_name_only_when_plain() {
        assert_eq!(region(" europe-west1 ").as_deref(), Ok("europe-west1"));
        assert!(region("evil.com/x").is_err());
        assert!(region_ok(&json!("{{ vars.region }}")).is_ok());
    }

    #[test]
    fn the_job_s_error_names_it_and_its_state() {
        let job = json!({"name": "projects/p/locations/r/customJobs/1", "state": "JOB_STATE_FAILED",
                         "error": {"code": 3, "message": "image not found"}});
        let e = job_error(&job).expect("an error").to_string();
        assert!(e.contains("customJobs/1") && e.contains("JOB_STATE_FAILED") && e.contains("image not found"), "{e}");
        assert!(job_error(&json!({"state": "JOB_STATE_SUCCEEDED"})).is_none());
        let t = json!({"createTime": "2024-01-01T00:00:00Z", "endTime": "2024-01-01T00:01:35.5Z"});
        assert_eq!(ran(&t), "PT95S");
    }

    #[test]
    fn the_wait_is_bounded_by_the_job_s_own_timeout() {
        let spec = |t: Value| {
            job_spec(&json!({
            "workerPoolSpecs": [{"containerSpec": {"imageUri": "i"}, "machineSpec": {"machineType": "m"}}],
            "scheduling": {"timeOut": t, "restartJobOnWorkerRestart": true}}))
            .expect("spec")
        };
        assert_eq!(max_wait(&spec(json!("PT2H"))), Duration::from_secs(3 * 3600));
        assert_eq!(max_wait(&json!({})), MAX_WAIT);
        let props = json!({"region": "us-central1", "displayName": "j", "spec": {"workerPoolSpecs": []}});
        let e = build(props.as_object().expect("map")).err().expect("refused").to_string();
        assert!(e.contains("spec.workerPoolSpecs"), "{e}");
    }
}
