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

use super::{TriggerDef, TriggerProblem};
use crate::model::{Flow, Trigger};
use crate::plugins::{PropKind, PropSpec};

pub const TYPE: &str = "io.kestra.plugin.core.trigger.Flow";

pub static DEF: TriggerDef = TriggerDef {
    type_name: TYPE,
    aliases: &["io.kestra.core.models.triggers.types.Flow"],
    description: "Starts an execution when executions of other flows change state (end, pause…), as its states, preconditions and conditions say.",
    props: &[
        PropSpec::optional("inputs", PropKind::Map),
        PropSpec::optional("states", PropKind::List),
        PropSpec::optional("preconditions", PropKind::Map),
        PropSpec::optional("dependsOn", PropKind::List),
        PropSpec::optional("window", PropKind::Map),
        PropSpec::optional("mode", PropKind::String),
        PropSpec::optional("minSatisfied", PropKind::Integer),
        crate::triggers::WHEN,
    ],
    check,
    condition_use: crate::conditions::ConditionUse::Flow,
};

fn check(trig: &Trigger, flow: &Flow) -> Vec<TriggerProblem> {
    let mut out = Vec::new();
    if let Err(problems) = spec::parse(trig) {
        out.extend(problems);
    }
    super::schedule::check_trigger_inputs(flow, super::prop(trig, "inputs"), &mut out);
    out.dedup();
    out
}
