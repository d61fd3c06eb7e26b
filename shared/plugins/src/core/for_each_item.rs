//! The worker side of a ForEachItem (`model::for_each_item`): its `_split`
//! task splits `items` into batch files (`core::split`, one row a batch
//! unless `batch` says otherwise) and outputs Kestra's `splits` (a file
//! listing the batches' URIs) with `numberOfBatches` and `batchUri` (the
//! batches' URI with `{iteration}` for the index: what the executor hands
//! each subflow as `taskrun.items`, without reading the list); its
//! `_merge` task joins the Ion outputs the batches' subflows left under
//! the `_items` task run into one file, `subflowOutputs` (none when no
//! subflow had outputs). Both stream: memory stays bounded.

use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};
use tokio::io::AsyncReadExt;

use super::split::{SplitOptions, SplitSpec, extension_of, split};
use crate::jdbc::fetch::StoreSink;
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// Split the items of a ForEachItem into batches.
///
/// The first of a ForEachItem's internal tasks (never written in a flow): cuts `items` into batches and lists them.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(type = baton_model::for_each_item::SPLIT_TYPE, group = "core")]
struct SplitProps {
    /// The file of items (kestra:// URI).
    #[serde(default)]
    #[prop(kind = "String", required)]
    items: Option<Value>,
    /// Rows per batch.
    #[serde(default)]
    #[prop(kind = "Integer")]
    rows: Option<Value>,
    /// Bytes per batch.
    #[serde(default)]
    #[prop(kind = "String")]
    bytes: Option<Value>,
    /// The number of batches.
    #[serde(default)]
    #[prop(kind = "Integer")]
    partitions: Option<Value>,
    /// The row separator.
    #[serde(default)]
    #[prop(kind = "String")]
    separator: Option<Value>,
    /// Rows matching this regular expression start a new batch.
    #[serde(default)]
    #[prop(kind = "String")]
    regex_pattern: Option<Value>,
}

/// `ForEachItem$ForEachItemSplit`.
#[derive(Debug)]
pub struct ItemsSplit {
    items: String,
    spec: SplitSpec,
}

fn build_split(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: SplitProps = parse_props(props)?;
    let items = p.items.as_ref().filter(|v| !v.is_null()).map(de::value_to_string).unwrap_or_default();
    let options = SplitOptions {
        bytes: p.bytes.as_ref(),
        partitions: p.partitions.as_ref(),
        rows: p.rows.as_ref(),
        separator: p.separator.as_ref(),
        regex_pattern: p.regex_pattern.as_ref(),
    };
    Ok(Box::new(ItemsSplit { items, spec: SplitSpec::from_options(options, Some(1))? }))
}

#[async_trait]
impl RunnableTask for ItemsSplit {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let uri = self.items.trim();
        if !uri.starts_with("kestra://") {
            return Err(TaskError::failed(format!(
                "Unable to split the items from {uri}, this is not an internal storage URI!"
            )));
        }
        let uris = split(cx, "items", uri, &self.spec).await?;
        let listing = uris.iter().map(String::as_str).collect::<Vec<_>>().join("\n");
        let (splits, _) = cx.put_file("splits.txt", Box::pin(std::io::Cursor::new(listing.into_bytes()))).await?;
        cx.info(&format!("Split {uri} into {} batch(es)", uris.len()));
        let mut out = Map::new();
        out.insert("splits".into(), splits.into());
        out.insert("numberOfBatches".into(), uris.len().into());
        let pattern = format!("kestra://{}/{{iteration}}{}", cx.task_prefix(), extension_of(uri));
        out.insert("batchUri".into(), pattern.into());
        Ok(TaskOutput::with(out))
    }
}

pub static SPLIT: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<SplitProps>(build_split));

/// Merge the outputs of a ForEachItem's subflows.
///
/// The last of a ForEachItem's internal tasks (never written in a flow): concatenates the outputs each batch's subflow wrote.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(type = baton_model::for_each_item::MERGE_TYPE, group = "core")]
struct MergeProps {
    /// How many batches ran.
    #[serde(default)]
    #[prop(kind = "Integer")]
    number_of_batches: Option<Value>,
    /// Where the batches' subflows wrote their outputs.
    #[serde(default)]
    #[prop(kind = "String")]
    subflow_outputs_base: Option<Value>,
}

/// `ForEachItem$ForEachItemMergeOutputs`.
#[derive(Debug)]
pub struct MergeOutputs {
    batches: u64,
    base: String,
}

fn build_merge(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: MergeProps = parse_props(props)?;
    let batches = p.number_of_batches.as_ref().map(de::value_to_string).and_then(|s| s.parse().ok()).unwrap_or(0);
    let base = p.subflow_outputs_base.as_ref().map(de::value_to_string).unwrap_or_default();
    Ok(Box::new(MergeOutputs { batches, base }))
}

#[async_trait]
impl RunnableTask for MergeOutputs {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let base = cx.readable_path("subflowOutputsBase", &self.base)?;
        let storage = &cx.services.storage;
        let fail = |p: &str, e: baton_backend::BackendError| TaskError::failed(format!("cannot read {p}: {e}"));
        let mut sink: Option<StoreSink> = None;
        let mut buf = Vec::new();
        for i in 0..self.batches {
            let path = format!("{base}/{i}/outputs.ion");
            if storage.size(&path).await.map_err(|e| fail(&path, e))?.is_none() {
                continue;
            }
            buf.clear();
            let mut s = storage.get(&path).await.map_err(|e| fail(&path, e))?;
            s.read_to_end(&mut buf).await.map_err(|e| TaskError::failed(format!("cannot read {path}: {e}")))?;
            if !buf.ends_with(b"\n") {
                buf.push(b'\n');
            }
            sink.get_or_insert_with(|| StoreSink::open(cx, "outputs.ion")).write(&buf).await?;
        }
        let Some(sink) = sink else { return Ok(TaskOutput::empty()) };
        let uri = sink.finish().await?;
        Ok(TaskOutput::with(Map::from_iter([("subflowOutputs".into(), uri.into())])))
    }
}

pub static MERGE: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<MergeProps>(build_merge));

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::core::test_support::Env;

    #[tokio::test]
    async fn split_lists_the_batches_and_merge_joins_the_outputs_in_order() {
        let env = Env::new();
        let src = "/company/team/my-flow/executions/exec1/inputs/file/items.ion";
        env.storage.insert(src, "{a:1}\n{a:2}\n{a:3}\n").unwrap();
        let out = env.run(&SPLIT, json!({"items": format!("kestra://{src}"), "rows": 2})).await.unwrap().outputs;
        assert_eq!(out["numberOfBatches"], 2);
        let pattern = out["batchUri"].as_str().unwrap();
        assert!(pattern.ends_with("/{iteration}.ion"), "{pattern}");
        let second = baton_model::for_each_item::batch_uri(pattern, 1);
        assert_eq!(env.storage.bytes(second.strip_prefix("kestra://").unwrap()).unwrap(), b"{a:3}\n");
        let listing = env.storage.bytes(out["splits"].as_str().unwrap().strip_prefix("kestra://").unwrap()).unwrap();
        assert_eq!(String::from_utf8(listing).unwrap().lines().nth(1), Some(second.as_str()));
        // not an internal-storage URI
        let e = env.run(&SPLIT, json!({"items": "/tmp/x.csv"})).await.unwrap_err().to_string();
        assert!(e.contains("not an internal storage URI"), "{e}");

        let base = "/company/team/my-flow/executions/exec1/tasks/each_items/tr9";
        let merge = |n: u64| json!({"numberOfBatches": n, "subflowOutputsBase": format!("kestra://{base}")});
        assert!(env.run(&MERGE, merge(3)).await.unwrap().outputs.is_empty());
        env.storage.insert(&format!("{base}/2/outputs.ion"), "{\"v\":2}\n").unwrap();
        env.storage.insert(&format!("{base}/0/outputs.ion"), "{\"v\":0}").unwrap();
        let out = env.run(&MERGE, merge(3)).await.unwrap().outputs;
        let uri = out["subflowOutputs"].as_str().unwrap().strip_prefix("kestra://").unwrap().to_string();
        assert_eq!(String::from_utf8(env.storage.bytes(&uri).unwrap()).unwrap(), "{\"v\":0}\n{\"v\":2}\n");
    }
}
