//! Namespace-file revisions (Kestra ≥ 1.2 keeps a history of each
//! namespace file; 1.x flows read one with `read(path, version=N)`, 2.0
//! flows with `read(path, revision=N)`). Each write of a namespace file
//! also stores a copy of the content as its next revision, under
//! `/a/b/_file_revisions/{path}/{N}` in the same internal storage (a
//! `_`-folder: `PurgeStorage` never touches it, and it is outside `_files`,
//! so listings never show it). Revision numbers start at 1 and only grow; a
//! file written before revisions were kept counts its current content as
//! revision 1 on its next write.
//!
//! Bound: the last [`max_revisions`] revisions of each file are kept (50, or
//! `BATON_NSFILE_REVISIONS`); older ones are deleted when a new one is
//! written, and reading one names the bound. Deleting a file deletes its
//! revisions. Two writers racing on the same file may both take the same
//! next number (the later write wins that revision, as it wins the file).

use tokio::io::AsyncReadExt;

use super::{Revision, check_namespace, normalise_path};
use crate::backend::{BackendError, ByteStream, Result, Storage};

/// Default number of revisions kept per namespace file.
pub const DEFAULT_MAX_REVISIONS: u32 = 50;

/// The environment variable overriding [`DEFAULT_MAX_REVISIONS`].
pub const MAX_REVISIONS_ENV: &str = "BATON_NSFILE_REVISIONS";

/// How many revisions of each namespace file are kept (at least 1).
pub fn max_revisions() -> u32 {
    std::env::var(MAX_REVISIONS_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<u32>().ok())
        .filter(|n| *n >= 1)
        .unwrap_or(DEFAULT_MAX_REVISIONS)
}

/// `/a/b/_file_revisions`: where namespace `a.b` keeps its revisions.
pub fn revisions_root(namespace: &str) -> String {
    format!("/{}/_file_revisions", namespace.replace('.', "/"))
}

/// `/a/b/_file_revisions/{path}`: the folder of one file's revisions (or,
/// for a folder path, of every file under it).
pub fn revisions_folder(namespace: &str, path: &str) -> Result<String> {
    check_namespace(namespace)?;
    let rel = normalise_path(path, true)?;
    let root = revisions_root(namespace);
    Ok(if rel.is_empty() { root } else { format!("{root}/{rel}") })
}

/// The revision numbers kept for the file `path`, ascending.
pub async fn list(storage: &dyn Storage, namespace: &str, path: &str) -> Result<Vec<u32>> {
    normalise_path(path, false)?;
    let folder = revisions_folder(namespace, path)?;
    let mut out: Vec<u32> = storage
        .list(&folder)
        .await?
        .iter()
        .filter_map(|p| p.strip_prefix(&folder).and_then(|r| r.strip_prefix('/')))
        .filter(|rest| !rest.contains('/'))
        .filter_map(|rest| rest.parse::<u32>().ok())
        .collect();
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// Records the current content of the file at `current` (its storage path)
/// as the next revision of `path`, then deletes revisions past the bound.
/// `previous` is the content the file had before this write when it had no
/// recorded revision (it becomes revision 1). Returns the new revision.
pub async fn record(
    storage: &dyn Storage,
    namespace: &str,
    path: &str,
    current: &str,
    previous: Option<Vec<u8>>,
    max: u32,
) -> Result<u32> {
    let folder = revisions_folder(namespace, path)?;
    let kept = list(storage, namespace, path).await?;
    let mut next = kept.last().copied().unwrap_or(0) + 1;
    let mut all = kept;
    if next == 1
        && let Some(old) = previous
    {
        storage.put(&format!("{folder}/1"), Box::pin(std::io::Cursor::new(old))).await?;
        all.push(1);
        next = 2;
    }
    let data = storage.get(current).await?;
    storage.put(&format!("{folder}/{next}"), data).await?;
    all.push(next);
    for old in all.iter().filter(|r| **r + max <= next) {
        storage.delete_prefix(&format!("{folder}/{old}")).await?;
    }
    Ok(next)
}

/// The content of the file before a write, when the file exists but has no
/// recorded revision yet (so it can become revision 1).
pub async fn unrecorded_content(
    storage: &dyn Storage,
    namespace: &str,
    path: &str,
    current: &str,
) -> Result<Option<Vec<u8>>> {
    if storage.size(current).await?.is_none() || !list(storage, namespace, path).await?.is_empty() {
        return Ok(None);
    }
    let mut buf = Vec::new();
    storage
        .get(current)
        .await?
        .read_to_end(&mut buf)
        .await
        .map_err(|source| BackendError::Io { what: format!("read {current}"), source })?;
    Ok(Some(buf))
}

/// Opens revision `revision` of the file `path`; a revision never written or
/// no longer kept is [`BackendError::NotFound`] naming which, and the bound.
pub async fn open(
    storage: &dyn Storage,
    namespace: &str,
    path: &str,
    current: &str,
    revision: u32,
    max: u32,
) -> Result<ByteStream> {
    let kept = list(storage, namespace, path).await?;
    let what = |detail: String| BackendError::NotFound {
        what: format!("revision {revision} of namespace file '{path}' in namespace '{namespace}' ({detail})"),
    };
    if kept.is_empty() {
        // a file written before revisions were kept: its content is revision 1
        if revision == 1 && storage.size(current).await?.is_some() {
            return storage.get(current).await;
        }
        return Err(what(if storage.size(current).await?.is_some() {
            "the file has one revision, 1".to_string()
        } else {
            "the file does not exist".to_string()
        }));
    }
    if kept.contains(&revision) {
        let folder = revisions_folder(namespace, path)?;
        return storage.get(&format!("{folder}/{revision}")).await;
    }
    let (first, last) = (kept[0], kept[kept.len() - 1]);
    Err(what(if revision > last || revision == 0 {
        format!("its revisions are 1 to {last}")
    } else {
        format!(
            "no longer kept: Baton keeps the last {max} revisions of each namespace file ({MAX_REVISIONS_ENV}); \
             the kept ones are {first} to {last}"
        )
    }))
}

/// The kept revisions of `path` with their write times, ascending; a file
/// written before revisions were kept is revision 1, dated by the file.
pub async fn history(storage: &dyn Storage, namespace: &str, path: &str, current: &str) -> Result<Vec<Revision>> {
    normalise_path(path, false)?;
    let folder = revisions_folder(namespace, path)?;
    let mut out: Vec<Revision> = storage
        .list_modified(&folder)
        .await?
        .into_iter()
        .filter_map(|(p, at)| {
            let rest = p.strip_prefix(&folder)?.strip_prefix('/')?;
            let revision = rest.parse::<u32>().ok().filter(|_| !rest.contains('/'))?;
            Some(Revision { revision, updated: Some(at) })
        })
        .collect();
    out.sort_by_key(|r| r.revision);
    out.dedup_by_key(|r| r.revision);
    if out.is_empty()
        && let Some((_, at)) = storage.list_modified(current).await?.into_iter().find(|(p, _)| p == current)
    {
        out.push(Revision { revision: 1, updated: Some(at) });
    }
    Ok(out)
}

/// Deletes revision `revision` of `path` unless it is the last (the file's
/// current content, refused); false when it is not kept.
pub async fn delete_one(
    storage: &dyn Storage,
    namespace: &str,
    path: &str,
    current: &str,
    revision: u32,
) -> Result<bool> {
    let kept = list(storage, namespace, path).await?;
    let last = match kept.last() {
        Some(l) => Some(*l),
        None => storage.size(current).await?.map(|_| 1),
    };
    if last == Some(revision) {
        return Err(BackendError::Invalid(format!(
            "revision {revision} is the current content of namespace file '{path}' in namespace '{namespace}': \
             delete the file instead"
        )));
    }
    if !kept.contains(&revision) {
        return Ok(false);
    }
    let folder = revisions_folder(namespace, path)?;
    Ok(!storage.delete_prefix(&format!("{folder}/{revision}")).await?.is_empty())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tokio::io::AsyncReadExt;

    use super::super::{NamespaceFiles, StoredNamespaceFiles};
    use crate::backend::memory::MemoryStorage;
    use crate::backend::{BackendError, Storage};

    async fn text(files: &StoredNamespaceFiles, rev: u32) -> Result<String, BackendError> {
        let mut s = String::new();
        files.get_revision("a.b", "f.sql", rev).await?.read_to_string(&mut s).await.expect("read");
        Ok(s)
    }

    #[tokio::test]
    async fn only_the_last_revisions_are_kept_and_an_older_one_names_the_bound() {
        let storage = Arc::new(MemoryStorage::new());
        let files = StoredNamespaceFiles::new(storage.clone()).with_max_revisions(3);
        for i in 1..=5 {
            files.put("a.b", "f.sql", Box::pin(std::io::Cursor::new(format!("v{i}").into_bytes()))).await.unwrap();
        }
        assert_eq!(files.revisions("a.b", "f.sql").await.unwrap(), vec![3, 4, 5]);
        assert_eq!(text(&files, 3).await.unwrap(), "v3");
        assert_eq!(text(&files, 5).await.unwrap(), "v5");
        let old = text(&files, 2).await.unwrap_err().to_string();
        assert!(
            old.contains("revision 2") && old.contains("last 3 revisions") && old.contains("BATON_NSFILE_REVISIONS"),
            "{old}"
        );
        let future = text(&files, 6).await.unwrap_err().to_string();
        assert!(future.contains("its revisions are 1 to 5"), "{future}");
    }

    #[tokio::test]
    async fn a_file_written_before_revisions_counts_as_revision_one() {
        let storage = Arc::new(MemoryStorage::new());
        storage.put("/a/b/_files/f.sql", Box::pin(std::io::Cursor::new(b"old".to_vec()))).await.unwrap();
        let files = StoredNamespaceFiles::new(storage.clone());
        assert_eq!(files.revisions("a.b", "f.sql").await.unwrap(), vec![1]);
        assert_eq!(text(&files, 1).await.unwrap(), "old");
        files.put("a.b", "f.sql", Box::pin(std::io::Cursor::new(b"new".to_vec()))).await.unwrap();
        assert_eq!(files.revisions("a.b", "f.sql").await.unwrap(), vec![1, 2]);
        assert_eq!(text(&files, 1).await.unwrap(), "old");
        assert_eq!(text(&files, 2).await.unwrap(), "new");
        assert_eq!(files.list("a.b", "").await.unwrap().len(), 1, "revisions are not namespace files");
    }
}
