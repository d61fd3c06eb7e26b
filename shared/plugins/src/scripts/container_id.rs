//! The container's ID, for Kestra's output `taskRunner.containerId`: the
//! engine writes it into the run's `--cidfile` when it creates the
//! container. Docker leaves that file; podman from 4.4 removes it when a
//! `--rm` container ends (and podman before 4.4 writes it only then), so
//! the file is watched while the container lives — a read every
//! [`POLL`] until it holds an ID — and read once more when the run ends.
//! The watch stops there, or when the attempt is dropped (killed).

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::FutureExt;
use tokio::task::JoinHandle;

/// How often the file is looked at while the container runs.
const POLL: Duration = Duration::from_millis(10);

/// A run's `--cidfile`, removed (and its watch stopped) when dropped.
pub(crate) struct CidFile {
    path: PathBuf,
    watch: Option<JoinHandle<Option<String>>>,
}

impl CidFile {
    /// A fresh file for the container `name`, watched from now on (the
    /// engine refuses a file that exists: a stale one from a crashed
    /// attempt is removed first).
    pub fn new(name: &str) -> CidFile {
        let path = std::env::temp_dir().join(format!("{name}.cid"));
        let _ = std::fs::remove_file(&path);
        let watched = path.clone();
        let watch = tokio::spawn(async move {
            loop {
                if let Some(id) = read(&watched).await {
                    return Some(id);
                }
                tokio::time::sleep(POLL).await;
            }
        });
        CidFile { path, watch: Some(watch) }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The container's ID, once the run ended: what the watch saw, else
    /// what the file holds now; none if the engine never created it.
    pub async fn id(&mut self) -> Option<String> {
        if let Some(w) = self.watch.take() {
            if w.is_finished() {
                return w.now_or_never().and_then(Result::ok).flatten();
            }
            w.abort();
        }
        read(&self.path).await
    }
}

impl Drop for CidFile {
    fn drop(&mut self) {
        if let Some(w) = self.watch.take() {
            w.abort();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The file's ID if it holds a whole one (64 hex digits, as Docker and
/// podman write it; a file still being written is not one yet).
async fn read(path: &Path) -> Option<String> {
    let text = tokio::fs::read_to_string(path).await.ok()?;
    let id = text.trim();
    (id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit())).then(|| id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_id_is_seen_while_the_file_lives_and_the_file_goes_with_the_guard() {
        let mut cid = CidFile::new(&format!("baton-cid-test-{}", std::process::id()));
        let id = "ab".repeat(32);
        tokio::fs::write(cid.path(), "abc").await.unwrap();
        tokio::time::sleep(POLL * 5).await;
        tokio::fs::write(cid.path(), &id).await.unwrap();
        tokio::time::sleep(POLL * 10).await;
        // podman removes it when the container ends: the watch saw it
        tokio::fs::remove_file(cid.path()).await.unwrap();
        assert_eq!(cid.id().await, Some(id.clone()));
        let path = cid.path().to_path_buf();
        tokio::fs::write(&path, &id).await.unwrap();
        drop(cid);
        assert!(!path.exists(), "removed with the guard");
        let mut none = CidFile::new(&format!("baton-cid-none-{}", std::process::id()));
        assert_eq!(none.id().await, None, "no container was created");
    }
}
