//! The flow store tasks write ([`FlowStore`]: `git.SyncFlows`,
//! `PurgeFlows`) over the runtime's [`FlowFiles`] — the local server's
//! flows folder or the functions' bucket — with the validation and the
//! revisions the API gives an imported flow: a synced flow is stored
//! exactly as one created through the API, in the same place.

use std::sync::{Arc, Weak};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::backend::BackendError;
use crate::backend::flow_files::FlowFiles;
use crate::model::Flow;
use crate::plugins::flow_store::{FlowStore, FlowStoreError, StoredFlow};

use super::engine::Engine;

/// How many revisions of one flow a listing reads (the newest kept).
pub const MAX_REVISIONS: usize = 500;

/// The revision of `flow`'s source: the stored one when it is the latest,
/// else recorded now as the next (a flow created, updated or edited in its
/// folder or bucket since its last run), as Kestra numbers every change.
pub async fn revision(engine: &Engine, flow: &Flow) -> Result<u32, BackendError> {
    match engine.state.load_flow(&flow.namespace, &flow.id, None).await? {
        Some((revision, source)) if source == flow.source => Ok(revision),
        _ => engine.state.save_flow(&flow.namespace, &flow.id, &flow.source).await,
    }
}

/// Whether `namespace` is `target` or, with `children`, below it (every
/// namespace is below the empty one).
pub fn in_scope(namespace: &str, target: &str, children: bool) -> bool {
    namespace == target
        || (children && (target.is_empty() || namespace.strip_prefix(target).is_some_and(|rest| rest.starts_with('.'))))
}

/// [`FlowStore`] over [`FlowFiles`].
pub(super) struct FlowCatalog {
    pub(super) engine: Weak<Engine>,
    pub(super) files: Arc<dyn FlowFiles>,
}

fn gone() -> FlowStoreError {
    FlowStoreError::Store("the engine is shutting down".into())
}

fn backend(e: BackendError) -> FlowStoreError {
    FlowStoreError::Store(e.to_string())
}

impl FlowCatalog {
    fn engine(&self) -> Result<Arc<Engine>, FlowStoreError> {
        self.engine.upgrade().ok_or_else(gone)
    }

    fn parse(&self, engine: &Engine, file: &str, source: &str) -> Result<Flow, FlowStoreError> {
        super::flow_files::parse(engine, file, source).map_err(FlowStoreError::Invalid)
    }

    async fn stored(&self, engine: &Engine, flow: &Flow) -> Result<StoredFlow, FlowStoreError> {
        Ok(StoredFlow {
            namespace: flow.namespace.clone(),
            id: flow.id.clone(),
            revision: revision(engine, flow).await.map_err(backend)?,
            source: flow.source.clone(),
        })
    }
}

#[async_trait]
impl FlowStore for FlowCatalog {
    async fn list(&self, namespace: &str, children: bool) -> Result<Vec<StoredFlow>, FlowStoreError> {
        let engine = self.engine()?;
        let mut out = Vec::new();
        for flow in super::flow_files::all_current(&engine, self.files.as_ref()).await.map_err(backend)? {
            if in_scope(&flow.namespace, namespace, children) {
                out.push(self.stored(&engine, &flow).await?);
            }
        }
        out.sort_by(|a, b| (&a.namespace, &a.id).cmp(&(&b.namespace, &b.id)));
        Ok(out)
    }

    async fn check(&self, file: &str, source: &str) -> Result<(String, String), FlowStoreError> {
        let engine = self.engine()?;
        self.parse(&engine, file, source).map(|f| (f.namespace, f.id))
    }

    async fn save(&self, file: &str, source: &str) -> Result<StoredFlow, FlowStoreError> {
        let engine = self.engine()?;
        let flow = self.parse(&engine, file, source)?;
        self.files.write(&flow.namespace, &flow.id, &flow.source).await.map_err(backend)?;
        engine.flows.insert(flow.clone());
        engine.flows.mark_files_changed();
        self.stored(&engine, &flow).await
    }

    async fn delete(&self, namespace: &str, id: &str) -> Result<bool, FlowStoreError> {
        let engine = self.engine()?;
        let removed = self.files.remove(namespace, id).await.map_err(backend)?;
        engine.flows.remove(namespace, id);
        engine.flows.mark_files_changed();
        Ok(!removed.is_empty())
    }

    async fn revisions(&self, namespace: &str, id: &str) -> Result<Vec<(u32, Option<DateTime<Utc>>)>, FlowStoreError> {
        let engine = self.engine()?;
        let list = engine.state.list_flow_revisions(namespace, id, MAX_REVISIONS).await.map_err(backend)?;
        Ok(list.into_iter().map(|r| (r.revision, r.created)).collect())
    }

    async fn delete_revisions(&self, namespace: &str, id: &str, revisions: &[u32]) -> Result<usize, FlowStoreError> {
        let engine = self.engine()?;
        engine.state.delete_flow_revisions(namespace, id, revisions).await.map_err(backend)
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
        assert!(super::in_scope("anything", "", true));
    }
}
