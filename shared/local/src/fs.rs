//! `FsStorage`: internal storage on a local folder. The storage path
//! `/a/b/c.csv` (from `kestra:///a/b/c.csv`) is the file `root/a/b/c.csv`.
//!
//! Writes stream into a hidden temporary file in the target's folder, are
//! synced, then renamed over the target, so a reader (or a crash) never sees
//! a partial file. Temporary files (`.baton-tmp-*`) never appear in listings.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use tokio::io::{AsyncWriteExt, BufReader};

use baton_backend::{BackendError, ByteStream, Result, Storage};

/// Buffer size used when streaming into a file.
const COPY_BUFFER: usize = 256 * 1024;
/// Name prefix of in-progress writes.
const TMP_PREFIX: &str = ".baton-tmp-";

/// Internal storage rooted at a local folder.
#[derive(Debug, Clone)]
pub struct FsStorage {
    root: PathBuf,
    /// The root with every symbolic link resolved: no storage path may
    /// lead out of it (a link in the folder to a host file is refused).
    real_root: PathBuf,
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> BackendError {
    move |source| BackendError::Io { what: what.into(), source }
}

/// The non-empty segments of a storage path; rejects `..` and `.`.
fn segments(path: &str) -> Result<Vec<&str>> {
    let mut out = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" => {}
            "." | ".." => return Err(BackendError::Invalid(format!("storage path '{path}' must not contain '{seg}'"))),
            s if s.contains('\\') || s.contains('\0') => {
                return Err(BackendError::Invalid(format!("storage path '{path}' contains an invalid character")));
            }
            s => out.push(s),
        }
    }
    Ok(out)
}

impl FsStorage {
    /// Storage rooted at `root`, created if missing.
    pub fn new(root: &Path) -> Result<Self> {
        std::fs::create_dir_all(root).map_err(io(format!("create storage folder {}", root.display())))?;
        let real_root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
        Ok(FsStorage { root: root.to_path_buf(), real_root })
    }

    /// The folder this storage lives in.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The local file for a storage path (`/` alone is the root), refused
    /// when it leads out of the folder through a symbolic link: the file
    /// itself, or else its nearest existing folder, must resolve inside the
    /// root's real path. A dangling link is left to fail as a missing file.
    fn resolve(&self, path: &str) -> Result<PathBuf> {
        let mut p = self.root.clone();
        p.extend(segments(path)?);
        let mut probe: &Path = &p;
        loop {
            match std::fs::canonicalize(probe) {
                Ok(real) if real.starts_with(&self.real_root) => return Ok(p),
                Ok(real) => {
                    return Err(BackendError::Invalid(format!(
                        "storage path '{path}' is a symbolic link out of the storage folder (to {})",
                        real.display()
                    )));
                }
                Err(_) => match probe.parent() {
                    Some(up) if up.starts_with(&self.root) && up != probe => probe = up,
                    _ => return Ok(p),
                },
            }
        }
    }

    /// The storage path (`/a/b`) of a file under the root.
    fn storage_path_of(&self, file: &Path) -> Option<String> {
        let rel = file.strip_prefix(&self.root).ok()?;
        let mut out = String::new();
        for c in rel.components() {
            out.push('/');
            out.push_str(c.as_os_str().to_str()?);
        }
        Some(out)
    }

    /// Every file under `path` (itself if it is a file), sorted.
    async fn walk(&self, path: &str) -> Result<Vec<String>> {
        let start = self.resolve(path)?;
        let meta = match tokio::fs::symlink_metadata(&start).await {
            Ok(m) => m,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(format!("list {path}"))(e)),
        };
        let mut files = Vec::new();
        if !meta.is_dir() {
            files.extend(self.storage_path_of(&start));
            return Ok(files);
        }
        let mut dirs = vec![start];
        while let Some(dir) = dirs.pop() {
            let mut entries = match tokio::fs::read_dir(&dir).await {
                Ok(e) => e,
                Err(e) if e.kind() == ErrorKind::NotFound => continue,
                Err(e) => return Err(io(format!("list {}", dir.display()))(e)),
            };
            while let Some(entry) = entries.next_entry().await.map_err(io(format!("list {}", dir.display())))? {
                if entry.file_name().to_string_lossy().starts_with(TMP_PREFIX) {
                    continue;
                }
                let kind = entry.file_type().await.map_err(io(format!("list {}", dir.display())))?;
                if kind.is_dir() {
                    dirs.push(entry.path());
                } else if let Some(p) = self.storage_path_of(&entry.path()) {
                    files.push(p);
                }
            }
        }
        files.sort();
        Ok(files)
    }
}

impl FsStorage {
    /// Writes `data` to a hidden file beside `path`'s target, then puts it
    /// in place: renamed over any file there, or (`create_only`) hard-linked
    /// to the name, which fails when a file is there (`Ok(None)`).
    async fn write(&self, path: &str, data: ByteStream, create_only: bool) -> Result<Option<u64>> {
        let target = self.resolve(path)?;
        let (Some(dir), Some(name)) = (target.parent(), target.file_name()) else {
            return Err(BackendError::Invalid(format!("storage path '{path}' names no file")));
        };
        if target == self.root {
            return Err(BackendError::Invalid(format!("storage path '{path}' names no file")));
        }
        tokio::fs::create_dir_all(dir).await.map_err(io(format!("create folder for {path}")))?;
        let tmp = dir.join(format!("{TMP_PREFIX}{}-{}", uuid::Uuid::new_v4().simple(), name.to_string_lossy()));
        let result = async {
            let mut file = tokio::fs::File::create(&tmp).await?;
            let mut reader = BufReader::with_capacity(COPY_BUFFER, data);
            let n = tokio::io::copy_buf(&mut reader, &mut file).await?;
            file.flush().await?;
            file.sync_data().await?;
            drop(file);
            if !create_only {
                tokio::fs::rename(&tmp, &target).await?;
                return Ok(Some(n));
            }
            let linked = match tokio::fs::hard_link(&tmp, &target).await {
                Ok(()) => Some(n),
                Err(e) if e.kind() == ErrorKind::AlreadyExists => None,
                Err(e) => return Err(e),
            };
            tokio::fs::remove_file(&tmp).await?;
            Ok::<Option<u64>, std::io::Error>(linked)
        }
        .await;
        match result {
            Ok(n) => Ok(n),
            Err(e) => {
                let _ = tokio::fs::remove_file(&tmp).await;
                Err(io(format!("write {path}"))(e))
            }
        }
    }
}

#[async_trait]
impl Storage for FsStorage {
    async fn put(&self, path: &str, data: ByteStream) -> Result<u64> {
        Ok(self.write(path, data, false).await?.unwrap_or(0))
    }

    async fn put_new(&self, path: &str, data: ByteStream) -> Result<Option<u64>> {
        self.write(path, data, true).await
    }

    async fn get(&self, path: &str) -> Result<ByteStream> {
        let file = self.resolve(path)?;
        match tokio::fs::File::open(&file).await {
            Ok(f) if f.metadata().await.map(|m| m.is_file()).unwrap_or(false) => Ok(Box::pin(f)),
            Ok(_) => Err(BackendError::NotFound { what: format!("file {path}") }),
            Err(e) if e.kind() == ErrorKind::NotFound => Err(BackendError::NotFound { what: format!("file {path}") }),
            Err(e) => Err(io(format!("read {path}"))(e)),
        }
    }

    async fn size(&self, path: &str) -> Result<Option<u64>> {
        match tokio::fs::metadata(self.resolve(path)?).await {
            Ok(m) if m.is_file() => Ok(Some(m.len())),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(format!("stat {path}"))(e)),
        }
    }

    async fn delete_prefix(&self, prefix: &str) -> Result<Vec<String>> {
        let target = self.resolve(prefix)?;
        let files = self.walk(prefix).await?;
        let result = if target == self.root {
            // Keep the root folder itself: empty it.
            let mut entries = tokio::fs::read_dir(&target).await.map_err(io(format!("delete {prefix}")))?;
            while let Some(entry) = entries.next_entry().await.map_err(io(format!("delete {prefix}")))? {
                let p = entry.path();
                let r = if entry.file_type().await.map(|t| t.is_dir()).unwrap_or(false) {
                    tokio::fs::remove_dir_all(&p).await
                } else {
                    tokio::fs::remove_file(&p).await
                };
                r.map_err(io(format!("delete {}", p.display())))?;
            }
            Ok(())
        } else {
            match tokio::fs::symlink_metadata(&target).await {
                Ok(m) if m.is_dir() => tokio::fs::remove_dir_all(&target).await,
                Ok(_) => tokio::fs::remove_file(&target).await,
                Err(e) => Err(e),
            }
        };
        match result {
            Ok(()) => Ok(files),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(files),
            Err(e) => Err(io(format!("delete {prefix}"))(e)),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        self.walk(prefix).await
    }

    async fn list_modified(&self, prefix: &str) -> Result<Vec<(String, chrono::DateTime<chrono::Utc>)>> {
        let mut out = Vec::new();
        for path in self.walk(prefix).await? {
            match tokio::fs::metadata(self.resolve(&path)?).await {
                Ok(m) => {
                    let at = m.modified().map_err(io(format!("stat {path}")))?;
                    out.push((path, chrono::DateTime::<chrono::Utc>::from(at)));
                }
                // deleted meanwhile
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(io(format!("stat {path}"))(e)),
            }
        }
        Ok(out)
    }

    fn local_path(&self, path: &str) -> Option<PathBuf> {
        self.resolve(path).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_backend::contract;

    use crate::test_dir::temp;

    #[tokio::test]
    async fn storage_contract() {
        let dir = temp();
        let storage = FsStorage::new(&dir.0).expect("create");
        contract::storage_contract(&storage).await;
    }

    #[tokio::test]
    async fn paths_map_to_files_and_no_temp_files_remain() {
        let dir = temp();
        let storage = FsStorage::new(&dir.0).expect("create");
        let data: ByteStream = Box::pin(std::io::Cursor::new(b"a,b\n1,2\n".to_vec()));
        assert_eq!(storage.put("/ns/f/x.csv", data).await.expect("put"), 8);
        assert_eq!(std::fs::read(dir.0.join("ns/f/x.csv")).expect("read"), b"a,b\n1,2\n");
        assert_eq!(storage.local_path("/ns/f/x.csv"), Some(dir.0.join("ns/f/x.csv")));
        let names: Vec<_> = std::fs::read_dir(dir.0.join("ns/f")).expect("ls").filter_map(|e| e.ok()).collect();
        assert_eq!(names.len(), 1, "only the file itself, no temporary file");
        assert!(storage.local_path("/a/../b").is_none());
        // a symbolic link out of the folder (a file, or a folder on the way) is refused
        let elsewhere = temp();
        let outside = elsewhere.0.clone();
        std::fs::create_dir_all(&outside).expect("outside");
        std::fs::write(outside.join("host.txt"), "host").expect("host file");
        std::os::unix::fs::symlink(outside.join("host.txt"), storage.root().join("link.txt")).expect("link");
        std::os::unix::fs::symlink(&outside, storage.root().join("dir")).expect("link");
        for path in ["/link.txt", "/dir/host.txt", "/dir/new.txt"] {
            assert!(matches!(storage.size(path).await, Err(BackendError::Invalid(_))), "{path}");
            assert!(storage.get(path).await.is_err(), "{path}");
            assert!(storage.local_path(path).is_none(), "{path}");
        }
        assert!(storage.put("/dir/new.txt", Box::pin(std::io::Cursor::new(b"x".to_vec()))).await.is_err());
        assert!(!outside.join("new.txt").exists());
        // a link inside the folder is followed
        storage.put("/in.txt", Box::pin(std::io::Cursor::new(b"in".to_vec()))).await.expect("put");
        std::os::unix::fs::symlink(storage.root().join("in.txt"), storage.root().join("in-link.txt")).expect("link");
        assert_eq!(storage.size("/in-link.txt").await.expect("size"), Some(2));
        assert!(storage.size("/../etc/passwd").await.is_err());
    }
}
