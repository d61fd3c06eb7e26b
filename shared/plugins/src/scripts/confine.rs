//! Output files stay inside the working directory: a file matched by
//! `outputFiles` (or written to `{{ outputDir }}`) that is a symbolic link
//! is followed only when its target is inside the same directory. A link
//! out of it (to a host file such as `/etc/shadow`, which a container can
//! create without seeing the host) ends the task, as Kestra refuses it.

use std::path::{Path, PathBuf};

use crate::TaskError;

/// A matched output file, resolved.
#[derive(Debug, PartialEq)]
pub(crate) struct Resolved {
    /// The real file (the link's target for a link).
    pub path: PathBuf,
    /// Whether `rel` was (or went through) a symbolic link: such a file may
    /// be shared by several links, so it is copied, never moved.
    pub linked: bool,
}

/// Resolves `rel` under `dir`: `None` when it is not a regular file (a
/// folder, a dangling link), an error when it leads outside `dir`.
pub(crate) async fn resolve(dir: &Path, rel: &str) -> Result<Option<Resolved>, TaskError> {
    let root = tokio::fs::canonicalize(dir)
        .await
        .map_err(|e| TaskError::failed(format!("cannot resolve the working directory {}: {e}", dir.display())))?;
    let given = dir.join(rel);
    let Ok(real) = tokio::fs::canonicalize(&given).await else {
        return Ok(None);
    };
    if !real.starts_with(&root) {
        let target = tokio::fs::read_link(&given).await.map(|t| t.display().to_string()).unwrap_or_default();
        return Err(TaskError::failed(format!(
            "output file '{rel}' is a symbolic link to '{target}', outside the working directory; \
             copy the file into the working directory instead of linking to it"
        )));
    }
    if !tokio::fs::metadata(&real).await.is_ok_and(|m| m.is_file()) {
        return Ok(None);
    }
    let linked = real != root.join(rel);
    Ok(Some(Resolved { path: real, linked }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn links_inside_are_followed_and_links_out_refused() {
        let base = std::env::temp_dir().join(format!("baton-confine-{}", uuid::Uuid::new_v4()));
        let dir = base.join("wd");
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("a.txt"), "a").unwrap();
        std::fs::write(base.join("secret.txt"), "s").unwrap();
        std::os::unix::fs::symlink("a.txt", dir.join("link.txt")).unwrap();
        std::os::unix::fs::symlink(base.join("secret.txt"), dir.join("out.txt")).unwrap();
        std::os::unix::fs::symlink("../../secret.txt", dir.join("sub/rel.txt")).unwrap();
        std::os::unix::fs::symlink("/nonexistent/x", dir.join("dangling.txt")).unwrap();

        let plain = resolve(&dir, "a.txt").await.unwrap().unwrap();
        assert!(!plain.linked);
        let link = resolve(&dir, "link.txt").await.unwrap().unwrap();
        assert!(link.linked && link.path.ends_with("wd/a.txt"));
        let e = resolve(&dir, "out.txt").await.unwrap_err().to_string();
        assert!(e.contains("'out.txt'") && e.contains("outside the working directory"), "{e}");
        assert!(resolve(&dir, "sub/rel.txt").await.is_err());
        assert_eq!(resolve(&dir, "dangling.txt").await.unwrap(), None);
        assert_eq!(resolve(&dir, "sub").await.unwrap(), None);
        let _ = std::fs::remove_dir_all(&base);
    }
}
