//! Calls to the Google REST APIs that have neither an emulator nor a client
//! crate here (Dataproc, Dataflow, Dataform, Vertex AI jobs, BigQuery Data
//! Transfer, Cloud Storage IAM): JSON over HTTPS with the task's
//! credentials as a bearer token (masked in the task's logs and outputs),
//! through the engine's shared HTTP client and its traced, bounded
//! [`http::call`]. Google's error body (`{"error": {code, status,
//! message}}`) becomes the task's error, naming the API and the call.
//!
//! Each API is at its production host (`https://{host}`, a regional one
//! where the API has them) unless `BATON_GOOGLE_APIS_URL` is set: then
//! every such API is at that one root — a proxy (Private Service Connect,
//! a restricted VIP) or the tests' fake, which checks each call against
//! Google's discovery documents.
//!
//! Long-running operations ([`Api::wait_operation`]) are read again until
//! `done`, at a fixed interval; an operation's `error` fails the task with
//! its message.

use std::time::{Duration, Instant};

use reqwest::Method;
use reqwest::Url;
use serde_json::Value;

use super::common::{Resolved, auth_error};
use crate::core::http;
use crate::{RunContext, TaskError};

/// The largest answer read from one call.
pub const MAX_ANSWER: u64 = 16 * 1024 * 1024;

/// What a call answered.
#[derive(Debug)]
pub enum Answer {
    /// A 2xx answer's JSON.
    Ok(Value),
    /// Any other status, and the error naming it with Google's message.
    Refused { status: u16, error: TaskError },
}

/// One Google REST API with one task's credentials.
pub struct Api {
    /// Its name in errors and logs ("Dataproc").
    name: &'static str,
    /// The service root, without a trailing `/`.
    root: String,
    token: Option<String>,
}

impl Api {
    /// The API served at `https://{host}` (e.g. `dataproc.googleapis.com`,
    /// or a regional `europe-west1-dataproc.googleapis.com`), called with
    /// `auth`'s credentials.
    pub async fn connect(cx: &RunContext, auth: &Resolved, name: &'static str, host: &str) -> Result<Api, TaskError> {
        let cfg = &cx.services.config.gcp;
        let root = match &cfg.apis_url {
            Some(u) => http::api_url("BATON_GOOGLE_APIS_URL", Some(u), "", "")?.to_string(),
            None => format!("https://{host}"),
        };
        let creds = cfg.cache.credentials(&auth.spec, false, &cfg.endpoints, &cx.services.http).map_err(auth_error)?;
        let token = creds.bearer().await.map_err(auth_error)?;
        if let Some(t) = &token {
            cx.mask(t);
        }
        Ok(Api { name, root: root.trim_end_matches('/').to_string(), token })
    }

    /// `GET path` (a path from the root, with its query).
    pub async fn get(&self, cx: &RunContext, path: &str) -> Result<Value, TaskError> {
        self.send(cx, Method::GET, path, None).await
    }

    /// `POST path` with a JSON body.
    pub async fn post(&self, cx: &RunContext, path: &str, body: &Value) -> Result<Value, TaskError> {
        self.send(cx, Method::POST, path, Some(body)).await
    }

    /// `DELETE path`.
    pub async fn delete(&self, cx: &RunContext, path: &str) -> Result<Value, TaskError> {
        self.send(cx, Method::DELETE, path, None).await
    }

    /// `PATCH path` with a JSON body.
    pub async fn patch(&self, cx: &RunContext, path: &str, body: &Value) -> Result<Value, TaskError> {
        self.send(cx, Method::PATCH, path, Some(body)).await
    }

    /// One call; the answer's JSON (`{}` for an empty one). A non-2xx
    /// answer fails with Google's message.
    pub async fn send(
        &self,
        cx: &RunContext,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, TaskError> {
        match self.call(cx, method, path, body).await? {
            Answer::Ok(v) => Ok(v),
            Answer::Refused { error, .. } => Err(error),
        }
    }

    /// One call, the answer kept whatever its status: for the callers that
    /// handle one (a 404 on delete, a 409 on create).
    pub async fn call(
        &self,
        cx: &RunContext,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Answer, TaskError> {
        let url = self.url(path)?;
        let mut rb = cx.services.http.request(method.clone(), url.clone());
        if let Some(t) = &self.token {
            rb = rb.bearer_auth(t);
        }
        if let Some(b) = body {
            rb = rb.json(b);
        }
        let (status, bytes) = http::call(rb, &method, self.name, &url, MAX_ANSWER).await?;
        if !status.is_success() {
            return Ok(Answer::Refused {
                status: status.as_u16(),
                error: self.error(status.as_u16(), &bytes, &method, &url),
            });
        }
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Answer::Ok(Value::Object(Default::default())));
        }
        serde_json::from_slice(&bytes).map(Answer::Ok).map_err(|e| {
            TaskError::failed(format!(
                "{} answered {method} {} with JSON that does not parse: {e}",
                self.name,
                url.path()
            ))
        })
    }

    /// A call made ready now and sent later without the task's context:
    /// for a clean-up sent when a killed task's future is dropped (a
    /// job's cancel). Its answer is only logged.
    pub fn detached(&self, cx: &RunContext, method: Method, path: &str) -> Result<Detached, TaskError> {
        let url = self.url(path)?;
        let mut rb = cx.services.http.request(method.clone(), url.clone());
        if let Some(t) = &self.token {
            rb = rb.bearer_auth(t);
        }
        Ok(Detached {
            rb: rb.json(&Value::Object(Default::default())),
            what: format!("{} {method} {}", self.name, url.path()),
        })
    }

    fn url(&self, path: &str) -> Result<Url, TaskError> {
        let p = if path.starts_with('/') { path.to_string() } else { format!("/{path}") };
        Url::parse(&format!("{}{p}", self.root))
            .map_err(|e| TaskError::failed(format!("{}: '{}{p}' is not a URL: {e}", self.name, self.root)))
    }

    /// Google's error answer as a task error: `Dataproc: NOT_FOUND (404):
    /// the message (GET /v1/…)`.
    fn error(&self, code: u16, body: &[u8], method: &Method, url: &Url) -> TaskError {
        let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let e = &v["error"];
        match e["message"].as_str() {
            Some(m) => TaskError::failed(format!(
                "{}: {} ({code}): {m} ({method} {})",
                self.name,
                e["status"].as_str().unwrap_or("error"),
                url.path()
            )),
            None => http::status_error(reqwest::StatusCode::from_u16(code).unwrap_or_default(), body, method, url),
        }
    }

    /// Reads the long-running operation `op` (an answer holding its
    /// `name`) again every `every` until it is `done`, for at most `max`:
    /// the finished operation, or its `error` as the task's failure.
    pub async fn wait_operation(
        &self,
        cx: &RunContext,
        op: Value,
        version: &str,
        every: Duration,
        max: Duration,
    ) -> Result<Value, TaskError> {
        let started = Instant::now();
        let mut op = op;
        loop {
            if op["done"].as_bool() == Some(true) {
                if let Some(m) = op["error"]["message"].as_str() {
                    return Err(TaskError::failed(format!(
                        "{}: the operation {} failed: {m}",
                        self.name,
                        name_of(&op)
                    )));
                }
                return Ok(op);
            }
            let name = name_of(&op);
            if name.is_empty() {
                return Err(TaskError::failed(format!("{} answered an operation without a name", self.name)));
            }
            if started.elapsed() >= max {
                return Err(TaskError::failed(format!(
                    "{}: the operation {name} was not done after {}s",
                    self.name,
                    max.as_secs()
                )));
            }
            tokio::time::sleep(every).await;
            op = self.get(cx, &format!("/{version}/{name}")).await?;
        }
    }
}

/// A call ready to be sent in the background ([`Api::detached`]).
pub struct Detached {
    rb: reqwest::RequestBuilder,
    what: String,
}

impl Detached {
    /// Sends it on the current runtime, bounded by [`DETACHED_TIMEOUT`];
    /// the outcome goes to the process log (the task is gone).
    pub fn spawn(self) {
        let Ok(rt) = tokio::runtime::Handle::try_current() else { return };
        let Detached { rb, what } = self;
        rt.spawn(async move {
            match rb.timeout(DETACHED_TIMEOUT).send().await {
                Ok(r) if r.status().is_success() => tracing::info!(call = %what, "sent after the task was stopped"),
                Ok(r) => tracing::warn!(call = %what, status = %r.status(), "refused after the task was stopped"),
                Err(e) => tracing::warn!(call = %what, error = %e, "failed after the task was stopped"),
            }
        });
    }
}

/// The longest a [`Detached`] call may take.
const DETACHED_TIMEOUT: Duration = Duration::from_secs(60);

fn name_of(op: &Value) -> String {
    op["name"].as_str().unwrap_or_default().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn google_s_error_answer_is_named() {
        let api = Api { name: "Dataproc", root: "http://h".into(), token: None };
        let url = Url::parse("http://h/v1/x").unwrap();
        let body = br#"{"error":{"code":404,"status":"NOT_FOUND","message":"Batch x not found"}}"#;
        let e = api.error(404, body, &Method::GET, &url);
        assert_eq!(e.to_string(), "Dataproc: NOT_FOUND (404): Batch x not found (GET /v1/x)");
        let e = api.error(502, b"bad gateway", &Method::GET, &url);
        assert!(e.to_string().contains("502") && e.to_string().contains("bad gateway"), "{e}");
    }
}
