//! A `WorkingDirectory`'s own files, done by the worker around its
//! children (Kestra's `preExecuteTasks` / `postExecuteTasks`).
//!
//! The executor gives each direct child of a WorkingDirectory the
//! WorkingDirectory's `cache`, `namespaceFiles`, `inputFiles` and
//! `outputFiles` as written, and whether the child is the first or the last
//! of its tasks ([`CONTEXT_KEY`] in the task's context). Around the first
//! child, before it runs: the cache archive is extracted into the shared
//! folder (unless older than its `ttl`, then it is deleted), the namespace
//! files copied, the input files written (rendered in the child's
//! context; a `kestra://` value is copied). Around the last child, after it
//! succeeds: the files matching `outputFiles` are stored and handed to the
//! executor under [`OUTPUT_KEY`], which becomes the WorkingDirectory's
//! output `outputFiles` (`executor::blocks`); the files matching the cache
//! `patterns` are archived (ZIP) to
//! `/{namespace}/{flow}/_cache/{task}[/{value}]/cache.zip` when one of
//! them changed since the archive was made (extracted files keep the
//! archive's date, so an untouched cache is not rewritten and its `ttl`
//! runs from when it was made, as in Kestra).
//!
//! The cache archive, and what it unpacks to, are bounded by
//! [`MAX_CACHE_BYTES`]; it is restored from a file, never held in memory.

use std::io::{Read, Write};
use std::path::Path;
use std::time::SystemTime;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};
use tokio::io::AsyncReadExt;

use crate::scripts::files::{
    NamespaceFiles, copy_namespace_files, glob_set, list_files, safe_relative, upload_output_files, write_input_files,
};
use crate::{RunContext, RunnableTask, TaskError, TaskOutput, de};
use baton_model::ids::slugify;

pub use baton_model::types::working_dir::{CONTEXT_KEY, OUTPUT_KEY};
/// The largest cache archive stored or restored.
pub const MAX_CACHE_BYTES: u64 = 1024 * 1024 * 1024;

/// What the executor says about the enclosing WorkingDirectory.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Spec {
    task_id: String,
    #[serde(default)]
    value: Option<String>,
    #[serde(default)]
    first: bool,
    #[serde(default)]
    last: bool,
    #[serde(default)]
    input_files: Option<Value>,
    #[serde(default)]
    output_files: Option<Value>,
    #[serde(default)]
    namespace_files: Option<Value>,
    #[serde(default)]
    cache: Option<Value>,
}

impl Spec {
    fn has_pre(&self) -> bool {
        self.first && (self.cache.is_some() || self.namespace_files.is_some() || self.input_files.is_some())
    }
    fn has_post(&self) -> bool {
        self.last && (self.cache.is_some() || self.output_files.is_some())
    }
}

/// `cache`: `patterns` (globs) and `ttl`.
#[derive(Debug, Deserialize)]
struct Cache {
    #[serde(deserialize_with = "de::string_or_list")]
    patterns: Vec<String>,
    #[serde(default, deserialize_with = "de::opt_duration")]
    ttl: Option<chrono::Duration>,
}

/// `namespaceFiles` as written.
#[derive(Debug, Deserialize)]
struct NsFilesProps {
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    enabled: Option<bool>,
    #[serde(default, deserialize_with = "de::string_or_list")]
    include: Vec<String>,
    #[serde(default, deserialize_with = "de::string_or_list")]
    exclude: Vec<String>,
}

fn prop<T: serde::de::DeserializeOwned>(name: &str, v: Value) -> Result<T, TaskError> {
    serde_json::from_value(v).map_err(|e| TaskError::property(name, format!("of the WorkingDirectory: {e}")))
}

/// `task`, wrapped to do its WorkingDirectory's files when it is the first
/// or last child of one that has some.
pub fn wrap(task: Box<dyn RunnableTask>, cx: &RunContext) -> Box<dyn RunnableTask> {
    let Some(spec) = cx.get(CONTEXT_KEY).and_then(|v| serde_json::from_value::<Spec>(v.clone()).ok()) else {
        return task;
    };
    if spec.has_pre() || spec.has_post() { Box::new(InWorkingDirectory { inner: task, spec }) } else { task }
}

struct InWorkingDirectory {
    inner: Box<dyn RunnableTask>,
    spec: Spec,
}

#[async_trait]
impl RunnableTask for InWorkingDirectory {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        if self.spec.has_pre() {
            pre(cx, &self.spec).await?;
        }
        let mut out = self.inner.run(cx).await?;
        let failed = matches!(out.state, Some(baton_model::StateType::Failed));
        if self.spec.has_post() && !out.detached && !failed {
            post(cx, &self.spec, &mut out).await?;
        }
        Ok(out)
    }
}

/// Where a WorkingDirectory's cache archive lives.
fn cache_path(cx: &RunContext, spec: &Spec) -> String {
    let mut p =
        format!("/{}/{}/_cache/{}", cx.namespace.replace('.', "/"), slugify(&cx.flow_id), slugify(&spec.task_id));
    if let Some(v) = spec.value.as_deref().filter(|v| !v.is_empty()) {
        p.push('/');
        p.push_str(&slugify(v));
    }
    p.push_str("/cache.zip");
    p
}

/// When the cache archive was written, if there is one.
async fn cache_date(cx: &RunContext, path: &str) -> Result<Option<DateTime<Utc>>, TaskError> {
    let listed = cx
        .services
        .storage
        .list_modified(path)
        .await
        .map_err(|e| TaskError::failed(format!("cannot read the WorkingDirectory cache {path}: {e}")))?;
    Ok(listed.into_iter().find(|(p, _)| p == path).map(|(_, d)| d))
}

async fn pre(cx: &RunContext, spec: &Spec) -> Result<(), TaskError> {
    let dir = cx.working_dir()?;
    if let Some(c) = &spec.cache {
        let cache: Cache = prop("cache", cx.render_value(c)?)?;
        restore_cache(cx, spec, &cache, &dir).await?;
    }
    if let Some(nf) = &spec.namespace_files {
        let p: NsFilesProps = prop("namespaceFiles", cx.render_value(nf)?)?;
        let nf = NamespaceFiles { enabled: p.enabled.unwrap_or(true), include: p.include, exclude: p.exclude };
        let n = copy_namespace_files(cx, &dir, &nf).await?;
        cx.log("DEBUG", &format!("{n} namespace files copied into the working directory"));
    }
    if let Some(files) = &spec.input_files {
        let files = input_files(cx.render_value(files)?)?;
        write_input_files(cx, &dir, &files).await?;
    }
    Ok(())
}

/// `inputFiles`: a map of file name → content, or the JSON text of one.
fn input_files(v: Value) -> Result<Vec<(String, String)>, TaskError> {
    let map = match v {
        Value::Object(m) => m,
        Value::String(s) => match serde_json::from_str::<Value>(&s) {
            Ok(Value::Object(m)) => m,
            _ => return Err(TaskError::property("inputFiles", "must be a map of file name to content")),
        },
        Value::Null => Map::new(),
        _ => return Err(TaskError::property("inputFiles", "must be a map of file name to content")),
    };
    Ok(map.into_iter().map(|(k, v)| (k, de::value_to_string(&v))).collect())
}

async fn restore_cache(cx: &RunContext, spec: &Spec, cache: &Cache, dir: &Path) -> Result<(), TaskError> {
    let path = cache_path(cx, spec);
    let Some(made) = cache_date(cx, &path).await? else { return Ok(()) };
    let storage = &cx.services.storage;
    if let Some(ttl) = cache.ttl
        && made + ttl < Utc::now()
    {
        cx.log("DEBUG", "The WorkingDirectory cache has expired: deleting it");
        storage.delete_prefix(&path).await.map_err(|e| TaskError::failed(format!("cannot delete {path}: {e}")))?;
        return Ok(());
    }
    // spooled to a file beside the folder (a ZIP is read from its end), never held in memory
    let spool = dir.with_extension("cache.zip");
    let copied = async {
        let reader = storage.get(&path).await.map_err(|e| TaskError::failed(format!("cannot read {path}: {e}")))?;
        let mut file = tokio::fs::File::create(&spool)
            .await
            .map_err(|e| TaskError::failed(format!("cannot write {}: {e}", spool.display())))?;
        let n = tokio::io::copy(&mut reader.take(MAX_CACHE_BYTES + 1), &mut file)
            .await
            .map_err(|e| TaskError::failed(format!("cannot read {path}: {e}")))?;
        if n > MAX_CACHE_BYTES {
            return Err(TaskError::failed(format!(
                "the WorkingDirectory cache {path} is larger than {MAX_CACHE_BYTES} bytes, the most Baton restores \
                 (MAX_CACHE_BYTES)"
            )));
        }
        Ok(())
    }
    .await;
    let extracted = match copied {
        Ok(()) => {
            let (dir, spool) = (dir.to_path_buf(), spool.clone());
            let made: SystemTime = made.into();
            tokio::task::spawn_blocking(move || extract(&spool, &dir, made))
                .await
                .map_err(|e| TaskError::failed(format!("extracting the WorkingDirectory cache failed: {e}")))
                .and_then(|r| r)
        }
        Err(e) => Err(e),
    };
    let _ = tokio::fs::remove_file(&spool).await;
    let n = extracted?;
    cx.log("DEBUG", &format!("{n} files restored from the WorkingDirectory cache"));
    Ok(())
}

/// Extracts a cache archive into `dir`, each file dated `made`.
fn extract(archive: &Path, dir: &Path, made: SystemTime) -> Result<usize, TaskError> {
    let bad = |e: &dyn std::fmt::Display| TaskError::failed(format!("the WorkingDirectory cache is not a ZIP: {e}"));
    let file = std::fs::File::open(archive)
        .map_err(|e| TaskError::failed(format!("cannot read {}: {e}", archive.display())))?;
    let mut zip = zip::ZipArchive::new(std::io::BufReader::new(file)).map_err(|e| bad(&e))?;
    let mut n = 0;
    let mut written = 0u64;
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(|e| bad(&e))?;
        if entry.is_dir() {
            continue;
        }
        let name = entry.name().map_err(|e| bad(&e))?.to_string();
        let target = dir.join(safe_relative("cache", &name)?);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| TaskError::failed(format!("cannot create {}: {e}", parent.display())))?;
        }
        let mut f = std::fs::File::create(&target)
            .map_err(|e| TaskError::failed(format!("cannot write {}: {e}", target.display())))?;
        // what the archive unpacks to is bounded as the archive is
        let room = MAX_CACHE_BYTES - written;
        let size = std::io::copy(&mut (&mut entry).take(room + 1), &mut f)
            .map_err(|e| TaskError::failed(format!("cannot write {}: {e}", target.display())))?;
        if size > room {
            return Err(TaskError::failed(format!(
                "the WorkingDirectory cache unpacks to more than {MAX_CACHE_BYTES} bytes, the most Baton restores \
                 (MAX_CACHE_BYTES)"
            )));
        }
        written += size;
        // dated as the archive: an untouched file is not a change
        let _ = f.set_modified(made);
        n += 1;
    }
    Ok(n)
}

async fn post(cx: &RunContext, spec: &Spec, out: &mut TaskOutput) -> Result<(), TaskError> {
    let dir = cx.working_dir()?;
    if let Some(patterns) = &spec.output_files {
        let patterns: Vec<String> = match cx.render_value(patterns)? {
            Value::String(s) if s.trim_start().starts_with('[') => {
                prop("outputFiles", serde_json::from_str(&s).unwrap_or(Value::Null))?
            }
            v => de::string_or_list(v).map_err(|e| TaskError::property("outputFiles", e.to_string()))?,
        };
        let files = upload_output_files(cx, &dir, &patterns, &[], false).await?;
        out.outputs.insert(OUTPUT_KEY.into(), Value::Object(files));
    }
    if let Some(c) = &spec.cache {
        let cache: Cache = prop("cache", cx.render_value(c)?)?;
        save_cache(cx, spec, &cache, &dir).await?;
    }
    Ok(())
}

async fn save_cache(cx: &RunContext, spec: &Spec, cache: &Cache, dir: &Path) -> Result<(), TaskError> {
    let set = glob_set("cache.patterns", &cache.patterns)?;
    let matched: Vec<String> = list_files(dir).await?.into_iter().filter(|f| set.is_match(f)).collect();
    let path = cache_path(cx, spec);
    let made = cache_date(cx, &path).await?.map(SystemTime::from);
    let changed = matched.iter().any(|rel| {
        let modified = std::fs::metadata(dir.join(rel)).and_then(|m| m.modified()).ok();
        match (made, modified) {
            (Some(made), Some(m)) => m > made,
            _ => true,
        }
    });
    if !changed {
        cx.log("DEBUG", "The WorkingDirectory cache files did not change: the cache is kept");
        return Ok(());
    }
    // written to a file beside the folder and streamed to storage, never held in memory
    let spool = dir.with_extension("cache-new.zip");
    let stored = async {
        let (root, out) = (dir.to_path_buf(), spool.clone());
        let size = tokio::task::spawn_blocking(move || archive(&root, &matched, &out))
            .await
            .map_err(|e| TaskError::failed(format!("archiving the WorkingDirectory cache failed: {e}")))??;
        let file = tokio::fs::File::open(&spool)
            .await
            .map_err(|e| TaskError::failed(format!("cannot read {}: {e}", spool.display())))?;
        cx.services
            .storage
            .put(&path, Box::pin(file))
            .await
            .map_err(|e| TaskError::failed(format!("cannot store the WorkingDirectory cache {path}: {e}")))?;
        Ok::<u64, TaskError>(size)
    }
    .await;
    let _ = tokio::fs::remove_file(&spool).await;
    cx.log("DEBUG", &format!("WorkingDirectory cache of {} bytes stored as kestra://{path}", stored?));
    Ok(())
}

/// A ZIP of `files` (relative to `root`) written to `out`, bounded by
/// [`MAX_CACHE_BYTES`]; its size.
fn archive(root: &Path, files: &[String], out: &Path) -> Result<u64, TaskError> {
    let fail = |e: &dyn std::fmt::Display| TaskError::failed(format!("cannot archive the WorkingDirectory cache: {e}"));
    let file = std::fs::File::create(out).map_err(|e| fail(&e))?;
    let mut zip = zip::ZipWriter::new(std::io::BufWriter::new(file));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    let mut total = 0u64;
    for rel in files {
        let abs = root.join(rel);
        let Ok(meta) = std::fs::metadata(&abs) else { continue };
        if !meta.is_file() {
            continue;
        }
        total += meta.len();
        if total > MAX_CACHE_BYTES {
            return Err(TaskError::failed(format!(
                "the WorkingDirectory cache files take more than {MAX_CACHE_BYTES} bytes, the most Baton caches \
                 (MAX_CACHE_BYTES)"
            )));
        }
        let mut content = std::fs::File::open(&abs).map_err(|e| fail(&e))?;
        zip.start_file(rel.as_str(), options).map_err(|e| fail(&e))?;
        std::io::copy(&mut content, &mut zip).map_err(|e| fail(&e))?;
    }
    let mut written = zip.finish().map_err(|e| fail(&e))?;
    written.flush().map_err(|e| fail(&e))?;
    std::fs::metadata(out).map(|m| m.len()).map_err(|e| fail(&e))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn input_files_are_a_map_or_its_json() {
        let files = input_files(json!({"a.txt": "x", "n.json": {"k": 1}})).unwrap();
        assert_eq!(files, [("a.txt".to_string(), "x".to_string()), ("n.json".to_string(), "{\"k\":1}".to_string())]);
        assert_eq!(input_files(json!("{\"b.txt\": \"y\"}")).unwrap(), [("b.txt".to_string(), "y".to_string())]);
        assert!(input_files(json!(["a"])).unwrap_err().to_string().contains("inputFiles"));
    }

    #[test]
    fn a_cache_archive_round_trips_dated_as_made() {
        let root = std::env::temp_dir().join(format!("baton-wd-cache-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(root.join("deps")).unwrap();
        std::fs::write(root.join("deps/a.txt"), "A").unwrap();
        std::fs::write(root.join("b.txt"), "B").unwrap();
        let zip = root.join("cache.zip");
        let size = archive(&root, &["deps/a.txt".into(), "b.txt".into(), "missing".into()], &zip).unwrap();
        assert_eq!(size, std::fs::metadata(&zip).unwrap().len());
        let out = root.join("out");
        let made = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        assert_eq!(extract(&zip, &out, made).unwrap(), 2);
        assert_eq!(std::fs::read_to_string(out.join("deps/a.txt")).unwrap(), "A");
        assert_eq!(std::fs::metadata(out.join("b.txt")).unwrap().modified().unwrap(), made);
        let _ = std::fs::remove_dir_all(root);
    }

    #[test]
    fn only_first_and_last_children_with_files_are_wrapped() {
        let spec = |first, last, k: &str| -> Spec {
            serde_json::from_value(json!({"taskId": "wd", "first": first, "last": last, k: ["x"]})).unwrap()
        };
        assert!(spec(true, false, "inputFiles").has_pre() && !spec(true, false, "inputFiles").has_post());
        assert!(!spec(false, true, "inputFiles").has_pre() && !spec(false, true, "inputFiles").has_post());
        assert!(spec(false, true, "outputFiles").has_post() && !spec(true, false, "outputFiles").has_post());
        assert!(spec(true, true, "cache").has_pre() && spec(true, true, "cache").has_post());
    }
}
