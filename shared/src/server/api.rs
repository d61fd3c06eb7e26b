//! The local server's side of the API ([`crate::api`], shared with the GCP
//! `api` function): flows (and their unit test files, `{namespace}.{id}.test.yml`)
//! are the files of the watched folder (a created or
//! updated flow is written there as `{namespace}.{id}.yml`, or over the
//! file that defines it, and loaded at once), backfills run under the
//! server's supervisor. Also the backfill request check `baton backfill`
//! shares with the API.

use std::sync::Arc;

use async_trait::async_trait;

pub use crate::api::BackfillBody;
pub use crate::api::query::labels_from_json;
use crate::api::{ApiError, ApiHost, ApiResult, BackfillCreated};
use crate::backend::schedule::TriggerStore;
use crate::model::Flow;
use crate::runtime::backfill::{BackfillRequest, backfill_target, create_backfill};
use crate::runtime::engine::Engine;
use crate::schedule::backfill::{Bound, parse_bound};

use super::supervisor::BackfillSupervisor;
use super::watch::FlowWatcher;

/// [`ApiHost`] over the flows folder and the backfill supervisor.
pub struct LocalHost {
    pub engine: Arc<Engine>,
    pub store: Arc<dyn TriggerStore>,
    pub supervisor: Arc<BackfillSupervisor>,
    pub watcher: Arc<FlowWatcher>,
    /// The flow unit test files of the flows folder (`FolderFlows::tests`).
    pub tests: Arc<dyn crate::backend::flow_files::FlowFiles>,
}

impl LocalHost {
    /// The flows folder (the server's engine always has one).
    fn files(&self) -> ApiResult<&dyn crate::backend::flow_files::FlowFiles> {
        self.engine.flow_files.as_deref().ok_or_else(|| ApiError::internal("this engine has no flows folder"))
    }

    async fn rescan(&self) {
        let w = self.watcher.clone();
        let _ = tokio::task::spawn_blocking(move || w.scan()).await;
    }
}

#[async_trait]
impl ApiHost for LocalHost {
    async fn flow(&self, namespace: &str, id: &str) -> ApiResult<Arc<Flow>> {
        self.engine
            .flows
            .get(namespace, id)
            .ok_or_else(|| ApiError::not_found(format!("flow {namespace}.{id} not found")))
    }

    async fn flows(&self) -> ApiResult<Vec<Arc<Flow>>> {
        if self.engine.flows.take_files_changed() {
            // a task wrote flow files (git.SyncFlows): list them as they are
            self.rescan().await;
        }
        Ok(self.watcher.active())
    }

    async fn save_flow(&self, flow: &Flow) -> ApiResult<()> {
        self.files()?.write(&flow.namespace, &flow.id, &flow.source).await?;
        self.rescan().await;
        self.engine.flows.insert(flow.clone());
        Ok(())
    }

    async fn flow_problem(&self, namespace: &str, id: &str) -> ApiResult<Option<String>> {
        Ok(self.watcher.problem_of(namespace, id).map(|(path, message)| format!("{}: {message}", path.display())))
    }

    async fn broken_files(&self) -> ApiResult<Vec<(String, String)>> {
        Ok(self.watcher.unloaded().into_iter().map(|(p, m)| (p.display().to_string(), m)).collect())
    }

    async fn delete_flow(&self, namespace: &str, id: &str) -> ApiResult<bool> {
        if self.files()?.remove(namespace, id).await?.is_empty() {
            return Ok(false);
        }
        self.rescan().await;
        self.engine.flows.remove(namespace, id);
        Ok(true)
    }

    fn triggers(&self) -> Option<Arc<dyn TriggerStore>> {
        Some(self.store.clone())
    }

    fn test_files(&self) -> Option<Arc<dyn crate::backend::flow_files::FlowFiles>> {
        Some(self.tests.clone())
    }

    async fn create_backfill(&self, body: BackfillBody) -> ApiResult<BackfillCreated> {
        let req = backfill_request(&self.engine, body)?;
        let b = create_backfill(&self.engine, self.store.as_ref(), req).await?;
        self.supervisor.ensure(&b.id);
        Ok(BackfillCreated::Created(Box::new(b)))
    }

    async fn drive_backfill(&self, id: &str) -> ApiResult<()> {
        self.supervisor.ensure(id);
        Ok(())
    }
}

/// Turns a body (dates read in the trigger's zone when they have no offset)
/// into a checked request.
pub fn backfill_request(engine: &Engine, body: BackfillBody) -> Result<BackfillRequest, ApiError> {
    let (_, trigger) = backfill_target(engine, &body.namespace, &body.flow_id, &body.trigger_id)?;
    let start =
        parse_bound(&body.start, &trigger.cron, Bound::Start).map_err(|e| ApiError::unprocessable(e.to_string()))?;
    let end = body
        .end
        .as_deref()
        .filter(|e| !e.is_empty())
        .map(|e| parse_bound(e, &trigger.cron, Bound::End))
        .transpose()
        .map_err(|e| ApiError::unprocessable(e.to_string()))?;
    let labels = labels_from_json(&body.labels).map_err(ApiError::unprocessable)?;
    Ok(BackfillRequest {
        namespace: body.namespace,
        flow_id: body.flow_id,
        trigger_id: body.trigger_id,
        start,
        end,
        inputs: body.inputs,
        labels,
        rerun_successful: body.rerun_successful,
        id: None,
    })
}
