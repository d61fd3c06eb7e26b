//! The `api` function: Kestra's REST API ([`crate::api`], the same code as
//! `baton server local`) over the function's engine. Plain HTTP; on Cloud
//! Run, IAM decides who may call it. This module is the GCP side of it:
//! flows are read from and written to the engine's flow files (the
//! internal bucket under `flows/{namespace}/{id}.yml`, or a folder; their
//! unit tests under `tests/…`), backfills go through
//! the schedule engine, which the scheduler's sweeps carry on if this
//! instance stops.

use std::sync::Arc;

use async_trait::async_trait;
use axum::Router;

use super::scheduler::{BackfillRequest, ScheduleFailure, SchedulerMessage, Schedules};
use crate::api::query::labels_from_json;
use crate::api::{ApiError, ApiHost, ApiResult, ApiState, BackfillBody, BackfillCreated};
use crate::backend::Topic;
use crate::backend::flow_files::FlowFiles;
use crate::backend::schedule::TriggerStore;
use crate::model::Flow;
use crate::runtime::engine::Engine;
use crate::runtime::flow_files::{FlowError, current_flow, flow_problem, load_all};

/// Where the API function keeps flow unit test files in internal storage.
pub const TESTS_PREFIX: &str = "/tests";

/// [`ApiHost`] over the engine's flow files and the schedule engine.
pub struct GcpHost {
    engine: Arc<Engine>,
    schedules: Option<Arc<dyn Schedules>>,
}

/// The API router (with `/healthz`).
pub fn router(engine: Arc<Engine>, schedules: Option<Arc<dyn Schedules>>) -> Router {
    let host = Arc::new(GcpHost { engine: engine.clone(), schedules });
    crate::api::router(ApiState { engine, host })
}

/// Only the webhook routes and `/healthz` ([`crate::api::webhooks_router`]),
/// flows loaded first: the service a public webhook is exposed through,
/// while the whole API stays behind IAM.
pub async fn webhooks_router(engine: Arc<Engine>) -> Router {
    if let Some(files) = engine.flow_files.as_deref()
        && let Err(e) = load_all(&engine, files).await
    {
        tracing::error!(error = %e, "cannot load flows at start; they will be loaded on demand");
    }
    let host = Arc::new(GcpHost { engine: engine.clone(), schedules: None });
    crate::api::webhooks_router(ApiState { engine, host })
}

impl GcpHost {
    fn files(&self) -> Option<&dyn FlowFiles> {
        self.engine.flow_files.as_deref()
    }

    /// Whether the flow files still have `namespace.id` (true without any).
    async fn in_files(&self, namespace: &str, id: &str) -> ApiResult<bool> {
        match self.files() {
            Some(files) => Ok(!files.files_of(namespace, id).await?.is_empty()),
            None => Ok(true),
        }
    }
}

fn flow_error(e: FlowError) -> ApiError {
    match e {
        e @ FlowError::NotFound { .. } => ApiError::not_found(e.to_string()),
        e @ (FlowError::Invalid { .. } | FlowError::Broken { .. }) => ApiError::unprocessable(e.to_string()),
        FlowError::Backend(b) => b.into(),
    }
}

#[async_trait]
impl ApiHost for GcpHost {
    async fn flow(&self, namespace: &str, id: &str) -> ApiResult<Arc<Flow>> {
        if !self.in_files(namespace, id).await? {
            return Err(ApiError::not_found(format!("flow {namespace}.{id} not found")));
        }
        current_flow(&self.engine, self.files(), namespace, id, None).await.map_err(flow_error)
    }

    async fn flows(&self) -> ApiResult<Vec<Arc<Flow>>> {
        if let Some(files) = self.files() {
            load_all(&self.engine, files).await?;
        }
        let mut out = Vec::new();
        for f in self.engine.flows.all() {
            if self.in_files(&f.namespace, &f.id).await? {
                out.push(f);
            }
        }
        out.sort_by(|a, b| (&a.namespace, &a.id).cmp(&(&b.namespace, &b.id)));
        Ok(out)
    }

    async fn save_flow(&self, flow: &Flow) -> ApiResult<()> {
        if let Some(files) = self.files() {
            files.write(&flow.namespace, &flow.id, &flow.source).await?;
        }
        self.engine.flows.insert(flow.clone());
        Ok(())
    }

    async fn flow_problem(&self, namespace: &str, id: &str) -> ApiResult<Option<String>> {
        let Some(files) = self.files() else { return Ok(None) };
        Ok(flow_problem(&self.engine, files, namespace, id).await?.map(|(path, message)| format!("{path}: {message}")))
    }

    async fn delete_flow(&self, namespace: &str, id: &str) -> ApiResult<bool> {
        let known = self.flow(namespace, id).await.is_ok();
        if let Some(files) = self.files() {
            files.remove(namespace, id).await?;
        }
        self.engine.flows.remove(namespace, id);
        Ok(known)
    }

    fn triggers(&self) -> Option<Arc<dyn TriggerStore>> {
        self.engine.trigger_store.clone()
    }

    /// Tests live in internal storage beside the flows, under `/tests`
    /// (`tests/{namespace}/{id}.yml` in the internal bucket), whatever the
    /// flows' source: a flows folder baked into an image is read-only.
    fn test_files(&self) -> Option<Arc<dyn FlowFiles>> {
        Some(Arc::new(crate::backend::flow_files::BucketFlows::new(self.engine.storage.clone(), TESTS_PREFIX)))
    }

    async fn create_backfill(&self, body: BackfillBody) -> ApiResult<BackfillCreated> {
        let Some(schedules) = &self.schedules else {
            return Err(ApiError::unsupported("this deployment has no schedule engine: no backfills here"));
        };
        let req = BackfillRequest {
            namespace: body.namespace,
            flow_id: body.flow_id,
            trigger_id: body.trigger_id,
            start: body.start,
            end: body.end,
            inputs: body.inputs,
            labels: labels_from_json(&body.labels).map_err(ApiError::unprocessable)?,
            rerun_successful: body.rerun_successful,
            id: None,
        };
        let id = match schedules.backfill(&req).await {
            Ok(id) => id,
            Err(ScheduleFailure::Invalid(m)) => return Err(ApiError::unprocessable(m)),
            Err(ScheduleFailure::Transient(m)) => {
                return Err(ApiError::new(axum::http::StatusCode::SERVICE_UNAVAILABLE, m));
            }
        };
        self.drive_backfill(&id).await?;
        if let Some(store) = &self.engine.trigger_store
            && let Some(b) = store.load_backfill(&id).await?
        {
            return Ok(BackfillCreated::Created(Box::new(b)));
        }
        Ok(BackfillCreated::Accepted(id))
    }

    async fn drive_backfill(&self, _id: &str) -> ApiResult<()> {
        // Cloud Run throttles an instance's CPU once it has answered: the
        // scheduler drives the backfill, asked before the answer
        let msg = serde_json::to_vec(&SchedulerMessage::Backfills).map_err(|e| ApiError::internal(e.to_string()))?;
        self.engine.queue.publish(&Topic::Scheduler, msg).await?;
        Ok(())
    }
}
