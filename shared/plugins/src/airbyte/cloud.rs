//! `io.kestra.plugin.airbyte.cloud.jobs.Sync` and `Reset` (plugin-airbyte
//! `cloud/jobs/`), on Airbyte Cloud's public API v1 (Kestra calls it
//! through Airbyte's Java SDK).
//!
//! Both post `/jobs` with `connectionId` and their `jobType` (`sync`,
//! `reset`) and, unless `wait: false`, read `/jobs/{jobId}` every
//! `pollFrequency` (PT1S) until the job's status is `succeeded`, `failed`,
//! `cancelled` or `incomplete`, at most `maxDuration` (PT60M). As in
//! Kestra, a job that ends without succeeding does not fail the task: its
//! `job.status` says how it ended (Baton adds a warning). Output `job`
//! (`jobId`, `status`, `jobType`, `startTime`, `lastUpdatedAt`,
//! `duration`, `bytesSynced`, `rowsSynced`); metrics `bytes_synced`,
//! `rows_synced` and the timer `duration`.
//!
//! Authentication as Kestra's: `token` (Bearer) first, else
//! `clientId`/`clientSecret` exchanged at `tokenURL` for a Bearer token,
//! else `username`/`password` (Basic). Airbyte Cloud's address is fixed
//! in Kestra; the engine's `BATON_AIRBYTE_CLOUD_BASE_URL` serves proxies
//! and local tests.

use std::sync::LazyLock;

use async_trait::async_trait;
use reqwest::{Method, Url};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{Poller, WaitProps, access_token, credentials, json_of, send, set};
use crate::core::http;
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// Airbyte Cloud's API, when `BATON_AIRBYTE_CLOUD_BASE_URL` is not set.
const API: &str = "https://api.airbyte.com/v1";
/// Kestra's default `tokenURL`.
const TOKEN_URL: &str = "https://api.airbyte.com/v1/applications/token";
/// The job statuses that end it.
const ENDED: &[&str] = &["incomplete", "failed", "cancelled", "succeeded"];
/// The fields of a job Kestra's output keeps.
const JOB_FIELDS: &[&str] =
    &["jobId", "status", "jobType", "startTime", "lastUpdatedAt", "duration", "bytesSynced", "rowsSynced"];

/// What both cloud job tasks take.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
struct JobProps {
    /// A Bearer token (used before client credentials or basic auth).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    token: Option<String>,
    /// An application's client ID (with clientSecret), exchanged at tokenURL for a token.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    client_id: Option<String>,
    /// The application's client secret.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    client_secret: Option<String>,
    /// Where client credentials are exchanged for a token.
    #[serde(default, rename = "tokenURL", deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic, default = "\"https://api.airbyte.com/v1/applications/token\"")]
    token_url: Option<String>,
    /// Basic authentication's user (when there is no token nor client credentials).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    username: Option<String>,
    /// Basic authentication's password.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    password: Option<String>,
    /// The connection whose job runs.
    #[serde(deserialize_with = "de::string_lenient")]
    #[prop(dynamic, required)]
    connection_id: String,
    /// Follow the job until it ends (else return it at once).
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(dynamic, default = "true")]
    wait: Option<bool>,
    #[serde(flatten)]
    polling: WaitProps,
}

/// Run an Airbyte Cloud sync.
///
/// Starts a sync job of connectionId on Airbyte Cloud and, unless wait is false, follows it every pollFrequency until it ends (at most maxDuration). Outputs the job; a job that ends without succeeding is reported by its status, as in Kestra.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.airbyte.cloud.jobs.Sync",
    group = "airbyte",
    example = "id: sync\ntype: io.kestra.plugin.airbyte.cloud.jobs.Sync\ntoken: \"{{ secret('AIRBYTE_TOKEN') }}\"\nconnectionId: e3b1ce92-547c-436f-b1e8-23b6936c12cd\n",
    outputs(job(
        Map,
        "The job: jobId, status, jobType, startTime, lastUpdatedAt, duration, bytesSynced, rowsSynced."
    ))
)]
struct SyncProps {
    #[serde(flatten)]
    p: JobProps,
}

/// Run an Airbyte Cloud reset.
///
/// Starts a reset job of connectionId on Airbyte Cloud and, unless wait is false, follows it every pollFrequency until it ends (at most maxDuration). Outputs the job; a job that ends without succeeding is reported by its status, as in Kestra.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.airbyte.cloud.jobs.Reset",
    group = "airbyte",
    example = "id: reset\ntype: io.kestra.plugin.airbyte.cloud.jobs.Reset\ntoken: \"{{ secret('AIRBYTE_TOKEN') }}\"\nconnectionId: e3b1ce92-547c-436f-b1e8-23b6936c12cd\n",
    outputs(job(
        Map,
        "The job: jobId, status, jobType, startTime, lastUpdatedAt, duration, bytesSynced, rowsSynced."
    ))
)]
struct ResetProps {
    #[serde(flatten)]
    p: JobProps,
}

#[derive(Debug, Clone)]
enum Auth {
    Bearer(String),
    Client { id: String, secret: String, url: String },
    Basic(String, String),
}

#[derive(Debug)]
struct Job {
    kind: &'static str,
    auth: Auth,
    connection: String,
    wait: bool,
    polling: (std::time::Duration, std::time::Duration),
}

fn job(kind: &'static str, p: JobProps) -> Result<Box<dyn RunnableTask>, TaskError> {
    let auth = match (set(&p.token), set(&p.client_id), set(&p.client_secret), set(&p.username), set(&p.password)) {
        (Some(t), ..) => Auth::Bearer(t),
        (None, Some(id), Some(secret), ..) => {
            let url = set(&p.token_url).unwrap_or_else(|| TOKEN_URL.to_string());
            http::parse_uri("tokenURL", &url)?;
            Auth::Client { id, secret, url }
        }
        (None, _, _, Some(u), Some(pw)) => Auth::Basic(u, pw),
        _ => {
            return Err(TaskError::property(
                "token",
                "Airbyte Cloud needs a token, clientId and clientSecret, or username and password",
            ));
        }
    };
    let connection = p.connection_id.trim().to_string();
    if connection.is_empty() {
        return Err(TaskError::property("connectionId", "is required"));
    }
    Ok(Box::new(Job { kind, auth, connection, wait: p.wait.unwrap_or(true), polling: p.polling.polling()? }))
}

fn build_sync(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    job("sync", parse_props::<SyncProps>(props)?.p)
}

fn build_reset(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    job("reset", parse_props::<ResetProps>(props)?.p)
}

impl Job {
    /// The Authorization the calls carry (client credentials exchanged).
    async fn authorization(&self, cx: &RunContext) -> Result<Auth, TaskError> {
        let Auth::Client { id, secret, url } = &self.auth else { return Ok(self.auth.clone()) };
        let parsed: Url = http::parse_uri("tokenURL", url)?;
        let body = credentials(id, secret);
        let answer = send(&parsed, "POST tokenURL", || {
            Ok(cx
                .services
                .http
                .request(Method::POST, parsed.clone())
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_string()))
        })
        .await?;
        Ok(Auth::Bearer(access_token("POST tokenURL", answer, "clientId")?))
    }

    async fn call(
        &self,
        cx: &RunContext,
        auth: &Auth,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, TaskError> {
        let url =
            http::api_url("BATON_AIRBYTE_CLOUD_BASE_URL", cx.services.config.airbyte_cloud_url.as_deref(), API, path)?;
        let what = format!("{method} {path}");
        let answer = send(&url, &what, || {
            let mut rb = cx
                .services
                .http
                .request(method.clone(), url.clone())
                .header(reqwest::header::ACCEPT, "application/json");
            if let Some(b) = body {
                rb = rb.header(reqwest::header::CONTENT_TYPE, "application/json").body(b.to_string());
            }
            Ok(match auth {
                Auth::Bearer(t) => rb.bearer_auth(t),
                Auth::Basic(u, p) => rb.basic_auth(u, Some(p)),
                Auth::Client { .. } => rb,
            })
        })
        .await?;
        json_of(&what, answer)
    }
}

/// The job as Kestra's output keeps it.
fn kept(job: &Value) -> Map<String, Value> {
    JOB_FIELDS.iter().filter_map(|k| job.get(*k).filter(|v| !v.is_null()).map(|v| (k.to_string(), v.clone()))).collect()
}

#[async_trait]
impl RunnableTask for Job {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let auth = self.authorization(cx).await?;
        let created = json!({"connectionId": self.connection, "jobType": self.kind});
        let mut job = self.call(cx, &auth, Method::POST, "/jobs", Some(&created)).await?;
        let id = job["jobId"].as_u64().ok_or_else(|| {
            TaskError::failed(format!("Airbyte Cloud started no {} job for connection {}", self.kind, self.connection))
        })?;
        cx.info(&format!("Job id {id} with response: {job}"));
        if self.wait {
            let poller = Poller::new(self.polling);
            loop {
                job = self.call(cx, &auth, Method::GET, &format!("/jobs/{id}"), None).await?;
                let status = job["status"].as_str().unwrap_or_default().to_ascii_lowercase();
                if ENDED.contains(&status.as_str()) {
                    if status != "succeeded" {
                        cx.warn(&format!("Airbyte Cloud job {id} ended {status}"));
                    }
                    break;
                }
                poller.wait(&format!("Airbyte Cloud job {id}")).await?;
            }
            if let Some(n) = job["bytesSynced"].as_f64() {
                cx.counter("bytes_synced", n, &[]);
            }
            if let Some(n) = job["rowsSynced"].as_f64() {
                cx.counter("rows_synced", n, &[]);
            }
            let took = job["duration"].as_str().and_then(|d| baton_model::duration::parse_iso(d).ok());
            if let Some(d) = took.and_then(|d| d.to_std().ok()) {
                cx.timer("duration", d, &[]);
            }
        }
        let mut out = Map::new();
        out.insert("job".into(), Value::Object(kept(&job)));
        Ok(TaskOutput::with(out))
    }
}

pub static SYNC: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<SyncProps>(build_sync));
pub static RESET: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<ResetProps>(build_reset));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_comes_first_then_client_credentials_then_basic_auth() {
        let built = |v: Value| build_sync(v.as_object().expect("map")).map(|_| ()).map_err(|e| e.to_string());
        assert!(built(json!({"token": "t", "clientId": "i", "connectionId": "c"})).is_ok());
        assert!(built(json!({"clientId": "i", "clientSecret": "s", "connectionId": "c"})).is_ok());
        assert!(built(json!({"username": "u", "password": "p", "connectionId": "c"})).is_ok());
        assert!(built(json!({"clientId": "i", "connectionId": "c"})).unwrap_err().contains("token"));
        assert!(built(json!({"token": "t", "connectionId": " "})).unwrap_err().contains("connectionId"));
    }

    #[test]
    fn the_output_keeps_kestra_s_fields() {
        let job = json!({"jobId": 1, "status": "succeeded", "jobType": "sync", "connectionId": "c", "duration": null});
        assert_eq!(Value::Object(kept(&job)), json!({"jobId": 1, "status": "succeeded", "jobType": "sync"}));
    }
}
