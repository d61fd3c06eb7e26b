//! `core.flow.Switch`: the tasks of the case a rendered value names. The
//! executor's rule: `baton-executor`'s `blocks` (`switch`).

use baton_derive::Declare;
use serde::Deserialize;

use super::{ChildTasks, lenient};

/// Run the tasks of the matching case.
///
/// Renders `value` and runs the tasks of the case with that key, or `defaults`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Declare)]
#[serde(rename_all = "camelCase", default)]
#[plugin(
    type = "io.kestra.plugin.core.flow.Switch",
    aliases = ["io.kestra.core.tasks.flows.Switch"],
    example = "id: route\ntype: io.kestra.plugin.core.flow.Switch\nvalue: \"{{ flow.namespace }}\"\ncases:\n  prod:\n    - id: p\n      type: io.kestra.plugin.core.log.Log\n      message: production\ndefaults:\n  - id: other\n    type: io.kestra.plugin.core.log.Log\n    message: elsewhere\n",
    outputs(value(String, "The rendered value."))
)]
pub struct Switch {
    /// The template whose rendering picks the case.
    #[serde(deserialize_with = "lenient::scalar")]
    #[prop(required)]
    pub value: String,
    /// Case key → tasks.
    #[serde(skip)]
    #[prop(children, kind = "Map")]
    pub cases: ChildTasks,
    /// Tasks run when no case matches.
    #[serde(skip)]
    #[prop(children, kind = "List")]
    pub defaults: ChildTasks,
}
