//! `core.flow.Parallel`: its tasks at once, at most `concurrent`. The
//! executor's rule: `baton-executor`'s `blocks::concurrent`.

use baton_derive::Declare;
use serde::Deserialize;

use super::{ChildTasks, lenient};

/// Run tasks at the same time.
///
/// Starts its child tasks together, at most `concurrent` at once.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Declare)]
#[serde(rename_all = "camelCase", default)]
#[plugin(
    type = "io.kestra.plugin.core.flow.Parallel",
    aliases = ["io.kestra.core.tasks.flows.Parallel"],
    example = "id: fan_out\ntype: io.kestra.plugin.core.flow.Parallel\nconcurrent: 2\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: a\n  - id: b\n    type: io.kestra.plugin.core.log.Log\n    message: b\n"
)]
pub struct Parallel {
    /// The child tasks.
    #[serde(skip)]
    #[prop(children, required, kind = "List")]
    pub tasks: ChildTasks,
    /// How many children run at once (0: all).
    #[serde(deserialize_with = "lenient::count")]
    #[prop(default = "0", fixed)]
    pub concurrent: Option<usize>,
}
