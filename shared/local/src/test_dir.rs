//! A temporary folder for this crate's tests, removed when dropped.

use std::path::PathBuf;

pub struct TempDir(pub PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl TempDir {
    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

/// A fresh, not yet created, folder under the system's temporary folder.
pub fn temp() -> TempDir {
    TempDir(std::env::temp_dir().join(format!("baton-local-{}", uuid::Uuid::new_v4())))
}
