//! `io.kestra.plugin.gcp.dataform.InvokeWorkflow` (plugin-gcp
//! `dataform/InvokeWorkflow.java`, `AbstractDataForm.java`): invokes the
//! workflow config `workflowConfigId` of the Dataform repository
//! `repositoryId` in `location` of `projectId`, through the Dataform REST
//! API v1beta1 at `dataform.googleapis.com` (Kestra calls the same methods
//! through Google's gRPC client).
//!
//! As Kestra: `workflowInvocations.create` under
//! `projects/{p}/locations/{l}/repositories/{r}` with `{"workflowConfig":
//! "…/workflowConfigs/{workflowConfigId}"}`; then, when `wait` (true), the
//! invocation is read again every second (`workflowInvocations.get`, a
//! first time one second after the create) for as long as it is
//! `RUNNING`. Outputs `workflowInvocationName` and
//! `workflowInvocationState` (`SUCCEEDED`, `FAILED`, `CANCELLED`,
//! `CANCELING`, or `RUNNING` without `wait`). As in Kestra, an invocation
//! that ends `FAILED` or `CANCELLED` does not fail the task: its state is
//! the output (and a warning is logged), for the flow to test.
//!
//! Kestra waits without a bound; Baton waits at most [`MAX_WAIT`], past
//! which the task fails naming the invocation and its state.

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::common::GcpProps;
use super::dataflow::segment;
use super::rest::Api;
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// How often a running invocation is read (Kestra's one second).
const POLL: Duration = Duration::from_secs(1);
/// The longest Baton waits for an invocation to leave `RUNNING`.
pub const MAX_WAIT: Duration = Duration::from_secs(24 * 3600);

/// Invoke a Dataform workflow in GCP.
///
/// Creates a workflow invocation of the workflow config workflowConfigId in the Dataform repository repositoryId and, unless wait is false, waits (at most 24 hours) while it runs. Outputs the invocation's name and state; a FAILED or CANCELLED invocation is its output state, as in Kestra, not a task failure.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.gcp.dataform.InvokeWorkflow",
    group = "gcp",
    example = "id: transform\ntype: io.kestra.plugin.gcp.dataform.InvokeWorkflow\nwait: true\nprojectId: my-gcp-project\nlocation: europe-west1\nrepositoryId: my-repo\nworkflowConfigId: my-config\n",
    outputs(
        workflowInvocationName(String, "The full name of the workflow invocation."),
        workflowInvocationState(
            String,
            "The invocation's state: SUCCEEDED, FAILED, CANCELLED, CANCELING (RUNNING without wait)."
        )
    )
)]
struct Props {
    #[serde(flatten)]
    gcp: GcpProps,
    /// The region of the Dataform repository (e.g. us-central1).
    #[serde(deserialize_with = "de::string_lenient")]
    location: String,
    /// The repository's ID (its name, not its full path).
    #[serde(deserialize_with = "de::string_lenient")]
    repository_id: String,
    /// The ID of the workflow config in the repository.
    #[serde(deserialize_with = "de::string_lenient")]
    workflow_config_id: String,
    /// Wait while the invocation runs (polled every second).
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(fixed, default = "true")]
    wait: Option<bool>,
}

struct InvokeWorkflow {
    gcp: GcpProps,
    location: String,
    repository: String,
    config: String,
    wait: bool,
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    Ok(Box::new(InvokeWorkflow {
        location: segment("location", &p.location)?,
        repository: segment("repositoryId", &p.repository_id)?,
        config: segment("workflowConfigId", &p.workflow_config_id)?,
        wait: p.wait.unwrap_or(true),
        gcp: p.gcp,
    }))
}

/// An invocation's state as Kestra names it (the proto's default when absent).
fn state(inv: &Value) -> String {
    inv["state"].as_str().unwrap_or("STATE_UNSPECIFIED").to_string()
}

#[async_trait]
impl RunnableTask for InvokeWorkflow {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let r = self.gcp.resolve(cx)?;
        let project = segment("projectId", r.project()?)?;
        let parent = format!("projects/{project}/locations/{}/repositories/{}", self.location, self.repository);
        let api = Api::connect(cx, &r, "Dataform", "dataform.googleapis.com").await?;
        let body = json!({"workflowConfig": format!("{parent}/workflowConfigs/{}", self.config)});
        let mut inv = api.post(cx, &format!("/v1beta1/{parent}/workflowInvocations"), &body).await?;
        let name = inv["name"].as_str().unwrap_or_default().to_string();
        if name.is_empty() {
            return Err(TaskError::failed(format!(
                "Dataform: the workflow invocation was created without a name: {inv}"
            )));
        }
        cx.info(&format!("Dataform workflow invocation '{name}' created ({})", state(&inv)));
        if self.wait {
            let started = Instant::now();
            loop {
                tokio::time::sleep(POLL).await;
                inv = api.get(cx, &format!("/v1beta1/{name}")).await?;
                if state(&inv) != "RUNNING" {
                    break;
                }
                if started.elapsed() >= MAX_WAIT {
                    return Err(TaskError::failed(format!(
                        "Dataform workflow invocation '{name}' was still RUNNING after {} hours, the longest Baton waits",
                        MAX_WAIT.as_secs() / 3600
                    )));
                }
            }
            let st = state(&inv);
            if matches!(st.as_str(), "FAILED" | "CANCELLED") {
                cx.warn(&format!("Dataform workflow invocation '{name}' ended {st}"));
            } else {
                cx.info(&format!("Dataform workflow invocation '{name}' ended {st}"));
            }
        }
        let mut out = Map::new();
        out.insert("workflowInvocationName".into(), Value::String(inv["name"].as_str().unwrap_or(&name).to_string()));
        out.insert("workflowInvocationState".into(), Value::String(state(&inv)));
        Ok(TaskOutput::with(out))
    }
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_path_segments_and_state_defaults_as_kestra_s() {
        let props = |v: Value| v.as_object().cloned().unwrap_or_default();
        let ok = json!({"location": "europe-west1", "repositoryId": "r", "workflowConfigId": "c"});
        assert!(build(&props(ok)).is_ok());
        let e = build(&props(json!({"location": "l", "repositoryId": "a/b", "workflowConfigId": "c"})))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("'repositoryId'"), "{e}");
        assert_eq!(state(&json!({})), "STATE_UNSPECIFIED");
        assert_eq!(state(&json!({"state": "FAILED"})), "FAILED");
    }
}
