//! `io.kestra.plugin.core.namespace.UploadFiles`: writes files into
//! `namespace`'s files, under `destination` (default `/`), from
//! - `files`: patterns (see [`super::matcher`]) over the task's working
//!   directory, kept at their path relative to it — meant inside a
//!   `WorkingDirectory`, whose tasks share the folder (elsewhere the
//!   folder is empty and nothing is selected);
//! - `filesMap`: a map (or a JSON map, e.g. `{{ outputs.unzip.files }}`)
//!   of namespace path → `kestra://` URI of a file this execution may
//!   read. A URI whose file does not exist is skipped, as in Kestra, with a
//!   WARN line here; a value that is no `kestra://` URI is refused naming
//!   its key (Kestra takes only URIs: write content with `storage.Write`
//!   first).
//!
//! Either or both; neither is an error. `conflict` says what a file that
//! already exists gets: OVERWRITE (default; its previous content stays as
//! a revision), SKIP, or ERROR — which fails the task, as in Kestra, but
//! before anything is written (Kestra writes the files before the
//! conflicting one). Kestra's task has no outputs.
//!
//! `destination` and a `filesMap` key are joined as folders: Kestra glues
//! them (`/scripts` + `a.py` is `/scriptsa.py` there), Baton gives
//! `/scripts/a.py`.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::matcher::PathMatcher;
use super::{check_bound, failed, list_all, namespace_prop, store};
use crate::Declare;
use crate::registry::PluginDef;
use crate::scripts::files::list_files;
use crate::{RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};
use baton_backend::nsfiles::normalise_path;

pub const TYPE: &str = "io.kestra.plugin.core.namespace.UploadFiles";

/// What an existing namespace file gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    Overwrite,
    Error,
    Skip,
}

impl Conflict {
    /// Kestra's names, case, `_` and `-` ignored as the validator does.
    pub fn parse(s: &str) -> Result<Conflict, TaskError> {
        let canon: String = s.trim().chars().filter(|c| !matches!(c, '_' | '-')).collect::<String>().to_uppercase();
        match canon.as_str() {
            "OVERWRITE" => Ok(Conflict::Overwrite),
            "ERROR" => Ok(Conflict::Error),
            "SKIP" => Ok(Conflict::Skip),
            _ => Err(TaskError::property("conflict", format!("'{s}' is not one of OVERWRITE, ERROR, SKIP"))),
        }
    }
}

/// Write files into a namespace's files.
///
/// Uploads the working-directory files matching `files` (inside a WorkingDirectory) and the kestra:// files of `filesMap` (namespace path → URI; a missing file is skipped with a warning) under `destination`. An existing file is overwritten (its old content kept as a revision), skipped, or fails the task before anything is written, as `conflict` says. No outputs.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = TYPE,
    group = "core",
    example = "id: upload\ntype: io.kestra.plugin.core.namespace.UploadFiles\nnamespace: \"{{ flow.namespace }}\"\nfilesMap:\n  scripts/main.py: \"{{ inputs.script }}\"\nconflict: SKIP\n",
)]
struct Props {
    /// The namespace whose files are changed or read (any namespace).
    #[serde(deserialize_with = "de::string_lenient")]
    namespace: String,
    /// Patterns over the working directory (globs anchored at it, or `glob:…` / `regex:…` on absolute paths); each file keeps its relative path.
    #[serde(default)]
    #[prop(kind = "List")]
    files: Option<Value>,
    /// A map (or JSON map, e.g. another task's `files` output) of namespace path → kestra:// URI.
    #[serde(default)]
    files_map: Option<Value>,
    /// The namespace folder the files go under.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(default = "\"/\"")]
    destination: Option<String>,
    /// What a file that already exists gets.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(default = "\"OVERWRITE\"", values = ["OVERWRITE", "ERROR", "SKIP"])]
    conflict: Option<String>,
}

/// `namespace.UploadFiles`.
#[derive(Debug)]
struct UploadFiles {
    namespace: String,
    files: Vec<String>,
    /// (namespace path, `kestra://` URI), in written order.
    files_map: Vec<(String, String)>,
    destination: String,
    conflict: Conflict,
}

/// `files`: a list, or a JSON list as a template renders it, or one pattern.
fn file_patterns(v: Option<Value>) -> Result<Vec<String>, TaskError> {
    let v = match v {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::String(s)) if s.trim_start().starts_with('[') => serde_json::from_str(&s)
            .map_err(|e| TaskError::property("files", format!("not a JSON list of patterns: {e}")))?,
        Some(v) => v,
    };
    super::patterns("files", &v)
}

/// `filesMap`: a map or a JSON map of path → URI.
fn files_map(v: Option<Value>) -> Result<Vec<(String, String)>, TaskError> {
    let m = match v {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Object(m)) => m,
        Some(Value::String(s)) => match serde_json::from_str::<Value>(&s) {
            Ok(Value::Object(m)) => m,
            _ => return Err(TaskError::property("filesMap", "must be a map of namespace path to kestra:// URI")),
        },
        Some(other) => {
            return Err(TaskError::property(
                "filesMap",
                format!("must be a map of namespace path to kestra:// URI, found {other}"),
            ));
        }
    };
    m.into_iter()
        .map(|(k, v)| match v {
            Value::String(uri) if uri.trim().starts_with("kestra://") => Ok((k, uri.trim().to_string())),
            other => Err(TaskError::property(
                "filesMap",
                format!(
                    "the value of '{k}' must be the kestra:// URI of a file (write content with \
                     io.kestra.plugin.core.storage.Write first), found {other}"
                ),
            )),
        })
        .collect()
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    let namespace = namespace_prop(&p.namespace)?;
    if p.files.as_ref().is_none_or(Value::is_null) && p.files_map.as_ref().is_none_or(Value::is_null) {
        return Err(TaskError::property("files", "files or filesMap is required"));
    }
    let files = file_patterns(p.files)?;
    let files_map = files_map(p.files_map)?;
    let destination = normalise_path(p.destination.as_deref().unwrap_or("/"), true)
        .map_err(|e| TaskError::property("destination", e.to_string()))?;
    let conflict = p.conflict.as_deref().map_or(Ok(Conflict::Overwrite), Conflict::parse)?;
    Ok(Box::new(UploadFiles { namespace, files, files_map, destination, conflict }))
}

/// Where one file comes from.
#[derive(Debug)]
enum Source {
    /// A file of the working directory.
    Local(PathBuf),
    /// A storage path (from a `kestra://` URI).
    Stored(String),
}

impl UploadFiles {
    /// `rel` under `destination`, as a namespace path.
    fn target(&self, property: &str, rel: &str) -> Result<String, TaskError> {
        normalise_path(&format!("{}/{rel}", self.destination), false)
            .map_err(|e| TaskError::property(property, e.to_string()))
    }

    /// Every (namespace path, source) to write, `files` first.
    async fn plan(&self, cx: &RunContext) -> Result<Vec<(String, Source)>, TaskError> {
        let mut plan = Vec::new();
        let dir = cx.working_dir_path();
        if !self.files.is_empty() && dir.is_dir() {
            let base = dir.display().to_string().trim_end_matches('/').to_string();
            let matcher = PathMatcher::for_directory("files", &base, &self.files)?;
            for rel in list_files(&dir).await? {
                if matcher.matches(&format!("{base}/{rel}")) {
                    plan.push((self.target("files", &rel)?, Source::Local(dir.join(&rel))));
                }
                check_bound("files", plan.len(), "uploads")?;
            }
        }
        for (key, uri) in &self.files_map {
            let path = cx.readable_path("filesMap", uri)?;
            let exists = cx.services.storage.size(&path).await.map_err(|e| TaskError::failed(format!("{uri}: {e}")))?;
            if exists.is_none() {
                cx.warn(&format!("filesMap: '{key}' not uploaded: {uri} does not exist"));
                continue;
            }
            plan.push((self.target("filesMap", key)?, Source::Stored(path)));
            check_bound("filesMap", plan.len(), "uploads")?;
        }
        Ok(plan)
    }
}

#[async_trait]
impl RunnableTask for UploadFiles {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let ns = &self.namespace;
        let plan = self.plan(cx).await?;
        let store = store(cx);
        let mut existing: HashSet<String> = list_all(store.as_ref(), ns).await?.into_iter().map(|f| f.path).collect();
        if self.conflict == Conflict::Error {
            let mut seen = existing.clone();
            if let Some((path, _)) = plan.iter().find(|(p, _)| !seen.insert(p.clone())) {
                return Err(TaskError::failed(format!(
                    "File '/{path}' already exists in namespace '{ns}' and conflict is set to ERROR"
                )));
            }
        }
        let (mut written, mut skipped) = (0usize, 0usize);
        for (path, source) in plan {
            let exists = existing.contains(&path);
            if exists && self.conflict == Conflict::Skip {
                cx.log("DEBUG", &format!("File '/{path}' already exists in namespace '{ns}': skipped"));
                skipped += 1;
                continue;
            }
            let data: baton_backend::ByteStream = match &source {
                Source::Local(file) => Box::pin(
                    tokio::fs::File::open(file)
                        .await
                        .map_err(|e| TaskError::failed(format!("cannot read {}: {e}", file.display())))?,
                ),
                Source::Stored(p) => cx
                    .services
                    .storage
                    .get(p)
                    .await
                    .map_err(|e| TaskError::failed(format!("cannot read kestra://{p}: {e}")))?,
            };
            store.put(ns, &path, data).await.map_err(|e| failed(ns, e))?;
            let verb = if exists { "overwritten" } else { "added" };
            cx.log("DEBUG", &format!("File '/{path}' {verb} into namespace '{ns}'"));
            existing.insert(path);
            written += 1;
        }
        let skipped = if skipped > 0 { format!(", {skipped} skipped (already there)") } else { String::new() };
        cx.info(&format!("uploaded {written} files into namespace {ns}{skipped}"));
        Ok(TaskOutput::empty())
    }
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));

#[cfg(test)]
mod tests;
