//! `GcsStorage`: internal storage in a GCS bucket, through the one GCS
//! client (`crate::gcs::GcsClient`, which the GCS tasks and trigger use
//! too). The storage path `/ns/flow/executions/{id}/…` (from
//! `kestra:///ns/flow/…`) is the object `gs://<bucket>/ns/flow/executions/{id}/…`.
//! Writes and reads stream (the client's uploads are single-shot under
//! [`SINGLE_SHOT`] bytes, resumable with a bounded buffer above); sizes,
//! listings and deletes use the JSON API.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

pub use crate::gcs::SINGLE_SHOT;
use crate::gcs::{GcsClient, GcsError, UploadOptions};
use crate::{AuthSpec, GcpCredentials, endpoints};
use baton_backend::{BackendError, ByteStream, Result, Storage};

/// Concurrent deletes in `delete_prefix`.
const DELETE_CONCURRENCY: usize = 16;

/// Internal storage in one bucket.
pub struct GcsStorage {
    bucket: String,
    client: GcsClient,
}

impl std::fmt::Debug for GcsStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GcsStorage").field("bucket", &self.bucket).finish_non_exhaustive()
    }
}

fn gcs_error(what: impl Into<String>, e: impl std::fmt::Display) -> BackendError {
    BackendError::Io { what: what.into(), source: std::io::Error::other(e.to_string()) }
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

/// Application Default Credentials with the cloud-platform scope (on
/// Cloud Run, the service's account).
pub fn application_default() -> Result<GcpCredentials> {
    let http = reqwest::Client::builder().user_agent("baton").build().unwrap_or_default();
    GcpCredentials::build(&AuthSpec::default(), endpoints::IAM_CREDENTIALS_DEFAULT, http)
        .map_err(|e| BackendError::Invalid(format!("GCS: {e}")))
}

impl GcsStorage {
    /// Storage in `bucket` at `root` (the JSON API and data-plane endpoint),
    /// with `creds` (anonymous for an emulator).
    pub fn connect(root: &str, bucket: &str, creds: GcpCredentials) -> GcsStorage {
        let http = reqwest::Client::builder().user_agent("baton").build().unwrap_or_default();
        GcsStorage { bucket: bucket.to_string(), client: GcsClient::new(root, creds, http) }
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Creates the bucket if it does not exist (tests and first deploys).
    pub async fn ensure_bucket(&self, project: &str) -> Result<()> {
        match self.client.insert_bucket(project, &json!({ "name": self.bucket })).await {
            Ok(_) => Ok(()),
            Err(GcsError::Http { status: 409, .. }) => Ok(()),
            Err(e) => Err(gcs_error(format!("create bucket gs://{}", self.bucket), e)),
        }
    }

    /// Every object under `name` (itself, or below `name/`) with its
    /// `updated` time, sorted.
    async fn list_objects(&self, name: &str) -> Result<Vec<(String, Option<DateTime<Utc>>)>> {
        let what = format!("list gs://{}/{name}", self.bucket);
        let page = self.client.list_all(&self.bucket, name, None, false).await.map_err(|e| match e.status() {
            Some(404) => gcs_error(&what, format!("bucket {} not found", self.bucket)),
            _ => gcs_error(&what, e),
        })?;
        let mut out: Vec<(String, Option<DateTime<Utc>>)> = page
            .items
            .iter()
            .filter_map(|item| {
                let n = item["name"].as_str()?;
                let under = name.is_empty() || n == name || n.strip_prefix(name).is_some_and(|r| r.starts_with('/'));
                let at = item["updated"]
                    .as_str()
                    .and_then(|u| DateTime::parse_from_rfc3339(u).ok())
                    .map(|d| d.with_timezone(&Utc));
                under.then(|| (n.to_string(), at))
            })
            .collect();
        out.sort();
        Ok(out)
    }

    /// Uploads `data` as `path`'s object; `create_only` adds the
    /// `ifGenerationMatch=0` precondition, and `Ok(None)` when it fails (an
    /// object is there).
    async fn write(&self, path: &str, data: ByteStream, create_only: bool) -> Result<Option<u64>> {
        let name = object_name(path)?;
        if name.is_empty() {
            return Err(BackendError::Invalid(format!("storage path '{path}' names no file")));
        }
        let opts = UploadOptions { if_generation_match: create_only.then_some(0), ..UploadOptions::default() };
        match self.client.upload(&self.bucket, &name, data, None, &opts).await {
            Ok(up) => Ok(Some(up.size)),
            Err(GcsError::Http { status: 412, .. }) if create_only => Ok(None),
            Err(e) => Err(gcs_error(format!("write gs://{}/{name}", self.bucket), e)),
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
        let stream = self.client.download(&self.bucket, &name).await.map_err(|e| match e.status() {
            Some(404) => {
                BackendError::NotFound { what: format!("internal-storage file {path} (gs://{}/{name})", self.bucket) }
            }
            _ => gcs_error(format!("read gs://{}/{name}", self.bucket), e),
        })?;
        Ok(Box::pin(tokio_util::io::StreamReader::new(Box::pin(stream))))
    }

    async fn size(&self, path: &str) -> Result<Option<u64>> {
        let name = object_name(path)?;
        if name.is_empty() {
            return Ok(None);
        }
        let what = format!("stat gs://{}/{name}", self.bucket);
        let Some(object) = self.client.get_object(&self.bucket, &name).await.map_err(|e| gcs_error(&what, e))? else {
            return Ok(None);
        };
        let size = match &object["size"] {
            Value::String(s) => s.parse().ok(),
            Value::Number(n) => n.as_u64(),
            _ => None,
        };
        size.map(Some).ok_or_else(|| gcs_error(what, format!("no size in {object}")))
    }

    async fn delete_prefix(&self, prefix: &str) -> Result<Vec<String>> {
        let names: Vec<String> = self.list_objects(&object_name(prefix)?).await?.into_iter().map(|(n, _)| n).collect();
        for chunk in names.chunks(DELETE_CONCURRENCY) {
            let deletes = chunk.iter().map(|n| async move {
                self.client
                    .delete_object(&self.bucket, n)
                    .await
                    .map_err(|e| gcs_error(format!("delete gs://{}/{n}", self.bucket), e))
            });
            futures::future::try_join_all(deletes).await?;
        }
        Ok(names.into_iter().map(|n| format!("/{n}")).collect())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let objects = self.list_objects(&object_name(prefix)?).await?;
        Ok(objects.into_iter().map(|(n, _)| format!("/{n}")).collect())
    }

    async fn list_modified(&self, prefix: &str) -> Result<Vec<(String, DateTime<Utc>)>> {
        let what = format!("list gs://{}/{prefix}", self.bucket);
        let mut out = Vec::new();
        for (n, at) in self.list_objects(&object_name(prefix)?).await? {
            let Some(at) = at else { return Err(gcs_error(&what, format!("no 'updated' time on object {n}"))) };
            out.push((format!("/{n}"), at));
        }
        Ok(out)
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
