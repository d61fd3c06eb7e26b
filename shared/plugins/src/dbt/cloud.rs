//! `io.kestra.plugin.dbt.cloud.TriggerRun` and `CheckStatus` (plugin-dbt
//! `cloud/`), on dbt Cloud's API v2 ([`super::cloud_api`]).
//!
//! `TriggerRun` posts `/jobs/{jobId}/run/` with `cause` and the overrides
//! Kestra sends (`git_sha`, `git_branch`, `schema_override`,
//! `dbt_version_override`, `threads_override`, `target_name_override`,
//! `generate_docs_override`, `timeout_seconds_override`, `steps_override`),
//! then, unless `wait: false`, does what `CheckStatus` does with the run it
//! started. `CheckStatus` polls `/runs/{runId}/` every `pollFrequency`
//! until the run ends (Kestra's precedence: the integer `status` 10, 20 or
//! 30, else `is_complete`, else `status_humanized`), logging the status
//! changes and each step's new log lines (`[Step name]: line`); past
//! `maxDuration` it fails naming that bound. It reads the run once more
//! with the debug logs (best effort), fails on a run that did not succeed
//! (its status, duration and message), then stores the artifacts
//! `run_results.json` and `manifest.json` (a 404, an artifact dbt Cloud did
//! not make, leaves its output out): outputs `runResults` and `manifest`
//! (and `runId` for `TriggerRun`). With `parseRunResults` (the default) the
//! nodes of `run_results.json` are logged as `DbtCLI` logs them.

use std::collections::HashMap;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::cloud_api::{Api, Connection, answer_error};
use super::results;
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// The shortest `pollFrequency` (a shorter one would hammer the API).
pub const MIN_POLL_FREQUENCY: Duration = Duration::from_millis(100);

fn poll_ok(v: &Value) -> Result<(), String> {
    match v.as_str().filter(|s| !baton_model::expr::is_template(s)).map(baton_model::duration::parse_iso) {
        Some(Ok(d)) if d < chrono::Duration::milliseconds(MIN_POLL_FREQUENCY.as_millis() as i64) => {
            Err(format!("polling more often than every {} ms is refused", MIN_POLL_FREQUENCY.as_millis()))
        }
        _ => Ok(()),
    }
}

/// How `CheckStatus` (and a waiting `TriggerRun`) watch a run.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
struct WaitProps {
    /// The wait between two status checks.
    #[serde(default, deserialize_with = "de::opt_duration")]
    #[prop(kind = "Duration", default = "\"PT5S\"", check = poll_ok)]
    poll_frequency: Option<chrono::Duration>,
    /// The longest wait for the run to end; past it the task fails naming this bound.
    #[serde(default, deserialize_with = "de::opt_duration")]
    #[prop(kind = "Duration", default = "\"PT60M\"")]
    max_duration: Option<chrono::Duration>,
    /// Log one line per dbt node of run_results.json (its status, time and message), as DbtCLI does.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "true")]
    parse_run_results: Option<bool>,
}

/// What watching a run needs, checked.
#[derive(Debug, Clone)]
struct Watch {
    poll: Duration,
    max: Duration,
    parse: bool,
}

impl WaitProps {
    fn watch(&self) -> Result<Watch, TaskError> {
        let to_std = |d: Option<chrono::Duration>, default: Duration, name: &str| match d {
            None => Ok(default),
            Some(d) => d.to_std().map_err(|_| TaskError::property(name, "a duration cannot be negative")),
        };
        let poll = to_std(self.poll_frequency, Duration::from_secs(5), "pollFrequency")?;
        if poll < MIN_POLL_FREQUENCY {
            return Err(TaskError::property(
                "pollFrequency",
                format!("polling more often than every {} ms is refused", MIN_POLL_FREQUENCY.as_millis()),
            ));
        }
        let max = to_std(self.max_duration, Duration::from_secs(3600), "maxDuration")?;
        Ok(Watch { poll, max, parse: self.parse_run_results.unwrap_or(true) })
    }
}

/// Trigger a dbt Cloud job run.
///
/// Starts a run of a dbt Cloud job and, unless `wait: false`, polls it until it ends (every `pollFrequency`, at most `maxDuration`), logging its steps, and stores its run_results.json and manifest.json. dbt Cloud's answers are read whole, each at most 64 MiB (`MAX_DBT_ARTIFACT_BYTES`).
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.dbt.cloud.TriggerRun",
    group = "core",
    example = "id: trigger_run\ntype: io.kestra.plugin.dbt.cloud.TriggerRun\naccountId: \"12345\"\ntoken: \"{{ secret('DBT_TOKEN') }}\"\njobId: \"67890\"\n",
    outputs(
        runId(Integer, "The dbt Cloud run's ID."),
        runResults(String, "run_results.json of the run (kestra:// URI), when dbt Cloud made it."),
        manifest(String, "manifest.json of the run (kestra:// URI), when dbt Cloud made it.")
    )
)]
struct TriggerProps {
    #[serde(flatten)]
    connection: Connection,
    /// The numeric ID of the job to run.
    #[serde(deserialize_with = "de::string_lenient")]
    job_id: String,
    /// Why the job runs, as dbt Cloud shows it.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(default = "\"Triggered by Kestra.\"")]
    cause: Option<String>,
    /// The commit to check out (git_sha).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    git_sha: Option<String>,
    /// The branch to check out (git_branch).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    git_branch: Option<String>,
    /// The schema to build into instead of the job's (schema_override).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    schema_override: Option<String>,
    /// The dbt version to run (dbt_version_override).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    dbt_version_override: Option<String>,
    /// The thread count (threads_override).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    threads_override: Option<String>,
    /// The value of target.name (target_name_override).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    target_name_override: Option<String>,
    /// Build the docs whatever the job says (generate_docs_override).
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    generate_docs_override: Option<bool>,
    /// The run's timeout in seconds (timeout_seconds_override).
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    timeout_seconds_override: Option<u64>,
    /// dbt commands run instead of the job's steps (steps_override).
    #[serde(default, deserialize_with = "de::string_or_list")]
    #[prop(kind = "StringOrList")]
    steps_override: Vec<String>,
    /// Wait for the run to end; false ends the task once the run is started (output runId only).
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "true")]
    wait: Option<bool>,
    #[serde(flatten)]
    watch: WaitProps,
}

/// Check a dbt Cloud run.
///
/// Polls a dbt Cloud run until it ends (every `pollFrequency`, at most `maxDuration`), logging its steps; fails unless it succeeded; stores its run_results.json and manifest.json. dbt Cloud's answers are read whole, each at most 64 MiB (`MAX_DBT_ARTIFACT_BYTES`).
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.dbt.cloud.CheckStatus",
    group = "core",
    example = "id: check_status\ntype: io.kestra.plugin.dbt.cloud.CheckStatus\naccountId: \"12345\"\ntoken: \"{{ secret('DBT_TOKEN') }}\"\nrunId: \"{{ outputs.trigger_run.runId }}\"\n",
    outputs(
        runResults(String, "run_results.json of the run (kestra:// URI), when dbt Cloud made it."),
        manifest(String, "manifest.json of the run (kestra:// URI), when dbt Cloud made it.")
    )
)]
struct CheckProps {
    #[serde(flatten)]
    connection: Connection,
    /// The numeric ID of the run to watch.
    #[serde(deserialize_with = "de::string_lenient")]
    run_id: String,
    #[serde(flatten)]
    watch: WaitProps,
}

#[derive(Debug)]
struct TriggerRun {
    api: Api,
    job: String,
    body: Value,
    wait: bool,
    watch: Watch,
}

#[derive(Debug)]
struct CheckStatus {
    api: Api,
    run: u64,
    watch: Watch,
}

fn build_trigger(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: TriggerProps = parse_props(props)?;
    let api = Api::new(&p.connection)?;
    let job = p.job_id.trim().to_string();
    if job.is_empty() || !job.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TaskError::property("jobId", format!("'{job}' is not a numeric dbt Cloud job ID")));
    }
    let mut body = Map::new();
    body.insert("cause".into(), json!(p.cause.unwrap_or_else(|| "Triggered by Kestra.".into())));
    for (key, v) in [
        ("git_sha", p.git_sha),
        ("git_branch", p.git_branch),
        ("schema_override", p.schema_override),
        ("dbt_version_override", p.dbt_version_override),
        ("threads_override", p.threads_override),
        ("target_name_override", p.target_name_override),
    ] {
        if let Some(v) = v {
            body.insert(key.into(), json!(v));
        }
    }
    if let Some(b) = p.generate_docs_override {
        body.insert("generate_docs_override".into(), json!(b));
    }
    if let Some(t) = p.timeout_seconds_override {
        body.insert("timeout_seconds_override".into(), json!(t));
    }
    if !p.steps_override.is_empty() {
        body.insert("steps_override".into(), json!(p.steps_override));
    }
    let watch = p.watch.watch()?;
    Ok(Box::new(TriggerRun { api, job, body: Value::Object(body), wait: p.wait.unwrap_or(true), watch }))
}

fn build_check(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: CheckProps = parse_props(props)?;
    let api = Api::new(&p.connection)?;
    let run = p.run_id.trim().parse::<u64>().map_err(|_| {
        TaskError::property("runId", format!("'{}' is not a numeric dbt Cloud run ID", p.run_id.trim()))
    })?;
    Ok(Box::new(CheckStatus { api, run, watch: p.watch.watch()? }))
}

pub static TRIGGER_RUN: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<TriggerProps>(build_trigger));
pub static CHECK_STATUS: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<CheckProps>(build_check));

#[async_trait]
impl RunnableTask for TriggerRun {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let url = self.api.url(&format!("/jobs/{}/run/", self.job));
        let answer = self.api.json(cx, Method::POST, &url, Some(&self.body)).await?;
        let run = answer.pointer("/data/id").and_then(Value::as_u64).ok_or_else(|| {
            TaskError::failed(format!("dbt Cloud's answer to the run of job {} has no data.id: {answer}", self.job))
        })?;
        let status = answer.pointer("/data/status_humanized").and_then(Value::as_str).unwrap_or("unknown");
        cx.info(&format!("Started dbt Cloud run {run} of job {} (status {status})", self.job));
        let mut out = Map::new();
        out.insert("runId".into(), json!(run));
        if self.wait {
            out.extend(watch(cx, &self.api, run, &self.watch).await?);
        }
        Ok(TaskOutput::with(out))
    }
}

#[async_trait]
impl RunnableTask for CheckStatus {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        Ok(TaskOutput::with(watch(cx, &self.api, self.run, &self.watch).await?))
    }
}

/// `Some(true)` once the run ended, `None` when the answer says nothing
/// of its status (Kestra's precedence: `status`, `is_complete`,
/// `status_humanized`).
fn ended(data: &Value) -> Option<bool> {
    if let Some(s) = data.get("status").and_then(Value::as_i64) {
        return Some(matches!(s, 10 | 20 | 30));
    }
    if let Some(c) = data.get("is_complete").and_then(Value::as_bool) {
        return Some(c);
    }
    data.get("status_humanized").and_then(Value::as_str).map(|h| matches!(h, "Success" | "Error" | "Cancelled"))
}

/// Whether an ended run succeeded (`status` 10, else `is_success` and not
/// `is_error`, else `status_humanized` Success).
fn succeeded(data: &Value) -> bool {
    if let Some(s) = data.get("status").and_then(Value::as_i64) {
        return s == 10;
    }
    if let Some(ok) = data.get("is_success").and_then(Value::as_bool) {
        return ok && data.get("is_error").and_then(Value::as_bool) != Some(true);
    }
    data.get("status_humanized").and_then(Value::as_str) == Some("Success")
}

/// What was logged of a run: the statuses seen, the log bytes per step.
#[derive(Default)]
struct Logged {
    statuses: Vec<String>,
    steps: HashMap<i64, usize>,
}

impl Logged {
    /// Logs a status change and each step's new log lines.
    fn log(&mut self, cx: &RunContext, data: &Value) {
        let text = |k: &str| data.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
        let status = text("status_humanized");
        if !self.statuses.contains(&status) {
            cx.log("DEBUG", &format!("Status changed to '{status}' after {}", text("duration_humanized")));
            self.statuses.push(status);
        }
        for step in data.get("run_steps").and_then(Value::as_array).into_iter().flatten() {
            let logs = step.get("logs").and_then(Value::as_str).unwrap_or_default();
            let id = step.get("id").and_then(Value::as_i64).unwrap_or_default();
            let seen = self.steps.entry(id).or_default();
            if logs.len() <= *seen {
                continue;
            }
            let start = (0..=*seen).rev().find(|i| logs.is_char_boundary(*i)).unwrap_or(0);
            let name = step.get("name").and_then(Value::as_str).unwrap_or_default();
            for line in logs[start..].lines().filter(|l| !l.is_empty()) {
                cx.info(&format!("[Step {name}]: {line}"));
            }
            *seen = logs.len();
        }
    }
}

/// `GET /runs/{run}/` with Kestra's related objects.
async fn fetch(cx: &RunContext, api: &Api, run: u64, debug: bool) -> Result<Value, TaskError> {
    let related =
        format!("[\"trigger\",\"job\",{},\"run_steps\", \"environment\"]", if debug { "\"debug_logs\"" } else { "" });
    let url = format!("{}?include_related={}", api.url(&format!("/runs/{run}/")), urlencoding(&related));
    let answer = api.json(cx, Method::GET, &url, None).await?;
    Ok(answer.get("data").cloned().unwrap_or(Value::Null))
}

/// Java's `URLEncoder.encode` of Kestra's `include_related` value.
fn urlencoding(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'*' | b'_' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Waits for `run` to end, fails unless it succeeded, stores its
/// artifacts: the outputs `runResults` and `manifest`.
async fn watch(cx: &RunContext, api: &Api, run: u64, w: &Watch) -> Result<Map<String, Value>, TaskError> {
    let started = Instant::now();
    let mut logged = Logged::default();
    let mut data = loop {
        let data = fetch(cx, api, run, false).await?;
        logged.log(cx, &data);
        match ended(&data) {
            Some(true) => break data,
            Some(false) => {}
            None => cx.warn("Received response with no status indicator from dbt Cloud — skipping this poll cycle"),
        }
        if started.elapsed() + w.poll > w.max {
            return Err(TaskError::failed(format!(
                "dbt Cloud run {run} did not end within {} s (maxDuration)",
                w.max.as_secs_f64()
            )));
        }
        tokio::time::sleep(w.poll).await;
    };
    // the fuller debug logs, best effort
    match fetch(cx, api, run, true).await {
        Ok(d) if !d.is_null() => data = d,
        Ok(_) => {}
        Err(e) => cx.log("DEBUG", &format!("Unable to fetch final debug logs for run '{run}': {e}")),
    }
    logged.log(cx, &data);
    if !succeeded(&data) {
        let text = |k: &str| data.get(k).and_then(Value::as_str).map(str::to_string);
        let message = text("status_message").map(|m| format!(": {m}")).unwrap_or_default();
        return Err(TaskError::failed(format!(
            "Failed run with status '{}' after {}{message}",
            text("status_humanized").unwrap_or_else(|| "unknown".into()),
            text("duration_humanized").unwrap_or_else(|| "an unknown time".into()),
        )));
    }
    let mut out = Map::new();
    if let Some(text) = artifact(cx, api, run, "run_results.json").await? {
        if w.parse {
            let nodes = results::log_nodes(cx, &text);
            let rows: u64 = nodes.iter().filter_map(results::NodeResult::rows_affected).sum();
            cx.info(&format!("dbt ran {} node(s), {rows} row(s) affected", nodes.len()));
        }
        out.insert("runResults".into(), json!(store(cx, "run_results.json", text).await?));
    }
    if let Some(text) = artifact(cx, api, run, "manifest.json").await? {
        out.insert("manifest".into(), json!(store(cx, "manifest.json", text).await?));
    }
    Ok(out)
}

/// An artifact of the run as text; `None` on a 404 (not made).
async fn artifact(cx: &RunContext, api: &Api, run: u64, name: &str) -> Result<Option<String>, TaskError> {
    let url = api.url(&format!("/runs/{run}/artifacts/{name}"));
    let a = api.send(cx, Method::GET, &url, None).await?;
    if a.status == StatusCode::NOT_FOUND {
        cx.log("DEBUG", &format!("Artifact '{name}' not found (404) — skipping"));
        return Ok(None);
    }
    if !a.status.is_success() {
        return Err(TaskError::failed(answer_error(&format!("GET …/runs/{run}/artifacts/{name}"), a.status, &a.body)));
    }
    let text = String::from_utf8(a.body).map_err(|_| TaskError::failed(format!("{name} of run {run} is not UTF-8")))?;
    serde_json::from_str::<Value>(&text)
        .map_err(|e| TaskError::failed(format!("{name} of run {run} is not JSON: {e}")))?;
    Ok(Some(text))
}

async fn store(cx: &RunContext, name: &str, text: String) -> Result<String, TaskError> {
    let (uri, _) = cx.put_file(name, Box::pin(std::io::Cursor::new(text.into_bytes()))).await?;
    Ok(uri)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_precedence_follows_kestra() {
        assert_eq!(ended(&json!({"status": 3, "is_complete": true})), Some(false), "status first");
        assert_eq!(ended(&json!({"status": 30})), Some(true));
        assert_eq!(ended(&json!({"is_complete": true})), Some(true));
        assert_eq!(ended(&json!({"status_humanized": "Running"})), Some(false));
        assert_eq!(ended(&json!({})), None);
        assert!(succeeded(&json!({"status": 10, "is_success": false})));
        assert!(!succeeded(&json!({"is_success": true, "is_error": true})));
        assert!(succeeded(&json!({"status_humanized": "Success"})));
        assert_eq!(urlencoding("[\"a\", \"b\"]"), "%5B%22a%22%2C+%22b%22%5D");
    }

    #[test]
    fn properties_are_checked_naming_them() {
        let base = json!({"accountId": "1", "token": "t"});
        let with = |k: &str, v: Value| {
            let mut m = base.as_object().unwrap().clone();
            m.insert(k.into(), v);
            m
        };
        assert!(build_trigger(&with("jobId", json!("x"))).err().unwrap().to_string().contains("jobId"));
        assert!(build_check(&with("runId", json!("7a"))).err().unwrap().to_string().contains("runId"));
        let mut m = with("runId", json!(7));
        m.insert("pollFrequency".into(), json!("PT0.01S"));
        assert!(build_check(&m).err().unwrap().to_string().contains("pollFrequency"));
        assert!(poll_ok(&json!("PT0.05S")).is_err() && poll_ok(&json!("PT1S")).is_ok());
    }
}
