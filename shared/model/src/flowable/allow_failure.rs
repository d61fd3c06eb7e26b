//! `core.flow.AllowFailure`: a Sequential whose failure ends it WARNING.
//! The executor's rule: `baton-executor`'s `blocks` (`advance`).

use baton_derive::Declare;
use serde::Deserialize;

use super::ChildTasks;

/// Let tasks fail without failing the execution.
///
/// Runs its tasks in order; a failure among them ends it WARNING.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Declare)]
#[serde(rename_all = "camelCase", default)]
#[plugin(
    type = "io.kestra.plugin.core.flow.AllowFailure",
    aliases = ["io.kestra.core.tasks.flows.AllowFailure"],
    example = "id: best_effort\ntype: io.kestra.plugin.core.flow.AllowFailure\ntasks:\n  - id: may_fail\n    type: io.kestra.plugin.core.execution.Fail\n"
)]
pub struct AllowFailure {
    /// The child tasks.
    #[serde(skip)]
    #[prop(children, required, kind = "List")]
    pub tasks: ChildTasks,
}
