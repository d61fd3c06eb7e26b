//! A BigQuery client for one credential: `gcp-bigquery-client` for jobs
//! (Baton's credentials behind its `Authenticator`),
//! plain JSON REST for query results, datasets and tables (the crate's
//! models drop fields such as a dataset's description and reject column
//! types they do not know), and the resumable media upload of load
//! jobs (streamed in 8 MiB chunks), which that crate lacks.

use std::sync::Arc;
use std::time::Duration;

use gcp_bigquery_client::error::BQError;
use gcp_bigquery_client::model::job::Job;
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt};

use super::auth::{AuthError, GcpCredentials};
use super::endpoints::Endpoints;
use super::percent::encode;

/// Bytes per PUT of a resumable load upload (a multiple of 256 KiB).
const UPLOAD_CHUNK: usize = 8 * 1024 * 1024;

/// A failed BigQuery call.
#[derive(Debug, thiserror::Error)]
pub enum BqError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// BigQuery answered with an error.
    #[error("{op}: {message} (HTTP {status}{})", reason.as_deref().map(|r| format!(", {r}")).unwrap_or_default())]
    Api { op: String, status: u16, reason: Option<String>, message: String },
    #[error("{op}: cannot reach BigQuery at {url}: {message}")]
    Transport { op: String, url: String, message: String },
    #[error("{op}: {message}")]
    Other { op: String, message: String },
}

impl BqError {
    /// The HTTP status of an API error.
    pub fn status(&self) -> Option<u16> {
        match self {
            BqError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// Gives `gcp-bigquery-client` Baton's tokens.
#[derive(Clone)]
struct BqAuth(GcpCredentials);

#[async_trait::async_trait]
impl gcp_bigquery_client::auth::Authenticator for BqAuth {
    async fn access_token(&self) -> Result<String, BQError> {
        match self.0.bearer().await {
            Ok(Some(t)) => Ok(t),
            // The crate always sends a bearer header; emulators ignore it.
            Ok(None) => Ok("anonymous".to_string()),
            Err(e) => Err(BQError::InvalidServiceAccountAuthenticator(std::io::Error::other(e.to_string()))),
        }
    }
}

/// A BigQuery client bound to one endpoint and one set of credentials.
pub struct BigQueryClient {
    client: gcp_bigquery_client::Client,
    upload_base: String,
    v2_base: String,
    creds: GcpCredentials,
    http: reqwest::Client,
}

impl std::fmt::Debug for BigQueryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BigQueryClient").field("v2_base", &self.v2_base).finish()
    }
}

fn map_err(op: &str, url: &str, e: BQError) -> BqError {
    match e {
        BQError::ResponseError { error } => BqError::Api {
            op: op.to_string(),
            status: u16::try_from(error.error.code).unwrap_or(0),
            reason: error.error.errors.first().and_then(|m| m.get("reason").cloned()),
            message: error.error.message,
        },
        BQError::RequestError(e) => {
            BqError::Transport { op: op.to_string(), url: url.to_string(), message: super::causes(&e) }
        }
        BQError::InvalidServiceAccountAuthenticator(e) => BqError::Other { op: op.to_string(), message: e.to_string() },
        other => BqError::Other { op: op.to_string(), message: other.to_string() },
    }
}

fn api_error(op: &str, status: u16, body: &str) -> BqError {
    let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    BqError::Api {
        op: op.to_string(),
        status,
        reason: v["error"]["errors"][0]["reason"].as_str().map(str::to_string),
        message: v["error"]["message"].as_str().map(str::to_string).unwrap_or_else(|| body.chars().take(300).collect()),
    }
}

impl BigQueryClient {
    /// A client for `endpoints.bigquery` with these credentials.
    pub async fn new(endpoints: &Endpoints, creds: GcpCredentials, http: reqwest::Client) -> Result<Self, BqError> {
        let v2_base = endpoints.bigquery_v2();
        let client = gcp_bigquery_client::client_builder::ClientBuilder::new()
            .with_v2_base_url(v2_base.clone())
            .build_from_authenticator(Arc::new(BqAuth(creds.clone())))
            .await
            .map_err(|e| map_err("create the BigQuery client", &v2_base, e))?;
        Ok(BigQueryClient { client, upload_base: endpoints.bigquery_upload_v2(), v2_base, creds, http })
    }

    /// Checks the credentials first, so a bad key or ADC problem reads as such.
    async fn ready(&self) -> Result<(), BqError> {
        self.creds.bearer().await?;
        Ok(())
    }

    /// `jobs.insert` with a Job resource given as JSON.
    pub async fn insert_job(&self, project: &str, job: Value) -> Result<Job, BqError> {
        let op = "start the BigQuery job";
        self.ready().await?;
        let job: Job = serde_json::from_value(job)
            .map_err(|e| BqError::Other { op: op.to_string(), message: format!("invalid job configuration: {e}") })?;
        self.client.job().insert(project, job).await.map_err(|e| map_err(op, &self.v2_base, e))
    }

    /// `jobs.get`.
    pub async fn get_job(&self, project: &str, job_id: &str, location: Option<&str>) -> Result<Job, BqError> {
        let op = format!("get job '{job_id}'");
        self.client.job().get_job(project, job_id, location).await.map_err(|e| map_err(&op, &self.v2_base, e))
    }

    /// Polls a job until it is DONE, backing off from 200 ms to 5 s.
    pub async fn wait_job(&self, project: &str, mut job: Job) -> Result<Job, BqError> {
        let mut delay = Duration::from_millis(200);
        loop {
            if job.status.as_ref().and_then(|s| s.state.as_deref()) == Some("DONE") {
                return Ok(job);
            }
            let reference = job.job_reference.clone().unwrap_or_default();
            let Some(job_id) = reference.job_id else {
                return Err(BqError::Other { op: "wait for the job".into(), message: "the job has no id".into() });
            };
            tokio::time::sleep(delay).await;
            delay = (delay.mul_f32(1.5)).min(Duration::from_secs(5));
            job = self.get_job(project, &job_id, reference.location.as_deref()).await?;
        }
    }

    /// One page of a query job's results (`jobs.getQueryResults`, as
    /// JSON: `schema`, `rows`, `pageToken`, `totalRows`…), timestamps as
    /// int64 microseconds.
    pub async fn query_results(
        &self,
        project: &str,
        job_id: &str,
        location: Option<&str>,
        page_token: Option<&str>,
    ) -> Result<Value, BqError> {
        let op = format!("read the results of job '{job_id}'");
        let mut query = vec![("formatOptions.useInt64Timestamp", "true".to_string())];
        if let Some(l) = location {
            query.push(("location", l.to_string()));
        }
        if let Some(t) = page_token {
            query.push(("pageToken", t.to_string()));
        }
        let path = format!("queries/{}", encode(job_id));
        let v = self.rest(&op, reqwest::Method::GET, project, &path, &query, None).await?;
        v.ok_or_else(|| BqError::Api {
            op,
            status: 404,
            reason: Some("notFound".into()),
            message: "job not found".into(),
        })
    }

    /// A REST call on `{v2}/projects/{project}/{path}`: the JSON answer,
    /// `None` for 404, an [`BqError::Api`] for other errors.
    async fn rest(
        &self,
        op: &str,
        method: reqwest::Method,
        project: &str,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Option<Value>, BqError> {
        let url = format!("{}/projects/{}/{}", self.v2_base, encode(project), path);
        let mut rb = self.http.request(method, &url).query(query);
        if let Some(b) = body {
            rb = rb.json(b);
        }
        let resp = self.creds.authorize(rb).await?.send().await.map_err(|e| BqError::Transport {
            op: op.to_string(),
            url: self.v2_base.clone(),
            message: super::causes(&e),
        })?;
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        match status {
            404 => Ok(None),
            200..=299 => Ok(Some(if text.trim().is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).unwrap_or(Value::Null)
            })),
            _ => Err(api_error(op, status, &text)),
        }
    }

    /// `datasets.get`; `None` if it does not exist.
    pub async fn get_dataset(&self, project: &str, dataset: &str) -> Result<Option<Value>, BqError> {
        let op = format!("get dataset '{project}.{dataset}'");
        self.rest(&op, reqwest::Method::GET, project, &format!("datasets/{}", encode(dataset)), &[], None).await
    }

    /// `datasets.insert` (`dataset` is a Dataset resource).
    pub async fn create_dataset(&self, project: &str, dataset: &Value) -> Result<Value, BqError> {
        let op = format!(
            "create dataset '{project}.{}'",
            dataset["datasetReference"]["datasetId"].as_str().unwrap_or_default()
        );
        let v = self.rest(&op, reqwest::Method::POST, project, "datasets", &[], Some(dataset)).await?;
        v.ok_or_else(|| BqError::Api {
            op,
            status: 404,
            reason: Some("notFound".into()),
            message: "project not found".into(),
        })
    }

    /// `datasets.patch` with the given fields.
    pub async fn patch_dataset(&self, project: &str, dataset: &str, patch: &Value) -> Result<Value, BqError> {
        let op = format!("update dataset '{project}.{dataset}'");
        let v = self
            .rest(&op, reqwest::Method::PATCH, project, &format!("datasets/{}", encode(dataset)), &[], Some(patch))
            .await?;
        v.ok_or_else(|| BqError::Api {
            op,
            status: 404,
            reason: Some("notFound".into()),
            message: "dataset not found".into(),
        })
    }

    /// `datasets.delete`; false if it did not exist.
    pub async fn delete_dataset(&self, project: &str, dataset: &str, delete_contents: bool) -> Result<bool, BqError> {
        let op = format!("delete dataset '{project}.{dataset}'");
        let query = [("deleteContents", delete_contents.to_string())];
        Ok(self
            .rest(&op, reqwest::Method::DELETE, project, &format!("datasets/{}", encode(dataset)), &query, None)
            .await?
            .is_some())
    }

    /// `tables.get`; `None` if it does not exist.
    pub async fn get_table(&self, project: &str, dataset: &str, table: &str) -> Result<Option<Value>, BqError> {
        let op = format!("get table '{project}.{dataset}.{table}'");
        let path = format!("datasets/{}/tables/{}", encode(dataset), encode(table));
        self.rest(&op, reqwest::Method::GET, project, &path, &[], None).await
    }

    /// `tables.insert` (`table` is a Table resource with its `tableReference`).
    pub async fn create_table(&self, project: &str, dataset: &str, table: &Value) -> Result<Value, BqError> {
        let op = format!(
            "create table '{project}.{dataset}.{}'",
            table["tableReference"]["tableId"].as_str().unwrap_or_default()
        );
        let path = format!("datasets/{}/tables", encode(dataset));
        let v = self.rest(&op, reqwest::Method::POST, project, &path, &[], Some(table)).await?;
        v.ok_or_else(|| BqError::Api {
            op,
            status: 404,
            reason: Some("notFound".into()),
            message: format!("dataset '{dataset}' not found"),
        })
    }

    /// `tables.patch` with the given fields.
    pub async fn patch_table(
        &self,
        project: &str,
        dataset: &str,
        table: &str,
        patch: &Value,
    ) -> Result<Value, BqError> {
        let op = format!("update table '{project}.{dataset}.{table}'");
        let path = format!("datasets/{}/tables/{}", encode(dataset), encode(table));
        let v = self.rest(&op, reqwest::Method::PATCH, project, &path, &[], Some(patch)).await?;
        v.ok_or_else(|| BqError::Api {
            op,
            status: 404,
            reason: Some("notFound".into()),
            message: format!("table '{project}.{dataset}.{table}' not found"),
        })
    }

    /// `tabledata.list`: one page of a table's rows (`rows`, `pageToken`);
    /// `None` if the table does not exist.
    pub async fn list_rows(
        &self,
        project: &str,
        dataset: &str,
        table: &str,
        page_token: Option<&str>,
    ) -> Result<Option<Value>, BqError> {
        let op = format!("list the rows of table '{project}.{dataset}.{table}'");
        let path = format!("datasets/{}/tables/{}/data", encode(dataset), encode(table));
        let query: Vec<(&str, String)> = page_token.map(|t| ("pageToken", t.to_string())).into_iter().collect();
        self.rest(&op, reqwest::Method::GET, project, &path, &query, None).await
    }

    /// `tables.delete`; false if it did not exist.
    pub async fn delete_table(&self, project: &str, dataset: &str, table: &str) -> Result<bool, BqError> {
        let op = format!("delete table '{project}.{dataset}.{table}'");
        let path = format!("datasets/{}/tables/{}", encode(dataset), encode(table));
        Ok(self.rest(&op, reqwest::Method::DELETE, project, &path, &[], None).await?.is_some())
    }

    /// Starts a load job whose data is uploaded from `data`: a resumable
    /// upload session, then the bytes in `UPLOAD_CHUNK` PUTs (two chunks
    /// in memory at most). Returns the job as BigQuery reports it.
    pub async fn upload_load_job<R>(&self, project: &str, job: &Value, mut data: R) -> Result<Job, BqError>
    where
        R: AsyncRead + Send + Unpin,
    {
        let op = "upload the data of the load job";
        let url = format!("{}/projects/{}/jobs", self.upload_base, encode(project));
        let rb = self.http.post(&url).query(&[("uploadType", "resumable")]).json(job);
        let resp = self.creds.authorize(rb).await?.send().await.map_err(|e| BqError::Transport {
            op: op.to_string(),
            url: self.upload_base.clone(),
            message: super::causes(&e),
        })?;
        let status = resp.status().as_u16();
        if !(200..300).contains(&status) {
            let body = resp.text().await.unwrap_or_default();
            return Err(api_error(op, status, &body));
        }
        let session = resp
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .ok_or_else(|| BqError::Other {
            op: op.to_string(),
            message: "no upload session URL in the answer".into(),
        })?;

        let read_err =
            |e: std::io::Error| BqError::Other { op: op.to_string(), message: format!("reading the data failed: {e}") };
        let mut offset: u64 = 0;
        let mut current = read_chunk(&mut data).await.map_err(read_err)?;
        if current.is_empty() {
            return Err(BqError::Other { op: op.to_string(), message: "nothing to load: the data is empty".into() });
        }
        loop {
            // Read ahead to know whether `current` is the last chunk.
            let next =
                if current.len() == UPLOAD_CHUNK { read_chunk(&mut data).await.map_err(read_err)? } else { Vec::new() };
            let last = next.is_empty();
            let len = current.len() as u64;
            let range = if last {
                format!("bytes {}-{}/{}", offset, offset + len - 1, offset + len)
            } else {
                format!("bytes {}-{}/*", offset, offset + len - 1)
            };
            let rb = self.http.put(&session).header(reqwest::header::CONTENT_RANGE, range).body(current);
            let resp = self.creds.authorize(rb).await?.send().await.map_err(|e| BqError::Transport {
                op: op.to_string(),
                url: self.upload_base.clone(),
                message: super::causes(&e),
            })?;
            let status = resp.status().as_u16();
            let body = resp.text().await.unwrap_or_default();
            if last {
                if !(200..300).contains(&status) {
                    return Err(api_error(op, status, &body));
                }
                return serde_json::from_str::<Job>(&body).map_err(|e| BqError::Other {
                    op: op.to_string(),
                    message: format!("unexpected answer to the upload: {e}"),
                });
            }
            if status != 308 && !(200..300).contains(&status) {
                return Err(api_error(op, status, &body));
            }
            offset += len;
            current = next;
        }
    }
}

/// Reads up to `UPLOAD_CHUNK` bytes (fewer only at the end of the data).
async fn read_chunk<R: AsyncRead + Unpin>(data: &mut R) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(UPLOAD_CHUNK);
    (&mut *data).take(UPLOAD_CHUNK as u64).read_to_end(&mut buf).await?;
    Ok(buf)
}
