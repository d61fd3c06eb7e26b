//! `io.kestra.plugin.gcp.gcs.Compose`: concatenates the files a listing
//! finds (`list`: `from`, `listingType`, `regExp`, as `List`; only files,
//! whatever `list.filter` says, as in Kestra) into the object `to`, server
//! side, in listing order. Output `uri`; metrics `count` and `size`.
//!
//! Bounds: GCS composes at most [`MAX_SOURCES`] objects in one call —
//! Kestra's listing stops there silently, Baton fails naming the limit
//! rather than compose part of them. The sources must be in `to`'s
//! bucket (GCS's rule; Kestra would compose the same names in `to`'s
//! bucket). With nothing found the task fails unless `allowEmpty`, which
//! writes an empty `to`.

use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::super::common::{GcpProps, gcs_error, parse_gs};
use super::list::{ListProps, Listing};
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};
use baton_gcp::gcs::UploadOptions;

/// GCS's limit on the sources of one compose request.
pub const MAX_SOURCES: usize = 32;

/// The keys `list` takes.
const LIST_KEYS: &[&str] = &["from", "filter", "listingType", "regExp"];

fn list_ok(v: &Value) -> Result<(), String> {
    match v {
        Value::Object(m) => {
            if let Some(k) = m.keys().find(|k| !LIST_KEYS.contains(&k.as_str())) {
                return Err(format!("unknown property '{k}' of list (known: {})", LIST_KEYS.join(", ")));
            }
            if m.get("from").is_none_or(Value::is_null) {
                return Err("list needs 'from' (a gs:// prefix)".into());
            }
            Ok(())
        }
        Value::String(s) if baton_model::expr::is_template(s) => Ok(()),
        other => Err(format!("expected a map {{from, listingType, regExp}}, found {other}")),
    }
}

/// The listing of the sources.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SourceList {
    #[serde(deserialize_with = "de::string_lenient")]
    from: String,
    /// Accepted as in Kestra, where Compose lists files whatever it says.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[allow(dead_code)]
    filter: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    listing_type: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    reg_exp: Option<String>,
}

/// Concatenate GCS objects.
///
/// Composes the files under a gs:// prefix (at most 32) into one object.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.gcp.gcs.Compose",
    group = "gcp",
    example = "id: compose\ntype: io.kestra.plugin.gcp.gcs.Compose\nlist:\n  from: gs://my-bucket/parts/\nto: gs://my-bucket/whole.csv\n",
    outputs(uri(String, "The composed object."))
)]
struct Props {
    #[serde(flatten)]
    gcp: GcpProps,
    /// The sources: {from: gs://bucket/prefix/, listingType: DIRECTORY or RECURSIVE, regExp}.
    #[prop(kind = "Map", check = list_ok)]
    list: Value,
    /// The object to write (a gs:// URI).
    #[serde(deserialize_with = "de::string_lenient")]
    to: String,
    /// Succeed (writing an empty object) when nothing is found.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "false")]
    allow_empty: Option<bool>,
}

struct Compose {
    gcp: GcpProps,
    listing: Listing,
    to: (String, String),
    allow_empty: bool,
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    list_ok(&p.list).map_err(|e| TaskError::property("list", e))?;
    let list: SourceList = serde_json::from_value(p.list).map_err(|e| TaskError::property("list", e.to_string()))?;
    let listing =
        ListProps { from: list.from, reg_exp: list.reg_exp, listing_type: list.listing_type, all_versions: None }
            .check()
            .map_err(|e| TaskError::property("list", e.to_string()))?;
    let to = parse_gs("to", &p.to)?;
    if to.1.is_empty() || to.1.ends_with('/') {
        return Err(TaskError::property("to", format!("'{}' names no object", p.to.trim())));
    }
    if to.0 != listing.bucket {
        return Err(TaskError::property(
            "to",
            format!("GCS composes objects of one bucket: 'to' is in '{}', the sources in '{}'", to.0, listing.bucket),
        ));
    }
    Ok(Box::new(Compose { gcp: p.gcp, listing, to, allow_empty: p.allow_empty.unwrap_or(false) }))
}

#[async_trait]
impl RunnableTask for Compose {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let r = self.gcp.resolve(cx)?;
        let gcs = r.gcs(cx)?;
        let sources: Vec<String> = self
            .listing
            .entries(&gcs)
            .await?
            .into_iter()
            .filter(|e| !e.directory)
            .filter_map(|e| e.blob["name"].as_str().map(str::to_string))
            .collect();
        let from = format!("gs://{}/{}", self.listing.bucket, self.listing.prefix);
        if sources.len() > MAX_SOURCES {
            return Err(TaskError::failed(format!(
                "{} files found under '{from}': GCS composes at most {MAX_SOURCES} objects at once \
                 (narrow list.from or list.regExp)",
                sources.len()
            )));
        }
        let (bucket, name) = (&self.to.0, &self.to.1);
        let uri = super::blob::uri(bucket, name);
        let size = if sources.is_empty() {
            if !self.allow_empty {
                return Err(TaskError::failed(format!("No files founds under '{from}'")));
            }
            let empty: baton_gcp::gcs::Reader = Box::pin(tokio::io::empty());
            gcs.upload(bucket, name, empty, Some(0), &UploadOptions::default()).await.map_err(gcs_error)?;
            0
        } else {
            let o = gcs.compose(bucket, &sources, name).await.map_err(gcs_error)?;
            o["size"].as_str().and_then(|s| s.parse().ok()).or_else(|| o["size"].as_u64()).unwrap_or(0)
        };
        cx.counter("count", sources.len() as f64, &[]);
        cx.counter("size", size as f64, &[]);
        cx.info(&format!("Composed {} files from '{from}' into '{uri}' ({size} bytes)", sources.len()));
        let mut out = Map::new();
        out.insert("uri".into(), Value::String(uri));
        Ok(TaskOutput::with(out))
    }
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));
