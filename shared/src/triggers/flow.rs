//! `io.kestra.plugin.core.trigger.Flow`: starts an execution when another
//! execution ends (its `states`, `preconditions` and `conditions`).

use super::{TriggerDef, TriggerProblem};
use crate::model::{Flow, Trigger};
use crate::plugins::{PropKind, PropSpec};

pub const TYPE: &str = "io.kestra.plugin.core.trigger.Flow";

pub static DEF: TriggerDef = TriggerDef {
    type_name: TYPE,
    aliases: &["io.kestra.core.models.triggers.types.Flow"],
    description: "Starts an execution when executions of other flows end, as its preconditions and conditions say.",
    props: &[
        PropSpec::optional("inputs", PropKind::Map),
        PropSpec::optional("states", PropKind::List),
        PropSpec::optional("preconditions", PropKind::Map),
    ],
    check,
    condition_use: crate::conditions::ConditionUse::Flow,
};

fn check(trig: &Trigger, flow: &Flow) -> Vec<TriggerProblem> {
    let mut out = Vec::new();
    super::schedule::check_trigger_inputs(flow, super::prop(trig, "inputs"), &mut out);
    out
}
