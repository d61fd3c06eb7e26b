//! The flow store as tasks see it ([`FlowStore`]): what `git.SyncFlows`
//! reads and writes. The runtime that serves the API provides it over the
//! same code the API uses to import, list and delete flows
//! (`api::flow_store`), so a synced flow is stored exactly as an imported
//! one: in `baton server local`'s flows folder, or in the GCP flows bucket.
//! `baton run` has none, and a task needing one fails saying so.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// A flow in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFlow {
    pub namespace: String,
    pub id: String,
    pub revision: u32,
    pub source: String,
}

/// Why the flow store refused.
#[derive(Debug, thiserror::Error)]
pub enum FlowStoreError {
    /// The source is not a valid flow (its problems, each at file:line:column).
    #[error("{0}")]
    Invalid(String),
    /// The store failed.
    #[error("{0}")]
    Store(String),
}

/// Where flows live, for tasks.
#[async_trait]
pub trait FlowStore: Send + Sync {
    /// The flows of `namespace` (and of its child namespaces with `children`).
    async fn list(&self, namespace: &str, children: bool) -> Result<Vec<StoredFlow>, FlowStoreError>;
    /// Validates `source` (named `file` in errors) without storing it.
    async fn check(&self, file: &str, source: &str) -> Result<(String, String), FlowStoreError>;
    /// Validates and stores `source` as the flow's new version.
    async fn save(&self, file: &str, source: &str) -> Result<StoredFlow, FlowStoreError>;
    /// Removes a flow; false when there was none.
    async fn delete(&self, namespace: &str, id: &str) -> Result<bool, FlowStoreError>;
    /// A flow's stored revisions (number, when recorded), oldest first.
    async fn revisions(&self, namespace: &str, id: &str) -> Result<Vec<(u32, Option<DateTime<Utc>>)>, FlowStoreError>;
    /// Deletes these revisions of a flow, never its latest; how many went.
    async fn delete_revisions(&self, namespace: &str, id: &str, revisions: &[u32]) -> Result<usize, FlowStoreError>;
}
