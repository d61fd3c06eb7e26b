//! `io.kestra.plugin.core.execution.Resume`: resumes a PAUSED execution
//! (another one, typically `{{ trigger.executionId }}`), as the API's
//! resume does: `executionId` (the current execution when absent),
//! `namespace` and `flowId` (when given, the execution must belong to
//! them, as Kestra requires to make permissions explicit), `inputs` (the
//! paused Pause's `onResume` inputs, validated). The runtime provides the
//! resuming ([`ExecutionControl`], over the engine); no outputs (Kestra
//! records `resumedExecution` in the execution's variables, which Baton
//! does not keep). As in Kestra (`Pause.Resumed.now()`), the resumed
//! Pause records no `resumed.by`.

use std::sync::{Arc, LazyLock};

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::Declare;
use crate::registry::PluginDef;
use crate::{RunContext, RunnableTask, TaskError, TaskOutput, parse_props};

/// What a task may do to other executions (the runtime's engine).
#[async_trait]
pub trait ExecutionControl: Send + Sync {
    /// The (namespace, flow id) of execution `id`, if it exists.
    async fn owner(&self, id: &str) -> Result<Option<(String, String)>, String>;
    /// Resumes PAUSED execution `id` with `inputs` (its onResume inputs).
    async fn resume(&self, id: &str, inputs: &Map<String, Value>) -> Result<(), String>;
    /// The stored log lines of execution `id`, oldest first (`log.Fetch`).
    async fn logs(&self, id: &str) -> Result<Vec<baton_backend::LogEntry>, String> {
        Err(format!("this runtime cannot read the logs of execution {id}"))
    }
    /// Enables or disables a flow's trigger (`trigger.Toggle`).
    async fn set_trigger_enabled(
        &self,
        namespace: &str,
        flow_id: &str,
        trigger: &str,
        _on: bool,
    ) -> Result<(), String> {
        Err(format!("this runtime cannot toggle trigger {trigger} of flow {namespace}.{flow_id}"))
    }
    /// The state store (executions, logs, metrics) the purge tasks delete
    /// from (`PurgeExecutions`, `PurgeLogs`, `PurgeMetrics`); `None` where
    /// the runtime gives none.
    fn state_store(&self) -> Option<std::sync::Arc<dyn baton_backend::StateStore>> {
        None
    }
    /// Writes the log lines this process still holds, so a purge sees them.
    async fn flush_logs(&self) {}
}

/// Resume a paused execution.
///
/// Resumes a paused execution (this one's parent by default, or `executionId`), with inputs for its Pause's onResume.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.core.execution.Resume",
    group = "core",
    example = "id: go_on\ntype: io.kestra.plugin.core.execution.Resume\nexecutionId: \"{{ trigger.executionId }}\"\n"
)]
struct Props {
    /// The execution to resume.
    #[serde(default)]
    execution_id: Option<String>,
    /// The paused execution's namespace.
    #[serde(default)]
    namespace: Option<String>,
    /// The paused execution's flow.
    #[serde(default)]
    flow_id: Option<String>,
    /// Inputs for the Pause's onResume.
    #[serde(default)]
    inputs: Option<Map<String, Value>>,
}

/// The task, built from rendered properties.
#[derive(Debug)]
pub struct Resume {
    p: Props,
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    Ok(Box::new(Resume { p: parse_props(props)? }))
}

#[async_trait]
impl RunnableTask for Resume {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let control: Arc<dyn ExecutionControl> = cx.services.executions.clone().ok_or_else(|| {
            TaskError::failed("this runtime cannot resume executions (no engine given to its workers)")
        })?;
        let id = self.p.execution_id.clone().filter(|s| !s.is_empty()).unwrap_or_else(|| cx.execution_id.clone());
        let (ns, flow) =
            control.owner(&id).await.map_err(TaskError::failed)?.ok_or_else(|| {
                TaskError::property("executionId", format!("No execution found for execution id {id}"))
            })?;
        for (key, want, got) in [("namespace", &self.p.namespace, &ns), ("flowId", &self.p.flow_id, &flow)] {
            if let Some(w) = want.as_ref().filter(|w| *w != got) {
                return Err(TaskError::property(
                    key,
                    format!("execution {id} belongs to {ns}.{flow}, not to {key} '{w}'"),
                ));
            }
        }
        let inputs = self.p.inputs.clone().unwrap_or_default();
        control.resume(&id, &inputs).await.map_err(TaskError::failed)?;
        cx.log("INFO", &format!("resumed execution {id} of {ns}.{flow}"));
        Ok(TaskOutput::empty())
    }
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));
