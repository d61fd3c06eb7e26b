//! `io.kestra.plugin.core.trigger.Flow`: starts an execution when another
//! execution changes state (its `states`, `preconditions` and `conditions`;
//! in Kestra 2.0 `dependsOn`, `window` and `mode`: [`depends`]).
//!
//! [`spec`] parses the properties once per flow source, [`window`] owns
//! `timeWindow`, and [`decide`] is the pure decision the runtime
//! (`runtime::flow_triggers`) applies when an execution changes state.

pub mod decide;
pub mod depends;
pub mod spec;
pub mod window;

use std::sync::LazyLock;

use serde::Deserialize;
use serde_json::Value;

use super::{InputsProp, StopAfterProp, TriggerDef, TriggerProblem, WhenProp};
use crate::model::{Flow, Trigger};
use crate::plugins::Declare;

pub const TYPE: &str = "io.kestra.plugin.core.trigger.Flow";

/// Start an execution when other flows' executions end.
///
/// Starts an execution when executions of other flows change state (end, pause…), as its states, preconditions and conditions say.
#[derive(Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
#[plugin(
    type = TYPE,
    aliases = ["io.kestra.core.models.triggers.types.Flow"],
    example = "id: after_upstream\ntype: io.kestra.plugin.core.trigger.Flow\nstates: [SUCCESS]\npreconditions:\n  id: upstream\n  flows:\n    - namespace: company.team\n      flowId: extract\n      states: [SUCCESS]\n",
)]
struct FlowTriggerProps {
    #[serde(flatten)]
    inputs: InputsProp,
    /// The states of the upstream execution that fire it.
    #[prop(kind = "List", fixed)]
    states: Option<Value>,
    /// Upstream flows (and a time window) that must all have ended as given.
    #[prop(kind = "Map", fixed)]
    preconditions: Option<Value>,
    /// Kestra 2.0: the upstream flows this flow depends on.
    #[prop(kind = "List", fixed)]
    depends_on: Option<Value>,
    /// Kestra 2.0: the time window of dependsOn.
    #[prop(kind = "Map", fixed)]
    window: Option<Value>,
    /// Kestra 2.0: how dependsOn combines.
    #[prop(kind = "String", fixed)]
    mode: Option<Value>,
    /// Kestra 2.0: how many of dependsOn must be met.
    #[prop(kind = "Integer", fixed)]
    min_satisfied: Option<Value>,
    #[serde(flatten)]
    stop_after: StopAfterProp,
    #[serde(flatten)]
    when: WhenProp,
}

pub static DEF: LazyLock<TriggerDef> =
    LazyLock::new(|| TriggerDef::declare::<FlowTriggerProps>(check, crate::conditions::ConditionUse::Flow));

fn check(trig: &Trigger, flow: &Flow) -> Vec<TriggerProblem> {
    let mut out = super::check_stop_after(trig);
    if let Err(problems) = spec::parse(trig) {
        out.extend(problems);
    }
    super::schedule::check_trigger_inputs(flow, super::prop(trig, "inputs"), &mut out);
    out.dedup();
    out
}
