//! `core.flow.Subflow`: starts an execution of another flow and (by
//! default) waits for it. The executor's rule: `baton-executor`'s `blocks`
//! (`subflow`); the properties it shares with ForEachItem are
//! [`SubflowTarget`].

use baton_derive::Declare;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::lenient;
use crate::Label;
use crate::flow::scalar_string;

/// The flow a Subflow or a ForEachItem starts, and how.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Declare)]
#[serde(rename_all = "camelCase", default)]
pub struct SubflowTarget {
    /// The subflow's namespace.
    #[serde(deserialize_with = "lenient::opt_scalar")]
    #[prop(kind = "String", required)]
    pub namespace: Option<String>,
    /// The subflow's id.
    #[serde(deserialize_with = "lenient::opt_scalar")]
    #[prop(kind = "String", required)]
    pub flow_id: Option<String>,
    /// The subflow's inputs.
    #[serde(deserialize_with = "lenient::object")]
    pub inputs: Option<Map<String, Value>>,
    /// Labels of the subflow execution (mapping or list of {key, value}).
    #[serde(deserialize_with = "lenient::present")]
    pub labels: Option<Value>,
    /// Wait for the subflow execution to end.
    #[serde(deserialize_with = "lenient::flag")]
    #[prop(default = "true", fixed)]
    pub wait: Option<bool>,
    /// Fail this task when the subflow execution fails (needs wait).
    #[serde(deserialize_with = "lenient::flag")]
    #[prop(default = "true", fixed)]
    pub transmit_failed: Option<bool>,
    /// Give the subflow execution this execution's labels.
    #[serde(deserialize_with = "lenient::flag")]
    #[prop(default = "false", fixed)]
    pub inherit_labels: Option<bool>,
    /// Run this revision of the subflow rather than the latest.
    #[serde(deserialize_with = "lenient::opt_scalar")]
    #[prop(kind = "Integer", fixed)]
    pub revision: Option<String>,
}

impl SubflowTarget {
    /// Whether the task waits for the subflow execution (default true).
    pub fn waits(&self) -> bool {
        self.wait.unwrap_or(true)
    }

    /// The revision asked for, if it is a number.
    pub fn revision(&self) -> Option<u32> {
        self.revision.as_deref().and_then(|r| r.parse().ok())
    }

    /// The labels, from a mapping or a list of {key, value}.
    pub fn labels(&self) -> Vec<Label> {
        match &self.labels {
            Some(Value::Object(m)) => {
                m.iter().map(|(k, v)| Label { key: k.clone(), value: scalar_string(v) }).collect()
            }
            Some(Value::Array(a)) => serde_json::from_value(Value::Array(a.clone())).unwrap_or_default(),
            _ => Vec::new(),
        }
    }
}

/// Start an execution of another flow.
///
/// Starts the named flow with inputs and labels, waits for it by default and exposes its outputs.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Declare)]
#[serde(rename_all = "camelCase", default)]
#[plugin(
    type = "io.kestra.plugin.core.flow.Subflow",
    aliases = [
        "io.kestra.core.tasks.flows.Flow",
        "io.kestra.core.tasks.flows.Subflow",
        "io.kestra.plugin.core.flow.Flow"
    ],
    example = "id: child\ntype: io.kestra.plugin.core.flow.Subflow\nnamespace: company.team\nflowId: cleanup\nwait: true\ninputs:\n  day: \"{{ execution.startDate }}\"\n",
    outputs(
        executionId(String, "The subflow execution's id."),
        state(String, "Its final state (when waited for)."),
        outputs(Map, "Its outputs (when waited for).")
    )
)]
pub struct Subflow {
    #[serde(flatten)]
    pub target: SubflowTarget,
    /// Templates rendered in the subflow execution when it ends (its tasks' outputs), added to this task's outputs.
    #[serde(deserialize_with = "lenient::object")]
    pub outputs: Option<Map<String, Value>>,
    /// On restart, retry the failed subflow execution or start a new one (Baton refuses to restart a failed Subflow in place: replay instead).
    #[serde(deserialize_with = "lenient::opt_scalar")]
    #[prop(kind = "String", values = ["RETRY_FAILED", "NEW_EXECUTION"], fixed)]
    pub restart_behavior: Option<String>,
}
