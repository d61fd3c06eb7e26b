//! The flows folder of `baton server local`: loads every `*.yml`/`*.yaml`,
//! then polls modification times and reloads a file when it changes. An
//! invalid file is reported (each problem as `file:line:column`) and does
//! not stop the others; an edit that breaks a flow keeps its last valid
//! version running. A deleted file's flow stops being scheduled.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use crate::model::Flow;
use crate::plugins::Registry;
use crate::runtime::flows::{FlowRepository, yaml_files};
use crate::runtime::scheduler::FlowSource;
use crate::schedule::ScheduleTrigger;
use crate::template::Renderer;

#[derive(Debug, Clone)]
struct Entry {
    modified: Option<SystemTime>,
    len: u64,
    /// The flow this file last defined validly.
    flow: Option<Arc<Flow>>,
    /// The file's current problems, if its last version is invalid.
    problem: Option<String>,
}

/// What a scan changed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ScanReport {
    /// `namespace.id` of the flows (re)loaded.
    pub loaded: Vec<String>,
    /// Files that failed to load, with their problems.
    pub invalid: Vec<(PathBuf, String)>,
    /// Files that disappeared.
    pub removed: Vec<PathBuf>,
}

/// A polled flows folder feeding a [`FlowRepository`].
pub struct FlowWatcher {
    dir: PathBuf,
    repo: Arc<FlowRepository>,
    registry: Arc<Registry>,
    renderer: Arc<Renderer>,
    files: Mutex<HashMap<PathBuf, Entry>>,
}

impl FlowWatcher {
    pub fn new(dir: &Path, repo: Arc<FlowRepository>, registry: Arc<Registry>, renderer: Arc<Renderer>) -> Self {
        FlowWatcher { dir: dir.to_path_buf(), repo, registry, renderer, files: Mutex::new(HashMap::new()) }
    }

    fn files(&self) -> MutexGuard<'_, HashMap<PathBuf, Entry>> {
        self.files.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Loads new and changed files, forgets deleted ones; logs what changed.
    pub fn scan(&self) -> ScanReport {
        let mut report = ScanReport::default();
        let present = yaml_files(&self.dir);
        let mut changed = Vec::new();
        {
            let files = self.files();
            for path in &present {
                let meta = std::fs::metadata(path).ok();
                let modified = meta.as_ref().and_then(|m| m.modified().ok());
                let len = meta.as_ref().map_or(0, |m| m.len());
                match files.get(path) {
                    Some(e) if e.modified == modified && e.len == len => {}
                    _ => changed.push((path.clone(), modified, len)),
                }
            }
        }
        for (path, modified, len) in changed {
            let previous = self.files().get(&path).and_then(|e| e.flow.clone());
            let entry = match FlowRepository::load_file(&path, &self.registry, &self.renderer) {
                Ok(flow) => {
                    let name = format!("{}.{}", flow.namespace, flow.id);
                    if previous.as_ref().is_some_and(|p| p.source == flow.source) {
                        Entry { modified, len, flow: previous, problem: None }
                    } else {
                        if let Some(other) = self.defined_elsewhere(&path, &flow) {
                            tracing::warn!(file = %path.display(), other = %other.display(), flow = %name,
                                "flow defined in two files; the last loaded wins");
                        }
                        for problem in ScheduleTrigger::of_flow(&flow).into_iter().filter_map(Result::err) {
                            tracing::error!(file = %path.display(), flow = %name, "{problem}: this trigger will not fire");
                        }
                        let flow = self.repo.insert(flow);
                        tracing::info!(file = %path.display(), flow = %name, "flow loaded");
                        report.loaded.push(name);
                        Entry { modified, len, flow: Some(flow), problem: None }
                    }
                }
                Err(e) => {
                    let problem = e.to_string();
                    match &previous {
                        Some(p) => {
                            tracing::error!(file = %path.display(), "invalid flow, {}.{} keeps its last valid version:\n{problem}", p.namespace, p.id)
                        }
                        None => tracing::error!(file = %path.display(), "invalid flow not loaded:\n{problem}"),
                    }
                    report.invalid.push((path.clone(), problem.clone()));
                    Entry { modified, len, flow: previous, problem: Some(problem) }
                }
            };
            self.files().insert(path, entry);
        }
        let mut files = self.files();
        // a set: a scan stays linear in the number of files (a list made it
        // quadratic, a second per saved flow at 1,600 flows)
        let present: std::collections::HashSet<&PathBuf> = present.iter().collect();
        let gone: Vec<PathBuf> = files.keys().filter(|p| !present.contains(p)).cloned().collect();
        for path in gone {
            if let Some(Entry { flow: Some(f), .. }) = files.remove(&path) {
                tracing::info!(file = %path.display(), flow = %format!("{}.{}", f.namespace, f.id),
                    "flow file removed: its triggers stop");
            }
            report.removed.push(path);
        }
        report
    }

    fn defined_elsewhere(&self, path: &Path, flow: &Flow) -> Option<PathBuf> {
        self.files()
            .iter()
            .find(|(p, e)| {
                p.as_path() != path && e.flow.as_ref().is_some_and(|f| f.namespace == flow.namespace && f.id == flow.id)
            })
            .map(|(p, _)| p.clone())
    }

    /// The flows of the files present, sorted by namespace and id.
    pub fn active(&self) -> Vec<Arc<Flow>> {
        let mut by_name: HashMap<(String, String), Arc<Flow>> = HashMap::new();
        for e in self.files().values() {
            if let Some(f) = &e.flow {
                by_name.insert((f.namespace.clone(), f.id.clone()), f.clone());
            }
        }
        let mut v: Vec<Arc<Flow>> = by_name.into_values().collect();
        v.sort_by(|a, b| (&a.namespace, &a.id).cmp(&(&b.namespace, &b.id)));
        v
    }

    /// The file defining `namespace.id` whose last version is invalid (the
    /// flow runs at its last valid version), with its problems.
    pub fn problem_of(&self, namespace: &str, id: &str) -> Option<(PathBuf, String)> {
        let files = self.files();
        let mut v: Vec<(PathBuf, String)> = files
            .iter()
            .filter(|(_, e)| e.flow.as_ref().is_some_and(|f| f.namespace == namespace && f.id == id))
            .filter_map(|(p, e)| e.problem.clone().map(|m| (p.clone(), m)))
            .collect();
        v.sort();
        v.into_iter().next()
    }

    /// Files that never loaded (no valid version yet: a brand-new broken
    /// file), with their problems, sorted: no flow shows them, so the flow
    /// list does.
    pub fn unloaded(&self) -> Vec<(PathBuf, String)> {
        let mut v: Vec<(PathBuf, String)> = self
            .files()
            .iter()
            .filter(|(_, e)| e.flow.is_none())
            .filter_map(|(p, e)| e.problem.clone().map(|m| (p.clone(), m)))
            .collect();
        v.sort();
        v
    }

    /// Files whose last version is invalid, with their problems.
    pub fn problems(&self) -> Vec<(PathBuf, String)> {
        let mut v: Vec<(PathBuf, String)> =
            self.files().iter().filter_map(|(p, e)| e.problem.clone().map(|m| (p.clone(), m))).collect();
        v.sort();
        v
    }
}

impl FlowSource for FlowWatcher {
    fn flows(&self) -> Vec<Arc<Flow>> {
        self.active()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CPU time this thread has used, from /proc (a loaded machine does not
    /// stretch it as it stretches wall time).
    fn thread_cpu_ms() -> u64 {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
        let Some(end) = stat.rfind(')') else { return 0 };
        let f: Vec<&str> = stat[end + 2..].split(' ').collect();
        let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        (ticks(11) + ticks(12)) * 10
    }

    #[test]
    fn a_scan_of_many_unchanged_files_stays_linear() {
        let dir = std::env::temp_dir().join(format!("baton-watch-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("dir");
        for i in 0..2_000 {
            let yaml = format!(
                "id: f{i}\nnamespace: many\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
            );
            std::fs::write(dir.join(format!("f{i}.yml")), yaml).expect("flow");
        }
        let w = FlowWatcher::new(
            &dir,
            Arc::new(FlowRepository::new()),
            Arc::new(Registry::builtin()),
            Arc::new(Renderer::new()),
        );
        assert_eq!(w.scan().loaded.len(), 2_000);
        // what a saved flow costs the server: one more scan of the folder
        // (quadratic before: about a second of CPU at 1,600 files)
        let before = thread_cpu_ms();
        let report = w.scan();
        let spent = thread_cpu_ms() - before;
        assert!(report.loaded.is_empty() && report.removed.is_empty());
        assert!(spent < 400, "a scan of 2,000 unchanged files took {spent} ms of CPU");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
