//! Kestra 2.0's `core.flow.Loop`: its tasks once per value of a list, a
//! map or a file, with declared per-iteration outputs and `breakWhen`.
//! The executor's rule: `baton-executor`'s `blocks::loops`.

use std::sync::Arc;

use baton_derive::Declare;
use serde::Deserialize;
use serde_json::Value;

use super::{ChildTasks, LOOP_TYPE, lenient};

/// Run tasks once per value (Kestra 2.0).
///
/// Kestra 2.0's loop: children read `{{ item.value }}`, `{{ item.index }}` and `{{ item.key }}`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Declare)]
#[serde(rename_all = "camelCase", default)]
#[plugin(
    type = LOOP_TYPE,
    example = "id: loop\ntype: io.kestra.plugin.core.flow.Loop\nvalues: [\"a\", \"b\"]\ntasks:\n  - id: show\n    type: io.kestra.plugin.core.log.Log\n    message: \"{{ item.value }}\"\n"
)]
pub struct Loop {
    /// The child tasks.
    #[serde(skip)]
    #[prop(children, required, kind = "List")]
    pub tasks: ChildTasks,
    /// The values to loop over: a list, a map, a JSON string or a kestra:// file of lines.
    #[serde(deserialize_with = "lenient::present_shared")]
    #[prop(required)]
    pub values: Option<Arc<Value>>,
    /// How many iterations run at once (0: all).
    #[serde(deserialize_with = "lenient::count")]
    #[prop(default = "0", fixed)]
    pub concurrency_limit: Option<usize>,
    /// Fail the Loop when an iteration fails (otherwise a failed iteration is counted and the Loop goes on).
    #[serde(deserialize_with = "lenient::flag")]
    pub transmit_failed: Option<bool>,
    /// Outputs each iteration declares (a list of {id, value, type}), read with loopOutputs().
    #[serde(deserialize_with = "lenient::list")]
    pub outputs: Vec<Value>,
    /// FETCH keeps each iteration's outputs inline; STORE writes them to an internal-storage file (10 MiB at most) and gives its uri; AUTO (default) stores when values is a kestra:// file, else fetches.
    #[serde(deserialize_with = "lenient::opt_scalar")]
    #[prop(kind = "String")]
    pub fetch_type: Option<String>,
    /// Rendered after each iteration (with item, iteration.state, iteration.outputs): when truthy no other iteration starts.
    #[serde(deserialize_with = "lenient::opt_scalar")]
    #[prop(kind = "String")]
    pub break_when: Option<String>,
}

impl Loop {
    /// The values as written (shared with the flow, not copied).
    pub fn raw_values(&self) -> Arc<Value> {
        self.values.clone().unwrap_or_else(|| Arc::new(Value::Null))
    }

    /// Kestra's `transmitFailed` (default true).
    pub fn transmits_failed(&self) -> bool {
        self.transmit_failed.unwrap_or(true)
    }
}
