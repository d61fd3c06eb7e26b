//! `io.kestra.plugin.gcp.gcs.List` and the listing `DeleteList` shares:
//! objects under `from` (`gs://bucket/prefix`), one level (`listingType:
//! DIRECTORY`, the default, "directories" included) or all of them
//! (`RECURSIVE`), kept when `regExp` matches the whole `gs://` URI.
//! `filter` FILES / DIRECTORY / BOTH (default), `maxFiles`, `allVersions`.
//! Output `blobs` (Kestra's Blob model).

use std::sync::LazyLock;

use async_trait::async_trait;
use regex::Regex;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::super::common::{GcpProps, gcs_error, one_of, parse_gs};
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};
use baton_gcp::gcs::GcsClient;

/// What to list, shared with `DeleteList`.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
pub struct ListProps {
    /// Where to read from (a gs:// URI or a kestra:// file).
    #[serde(deserialize_with = "de::string_lenient")]
    pub from: String,
    /// Only objects whose path matches this regular expression.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    pub reg_exp: Option<String>,
    /// List one folder, or recursively.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(values = ["DIRECTORY", "RECURSIVE"], default = "\"DIRECTORY\"")]
    pub listing_type: Option<String>,
    /// Include older versions of objects.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "false")]
    pub all_versions: Option<bool>,
}

/// A checked listing.
#[derive(Debug)]
pub struct Listing {
    pub bucket: String,
    pub prefix: String,
    regexp: Option<Regex>,
    recursive: bool,
    versions: bool,
}

/// One listed entry: the Kestra Blob and whether it is a "directory".
pub struct Entry {
    pub blob: Value,
    pub directory: bool,
    pub size: u64,
}

impl ListProps {
    pub fn check(&self) -> Result<Listing, TaskError> {
        let (bucket, prefix) = parse_gs("from", &self.from)?;
        let regexp = match self.reg_exp.as_deref().filter(|r| !r.is_empty()) {
            Some(r) => Some(
                Regex::new(&format!("^(?:{r})$"))
                    .map_err(|e| TaskError::property("regExp", format!("invalid regular expression: {e}")))?,
            ),
            None => None,
        };
        let recursive =
            one_of("listingType", &self.listing_type, &["DIRECTORY", "RECURSIVE"])?.as_deref() == Some("RECURSIVE");
        Ok(Listing { bucket, prefix, regexp, recursive, versions: self.all_versions.unwrap_or(false) })
    }
}

impl Listing {
    /// Every entry, in listing order, filtered by `regExp`.
    pub async fn entries(&self, gcs: &GcsClient) -> Result<Vec<Entry>, TaskError> {
        let delimiter = (!self.recursive).then_some("/");
        let page = gcs.list_all(&self.bucket, &self.prefix, delimiter, self.versions).await.map_err(gcs_error)?;
        let mut out = Vec::new();
        for o in &page.items {
            let blob = super::blob::from_object(o);
            let size = blob["size"].as_u64().unwrap_or(0);
            let directory = blob["directory"].as_bool().unwrap_or(false);
            out.push(Entry { blob, directory, size });
        }
        for p in &page.prefixes {
            out.push(Entry { blob: super::blob::from_prefix(&self.bucket, p), directory: true, size: 0 });
        }
        Ok(out
            .into_iter()
            .filter(|e| self.regexp.as_ref().is_none_or(|r| r.is_match(e.blob["uri"].as_str().unwrap_or_default())))
            .collect())
    }
}

/// List GCS objects.
///
/// Lists the objects under a gs:// prefix.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.gcp.gcs.List",
    group = "gcp",
    example = "id: ls\ntype: io.kestra.plugin.gcp.gcs.List\nfrom: gs://my-bucket/trips/\nregExp: \".*\\\\.csv$\"\n",
    outputs(blobs(List, "The objects: {uri, name, size, updated…}."))
)]
struct Props {
    #[serde(flatten)]
    gcp: GcpProps,
    #[serde(flatten)]
    list: ListProps,
    /// Only files, only directories, or both.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(values = ["FILES", "DIRECTORY", "BOTH"], default = "\"BOTH\"")]
    filter: Option<String>,
    /// Fail above this many objects.
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    #[prop(default = "25")]
    max_files: Option<u64>,
}

struct List {
    gcp: GcpProps,
    listing: Listing,
    filter: String,
    max_files: Option<u64>,
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    let listing = p.list.check()?;
    let filter = one_of("filter", &p.filter, &["FILES", "DIRECTORY", "BOTH"])?.unwrap_or_else(|| "BOTH".into());
    Ok(Box::new(List { gcp: p.gcp, listing, filter, max_files: p.max_files }))
}

#[async_trait]
impl RunnableTask for List {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let r = self.gcp.resolve(cx)?;
        let gcs = r.gcs(cx)?;
        let mut blobs: Vec<Value> = self
            .listing
            .entries(&gcs)
            .await?
            .into_iter()
            .filter(|e| match self.filter.as_str() {
                "FILES" => !e.directory,
                "DIRECTORY" => e.directory,
                _ => true,
            })
            .map(|e| e.blob)
            .collect();
        if let Some(max) = self.max_files
            && blobs.len() as u64 > max
        {
            cx.warn(&format!(
                "Listing returned more than {max} files. Only the first {max} files will be returned. \
                 Increase the maxFiles property if you need more files."
            ));
            blobs.truncate(max as usize);
        }
        cx.info(&format!("Found {} blobs from 'gs://{}/{}'", blobs.len(), self.listing.bucket, self.listing.prefix));
        let mut out = Map::new();
        out.insert("blobs".into(), Value::Array(blobs));
        Ok(TaskOutput::with(out))
    }
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));
