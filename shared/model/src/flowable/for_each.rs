//! `core.flow.ForEach` and Kestra's older `EachSequential` and
//! `EachParallel`: their tasks once per value. The executor's rule:
//! `baton-executor`'s `blocks` (`for_each`) and `blocks::concurrent`.

use std::sync::Arc;

use baton_derive::Declare;
use serde::Deserialize;
use serde_json::Value;

use super::{ChildTasks, lenient};

/// Run tasks once per value.
///
/// Runs its tasks for each value; children read `{{ taskrun.value }}`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Declare)]
#[serde(rename_all = "camelCase", default)]
#[plugin(
    type = "io.kestra.plugin.core.flow.ForEach",
    aliases = ["io.kestra.core.tasks.flows.ForEach"],
    example = "id: each\ntype: io.kestra.plugin.core.flow.ForEach\nvalues: [\"a\", \"b\"]\nconcurrencyLimit: 2\ntasks:\n  - id: show\n    type: io.kestra.plugin.core.log.Log\n    message: \"{{ taskrun.value }}\"\n"
)]
pub struct ForEach {
    /// The child tasks.
    #[serde(skip)]
    #[prop(children, required, kind = "List")]
    pub tasks: ChildTasks,
    /// The values to loop over: a list, or a JSON list as a string.
    #[serde(deserialize_with = "lenient::present_shared")]
    pub values: Option<Arc<Value>>,
    /// The older name of `values`.
    #[serde(deserialize_with = "lenient::present_shared")]
    pub value: Option<Arc<Value>>,
    /// How many iterations run at once (0: all, 1: one after another).
    #[serde(deserialize_with = "lenient::count")]
    #[prop(default = "1", fixed)]
    pub concurrency_limit: Option<usize>,
    /// How many children run at once (0: all).
    #[serde(deserialize_with = "lenient::count")]
    #[prop(default = "0", fixed)]
    pub concurrent: Option<usize>,
}

impl ForEach {
    /// The values as written: `values`, else the older `value` (shared
    /// with the flow, not copied).
    pub fn raw_values(&self) -> Arc<Value> {
        self.values.clone().or_else(|| self.value.clone()).unwrap_or_else(|| Arc::new(Value::Null))
    }
}

/// Run tasks once per value, in order (deprecated).
///
/// Kestra's older ForEach with one iteration at a time.
#[derive(Declare)]
#[plugin(
    type = "io.kestra.plugin.core.flow.EachSequential",
    aliases = ["io.kestra.core.tasks.flows.EachSequential"],
    props = ForEach,
    example = "id: each\ntype: io.kestra.plugin.core.flow.EachSequential\nvalue: [\"a\", \"b\"]\ntasks:\n  - id: show\n    type: io.kestra.plugin.core.log.Log\n    message: \"{{ taskrun.value }}\"\n"
)]
pub struct EachSequential;

/// Run tasks once per value, together (deprecated).
///
/// Kestra's older ForEach with the iterations in parallel.
#[derive(Declare)]
#[plugin(
    type = "io.kestra.plugin.core.flow.EachParallel",
    aliases = ["io.kestra.core.tasks.flows.EachParallel"],
    props = ForEach,
    example = "id: each\ntype: io.kestra.plugin.core.flow.EachParallel\nvalue: [\"a\", \"b\"]\ntasks:\n  - id: show\n    type: io.kestra.plugin.core.log.Log\n    message: \"{{ taskrun.value }}\"\n"
)]
pub struct EachParallel;
