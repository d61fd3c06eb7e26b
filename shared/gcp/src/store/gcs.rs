//! `GcsStorage`: internal storage in a GCS bucket. The storage path
//! `/ns/flow/executions/{id}/…` (from `kestra:///ns/flow/…`) is the object
//! `gs://<bucket>/ns/flow/executions/{id}/…`.
//!
//! Data goes through Google's `google-cloud-storage` data plane, streamed
//! both ways: a write reads up to [`SINGLE_SHOT`] bytes first; a stream that
//! ends by then is sent in one request, a longer one as a resumable upload
//! whose memory is bounded by the client's upload buffer. Only
//! `send_buffered` is used (a small `send_unbuffered` upload is stored
//! corrupted by fake-gcs-server). Sizes, listings and deletes use the JSON
//! API with `reqwest` — the gRPC control plane has no emulator.

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use chrono::{DateTime, Utc};
use google_cloud_auth::credentials::{AccessTokenCredentials, Credentials};
use google_cloud_storage::client::Storage as DataPlane;
use google_cloud_storage::streaming_source::{SizeHint, StreamingSource};
use serde_json::Value;
use tokio::io::AsyncReadExt;

use baton_backend::{BackendError, ByteStream, Result, Storage};

/// Streams that end within this many bytes are uploaded in one request.
pub const SINGLE_SHOT: usize = 8 * 1024 * 1024;
/// Bytes read from the source per chunk handed to a resumable upload.
const READ_CHUNK: usize = 1024 * 1024;
/// Concurrent deletes in `delete_prefix`.
const DELETE_CONCURRENCY: usize = 16;

/// How requests are authorised.
#[derive(Clone, Debug)]
pub enum GcsAuth {
    /// No credentials (an emulator).
    Anonymous,
    /// OAuth tokens (Application Default Credentials on Cloud Run).
    Token(AccessTokenCredentials),
}

impl GcsAuth {
    /// Application Default Credentials with the cloud-platform scope.
    pub fn application_default() -> Result<GcsAuth> {
        google_cloud_auth::credentials::Builder::default()
            .with_scopes(["https://www.googleapis.com/auth/cloud-platform"])
            .build_access_token_credentials()
            .map(GcsAuth::Token)
            .map_err(|e| BackendError::Invalid(format!("GCS: Application Default Credentials are not usable: {e}")))
    }

    fn for_client_library(&self) -> Credentials {
        match self {
            GcsAuth::Anonymous => google_cloud_auth::credentials::anonymous::Builder::new().build(),
            GcsAuth::Token(t) => Credentials::from(t.clone()),
        }
    }
}

/// Internal storage in one bucket.
pub struct GcsStorage {
    bucket: String,
    /// e.g. `https://storage.googleapis.com` or `http://127.0.0.1`.
    root: String,
    auth: GcsAuth,
    http: reqwest::Client,
    data: DataPlane,
}

impl std::fmt::Debug for GcsStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GcsStorage").field("bucket", &self.bucket).field("root", &self.root).finish_non_exhaustive()
    }
}

fn gcs_error(what: impl Into<String>, message: impl std::fmt::Display) -> BackendError {
    BackendError::Io { what: what.into(), source: std::io::Error::other(message.to_string()) }
}

/// The object name of a storage path: its non-empty segments joined by `/`;
/// `.` and `..` are rejected.
fn object_name(path: &str) -> Result<String> {
    let mut segs = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" => {}
            "." | ".." => return Err(BackendError::Invalid(format!("storage path '{path}' must not contain '{seg}'"))),
            s if s.contains('\0') => {
                return Err(BackendError::Invalid(format!("storage path '{path}' contains an invalid character")));
            }
            s => segs.push(s),
        }
    }
    Ok(segs.join("/"))
}

/// Google's error message from a JSON error body, else the body's start.
fn error_message(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| body.trim().chars().take(300).collect())
}

impl GcsStorage {
    /// Storage in `bucket` at `root` (the JSON API and data-plane endpoint).
    pub async fn connect(root: &str, bucket: &str, auth: GcsAuth) -> Result<GcsStorage> {
        let root = root.trim_end_matches('/').to_string();
        let data = DataPlane::builder()
            .with_endpoint(root.clone())
            .with_credentials(auth.for_client_library())
            .build()
            .await
            .map_err(|e| gcs_error(format!("create the GCS client for {root}"), e))?;
        let http = reqwest::Client::builder().user_agent("baton").build().unwrap_or_default();
        Ok(GcsStorage { bucket: bucket.to_string(), root, auth, http, data })
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    fn bucket_resource(&self) -> String {
        format!("projects/_/buckets/{}", self.bucket)
    }

    /// `{root}/storage/v1/b/{bucket}/o[/{object}]`, each part percent-encoded.
    fn objects_url(&self, object: Option<&str>) -> Result<reqwest::Url> {
        let mut url = reqwest::Url::parse(&format!("{}/storage/v1/b", self.root))
            .map_err(|e| BackendError::Invalid(format!("GCS endpoint '{}': {e}", self.root)))?;
        {
            let mut segs = url
                .path_segments_mut()
                .map_err(|_| BackendError::Invalid(format!("GCS endpoint '{}' cannot take a path", self.root)))?;
            segs.push(&self.bucket).push("o");
            if let Some(o) = object {
                segs.push(o);
            }
        }
        Ok(url)
    }

    /// Sends a JSON API request; returns the status and the body text.
    async fn call(&self, what: &str, rb: reqwest::RequestBuilder) -> Result<(u16, String)> {
        let rb = match &self.auth {
            GcsAuth::Anonymous => rb,
            GcsAuth::Token(t) => {
                let token = t.access_token().await.map_err(|e| gcs_error(what, format!("no access token: {e}")))?;
                rb.bearer_auth(token.token)
            }
        };
        let resp = rb.send().await.map_err(|e| gcs_error(what, format!("cannot reach {}: {e}", self.root)))?;
        let status = resp.status().as_u16();
        let text = resp.text().await.map_err(|e| gcs_error(what, e))?;
        if (200..300).contains(&status) || status == 404 {
            Ok((status, text))
        } else {
            Err(gcs_error(what, format!("HTTP {status}: {}", error_message(&text))))
        }
    }

    /// Creates the bucket if it does not exist (tests and first deploys).
    pub async fn ensure_bucket(&self, project: &str) -> Result<()> {
        let what = format!("create bucket gs://{}", self.bucket);
        let url = format!("{}/storage/v1/b", self.root);
        let body = serde_json::json!({ "name": self.bucket });
        let rb = self.http.post(&url).query(&[("project", project)]).json(&body);
        let rb = match &self.auth {
            GcsAuth::Anonymous => rb,
            GcsAuth::Token(t) => rb.bearer_auth(
                t.access_token().await.map_err(|e| gcs_error(&what, format!("no access token: {e}")))?.token,
            ),
        };
        let resp = rb.send().await.map_err(|e| gcs_error(&what, format!("cannot reach {}: {e}", self.root)))?;
        let status = resp.status().as_u16();
        if (200..300).contains(&status) || status == 409 {
            return Ok(());
        }
        let text = resp.text().await.unwrap_or_default();
        Err(gcs_error(what, format!("HTTP {status}: {}", error_message(&text))))
    }

    /// Every object name under `name` (itself, or below `name/`), sorted.
    async fn list_names(&self, name: &str) -> Result<Vec<String>> {
        Ok(self.list_objects(name, false).await?.into_iter().map(|(n, _)| n).collect())
    }

    /// Every object under `name` with its `updated` time when asked, sorted.
    async fn list_objects(&self, name: &str, updated: bool) -> Result<Vec<(String, Option<DateTime<Utc>>)>> {
        let what = format!("list gs://{}/{name}", self.bucket);
        let url = self.objects_url(None)?;
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let fields = if updated { "items(name,updated),nextPageToken" } else { "items(name),nextPageToken" };
            let mut query = vec![("prefix", name.to_string()), ("fields", fields.to_string())];
            if let Some(t) = &token {
                query.push(("pageToken", t.clone()));
            }
            let (status, text) = self.call(&what, self.http.get(url.clone()).query(&query)).await?;
            if status == 404 {
                return Err(gcs_error(what, format!("bucket {} not found", self.bucket)));
            }
            let v: Value = serde_json::from_str(&text).map_err(|e| gcs_error(&what, e))?;
            for item in v["items"].as_array().into_iter().flatten() {
                if let Some(n) = item["name"].as_str()
                    && (name.is_empty() || n == name || n.strip_prefix(name).is_some_and(|rest| rest.starts_with('/')))
                {
                    let at = item["updated"]
                        .as_str()
                        .and_then(|u| DateTime::parse_from_rfc3339(u).ok())
                        .map(|d| d.with_timezone(&Utc));
                    if updated && at.is_none() {
                        return Err(gcs_error(&what, format!("no 'updated' time on object {n}")));
                    }
                    out.push((n.to_string(), at));
                }
            }
            match v["nextPageToken"].as_str() {
                Some(t) if !t.is_empty() && Some(t) != token.as_deref() => token = Some(t.to_string()),
                _ => break,
            }
        }
        out.sort();
        Ok(out)
    }

    async fn delete_object(&self, name: &str) -> Result<()> {
        let what = format!("delete gs://{}/{name}", self.bucket);
        self.call(&what, self.http.delete(self.objects_url(Some(name))?)).await?;
        Ok(())
    }
}

impl GcsStorage {
    /// Uploads `data` as `path`'s object; `create_only` adds the
    /// `ifGenerationMatch=0` precondition, and `Ok(None)` when it fails (an
    /// object is there).
    async fn write(&self, path: &str, mut data: ByteStream, create_only: bool) -> Result<Option<u64>> {
        let name = object_name(path)?;
        if name.is_empty() {
            return Err(BackendError::Invalid(format!("storage path '{path}' names no file")));
        }
        let what = format!("write gs://{}/{name}", self.bucket);
        let mut head = BytesMut::with_capacity(64 * 1024);
        let mut ended = false;
        while head.len() < SINGLE_SHOT {
            if data.read_buf(&mut head).await.map_err(|source| BackendError::Io { what: what.clone(), source })? == 0 {
                ended = true;
                break;
            }
        }
        let object = if ended {
            let w = self.data.write_object(self.bucket_resource(), &name, head.freeze());
            if create_only { w.set_if_generation_match(0).send_buffered().await } else { w.send_buffered().await }
        } else {
            let source =
                ReaderSource { head: Some(head.freeze()), reader: tokio::sync::Mutex::new(data), buf: BytesMut::new() };
            let w = self.data.write_object(self.bucket_resource(), &name, source);
            if create_only { w.set_if_generation_match(0).send_buffered().await } else { w.send_buffered().await }
        };
        match object {
            Ok(object) => Ok(Some(object.size.max(0) as u64)),
            Err(e) if create_only && e.http_status_code() == Some(412) => Ok(None),
            Err(e) => Err(gcs_error(&what, e)),
        }
    }
}

#[async_trait]
impl Storage for GcsStorage {
    async fn put(&self, path: &str, data: ByteStream) -> Result<u64> {
        Ok(self.write(path, data, false).await?.unwrap_or(0))
    }

    async fn put_new(&self, path: &str, data: ByteStream) -> Result<Option<u64>> {
        self.write(path, data, true).await
    }

    async fn get(&self, path: &str) -> Result<ByteStream> {
        let name = object_name(path)?;
        let what = format!("read gs://{}/{name}", self.bucket);
        let resp = self.data.read_object(self.bucket_resource(), &name).send().await.map_err(|e| {
            if e.http_status_code() == Some(404) {
                BackendError::NotFound { what: format!("internal-storage file {path} (gs://{}/{name})", self.bucket) }
            } else {
                gcs_error(&what, e)
            }
        })?;
        let stream = futures::stream::unfold(resp, |mut r| async move {
            r.next()
                .await
                .map(|chunk| (chunk.map_err(|e| std::io::Error::other(format!("reading the object failed: {e}"))), r))
        });
        Ok(Box::pin(tokio_util::io::StreamReader::new(Box::pin(stream))))
    }

    async fn size(&self, path: &str) -> Result<Option<u64>> {
        let name = object_name(path)?;
        if name.is_empty() {
            return Ok(None);
        }
        let what = format!("stat gs://{}/{name}", self.bucket);
        let rb = self.http.get(self.objects_url(Some(&name))?).query(&[("fields", "size")]);
        let (status, text) = self.call(&what, rb).await?;
        if status == 404 {
            return Ok(None);
        }
        let v: Value = serde_json::from_str(&text).map_err(|e| gcs_error(&what, e))?;
        let size = match &v["size"] {
            Value::String(s) => s.parse().ok(),
            Value::Number(n) => n.as_u64(),
            _ => None,
        };
        size.map(Some).ok_or_else(|| gcs_error(what, format!("no size in {text}")))
    }

    async fn delete_prefix(&self, prefix: &str) -> Result<Vec<String>> {
        let names = self.list_names(&object_name(prefix)?).await?;
        for chunk in names.chunks(DELETE_CONCURRENCY) {
            let deletes: Vec<_> = chunk.iter().cloned().map(|n| async move { self.delete_object(&n).await }).collect();
            futures::future::try_join_all(deletes).await?;
        }
        Ok(names.into_iter().map(|n| format!("/{n}")).collect())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        Ok(self.list_names(&object_name(prefix)?).await?.into_iter().map(|n| format!("/{n}")).collect())
    }

    async fn list_modified(&self, prefix: &str) -> Result<Vec<(String, DateTime<Utc>)>> {
        let objects = self.list_objects(&object_name(prefix)?, true).await?;
        Ok(objects.into_iter().map(|(n, at)| (format!("/{n}"), at.unwrap_or(DateTime::UNIX_EPOCH))).collect())
    }
}

/// A resumable upload's source: the bytes already read, then the rest of
/// the stream in `READ_CHUNK` pieces.
struct ReaderSource {
    head: Option<Bytes>,
    // The upload API wants a `Sync` source; the lock is never contended.
    reader: tokio::sync::Mutex<ByteStream>,
    buf: BytesMut,
}

impl StreamingSource for ReaderSource {
    type Error = std::io::Error;

    async fn next(&mut self) -> Option<std::result::Result<Bytes, Self::Error>> {
        if let Some(head) = self.head.take() {
            return Some(Ok(head));
        }
        let reader = self.reader.get_mut();
        self.buf.reserve(READ_CHUNK);
        while self.buf.len() < READ_CHUNK {
            match reader.read_buf(&mut self.buf).await {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => return Some(Err(e)),
            }
        }
        if self.buf.is_empty() { None } else { Some(Ok(self.buf.split().freeze())) }
    }

    async fn size_hint(&self) -> std::result::Result<SizeHint, Self::Error> {
        Ok(SizeHint::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_paths_map_to_object_names() {
        assert_eq!(object_name("/ns/flow/executions/x/file.csv").expect("name"), "ns/flow/executions/x/file.csv");
        assert_eq!(object_name("//a//b/").expect("name"), "a/b");
        assert_eq!(object_name("/").expect("name"), "");
        assert!(object_name("/a/../b").is_err());
    }
}
