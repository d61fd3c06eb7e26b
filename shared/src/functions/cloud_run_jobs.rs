//! Script tasks running as Cloud Run Job executions, seen to their end by
//! the `scheduler` function's sweep (every minute): for each attempt the
//! worker started and recorded (`plugins::scripts::cloudrun_runner`), one
//! `executions.get`. An ended execution is announced to the task's worker
//! group as a [`CloudRunDone`] message (the worker holds the secrets its
//! logs, outputs and output files are masked with): the worker reads the result back
//! from the internal bucket (logs, outputs, output files, exit code) and
//! reports it as the attempt's `TaskResult`, so a task may run for hours
//! while no request is held open. An attempt whose task run ended
//! meanwhile (the execution was killed, or the attempt was reported lost)
//! has its Cloud Run execution cancelled; one running past its task's
//! `timeout` is cancelled and reported FAILED. The record is deleted
//! last, by the worker: a message lost or a sweep dying halfway is done
//! again at the next sweep, and a second message finds no record (the
//! executor also ignores a second result of a finished attempt). The
//! working folder then keeps the attempt's output files only.

use std::sync::Arc;

use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::backend::{BackendError, KvLookup, LogEntry, Topic};
use crate::model::StateType;
use crate::model::duration::format_iso;
use crate::plugins::context::{mask_json, mask_secrets};
use crate::plugins::scripts::cloudrun_finish::{self, Finished};
use crate::plugins::scripts::cloudrun_runner::{Attempt, RECORDS, record_key};
use crate::plugins::scripts::{CloudRunOutcome, cloudrun_outcome};
use crate::runtime::engine::Engine;
use crate::runtime::launcher::publish_event;
use crate::runtime::messages::{ExecutionEvent, TaskResult};

/// The sweep's message to a worker group: attempt `cloud_run_done`'s
/// Cloud Run execution ended: `succeeded`, `failed` (with the condition's
/// `reason`) or `cancelled`; `error`: why the sweep ended it (a timeout).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CloudRunDone {
    pub cloud_run_done: String,
    pub outcome: String,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
}

impl CloudRunDone {
    fn new(key: String, outcome: &CloudRunOutcome, error: Option<String>) -> CloudRunDone {
        let (outcome, reason) = match outcome {
            CloudRunOutcome::Succeeded => ("succeeded", None),
            CloudRunOutcome::Failed(r) => ("failed", Some(r.clone())),
            CloudRunOutcome::Cancelled | CloudRunOutcome::Running => ("cancelled", None),
        };
        CloudRunDone { cloud_run_done: key, outcome: outcome.into(), reason, error }
    }

    fn outcome(&self) -> CloudRunOutcome {
        match (self.outcome.as_str(), &self.error) {
            (_, Some(_)) => CloudRunOutcome::Cancelled,
            ("succeeded", _) => CloudRunOutcome::Succeeded,
            ("failed", _) => CloudRunOutcome::Failed(self.reason.clone().unwrap_or_default()),
            _ => CloudRunOutcome::Cancelled,
        }
    }
}

/// What one pass found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CloudRunReport {
    /// Cloud Run executions still running.
    pub running: usize,
    /// Attempts whose result was reported: `(task run id, attempt)`.
    pub finished: Vec<(String, u32)>,
    /// Cloud Run executions cancelled (task ended, killed, or timed out).
    pub cancelled: Vec<String>,
}

/// Checks every recorded Cloud Run execution once.
pub async fn poll(engine: &Arc<Engine>) -> Result<CloudRunReport, BackendError> {
    let mut report = CloudRunReport::default();
    let Some(config) = engine.plugins.scripts.cloud_run.clone() else { return Ok(report) };
    let entries = engine.kv.list(RECORDS, Utc::now()).await?;
    if entries.is_empty() {
        return Ok(report);
    }
    let client = config.client(engine.http.client()).map_err(BackendError::Invalid)?;
    for entry in entries {
        let KvLookup::Found(v) = engine.kv.get(RECORDS, &entry.key, Utc::now()).await? else { continue };
        let Ok(a) = serde_json::from_value::<Attempt>(v.value) else {
            tracing::warn!(key = %entry.key, "unreadable Cloud Run record dropped");
            engine.kv.delete(RECORDS, &entry.key).await?;
            continue;
        };
        if let Err(e) = poll_one(engine, &client, &a, &mut report).await {
            // one broken attempt must not stop the others
            tracing::warn!(execution = %a.execution, task_run_id = %a.task_run_id, error = %e, "Cloud Run check failed");
        }
    }
    Ok(report)
}

async fn poll_one(
    engine: &Arc<Engine>,
    client: &crate::gcp::cloud_run::CloudRunClient,
    a: &Attempt,
    report: &mut CloudRunReport,
) -> Result<(), BackendError> {
    let api = |e: crate::gcp::cloud_run::CloudRunError| BackendError::Invalid(e.to_string());
    let key = record_key(&a.task_run_id, a.attempt);
    let exec = engine.state.load_execution(&a.execution_id).await?;
    let attempt_state = exec.as_ref().and_then(|e| {
        let tr = e.task_run_list.iter().find(|t| t.id == a.task_run_id)?;
        tr.attempts.get(a.attempt.checked_sub(1)? as usize).map(|at| at.state.current)
    });
    let live =
        matches!(attempt_state, Some(s) if !s.is_terminal()) && exec.as_ref().is_some_and(|e| !e.state.is_terminal());
    let execution = client.get_execution(&a.execution).await.map_err(api)?;
    let outcome = execution.as_ref().map_or(CloudRunOutcome::Cancelled, cloudrun_outcome);
    if !live {
        // killed, lost or already reported: nothing may keep running
        if outcome == CloudRunOutcome::Running {
            client.cancel_execution(&a.execution).await.map_err(api)?;
            tracing::info!(execution = %a.execution, task_run_id = %a.task_run_id, "task ended: Cloud Run execution cancelled");
            report.cancelled.push(a.execution.clone());
        }
        engine.kv.delete(RECORDS, &key).await?;
        return Ok(());
    }
    let mut error = None;
    if outcome == CloudRunOutcome::Running {
        let timeout = match &exec {
            Some(e) => task_timeout(engine, e, &a.task_id).await,
            None => None,
        };
        match timeout {
            Some(t) if Utc::now() - a.started > t => {
                client.cancel_execution(&a.execution).await.map_err(api)?;
                report.cancelled.push(a.execution.clone());
                error = Some(format!("Timeout after {}", format_iso(t)));
            }
            _ => {
                report.running += 1;
                return Ok(());
            }
        }
    }
    let group = engine.registry.get(&a.task_type).map_or("scripts", |d| d.group).to_string();
    let done = CloudRunDone::new(key, &outcome, error);
    let payload = serde_json::to_vec(&done).map_err(|e| BackendError::Invalid(e.to_string()))?;
    engine.queue.publish(&Topic::Tasks(group), payload).await?;
    report.finished.push((a.task_run_id.clone(), a.attempt));
    Ok(())
}

/// The worker's part: reports the result of the attempt `done` names
/// (read back from the bucket, masked with this engine's secrets) and
/// drops its record. `false`: no such record (already reported).
pub async fn finish(engine: &Arc<Engine>, done: &CloudRunDone) -> Result<bool, BackendError> {
    let KvLookup::Found(v) = engine.kv.get(RECORDS, &done.cloud_run_done, Utc::now()).await? else {
        return Ok(false);
    };
    let a: Attempt = serde_json::from_value(v.value).map_err(|e| BackendError::Invalid(e.to_string()))?;
    let mut f = cloudrun_finish::collect(engine.storage.as_ref(), &a, &done.outcome()).await;
    if let Some(e) = &done.error {
        f.logs.push(("ERROR".into(), e.clone()));
        f.error = Some(e.clone());
    }
    let kept = output_paths(&f);
    // the working folder's files, listed once: masked, then cleared
    let files = engine.storage.list(&format!("{}/", a.work_path)).await?;
    report_result(engine, &a, f, &files).await?;
    engine.kv.delete(RECORDS, &done.cloud_run_done).await?;
    clear_working_folder(engine, &a, &files, &kept).await;
    Ok(true)
}

/// The internal-storage paths of the attempt's output files.
fn output_paths(f: &Finished) -> Vec<String> {
    let files = f.outputs.get("outputFiles").and_then(Value::as_object);
    files
        .into_iter()
        .flat_map(|m| m.values())
        .filter_map(|v| v.as_str()?.strip_prefix("kestra://").map(str::to_string))
        .collect()
}

/// Once the result is reported, the attempt's working folder keeps its
/// output files only, as a local task's working directory is deleted once
/// its output files are stored: the rendered script, the input and
/// namespace files, stdout, stderr and the exit code go (they were masked
/// already). Last, after the record: a worker dying before this leaves
/// files behind, never a result unreported. A file whose path begins
/// another that is kept stays (storage deletes by prefix).
async fn clear_working_folder(engine: &Engine, a: &Attempt, files: &[String], kept: &[String]) {
    for path in files {
        if kept.iter().any(|k| k.starts_with(path.as_str())) {
            continue;
        }
        if let Err(e) = engine.storage.delete_prefix(path).await {
            tracing::warn!(task_run_id = %a.task_run_id, path, error = %e, "cannot delete a Cloud Run working file");
        }
    }
}

/// The task's `timeout`, from the flow revision the execution runs.
async fn task_timeout(engine: &Engine, exec: &crate::model::Execution, task_id: &str) -> Option<chrono::Duration> {
    let flow =
        crate::runtime::flows::at_revision(engine, &exec.namespace, &exec.flow_id, exec.flow_revision).await.ok()?;
    flow.find_task(task_id)?.timeout
}

/// Reports `f`, the files of the attempt's working folder (`files`) masked first.
async fn report_result(
    engine: &Arc<Engine>,
    a: &Attempt,
    mut f: Finished,
    files: &[String],
) -> Result<(), BackendError> {
    let now = Utc::now();
    let mut secrets = engine.secrets.values();
    // the execution's SECRET inputs are masked like secrets, as in-process tasks do
    if let Some(exec) = engine.state.load_execution(&a.execution_id).await? {
        secrets.extend(crate::model::flow::secret_values_of(&exec.secret_inputs, &exec.inputs));
    }
    // a secret the container wrote into a file of its working folder (an
    // output file, its stdout and stderr, the rendered script) is masked in
    // the bucket, as a local task's output files are before they are stored
    // (and a local working folder is deleted)
    for path in files {
        if let Err(e) = crate::plugins::scripts::mask_stored(engine.storage.as_ref(), path, secrets.clone()).await {
            f.logs.push(("ERROR".into(), e.clone()));
            f.error.get_or_insert(e);
        }
    }
    let mask = |t: &str| mask_secrets(t, &secrets);
    let mut logs: Vec<LogEntry> = f
        .logs
        .iter()
        .map(|(level, message)| LogEntry { level: level.clone(), message: mask(message), ..logs_template(a, now) })
        .collect();
    // the script's metrics, within the bounds a task run has in-process too
    let mut metrics = crate::backend::metrics::MetricBuffer::default();
    for m in &f.metrics {
        let tags = m.tags.iter().map(|(k, v)| (k.clone(), mask(v))).collect();
        if let Err(e) = metrics.record(m.kind, &m.name, m.value, tags, now) {
            logs.push(LogEntry { level: "WARN".into(), message: mask(&e.to_string()), ..logs_template(a, now) });
        }
    }
    let entries = metrics.entries(&a.namespace, &a.flow_id, &a.execution_id, &a.task_id, &a.task_run_id);
    engine.state.metrics().save_metrics(&a.task_run_id, a.attempt, &entries).await?;
    if let Some(e) = &f.error
        && !f.logs.iter().any(|(_, m)| m == e)
    {
        logs.push(LogEntry { level: "ERROR".into(), message: mask(e), ..logs_template(a, now) });
    }
    engine.state.append_logs(&logs).await?;
    let outputs = match mask_json(Value::Object(f.outputs), &secrets) {
        Value::Object(m) => m,
        _ => Default::default(),
    };
    let result = TaskResult {
        state: if f.error.is_some() { StateType::Failed } else { f.state },
        outputs,
        error: f.error.map(|e| mask(&e)),
        labels: vec![],
        variables: None,
        start: a.started,
        end: now,
        log_file: None,
        metrics: Vec::new(),
        claim_left_open: false,
    };
    let event = ExecutionEvent::TaskResult {
        execution_id: a.execution_id.clone(),
        task_run_id: a.task_run_id.clone(),
        attempt: a.attempt,
        result,
    };
    publish_event(engine, &event).await
}

fn logs_template(a: &Attempt, now: chrono::DateTime<Utc>) -> LogEntry {
    LogEntry {
        namespace: a.namespace.clone(),
        flow_id: a.flow_id.clone(),
        execution_id: a.execution_id.clone(),
        task_id: Some(a.task_id.clone()),
        task_run_id: Some(a.task_run_id.clone()),
        attempt_number: Some(a.attempt),
        timestamp: now,
        level: "INFO".into(),
        message: String::new(),
    }
}
