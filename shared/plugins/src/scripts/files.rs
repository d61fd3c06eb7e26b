//! Files in and out of a script task's working directory: `inputFiles`
//! (literal content, or a `kestra://` URI streamed from internal storage),
//! `namespaceFiles` (copied from the namespace's `_files` folder), and
//! `outputFiles` (globs relative to the working directory, streamed into
//! internal storage; output map keyed by the relative path).

use std::path::{Component, Path, PathBuf};

use globset::{GlobSet, GlobSetBuilder};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::{RunContext, TaskError};
use baton_backend::nsfiles::{namespace_files, storage_path_of};
use baton_backend::{BackendError, ByteStream};

/// A relative path inside the working directory, refusing absolute paths
/// and `..` so nothing is written outside it.
pub(crate) fn safe_relative(property: &str, name: &str) -> Result<PathBuf, TaskError> {
    let p = Path::new(name);
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(s) => out.push(s),
            Component::CurDir => {}
            _ => {
                return Err(TaskError::property(
                    property,
                    format!("'{name}' must be a path inside the working directory (no '/' prefix, no '..')"),
                ));
            }
        }
    }
    if out.as_os_str().is_empty() {
        return Err(TaskError::property(property, format!("'{name}' is not a file name")));
    }
    Ok(out)
}

/// Writes `inputFiles` into `dir`.
pub(crate) async fn write_input_files(
    cx: &RunContext,
    dir: &Path,
    files: &[(String, String)],
) -> Result<(), TaskError> {
    for (name, content) in files {
        let target = dir.join(safe_relative("inputFiles", name)?);
        ensure_parent(&target).await?;
        if content.starts_with("kestra://") {
            copy_from_storage(cx, "inputFiles", content, &target).await?;
        } else {
            tokio::fs::write(&target, content.as_bytes())
                .await
                .map_err(|e| TaskError::failed(format!("cannot write input file '{name}': {e}")))?;
        }
    }
    Ok(())
}

async fn ensure_parent(target: &Path) -> Result<(), TaskError> {
    if let Some(parent) = target.parent() {
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(|e| TaskError::failed(format!("cannot create folder {}: {e}", parent.display())))?;
    }
    Ok(())
}

/// Copies a `kestra://` file to `target`: a kernel copy when the storage is
/// a local folder, else streamed. `property` is the one the URI came from.
pub(crate) async fn copy_from_storage(
    cx: &RunContext,
    property: &str,
    uri: &str,
    target: &Path,
) -> Result<(), TaskError> {
    let path = cx.readable_path(property, uri)?;
    let storage = &cx.services.storage;
    if let Some(local) = storage.local_path(&path)
        && tokio::fs::metadata(&local).await.is_ok_and(|m| m.is_file())
    {
        tokio::fs::copy(&local, target)
            .await
            .map_err(|e| TaskError::failed(format!("cannot copy {uri} to {}: {e}", target.display())))?;
        return Ok(());
    }
    let mut reader = storage.get(&path).await.map_err(|e| TaskError::failed(format!("cannot read {uri}: {e}")))?;
    let mut file = tokio::fs::File::create(target)
        .await
        .map_err(|e| TaskError::failed(format!("cannot create {}: {e}", target.display())))?;
    tokio::io::copy(&mut reader, &mut file)
        .await
        .map_err(|e| TaskError::failed(format!("cannot copy {uri} to {}: {e}", target.display())))?;
    Ok(())
}

/// Java's leading `**` also matches inside a name (`**.csv` is any `.csv`
/// at any depth); globset only knows `**` as a whole path component, so
/// such a pattern becomes `*.csv` plus `**/*.csv`.
fn java_patterns(p: &str) -> Vec<String> {
    let p = p.trim_start_matches("./");
    match p.strip_prefix("**") {
        Some(rest) if !rest.is_empty() && !rest.starts_with('/') && !rest.starts_with('*') => {
            vec![format!("*{rest}"), format!("**/*{rest}")]
        }
        _ => vec![p.to_string()],
    }
}

/// A glob set with Java `PathMatcher` semantics (`*` stays within one
/// folder, `**` crosses folders), as Kestra matches `outputFiles`.
pub(crate) fn glob_set(property: &str, patterns: &[String]) -> Result<GlobSet, TaskError> {
    let mut b = GlobSetBuilder::new();
    for p in patterns.iter().flat_map(|p| java_patterns(p)) {
        let g = globset::GlobBuilder::new(&p)
            .literal_separator(true)
            .build()
            .map_err(|e| TaskError::property(property, format!("invalid glob '{p}': {e}")))?;
        b.add(g);
    }
    b.build().map_err(|e| TaskError::property(property, e.to_string()))
}

/// Every regular file under `dir`, as `/`-separated relative paths, sorted.
pub(crate) async fn list_files(dir: &Path) -> Result<Vec<String>, TaskError> {
    let mut files = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let abs = dir.join(&rel);
        let mut entries = tokio::fs::read_dir(&abs)
            .await
            .map_err(|e| TaskError::failed(format!("cannot list {}: {e}", abs.display())))?;
        while let Some(entry) =
            entries.next_entry().await.map_err(|e| TaskError::failed(format!("cannot list {}: {e}", abs.display())))?
        {
            let Ok(kind) = entry.file_type().await else { continue };
            let child = rel.join(entry.file_name());
            if kind.is_dir() {
                stack.push(child);
            } else if (kind.is_file() || kind.is_symlink())
                && let Some(s) = child.to_str()
            {
                files.push(s.replace('\\', "/"));
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Kestra's stored name for an output file: a short id derived from the
/// path, then the file name, so two files with the same name in different
/// folders do not collide.
fn stored_name(rel: &str) -> String {
    use base64::Engine;
    let digest = Sha256::digest(rel.as_bytes());
    let id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..16]);
    let file = rel.rsplit('/').next().unwrap_or(rel);
    format!("{id}-{file}")
}

/// Uploads the files matching `patterns` (except `skip`) to internal
/// storage; returns `{relative path: kestra:// URI}`. `movable`: the files
/// may be moved out of `dir` (it is discarded afterwards).
pub(crate) async fn upload_output_files(
    cx: &RunContext,
    dir: &Path,
    patterns: &[String],
    skip: &[String],
    movable: bool,
) -> Result<Map<String, Value>, TaskError> {
    let mut out = Map::new();
    if patterns.is_empty() {
        return Ok(out);
    }
    for p in patterns.iter().filter(|p| leaves_the_directory(p)) {
        cx.log(
            "WARN",
            &format!(
                "outputFiles pattern '{p}' matches nothing: it points outside the working directory \
                 ('..' or an absolute path), and only files inside it are uploaded"
            ),
        );
    }
    let set = glob_set("outputFiles", patterns)?;
    let mut matched = Vec::new();
    for rel in list_files(dir).await? {
        if skip.contains(&rel) || !set.is_match(&rel) {
            continue;
        }
        if let Some(file) = super::confine::resolve(dir, &rel).await? {
            matched.push((rel, file));
        }
    }
    // a file some link points at is copied, so the link still finds it
    let movable = movable && !matched.iter().any(|(_, f)| f.linked);
    for (rel, file) in matched {
        let (uri, size) = store_file(cx, &file.path, &rel, &stored_name(&rel), movable).await?;
        cx.log("DEBUG", &format!("Output file '{rel}' ({size} bytes) stored as {uri}"));
        out.insert(rel, Value::String(uri));
    }
    Ok(out)
}

/// True for a pattern no file of the working directory can match: an
/// absolute path or one with a `..` segment.
fn leaves_the_directory(pattern: &str) -> bool {
    pattern.starts_with('/') || pattern.split(['/', '\\']).any(|seg| seg == "..")
}

/// Stores a working-directory file under this task's storage prefix. When
/// the storage is a local folder and the working directory is discarded
/// anyway (`movable`), a regular file is synced and renamed into place (no
/// copy, however big); otherwise, or if the rename fails (another
/// filesystem), it is streamed.
async fn store_file(
    cx: &RunContext,
    abs: &Path,
    rel: &str,
    name: &str,
    movable: bool,
) -> Result<(String, u64), TaskError> {
    // a secret the script wrote is masked: the masked copy is stored instead
    if let Some(copy) = super::mask_file::masked_copy(abs, rel, cx.masked_values()).await? {
        let stored = store_file_as_is(cx, &copy, rel, name, true).await;
        let _ = tokio::fs::remove_file(&copy).await;
        return stored;
    }
    store_file_as_is(cx, abs, rel, name, movable).await
}

async fn store_file_as_is(
    cx: &RunContext,
    abs: &Path,
    rel: &str,
    name: &str,
    movable: bool,
) -> Result<(String, u64), TaskError> {
    let path = format!("{}/{name}", cx.task_prefix());
    if movable
        && let Some(target) = cx.services.storage.local_path(&path)
        && let Ok(meta) = tokio::fs::symlink_metadata(abs).await
        && meta.is_file()
        && let Some(parent) = target.parent()
        && tokio::fs::create_dir_all(parent).await.is_ok()
    {
        // durable before it becomes visible, as the storage's own writes are
        let synced = match tokio::fs::File::open(abs).await {
            Ok(f) => f.sync_data().await.is_ok(),
            Err(_) => false,
        };
        if synced && tokio::fs::rename(abs, &target).await.is_ok() {
            return Ok((format!("kestra://{path}"), meta.len()));
        }
    }
    let file = tokio::fs::File::open(abs)
        .await
        .map_err(|e| TaskError::failed(format!("cannot read output file '{rel}': {e}")))?;
    let stream: ByteStream = Box::pin(file);
    cx.put_file(name, stream).await
}

/// `namespaceFiles`: which files of the namespace's `_files` folder to copy.
#[derive(Debug, Clone, Default)]
pub(crate) struct NamespaceFiles {
    pub enabled: bool,
    pub include: Vec<String>,
    pub exclude: Vec<String>,
}

/// Copies the namespace files into `dir` (through the namespace-files
/// store: Kestra's `/{namespace as path}/_files/…`).
pub(crate) async fn copy_namespace_files(cx: &RunContext, dir: &Path, nf: &NamespaceFiles) -> Result<usize, TaskError> {
    if !nf.enabled {
        return Ok(0);
    }
    let include = glob_set("namespaceFiles.include", &nf.include)?;
    let exclude = glob_set("namespaceFiles.exclude", &nf.exclude)?;
    let store = namespace_files(cx.services.storage.clone());
    let failed =
        |e: BackendError| TaskError::failed(format!("cannot read the namespace files of '{}': {e}", cx.namespace));
    let mut n = 0;
    for file in store.list(&cx.namespace, "").await.map_err(failed)? {
        let rel = file.path.as_str();
        if (!nf.include.is_empty() && !include.is_match(rel)) || exclude.is_match(rel) {
            continue;
        }
        let target = dir.join(safe_relative("namespaceFiles", rel)?);
        ensure_parent(&target).await?;
        let path = storage_path_of(&cx.namespace, rel).map_err(failed)?;
        copy_from_storage(cx, "namespaceFiles", &format!("kestra://{path}"), &target).await?;
        n += 1;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_leaving_the_directory_are_told() {
        assert!(leaves_the_directory("../../etc/passwd"));
        assert!(leaves_the_directory("/etc/*"));
        assert!(leaves_the_directory("out/../../x"));
        assert!(!leaves_the_directory("out/*.csv") && !leaves_the_directory("a..b.txt"));
    }

    #[test]
    fn relative_paths_stay_inside() {
        assert_eq!(safe_relative("p", "a/b.csv").unwrap(), PathBuf::from("a/b.csv"));
        assert_eq!(safe_relative("p", "./x").unwrap(), PathBuf::from("x"));
        assert!(safe_relative("p", "../x").is_err());
        assert!(safe_relative("p", "a/../../x").is_err());
        assert!(safe_relative("p", "/etc/passwd").is_err());
        assert!(safe_relative("p", "").is_err());
    }

    #[test]
    fn globs_follow_java_semantics() {
        let set = glob_set("outputFiles", &["*.csv".to_string()]).unwrap();
        assert!(set.is_match("a.csv"));
        assert!(!set.is_match("sub/a.csv"));
        let set = glob_set("outputFiles", &["**.csv".to_string(), "out/*.json".to_string()]).unwrap();
        assert!(set.is_match("sub/deeper/a.csv"));
        assert!(set.is_match("out/x.json"));
        assert!(!set.is_match("x.json"));
        assert!(glob_set("outputFiles", &["[".to_string()]).is_err());
    }

    #[test]
    fn stored_names_are_stable_and_distinct() {
        assert_eq!(stored_name("a/x.csv"), stored_name("a/x.csv"));
        assert_ne!(stored_name("a/x.csv"), stored_name("b/x.csv"));
        assert!(stored_name("a/x.csv").ends_with("-x.csv"));
    }
}
