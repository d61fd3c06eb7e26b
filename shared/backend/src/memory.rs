//! In-memory [`KvStore`] ([`MemoryKv`]) and [`Storage`] ([`MemoryStorage`])
//! for unit tests of plugins and templates: no files, no database, same
//! behaviour as the real backends (they pass the same contract suite).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::io::AsyncReadExt;

use super::{BackendError, ByteStream, KvDetail, KvEntry, KvLookup, KvStore, KvValue, Result, Storage};

/// `a//b/c` → `/a/b/c`; rejects `.` and `..` segments.
fn segment_path(path: &str) -> Result<String> {
    let mut out = String::new();
    for seg in path.split('/').filter(|s| !s.is_empty()) {
        if seg == "." || seg == ".." {
            return Err(BackendError::Invalid(format!("storage path '{path}' must not contain '{seg}'")));
        }
        out.push('/');
        out.push_str(seg);
    }
    if out.is_empty() {
        out.push('/');
    }
    Ok(out)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[derive(Debug, Clone)]
struct KvRecord {
    value: KvValue,
    revision: u64,
    created: DateTime<Utc>,
    updated: DateTime<Utc>,
    expires: Option<DateTime<Utc>>,
}

impl KvRecord {
    fn live(&self, now: DateTime<Utc>) -> bool {
        self.expires.is_none_or(|e| e > now)
    }
}

/// A KV store in a map: `namespace → key → record`.
#[derive(Debug, Default)]
pub struct MemoryKv {
    data: Mutex<HashMap<String, BTreeMap<String, KvRecord>>>,
}

impl MemoryKv {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl KvStore for MemoryKv {
    async fn get(&self, namespace: &str, key: &str, now: DateTime<Utc>) -> Result<KvLookup> {
        let mut data = lock(&self.data);
        let Some(ns) = data.get_mut(namespace) else { return Ok(KvLookup::Missing) };
        match ns.get(key) {
            None => Ok(KvLookup::Missing),
            Some(r) if r.live(now) => Ok(KvLookup::Found(r.value.clone())),
            Some(_) => {
                ns.remove(key);
                Ok(KvLookup::Expired)
            }
        }
    }

    async fn set(
        &self,
        namespace: &str,
        key: &str,
        value: &KvValue,
        expires: Option<DateTime<Utc>>,
        overwrite: bool,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut data = lock(&self.data);
        let ns = data.entry(namespace.to_string()).or_default();
        let (created, revision) = match ns.get(key) {
            Some(r) if r.live(now) && !overwrite => {
                return Err(BackendError::Invalid("Key already exists and `overwrite` is set to `false`.".into()));
            }
            Some(r) if r.live(now) => (r.created, r.revision + 1),
            _ => (now, 1),
        };
        ns.insert(key.to_string(), KvRecord { value: value.clone(), revision, created, updated: now, expires });
        Ok(())
    }

    async fn delete(&self, namespace: &str, key: &str) -> Result<bool> {
        Ok(lock(&self.data).get_mut(namespace).is_some_and(|ns| ns.remove(key).is_some()))
    }

    async fn detail(&self, namespace: &str, key: &str, now: DateTime<Utc>) -> Result<Option<KvDetail>> {
        let mut data = lock(&self.data);
        let Some(ns) = data.get_mut(namespace) else { return Ok(None) };
        match ns.get(key) {
            Some(r) if r.live(now) => Ok(Some(KvDetail {
                kind: r.value.kind,
                value: r.value.value.clone(),
                revision: r.revision,
                updated: r.updated,
            })),
            Some(_) => {
                ns.remove(key);
                Ok(None)
            }
            None => Ok(None),
        }
    }

    async fn list(&self, namespace: &str, now: DateTime<Utc>) -> Result<Vec<KvEntry>> {
        Ok(self.entries(namespace, Some(now)))
    }

    async fn list_all(&self, namespace: &str) -> Result<Vec<KvEntry>> {
        Ok(self.entries(namespace, None))
    }

    async fn namespaces(&self) -> Result<Vec<String>> {
        let mut v: Vec<String> =
            lock(&self.data).iter().filter(|(_, keys)| !keys.is_empty()).map(|(ns, _)| ns.clone()).collect();
        v.sort();
        Ok(v)
    }
}

impl MemoryKv {
    /// The keys of `namespace`, only those live at `now` when given.
    fn entries(&self, namespace: &str, now: Option<DateTime<Utc>>) -> Vec<KvEntry> {
        let data = lock(&self.data);
        let Some(ns) = data.get(namespace) else { return Vec::new() };
        ns.iter()
            .filter(|(_, r)| now.is_none_or(|now| r.live(now)))
            .map(|(key, r)| KvEntry {
                key: key.clone(),
                kind: r.value.kind,
                creation_date: r.created,
                update_date: r.updated,
                expiration_date: r.expires,
            })
            .collect()
    }
}

/// Internal storage in a map from normalised path (`/a/b.csv`) to bytes.
/// `put` reads the whole stream into memory: meant for small test files.
#[derive(Debug, Default)]
pub struct MemoryStorage {
    files: Mutex<BTreeMap<String, Vec<u8>>>,
    /// When each file was last written.
    modified: Mutex<BTreeMap<String, DateTime<Utc>>>,
}

impl MemoryStorage {
    /// An empty storage.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores `bytes` at `path` (test setup shortcut).
    pub fn insert(&self, path: &str, bytes: impl Into<Vec<u8>>) -> Result<()> {
        let path = segment_path(path)?;
        lock(&self.modified).insert(path.clone(), Utc::now());
        lock(&self.files).insert(path, bytes.into());
        Ok(())
    }

    /// Sets the last-modified time of `path` (test setup shortcut).
    pub fn set_modified(&self, path: &str, at: DateTime<Utc>) -> Result<()> {
        lock(&self.modified).insert(segment_path(path)?, at);
        Ok(())
    }

    /// The bytes at `path`, if any (test assertion shortcut).
    pub fn bytes(&self, path: &str) -> Option<Vec<u8>> {
        lock(&self.files).get(&segment_path(path).ok()?).cloned()
    }

    /// Paths under `prefix`: the file `prefix` itself and everything in the
    /// folder `prefix/`.
    fn matching(files: &BTreeMap<String, Vec<u8>>, prefix: &str) -> Result<Vec<String>> {
        let prefix = segment_path(prefix)?;
        let folder = if prefix == "/" { prefix.clone() } else { format!("{prefix}/") };
        Ok(files.keys().filter(|k| **k == prefix || k.starts_with(&folder)).cloned().collect())
    }
}

/// The file path `path` names and the bytes `data` holds, for a write.
async fn read_file(path: &str, mut data: ByteStream) -> Result<(String, Vec<u8>)> {
    let path = segment_path(path)?;
    if path == "/" {
        return Err(BackendError::Invalid("storage path '/' names no file".into()));
    }
    let mut buf = Vec::new();
    data.read_to_end(&mut buf).await.map_err(|source| BackendError::Io { what: format!("write {path}"), source })?;
    Ok((path, buf))
}

#[async_trait]
impl Storage for MemoryStorage {
    async fn put(&self, path: &str, data: ByteStream) -> Result<u64> {
        let (path, buf) = read_file(path, data).await?;
        let n = buf.len() as u64;
        lock(&self.modified).insert(path.clone(), Utc::now());
        lock(&self.files).insert(path, buf);
        Ok(n)
    }

    async fn put_new(&self, path: &str, data: ByteStream) -> Result<Option<u64>> {
        let (path, buf) = read_file(path, data).await?;
        let n = buf.len() as u64;
        let mut files = lock(&self.files);
        if files.contains_key(&path) {
            return Ok(None);
        }
        lock(&self.modified).insert(path.clone(), Utc::now());
        files.insert(path, buf);
        Ok(Some(n))
    }

    async fn get(&self, path: &str) -> Result<ByteStream> {
        let bytes = lock(&self.files)
            .get(&segment_path(path)?)
            .cloned()
            .ok_or_else(|| BackendError::NotFound { what: format!("file {path}") })?;
        Ok(Box::pin(std::io::Cursor::new(bytes)))
    }

    async fn size(&self, path: &str) -> Result<Option<u64>> {
        Ok(lock(&self.files).get(&segment_path(path)?).map(|b| b.len() as u64))
    }

    async fn delete_prefix(&self, prefix: &str) -> Result<Vec<String>> {
        let mut files = lock(&self.files);
        let gone = Self::matching(&files, prefix)?;
        let mut modified = lock(&self.modified);
        for p in &gone {
            files.remove(p);
            modified.remove(p);
        }
        Ok(gone)
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        Self::matching(&lock(&self.files), prefix)
    }

    async fn list_modified(&self, prefix: &str) -> Result<Vec<(String, DateTime<Utc>)>> {
        let paths = Self::matching(&lock(&self.files), prefix)?;
        let modified = lock(&self.modified);
        Ok(paths.into_iter().map(|p| (p.clone(), modified.get(&p).copied().unwrap_or(DateTime::UNIX_EPOCH))).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract;

    #[tokio::test]
    async fn memory_kv_contract() {
        contract::kv_contract(&MemoryKv::new()).await;
    }

    #[tokio::test]
    async fn memory_storage_contract() {
        contract::storage_contract(&MemoryStorage::new()).await;
    }

    #[tokio::test]
    async fn shortcuts_normalise_paths() {
        let s = MemoryStorage::new();
        s.insert("a//b.txt", "hi").expect("insert");
        assert_eq!(s.bytes("/a/b.txt"), Some(b"hi".to_vec()));
        assert_eq!(s.list("/a").await.expect("list"), vec!["/a/b.txt".to_string()]);
    }
}
