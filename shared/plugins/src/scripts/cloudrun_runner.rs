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
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::cloudrun::{self, JobShape};
use super::config::ScriptsConfig;
use super::files;
use super::props::Form;
use super::runner::DockerOptions;
use super::task::{ScriptTask, shell_quote};
use crate::de::value_to_string;
use crate::{RunContext, TaskError, TaskOutput};
use baton_backend::{KvLookup, KvType, KvValue};
use baton_gcp::cloud_run::{CloudRunClient, CloudRunError};

/// The KV namespace of the attempts running as Cloud Run executions.
pub const RECORDS: &str = "baton.internal.cloudrun";

/// A Job's timeout when the task sets none (its `timeout` is enforced by
/// the sweep, which cancels the execution).
const JOB_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

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
            iam_endpoint: baton_gcp::Endpoints::from_vars(&get).iam_credentials,
        })
    }

    /// The Jobs API client of this configuration.
    pub fn client(&self, http: reqwest::Client) -> Result<CloudRunClient, String> {
        CloudRunClient::new(http, self.endpoint.as_deref(), &self.project, &self.region, &self.iam_endpoint)
            .map_err(|e| e.to_string())
    }
}

/// Job ids this process has seen exist (a Job's id is a hash of its
/// shape, so a known id needs no `jobs.get` again).
#[derive(Debug, Clone, Default)]
pub struct KnownJobs(Arc<Mutex<HashSet<String>>>);

impl KnownJobs {
    fn contains(&self, id: &str) -> bool {
        self.0.lock().is_ok_and(|s| s.contains(id))
    }
    fn insert(&self, id: &str) {
        if let Ok(mut s) = self.0.lock() {
            s.insert(id.to_string());
        }
    }
    fn remove(&self, id: &str) {
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
    pub started: DateTime<Utc>,
}

/// The record key of an attempt.
pub fn record_key(task_run_id: &str, attempt: u32) -> String {
    format!("{task_run_id}-{attempt}")
}

/// The `/bin/sh -c` wrapper: runs `"$@"` (interpreter and text) in the
/// working directory, its output and exit code kept in files there.
const WRAPPER: &str = "mkdir -p \"$WORKING_DIR\" && cd \"$WORKING_DIR\" || exit 125\n\
    [ -n \"$OUTPUT_DIR\" ] && mkdir -p \"$OUTPUT_DIR\"\n\
    \"$@\" > .baton-stdout 2> .baton-stderr\n\
    c=$?\n\
    echo $c > .baton-exit\n\
    exit $c";

/// Starts the attempt as a Cloud Run execution (once) and returns a
/// detached output: the result comes later, through the sweep.
pub(crate) async fn start(
    task: &ScriptTask,
    cx: &RunContext,
    opts: &DockerOptions,
    target: Target,
) -> Result<TaskOutput, TaskError> {
    let kv = &cx.services.kv;
    let key = record_key(&cx.task_run_id, cx.attempt);
    let failed = |what: &str, e: String| {
        TaskError::failed(format!("Cloud Run Job for image '{}': {what}: {e}", task.spec.image))
    };
    if let KvLookup::Found(v) =
        kv.get(RECORDS, &key, Utc::now()).await.map_err(|e| failed("stored state", e.to_string()))?
    {
        let name = v.value.get("execution").and_then(Value::as_str).unwrap_or("?").to_string();
        cx.info(&format!("Cloud Run execution {name} already runs this attempt: not started again"));
        return Ok(TaskOutput { detached: true, ..TaskOutput::default() });
    }
    if let Some(o) = &opts.cloud_run
        && !o.ignored.is_empty()
    {
        cx.warn(&format!("taskRunner properties not supported by Baton, ignored: {}", o.ignored.join(", ")));
    }
    let config = &target.config;
    let work_path = format!("{}/{}/work", cx.task_prefix(), cx.attempt);
    let container_dir = format!("{}{work_path}", config.mount_path.trim_end_matches('/'));

    // stage the files locally with the local runner's code, then upload them
    let staging = cx.working_dir()?;
    let local = staging.display().to_string();
    let staged = stage(task, cx, &staging).await;
    let uploaded = match staged {
        Ok(s) => upload(cx, &staging, &work_path).await.map(|()| s),
        Err(e) => Err(e),
    };
    if !cx.shares_working_dir() {
        let _ = tokio::fs::remove_dir_all(&staging).await;
    }
    let (script, out_rel) = uploaded?;
    let swap = |s: &str| s.replace(&local, &container_dir);

    let mut before = Vec::new();
    if task.spec.lang == super::props::Lang::Python && !task.spec.dependencies.is_empty() {
        let deps: Vec<String> = task.spec.dependencies.iter().map(|d| shell_quote(d)).collect();
        before.push(format!("pip install --quiet --disable-pip-version-check {}", deps.join(" ")));
    }
    let script_path = script.as_ref().map(|s| Path::new(&container_dir).join(s));
    let text = swap(&task.shell_text(&before, script_path.as_deref()));
    let out_dir = out_rel.as_ref().map(|r| format!("{container_dir}/{r}"));
    let mut env: Vec<(String, String)> = task
        .env(Path::new(&container_dir), out_dir.as_deref().map(Path::new))
        .into_iter()
        .map(|(k, v)| (k, swap(&v)))
        .collect();
    env.push(("BUCKET_PATH".into(), format!("gs://{}{work_path}", config.bucket)));
    let mut args = vec![WRAPPER.to_string(), "baton".to_string()];
    args.extend(task.spec.interpreter.iter().cloned());
    args.push(text);

    let shape = JobShape {
        image: task.spec.image.clone(),
        command: vec!["/bin/sh".into(), "-c".into()],
        cpu: opts.cpus.as_deref().and_then(cloudrun::cloud_run_cpu),
        memory_mib: opts.memory.map(|b| b.div_ceil(1 << 20)),
        timeout: JOB_TIMEOUT,
        service_account: target.service_account.clone(),
        bucket: config.bucket.clone(),
        mount_path: config.mount_path.clone(),
    };
    let client = config.client(cx.services.http.client()).map_err(|e| failed("client", e))?;
    let job_id = shape.job_id();
    let body = shape.job_body();
    let known = &cx.services.config.scripts.cloud_run_jobs;
    let ensure = || async {
        match client.get_job(&job_id).await.map_err(|e| failed("jobs.get", e.to_string()))? {
            None => client.create_job(&job_id, &body).await.map_err(|e| failed("jobs.create", e.to_string()))?,
            Some(job) if job["template"]["template"] != body["template"]["template"] => {
                client.patch_job(&job_id, &body).await.map_err(|e| failed("jobs.patch", e.to_string()))?
            }
            Some(_) => {}
        }
        known.insert(&job_id);
        Ok::<(), TaskError>(())
    };
    if !known.contains(&job_id) {
        ensure().await?;
    }
    let request = cloudrun::run_request(&args, &env, JOB_TIMEOUT);
    let execution = match client.run_job(&job_id, &request).await {
        // deleted since this process saw it: create it again, once
        Err(CloudRunError::Status { status: 404, .. }) => {
            known.remove(&job_id);
            ensure().await?;
            client.run_job(&job_id, &request).await
        }
        other => other,
    }
    .map_err(|e| failed("jobs.run", e.to_string()))?;
    let mut skip = vec![".baton-stdout".to_string(), ".baton-stderr".into(), ".baton-exit".into()];
    skip.extend(script);
    let record = Attempt {
        execution_id: cx.execution_id.clone(),
        task_run_id: cx.task_run_id.clone(),
        attempt: cx.attempt,
        namespace: cx.namespace.clone(),
        flow_id: cx.flow_id.clone(),
        task_id: cx.task_id.clone(),
        task_type: cx.task_type.clone(),
        image: task.spec.image.clone(),
        execution: execution.clone(),
        work_path,
        output_files: task.spec.output_files.clone(),
        output_dir: out_rel,
        skip,
        warning_on_std_err: task.spec.warning_on_std_err,
        started: Utc::now(),
    };
    let value = KvValue { kind: KvType::Json, value: serde_json::to_value(&record).unwrap_or_default() };
    kv.set(RECORDS, &key, &value, None, false, Utc::now()).await.map_err(|e| failed("stored state", e.to_string()))?;
    cx.info(&format!(
        "Running in container image '{}' as Cloud Run execution {execution} (job {job_id}); its result comes back \
         when it ends",
        task.spec.image
    ));
    Ok(TaskOutput { detached: true, ..TaskOutput::default() })
}

/// Writes input files, namespace files and the script into `dir`; returns
/// the script's name and the output directory relative to `dir`.
async fn stage(task: &ScriptTask, cx: &RunContext, dir: &Path) -> Result<(Option<String>, Option<String>), TaskError> {
    if task.spec.execution_context {
        // the working directory travels through internal storage, where the context must never go
        return Err(TaskError::property(
            "executionContext",
            "not supported with the Cloud Run task runner (its working directory travels through internal \
             storage, where the context's SECRET inputs must not go): run the task with the Process or Docker runner",
        ));
    }
    files::write_input_files(cx, dir, &task.spec.input_files).await?;
    let n = files::copy_namespace_files(cx, dir, &task.spec.namespace_files).await?;
    if n > 0 {
        cx.log("DEBUG", &format!("Copied {n} namespace file(s) into the working directory"));
    }
    let script = match task.spec.form {
        Form::Script => Some(task.write_script(cx, dir).await?),
        Form::Commands => None,
    };
    let out_rel = cx
        .output_dir_path()
        .and_then(|o| o.strip_prefix(dir).ok().map(|r| r.display().to_string()))
        .filter(|r| !r.is_empty());
    Ok((script, out_rel))
}

/// Uploads every file of `dir` to `{work_path}/…` in internal storage.
async fn upload(cx: &RunContext, dir: &Path, work_path: &str) -> Result<(), TaskError> {
    for rel in files::list_files(dir).await? {
        let file = tokio::fs::File::open(dir.join(&rel))
            .await
            .map_err(|e| TaskError::failed(format!("cannot read '{rel}' from the working directory: {e}")))?;
        let path = format!("{work_path}/{rel}");
        cx.services
            .storage
            .put(&path, Box::pin(file))
            .await
            .map_err(|e| TaskError::failed(format!("cannot upload '{rel}' to internal storage {path}: {e}")))?;
    }
    Ok(())
}
