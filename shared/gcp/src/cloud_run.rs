//! A client of the Cloud Run Admin API v2 (`run.v2`) for what the Cloud
//! Run Jobs task runner needs: `jobs.get`, `jobs.create`, `jobs.patch`,
//! `jobs.run`, `executions.get`, `executions.cancel` and `operations.get`
//! (to wait for a Job being created or updated). Plain HTTP/JSON with
//! reqwest and the project's Google credentials (`GcpCredentials`), or no
//! credentials on a local stand-in (`BATON_CLOUD_RUN_ENDPOINT`).
//!
//! Hand-written rather than Google's `google-cloud-run-v2` crate (1.14,
//! the version compatible with the `google-cloud-*` crates already in the
//! tree): that crate is about 58,000 lines of generated code for the whole
//! Admin API (services, revisions, worker pools…) plus four more generated
//! crates (iam, longrunning, lro, rpc), a cost on every clean build of a
//! 2-core CI for seven calls whose request bodies `plugins::scripts::
//! cloudrun` already builds as JSON, checked against the discovery
//! document by the tests' fake.

use serde_json::Value;

use super::{AuthSpec, GcpCredentials, causes};

/// Google's endpoint.
pub const CLOUD_RUN_DEFAULT: &str = "https://run.googleapis.com";

/// A Cloud Run Admin API call that failed.
#[derive(Debug, thiserror::Error)]
pub enum CloudRunError {
    #[error("Cloud Run {what}: {message}")]
    Call { what: String, message: String },
    #[error("Cloud Run {what}: HTTP {status}: {message}")]
    Status { what: String, status: u16, message: String },
}

/// The Jobs API of one project and region.
#[derive(Clone, Debug)]
pub struct CloudRunClient {
    http: reqwest::Client,
    creds: GcpCredentials,
    base: String,
    /// `projects/P/locations/R`
    parent: String,
}

impl CloudRunClient {
    /// A client for `project`/`region`; on `endpoint` without credentials
    /// when given, else Google's with Application Default Credentials.
    pub fn new(
        http: reqwest::Client,
        endpoint: Option<&str>,
        project: &str,
        region: &str,
        iam_endpoint: &str,
    ) -> Result<CloudRunClient, CloudRunError> {
        let creds = match endpoint {
            Some(_) => GcpCredentials::anonymous(),
            None => GcpCredentials::build(&AuthSpec::default(), iam_endpoint, http.clone())
                .map_err(|e| CloudRunError::Call { what: "credentials".into(), message: e.to_string() })?,
        };
        let base = endpoint.unwrap_or(CLOUD_RUN_DEFAULT).trim_end_matches('/').to_string();
        Ok(CloudRunClient { http, creds, base, parent: format!("projects/{project}/locations/{region}") })
    }

    /// `projects/P/locations/R/jobs/{id}`
    pub fn job_name(&self, id: &str) -> String {
        format!("{}/jobs/{id}", self.parent)
    }

    /// One call; `Ok(None)` for a GET answered 404 (other 404s keep
    /// Google's message).
    async fn call(
        &self,
        what: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Option<Value>, CloudRunError> {
        let url = format!("{}/v2/{path}", self.base);
        let is_get = method == reqwest::Method::GET;
        let mut rb = self.http.request(method, &url);
        if let Some(b) = body {
            rb = rb.json(b);
        }
        let rb = self
            .creds
            .authorize(rb)
            .await
            .map_err(|e| CloudRunError::Call { what: what.into(), message: e.to_string() })?;
        let resp = rb.send().await.map_err(|e| CloudRunError::Call { what: what.into(), message: causes(&e) })?;
        let status = resp.status();
        if status == reqwest::StatusCode::NOT_FOUND && is_get {
            return Ok(None);
        }
        let text = resp.text().await.map_err(|e| CloudRunError::Call { what: what.into(), message: causes(&e) })?;
        if !status.is_success() {
            let message = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
                .unwrap_or(text);
            return Err(CloudRunError::Status { what: what.into(), status: status.as_u16(), message });
        }
        if text.trim().is_empty() {
            return Ok(Some(Value::Null));
        }
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| CloudRunError::Call { what: what.into(), message: format!("not JSON: {e}") })
    }

    fn missing(what: &str) -> CloudRunError {
        CloudRunError::Status { what: what.into(), status: 404, message: "not found".into() }
    }

    /// The Job `id`, if it exists.
    pub async fn get_job(&self, id: &str) -> Result<Option<Value>, CloudRunError> {
        let name = self.job_name(id);
        self.call(&format!("jobs.get {name}"), reqwest::Method::GET, &name, None).await
    }

    /// Creates Job `id` and waits for it to be ready. A Job created by a
    /// concurrent caller (409) counts as created.
    pub async fn create_job(&self, id: &str, job: &Value) -> Result<(), CloudRunError> {
        let what = format!("jobs.create {}", self.job_name(id));
        let path = format!("{}/jobs?jobId={id}", self.parent);
        match self.call(&what, reqwest::Method::POST, &path, Some(job)).await {
            Ok(Some(op)) => self.wait_operation(&op).await,
            Ok(None) => Err(Self::missing(&what)),
            Err(CloudRunError::Status { status: 409, .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Replaces Job `id`'s definition and waits for it.
    pub async fn patch_job(&self, id: &str, job: &Value) -> Result<(), CloudRunError> {
        let name = self.job_name(id);
        let what = format!("jobs.patch {name}");
        match self.call(&what, reqwest::Method::PATCH, &name, Some(job)).await? {
            Some(op) => self.wait_operation(&op).await,
            None => Err(Self::missing(&what)),
        }
    }

    /// Starts an execution of Job `id`; returns the execution's full name
    /// (the operation's `metadata`, a `GoogleCloudRunV2Execution`).
    pub async fn run_job(&self, id: &str, request: &Value) -> Result<String, CloudRunError> {
        let name = self.job_name(id);
        let what = format!("jobs.run {name}");
        let op = self
            .call(&what, reqwest::Method::POST, &format!("{name}:run"), Some(request))
            .await?
            .ok_or_else(|| Self::missing(&what))?;
        op["metadata"]["name"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| CloudRunError::Call { what, message: format!("the operation names no execution: {op}") })
    }

    /// An execution (`projects/…/jobs/J/executions/E`), if it exists.
    pub async fn get_execution(&self, name: &str) -> Result<Option<Value>, CloudRunError> {
        self.call(&format!("executions.get {name}"), reqwest::Method::GET, name, None).await
    }

    /// Cancels an execution; one already gone counts as cancelled.
    pub async fn cancel_execution(&self, name: &str) -> Result<(), CloudRunError> {
        let what = format!("executions.cancel {name}");
        match self.call(&what, reqwest::Method::POST, &format!("{name}:cancel"), Some(&serde_json::json!({}))).await {
            Ok(_) => Ok(()),
            // FAILED_PRECONDITION: it already ended; NOT_FOUND: it is gone
            Err(CloudRunError::Status { status: 400 | 404 | 409, .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Polls a long-running operation until `done` (at most two minutes).
    async fn wait_operation(&self, op: &Value) -> Result<(), CloudRunError> {
        let mut op = op.clone();
        for _ in 0..240 {
            if op["done"].as_bool() == Some(true) {
                return match op.get("error") {
                    Some(e) if !e.is_null() => Err(CloudRunError::Call {
                        what: format!("operation {}", op["name"].as_str().unwrap_or("?")),
                        message: e["message"].as_str().unwrap_or("failed").to_string(),
                    }),
                    _ => Ok(()),
                };
            }
            let Some(name) = op["name"].as_str().map(str::to_string) else { return Ok(()) };
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            op = self
                .call(&format!("operations.get {name}"), reqwest::Method::GET, &name, None)
                .await?
                .ok_or_else(|| Self::missing(&name))?;
        }
        Err(CloudRunError::Call {
            what: format!("operation {}", op["name"].as_str().unwrap_or("?")),
            message: "not done after two minutes".into(),
        })
    }
}
