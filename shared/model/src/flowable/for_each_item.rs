//! `core.flow.ForEachItem`: a subflow execution per batch of a file's
//! items. The flow loader gives it three internal children
//! (`crate::for_each_item`); the executor's rule for them is
//! `baton-executor`'s `blocks::for_each_item`.

use baton_derive::Declare;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{SubflowTarget, lenient};

/// Run a subflow per batch of a file's items.
///
/// Splits a file of items into batches and starts the subflow once per batch, with the batch as an input file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Declare)]
#[serde(rename_all = "camelCase", default)]
#[plugin(
    type = "io.kestra.plugin.core.flow.ForEachItem",
    aliases = ["io.kestra.core.tasks.flows.ForEachItem"],
    example = "id: per_batch\ntype: io.kestra.plugin.core.flow.ForEachItem\nitems: \"{{ outputs.report.uri }}\"\nbatch:\n  rows: 100\nnamespace: company.team\nflowId: process_batch\ninputs:\n  file: \"{{ taskrun.items }}\"\n",
    outputs(
        numberOfBatches(Integer, "How many batches were made."),
        subflowOutputs(String, "A file of the subflow executions' outputs.")
    )
)]
pub struct ForEachItem {
    /// The file of items to split into batches (a kestra:// URI).
    #[serde(deserialize_with = "lenient::opt_scalar")]
    #[prop(kind = "String", required)]
    pub items: Option<String>,
    /// How to batch items: {rows, bytes, partitions, separator}.
    #[serde(deserialize_with = "lenient::object")]
    #[prop(fixed)]
    pub batch: Option<Map<String, Value>>,
    #[serde(flatten)]
    pub target: SubflowTarget,
}
