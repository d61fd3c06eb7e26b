//! Where flow sources live ([`FlowFiles`]): a folder of YAML files
//! (`baton server local`'s `--flows`, a function's `BATON_FLOWS` folder) or
//! internal storage under a prefix (the GCP internal bucket, where Terraform
//! uploads `flows/{namespace}/{id}.yml`). One trait for both, used by the
//! API (create, update, delete, list), `git.SyncFlows`, the functions'
//! flow loading and the server: what a flow *is* (parsing, validation,
//! revisions) is decided above this layer; here a flow is text at a path.
//!
//! [`BucketFlows`] implements it over any [`Storage`]; the folder
//! implementation is `baton_local::FolderFlows`. Both pass
//! [`flow_files_contract`](crate::contract_flow_files::flow_files_contract).

use std::sync::Arc;

use async_trait::async_trait;
use tokio::io::AsyncReadExt;

use crate::{BackendError, Result, Storage};

/// One flow file and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowFile {
    /// Where it is (a file path, or a storage path), as errors name it.
    pub path: String,
    pub source: String,
}

/// The largest flow file read: the flow loader's bound.
pub use baton_model::yaml::MAX_FILE_BYTES as MAX_FLOW_FILE_BYTES;

/// Whether `path` names a flow file (`*.yml` or `*.yaml`).
pub fn is_flow_file(path: &str) -> bool {
    path.ends_with(".yml") || path.ends_with(".yaml")
}

/// A store of flow sources: a folder or a bucket.
#[async_trait]
pub trait FlowFiles: Send + Sync {
    /// Where the flows are, for messages and logs.
    fn location(&self) -> String;
    /// The paths of every flow file, sorted.
    async fn list(&self) -> Result<Vec<String>>;
    /// A file's text, `None` when it is gone.
    async fn read(&self, path: &str) -> Result<Option<String>>;
    /// The files that declare flow `namespace.id` now, with their text
    /// (usually one; a folder may hold two, the last loaded wins).
    async fn files_of(&self, namespace: &str, id: &str) -> Result<Vec<FlowFile>>;
    /// Stores `source` as flow `namespace.id`: over the file that declares
    /// it, else at its canonical place; other files declaring it are
    /// removed. Atomic per file: a reader never sees half a source.
    /// Returns the path written.
    async fn write(&self, namespace: &str, id: &str, source: &str) -> Result<String>;
    /// Removes every file of `namespace.id`; the paths removed (empty when
    /// there was none).
    async fn remove(&self, namespace: &str, id: &str) -> Result<Vec<String>>;
}

/// Reads `path` of `storage` as UTF-8 text, bounded by
/// [`MAX_FLOW_FILE_BYTES`]; `None` when absent.
pub async fn read_storage_text(storage: &dyn Storage, path: &str) -> Result<Option<String>> {
    let reader = match storage.get(path).await {
        Ok(r) => r,
        Err(BackendError::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut bytes = Vec::new();
    reader
        .take(MAX_FLOW_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .await
        .map_err(|source| BackendError::Io { what: format!("read flow {path}"), source })?;
    if bytes.len() as u64 > MAX_FLOW_FILE_BYTES {
        return Err(BackendError::Invalid(format!(
            "flow file {path} is larger than {MAX_FLOW_FILE_BYTES} bytes (the flow source bound)"
        )));
    }
    String::from_utf8(bytes).map(Some).map_err(|_| BackendError::Invalid(format!("flow file {path} is not UTF-8 text")))
}

/// Flow files in internal storage under a prefix, one object per flow:
/// `{prefix}/{namespace}/{id}.yml` (a `.yaml` object is read too, and
/// replaced by the `.yml` one on write).
pub struct BucketFlows {
    storage: Arc<dyn Storage>,
    prefix: String,
}

impl BucketFlows {
    pub fn new(storage: Arc<dyn Storage>, prefix: &str) -> BucketFlows {
        BucketFlows { storage, prefix: prefix.trim_end_matches('/').to_string() }
    }

    fn object(&self, namespace: &str, id: &str, ext: &str) -> String {
        format!("{}/{namespace}/{id}.{ext}", self.prefix)
    }
}

#[async_trait]
impl FlowFiles for BucketFlows {
    fn location(&self) -> String {
        format!("internal storage under {}", self.prefix)
    }

    async fn list(&self) -> Result<Vec<String>> {
        let mut paths: Vec<String> =
            self.storage.list(&self.prefix).await?.into_iter().filter(|p| is_flow_file(p)).collect();
        paths.sort();
        Ok(paths)
    }

    async fn read(&self, path: &str) -> Result<Option<String>> {
        read_storage_text(self.storage.as_ref(), path).await
    }

    async fn files_of(&self, namespace: &str, id: &str) -> Result<Vec<FlowFile>> {
        let mut out = Vec::new();
        for ext in ["yml", "yaml"] {
            let path = self.object(namespace, id, ext);
            if let Some(source) = self.read(&path).await? {
                out.push(FlowFile { path, source });
            }
        }
        Ok(out)
    }

    async fn write(&self, namespace: &str, id: &str, source: &str) -> Result<String> {
        let yaml = self.object(namespace, id, "yaml");
        if self.storage.size(&yaml).await?.is_some() {
            self.storage.delete_prefix(&yaml).await?;
        }
        let path = self.object(namespace, id, "yml");
        let bytes = source.as_bytes().to_vec();
        self.storage.put(&path, Box::pin(std::io::Cursor::new(bytes))).await?;
        Ok(path)
    }

    async fn remove(&self, namespace: &str, id: &str) -> Result<Vec<String>> {
        let mut removed = Vec::new();
        for ext in ["yml", "yaml"] {
            let path = self.object(namespace, id, ext);
            // delete_prefix of `…/id.yml` would also take `…/id.yml.bak`: ask for the one object
            if self.storage.size(&path).await?.is_some() {
                self.storage.delete_prefix(&path).await?;
                removed.push(path);
            }
        }
        Ok(removed)
    }
}
