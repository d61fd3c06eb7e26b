//! A small client of the `baton server local` API, for `baton backfill
//! --server URL` (and tests): backfills and executions.

use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::backend::schedule::Backfill;
use crate::model::{Execution, Label};

/// A failed API call, for humans.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{url}: HTTP {status}: {message}")]
    Http { url: String, status: u16, message: String },
    #[error("cannot reach {url}: {source}")]
    Transport {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{url}: unexpected response: {message}")]
    Decode { url: String, message: String },
}

/// The API of one server.
#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    http: reqwest::Client,
}

/// A backfill to submit.
#[derive(Debug, Clone, Default)]
pub struct NewBackfill {
    pub namespace: String,
    pub flow_id: String,
    pub trigger_id: String,
    /// As typed (`2019-01-01`, ISO with or without offset).
    pub start: String,
    pub end: Option<String>,
    pub inputs: Map<String, Value>,
    pub labels: Vec<Label>,
    pub rerun_successful: bool,
}

impl Client {
    /// A client of the server at `base` (e.g. `http://127.0.0.1:8080`).
    pub fn new(base: &str) -> Client {
        Client {
            base: base.trim_end_matches('/').to_string(),
            http: reqwest::Client::builder().user_agent("baton").build().unwrap_or_default(),
        }
    }

    async fn send<T: DeserializeOwned>(&self, req: reqwest::RequestBuilder, url: String) -> Result<T, ClientError> {
        let resp = req.send().await.map_err(|source| ClientError::Transport { url: url.clone(), source })?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(|source| ClientError::Transport { url: url.clone(), source })?;
        if !status.is_success() {
            let message = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_string))
                .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
            return Err(ClientError::Http { url, status: status.as_u16(), message });
        }
        serde_json::from_slice(&body).map_err(|e| ClientError::Decode { url, message: e.to_string() })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `GET /healthz`.
    pub async fn health(&self) -> Result<Value, ClientError> {
        let url = self.url("/healthz");
        self.send(self.http.get(&url), url).await
    }

    /// `POST /api/v1/backfills`.
    pub async fn create_backfill(&self, b: &NewBackfill) -> Result<Backfill, ClientError> {
        let url = self.url("/api/v1/backfills");
        let body = json!({
            "namespace": b.namespace, "flowId": b.flow_id, "triggerId": b.trigger_id,
            "start": b.start, "end": b.end, "inputs": b.inputs, "labels": b.labels,
            "rerunSuccessful": b.rerun_successful,
        });
        self.send(self.http.post(&url).json(&body), url).await
    }

    /// `GET /api/v1/backfills/{id}`.
    pub async fn backfill(&self, id: &str) -> Result<Backfill, ClientError> {
        let url = self.url(&format!("/api/v1/backfills/{id}"));
        self.send(self.http.get(&url), url).await
    }

    /// `GET /api/v1/backfills`.
    pub async fn backfills(&self) -> Result<Vec<Backfill>, ClientError> {
        let url = self.url("/api/v1/backfills");
        self.send(self.http.get(&url), url).await
    }

    /// `POST /api/v1/backfills/{id}/{pause|resume|cancel}`.
    pub async fn backfill_action(&self, id: &str, action: &str) -> Result<Backfill, ClientError> {
        let url = self.url(&format!("/api/v1/backfills/{id}/{action}"));
        self.send(self.http.post(&url), url).await
    }

    /// `POST /api/v1/executions/{namespace}/{id}` with JSON inputs and labels.
    pub async fn start_execution(
        &self,
        namespace: &str,
        flow_id: &str,
        inputs: &Map<String, Value>,
        labels: &[Label],
        wait: bool,
    ) -> Result<Execution, ClientError> {
        let url = self.url(&format!("/api/v1/executions/{namespace}/{flow_id}"));
        let mut query: Vec<(&str, String)> =
            labels.iter().map(|l| ("labels", format!("{}:{}", l.key, l.value))).collect();
        if wait {
            query.push(("wait", "true".into()));
        }
        self.send(self.http.post(&url).query(&query).json(inputs), url).await
    }

    /// `GET /api/v1/executions/{id}`; `None` when it does not exist.
    pub async fn execution(&self, id: &str) -> Result<Option<Execution>, ClientError> {
        let url = self.url(&format!("/api/v1/executions/{id}"));
        match self.send(self.http.get(&url), url).await {
            Ok(e) => Ok(Some(e)),
            Err(ClientError::Http { status, .. }) if status == StatusCode::NOT_FOUND.as_u16() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `GET /api/v1/flows`.
    pub async fn flows(&self) -> Result<Vec<Value>, ClientError> {
        let url = self.url("/api/v1/flows");
        self.send(self.http.get(&url), url).await
    }
}
