//! `io.kestra.plugin.core.trigger.Webhook`: starts an execution when a
//! request reaches `/api/v1/executions/webhook/{namespace}/{flowId}/{key}`.

use super::{TriggerDef, TriggerProblem, prop};
use crate::model::{Flow, Trigger};
use crate::plugins::{PropKind, PropSpec};

pub const TYPE: &str = "io.kestra.plugin.core.trigger.Webhook";

pub static DEF: TriggerDef = TriggerDef {
    type_name: TYPE,
    aliases: &["io.kestra.core.models.triggers.types.Webhook"],
    description: "Starts an execution when an HTTP request reaches the flow's webhook URL; the key in the URL is the credential.",
    props: &[
        PropSpec::required("key", PropKind::String),
        PropSpec::optional("inputs", PropKind::Map),
        PropSpec::optional("wait", PropKind::Boolean),
        PropSpec::optional("returnOutputs", PropKind::Boolean),
    ],
    check,
    condition_use: crate::conditions::ConditionUse::Webhook,
};

fn check(trig: &Trigger, flow: &Flow) -> Vec<TriggerProblem> {
    let mut out = Vec::new();
    if prop(trig, "key").is_none() {
        out.push(TriggerProblem::at("", format!("trigger '{}': a Webhook needs 'key'", trig.id)));
    }
    super::schedule::check_trigger_inputs(flow, prop(trig, "inputs"), &mut out);
    out
}
