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
//! revisions.
//!
//! Concurrent writers of one file ([`write`]): each stages its content,
//! then takes the next number by a create-only write of the revision
//! ([`Storage::put_new`]: a hard link on a folder, `ifGenerationMatch=0` on
//! GCS), so no two writers share a number and none is lost — the loser of
//! a number re-lists and takes the next one. Each then copies its revision
//! over the file and re-lists: while a later revision exists it copies that
//! one instead, so whatever the order of the copies the file ends as its
//! last revision. A writer gives up after [`CLAIM_ATTEMPTS`] lost rounds
//! ([`BackendError::Conflict`] naming the file).

use tokio::io::AsyncReadExt;

use super::{Revision, check_namespace, normalise_path};
use crate::{BackendError, ByteStream, Result, Storage};

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

/// Rounds a writer may lose to other writers of the same file (a number
/// taken first, a later revision published meanwhile) before giving up.
pub const CLAIM_ATTEMPTS: u32 = 100;

fn contended(namespace: &str, path: &str, rounds: u32) -> BackendError {
    BackendError::Conflict {
        what: format!(
            "namespace file '{path}' in namespace '{namespace}' (revision lost to other writers {CLAIM_ATTEMPTS} times)"
        ),
        expected: u64::from(rounds),
        found: u64::from(rounds) + 1,
    }
}

/// Stores the content at `source` (a storage path) as the next revision of
/// `path` by a create-only write; a number another writer took first is
/// re-listed and the next one tried. Returns the revision taken.
async fn claim_next(storage: &dyn Storage, namespace: &str, path: &str, source: &str) -> Result<u32> {
    let folder = revisions_folder(namespace, path)?;
    for _ in 0..CLAIM_ATTEMPTS {
        let next = list(storage, namespace, path).await?.last().copied().unwrap_or(0) + 1;
        let data = storage.get(source).await?;
        if storage.put_new(&format!("{folder}/{next}"), data).await?.is_some() {
            return Ok(next);
        }
    }
    Err(contended(namespace, path, CLAIM_ATTEMPTS))
}

/// Revision 1 for a file written before revisions were kept (its content
/// before this write); a concurrent writer may have stored it already.
async fn record_previous(storage: &dyn Storage, namespace: &str, path: &str, previous: Option<Vec<u8>>) -> Result<()> {
    if let Some(old) = previous {
        let folder = revisions_folder(namespace, path)?;
        storage.put_new(&format!("{folder}/1"), Box::pin(std::io::Cursor::new(old))).await?;
    }
    Ok(())
}

/// Deletes the revisions past the bound (the last `max` are kept).
async fn trim(storage: &dyn Storage, namespace: &str, path: &str, max: u32) -> Result<()> {
    let folder = revisions_folder(namespace, path)?;
    let kept = list(storage, namespace, path).await?;
    let Some(last) = kept.last().copied() else { return Ok(()) };
    for old in kept.iter().filter(|r| **r + max <= last) {
        storage.delete_prefix(&format!("{folder}/{old}")).await?;
    }
    Ok(())
}

/// Makes the file at `current` hold the last revision: copies `mine` over
/// it, then re-lists, and while a later revision exists (another writer's)
/// copies that one. The last copy of all writers is of the last revision.
async fn publish(storage: &dyn Storage, namespace: &str, path: &str, current: &str, mine: u32) -> Result<()> {
    let folder = revisions_folder(namespace, path)?;
    let mut target = mine;
    for _ in 0..CLAIM_ATTEMPTS {
        match storage.get(&format!("{folder}/{target}")).await {
            Ok(data) => {
                storage.put(current, data).await?;
            }
            // trimmed by a later writer: a later revision exists
            Err(BackendError::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
        match list(storage, namespace, path).await?.last().copied() {
            Some(last) if last > target => target = last,
            _ => return Ok(()),
        }
    }
    Err(contended(namespace, path, CLAIM_ATTEMPTS))
}

/// Writes `data` as the new content of `path` (storage path `current`) and
/// its next revision, safe against concurrent writers (see the module
/// header). `previous` is the file's content when it had no recorded
/// revision ([`unrecorded_content`]). Returns the bytes written and the
/// revision.
pub async fn write(
    storage: &dyn Storage,
    namespace: &str,
    path: &str,
    current: &str,
    data: ByteStream,
    previous: Option<Vec<u8>>,
    max: u32,
) -> Result<(u64, u32)> {
    record_previous(storage, namespace, path, previous).await?;
    // beside the revisions, under a name that is no revision number
    let staging = format!("{}/staging-{}", revisions_folder(namespace, path)?, uuid::Uuid::new_v4().simple());
    let n = storage.put(&staging, data).await?;
    let result: Result<u32> = async {
        let mine = claim_next(storage, namespace, path, &staging).await?;
        publish(storage, namespace, path, current, mine).await?;
        trim(storage, namespace, path, max).await?;
        Ok(mine)
    }
    .await;
    let cleanup = storage.delete_prefix(&staging).await;
    let revision = result?;
    cleanup?;
    Ok((n, revision))
}

/// Records the content the file at `current` (its storage path) holds now
/// — written by a change set — as the next revision of `path` (a number no
/// other writer takes), then deletes revisions past the bound. `previous`:
/// as for [`write`]. Returns the new revision.
pub async fn record(
    storage: &dyn Storage,
    namespace: &str,
    path: &str,
    current: &str,
    previous: Option<Vec<u8>>,
    max: u32,
) -> Result<u32> {
    record_previous(storage, namespace, path, previous).await?;
    let revision = claim_next(storage, namespace, path, current).await?;
    trim(storage, namespace, path, max).await?;
    Ok(revision)
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

    use chrono::{DateTime, Utc};

    use super::super::{NamespaceFiles, StoredNamespaceFiles};
    use crate::memory::MemoryStorage;
    use crate::{BackendError, ByteStream, Storage};

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

    /// Memory storage that yields before every call, so concurrent writers
    /// interleave at each step (memory calls never wait by themselves).
    struct Yielding(MemoryStorage);

    #[async_trait::async_trait]
    impl Storage for Yielding {
        async fn put(&self, path: &str, data: ByteStream) -> crate::Result<u64> {
            tokio::task::yield_now().await;
            self.0.put(path, data).await
        }
        async fn put_new(&self, path: &str, data: ByteStream) -> crate::Result<Option<u64>> {
            tokio::task::yield_now().await;
            self.0.put_new(path, data).await
        }
        async fn get(&self, path: &str) -> crate::Result<ByteStream> {
            tokio::task::yield_now().await;
            self.0.get(path).await
        }
        async fn size(&self, path: &str) -> crate::Result<Option<u64>> {
            tokio::task::yield_now().await;
            self.0.size(path).await
        }
        async fn delete_prefix(&self, prefix: &str) -> crate::Result<Vec<String>> {
            tokio::task::yield_now().await;
            self.0.delete_prefix(prefix).await
        }
        async fn list(&self, prefix: &str) -> crate::Result<Vec<String>> {
            tokio::task::yield_now().await;
            self.0.list(prefix).await
        }
        async fn list_modified(&self, prefix: &str) -> crate::Result<Vec<(String, DateTime<Utc>)>> {
            tokio::task::yield_now().await;
            self.0.list_modified(prefix).await
        }
    }

    #[tokio::test]
    async fn interleaved_writers_each_get_a_revision_and_the_file_is_the_last() {
        let files = StoredNamespaceFiles::new(Arc::new(Yielding(MemoryStorage::new()))).with_max_revisions(4);
        let writes = (0..6).map(|i| files.put("a.b", "f.sql", Box::pin(std::io::Cursor::new(format!("w{i}")))));
        for r in futures::future::join_all(writes).await {
            r.unwrap();
        }
        assert_eq!(files.revisions("a.b", "f.sql").await.unwrap(), vec![3, 4, 5, 6], "six numbers, the last 4 kept");
        let mut kept = Vec::new();
        for r in 3..=6 {
            kept.push(text(&files, r).await.unwrap());
        }
        let mut current = String::new();
        files.get("a.b", "f.sql").await.unwrap().read_to_string(&mut current).await.unwrap();
        assert_eq!(current, kept[3], "the file is its last revision");
        kept.sort();
        kept.dedup();
        assert_eq!(kept.len(), 4, "four different writes kept: {kept:?}");
        assert_eq!(files.list("a.b", "").await.unwrap().len(), 1, "no staging copy is left or listed");
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
