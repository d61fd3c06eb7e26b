//! `core.flow.WaitFor` and its 0.23 successor `LoopUntil`: their tasks
//! again until a condition holds. The executor's rule: `baton-executor`'s
//! `blocks::wait_for`.

use baton_derive::Declare;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{ChildTasks, LOOP_UNTIL_TYPE, lenient};

/// Repeat tasks until a condition holds.
///
/// Runs its tasks, then renders `condition`; repeats until it is true or checkFrequency's limits are reached.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Declare)]
#[serde(rename_all = "camelCase", default)]
#[plugin(
    type = "io.kestra.plugin.core.flow.WaitFor",
    example = "id: poll\ntype: io.kestra.plugin.core.flow.WaitFor\ncondition: \"{{ outputs.ping.code == 200 }}\"\ncheckFrequency:\n  interval: PT10S\n  maxIterations: 30\ntasks:\n  - id: ping\n    type: io.kestra.plugin.core.http.Request\n    uri: https://example.com/ready\n    allowFailed: true\n",
    outputs(iterationCount(Integer, "How many times the tasks ran."))
)]
pub struct WaitFor {
    /// The child tasks.
    #[serde(skip)]
    #[prop(children, required, kind = "List")]
    pub tasks: ChildTasks,
    /// A template; the loop ends when it renders true.
    #[serde(deserialize_with = "lenient::scalar")]
    #[prop(required)]
    pub condition: String,
    /// {interval, maxIterations, maxDuration} of the loop.
    #[serde(deserialize_with = "lenient::object")]
    #[prop(fixed)]
    pub check_frequency: Option<Map<String, Value>>,
    /// Fail (rather than succeed) when a limit is reached.
    #[serde(deserialize_with = "lenient::flag")]
    #[prop(default = "false", fixed)]
    pub fail_on_max_reached: Option<bool>,
}

/// Repeat tasks until a condition holds.
///
/// WaitFor's successor (Kestra 0.23): runs its tasks, then renders `condition`; repeats until it is true or checkFrequency's limits are reached — by default no limits, a minute apart.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Declare)]
#[serde(rename_all = "camelCase", default)]
#[plugin(
    type = LOOP_UNTIL_TYPE,
    example = "id: loop\ntype: io.kestra.plugin.core.flow.LoopUntil\ncondition: \"{{ outputs.return.value == '4' }}\"\ncheckFrequency:\n  interval: PT1S\ntasks:\n  - id: return\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ outputs.loop.iterationCount }}\"\n",
    outputs(iterationCount(Integer, "How many times the tasks ran."))
)]
pub struct LoopUntil {
    /// The child tasks.
    #[serde(skip)]
    #[prop(children, required, kind = "List")]
    pub tasks: ChildTasks,
    /// A template; the loop ends when it renders true.
    #[serde(deserialize_with = "lenient::scalar")]
    #[prop(required)]
    pub condition: String,
    /// {interval, maxIterations, maxDuration} of the loop.
    #[serde(deserialize_with = "lenient::object")]
    #[prop(default = "{interval: PT1M}", fixed)]
    pub check_frequency: Option<Map<String, Value>>,
    /// Fail (rather than succeed) when a limit is reached.
    #[serde(deserialize_with = "lenient::flag")]
    #[prop(default = "false", fixed)]
    pub fail_on_max_reached: Option<bool>,
}

impl From<LoopUntil> for WaitFor {
    fn from(l: LoopUntil) -> WaitFor {
        WaitFor {
            tasks: l.tasks,
            condition: l.condition,
            check_frequency: l.check_frequency,
            fail_on_max_reached: l.fail_on_max_reached,
        }
    }
}
