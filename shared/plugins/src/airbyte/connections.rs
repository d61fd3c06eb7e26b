//! `io.kestra.plugin.airbyte.connections.Sync` and `CheckStatus`
//! (plugin-airbyte `connections/`), on a self-managed Airbyte's
//! configuration API v1 at `url`.
//!
//! `Sync` posts `/api/v1/connections/sync/` with `connectionId`; Airbyte
//! answering 409 or "already running" means a sync of the connection is
//! running: the task fails (`failOnActiveSync`, the default) or ends with
//! `alreadyRunning: true` and no `jobId`. Unless `wait: false` it then does
//! what `CheckStatus` does with the job it started. `CheckStatus` posts
//! `/api/v1/jobs/get/` with the job's `id` every `pollFrequency` (PT1S)
//! until its status is `succeeded`, `failed` or `cancelled`, at most
//! `maxDuration` (PT60M): each attempt's new log lines are logged as they
//! come (at ERROR, DEBUG or TRACE when Airbyte's line says so), a new
//! attempt with a warning; at the end each attempt's failure summary is a
//! warning, and a job that did not succeed fails the task with its status
//! and number of attempts. Metrics as Kestra's: `attempts.count`, and per
//! stream (tag `stream`) `records.committed`, `records.emitted`,
//! `bytes.emitted`, `state.emitted`.
//!
//! Authentication as Kestra's: `token` (Bearer), `username`/`password`
//! (Basic, which wins when both are set), or `applicationCredentials`
//! (`clientId`/`clientSecret` exchanged at `/api/v1/applications/token`
//! for a Bearer token). `options` is core `http.Request`'s (timeouts;
//! `allowFailed` is refused: a failed call fails the task); Kestra's
//! deprecated `httpTimeout` has no effect there and none here.

use std::collections::HashMap;
use std::sync::LazyLock;

use async_trait::async_trait;
use reqwest::{Method, StatusCode, Url};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{Poller, WaitProps, access_token, credentials, json_of, send, set};
use crate::core::http::{self, HttpOptions};
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// The job statuses that end it.
const ENDED: &[&str] = &["failed", "cancelled", "succeeded"];

/// An Airbyte application's credentials.
#[derive(Debug, Clone, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
pub struct AppCredentials {
    /// The application's client ID.
    #[serde(deserialize_with = "de::string_lenient")]
    client_id: String,
    /// The application's client secret.
    #[serde(deserialize_with = "de::string_lenient")]
    client_secret: String,
}

/// What every self-managed Airbyte task has (Kestra's `AbstractAirbyteConnection`).
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
pub struct Connection {
    /// The Airbyte instance's base URL.
    #[serde(deserialize_with = "de::string_lenient")]
    #[prop(dynamic, required)]
    url: String,
    /// Basic authentication's user (with password; wins over token).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    username: Option<String>,
    /// Basic authentication's password.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    password: Option<String>,
    /// A Bearer token.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    token: Option<String>,
    /// Deprecated in Kestra, where it has no effect; none here either (use options).
    #[serde(default)]
    #[prop(kind = "Duration", default = "\"PT10S\"")]
    #[allow(dead_code)] // read by nothing, in Kestra as here
    http_timeout: Option<Value>,
    /// The HTTP client's options (connectTimeout, readTimeout…), as core http.Request's.
    #[serde(default)]
    #[prop(kind = "Map")]
    options: Option<HttpOptions>,
    /// An application's clientId and clientSecret, exchanged for a Bearer token.
    #[serde(default)]
    #[prop(kind = "Map")]
    application_credentials: Option<AppCredentials>,
}

/// How the calls authenticate.
#[derive(Debug, Clone)]
enum Auth {
    None,
    Bearer(String),
    Basic(String, String),
    App(AppCredentials),
}

/// A client of one Airbyte instance.
#[derive(Debug)]
struct Api {
    base: String,
    auth: Auth,
    options: HttpOptions,
}

impl Api {
    fn new(c: Connection) -> Result<Api, TaskError> {
        let base = c.url.trim().trim_end_matches('/').to_string();
        http::parse_uri("url", &base)?;
        let options = c.options.unwrap_or_default();
        if options.allow_failed == Some(true) {
            return Err(TaskError::property("options", "allowFailed: a failed Airbyte call always fails the task"));
        }
        let auth = match (set(&c.username), set(&c.password), set(&c.token), c.application_credentials) {
            (Some(u), Some(p), _, _) => Auth::Basic(u, p),
            (_, _, _, Some(app)) => Auth::App(app),
            (_, _, Some(t), _) => Auth::Bearer(t),
            _ => Auth::None,
        };
        Ok(Api { base, auth, options })
    }

    /// How this run's calls authenticate: application credentials are
    /// exchanged for a Bearer token.
    async fn auth(&self, cx: &RunContext) -> Result<Auth, TaskError> {
        let Auth::App(app) = &self.auth else { return Ok(self.auth.clone()) };
        let body = credentials(&app.client_id, &app.client_secret);
        let answer = self.post(cx, &Auth::None, "/api/v1/applications/token", &body).await?;
        Ok(Auth::Bearer(access_token("POST /api/v1/applications/token", answer, "applicationCredentials")?))
    }

    async fn post(
        &self,
        cx: &RunContext,
        auth: &Auth,
        path: &str,
        body: &Value,
    ) -> Result<(StatusCode, String), TaskError> {
        let url: Url = http::parse_uri("url", &format!("{}{path}", self.base))?;
        let what = format!("POST {path}");
        send(&url, &what, || {
            let mut rb = cx
                .services
                .http
                .request(Method::POST, url.clone())
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .header(reqwest::header::ACCEPT_ENCODING, "identity")
                .body(body.to_string());
            rb = match auth {
                Auth::Bearer(t) => rb.bearer_auth(t),
                Auth::Basic(u, p) => rb.basic_auth(u, Some(p)),
                Auth::None | Auth::App(_) => rb,
            };
            http::with_timeout(http::with_auth(rb, &self.options)?, None, &self.options)
        })
        .await
    }
}

/// A job's status (`job.status`), lower case.
fn job_status(info: &Value) -> String {
    info["job"]["status"].as_str().unwrap_or_default().to_ascii_lowercase()
}

fn attempts(info: &Value) -> &[Value] {
    info["attempts"].as_array().map_or(&[], Vec::as_slice)
}

/// Logs each attempt's log lines past those logged already.
fn log_new_lines(cx: &RunContext, info: &Value, logged: &mut HashMap<usize, usize>) {
    for (i, attempt) in attempts(info).iter().enumerate() {
        let lines = attempt["logs"]["logLines"].as_array().map_or(&[][..], Vec::as_slice);
        let from = logged.get(&i).copied().unwrap_or(0);
        for line in lines.iter().skip(from).filter_map(Value::as_str) {
            let level = if line.contains("ERROR[") {
                "ERROR"
            } else if line.contains("DEBUG[") {
                "DEBUG"
            } else if line.contains("TRACE[") {
                "TRACE"
            } else {
                "INFO"
            };
            cx.log(level, line);
        }
        logged.insert(i, lines.len().max(from));
    }
}

/// Follows job `job_id` until it ends (see the module documentation); its
/// final status.
async fn follow(cx: &RunContext, api: &Api, auth: &Auth, job_id: u64, poller: &Poller) -> Result<String, TaskError> {
    let mut logged = HashMap::new();
    let mut seen_attempts = 1;
    let info = loop {
        let info =
            json_of("POST /api/v1/jobs/get/", api.post(cx, auth, "/api/v1/jobs/get/", &json!({"id": job_id})).await?)?;
        log_new_lines(cx, &info, &mut logged);
        if ENDED.contains(&job_status(&info).as_str()) {
            break info;
        }
        if attempts(&info).len() > seen_attempts {
            cx.warn("Previous attempt failed, creating a new sync attempt ...");
            seen_attempts += 1;
        }
        poller.wait(&format!("Airbyte job {job_id}")).await?;
    };
    for attempt in attempts(&info) {
        if let Some(summary) = attempt["attempt"].get("failureSummary").filter(|s| !s.is_null()) {
            cx.warn(&format!("Failure with reason {summary}"));
        }
    }
    let status = job_status(&info);
    let count = attempts(&info).len();
    if status != "succeeded" {
        return Err(TaskError::failed(format!("Failed run with status '{status}' after {count} attempt(s)")));
    }
    cx.counter("attempts.count", count as f64, &[]);
    for attempt in attempts(&info) {
        for stream in attempt["attempt"]["streamStats"].as_array().map_or(&[][..], Vec::as_slice) {
            let name = stream["streamName"].as_str().unwrap_or_default();
            for (key, metric) in [
                ("recordsCommitted", "records.committed"),
                ("recordsEmitted", "records.emitted"),
                ("bytesEmitted", "bytes.emitted"),
                ("stateMessagesEmitted", "state.emitted"),
            ] {
                if let Some(n) = stream["stats"][key].as_f64() {
                    cx.counter(metric, n, &[("stream", name)]);
                }
            }
        }
    }
    Ok(status)
}

/// Run an Airbyte connection sync.
///
/// Starts a sync of connectionId on the Airbyte at url and, unless wait is false, follows its job every pollFrequency until it ends (at most maxDuration), logging its attempts' log lines; fails when the job does not succeed. A sync already running fails the task unless failOnActiveSync is false.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.airbyte.connections.Sync",
    group = "airbyte",
    example = "id: sync\ntype: io.kestra.plugin.airbyte.connections.Sync\nurl: http://localhost:8080\nconnectionId: e3b1ce92-547c-436f-b1e8-23b6936c12cd\n",
    outputs(
        jobId(Integer, "The job the sync started (none when one was already running)."),
        alreadyRunning(Boolean, "Whether Airbyte said a sync of the connection was already running.")
    )
)]
struct SyncProps {
    #[serde(flatten)]
    c: Connection,
    /// The connection to sync.
    #[serde(deserialize_with = "de::string_lenient")]
    #[prop(dynamic, required)]
    connection_id: String,
    /// Follow the job until it ends (else return its jobId at once).
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(dynamic, default = "true")]
    wait: Option<bool>,
    #[serde(flatten)]
    polling: WaitProps,
    /// Fail when a sync of the connection is already running (else end with alreadyRunning).
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(dynamic, default = "true")]
    fail_on_active_sync: Option<bool>,
}

/// Follow an Airbyte job until it ends.
///
/// Looks at jobId every pollFrequency until it succeeds, fails or is cancelled (at most maxDuration), logging its attempts' log lines; fails when the job does not succeed.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.airbyte.connections.CheckStatus",
    group = "airbyte",
    example = "id: check\ntype: io.kestra.plugin.airbyte.connections.CheckStatus\nurl: http://localhost:8080\njobId: 970\n",
    outputs(finalJobStatus(String, "The job's final status."))
)]
struct CheckProps {
    #[serde(flatten)]
    c: Connection,
    /// The job to follow.
    #[serde(deserialize_with = "de::string_lenient")]
    #[prop(dynamic, required)]
    job_id: String,
    #[serde(flatten)]
    polling: WaitProps,
}

#[derive(Debug)]
struct Sync {
    api: Api,
    connection: String,
    wait: bool,
    polling: (std::time::Duration, std::time::Duration),
    fail_on_active: bool,
}

#[derive(Debug)]
struct CheckStatus {
    api: Api,
    job_id: u64,
    polling: (std::time::Duration, std::time::Duration),
}

fn build_sync(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: SyncProps = parse_props(props)?;
    let connection = p.connection_id.trim().to_string();
    if connection.is_empty() {
        return Err(TaskError::property("connectionId", "is required"));
    }
    Ok(Box::new(Sync {
        api: Api::new(p.c)?,
        connection,
        wait: p.wait.unwrap_or(true),
        polling: p.polling.polling()?,
        fail_on_active: p.fail_on_active_sync.unwrap_or(true),
    }))
}

fn build_check(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: CheckProps = parse_props(props)?;
    let job_id = p.job_id.trim().parse().map_err(|_| TaskError::property("jobId", "must be a job's number"))?;
    Ok(Box::new(CheckStatus { api: Api::new(p.c)?, job_id, polling: p.polling.polling()? }))
}

/// Airbyte's answer that a sync of the connection is running.
fn already_running(status: StatusCode, body: &str) -> bool {
    status == StatusCode::CONFLICT || (!status.is_success() && body.to_ascii_lowercase().contains("already running"))
}

#[async_trait]
impl RunnableTask for Sync {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let auth = self.api.auth(cx).await?;
        let poller = Poller::new(self.polling);
        let body = json!({"connectionId": self.connection});
        let (status, body) = self.api.post(cx, &auth, "/api/v1/connections/sync/", &body).await?;
        let mut out = Map::new();
        if already_running(status, &body) {
            if self.fail_on_active {
                return Err(TaskError::failed(format!("A sync is already running for connection {}", self.connection)));
            }
            cx.warn(&format!("A sync is already running for connection {}", self.connection));
            out.insert("alreadyRunning".into(), Value::Bool(true));
            return Ok(TaskOutput::with(out));
        }
        let info = json_of("POST /api/v1/connections/sync/", (status, body))?;
        let job_id = info["job"]["id"]
            .as_u64()
            .ok_or_else(|| TaskError::failed(format!("Airbyte started no job for connection {}", self.connection)))?;
        cx.info(&format!("Job status {} with response: {info}", status.as_u16()));
        out.insert("jobId".into(), Value::from(job_id));
        out.insert("alreadyRunning".into(), Value::Bool(false));
        if self.wait {
            follow(cx, &self.api, &auth, job_id, &poller).await?;
        }
        Ok(TaskOutput::with(out))
    }
}

#[async_trait]
impl RunnableTask for CheckStatus {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let auth = self.api.auth(cx).await?;
        let status = follow(cx, &self.api, &auth, self.job_id, &Poller::new(self.polling)).await?;
        let mut out = Map::new();
        out.insert("finalJobStatus".into(), Value::String(status));
        Ok(TaskOutput::with(out))
    }
}

pub static SYNC: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<SyncProps>(build_sync));
pub static CHECK_STATUS: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<CheckProps>(build_check));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kestra_s_already_running_answers_are_told_apart() {
        assert!(already_running(StatusCode::CONFLICT, ""));
        assert!(already_running(StatusCode::BAD_REQUEST, "A sync is Already Running for this connection"));
        assert!(!already_running(StatusCode::OK, "already running"));
        assert!(!already_running(StatusCode::BAD_REQUEST, "bad connection"));
    }

    #[test]
    fn basic_auth_wins_and_the_properties_are_checked() {
        let c = |v: Value| -> Result<Api, TaskError> { Api::new(parse_props(v.as_object().expect("map"))?) };
        let api = c(json!({"url": "http://a/", "username": "u", "password": "p", "token": "t"})).unwrap();
        assert!(matches!(api.auth, Auth::Basic(..)) && api.base == "http://a");
        assert!(matches!(c(json!({"url": "http://a", "token": "t"})).unwrap().auth, Auth::Bearer(_)));
        let e = c(json!({"url": "http://a", "options": {"allowFailed": true}})).unwrap_err();
        assert!(e.to_string().contains("allowFailed"), "{e}");
        let e = build_check(json!({"url": "http://a", "jobId": "x"}).as_object().unwrap()).map(|_| ()).unwrap_err();
        assert!(e.to_string().contains("jobId"), "{e}");
    }
}
