//! Flows read from where they live ([`FlowFiles`]: a folder or a bucket),
//! for runtimes whose flows change under them (the GCP functions, and a
//! function reading a folder): new executions (ticks, backfills, the API,
//! Subflow) use a flow as its file is now — [`current_flow`] re-reads the
//! flow's file on every call (one small GET in a bucket), so a flow updated
//! in the bucket is used by warm instances without a restart. An
//! execution's own revision is in the state store (the launcher saves it);
//! the executor reads exactly that revision ([`super::flows::at_revision`]),
//! never an instance's latest copy.

use std::sync::{Arc, Weak};

use crate::backend::BackendError;
use crate::backend::flow_files::FlowFiles;
use crate::model::Flow;

use super::engine::{Engine, LatestFlows};
use super::flows::RevisionError;

/// Why a flow is not available.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    #[error("flow {namespace}.{id} not found")]
    NotFound { namespace: String, id: String },
    #[error("flow {namespace}.{id} revision {revision} is not valid any more:\n{message}")]
    Invalid { namespace: String, id: String, revision: u32, message: String },
    /// Its file is there but does not validate, and no earlier good
    /// version is known.
    #[error("flow {namespace}.{id} in {path} is not valid:\n{message}")]
    Broken { namespace: String, id: String, path: String, message: String },
    #[error(transparent)]
    Backend(#[from] BackendError),
}

/// Parses and validates a flow; the diagnostics as one message if invalid.
pub fn parse(engine: &Engine, name: &str, source: &str) -> Result<Flow, String> {
    super::flows::parse_flow(name, source, &engine.registry, &engine.renderer)
        .map_err(|diags| diags.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n"))
}

/// Loads every flow of `files` into the engine's repository; invalid files
/// are logged and skipped. Returns how many loaded.
pub async fn load_all(engine: &Engine, files: &dyn FlowFiles) -> Result<usize, BackendError> {
    let mut n = 0;
    for path in files.list().await? {
        // listed a moment ago: gone since means deleted, nothing to load
        let Some(text) = files.read(&path).await? else { continue };
        match parse(engine, &path, &text) {
            Ok(f) => {
                engine.flows.insert(f);
                n += 1;
            }
            Err(message) => tracing::error!(path, error = %message, "flow not loaded"),
        }
    }
    tracing::info!(flows = engine.flows.all().len(), source = %files.location(), "flows loaded");
    Ok(n)
}

/// The flow `namespace.id` at `revision` (an execution's), or the latest
/// for a new execution: from its file as it is now (see the module
/// documentation), else this instance's copy, else the state store's
/// latest revision, else a reload of every file.
pub async fn current_flow(
    engine: &Engine,
    files: Option<&dyn FlowFiles>,
    namespace: &str,
    id: &str,
    revision: Option<u32>,
) -> Result<Arc<Flow>, FlowError> {
    if let Some(rev) = revision {
        return super::flows::at_revision(engine, namespace, id, rev).await.map_err(|e| match e {
            RevisionError::NotFound { .. } => FlowError::NotFound { namespace: namespace.into(), id: id.into() },
            RevisionError::Invalid { revision, message, .. } => {
                FlowError::Invalid { namespace: namespace.into(), id: id.into(), revision, message }
            }
            RevisionError::Backend(b) => FlowError::Backend(b),
        });
    }
    let mut broken = None;
    if let Some(files) = files {
        for file in files.files_of(namespace, id).await? {
            if let Some(f) = engine.flows.get(namespace, id).filter(|f| f.source == file.source) {
                return Ok(f);
            }
            match parse(engine, &file.path, &file.source) {
                Ok(flow) if flow.namespace == namespace && flow.id == id => {
                    tracing::info!(namespace, flow_id = id, path = file.path, "flow (re)loaded from its file");
                    return Ok(engine.flows.insert(flow));
                }
                Ok(_) => {}
                Err(message) => {
                    // as the local server does with a broken edit: say so, keep the last good one
                    tracing::error!(namespace, flow_id = id, path = file.path, error = %message, "flow file is not valid");
                    broken = Some((file.path, message));
                    break;
                }
            }
        }
    }
    if let Some(f) = engine.flows.get(namespace, id) {
        return Ok(f);
    }
    if let Some((rev, text)) = engine.state.load_flow(namespace, id, None).await? {
        let flow = parse(engine, &format!("{namespace}.{id} revision {rev}"), &text).map_err(|message| {
            FlowError::Invalid { namespace: namespace.into(), id: id.into(), revision: rev, message }
        })?;
        return Ok(engine.flows.insert(flow));
    }
    if let Some(files) = files {
        load_all(engine, files).await?;
        if let Some(f) = engine.flows.get(namespace, id) {
            return Ok(f);
        }
    }
    Err(match broken {
        Some((path, message)) => FlowError::Broken { namespace: namespace.into(), id: id.into(), path, message },
        None => FlowError::NotFound { namespace: namespace.into(), id: id.into() },
    })
}

/// The file of `namespace.id` that does not validate now, with its
/// problems: the flow then runs at its last valid version, and the API
/// says why.
pub async fn flow_problem(
    engine: &Engine,
    files: &dyn FlowFiles,
    namespace: &str,
    id: &str,
) -> Result<Option<(String, String)>, BackendError> {
    for file in files.files_of(namespace, id).await? {
        if let Err(message) = parse(engine, &file.path, &file.source) {
            return Ok(Some((file.path, message)));
        }
    }
    Ok(None)
}

/// Parsed flows by the hash of their source: a source never changes, so
/// this is safe on every instance (emptied past [`MAX_PARSED_SOURCES`]).
static PARSED: std::sync::LazyLock<std::sync::Mutex<std::collections::HashMap<String, Arc<Flow>>>> =
    std::sync::LazyLock::new(Default::default);

/// How many parsed flow sources an instance keeps.
pub const MAX_PARSED_SOURCES: usize = 4096;

/// Every valid flow of `files` now: one LIST and one GET per flow file; a
/// file is parsed only when its content (hash) was never seen by this
/// instance, so a flow added or changed is seen at the next call.
pub async fn all_current(engine: &Engine, files: &dyn FlowFiles) -> Result<Vec<Arc<Flow>>, BackendError> {
    let mut out = Vec::new();
    for path in files.list().await? {
        let Some(text) = files.read(&path).await? else { continue };
        let key = format!("{}:{}", text.len(), super::scheduler::source_hash(&text));
        if let Some(f) = PARSED.lock().ok().and_then(|m| m.get(&key).cloned()) {
            out.push(f);
            continue;
        }
        match parse(engine, &path, &text) {
            Ok(f) => {
                let f = Arc::new(f);
                if let Ok(mut m) = PARSED.lock() {
                    if m.len() >= MAX_PARSED_SOURCES {
                        m.clear();
                    }
                    m.insert(key, f.clone());
                }
                out.push(f);
            }
            Err(message) => tracing::error!(path, error = %message, "flow file is not valid"),
        }
    }
    Ok(out)
}

/// [`LatestFlows`] over [`FlowFiles`]: what a Subflow task or a Flow
/// trigger starts is the flow as its file is now.
pub(super) struct FilesLatest {
    pub(super) engine: Weak<Engine>,
    pub(super) files: Arc<dyn FlowFiles>,
}

#[async_trait::async_trait]
impl LatestFlows for FilesLatest {
    async fn latest(&self, namespace: &str, id: &str) -> Option<Arc<Flow>> {
        let engine = self.engine.upgrade()?;
        match current_flow(&engine, Some(self.files.as_ref()), namespace, id, None).await {
            Ok(f) => Some(f),
            Err(e) => {
                tracing::warn!(namespace, flow_id = id, error = %e, "flow not found");
                None
            }
        }
    }

    async fn all(&self) -> Result<Option<Vec<Arc<Flow>>>, BackendError> {
        let Some(engine) = self.engine.upgrade() else { return Ok(None) };
        all_current(&engine, self.files.as_ref()).await.map(Some)
    }
}
