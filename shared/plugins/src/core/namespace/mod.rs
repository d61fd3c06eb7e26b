//! Kestra's namespace-file tasks (`io.kestra.plugin.core.namespace.*`):
//! `UploadFiles` (working-directory files or `kestra://` files into a
//! namespace), `DownloadFiles` (namespace files into the execution's
//! internal storage), `DeleteFiles`, and `PurgeFiles` (old revisions
//! across namespaces). They reach namespace files through
//! [`baton_backend::nsfiles::NamespaceFiles`], so a write keeps its
//! revisions as a UI edit does, on the local folder and on GCS alike.
//!
//! Any namespace may be named, as in Kestra's open-source edition (its
//! `allowedNamespaces` checks are an Enterprise feature). One task touches
//! at most [`MAX_FILES`] files: past that it fails naming the bound before
//! it changes anything.

pub mod delete;
pub mod download;
pub mod matcher;
pub mod purge;
pub mod upload;

use std::sync::Arc;

use serde_json::Value;

use crate::{RunContext, TaskError};
use baton_backend::BackendError;
use baton_backend::nsfiles::{NamespaceFile, NamespaceFiles, check_namespace, namespace_files};

/// The most files one namespace task uploads, downloads or deletes.
pub const MAX_FILES: usize = 10_000;

/// The namespace a task names, checked (`namespace` property).
fn namespace_prop(ns: &str) -> Result<String, TaskError> {
    let ns = ns.trim();
    if ns.is_empty() {
        return Err(TaskError::property("namespace", "must name a namespace"));
    }
    check_namespace(ns).map_err(|e| TaskError::property("namespace", e.to_string()))?;
    Ok(ns.to_string())
}

/// Fails when `n` files exceed [`MAX_FILES`], naming what selected them.
fn check_bound(property: &str, n: usize, verb: &str) -> Result<(), TaskError> {
    if n > MAX_FILES {
        return Err(TaskError::property(
            property,
            format!(
                "selects {n} files, and one task {verb} at most {MAX_FILES}: narrow the patterns or split the task"
            ),
        ));
    }
    Ok(())
}

/// A `files` value: a string (one pattern, as written) or a list of
/// strings.
fn patterns(property: &str, v: &Value) -> Result<Vec<String>, TaskError> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|x| match x {
                Value::String(s) => Ok(s.clone()),
                Value::Number(_) | Value::Bool(_) => Ok(x.to_string()),
                other => Err(TaskError::property(property, format!("expected a pattern string, found {other}"))),
            })
            .collect(),
        other => Err(TaskError::property(property, format!("must be a string or a list of strings, found {other}"))),
    }
}

/// The namespace-files store of this worker's internal storage.
fn store(cx: &RunContext) -> Arc<dyn NamespaceFiles> {
    namespace_files(cx.services.storage.clone())
}

/// Every file of `namespace`, as a failure naming it.
async fn list_all(store: &dyn NamespaceFiles, namespace: &str) -> Result<Vec<NamespaceFile>, TaskError> {
    store.list(namespace, "").await.map_err(|e| failed(namespace, e))
}

fn failed(namespace: &str, e: BackendError) -> TaskError {
    TaskError::failed(format!("namespace '{namespace}': {e}"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn namespace_and_patterns_are_checked() {
        assert_eq!(namespace_prop(" company.team ").unwrap(), "company.team");
        assert!(namespace_prop("").unwrap_err().to_string().contains("'namespace'"));
        assert!(namespace_prop("a..b").unwrap_err().to_string().contains("'namespace'"));
        assert_eq!(patterns("files", &json!("**")).unwrap(), ["**"]);
        assert_eq!(patterns("files", &json!(["a", "b"])).unwrap(), ["a", "b"]);
        assert!(patterns("files", &json!({"a": 1})).unwrap_err().to_string().contains("'files'"));
        assert!(patterns("files", &json!([["a"]])).is_err());
        assert!(check_bound("files", MAX_FILES, "deletes").is_ok());
        let e = check_bound("files", MAX_FILES + 1, "deletes").unwrap_err().to_string();
        assert!(e.contains("at most 10000") && e.contains("'files'"), "{e}");
    }
}
