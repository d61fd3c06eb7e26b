//! Where an `fs.local` task may go: a written path made lexically normal,
//! then checked against the allowed folders (`BATON_LOCAL_ALLOWED_PATHS`,
//! Kestra's `allowed-paths`) by its real path — symbolic links followed,
//! and a path that does not exist yet judged by its nearest existing
//! ancestor — as plugin-fs's `AbstractLocalTask` does. Also the `file://`
//! URI Java gives a path (`Path.toUri`).

use std::path::{Component, Path, PathBuf};

use crate::TaskError;

/// The allowed folders, or the refusal every task gives when none is set.
pub(super) fn allowed(set: &[PathBuf]) -> Result<Vec<PathBuf>, TaskError> {
    if set.is_empty() {
        return Err(TaskError::failed(
            "The 'allowed-paths' configuration is required to enable access to the local filesystem: \
             set BATON_LOCAL_ALLOWED_PATHS to at least one folder the io.kestra.plugin.fs.local tasks may use \
             (several separated by ':')",
        ));
    }
    Ok(set.to_vec())
}

/// `written`, made normal, once it is known to lie in an allowed folder.
pub(super) fn resolve(allowed: &[PathBuf], written: &str) -> Result<PathBuf, TaskError> {
    let path = normalize(Path::new(written));
    check(allowed, &path)?;
    Ok(path)
}

/// Fails unless the real path of `path` lies under one of `allowed`.
pub(super) fn check(allowed: &[PathBuf], path: &Path) -> Result<(), TaskError> {
    let real =
        real_path(path).map_err(|e| TaskError::failed(format!("Invalid path: {}. Error: {e}", path.display())))?;
    let roots: Vec<PathBuf> =
        allowed.iter().map(|a| std::fs::canonicalize(a).unwrap_or_else(|_| normalize(&absolute(a)))).collect();
    if roots.iter().any(|r| real.starts_with(r)) {
        return Ok(());
    }
    let listed = roots.iter().map(|r| format!("'{}'", r.display())).collect::<Vec<_>>().join(", ");
    Err(TaskError::failed(format!(
        "Access to path '{}' is denied. The specified path must be within one of the configured 'allowed-paths': {listed} (BATON_LOCAL_ALLOWED_PATHS)",
        real.display()
    )))
}

/// The real path of an existing `path`; for a missing one, the real path
/// of its nearest existing ancestor joined with the rest.
fn real_path(path: &Path) -> std::io::Result<PathBuf> {
    if path.exists() {
        return std::fs::canonicalize(path);
    }
    let full = normalize(&absolute(path));
    let mut ancestor = full.as_path();
    let mut rest = Vec::new();
    while !ancestor.exists() {
        match (ancestor.file_name(), ancestor.parent()) {
            (Some(name), Some(parent)) => {
                rest.push(name.to_os_string());
                ancestor = parent;
            }
            _ => return Ok(full),
        }
    }
    let mut real = std::fs::canonicalize(ancestor)?;
    real.extend(rest.iter().rev());
    Ok(real)
}

/// `path` against the current folder when relative.
pub(super) fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        return path.to_path_buf();
    }
    std::env::current_dir().map(|d| d.join(path)).unwrap_or_else(|_| path.to_path_buf())
}

/// `.` dropped and `name/..` folded away, without touching the disk
/// (`..` above a relative start is kept, above the root dropped).
pub(super) fn normalize(path: &Path) -> PathBuf {
    let mut out: Vec<Component> = Vec::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => match out.last() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                Some(Component::RootDir | Component::Prefix(_)) => {}
                _ => out.push(c),
            },
            _ => out.push(c),
        }
    }
    out.iter().collect()
}

/// `file://` URI of `path` as Java writes it: absolute, bytes outside the
/// characters a URI path keeps percent-encoded, `/` ending a folder.
pub(super) fn file_uri(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let full = normalize(&absolute(path));
    let mut uri = String::from("file://");
    for b in full.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()/,;:$&+=@".contains(b) {
            uri.push(char::from(*b));
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    if !uri.ends_with('/') && full.is_dir() {
        uri.push('/');
    }
    uri
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("baton-fs-local-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::canonicalize(d).unwrap()
    }

    #[test]
    fn normalizes_as_java() {
        assert_eq!(normalize(Path::new("/a/./b/../c")), PathBuf::from("/a/c"));
        assert_eq!(normalize(Path::new("/../a")), PathBuf::from("/a"));
        assert_eq!(normalize(Path::new("../a/b/..")), PathBuf::from("../a"));
    }

    #[test]
    fn checks_real_paths_against_the_allowed_folders() {
        let root = tmp("check");
        let inside = root.join("in");
        let outside = root.join("out");
        std::fs::create_dir_all(&inside).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, inside.join("link")).unwrap();
        let allowed = [inside.clone()];
        assert!(check(&allowed, &inside.join("new/deeper/file.txt")).is_ok());
        let e = check(&allowed, &inside.join("link/x.txt")).unwrap_err().to_string();
        assert!(e.contains(&format!("'{}'", outside.join("x.txt").display())), "{e}");
        assert!(e.contains(&format!("'{}'", inside.display())), "{e}");
        assert!(resolve(&allowed, &format!("{}/../out/y", inside.display())).is_err());
        // a sibling sharing the allowed folder's name as a prefix is outside
        assert!(check(&allowed, &root.join("inside")).is_err());
        assert_eq!(file_uri(&inside), format!("file://{}/", inside.display()));
        assert_eq!(file_uri(&inside.join("a b%.txt")), format!("file://{}/a%20b%25.txt", inside.display()));
    }
}
