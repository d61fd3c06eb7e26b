//! Applying a namespace change set to a local `_files` folder without ever
//! showing half of it: the new tree is built in a hidden sibling folder
//! (unchanged files hard-linked, so this is cheap for large namespaces),
//! then switched in by two renames; the old tree is removed afterwards.
//! Hidden folders carry the storage's `.baton-tmp-` prefix, so listings
//! never show them.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use super::{ChangeSet, normalise_path};
use crate::{BackendError, Result};

fn io(what: String) -> impl FnOnce(std::io::Error) -> BackendError {
    move |source| BackendError::Io { what, source }
}

/// Every file under `dir`, as paths relative to it.
fn walk(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let entries = match std::fs::read_dir(dir.join(&rel)) {
            Ok(e) => e,
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            if entry.file_name().to_string_lossy().starts_with(".baton-tmp-") {
                continue;
            }
            let r = rel.join(entry.file_name());
            if entry.file_type()?.is_dir() { stack.push(r) } else { out.push(r) }
        }
    }
    Ok(out)
}

/// Builds the new tree in `staging`: links of the current files, minus the
/// deletions, plus the writes (copied, never written through a link).
fn build(current: &Path, staging: &Path, changes: &ChangeSet) -> Result<()> {
    std::fs::create_dir_all(staging).map_err(io(format!("create {}", staging.display())))?;
    for rel in walk(current).map_err(io(format!("list {}", current.display())))? {
        let target = staging.join(&rel);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(io(format!("create {}", parent.display())))?;
        }
        let source = current.join(&rel);
        if std::fs::hard_link(&source, &target).is_err() {
            std::fs::copy(&source, &target).map_err(io(format!("copy {}", source.display())))?;
        }
    }
    for path in &changes.deletes {
        let rel = normalise_path(path, true)?;
        let target = if rel.is_empty() { staging.to_path_buf() } else { staging.join(&rel) };
        let result = match std::fs::symlink_metadata(&target) {
            Ok(m) if m.is_dir() => std::fs::remove_dir_all(&target),
            Ok(_) => std::fs::remove_file(&target),
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(io(format!("delete {path}"))(e)),
        }
    }
    for (path, local) in &changes.writes {
        let target = staging.join(normalise_path(path, false)?);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(io(format!("create {}", parent.display())))?;
        }
        // a link shares its content with the live tree: unlink, then copy
        match std::fs::remove_file(&target) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(io(format!("replace {path}"))(e)),
        }
        std::fs::copy(local, &target).map_err(io(format!("copy {} to {path}", local.display())))?;
    }
    Ok(())
}

/// Applies `changes` to the `_files` folder `folder`.
pub(super) async fn apply(folder: &Path, changes: &ChangeSet) -> Result<()> {
    let folder = folder.to_path_buf();
    let changes = changes.clone();
    let join = tokio::task::spawn_blocking(move || {
        let parent = folder.parent().ok_or_else(|| BackendError::Invalid("namespace folder has no parent".into()))?;
        std::fs::create_dir_all(parent).map_err(io(format!("create {}", parent.display())))?;
        let id = uuid::Uuid::new_v4().simple().to_string();
        let staging = parent.join(format!(".baton-tmp-files-new-{id}"));
        let old = parent.join(format!(".baton-tmp-files-old-{id}"));
        if let Err(e) = build(&folder, &staging, &changes) {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
        let had_tree = folder.exists();
        if had_tree {
            std::fs::rename(&folder, &old).map_err(io(format!("switch {}", folder.display())))?;
        }
        if let Err(e) = std::fs::rename(&staging, &folder) {
            if had_tree {
                let _ = std::fs::rename(&old, &folder);
            }
            let _ = std::fs::remove_dir_all(&staging);
            return Err(io(format!("switch {}", folder.display()))(e));
        }
        if had_tree {
            let _ = std::fs::remove_dir_all(&old);
        }
        Ok(())
    });
    join.await.map_err(|e| BackendError::Invalid(format!("namespace file switch stopped: {e}")))?
}
