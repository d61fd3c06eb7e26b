//! The flows a runtime knows: loaded from files or folders, validated,
//! stored as revisions, and looked up by namespace and id (the latest, for
//! new executions and Subflow) or by revision (what an execution runs).
//!
//! A revision never changes, so the revision cache is safe on every
//! instance: an execution always runs the revision it was created with,
//! read from the state store ([`at_revision`]) when this instance has not
//! seen it, whatever the instance's latest copy of the flow is.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use crate::model::Flow;
use crate::plugins::Registry;
use crate::template::Renderer;
use crate::validate::{self, Diagnostic};

/// Flows by `(namespace, id)`.
#[derive(Default)]
pub struct FlowRepository {
    flows: RwLock<HashMap<(String, String), Arc<Flow>>>,
    /// Immutable: `(namespace, id, revision)` as stored by the launcher.
    revisions: RwLock<HashMap<(String, String, u32), Arc<Flow>>>,
    /// Set when a task wrote flow files (`git.SyncFlows`): a runtime that
    /// watches its files looks again before it next lists them.
    files_changed: std::sync::atomic::AtomicBool,
}

/// Why an execution's flow revision is not available.
#[derive(Debug, thiserror::Error)]
pub enum RevisionError {
    #[error("flow {namespace}.{id} revision {revision} is not stored")]
    NotFound { namespace: String, id: String, revision: u32 },
    #[error("flow {namespace}.{id} revision {revision} is not valid any more:\n{message}")]
    Invalid { namespace: String, id: String, revision: u32, message: String },
    #[error(transparent)]
    Backend(#[from] crate::backend::BackendError),
}

/// Why a flow could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum FlowLoadError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}", .diagnostics.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n"))]
    Invalid { diagnostics: Vec<Diagnostic> },
}

impl FlowRepository {
    pub fn new() -> FlowRepository {
        FlowRepository::default()
    }

    /// Parses and validates one flow file.
    pub fn load_file(path: &Path, registry: &Registry, renderer: &Renderer) -> Result<Flow, FlowLoadError> {
        let source =
            crate::yaml::read_file(path).map_err(|e| FlowLoadError::Read { path: path.to_path_buf(), source: e })?;
        parse_flow(&path.display().to_string(), &source, registry, renderer)
            .map_err(|diagnostics| FlowLoadError::Invalid { diagnostics })
    }

    /// Adds (or replaces) a flow.
    pub fn insert(&self, flow: Flow) -> Arc<Flow> {
        let f = Arc::new(flow);
        if let Ok(mut m) = self.flows.write() {
            m.insert((f.namespace.clone(), f.id.clone()), f.clone());
        }
        f
    }

    /// Records `flow` as revision `revision` (the launcher's stored one).
    /// The latest flow itself when `flow` is it, with that revision (a flow
    /// is not copied: a ForEach's literal values may be 100,000 items).
    pub fn insert_revision(&self, flow: &Flow, revision: u32) -> Arc<Flow> {
        let key = (flow.namespace.clone(), flow.id.clone(), revision);
        if let Some(f) = self.revisions.read().ok().and_then(|m| m.get(&key).cloned()) {
            return f;
        }
        let f = match self.get(&flow.namespace, &flow.id) {
            Some(latest) if std::ptr::eq(&*latest, flow) && latest.revision == revision => latest,
            _ => Arc::new(Flow { revision, ..flow.clone() }),
        };
        self.put_revision(key, f)
    }

    /// Records `flow`, owned, as revision `revision`.
    fn insert_revision_owned(&self, flow: Flow, revision: u32) -> Arc<Flow> {
        let key = (flow.namespace.clone(), flow.id.clone(), revision);
        self.put_revision(key, Arc::new(Flow { revision, ..flow }))
    }

    fn put_revision(&self, key: (String, String, u32), f: Arc<Flow>) -> Arc<Flow> {
        if let Ok(mut m) = self.revisions.write() {
            return m.entry(key).or_insert(f).clone();
        }
        f
    }

    /// Notes that flow files were written or removed behind the runtime's
    /// watcher ([`FlowRepository::take_files_changed`]).
    pub fn mark_files_changed(&self) {
        self.files_changed.store(true, std::sync::atomic::Ordering::Release);
    }

    /// Whether flow files changed since the last call.
    pub fn take_files_changed(&self) -> bool {
        self.files_changed.swap(false, std::sync::atomic::Ordering::AcqRel)
    }

    /// Revision `revision` of a flow, if this instance has it.
    pub fn get_revision(&self, namespace: &str, id: &str, revision: u32) -> Option<Arc<Flow>> {
        self.revisions.read().ok()?.get(&(namespace.to_string(), id.to_string(), revision)).cloned()
    }

    /// Forgets the latest version of `namespace.id` (its revisions stay:
    /// executions still run them).
    pub fn remove(&self, namespace: &str, id: &str) -> Option<Arc<Flow>> {
        self.flows.write().ok()?.remove(&(namespace.to_string(), id.to_string()))
    }

    /// The latest flow `namespace.id` this instance loaded.
    pub fn get(&self, namespace: &str, id: &str) -> Option<Arc<Flow>> {
        self.flows.read().ok()?.get(&(namespace.to_string(), id.to_string())).cloned()
    }

    /// Loads every `*.yml`/`*.yaml` under `dir`; returns the problems of the
    /// files that did not load (the others are loaded anyway).
    pub fn load_dir(&self, dir: &Path, registry: &Registry, renderer: &Renderer) -> Vec<(PathBuf, FlowLoadError)> {
        let mut errors = Vec::new();
        for path in yaml_files(dir) {
            if is_test_file(&path) {
                continue;
            }
            match Self::load_file(&path, registry, renderer) {
                Ok(f) => {
                    self.insert(f);
                }
                Err(e) => errors.push((path, e)),
            }
        }
        errors
    }

    pub fn all(&self) -> Vec<Arc<Flow>> {
        let mut v: Vec<_> = self.flows.read().map(|m| m.values().cloned().collect()).unwrap_or_default();
        v.sort_by(|a, b| (&a.namespace, &a.id).cmp(&(&b.namespace, &b.id)));
        v
    }
}

/// Whether the file is a flow unit test file (`baton test`), which a
/// folder of flows may hold beside them: it is not a flow.
fn is_test_file(path: &Path) -> bool {
    crate::yaml::read_file(path)
        .ok()
        .and_then(|src| crate::yaml::parse(&src).ok())
        .is_some_and(|(root, _)| crate::unittest::is_test_document(&root))
}

/// Revision `revision` of flow `namespace.id`: from this instance's cache,
/// else parsed from the state store's copy (and cached: it never changes).
pub async fn at_revision(
    engine: &super::engine::Engine,
    namespace: &str,
    id: &str,
    revision: u32,
) -> Result<Arc<Flow>, RevisionError> {
    if let Some(f) = engine.flows.get_revision(namespace, id, revision) {
        return Ok(f);
    }
    let not_found = || RevisionError::NotFound { namespace: namespace.into(), id: id.into(), revision };
    let (rev, text) = engine.state.load_flow(namespace, id, Some(revision)).await?.ok_or_else(not_found)?;
    if rev != revision {
        return Err(not_found());
    }
    let name = format!("{namespace}.{id} revision {rev}");
    match parse_flow(&name, &text, &engine.registry, &engine.renderer) {
        Ok(f) => Ok(engine.flows.insert_revision_owned(f, rev)),
        Err(diags) => Err(RevisionError::Invalid {
            namespace: namespace.into(),
            id: id.into(),
            revision,
            message: diags.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n"),
        }),
    }
}

/// Parses and validates a flow's source; `name` (a path, or
/// `ns.id revision n`) locates the problems.
pub fn parse_flow(name: &str, source: &str, registry: &Registry, renderer: &Renderer) -> Result<Flow, Vec<Diagnostic>> {
    let (flow, diagnostics) = validate::validate_source(name, source, registry, renderer);
    match flow {
        Some(f) if diagnostics.is_empty() => Ok(f),
        _ => Err(diagnostics),
    }
}

/// `*.yml` and `*.yaml` files under `dir`, recursively, sorted.
pub use crate::backend::local::flow_file_paths as yaml_files;
