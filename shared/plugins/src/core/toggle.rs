//! `io.kestra.plugin.core.trigger.Toggle`: enables (`enabled: true`) or
//! disables (the default) trigger `trigger` of flow `namespace.flowId`
//! (the current flow when absent), through the runtime's trigger store
//! ([`ExecutionControl::set_trigger_enabled`]). No outputs.

use std::sync::Arc;
use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::resume::ExecutionControl;
use crate::Declare;
use crate::registry::PluginDef;
use crate::{RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// Enable or disable a trigger.
///
/// Turns a trigger of a flow (this one by default) on or off.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.core.trigger.Toggle",
    aliases = ["io.kestra.core.tasks.trigger.Toggle"],
    group = "core",
    example = "id: pause_schedule\ntype: io.kestra.plugin.core.trigger.Toggle\ntrigger: daily\nenabled: false\n",
)]
struct Props {
    /// The flow's namespace; this flow's when absent.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    namespace: Option<String>,
    /// The flow; this flow when absent.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    flow_id: Option<String>,
    /// The trigger's id.
    #[serde(deserialize_with = "de::string_lenient")]
    trigger: String,
    /// Whether to enable (true) or disable it.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "false")]
    enabled: Option<bool>,
}

/// The task, built from rendered properties.
#[derive(Debug)]
pub struct Toggle {
    p: Props,
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    if p.trigger.trim().is_empty() {
        return Err(TaskError::property("trigger", "must not be blank"));
    }
    Ok(Box::new(Toggle { p }))
}

#[async_trait]
impl RunnableTask for Toggle {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let control: Arc<dyn ExecutionControl> =
            cx.services.executions.clone().ok_or_else(|| {
                TaskError::failed("this runtime cannot toggle triggers (no engine given to its workers)")
            })?;
        let ns = self.p.namespace.clone().filter(|s| !s.trim().is_empty()).unwrap_or_else(|| cx.namespace.clone());
        let flow = self.p.flow_id.clone().filter(|s| !s.trim().is_empty()).unwrap_or_else(|| cx.flow_id.clone());
        let enabled = self.p.enabled.unwrap_or(false);
        control.set_trigger_enabled(&ns, &flow, self.p.trigger.trim(), enabled).await.map_err(TaskError::failed)?;
        cx.info(&format!(
            "Trigger '{}' of flow {ns}.{flow} {}",
            self.p.trigger.trim(),
            if enabled { "enabled" } else { "disabled" }
        ));
        Ok(TaskOutput::empty())
    }
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));
