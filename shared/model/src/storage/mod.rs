//! Internal storage as the flow model names it: `kestra:///…` URIs, the
//! storage path each stands for, Kestra's per-execution prefix, and which
//! paths an execution may read ([`scope`]). Pure; the stores that hold the
//! files are the backends'.

pub mod scope;

use crate::ids::slugify;

/// A `kestra://` URI that names no internal-storage file, or a file an
/// execution may not read: the message names the URI and the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StorageUriError(pub String);

/// Converts `kestra:///a/b` to `/a/b`; rejects other schemes and `..`.
pub fn storage_path(uri: &str) -> Result<String, StorageUriError> {
    let rest = uri
        .strip_prefix("kestra://")
        .ok_or_else(|| StorageUriError(format!("'{uri}' is not a kestra:// internal-storage URI")))?;
    let path = if rest.starts_with('/') { rest.to_string() } else { format!("/{rest}") };
    if path.split('/').any(|s| s == "..") {
        return Err(StorageUriError(format!("'{uri}' must not contain '..'")));
    }
    Ok(path)
}

/// Kestra's execution prefix in internal storage:
/// `/{namespace as path}/{flow}/executions/{id}`.
pub fn execution_prefix(namespace: &str, flow_id: &str, execution_id: &str) -> String {
    format!("/{}/{}/executions/{}", namespace.replace('.', "/"), slugify(flow_id), execution_id)
}
