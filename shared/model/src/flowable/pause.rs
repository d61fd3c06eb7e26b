//! `core.flow.Pause`: the execution waits to be resumed or for a duration.
//! The executor's rule: `baton-executor`'s `blocks::pause`.

use baton_derive::Declare;
use serde::Deserialize;
use serde_json::Value;

use super::{ChildTasks, lenient};

/// Pause the execution until resumed.
///
/// Pauses until someone resumes it (UI, API, Resume task) or `pauseDuration` elapses, then acts as `behavior` says.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Declare)]
#[serde(rename_all = "camelCase", default)]
#[plugin(
    type = "io.kestra.plugin.core.flow.Pause",
    aliases = ["io.kestra.core.tasks.flows.Pause"],
    example = "id: approve\ntype: io.kestra.plugin.core.flow.Pause\npauseDuration: PT1H\nbehavior: RESUME\n",
    outputs(onResume(Map, "The inputs given on resume."))
)]
pub struct Pause {
    /// The older name of pauseDuration.
    #[serde(deserialize_with = "lenient::text")]
    #[prop(kind = "Duration", fixed)]
    pub delay: Option<String>,
    /// Act after this long without a resume.
    #[serde(deserialize_with = "lenient::text")]
    #[prop(kind = "Duration", fixed)]
    pub pause_duration: Option<String>,
    /// What happens when pauseDuration elapses.
    #[serde(deserialize_with = "lenient::text")]
    #[prop(kind = "String", values = ["RESUME", "WARN", "FAIL", "CANCEL"], default = "\"RESUME\"", fixed)]
    pub behavior: Option<String>,
    /// Inputs asked for when resuming, as flow inputs.
    #[serde(deserialize_with = "lenient::non_null")]
    #[prop(kind = "List", fixed)]
    pub on_resume: Option<Value>,
    /// Deprecated: tasks run after the pause.
    #[serde(skip)]
    #[prop(children, kind = "List")]
    pub tasks: ChildTasks,
}
