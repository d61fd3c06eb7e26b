//! Script tasks as Cloud Run Job executions on Baton's GCP runtime: a task
//! on the Docker runner (Kestra's default) when the runtime has Cloud Run
//! configured (`BATON_CLOUD_RUN_REGION`), or on Kestra's
//! `io.kestra.plugin.ee.gcp.runner.CloudRun` runner. This file starts the
//! execution; `cloudrun_finish` reads its result back, and the `scheduler`
//! function's sweep (`functions::cloud_run_jobs`) does that later, so no
//! request is held open for the job's life.
//!
//! The working directory is a folder of the internal bucket
//! (`{task prefix}/{attempt}/work`) that Cloud Run's GCS volume mounts at
//! `{mount}/{that path}`: input files, namespace files and the script are
//! uploaded there before the run, output files are read there after it
//! (their `kestra://` URIs point at them, no copy). Templates were rendered
//! with the worker's local `workingDir`; that path is replaced by the
//! container's in the command and the env. The container's stdout, stderr
//! and exit code are written next to the files (`.baton-stdout`,
//! `.baton-stderr`, `.baton-exit`) by a `/bin/sh` wrapper, so logs and
//! `::{"outputs":…}::` lines come back without Cloud Logging (the image
//! needs `/bin/sh`, as Kestra's script tasks already assume).
//!
//! At-least-once: the attempt's record (KV namespace [`RECORDS`], key
//! `{taskRunId}-{attempt}`) is created after `jobs.run`, only if absent; a
//! redelivered job that finds it starts nothing. A worker dying between
//! `jobs.run` and the record leaves an execution nobody reads, bounded by
//! the Job's timeout.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[cfg(feature = "gcp")]
pub(crate) use super::cloudrun_start::start;
use super::config::ScriptsConfig;
use super::runner::DockerOptions;
use crate::TaskError;
use crate::de::value_to_string;
#[cfg(feature = "gcp")]
use baton_gcp::cloud_run::CloudRunClient;
#[cfg(not(feature = "gcp"))]
use {
    super::task::ScriptTask,
    crate::{RunContext, TaskOutput},
};

/// The KV namespace of the attempts running as Cloud Run executions.
pub const RECORDS: &str = "baton.internal.cloudrun";

/// The runtime's Cloud Run settings (read by `ScriptsConfig::from_env`).
#[derive(Debug, Clone, PartialEq)]
pub struct CloudRunConfig {
    pub project: String,
    pub region: String,
    /// The internal bucket, mounted into every Job.
    pub bucket: String,
    /// Where the bucket is mounted in the container (`BATON_CLOUD_RUN_MOUNT`).
    pub mount_path: String,
    /// The Jobs' service account (`BATON_CLOUD_RUN_SERVICE_ACCOUNT`).
    pub service_account: Option<String>,
    /// A Jobs API stand-in (`BATON_CLOUD_RUN_ENDPOINT`), called without credentials.
    pub endpoint: Option<String>,
    pub iam_endpoint: String,
}

impl CloudRunConfig {
    /// Set when `BATON_CLOUD_RUN_REGION`, `GOOGLE_CLOUD_PROJECT` and
    /// `BATON_INTERNAL_BUCKET` are.
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Option<CloudRunConfig> {
        let var = |k: &str| get(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        Some(CloudRunConfig {
            region: var("BATON_CLOUD_RUN_REGION")?,
            project: var("GOOGLE_CLOUD_PROJECT")?,
            bucket: var("BATON_INTERNAL_BUCKET")?,
            mount_path: var("BATON_CLOUD_RUN_MOUNT").unwrap_or_else(|| "/mnt/baton".into()),
            service_account: var("BATON_CLOUD_RUN_SERVICE_ACCOUNT"),
            endpoint: var("BATON_CLOUD_RUN_ENDPOINT"),
            iam_endpoint: iam_endpoint(&get)?,
        })
    }

    /// The Jobs API client of this configuration.
    #[cfg(feature = "gcp")]
    pub fn client(&self, http: reqwest::Client) -> Result<CloudRunClient, String> {
        CloudRunClient::new(http, self.endpoint.as_deref(), &self.project, &self.region, &self.iam_endpoint)
            .map_err(|e| e.to_string())
    }
}

/// The IAM credentials endpoint the Jobs' tokens come from; without the
/// `gcp` feature none, so no Cloud Run configuration.
#[cfg(feature = "gcp")]
fn iam_endpoint(get: &impl Fn(&str) -> Option<String>) -> Option<String> {
    Some(baton_gcp::Endpoints::from_vars(get).iam_credentials)
}

#[cfg(not(feature = "gcp"))]
fn iam_endpoint(_get: &impl Fn(&str) -> Option<String>) -> Option<String> {
    None
}

/// Job ids this process has seen exist (a Job's id is a hash of its
/// shape, so a known id needs no `jobs.get` again).
#[derive(Debug, Clone, Default)]
#[cfg_attr(not(feature = "gcp"), allow(dead_code))]
pub struct KnownJobs(Arc<Mutex<HashSet<String>>>);

#[cfg_attr(not(feature = "gcp"), allow(dead_code))]
impl KnownJobs {
    pub(crate) fn contains(&self, id: &str) -> bool {
        self.0.lock().is_ok_and(|s| s.contains(id))
    }
    pub(crate) fn insert(&self, id: &str) {
        if let Ok(mut s) = self.0.lock() {
            s.insert(id.to_string());
        }
    }
    pub(crate) fn remove(&self, id: &str) {
        if let Ok(mut s) = self.0.lock() {
            s.remove(id);
        }
    }
}

/// Kestra's `io.kestra.plugin.ee.gcp.runner.CloudRun` properties.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CloudRunOptions {
    pub project_id: Option<String>,
    pub region: Option<String>,
    pub service_account: Option<String>,
    pub bucket: Option<String>,
    /// Given but not honoured (logged as a warning).
    pub ignored: Vec<&'static str>,
}

/// Properties accepted and not acted on: Baton always waits (through the
/// sweep), uses the runtime's credentials and deletes nothing.
const IGNORED: &[&str] = &[
    "waitUntilCompletion",
    "completionCheckInterval",
    "delete",
    "resume",
    "impersonatedServiceAccount",
    "scopes",
    "maxRetries",
    "syncWorkingDirectory",
    "vpcAccessConnector",
    "vpcEgress",
    "version",
];

impl CloudRunOptions {
    pub(crate) fn parse(m: &Map<String, Value>) -> Result<CloudRunOptions, TaskError> {
        let s = |k: &str| m.get(k).filter(|v| !v.is_null()).map(value_to_string).filter(|v| !v.is_empty());
        Ok(CloudRunOptions {
            project_id: s("projectId"),
            region: s("region"),
            service_account: s("serviceAccount"),
            bucket: s("bucket"),
            ignored: IGNORED.iter().copied().filter(|k| m.get(*k).is_some_and(|v| !v.is_null())).collect(),
        })
    }
}

/// Where one attempt runs, once decided.
#[cfg_attr(not(feature = "gcp"), allow(dead_code))]
pub(crate) struct Target {
    pub config: CloudRunConfig,
    pub service_account: Option<String>,
}

/// Whether the task runs as a Cloud Run Job: on the CloudRun runner
/// (which then requires the GCP runtime), or on the Docker runner when
/// the runtime has Cloud Run configured.
pub(crate) fn target(opts: &DockerOptions, config: &ScriptsConfig) -> Result<Option<Target>, TaskError> {
    let explicit = opts.cloud_run.as_ref();
    let Some(base) = config.cloud_run.clone() else {
        return match explicit {
            None => Ok(None),
            Some(_) => Err(TaskError::property(
                "taskRunner",
                "io.kestra.plugin.ee.gcp.runner.CloudRun runs only on Baton's GCP runtime (BATON_CLOUD_RUN_REGION, \
                 GOOGLE_CLOUD_PROJECT and BATON_INTERNAL_BUCKET set); locally use \
                 io.kestra.plugin.scripts.runner.docker.Docker",
            )),
        };
    };
    let mut c = base;
    let mut service_account = c.service_account.clone();
    if let Some(o) = explicit {
        if let Some(p) = &o.project_id {
            c.project = p.clone();
        }
        if let Some(r) = &o.region {
            c.region = r.clone();
        }
        if let Some(b) = &o.bucket
            && b.trim_start_matches("gs://").trim_end_matches('/') != c.bucket
        {
            return Err(TaskError::property(
                "taskRunner.bucket",
                format!("'{b}' is not Baton's internal bucket '{}': files move through the internal bucket", c.bucket),
            ));
        }
        if o.service_account.is_some() {
            service_account = o.service_account.clone();
        }
    }
    Ok(Some(Target { config: c, service_account }))
}

/// What the sweep needs to finish an attempt that runs as a Cloud Run execution.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    pub execution_id: String,
    pub task_run_id: String,
    pub attempt: u32,
    pub namespace: String,
    pub flow_id: String,
    pub task_id: String,
    /// The task's type: its worker group hears of the end.
    #[serde(default)]
    pub task_type: String,
    pub image: String,
    /// The Cloud Run execution's full name.
    pub execution: String,
    /// The working folder in internal storage (`/…/work`).
    pub work_path: String,
    pub output_files: Vec<String>,
    /// `{{ outputDir }}` relative to the working folder, if the task has one.
    pub output_dir: Option<String>,
    /// Working-folder files that are not outputs (the script).
    pub skip: Vec<String>,
    pub warning_on_std_err: bool,
    /// DbtCLI: the lines are dbt's logs (`dbt_log`).
    #[serde(default)]
    pub dbt_logs: bool,
    pub started: DateTime<Utc>,
}

/// The record key of an attempt.
pub fn record_key(task_run_id: &str, attempt: u32) -> String {
    format!("{task_run_id}-{attempt}")
}

/// Without the `gcp` feature there is no Cloud Run configuration
/// (`CloudRunConfig::from_vars` is `None`), so no target to start on.
#[cfg(not(feature = "gcp"))]
pub(crate) async fn start(
    task: &ScriptTask,
    _cx: &RunContext,
    _opts: &DockerOptions,
    _target: Target,
) -> Result<TaskOutput, TaskError> {
    Err(TaskError::failed(format!(
        "Cloud Run Job for image '{}': this baton is built without the gcp feature",
        task.spec.image
    )))
}
