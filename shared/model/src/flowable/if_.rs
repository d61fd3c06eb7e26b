//! `core.flow.If`: `then` or `else` by a rendered condition. The
//! executor's rule: `baton-executor`'s `blocks` (`if_`).

use baton_derive::Declare;
use serde::Deserialize;

use super::{ChildTasks, lenient};

/// Run tasks when a condition holds.
///
/// Renders `condition`; runs `then` when it is true, else `else`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Declare)]
#[serde(rename_all = "camelCase", default)]
#[plugin(
    type = "io.kestra.plugin.core.flow.If",
    aliases = ["io.kestra.core.tasks.flows.If"],
    example = "id: check\ntype: io.kestra.plugin.core.flow.If\ncondition: \"{{ execution.state == 'RUNNING' }}\"\nthen:\n  - id: yes\n    type: io.kestra.plugin.core.log.Log\n    message: running\n"
)]
pub struct If {
    /// A template rendering true or false.
    #[serde(deserialize_with = "lenient::scalar")]
    #[prop(required)]
    pub condition: String,
    /// Tasks run when the condition is true.
    #[serde(skip)]
    #[prop(children, required, kind = "List")]
    pub then: ChildTasks,
    /// Tasks run when it is false.
    #[serde(skip)]
    #[prop(children, kind = "List")]
    pub r#else: ChildTasks,
}
