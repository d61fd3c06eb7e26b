//! Empty namespace folders. A folder shows while it holds a file; one that
//! holds none exists only when kept explicitly, by a marker object
//! `/a/b/_file_folders/{folder}/.folder` in the same internal storage (a
//! `_`-folder outside `_files`, so nothing reading namespace files sees it,
//! on a local folder and in a GCS bucket alike). `namespace.DeleteFiles`
//! keeps the folders its deletions empty (`deleteParentFolder: false`, as
//! Kestra) or removes them (`true`); deleting a folder removes the markers
//! under it.

use super::{check_namespace, normalise_path};
use crate::{Result, Storage};

/// The marker's name inside a kept folder.
const MARKER: &str = ".folder";

/// `/a/b/_file_folders`: where namespace `a.b` keeps its empty folders.
pub fn folders_root(namespace: &str) -> String {
    format!("/{}/_file_folders", namespace.replace('.', "/"))
}

/// `/a/b/_file_folders/{folder}` (the root for `""`).
pub fn folder_prefix(namespace: &str, folder: &str) -> Result<String> {
    check_namespace(namespace)?;
    let rel = normalise_path(folder, true)?;
    let root = folders_root(namespace);
    Ok(if rel.is_empty() { root } else { format!("{root}/{rel}") })
}

/// The kept folders under `dir` (`""` for all), sorted, relative to the
/// namespace (`models/staging`).
pub async fn list(storage: &dyn Storage, namespace: &str, dir: &str) -> Result<Vec<String>> {
    let root = folders_root(namespace);
    let mut out: Vec<String> = storage
        .list(&folder_prefix(namespace, dir)?)
        .await?
        .iter()
        .filter_map(|p| p.strip_prefix(&root)?.strip_prefix('/')?.strip_suffix(MARKER)?.strip_suffix('/'))
        .map(str::to_string)
        .collect();
    out.sort();
    Ok(out)
}

/// Keeps `folder` (not the root) while it holds nothing.
pub async fn keep(storage: &dyn Storage, namespace: &str, folder: &str) -> Result<()> {
    let rel = normalise_path(folder, false)?;
    let marker = format!("{}/{MARKER}", folder_prefix(namespace, &rel)?);
    storage.put_new(&marker, Box::pin(std::io::Cursor::new(Vec::new()))).await?;
    Ok(())
}

/// Stops keeping `folder` itself (the markers of its sub-folders stay).
pub async fn forget(storage: &dyn Storage, namespace: &str, folder: &str) -> Result<bool> {
    let rel = normalise_path(folder, false)?;
    let marker = format!("{}/{MARKER}", folder_prefix(namespace, &rel)?);
    Ok(!storage.delete_prefix(&marker).await?.is_empty())
}

/// Removes every kept folder under `path` (a folder being deleted) and
/// `path` itself.
pub async fn forget_all(storage: &dyn Storage, namespace: &str, path: &str) -> Result<()> {
    storage.delete_prefix(&folder_prefix(namespace, path)?).await?;
    Ok(())
}

/// The folders enclosing `path`, deepest first (`a/b/c.sql` → `a/b`, `a`).
pub fn ancestors(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = path.trim_matches('/');
    while let Some((parent, _)) = rest.rsplit_once('/') {
        out.push(parent.to_string());
        rest = parent;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::ancestors;

    #[test]
    fn ancestors_are_deepest_first() {
        assert_eq!(ancestors("a/b/c.sql"), ["a/b", "a"]);
        assert!(ancestors("c.sql").is_empty());
    }
}
