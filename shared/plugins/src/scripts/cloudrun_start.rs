//! Starting a script task's attempt as a Cloud Run execution (the `gcp`
//! feature): the working folder staged in the internal bucket, the Job
//! created or reused by its shape, `jobs.run`, and the attempt's record
//! (see `cloudrun_runner` for the whole design).

use std::path::Path;
use std::time::Duration;

use chrono::Utc;
use serde_json::Value;

use super::cloudrun::{self, JobShape};
use super::cloudrun_runner::{Attempt, RECORDS, Target, record_key};
use super::files;
use super::props::Form;
use super::runner::DockerOptions;
use super::storage_uris::Localized;
use super::task::{ScriptTask, shell_quote};
use crate::{RunContext, TaskError, TaskOutput};
use baton_backend::{KvLookup, KvType, KvValue};
use baton_gcp::cloud_run::CloudRunError;

/// A Job's timeout when the task sets none (its `timeout` is enforced by
/// the sweep, which cancels the execution).
const JOB_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

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
    let (script, out_rel, cmds) = uploaded?;
    let swap = |s: &str| s.replace(&local, &container_dir);

    let mut before = Vec::new();
    if task.spec.lang == super::props::Lang::Python && !task.spec.dependencies.is_empty() {
        let deps: Vec<String> = task.spec.dependencies.iter().map(|d| shell_quote(d)).collect();
        before.push(format!("pip install --quiet --disable-pip-version-check {}", deps.join(" ")));
    }
    let script_path = script.as_ref().map(|s| Path::new(&container_dir).join(s));
    let text = swap(&task.shell_text(&before, script_path.as_deref(), &cmds));
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
        dbt_logs: task.spec.dbt_logs,
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

/// What [`stage`] leaves: the script's name, the output directory relative
/// to the working directory, the commands with their `kestra://` files local.
type Staged = (Option<String>, Option<String>, Localized);

/// Writes input files, namespace files, the files the commands name and the
/// script into `dir`.
async fn stage(task: &ScriptTask, cx: &RunContext, dir: &Path) -> Result<Staged, TaskError> {
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
    let cmds = super::storage_uris::localize(cx, dir, &task.spec.before_commands, &task.spec.commands).await?;
    let script = match task.spec.form {
        Form::Script => Some(task.write_script(cx, dir).await?),
        Form::Commands => None,
    };
    let out_rel = cx
        .output_dir_path()
        .and_then(|o| o.strip_prefix(dir).ok().map(|r| r.display().to_string()))
        .filter(|r| !r.is_empty());
    Ok((script, out_rel, cmds))
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
