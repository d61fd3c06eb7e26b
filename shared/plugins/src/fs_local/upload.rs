//! `io.kestra.plugin.fs.local.Upload` and `…local.Uploads`: files of
//! internal storage (`kestra://` URIs) written onto the local disk, in the
//! allowed folders. Upload writes one file to `to` (a folder takes the
//! URI's file name; no `to`: the working directory), replacing what is
//! there unless `overwrite: false`; it outputs the local `uri` and `size`.
//! Uploads writes into folder `to` the URIs `from` gives — a list, a map of
//! file name → URI, either as JSON text, or the URI of a stored file of one
//! URI a line — those `regExp` matches whole, at most `maxFiles` (25);
//! it outputs `files`, their local URIs.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

use super::paths::{check, file_uri, normalize, resolve};
use super::{full_match, io_err, on_disk};
use crate::config::MAX_LOCAL_FILES;
use crate::core::ion_text;
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// The longest line Uploads reads from a stored file of URIs.
const MAX_URI_LINE: u64 = 64 * 1024;

/// Upload a stored file to the local filesystem.
///
/// Writes a file of internal storage to a local path in the folders BATON_LOCAL_ALLOWED_PATHS allows.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.fs.local.Upload",
    group = "core",
    example = "id: upload\ntype: io.kestra.plugin.fs.local.Upload\nfrom: \"{{ inputs.file }}\"\nto: /data/uploads/file.txt\noverwrite: true\n",
    outputs(uri(String, "The written file's file:// URI."), size(Integer, "Its size in bytes."))
)]
struct UploadProps {
    /// The stored file (kestra:// URI).
    #[serde(deserialize_with = "de::string_lenient")]
    from: String,
    /// The local path written (a folder: the URI's file name in it); the working directory when absent.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    to: Option<String>,
    /// Replace an existing file; when false, an existing file fails the task.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "true")]
    overwrite: Option<bool>,
}

/// Upload stored files to a local folder.
///
/// Writes files of internal storage into a local folder in the folders BATON_LOCAL_ALLOWED_PATHS allows.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.fs.local.Uploads",
    group = "core",
    example = "id: uploads\ntype: io.kestra.plugin.fs.local.Uploads\nfrom:\n  report.csv: \"{{ inputs.file1 }}\"\n  data.json: \"{{ inputs.file2 }}\"\nto: /data/uploads\n",
    outputs(files(List, "The written files' file:// URIs."))
)]
struct UploadsProps {
    /// The stored files: a list of kestra:// URIs, a map of file name → URI (as is or as JSON text), or the URI of a stored file with one URI a line.
    #[prop(kind = "Any")]
    from: Value,
    /// The local folder written to.
    #[serde(deserialize_with = "de::string_lenient")]
    to: String,
    /// Take only the URIs this expression matches whole.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    reg_exp: Option<String>,
    /// The most files written.
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    #[prop(default = "25")]
    max_files: Option<u64>,
    /// Replace existing files; when false, an existing file fails the task.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "true")]
    overwrite: Option<bool>,
}

/// The file name a URI ends with.
fn last_name(uri: &str) -> &str {
    uri.rsplit('/').next().unwrap_or(uri)
}

/// Streams the stored file `uri` into the local file `target`.
async fn write_local(cx: &RunContext, property: &str, uri: &str, target: &Path) -> Result<u64, TaskError> {
    let path = cx.readable_path(property, uri)?;
    let mut stream =
        cx.services.storage.get(&path).await.map_err(|e| TaskError::failed(format!("cannot read {uri}: {e}")))?;
    let mut file = tokio::fs::File::create(target).await.map_err(|e| io_err("write", target, e))?;
    let n = tokio::io::copy(&mut stream, &mut file).await.map_err(|e| io_err("write", target, e))?;
    file.sync_all().await.map_err(|e| io_err("write", target, e))?;
    Ok(n)
}

#[derive(Debug)]
struct Upload {
    from: String,
    to: Option<String>,
    overwrite: bool,
}

fn build_upload(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: UploadProps = parse_props(props)?;
    if !p.from.starts_with("kestra://") {
        return Err(TaskError::property("from", "'from' must be a Kestra's internal storage URI"));
    }
    Ok(Box::new(Upload { from: p.from, to: p.to, overwrite: p.overwrite.unwrap_or(true) }))
}

#[async_trait]
impl RunnableTask for Upload {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let name = last_name(&self.from).to_string();
        let to = match &self.to {
            Some(t) => t.clone(),
            None => cx.working_dir()?.join(&name).display().to_string(),
        };
        let overwrite = self.overwrite;
        let target = on_disk(cx, move |allowed, _| {
            let mut target = resolve(allowed, &to)?;
            if target.is_dir() {
                target = target.join(&name);
                check(allowed, &target)?;
            }
            if target.exists() && !overwrite {
                return Err(TaskError::failed(format!(
                    "Target file already exists: {}.\nSet 'overwrite: true' to replace the existing file.",
                    target.display()
                )));
            }
            let parent = target.parent().filter(|p| !p.as_os_str().is_empty());
            if let Some(parent) = parent {
                std::fs::create_dir_all(parent).map_err(|e| io_err("create", parent, e))?;
            }
            Ok(target)
        })
        .await?;
        cx.info(&format!("Copying {} to {}", self.from, target.display()));
        let size = write_local(cx, "from", &self.from, &target).await?;
        let mut out = Map::new();
        out.insert("uri".into(), json!(file_uri(&target)));
        out.insert("size".into(), json!(size));
        Ok(TaskOutput::with(out))
    }
}

#[derive(Debug)]
struct Uploads {
    from: Value,
    to: String,
    pattern: Option<regex::Regex>,
    max_files: usize,
    overwrite: bool,
}

fn build_uploads(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: UploadsProps = parse_props(props)?;
    Ok(Box::new(Uploads {
        from: p.from,
        to: p.to,
        pattern: p.reg_exp.as_deref().map(|r| full_match("regExp", r)).transpose()?,
        max_files: usize::try_from(p.max_files.unwrap_or(25)).unwrap_or(usize::MAX),
        overwrite: p.overwrite.unwrap_or(true),
    }))
}

/// A URI and the file name it is written as (its own when `None`).
type Entry = (Option<String>, String);

fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn bounded(entries: Vec<Entry>) -> Result<Vec<Entry>, TaskError> {
    if entries.len() > MAX_LOCAL_FILES {
        return Err(TaskError::property(
            "from",
            format!("lists {} files, more than the {MAX_LOCAL_FILES} Uploads takes (MAX_LOCAL_FILES)", entries.len()),
        ));
    }
    Ok(entries)
}

impl Uploads {
    /// The URIs `from` gives, with their file names.
    async fn entries(&self, cx: &RunContext) -> Result<Vec<Entry>, TaskError> {
        let bad_json = |e: serde_json::Error| TaskError::property("from", format!("is not valid JSON: {e}"));
        match &self.from {
            Value::Object(m) => bounded(m.iter().map(|(k, v)| (Some(k.clone()), as_text(v))).collect()),
            Value::Array(a) => bounded(a.iter().map(|v| (None, as_text(v))).collect()),
            Value::String(s) if s.trim().starts_with('[') && s.trim().ends_with(']') => {
                let uris: Vec<String> = serde_json::from_str(s.trim()).map_err(bad_json)?;
                bounded(uris.into_iter().map(|u| (None, u)).collect())
            }
            Value::String(s) if s.trim().starts_with('{') && s.trim().ends_with('}') => {
                let m: Map<String, Value> = serde_json::from_str(s.trim()).map_err(bad_json)?;
                bounded(m.iter().map(|(k, v)| (Some(k.clone()), as_text(v))).collect())
            }
            Value::String(s) => self.stored_list(cx, s.trim()).await,
            other => Err(TaskError::property("from", format!("must be a list, a map or a URI, not {other}"))),
        }
    }

    /// The URIs of the stored file `uri`, one (Ion or plain text) a line.
    async fn stored_list(&self, cx: &RunContext, uri: &str) -> Result<Vec<Entry>, TaskError> {
        let path = cx.readable_path("from", uri)?;
        let fail = |e: &dyn std::fmt::Display| TaskError::failed(format!("cannot read {uri}: {e}"));
        let stream = cx.services.storage.get(&path).await.map_err(|e| fail(&e))?;
        let mut reader = BufReader::new(stream);
        let (mut entries, mut buf, mut n) = (Vec::new(), Vec::new(), 0usize);
        loop {
            buf.clear();
            let read = (&mut reader).take(MAX_URI_LINE + 1).read_until(b'\n', &mut buf).await.map_err(|e| fail(&e))?;
            if read == 0 {
                return Ok(entries);
            }
            n += 1;
            if buf.last() != Some(&b'\n') && read as u64 > MAX_URI_LINE {
                return Err(fail(&format!("line {n} is longer than {MAX_URI_LINE} bytes")));
            }
            let text = String::from_utf8_lossy(&buf);
            let text = text.trim();
            if text.is_empty() {
                continue;
            }
            let value = ion_text::parse_line(text).unwrap_or_else(|_| Value::String(text.to_string()));
            entries.push((None, cx.render(&as_text(&value))?));
            entries = bounded(entries)?;
        }
    }
}

#[async_trait]
impl RunnableTask for Uploads {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let mut entries = self.entries(cx).await?;
        if let Some(re) = &self.pattern {
            entries.retain(|(_, uri)| re.is_match(uri));
        }
        if entries.len() > self.max_files {
            cx.warn(&format!("Too many files to process ({}), limiting to {}", entries.len(), self.max_files));
            entries.truncate(self.max_files);
        }
        let (to, overwrite) = (self.to.clone(), self.overwrite);
        let names: Vec<String> =
            entries.iter().map(|(name, uri)| name.clone().unwrap_or_else(|| last_name(uri).to_string())).collect();
        let targets: Vec<PathBuf> = on_disk(cx, move |allowed, _| {
            let dir = resolve(allowed, &to)?;
            std::fs::create_dir_all(&dir).map_err(|e| io_err("create", &dir, e))?;
            let mut targets = Vec::with_capacity(names.len());
            for name in names {
                // checked again: a name may climb out with "../"
                let target = normalize(&dir.join(name));
                check(allowed, &target)?;
                if target.exists() && !overwrite {
                    return Err(TaskError::failed(format!(
                        "Target file already exists: {}. Set 'overwrite: true' to replace.",
                        target.display()
                    )));
                }
                targets.push(target);
            }
            Ok(targets)
        })
        .await?;
        let mut files = Vec::with_capacity(targets.len());
        for ((_, uri), target) in entries.iter().zip(&targets) {
            cx.log("DEBUG", &format!("Copying {uri} to {}", target.display()));
            write_local(cx, "from", uri, target).await?;
            files.push(json!(file_uri(target)));
        }
        let mut out = Map::new();
        out.insert("files".into(), Value::Array(files));
        Ok(TaskOutput::with(out))
    }
}

pub static UPLOAD: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<UploadProps>(build_upload));
pub static UPLOADS: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<UploadsProps>(build_uploads));
