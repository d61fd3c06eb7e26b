//! `io.kestra.plugin.gcp.gcs.DeleteList`: deletes every object a listing
//! finds (as `List`, directories skipped), `concurrent` at a time.
//! `errorOnEmpty` fails when nothing matched. Outputs `count` and `size`
//! (bytes deleted).

use std::sync::LazyLock;

use async_trait::async_trait;
use futures::StreamExt;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::super::common::{GcpProps, gcs_error};
use super::list::{ListProps, Listing};
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// Delete GCS objects under a prefix.
///
/// Deletes every object under a gs:// prefix that matches.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.gcp.gcs.DeleteList",
    group = "gcp",
    example = "id: rm_all\ntype: io.kestra.plugin.gcp.gcs.DeleteList\nfrom: gs://my-bucket/tmp/\n",
    outputs(count(Integer, "Objects deleted."), size(Integer, "Bytes deleted."))
)]
struct Props {
    #[serde(flatten)]
    gcp: GcpProps,
    #[serde(flatten)]
    list: ListProps,
    /// Fail when nothing matched.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "false")]
    error_on_empty: Option<bool>,
    /// Deletions run at once.
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    concurrent: Option<u64>,
}

struct DeleteList {
    gcp: GcpProps,
    listing: Listing,
    error_on_empty: bool,
    concurrent: usize,
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    if p.concurrent.is_some_and(|c| c < 2) {
        return Err(TaskError::property("concurrent", "must be at least 2 (leave it out to delete one at a time)"));
    }
    Ok(Box::new(DeleteList {
        gcp: p.gcp,
        listing: p.list.check()?,
        error_on_empty: p.error_on_empty.unwrap_or(false),
        concurrent: p.concurrent.map(|c| c.min(64) as usize).unwrap_or(1),
    }))
}

#[async_trait]
impl RunnableTask for DeleteList {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let r = self.gcp.resolve(cx)?;
        let gcs = r.gcs(cx)?;
        let files: Vec<(String, u64)> = self
            .listing
            .entries(&gcs)
            .await?
            .into_iter()
            .filter(|e| !e.directory)
            .filter_map(|e| e.blob["name"].as_str().map(|n| (n.to_string(), e.size)))
            .collect();
        let bucket = &self.listing.bucket;
        let results: Vec<Result<u64, TaskError>> = futures::stream::iter(files)
            .map(|(name, size)| {
                let gcs = gcs.clone();
                async move {
                    let deleted = gcs.delete_object(bucket, &name).await.map_err(gcs_error)?;
                    Ok(if deleted { size } else { 0 })
                }
            })
            .buffer_unordered(self.concurrent)
            .collect()
            .await;
        let (mut count, mut size) = (0u64, 0u64);
        for r in results {
            size += r?;
            count += 1;
        }
        let from = format!("gs://{}/{}", bucket, self.listing.prefix);
        if self.error_on_empty && count == 0 {
            return Err(TaskError::failed(format!("Unable to find any files to delete on '{from}'")));
        }
        cx.info(&format!("Deleted {count} files for {size} bytes"));
        let mut out = Map::new();
        out.insert("count".into(), Value::from(count));
        out.insert("size".into(), Value::from(size));
        Ok(TaskOutput::with(out))
    }
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));
