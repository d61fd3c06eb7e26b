//! What the API needs from the runtime serving it ([`ApiHost`]): where flows
//! and their unit tests live and are written, the trigger store, and how a backfill is started
//! and driven. `baton server local` implements it over its flows folder and
//! backfill supervisor (`server::api`), the GCP `api` function over its
//! flow source and schedule engine (`functions::api`).

use std::sync::Arc;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::error::ApiResult;
use crate::backend::flow_files::FlowFiles;
use crate::backend::schedule::{Backfill, TriggerStore};
use crate::model::Flow;

/// The runtime-specific side of the API.
#[async_trait]
pub trait ApiHost: Send + Sync {
    /// The flow new executions of `namespace.id` use; 404 when unknown.
    async fn flow(&self, namespace: &str, id: &str) -> ApiResult<Arc<Flow>>;
    /// Every flow, sorted by namespace and id.
    async fn flows(&self) -> ApiResult<Vec<Arc<Flow>>>;
    /// Stores a validated flow where this runtime reads flows from (a new
    /// one or a new version) and makes it the one new executions use.
    async fn save_flow(&self, flow: &Flow) -> ApiResult<()>;
    /// Why the file that defines `namespace.id` does not load now, as
    /// `path: problems`, when it is broken and the flow served is its last
    /// valid version (shown as Kestra's `exception` on the flow).
    async fn flow_problem(&self, namespace: &str, id: &str) -> ApiResult<Option<String>>;
    /// Flow files that define no flow because they never validated (a
    /// brand-new broken file), as `(path, problems)`, sorted by path; the
    /// flow list shows them. A runtime that cannot list them answers none.
    async fn broken_files(&self) -> ApiResult<Vec<(String, String)>> {
        Ok(Vec::new())
    }
    /// Removes a flow; false when there was none.
    async fn delete_flow(&self, namespace: &str, id: &str) -> ApiResult<bool>;
    /// Trigger states and backfills, when this runtime has them.
    fn triggers(&self) -> Option<Arc<dyn TriggerStore>>;
    /// Where this runtime keeps flow unit test files (`/tests` routes):
    /// beside the flows (the flows folder, the internal bucket); `None`
    /// when it keeps none.
    fn test_files(&self) -> Option<Arc<dyn FlowFiles>> {
        None
    }
    /// Creates a backfill (or finds the running one of the same request)
    /// and starts driving it.
    async fn create_backfill(&self, body: BackfillBody) -> ApiResult<BackfillCreated>;
    /// A backfill was resumed: make sure something drives it (before the
    /// answer: on Cloud Run nothing runs after it).
    async fn drive_backfill(&self, id: &str) -> ApiResult<()>;
}

/// What creating a backfill gave.
pub enum BackfillCreated {
    /// Created and stored: here it is.
    Created(Box<Backfill>),
    /// Handed to the schedule engine under this id.
    Accepted(String),
}

/// A backfill request: Baton's `POST /api/v1/backfills` body and what
/// Kestra's `PUT /triggers` bodies become.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackfillBody {
    pub namespace: String,
    pub flow_id: String,
    pub trigger_id: String,
    pub start: String,
    #[serde(default)]
    pub end: Option<String>,
    #[serde(default)]
    pub inputs: Map<String, Value>,
    /// `{key: value}`, `[{key, value}]` or `["key:value"]`.
    #[serde(default)]
    pub labels: Value,
    #[serde(default)]
    pub rerun_successful: bool,
}
