//! `io.kestra.plugin.fs.local.List`: the regular files of folder `from`
//! (its children, or every depth with `recursive`) whose path, as walked
//! from `from`, `regExp` matches whole; ordered by `sort`, then cut to
//! `maxFiles` (25) with a warning. Outputs `files` (Kestra's local `File`:
//! uri, localPath, name, parent, size, created/modified/accessed dates,
//! directory) and `count`. [`Listing`] is also what `Downloads` lists with.

use std::fs::Metadata;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::SystemTime;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::paths::{file_uri, resolve};
use super::{Journal, full_match, on_disk, walk};
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// The orders `sort` takes.
const SORTS: [&str; 5] = ["NONE", "LAST_MODIFIED_ASC", "LAST_MODIFIED_DESC", "NAME_ASC", "NAME_DESC"];

/// List local files.
///
/// Lists the regular files of a local folder that lies in the folders BATON_LOCAL_ALLOWED_PATHS allows.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.fs.local.List",
    group = "core",
    example = "id: list\ntype: io.kestra.plugin.fs.local.List\nfrom: /data/files\nregExp: \".*\\\\.csv$\"\nrecursive: true\n",
    outputs(
        files(
            List,
            "The files found: {uri, localPath, name, parent, size, createdDate, modifiedDate, accessedDate, directory}."
        ),
        count(Integer, "How many files were found (at most maxFiles).")
    )
)]
pub(super) struct ListProps {
    /// The folder to list.
    #[serde(deserialize_with = "de::string_lenient")]
    from: String,
    #[serde(flatten)]
    listing: ListingProps,
    /// The order before maxFiles cuts: NONE (the walk's), LAST_MODIFIED_ASC, LAST_MODIFIED_DESC, NAME_ASC or NAME_DESC.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(values = ["NONE", "LAST_MODIFIED_ASC", "LAST_MODIFIED_DESC", "NAME_ASC", "NAME_DESC"], default = "\"NONE\"")]
    sort: Option<String>,
}

/// What List and Downloads take of a folder's files, `#[serde(flatten)]`ed
/// into their properties.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
pub(super) struct ListingProps {
    /// Keep only the files whose path (as walked from `from`) this expression matches whole.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    reg_exp: Option<String>,
    /// Also take the files of every sub-folder.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "false")]
    recursive: Option<bool>,
    /// The most files taken (the first ones, after sorting).
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    #[prop(default = "25")]
    max_files: Option<u64>,
}

/// A checked listing: what List runs and Downloads lists with.
#[derive(Debug, Clone)]
pub(super) struct Listing {
    from: String,
    pattern: Option<regex::Regex>,
    recursive: bool,
    max_files: usize,
    sort: &'static str,
}

impl Listing {
    /// The listing of folder `from` that `p` describes (sort NONE).
    pub(super) fn new(from: String, p: &ListingProps) -> Result<Listing, TaskError> {
        Ok(Listing {
            from,
            pattern: p.reg_exp.as_deref().map(|r| full_match("regExp", r)).transpose()?,
            recursive: p.recursive.unwrap_or(false),
            max_files: usize::try_from(p.max_files.unwrap_or(25)).unwrap_or(usize::MAX),
            sort: "NONE",
        })
    }

    /// The files, ordered and cut to `maxFiles`.
    pub(super) fn files(&self, allowed: &[PathBuf], j: &mut Journal) -> Result<Vec<(PathBuf, Metadata)>, TaskError> {
        let dir = resolve(allowed, &self.from)?;
        if !dir.exists() {
            return Err(TaskError::failed(format!("Source path does not exist: {}", dir.display())));
        }
        let mut files =
            walk(&dir, self.recursive, |p| self.pattern.as_ref().is_none_or(|re| re.is_match(&p.to_string_lossy())))?;
        let name = |f: &(PathBuf, Metadata)| f.0.file_name().map(|n| n.to_os_string());
        let modified = |f: &(PathBuf, Metadata)| f.1.modified().ok();
        match self.sort {
            "LAST_MODIFIED_ASC" => files.sort_by_key(modified),
            "LAST_MODIFIED_DESC" => files.sort_by_key(|f| std::cmp::Reverse(modified(f))),
            "NAME_ASC" => files.sort_by_key(name),
            "NAME_DESC" => files.sort_by_key(|f| std::cmp::Reverse(name(f))),
            _ => {}
        }
        if files.len() > self.max_files {
            j.warn(format!("Too many files to process ({}), limiting to {}", files.len(), self.max_files));
            files.truncate(self.max_files);
        }
        Ok(files)
    }
}

/// Kestra's local `File` model of `path`.
pub(super) fn file_json(path: &Path, meta: &Metadata) -> Value {
    let date = |t: std::io::Result<SystemTime>| {
        t.ok().map(|t| chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
    };
    let modified = date(meta.modified());
    json!({
        "uri": file_uri(path),
        "localPath": file_uri(path),
        "name": path.file_name().map(|n| n.to_string_lossy().into_owned()),
        "parent": path.parent().map(|p| p.display().to_string()),
        "size": meta.len(),
        "createdDate": date(meta.created()).or_else(|| modified.clone()),
        "modifiedDate": modified,
        "accessedDate": date(meta.accessed()),
        "directory": meta.is_dir(),
    })
}

#[derive(Debug)]
struct List(Listing);

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: ListProps = parse_props(props)?;
    let mut listing = Listing::new(p.from, &p.listing)?;
    if let Some(s) = p.sort.as_deref() {
        listing.sort = SORTS
            .into_iter()
            .find(|k| k.eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| TaskError::property("sort", format!("'{s}' is not one of {}", SORTS.join(", "))))?;
    }
    Ok(Box::new(List(listing)))
}

#[async_trait]
impl RunnableTask for List {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let listing = self.0.clone();
        let files = on_disk(cx, move |allowed, j| listing.files(allowed, j)).await?;
        let mut out = Map::new();
        out.insert("count".into(), json!(files.len()));
        out.insert("files".into(), Value::Array(files.iter().map(|(p, m)| file_json(p, m)).collect()));
        Ok(TaskOutput::with(out))
    }
}

pub static LIST: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<ListProps>(build));
