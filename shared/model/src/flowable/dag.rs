//! `core.flow.Dag`: its tasks by their `dependsOn`. The executor's rule:
//! `baton-executor`'s `blocks::dag`.

use baton_derive::Declare;
use serde::Deserialize;

use super::{ChildTasks, lenient};

/// Run tasks by their dependencies.
///
/// Each entry is {task, dependsOn}; a task starts once the tasks it depends on are done.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Declare)]
#[serde(rename_all = "camelCase", default)]
#[plugin(
    type = "io.kestra.plugin.core.flow.Dag",
    aliases = ["io.kestra.core.tasks.flows.Dag"],
    example = "id: graph\ntype: io.kestra.plugin.core.flow.Dag\ntasks:\n  - task:\n      id: extract\n      type: io.kestra.plugin.core.log.Log\n      message: extract\n  - task:\n      id: load\n      type: io.kestra.plugin.core.log.Log\n      message: load\n    dependsOn: [extract]\n"
)]
pub struct Dag {
    /// The entries: {task, dependsOn: [ids]}.
    #[serde(skip)]
    #[prop(children, required, kind = "List")]
    pub tasks: ChildTasks,
    /// How many children run at once (0: all).
    #[serde(deserialize_with = "lenient::count")]
    #[prop(default = "0", fixed)]
    pub concurrent: Option<usize>,
}
