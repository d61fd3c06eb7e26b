//! [`FlowStore`] over the API's [`ApiHost`]: a task (`git.SyncFlows`)
//! lists, validates, stores and deletes flows through the very code the
//! API imports and deletes them with, on either runtime. Each stored flow
//! gets its revision recorded at once (the same source keeps its revision).

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::host::ApiHost;
use crate::model::Flow;
use crate::plugins::flow_store::{FlowStore, StoredFlow};
use crate::runtime::engine::Engine;

/// The revision of `flow`'s source: the stored one when it is the latest,
/// else recorded now as the next (a flow created, updated or edited in its
/// folder or bucket since its last run), as Kestra numbers every change.
pub async fn revision(engine: &Engine, flow: &Flow) -> Result<u32, crate::backend::BackendError> {
    match engine.state.load_flow(&flow.namespace, &flow.id, None).await? {
        Some((revision, source)) if source == flow.source => Ok(revision),
        _ => engine.state.save_flow(&flow.namespace, &flow.id, &flow.source).await,
    }
}

/// The flow store of the runtime that serves the API.
pub struct HostFlowStore {
    pub engine: Arc<Engine>,
    pub host: Arc<dyn ApiHost>,
}

fn in_scope(namespace: &str, target: &str, children: bool) -> bool {
    // every namespace is a child of the empty one
    namespace == target || (children && (target.is_empty() || super::query::in_namespace(namespace, target)))
}

impl HostFlowStore {
    fn parse(&self, file: &str, source: &str) -> Result<Flow, String> {
        crate::runtime::flows::parse_flow(file, source, &self.engine.registry, &self.engine.renderer)
            .map_err(|diags| diags.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n"))
    }

    async fn revision(&self, flow: &Flow) -> Result<u32, String> {
        revision(&self.engine, flow).await.map_err(|e| e.to_string())
    }

    async fn stored(&self, flow: &Flow) -> Result<StoredFlow, String> {
        Ok(StoredFlow {
            namespace: flow.namespace.clone(),
            id: flow.id.clone(),
            revision: self.revision(flow).await?,
            source: flow.source.clone(),
        })
    }
}

#[async_trait]
impl FlowStore for HostFlowStore {
    async fn list(&self, namespace: &str, children: bool) -> Result<Vec<StoredFlow>, String> {
        let flows = self.host.flows().await.map_err(|e| e.message)?;
        let mut out = Vec::new();
        for f in flows.iter().filter(|f| in_scope(&f.namespace, namespace, children)) {
            out.push(self.stored(f).await?);
        }
        Ok(out)
    }

    async fn check(&self, file: &str, source: &str) -> Result<(String, String), String> {
        self.parse(file, source).map(|f| (f.namespace, f.id))
    }

    async fn save(&self, file: &str, source: &str) -> Result<StoredFlow, String> {
        let flow = self.parse(file, source)?;
        self.host.save_flow(&flow).await.map_err(|e| e.message)?;
        self.stored(&flow).await
    }

    async fn delete(&self, namespace: &str, id: &str) -> Result<bool, String> {
        self.host.delete_flow(namespace, id).await.map_err(|e| e.message)
    }

    async fn revisions(&self, namespace: &str, id: &str) -> Result<Vec<(u32, Option<DateTime<Utc>>)>, String> {
        let list = self
            .engine
            .state
            .list_flow_revisions(namespace, id, super::flow_revisions::MAX_REVISIONS)
            .await
            .map_err(|e| e.to_string())?;
        Ok(list.into_iter().map(|r| (r.revision, r.created)).collect())
    }

    async fn delete_revisions(&self, namespace: &str, id: &str, revisions: &[u32]) -> Result<usize, String> {
        self.engine.state.delete_flow_revisions(namespace, id, revisions).await.map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn child_namespaces_are_in_scope_only_when_asked() {
        assert!(super::in_scope("prod", "prod", false));
        assert!(!super::in_scope("prod.a", "prod", false));
        assert!(super::in_scope("prod.a", "prod", true));
        assert!(!super::in_scope("production", "prod", true));
    }
}
