//! `io.kestra.plugin.hightouch.Sync` (plugin-hightouch `Sync.java`):
//! triggers a Hightouch sync through Hightouch's REST API v1 and, unless
//! `wait: false`, follows the run it started until it ends.
//!
//! As Kestra: `GET /api/v1/syncs/{syncId}` (for the sync's slug in the
//! logs), `POST /api/v1/syncs/{syncId}/trigger` with `{"fullResync": …}`
//! (its `id` is the run), then every second `GET
//! /api/v1/syncs/{syncId}/runs?runId=…` until the run's status is one that
//! ends it (`success`, `completed_with_errors` and `warning` succeed, the
//! last two with a warning; `failed`, `cancelled` and `interrupted` fail
//! the task with the run's `error`), at most `maxDuration` (PT5M), past
//! which the task fails naming that bound. Status spellings are read as
//! Kestra reads them (`canceled`, `completed`, `aborted due to fatal
//! error`…); a status Kestra does not know keeps the task waiting.
//! Each status change is logged. Outputs `runId` and `metadata` (the run:
//! `id`, `plannedRows`, `successfulRows`, `failedRows`, `querySize`,
//! `status`, `createdAt`, `startedAt`, `finishedAt`, `completionRatio`,
//! `error`); Kestra's metrics (`completion.ratio`, `rows.successfully.*`,
//! `rows.failed.*`).
//!
//! Hightouch's address is fixed in Kestra; the engine's
//! `BATON_HIGHTOUCH_BASE_URL` serves proxies and local tests. `options`,
//! Kestra's HTTP client configuration, is carried out as core
//! `http.Request`'s (timeouts, `auth`; `allowFailed` refused: a failed
//! call always fails the task). Each answer is read up to
//! [`MAX_ANSWER`].

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::core::http::{self, HttpOptions};
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// Hightouch's API, when `BATON_HIGHTOUCH_BASE_URL` is not set.
const API: &str = "https://api.hightouch.com";
/// How often a run is asked for (Kestra's refresh rate).
const POLL: Duration = Duration::from_secs(1);
/// The most bytes of one answer read.
pub const MAX_ANSWER: u64 = 16 * 1024 * 1024;
/// The fields of a run Kestra's `RunDetails` keeps (the output `metadata`).
const RUN_FIELDS: &[&str] = &[
    "id",
    "plannedRows",
    "successfulRows",
    "failedRows",
    "querySize",
    "status",
    "createdAt",
    "startedAt",
    "finishedAt",
    "completionRatio",
    "error",
];

/// Trigger and follow a Hightouch sync.
///
/// Triggers the sync syncId (fullResynchronization forces a full reload) and, unless wait is false, polls its run every second until it ends or maxDuration passes; fails when the run fails, is cancelled or interrupted. Outputs runId and the run's metadata.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.hightouch.Sync",
    group = "hightouch",
    example = "id: sync\ntype: io.kestra.plugin.hightouch.Sync\ntoken: \"{{ secret('HIGHTOUCH_API_TOKEN') }}\"\nsyncId: 1127166\n",
    outputs(
        runId(Integer, "The run Hightouch started."),
        metadata(Map, "The run as Hightouch last described it (wait only).")
    )
)]
struct Props {
    /// Hightouch's API token, sent as `Authorization: Bearer …`.
    #[serde(deserialize_with = "de::string_lenient")]
    #[prop(dynamic, required)]
    token: String,
    /// The numeric ID of the sync.
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    #[prop(dynamic, required)]
    sync_id: Option<u64>,
    /// Reload every row instead of the changes.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(dynamic, default = "false")]
    full_resynchronization: Option<bool>,
    /// Follow the run until it ends (else return its runId at once).
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(dynamic, default = "true")]
    wait: Option<bool>,
    /// The longest wait for the run to end.
    #[serde(default, deserialize_with = "de::opt_duration")]
    #[prop(dynamic, kind = "Duration", default = "\"PT5M\"")]
    max_duration: Option<chrono::TimeDelta>,
    /// The HTTP client's options (connectTimeout, readTimeout…), as core http.Request's.
    #[serde(default)]
    #[prop(kind = "Map")]
    options: Option<HttpOptions>,
}

#[derive(Debug)]
struct Sync {
    token: String,
    sync_id: u64,
    full: bool,
    wait: bool,
    max_duration: Duration,
    options: HttpOptions,
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    let token = p.token.trim().to_string();
    if token.is_empty() {
        return Err(TaskError::property("token", "is required"));
    }
    let options = p.options.unwrap_or_default();
    if options.allow_failed == Some(true) {
        return Err(TaskError::property("options", "allowFailed: a failed Hightouch call always fails the task"));
    }
    Ok(Box::new(Sync {
        token,
        sync_id: p.sync_id.ok_or_else(|| TaskError::property("syncId", "is required"))?,
        full: p.full_resynchronization.unwrap_or(false),
        wait: p.wait.unwrap_or(true),
        max_duration: match p.max_duration {
            None => Duration::from_secs(300),
            Some(d) => d.to_std().map_err(|_| TaskError::property("maxDuration", "must not be negative"))?,
        },
        options,
    }))
}

/// A run's status as Kestra reads Hightouch's spellings; `None` for one it
/// does not know.
fn status(text: &str) -> Option<&'static str> {
    let n = text.trim().to_ascii_lowercase().replace(['-', ' '], "_");
    Some(match n.as_str() {
        "processing" => "processing",
        "queued" => "queued",
        "failed" | "aborted_due_to_fatal_error" => "failed",
        "cancelled" | "canceled" => "cancelled",
        "success" | "completed" => "success",
        "querying" => "querying",
        "warning" => "warning",
        "reporting" => "reporting",
        "interrupted" => "interrupted",
        "completed_with_errors" => "completed_with_errors",
        _ => return None,
    })
}

fn ended(status: &str) -> bool {
    matches!(status, "failed" | "cancelled" | "success" | "completed_with_errors" | "warning" | "interrupted")
}

impl Sync {
    /// One call to Hightouch: its JSON answer, or an error naming the call.
    async fn call(&self, cx: &RunContext, method: Method, path: &str, body: Option<Value>) -> Result<Value, TaskError> {
        let url = http::api_url("BATON_HIGHTOUCH_BASE_URL", cx.services.config.hightouch_url.as_deref(), API, path)?;
        let mut rb = cx
            .services
            .http
            .request(method.clone(), url.clone())
            .header(reqwest::header::AUTHORIZATION, format!("Bearer {}", self.token));
        if let Some(b) = body {
            rb = rb.header(reqwest::header::CONTENT_TYPE, "application/json").body(b.to_string());
        }
        let rb = http::with_timeout(http::with_auth(rb, &self.options)?, None, &self.options)?;
        let (status, bytes) = http::call(rb, &method, "Hightouch", &url, MAX_ANSWER).await?;
        let text = String::from_utf8_lossy(&bytes);
        if !status.is_success() {
            let quoted: String = text.chars().take(500).collect();
            return Err(TaskError::failed(format!(
                "Hightouch answered {method} {path} with {}: {}",
                status.as_u16(),
                quoted.trim()
            )));
        }
        serde_json::from_str(&text)
            .map_err(|e| TaskError::failed(format!("Hightouch's answer to {method} {path} is not JSON: {e}")))
    }

    /// Polls the run until it ends; the run as Hightouch last gave it.
    async fn follow(&self, cx: &RunContext, label: &str, run_id: u64) -> Result<Map<String, Value>, TaskError> {
        let deadline = Instant::now() + self.max_duration;
        let path = format!("/api/v1/syncs/{}/runs?runId={run_id}", self.sync_id);
        let mut last: Option<String> = None;
        loop {
            let answer = self.call(cx, Method::GET, &path, None).await?;
            let run = answer["data"]
                .as_array()
                .and_then(|runs| runs.iter().find(|r| r["id"].as_u64() == Some(run_id)))
                .and_then(Value::as_object);
            match run {
                None => {
                    cx.log("DEBUG", &format!("[Hightouch] run {run_id} of sync {} is not listed yet", self.sync_id))
                }
                Some(run) => {
                    let text = run.get("status").and_then(Value::as_str).unwrap_or_default();
                    if last.as_deref() != Some(text) {
                        cx.info(&format!("{label}: [runId={run_id}] is now {text}"));
                        last = Some(text.to_string());
                    }
                    if status(text).is_some_and(ended) {
                        return Ok(RUN_FIELDS
                            .iter()
                            .filter_map(|k| run.get(*k).map(|v| (k.to_string(), v.clone())))
                            .collect());
                    }
                }
            }
            if Instant::now() + POLL > deadline {
                return Err(TaskError::failed(format!(
                    "run {run_id} of Hightouch sync {} did not end within maxDuration ({}s){}",
                    self.sync_id,
                    self.max_duration.as_secs(),
                    last.map(|s| format!(": last status '{s}'")).unwrap_or_default()
                )));
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

/// A count of a run's rows (`successfulRows.addedCount`…), 0 when absent.
fn count(run: &Map<String, Value>, group: &str, key: &str) -> f64 {
    run.get(group).and_then(|g| g.get(key)).and_then(Value::as_f64).unwrap_or(0.0)
}

#[async_trait]
impl RunnableTask for Sync {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let id = self.sync_id;
        let sync = self.call(cx, Method::GET, &format!("/api/v1/syncs/{id}"), None).await?;
        let label = format!("[syncId={id}] {}", sync["slug"].as_str().unwrap_or_default());
        let trigger = format!("/api/v1/syncs/{id}/trigger");
        let started = self.call(cx, Method::POST, &trigger, Some(json!({"fullResync": self.full}))).await?;
        let run_id = started["id"]
            .as_u64()
            .or_else(|| started["id"].as_str().and_then(|s| s.parse().ok()))
            .ok_or_else(|| TaskError::failed(format!("Hightouch started sync {id} without a run id: {started}")))?;
        cx.info(&format!("{label}: Job triggered with runId {run_id}"));
        let mut out = Map::new();
        out.insert("runId".into(), Value::from(run_id));
        if !self.wait {
            return Ok(TaskOutput::with(out));
        }
        let run = self.follow(cx, &label, run_id).await?;
        let text = run.get("status").and_then(Value::as_str).unwrap_or_default();
        match status(text) {
            Some("success") => {}
            Some("completed_with_errors" | "warning") => {
                let failed = run.get("failedRows").cloned().unwrap_or(Value::Null);
                cx.warn(&format!("Run completed with errors (runId={run_id}): {failed} failed rows"));
            }
            _ => {
                let error = run.get("error").and_then(Value::as_str).unwrap_or("no error given");
                return Err(TaskError::failed(format!("Failed run {run_id} with status '{text}': {error}")));
            }
        }
        cx.counter("completion.ratio", run.get("completionRatio").and_then(Value::as_f64).unwrap_or(0.0), &[]);
        for (group, name) in [("successfulRows", "successfully"), ("failedRows", "failed")] {
            for (key, what) in [("addedCount", "added"), ("removedCount", "removed"), ("changedCount", "changed")] {
                cx.counter(&format!("rows.{name}.{what}"), count(&run, group, key), &[]);
            }
        }
        out.insert("metadata".into(), Value::Object(run));
        Ok(TaskOutput::with(out))
    }
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));

/// Registers this family's plugin.
pub fn register(r: &mut crate::Registry) {
    r.register(*DEF);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_read_as_kestra_reads_them() {
        assert_eq!(status("Canceled"), Some("cancelled"));
        assert_eq!(status("completed"), Some("success"));
        assert_eq!(status("Completed with errors"), Some("completed_with_errors"));
        assert_eq!(status("aborted due to fatal error"), Some("failed"));
        assert_eq!(status("syncing"), None);
        assert!(ended("interrupted") && !ended("querying"));
    }

    #[test]
    fn the_properties_are_checked() {
        let built = |v: Value| build(v.as_object().expect("map")).map(|_| ()).map_err(|e| e.to_string());
        assert!(built(json!({"token": "t", "syncId": "1127166"})).is_ok());
        assert!(built(json!({"token": "t"})).unwrap_err().contains("syncId"));
        assert!(built(json!({"token": " ", "syncId": 1})).unwrap_err().contains("token"));
        let e = built(json!({"token": "t", "syncId": 1, "options": {"allowFailed": true}})).unwrap_err();
        assert!(e.contains("allowFailed"), "{e}");
    }
}
