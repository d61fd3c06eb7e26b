//! `io.kestra.plugin.github.actions.RunWorkflow`: dispatches a
//! `workflow_dispatch` event as hub4j does it for Kestra — the repository
//! (`GET /repos/{owner}/{repo}`), the workflow by id or file name (`GET
//! …/actions/workflows/{workflowId}`), then `POST
//! …/actions/workflows/{id}/dispatches` with `ref` and the `inputs` (left
//! out when there are none). No outputs.

use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::api::{Api, Connection};
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// Run a GitHub Actions workflow.
///
/// Triggers a `workflow_dispatch` event for `workflowId` on `ref` of `repository`, with `inputs`.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.github.actions.RunWorkflow",
    group = "core",
    example = "id: run_workflow\ntype: io.kestra.plugin.github.actions.RunWorkflow\noauthToken: \"{{ secret('GITHUB_TOKEN') }}\"\nrepository: owner/repo\nworkflowId: deploy.yml\nref: main\ninputs:\n  environment: production\n"
)]
struct Props {
    #[serde(flatten)]
    connection: Connection,
    /// The repository, as owner/repo.
    #[serde(deserialize_with = "de::string_lenient")]
    repository: String,
    /// The workflow: its numeric id or its file name (`deploy.yml`).
    #[serde(deserialize_with = "de::string_lenient")]
    workflow_id: String,
    /// The branch or tag the workflow runs on.
    #[serde(rename = "ref", deserialize_with = "de::string_lenient")]
    git_ref: String,
    /// The workflow's inputs.
    #[serde(default)]
    #[prop(kind = "Map")]
    inputs: Option<Map<String, Value>>,
}

#[derive(Debug)]
struct RunWorkflow(Props);

#[async_trait]
impl RunnableTask for RunWorkflow {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let p = &self.0;
        let api = Api::new(&p.connection)?;
        let (repo, _) = api.repository(cx, &p.repository).await?;
        let workflow = api.get(cx, &format!("{repo}/actions/workflows/{}", p.workflow_id.trim())).await?;
        let id = match workflow.get("id") {
            Some(Value::Number(n)) => n.to_string(),
            _ => return Err(TaskError::failed(format!("GitHub's answer for workflow '{}' has no id", p.workflow_id))),
        };
        let mut body = json!({"ref": p.git_ref});
        if let Some(inputs) = p.inputs.as_ref().filter(|i| !i.is_empty()) {
            body["inputs"] = Value::Object(inputs.clone());
        }
        api.post(cx, &format!("{repo}/actions/workflows/{id}/dispatches"), &body).await?;
        cx.info(&format!("Dispatched workflow {} on {} of {}", p.workflow_id, p.git_ref, p.repository));
        Ok(TaskOutput::empty())
    }
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    Ok(Box::new(RunWorkflow(parse_props(props)?)))
}

pub static RUN_WORKFLOW: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));
