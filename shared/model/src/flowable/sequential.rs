//! `core.flow.Sequential`: its tasks in order. The executor's rule:
//! `baton-executor`'s `blocks` (`children`).

use baton_derive::Declare;
use serde::Deserialize;

use super::ChildTasks;

/// Run tasks one after another.
///
/// Groups tasks that run in order; the group fails when one fails.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Declare)]
#[serde(rename_all = "camelCase", default)]
#[plugin(
    type = "io.kestra.plugin.core.flow.Sequential",
    aliases = ["io.kestra.core.tasks.flows.Sequential"],
    example = "id: steps\ntype: io.kestra.plugin.core.flow.Sequential\ntasks:\n  - id: first\n    type: io.kestra.plugin.core.log.Log\n    message: one\n"
)]
pub struct Sequential {
    /// The child tasks.
    #[serde(skip)]
    #[prop(children, required, kind = "List")]
    pub tasks: ChildTasks,
}
