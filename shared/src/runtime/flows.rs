//! The flows a runtime knows: loaded from files or folders, validated,
//! stored as revisions, and looked up by namespace and id (Subflow).

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
            std::fs::read_to_string(path).map_err(|e| FlowLoadError::Read { path: path.to_path_buf(), source: e })?;
        let (flow, diagnostics) = validate::validate_source(&path.display().to_string(), &source, registry, renderer);
        match flow {
            Some(f) if diagnostics.is_empty() => Ok(f),
            _ => Err(FlowLoadError::Invalid { diagnostics }),
        }
    }

    /// Adds (or replaces) a flow.
    pub fn insert(&self, flow: Flow) -> Arc<Flow> {
        let f = Arc::new(flow);
        if let Ok(mut m) = self.flows.write() {
            m.insert((f.namespace.clone(), f.id.clone()), f.clone());
        }
        f
    }

    pub fn get(&self, namespace: &str, id: &str) -> Option<Arc<Flow>> {
        self.flows.read().ok()?.get(&(namespace.to_string(), id.to_string())).cloned()
    }

    /// Loads every `*.yml`/`*.yaml` under `dir`; returns the problems of the
    /// files that did not load (the others are loaded anyway).
    pub fn load_dir(&self, dir: &Path, registry: &Registry, renderer: &Renderer) -> Vec<(PathBuf, FlowLoadError)> {
        let mut errors = Vec::new();
        for path in yaml_files(dir) {
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

/// `*.yml` and `*.yaml` files under `dir`, recursively, sorted.
pub fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if matches!(p.extension().and_then(|x| x.to_str()), Some("yml" | "yaml")) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}
