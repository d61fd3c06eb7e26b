//! Namespace files, as Kestra keeps them: the files of namespace `a.b` live
//! in internal storage under `/a/b/_files/…` (so `kestra:///a/b/_files/x.sql`
//! is the namespace file `x.sql`). [`NamespaceFiles`] is the small contract
//! the plugins (`namespaceFiles`, `read()`, `git.SyncNamespaceFiles`), the
//! CLI (`baton nsfiles`) and the REST routes use; [`StoredNamespaceFiles`]
//! implements it once over any [`Storage`] — the local folder of the
//! embedded runtime and the internal GCS bucket alike.
//!
//! A change set ([`NamespaceFiles::apply`]) never leaves half a namespace
//! written: on a local folder the new tree is built beside the old one
//! (unchanged files hard-linked) and switched in by renames; on remote
//! storage every new file is first uploaded to a staging prefix, and only
//! once all of them are there are they copied into place and the deletions
//! made.

#[cfg(any(test, feature = "testing"))]
pub mod contract;
pub mod folders;
mod local_swap;
pub mod revisions;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{BackendError, ByteStream, Result, Storage};

/// One namespace file: its path inside the namespace (`scripts/a.py`, no
/// leading `/`) and its size in bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NamespaceFile {
    pub path: String,
    pub size: u64,
}

/// One kept revision of a namespace file and when it was written
/// (`None` when the storage cannot tell).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revision {
    pub revision: u32,
    pub updated: Option<DateTime<Utc>>,
}

/// Changes to a namespace's files, applied together by [`NamespaceFiles::apply`].
#[derive(Debug, Clone, Default)]
pub struct ChangeSet {
    /// (namespace path, local file holding the new content).
    pub writes: Vec<(String, PathBuf)>,
    /// Namespace paths to remove.
    pub deletes: Vec<String>,
}

/// The files of each namespace.
#[async_trait]
pub trait NamespaceFiles: Send + Sync {
    /// Files under `dir` (`""` or `/` for all), recursively, sorted by path.
    async fn list(&self, namespace: &str, dir: &str) -> Result<Vec<NamespaceFile>>;
    /// Opens a file; [`BackendError::NotFound`] when absent.
    async fn get(&self, namespace: &str, path: &str) -> Result<ByteStream>;
    /// Writes a file (replacing it); returns the bytes written.
    async fn put(&self, namespace: &str, path: &str, data: ByteStream) -> Result<u64>;
    /// Deletes a file, or a folder with everything under it; returns the
    /// namespace paths deleted (empty when nothing was there).
    async fn delete(&self, namespace: &str, path: &str) -> Result<Vec<String>>;
    /// Applies writes and deletes as one change: on failure the namespace
    /// is left as it was.
    async fn apply(&self, namespace: &str, changes: &ChangeSet) -> Result<()>;
    /// The kept revisions of a file, ascending (see [`revisions`]).
    async fn revisions(&self, namespace: &str, path: &str) -> Result<Vec<u32>>;
    /// Opens one revision of a file; [`BackendError::NotFound`] naming the
    /// revision (and the bound when it is no longer kept).
    async fn get_revision(&self, namespace: &str, path: &str, revision: u32) -> Result<ByteStream>;
    /// The kept revisions of a file with their write times, ascending; the
    /// last one is the file's current content.
    async fn revision_history(&self, namespace: &str, path: &str) -> Result<Vec<Revision>>;
    /// Deletes one kept revision of a file (false when it is not kept). The
    /// last revision is the file itself: deleting it is refused
    /// ([`BackendError::Invalid`]) — delete the file instead.
    async fn delete_revision(&self, namespace: &str, path: &str, revision: u32) -> Result<bool>;
    /// The folders under `dir` (`""` for all) kept while they hold no file
    /// (see [`folders`]), sorted; a folder holding a file shows through it.
    async fn folders(&self, namespace: &str, dir: &str) -> Result<Vec<String>>;
    /// Keeps `folder` while it holds no file.
    async fn keep_folder(&self, namespace: &str, folder: &str) -> Result<()>;
    /// Stops keeping `folder` (it shows again only while it holds a file);
    /// false when it was not kept.
    async fn forget_folder(&self, namespace: &str, folder: &str) -> Result<bool>;
    /// The namespaces holding files or revisions, sorted; with `under`,
    /// only that namespace and its children (`a` → `a`, `a.b`, not `ab`).
    async fn namespaces(&self, under: Option<&str>) -> Result<Vec<String>>;
}

/// Checks a namespace name (`company.team`): letters, digits, `_`, `-`,
/// separated by dots.
pub fn check_namespace(namespace: &str) -> Result<()> {
    let ok = !namespace.is_empty()
        && namespace
            .split('.')
            .all(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "_-".contains(c)));
    if ok { Ok(()) } else { Err(BackendError::Invalid(format!("'{namespace}' is not a valid namespace name"))) }
}

/// A namespace path normalised to `a/b.sql` (leading `/` and `./` dropped);
/// rejects `..`, backslashes and empty names. `allow_root` accepts `""`.
pub fn normalise_path(path: &str, allow_root: bool) -> Result<String> {
    let mut segs = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => return Err(BackendError::Invalid(format!("namespace file path '{path}' must not contain '..'"))),
            s if s.contains('\\') || s.contains('\0') => {
                return Err(BackendError::Invalid(format!(
                    "namespace file path '{path}' contains an invalid character"
                )));
            }
            s => segs.push(s),
        }
    }
    if segs.is_empty() && !allow_root {
        return Err(BackendError::Invalid(format!("'{path}' names no namespace file")));
    }
    Ok(segs.join("/"))
}

/// `/a/b/_files`: the storage prefix of namespace `a.b`'s files.
pub fn files_prefix(namespace: &str) -> String {
    format!("/{}/_files", namespace.replace('.', "/"))
}

/// The storage path of namespace file `path`.
pub fn storage_path_of(namespace: &str, path: &str) -> Result<String> {
    check_namespace(namespace)?;
    Ok(format!("{}/{}", files_prefix(namespace), normalise_path(path, false)?))
}

/// The entries directly inside `dir` of a recursive listing and of the
/// kept empty folders: files with their size, and sub-folders (`size:
/// None`), sorted — what a folder view (Kestra's `files/directory` route)
/// shows.
pub fn directory_entries(files: &[NamespaceFile], kept: &[String], dir: &str) -> Vec<(String, Option<u64>)> {
    let dir = dir.trim_matches('/');
    let mut out: Vec<(String, Option<u64>)> = Vec::new();
    for folder in kept {
        let rest = if dir.is_empty() { Some(folder.as_str()) } else { folder.strip_prefix(&format!("{dir}/")) };
        if let Some(name) = rest.and_then(|r| r.split('/').next()).filter(|n| !n.is_empty()) {
            let entry = (name.to_string(), None);
            if !out.contains(&entry) {
                out.push(entry);
            }
        }
    }
    for f in files {
        let rest = if dir.is_empty() {
            f.path.as_str()
        } else {
            match f.path.strip_prefix(dir).and_then(|r| r.strip_prefix('/')) {
                Some(r) => r,
                None => continue,
            }
        };
        let entry = match rest.split_once('/') {
            Some((folder, _)) => (folder.to_string(), None),
            None => (rest.to_string(), Some(f.size)),
        };
        if !out.contains(&entry) {
            out.push(entry);
        }
    }
    out.sort();
    out
}

/// Namespace files kept in internal storage under Kestra's `_files` layout.
#[derive(Clone)]
pub struct StoredNamespaceFiles {
    storage: Arc<dyn Storage>,
    /// Revisions kept per file ([`revisions::max_revisions`]).
    max_revisions: u32,
}

impl std::fmt::Debug for StoredNamespaceFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredNamespaceFiles").finish_non_exhaustive()
    }
}

impl StoredNamespaceFiles {
    pub fn new(storage: Arc<dyn Storage>) -> StoredNamespaceFiles {
        StoredNamespaceFiles { storage, max_revisions: revisions::max_revisions() }
    }

    /// Keeps `max` revisions per file (at least 1) rather than the configured number.
    pub fn with_max_revisions(mut self, max: u32) -> StoredNamespaceFiles {
        self.max_revisions = max.max(1);
        self
    }

    /// Remote apply: stage every write, then copy into place, then delete.
    async fn apply_staged(&self, namespace: &str, changes: &ChangeSet) -> Result<()> {
        let staging = format!("/{}/.baton-tmp-sync-{}", namespace.replace('.', "/"), uuid::Uuid::new_v4().simple());
        let result = async {
            for (path, local) in &changes.writes {
                let file = tokio::fs::File::open(local)
                    .await
                    .map_err(|source| BackendError::Io { what: format!("read {}", local.display()), source })?;
                self.storage.put(&format!("{staging}/{}", normalise_path(path, false)?), Box::pin(file)).await?;
            }
            for (path, _) in &changes.writes {
                let path = normalise_path(path, false)?;
                let data = self.storage.get(&format!("{staging}/{path}")).await?;
                self.storage.put(&storage_path_of(namespace, &path)?, data).await?;
            }
            for path in &changes.deletes {
                self.storage.delete_prefix(&storage_path_of(namespace, path)?).await?;
            }
            Ok(())
        }
        .await;
        let cleanup = self.storage.delete_prefix(&staging).await;
        result.and(cleanup.map(|_| ()))
    }
}

#[async_trait]
impl NamespaceFiles for StoredNamespaceFiles {
    async fn list(&self, namespace: &str, dir: &str) -> Result<Vec<NamespaceFile>> {
        check_namespace(namespace)?;
        let root = files_prefix(namespace);
        let dir = normalise_path(dir, true)?;
        let prefix = if dir.is_empty() { format!("{root}/") } else { format!("{root}/{dir}") };
        let mut out = Vec::new();
        for p in self.storage.list(&prefix).await? {
            let Some(rel) = p.strip_prefix(&root).and_then(|r| r.strip_prefix('/')) else { continue };
            // `dir` names a folder or a file, never a longer sibling name
            if !dir.is_empty() && rel != dir && !rel.starts_with(&format!("{dir}/")) {
                continue;
            }
            let size = self.storage.size(&p).await?.unwrap_or(0);
            out.push(NamespaceFile { path: rel.to_string(), size });
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    async fn get(&self, namespace: &str, path: &str) -> Result<ByteStream> {
        let p = storage_path_of(namespace, path)?;
        self.storage.get(&p).await.map_err(|e| match e {
            BackendError::NotFound { .. } => {
                BackendError::NotFound { what: format!("namespace file '{path}' in namespace '{namespace}'") }
            }
            e => e,
        })
    }

    async fn put(&self, namespace: &str, path: &str, data: ByteStream) -> Result<u64> {
        let current = storage_path_of(namespace, path)?;
        let store = self.storage.as_ref();
        let previous = revisions::unrecorded_content(store, namespace, path, &current).await?;
        let (n, _) = revisions::write(store, namespace, path, &current, data, previous, self.max_revisions).await?;
        Ok(n)
    }

    async fn delete(&self, namespace: &str, path: &str) -> Result<Vec<String>> {
        check_namespace(namespace)?;
        let rel = normalise_path(path, true)?;
        let root = files_prefix(namespace);
        let target = if rel.is_empty() { root.clone() } else { format!("{root}/{rel}") };
        let deleted = self.storage.delete_prefix(&target).await?;
        self.storage.delete_prefix(&revisions::revisions_folder(namespace, &rel)?).await?;
        folders::forget_all(self.storage.as_ref(), namespace, &rel).await?;
        Ok(deleted
            .iter()
            .filter_map(|p| p.strip_prefix(&root).map(|r| r.trim_start_matches('/').to_string()))
            .collect())
    }

    async fn apply(&self, namespace: &str, changes: &ChangeSet) -> Result<()> {
        check_namespace(namespace)?;
        let store = self.storage.as_ref();
        let mut previous = Vec::with_capacity(changes.writes.len());
        for (path, _) in &changes.writes {
            previous
                .push(revisions::unrecorded_content(store, namespace, path, &storage_path_of(namespace, path)?).await?);
        }
        match self.storage.local_path(&files_prefix(namespace)) {
            Some(folder) => local_swap::apply(&folder, changes).await?,
            None => self.apply_staged(namespace, changes).await?,
        }
        for ((path, _), prev) in changes.writes.iter().zip(previous) {
            let current = storage_path_of(namespace, path)?;
            revisions::record(store, namespace, path, &current, prev, self.max_revisions).await?;
        }
        for path in &changes.deletes {
            store.delete_prefix(&revisions::revisions_folder(namespace, path)?).await?;
            folders::forget_all(store, namespace, path).await?;
        }
        Ok(())
    }

    async fn revisions(&self, namespace: &str, path: &str) -> Result<Vec<u32>> {
        let current = storage_path_of(namespace, path)?;
        let kept = revisions::list(self.storage.as_ref(), namespace, path).await?;
        if kept.is_empty() && self.storage.size(&current).await?.is_some() {
            return Ok(vec![1]);
        }
        Ok(kept)
    }

    async fn get_revision(&self, namespace: &str, path: &str, revision: u32) -> Result<ByteStream> {
        let current = storage_path_of(namespace, path)?;
        revisions::open(self.storage.as_ref(), namespace, path, &current, revision, self.max_revisions).await
    }

    async fn revision_history(&self, namespace: &str, path: &str) -> Result<Vec<Revision>> {
        let current = storage_path_of(namespace, path)?;
        revisions::history(self.storage.as_ref(), namespace, path, &current).await
    }

    async fn delete_revision(&self, namespace: &str, path: &str, revision: u32) -> Result<bool> {
        let current = storage_path_of(namespace, path)?;
        revisions::delete_one(self.storage.as_ref(), namespace, path, &current, revision).await
    }

    async fn folders(&self, namespace: &str, dir: &str) -> Result<Vec<String>> {
        folders::list(self.storage.as_ref(), namespace, dir).await
    }

    async fn keep_folder(&self, namespace: &str, folder: &str) -> Result<()> {
        folders::keep(self.storage.as_ref(), namespace, folder).await
    }

    async fn forget_folder(&self, namespace: &str, folder: &str) -> Result<bool> {
        folders::forget(self.storage.as_ref(), namespace, folder).await
    }

    async fn namespaces(&self, under: Option<&str>) -> Result<Vec<String>> {
        let prefix = match under {
            Some(ns) => {
                check_namespace(ns)?;
                format!("/{}", ns.replace('.', "/"))
            }
            None => "/".to_string(),
        };
        let mut out: Vec<String> =
            self.storage.list(&prefix).await?.iter().filter_map(|p| namespace_of_storage_path(p)).collect();
        out.sort();
        out.dedup();
        Ok(out)
    }
}

/// The namespace whose files or revisions hold storage path `p`
/// (`/a/b/_files/x.sql` → `a.b`), if any.
fn namespace_of_storage_path(p: &str) -> Option<String> {
    let segs: Vec<&str> = p.trim_start_matches('/').split('/').collect();
    let i = segs.iter().position(|s| *s == "_files" || *s == "_file_revisions" || *s == "_file_folders")?;
    let ns = segs[..i].join(".");
    (i + 1 < segs.len() && check_namespace(&ns).is_ok()).then_some(ns)
}

/// The namespace files of a storage, shared (what plugins and servers use).
pub fn namespace_files(storage: Arc<dyn Storage>) -> Arc<dyn NamespaceFiles> {
    Arc::new(StoredNamespaceFiles::new(storage))
}

/// Whether `path` is inside `folder` (for callers turning a local tree into
/// a change set).
pub fn relative_to(folder: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(folder).ok()?;
    let parts: Option<Vec<&str>> = rel.components().map(|c| c.as_os_str().to_str()).collect();
    Some(parts?.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_namespaces() {
        assert_eq!(normalise_path("/a//b/./c.sql", false).unwrap(), "a/b/c.sql");
        assert!(normalise_path("a/../b", false).is_err());
        assert!(normalise_path("/", false).is_err());
        assert_eq!(normalise_path("/", true).unwrap(), "");
        assert!(check_namespace("company.team").is_ok());
        assert!(check_namespace("a..b").is_err());
        assert!(check_namespace("a/b").is_err());
        assert_eq!(storage_path_of("a.b", "/x/y.sql").unwrap(), "/a/b/_files/x/y.sql");
        assert_eq!(namespace_of_storage_path("/a/b/_files/x.sql").as_deref(), Some("a.b"));
        assert_eq!(namespace_of_storage_path("/a/_file_revisions/x.sql/2").as_deref(), Some("a"));
        assert_eq!(namespace_of_storage_path("/a/f/executions/1/o.txt"), None);
        assert_eq!(namespace_of_storage_path("/_files/x"), None);
    }

    #[test]
    fn directory_entries_show_one_level() {
        let f = |p: &str, s| NamespaceFile { path: p.into(), size: s };
        let files = [f("a.sql", 1), f("models/x.sql", 2), f("models/y.sql", 3), f("models/sub/z.sql", 4)];
        assert_eq!(
            directory_entries(&files, &[], "/"),
            vec![("a.sql".to_string(), Some(1)), ("models".to_string(), None)]
        );
        assert_eq!(
            directory_entries(&files, &[], "models"),
            vec![("sub".to_string(), None), ("x.sql".to_string(), Some(2)), ("y.sql".to_string(), Some(3))]
        );
        let kept = ["empty".to_string(), "models/sub/deeper".to_string(), "models/void".to_string()];
        assert_eq!(
            directory_entries(&files, &kept, "models"),
            vec![
                ("sub".to_string(), None),
                ("void".to_string(), None),
                ("x.sql".to_string(), Some(2)),
                ("y.sql".to_string(), Some(3))
            ]
        );
        assert_eq!(directory_entries(&files, &kept, "/")[1], ("empty".to_string(), None));
    }
}

#[cfg(test)]
mod contract_tests {
    use std::sync::Arc;

    use super::{StoredNamespaceFiles, contract};
    use crate::memory::MemoryStorage;

    #[tokio::test]
    async fn memory_storage_passes_the_contract() {
        contract::namespace_files_contract(&StoredNamespaceFiles::new(Arc::new(MemoryStorage::new()))).await;
    }
}
