//! Where a function finds its flows: a folder (`BATON_FLOWS`, e.g. baked
//! into the image), or internal storage under `/flows/` (what Terraform
//! uploads to the internal bucket as `flows/<namespace>/<id>.yml`).
//!
//! New executions (ticks, backfills, the API) use the flow as it is in the
//! bucket now: [`ensure_flow`] re-reads its object on every call (one small
//! GET), so a flow updated in the bucket is used by warm instances without
//! a restart. An execution's own revision is in the state store (the
//! launcher saves it); the executor reads exactly that revision
//! (`runtime::flows::at_revision`), never an instance's latest copy.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::io::AsyncReadExt;

use crate::backend::BackendError;
use crate::model::Flow;
use crate::runtime::engine::Engine;
use crate::runtime::flows::RevisionError;

/// Where the flows come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlowSource {
    /// `*.yml`/`*.yaml` files under a folder.
    Dir(PathBuf),
    /// `*.yml`/`*.yaml` objects of internal storage under this prefix (`/flows`).
    Storage(String),
}

/// Why a flow is not available.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    #[error("flow {namespace}.{id} not found")]
    NotFound { namespace: String, id: String },
    #[error("flow {namespace}.{id} revision {revision} is not valid any more:\n{message}")]
    Invalid { namespace: String, id: String, revision: u32, message: String },
    /// Its file is in the bucket but does not parse, and no earlier good
    /// version is known.
    #[error("flow {namespace}.{id} in {path} is not valid:\n{message}")]
    Broken { namespace: String, id: String, path: String, message: String },
    #[error(transparent)]
    Backend(#[from] BackendError),
}

fn is_yaml(path: &str) -> bool {
    path.ends_with(".yml") || path.ends_with(".yaml")
}

/// Parses and validates a flow; the diagnostics as one message if invalid.
fn parse(engine: &Engine, name: &str, source: &str) -> Result<Flow, String> {
    crate::runtime::flows::parse_flow(name, source, &engine.registry, &engine.renderer)
        .map_err(|diags| diags.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n"))
}

/// Loads every flow of `source` into the engine's repository; invalid files
/// are logged and skipped. Returns how many loaded.
pub async fn load_all(engine: &Arc<Engine>, source: &FlowSource) -> Result<usize, BackendError> {
    let mut n = 0;
    match source {
        FlowSource::Dir(dir) => {
            for (path, e) in engine.flows.load_dir(dir, &engine.registry, &engine.renderer) {
                tracing::error!(path = %path.display(), error = %e, "flow not loaded");
            }
            n = crate::runtime::flows::yaml_files(dir).len();
        }
        FlowSource::Storage(prefix) => {
            for path in engine.storage.list(prefix).await? {
                if !is_yaml(&path) {
                    continue;
                }
                // listed a moment ago: gone since means deleted, nothing to load
                let Some(text) = read_text(engine, &path).await? else { continue };
                match parse(engine, &path, &text) {
                    Ok(f) => {
                        engine.flows.insert(f);
                        n += 1;
                    }
                    Err(message) => tracing::error!(path, error = %message, "flow not loaded"),
                }
            }
        }
    }
    tracing::info!(flows = engine.flows.all().len(), source = ?source, "flows loaded");
    Ok(n)
}

/// Reads `path` of internal storage as text (one request); `None` if absent.
async fn read_text(engine: &Engine, path: &str) -> Result<Option<String>, BackendError> {
    let mut r = match engine.storage.get(path).await {
        Ok(r) => r,
        Err(BackendError::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut text = String::new();
    r.read_to_string(&mut text)
        .await
        .map_err(|source| BackendError::Io { what: format!("read flow {path}"), source })?;
    Ok(Some(text))
}

/// The flow `namespace.id` at `revision` (an execution's), or the latest
/// for a new execution: from the bucket as it is now (see the module
/// documentation), else this instance's copy, else the state store's
/// latest revision, else a reload of `source`.
pub async fn ensure_flow(
    engine: &Arc<Engine>,
    source: Option<&FlowSource>,
    namespace: &str,
    id: &str,
    revision: Option<u32>,
) -> Result<Arc<Flow>, FlowError> {
    if let Some(rev) = revision {
        return crate::runtime::flows::at_revision(engine, namespace, id, rev).await.map_err(|e| match e {
            RevisionError::NotFound { .. } => FlowError::NotFound { namespace: namespace.into(), id: id.into() },
            RevisionError::Invalid { revision, message, .. } => {
                FlowError::Invalid { namespace: namespace.into(), id: id.into(), revision, message }
            }
            RevisionError::Backend(b) => FlowError::Backend(b),
        });
    }
    let mut broken = None;
    if let Some(FlowSource::Storage(prefix)) = source {
        let prefix = prefix.trim_end_matches('/');
        for ext in ["yml", "yaml"] {
            let path = format!("{prefix}/{namespace}/{id}.{ext}");
            let Some(text) = read_text(engine, &path).await? else { continue };
            if let Some(f) = engine.flows.get(namespace, id).filter(|f| f.source == text) {
                return Ok(f);
            }
            let flow = match parse(engine, &path, &text) {
                Ok(f) => f,
                Err(message) => {
                    // as the local server does with a broken edit: say so, keep the last good one
                    tracing::error!(namespace, flow_id = id, path, error = %message, "flow in the bucket is not valid");
                    broken = Some((path, message));
                    break;
                }
            };
            if flow.namespace == namespace && flow.id == id {
                tracing::info!(namespace, flow_id = id, path, "flow (re)loaded from the bucket");
                return Ok(engine.flows.insert(flow));
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
    if let Some(source) = source {
        load_all(engine, source).await?;
        if let Some(f) = engine.flows.get(namespace, id) {
            return Ok(f);
        }
    }
    Err(match broken {
        Some((path, message)) => FlowError::Broken { namespace: namespace.into(), id: id.into(), path, message },
        None => FlowError::NotFound { namespace: namespace.into(), id: id.into() },
    })
}

/// The object of `namespace.id` in the bucket (`source` a storage prefix)
/// that does not validate now, with its problems: the flow then runs at
/// its last valid version, and the API says why.
pub async fn bucket_problem(
    engine: &Engine,
    source: &FlowSource,
    namespace: &str,
    id: &str,
) -> Result<Option<(String, String)>, BackendError> {
    let FlowSource::Storage(prefix) = source else { return Ok(None) };
    let prefix = prefix.trim_end_matches('/');
    for ext in ["yml", "yaml"] {
        let path = format!("{prefix}/{namespace}/{id}.{ext}");
        let Some(text) = read_text(engine, &path).await? else { continue };
        if let Err(message) = parse(engine, &path, &text) {
            return Ok(Some((path, message)));
        }
    }
    Ok(None)
}

/// [`crate::runtime::engine::LatestFlows`] on a [`FlowSource`]: what a
/// Subflow task starts is the called flow as it is in the bucket now.
pub struct SourceFlows {
    engine: std::sync::Weak<Engine>,
    source: FlowSource,
}

impl SourceFlows {
    /// Installs it on `engine` (once).
    pub fn install(engine: &Arc<Engine>, source: FlowSource) {
        let latest = SourceFlows { engine: Arc::downgrade(engine), source };
        let _ = engine.latest_flows.set(Arc::new(latest));
    }
}

#[async_trait::async_trait]
impl crate::runtime::engine::LatestFlows for SourceFlows {
    async fn latest(&self, namespace: &str, id: &str) -> Option<Arc<Flow>> {
        let engine = self.engine.upgrade()?;
        match ensure_flow(&engine, Some(&self.source), namespace, id, None).await {
            Ok(f) => Some(f),
            Err(e) => {
                tracing::warn!(namespace, flow_id = id, error = %e, "flow not found");
                None
            }
        }
    }

    async fn all(&self) -> Result<Option<Vec<Arc<Flow>>>, BackendError> {
        let Some(engine) = self.engine.upgrade() else { return Ok(None) };
        match &self.source {
            FlowSource::Dir(_) => Ok(None),
            FlowSource::Storage(prefix) => all_in_bucket(&engine, prefix).await.map(Some),
        }
    }
}

/// Parsed flows by the hash of their source: a source never changes, so
/// this is safe on every instance (emptied past [`MAX_PARSED_SOURCES`]).
static PARSED: std::sync::LazyLock<std::sync::Mutex<std::collections::HashMap<String, Arc<Flow>>>> =
    std::sync::LazyLock::new(Default::default);

/// How many parsed flow sources an instance keeps.
pub const MAX_PARSED_SOURCES: usize = 4096;

/// Every valid flow in the bucket now: one LIST and one GET per flow file;
/// a file is parsed only when its content (hash) was never seen by this
/// instance, so a flow added or changed is seen at the next call.
pub async fn all_in_bucket(engine: &Arc<Engine>, prefix: &str) -> Result<Vec<Arc<Flow>>, BackendError> {
    let mut out = Vec::new();
    for path in engine.storage.list(prefix).await? {
        if !is_yaml(&path) {
            continue;
        }
        let Some(text) = read_text(engine, &path).await? else { continue };
        let key = format!("{}:{}", text.len(), crate::runtime::scheduler::source_hash(&text));
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
            Err(message) => tracing::error!(path, error = %message, "flow in the bucket is not valid"),
        }
    }
    Ok(out)
}
