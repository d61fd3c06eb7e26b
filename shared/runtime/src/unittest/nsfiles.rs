//! Namespace files in flow tests, Baton's own fixture (Kestra's test
//! format has `files` but nothing for namespace files).
//!
//! - **Running.** Every case runs on a home of its own ([`own_home`]): a
//!   fresh embedded engine configured as the test run's, holding its flows
//!   and exactly the case's `fixtures.namespaceFiles` as the flow
//!   namespace's files. Cases run in parallel; on its own home a case sees
//!   its files, KV entries and executions and no other case's (Kestra: "each
//!   test case will not affect the others"). Two cases of one flow that both
//!   write and read a KV key would otherwise race.
//! - **Recording.** `baton test --record` runs the case on a throwaway
//!   home whose storage ([`ReadThrough`]) serves the namespace files the
//!   run asks for from the user's home (read-only), noting each one; once
//!   the run ended, [`ReadThrough::read_back`] reads the noted files of the
//!   flow's namespace into the recording, each bounded by
//!   `MAX_RECORDED_FILE` and all of them, with the output files, by
//!   `MAX_RECORDED_BYTES`. A file of another namespace is refused by name.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::model::UnitTest;
use super::record::{MAX_RECORDED_BYTES, MAX_RECORDED_FILE};
use crate::backend::nsfiles::namespace_files;
use crate::backend::{ByteStream, Result as BackendResult, Storage};
use crate::model::Flow;
use crate::plugins::context::RemoveOnDrop;
use crate::runtime::embedded::Embedded;

/// A case's own home while it runs (removed when dropped, after the
/// engine is shut down).
pub(super) struct OwnHome {
    embedded: Option<Embedded>,
    _remove: RemoveOnDrop,
}

impl OwnHome {
    pub(super) fn embedded(&self) -> Option<&Embedded> {
        self.embedded.as_ref()
    }
}

impl Drop for OwnHome {
    fn drop(&mut self) {
        if let Some(e) = self.embedded.take() {
            e.shutdown();
        }
    }
}

/// The home `case` runs on: opened beside `shared` (same secrets,
/// variables and plugin settings), with `shared`'s flows and the case's
/// `fixtures.namespaceFiles` as `flow`'s namespace files.
pub(super) async fn own_home(shared: &Embedded, flow: &Flow, case: &UnitTest) -> std::result::Result<OwnHome, String> {
    let files = &case.fixtures.namespace_files;
    for (path, _) in files {
        if !super::run::relative_name(path) {
            return Err(format!(
                "fixtures.namespaceFiles: '{path}' is not a relative file name (no '..', at most {} bytes)",
                super::run::MAX_FILE_NAME
            ));
        }
    }
    let home = std::env::temp_dir().join(format!("baton-test-case-{}", uuid::Uuid::new_v4()));
    let remove = RemoveOnDrop(home.clone());
    let embedded = shared
        .open_beside(home.clone(), 4)
        .map_err(|e| format!("cannot open a home for the case in {}: {e}", home.display()))?;
    for f in shared.engine.flows.all() {
        embedded.engine.flows.insert(Flow::clone(&f));
    }
    let store = namespace_files(embedded.engine.storage.clone());
    let own = OwnHome { embedded: Some(embedded), _remove: remove };
    for (path, content) in files {
        let data: ByteStream = Box::pin(std::io::Cursor::new(content.clone().into_bytes()));
        store.put(&flow.namespace, path, data).await.map_err(|e| format!("fixtures.namespaceFiles: '{path}': {e}"))?;
    }
    Ok(own)
}

/// The namespace and the path inside it of a namespace file's storage
/// path (`/a/b/_files/x/y.sql` → `a.b`, `x/y.sql`).
fn namespace_file(p: &str) -> Option<(String, String)> {
    let segs: Vec<&str> = p.trim_start_matches('/').split('/').collect();
    let i = segs.iter().position(|s| *s == "_files")?;
    (i > 0 && i + 1 < segs.len()).then(|| (segs[..i].join("."), segs[i + 1..].join("/")))
}

/// The storage of a recording run: everything goes to the throwaway
/// home's storage, except a namespace file that is not there, which is
/// read from the user's home (`source`) and noted.
pub struct ReadThrough {
    inner: Arc<dyn Storage>,
    source: Option<Arc<dyn Storage>>,
    read: Mutex<BTreeSet<String>>,
}

impl ReadThrough {
    /// Over `inner`, reading namespace files from `source` (none: the
    /// user's home has no storage yet).
    pub fn new(inner: Arc<dyn Storage>, source: Option<Arc<dyn Storage>>) -> ReadThrough {
        ReadThrough { inner, source, read: Mutex::new(BTreeSet::new()) }
    }

    fn note(&self, path: &str) {
        self.read.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(path.to_string());
    }

    /// The source to read `path` from: a namespace file absent here.
    async fn source_for(&self, path: &str) -> Option<&Arc<dyn Storage>> {
        let src = self.source.as_ref()?;
        namespace_file(path)?;
        match self.inner.size(path).await {
            Ok(Some(_)) => None,
            _ => Some(src),
        }
    }

    /// The namespace files of `namespace` the run read from the user's
    /// home, path → text, in path order; `already` bytes of recorded files
    /// count toward [`MAX_RECORDED_BYTES`]. A file of another namespace,
    /// one past [`MAX_RECORDED_FILE`] or not UTF-8 text is an error naming it.
    pub async fn read_back(&self, namespace: &str, already: u64) -> std::result::Result<Vec<(String, String)>, String> {
        let paths: Vec<String> =
            self.read.lock().unwrap_or_else(std::sync::PoisonError::into_inner).iter().cloned().collect();
        let Some(src) = &self.source else { return Ok(Vec::new()) };
        let mut out = Vec::new();
        let mut total = already;
        for p in paths {
            let Some((ns, rel)) = namespace_file(&p) else { continue };
            if ns != namespace {
                return Err(format!(
                    "the run read namespace file '{rel}' of namespace '{ns}': only the flow's own namespace's files \
                     ({namespace}) are recorded (fixtures.namespaceFiles); mock the task that reads it by hand"
                ));
            }
            let r = src.get(&p).await.map_err(|e| format!("namespace file '{rel}': cannot read it back: {e}"))?;
            let read = super::record::read_capped(r).await;
            let Some(buf) = read.map_err(|e| format!("namespace file '{rel}': cannot read it back: {e}"))? else {
                return Err(format!(
                    "namespace file '{rel}' is larger than {} KiB (MAX_RECORDED_FILE), the most a recorded fixture \
                     file holds; mock the task that reads it by hand",
                    MAX_RECORDED_FILE >> 10
                ));
            };
            total += buf.len() as u64;
            if total > MAX_RECORDED_BYTES {
                return Err(format!(
                    "namespace file '{rel}': the recorded files pass {} MiB in all (MAX_RECORDED_BYTES), more than a \
                     test file may hold",
                    MAX_RECORDED_BYTES >> 20
                ));
            }
            let text = String::from_utf8(buf).map_err(|_| {
                format!("namespace file '{rel}' is not UTF-8 text, which fixtures.namespaceFiles cannot hold")
            })?;
            out.push((rel, text));
        }
        Ok(out)
    }
}

#[async_trait]
impl Storage for ReadThrough {
    async fn put(&self, path: &str, data: ByteStream) -> BackendResult<u64> {
        self.inner.put(path, data).await
    }

    async fn put_new(&self, path: &str, data: ByteStream) -> BackendResult<Option<u64>> {
        self.inner.put_new(path, data).await
    }

    async fn get(&self, path: &str) -> BackendResult<ByteStream> {
        match self.source_for(path).await {
            Some(src) => {
                let r = src.get(path).await?;
                self.note(path);
                Ok(r)
            }
            None => self.inner.get(path).await,
        }
    }

    async fn size(&self, path: &str) -> BackendResult<Option<u64>> {
        match self.source_for(path).await {
            Some(src) => {
                let size = src.size(path).await?;
                if size.is_some() {
                    self.note(path);
                }
                Ok(size)
            }
            None => self.inner.size(path).await,
        }
    }

    async fn delete_prefix(&self, prefix: &str) -> BackendResult<Vec<String>> {
        self.inner.delete_prefix(prefix).await
    }

    async fn list(&self, prefix: &str) -> BackendResult<Vec<String>> {
        let mut all = self.inner.list(prefix).await?;
        if let Some(src) = &self.source {
            all.extend(src.list(prefix).await?.into_iter().filter(|p| namespace_file(p).is_some()));
        }
        all.sort();
        all.dedup();
        Ok(all)
    }

    async fn list_modified(&self, prefix: &str) -> BackendResult<Vec<(String, DateTime<Utc>)>> {
        let mut all = self.inner.list_modified(prefix).await?;
        if let Some(src) = &self.source {
            let seen: BTreeSet<String> = all.iter().map(|(p, _)| p.clone()).collect();
            let more = src.list_modified(prefix).await?;
            all.extend(more.into_iter().filter(|(p, _)| namespace_file(p).is_some() && !seen.contains(p)));
        }
        all.sort();
        Ok(all)
    }

    /// A namespace file read from the user's home has no local path here:
    /// tasks read it through [`Storage::get`], which notes it.
    fn local_path(&self, path: &str) -> Option<PathBuf> {
        if self.source.is_some() && namespace_file(path).is_some() {
            return None;
        }
        self.inner.local_path(path)
    }
}

#[cfg(test)]
mod tests {
    use super::namespace_file;

    #[test]
    fn namespace_file_paths_are_told_from_other_storage_paths() {
        assert_eq!(namespace_file("/a/b/_files/x/y.sql"), Some(("a.b".into(), "x/y.sql".into())));
        assert_eq!(namespace_file("/a/b/flow/executions/e/x"), None);
        assert_eq!(namespace_file("/_files/x"), None);
        assert_eq!(namespace_file("/a/_files"), None);
    }
}
