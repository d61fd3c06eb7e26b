//! The `api` function: Kestra's REST API ([`crate::api`], the same code as
//! `baton server local`) over the function's engine. Plain HTTP; on Cloud
//! Run, IAM decides who may call it. This module is the GCP side of it:
//! flows are read from and written to the flow source (the internal bucket
//! under `flows/{namespace}/{id}.yml`, or a folder), backfills go through
//! the schedule engine, which the scheduler's sweeps carry on if this
//! instance stops.

use std::sync::Arc;

use async_trait::async_trait;
use axum::Router;

use super::flows::{FlowError, FlowSource, ensure_flow, load_all};
use super::scheduler::{BackfillRequest, ScheduleFailure, SchedulerMessage, Schedules};
use crate::api::query::labels_from_json;
use crate::api::{ApiError, ApiHost, ApiResult, ApiState, BackfillBody, BackfillCreated};
use crate::backend::Topic;
use crate::backend::schedule::TriggerStore;
use crate::model::Flow;
use crate::runtime::engine::Engine;

/// [`ApiHost`] over a flow source and the schedule engine.
pub struct GcpHost {
    engine: Arc<Engine>,
    flows: Option<FlowSource>,
    schedules: Option<Arc<dyn Schedules>>,
    triggers: Option<Arc<dyn TriggerStore>>,
}

/// The flow store of a worker: the api function's own flow code over the
/// same flow source, so a flow synced by a task is where the api reads it.
pub fn flow_store(engine: Arc<Engine>, flows: Option<FlowSource>) -> Arc<dyn crate::plugins::flow_store::FlowStore> {
    let host = Arc::new(GcpHost { engine: engine.clone(), flows, schedules: None, triggers: None });
    Arc::new(crate::api::flow_store::HostFlowStore { engine, host })
}

/// The API router (with `/healthz`).
pub fn router(
    engine: Arc<Engine>,
    flows: Option<FlowSource>,
    schedules: Option<Arc<dyn Schedules>>,
    triggers: Option<Arc<dyn TriggerStore>>,
) -> Router {
    let host = Arc::new(GcpHost { engine: engine.clone(), flows, schedules, triggers });
    crate::api::router(ApiState { engine, host })
}

/// Only the webhook routes and `/healthz` ([`crate::api::webhooks_router`]),
/// flows loaded first: the service a public webhook is exposed through,
/// while the whole API stays behind IAM.
pub async fn webhooks_router(engine: Arc<Engine>, flows: Option<FlowSource>) -> Router {
    if let Some(source) = &flows
        && let Err(e) = load_all(&engine, source).await
    {
        tracing::error!(error = %e, "cannot load flows at start; they will be loaded on demand");
    }
    let host = Arc::new(GcpHost { engine: engine.clone(), flows, schedules: None, triggers: None });
    crate::api::webhooks_router(ApiState { engine, host })
}

impl GcpHost {
    /// Where `namespace.id` is (or goes) in the bucket, when flows live there.
    fn object(&self, namespace: &str, id: &str, ext: &str) -> Option<String> {
        match &self.flows {
            Some(FlowSource::Storage(prefix)) => {
                Some(format!("{}/{namespace}/{id}.{ext}", prefix.trim_end_matches('/')))
            }
            _ => None,
        }
    }

    /// Whether the flow source still has `namespace.id` (true without one).
    async fn in_bucket(&self, namespace: &str, id: &str) -> ApiResult<bool> {
        if let Some(FlowSource::Dir(dir)) = &self.flows {
            return Ok(!dir_files_of(dir, namespace, id).is_empty());
        }
        let Some(yml) = self.object(namespace, id, "yml") else { return Ok(true) };
        let yaml = self.object(namespace, id, "yaml").unwrap_or_default();
        Ok(self.engine.storage.size(&yml).await?.is_some() || self.engine.storage.size(&yaml).await?.is_some())
    }
}

/// The YAML files of `dir` that declare flow `namespace.id`.
fn dir_files_of(dir: &std::path::Path, namespace: &str, id: &str) -> Vec<std::path::PathBuf> {
    crate::runtime::flows::yaml_files(dir)
        .into_iter()
        .filter(|p| {
            let Ok(text) = std::fs::read_to_string(p) else { return false };
            let Ok((v, _)) = crate::yaml::parse(&text) else { return false };
            v.get("namespace").and_then(|x| x.as_str()) == Some(namespace)
                && v.get("id").and_then(|x| x.as_str()) == Some(id)
        })
        .collect()
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
        if !self.in_bucket(namespace, id).await? {
            return Err(ApiError::not_found(format!("flow {namespace}.{id} not found")));
        }
        ensure_flow(&self.engine, self.flows.as_ref(), namespace, id, None).await.map_err(flow_error)
    }

    async fn flows(&self) -> ApiResult<Vec<Arc<Flow>>> {
        if let Some(source) = &self.flows {
            load_all(&self.engine, source).await?;
        }
        let mut out = Vec::new();
        for f in self.engine.flows.all() {
            if self.in_bucket(&f.namespace, &f.id).await? {
                out.push(f);
            }
        }
        out.sort_by(|a, b| (&a.namespace, &a.id).cmp(&(&b.namespace, &b.id)));
        Ok(out)
    }

    async fn save_flow(&self, flow: &Flow) -> ApiResult<()> {
        match &self.flows {
            Some(FlowSource::Storage(_)) => {
                let yaml = self.object(&flow.namespace, &flow.id, "yaml").unwrap_or_default();
                if self.engine.storage.size(&yaml).await?.is_some() {
                    self.engine.storage.delete_prefix(&yaml).await?;
                }
                let path = self.object(&flow.namespace, &flow.id, "yml").unwrap_or_default();
                let bytes = flow.source.clone().into_bytes();
                self.engine.storage.put(&path, Box::pin(std::io::Cursor::new(bytes))).await?;
            }
            Some(FlowSource::Dir(dir)) => {
                let path = dir_files_of(dir, &flow.namespace, &flow.id)
                    .into_iter()
                    .next()
                    .unwrap_or_else(|| dir.join(format!("{}.{}.yml", flow.namespace, flow.id)));
                tokio::fs::write(&path, &flow.source)
                    .await
                    .map_err(|e| ApiError::internal(format!("cannot write {}: {e}", path.display())))?;
            }
            None => {}
        }
        self.engine.flows.insert(flow.clone());
        Ok(())
    }

    async fn flow_problem(&self, namespace: &str, id: &str) -> ApiResult<Option<String>> {
        match &self.flows {
            Some(source @ FlowSource::Storage(_)) => {
                Ok(crate::functions::flows::bucket_problem(&self.engine, source, namespace, id)
                    .await?
                    .map(|(path, message)| format!("{path}: {message}")))
            }
            Some(FlowSource::Dir(dir)) => {
                let mut problems = Vec::new();
                for p in dir_files_of(dir, namespace, id) {
                    if let Err(e) = crate::runtime::flows::FlowRepository::load_file(
                        &p,
                        &self.engine.registry,
                        &self.engine.renderer,
                    ) {
                        problems.push(format!("{}: {e}", p.display()));
                    }
                }
                Ok(problems.into_iter().next())
            }
            None => Ok(None),
        }
    }

    async fn delete_flow(&self, namespace: &str, id: &str) -> ApiResult<bool> {
        let known = self.flow(namespace, id).await.is_ok();
        if let Some(FlowSource::Dir(dir)) = &self.flows {
            for f in dir_files_of(dir, namespace, id) {
                tokio::fs::remove_file(&f)
                    .await
                    .map_err(|e| ApiError::internal(format!("cannot remove {}: {e}", f.display())))?;
            }
        }
        for ext in ["yml", "yaml"] {
            if let Some(path) = self.object(namespace, id, ext) {
                self.engine.storage.delete_prefix(&path).await?;
            }
        }
        self.engine.flows.remove(namespace, id);
        Ok(known)
    }

    fn triggers(&self) -> Option<Arc<dyn TriggerStore>> {
        self.triggers.clone()
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
        if let Some(store) = &self.triggers
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
