//! `io.kestra.plugin.fs.local.Delete`: removes a file, an empty folder, or
//! with `recursive` a folder and all it holds; with `regExp`, the regular
//! files of folder `from` (its children, or every depth when `recursive`)
//! whose absolute path matches whole. A missing `from` is no error unless
//! `errorOnMissing`. Outputs `uri` (the path deleted, or the folder
//! searched), `deleted`, and `uris` (the files `regExp` deleted).

use std::path::Path;
use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::paths::{absolute, file_uri, resolve};
use super::{Journal, full_match, io_err, on_disk, walk};
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// Delete a local file or folder.
///
/// Removes `from` (a folder with its content only with `recursive`), or the files under it that `regExp` matches; the path must lie in the folders BATON_LOCAL_ALLOWED_PATHS allows.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.fs.local.Delete",
    group = "core",
    example = "id: delete\ntype: io.kestra.plugin.fs.local.Delete\nfrom: /data/uploads/file.txt\n",
    outputs(
        uri(String, "The file:// URI of the path deleted, or of the folder searched with regExp."),
        deleted(Boolean, "Whether something was deleted."),
        uris(List, "The file:// URIs of the files deleted with regExp.")
    )
)]
struct Props {
    /// The local path to delete (with regExp: the folder to search).
    #[serde(deserialize_with = "de::string_lenient")]
    from: String,
    /// Fail when `from` does not exist.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "false")]
    error_on_missing: Option<bool>,
    /// Delete a folder with everything in it; with regExp, search every depth.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "false")]
    recursive: Option<bool>,
    /// Delete only the regular files under folder `from` whose absolute path this expression matches whole.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    reg_exp: Option<String>,
}

#[derive(Debug)]
struct Delete {
    from: String,
    error_on_missing: bool,
    recursive: bool,
    pattern: Option<regex::Regex>,
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    Ok(Box::new(Delete {
        from: p.from,
        error_on_missing: p.error_on_missing.unwrap_or(false),
        recursive: p.recursive.unwrap_or(false),
        pattern: p.reg_exp.as_deref().map(|r| full_match("regExp", r)).transpose()?,
    }))
}

#[async_trait]
impl RunnableTask for Delete {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let (from, missing_fails, recursive, pattern) =
            (self.from.clone(), self.error_on_missing, self.recursive, self.pattern.clone());
        let (uri, deleted, uris) = on_disk(cx, move |allowed, j| {
            let path = resolve(allowed, &from)?;
            let uri = file_uri(&path);
            if !path.exists() {
                let what = if pattern.is_some() { "Directory" } else { "File" };
                if missing_fails {
                    return Err(TaskError::failed(format!(
                        "{} does not exist '{}'. To avoid this error, configure `errorOnMissing: false` in your configuration.",
                        what,
                        path.display()
                    )));
                }
                j.debug(format!("{what} doesn't exist '{}'", path.display()));
                return Ok((uri, false, Vec::new()));
            }
            match pattern {
                Some(re) => delete_matching(&path, &re, recursive, j).map(|uris| (uri, !uris.is_empty(), uris)),
                None => delete_path(&path, recursive, j).map(|deleted| (uri, deleted, Vec::new())),
            }
        })
        .await?;
        let mut out = Map::new();
        out.insert("uri".into(), json!(uri));
        out.insert("deleted".into(), json!(deleted));
        out.insert("uris".into(), json!(uris));
        Ok(TaskOutput::with(out))
    }
}

/// Deletes `path`; a folder with its content when `recursive` (false when
/// that fails part way, as Kestra's).
pub(super) fn delete_path(path: &Path, recursive: bool, j: &mut Journal) -> Result<bool, TaskError> {
    if path.is_dir() && recursive {
        let done = std::fs::remove_dir_all(path).is_ok();
        j.debug(format!("Deleted directory '{}'", path.display()));
        return Ok(done);
    }
    let gone = if path.is_dir() && !path.is_symlink() { std::fs::remove_dir(path) } else { std::fs::remove_file(path) };
    gone.map_err(|e| io_err("delete", path, e))?;
    j.debug(format!("Deleted file '{}'", path.display()));
    Ok(true)
}

/// Deletes the regular files under `dir` whose absolute path `re` matches;
/// their URIs.
fn delete_matching(dir: &Path, re: &regex::Regex, recursive: bool, j: &mut Journal) -> Result<Vec<String>, TaskError> {
    let matched = walk(dir, recursive, |p| re.is_match(&absolute(p).to_string_lossy()))?;
    j.warn(format!(
        "Deleting {} file(s) matching regExp '{}' under '{}'",
        matched.len(),
        unanchored(re),
        dir.display()
    ));
    let mut uris = Vec::with_capacity(matched.len());
    for (file, _) in matched {
        let uri = file_uri(&file);
        std::fs::remove_file(&file).map_err(|e| io_err("delete", &file, e))?;
        uris.push(uri);
    }
    Ok(uris)
}

/// The expression as written (without the anchors [`full_match`] adds).
fn unanchored(re: &regex::Regex) -> &str {
    let s = re.as_str();
    s.strip_prefix("^(?:").and_then(|s| s.strip_suffix(")$")).unwrap_or(s)
}

pub static DELETE: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));
