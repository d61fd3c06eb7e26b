//! [`FolderFlows`]: the flow files of a folder (`*.yml`, `*.yaml`, in
//! subfolders too), as `baton server local --flows` and a function's
//! `BATON_FLOWS` folder keep them. A flow is declared by the file whose
//! top-level `namespace` and `id` name it, whatever the file is called; a
//! new flow is written as `{namespace}.{id}.yml`.
//!
//! Which file declares which flow is remembered per file by modification
//! time and size, so writing one flow in a folder of thousands reads only
//! the files that changed since.
//!
//! A folder of flows may hold flow unit test files beside them (`baton
//! test`: a top-level `flowId` and `testCases`). They declare no flow;
//! [`FolderFlows::tests`] is the same folder seen as its test files, each
//! declared by its `namespace` and `id` and written as
//! `{namespace}.{id}.test.yml` (the API's test routes keep tests there).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::SystemTime;

use async_trait::async_trait;
use baton_backend::flow_files::{FlowFile, FlowFiles};
use baton_backend::{BackendError, Result};

/// `(modified, len)` of a file when its declaration was read.
type Stamp = (Option<SystemTime>, u64);

/// The `(namespace, id)` a file declares, if it parses.
type Declaration = Option<(String, String)>;

/// What a [`FolderFlows`] reads: the flows, or the test files beside them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Flows,
    Tests,
}

/// A folder of flow files.
pub struct FolderFlows {
    dir: PathBuf,
    kind: Kind,
    /// Per file: its stamp and the `(namespace, id)` it declares (if any).
    declared: Mutex<HashMap<PathBuf, (Stamp, Declaration)>>,
}

/// `*.yml` and `*.yaml` files under `dir`, recursively, sorted.
pub fn flow_file_paths(dir: &Path) -> Vec<PathBuf> {
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

fn io(what: String) -> impl FnOnce(std::io::Error) -> BackendError {
    move |source| BackendError::Io { what, source }
}

/// The top-level `namespace` and `id` of a source of `kind`, when it
/// parses (a test file, with `flowId` and `testCases`, declares no flow;
/// a flow declares no test).
fn declaration(source: &str, kind: Kind) -> Declaration {
    let (v, _) = baton_model::yaml::parse(source).ok()?;
    let is_test = v.get("flowId").is_some() && v.get("testCases").is_some();
    if is_test != (kind == Kind::Tests) {
        return None;
    }
    Some((v.get("namespace")?.as_str()?.to_string(), v.get("id")?.as_str()?.to_string()))
}

impl FolderFlows {
    pub fn new(dir: &Path) -> FolderFlows {
        FolderFlows { dir: dir.to_path_buf(), kind: Kind::Flows, declared: Mutex::new(HashMap::new()) }
    }

    /// The flow unit test files of `dir` (and its subfolders): `list` gives
    /// only them, a new one is written as `{namespace}.{id}.test.yml`.
    pub fn tests(dir: &Path) -> FolderFlows {
        FolderFlows { dir: dir.to_path_buf(), kind: Kind::Tests, declared: Mutex::new(HashMap::new()) }
    }

    /// The declaration of `path`, read again only when it changed.
    fn declared_by(&self, declared: &mut HashMap<PathBuf, (Stamp, Declaration)>, path: &Path) -> Declaration {
        let stamp = Self::stamp(path);
        if let Some((_, d)) = declared.get(path).filter(|(s, _)| *s == stamp) {
            return d.clone();
        }
        let d = baton_model::yaml::read_file(path).ok().as_deref().and_then(|s| declaration(s, self.kind));
        declared.insert(path.to_path_buf(), (stamp, d.clone()));
        d
    }

    fn stamp(path: &Path) -> Stamp {
        let meta = std::fs::metadata(path).ok();
        (meta.as_ref().and_then(|m| m.modified().ok()), meta.map_or(0, |m| m.len()))
    }

    /// The files declaring `namespace.id`, read again only when changed.
    fn paths_of(&self, namespace: &str, id: &str) -> Vec<PathBuf> {
        let present = flow_file_paths(&self.dir);
        let mut declared = self.declared.lock().unwrap_or_else(PoisonError::into_inner);
        declared.retain(|p, _| present.binary_search(p).is_ok());
        let mut out = Vec::new();
        for path in present {
            let decl = self.declared_by(&mut declared, &path);
            if decl.is_some_and(|(n, i)| n == namespace && i == id) {
                out.push(path);
            }
        }
        out
    }
}

#[async_trait]
impl FlowFiles for FolderFlows {
    fn location(&self) -> String {
        format!("folder {}", self.dir.display())
    }

    async fn list(&self) -> Result<Vec<String>> {
        let paths = flow_file_paths(&self.dir);
        if self.kind == Kind::Flows {
            return Ok(paths.into_iter().map(|p| p.display().to_string()).collect());
        }
        let mut declared = self.declared.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(paths
            .into_iter()
            .filter(|p| self.declared_by(&mut declared, p).is_some())
            .map(|p| p.display().to_string())
            .collect())
    }

    async fn read(&self, path: &str) -> Result<Option<String>> {
        match baton_model::yaml::read_file(Path::new(path)) {
            Ok(s) => Ok(Some(s)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(format!("read flow file {path}"))(e)),
        }
    }

    async fn files_of(&self, namespace: &str, id: &str) -> Result<Vec<FlowFile>> {
        let mut out = Vec::new();
        for path in self.paths_of(namespace, id) {
            let path = path.display().to_string();
            if let Some(source) = self.read(&path).await? {
                out.push(FlowFile { path, source });
            }
        }
        Ok(out)
    }

    async fn write(&self, namespace: &str, id: &str, source: &str) -> Result<String> {
        let mut paths = self.paths_of(namespace, id).into_iter();
        let ext = if self.kind == Kind::Tests { "test.yml" } else { "yml" };
        let path = paths.next().unwrap_or_else(|| self.dir.join(format!("{namespace}.{id}.{ext}")));
        // written aside then renamed: a poller never reads half a file
        let tmp = path.with_extension(format!("yml.{}.tmp", uuid::Uuid::new_v4().simple()));
        tokio::fs::write(&tmp, source).await.map_err(io(format!("write {}", tmp.display())))?;
        tokio::fs::rename(&tmp, &path).await.map_err(io(format!("write {}", path.display())))?;
        for other in paths {
            tokio::fs::remove_file(&other).await.map_err(io(format!("remove {}", other.display())))?;
        }
        Ok(path.display().to_string())
    }

    async fn remove(&self, namespace: &str, id: &str) -> Result<Vec<String>> {
        let mut removed = Vec::new();
        for path in self.paths_of(namespace, id) {
            tokio::fs::remove_file(&path).await.map_err(io(format!("remove {}", path.display())))?;
            removed.push(path.display().to_string());
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_backend::contract_flow_files::flow_files_contract;

    #[tokio::test]
    async fn a_folder_passes_the_flow_files_contract() {
        let dir = crate::test_dir::temp();
        std::fs::create_dir_all(dir.path()).expect("mkdir");
        flow_files_contract(&FolderFlows::new(dir.path())).await;
    }

    #[tokio::test]
    async fn a_bucket_prefix_passes_the_flow_files_contract() {
        let dir = crate::test_dir::temp();
        std::fs::create_dir_all(dir.path()).expect("mkdir");
        let storage = std::sync::Arc::new(crate::FsStorage::new(dir.path()).expect("storage"));
        flow_files_contract(&baton_backend::flow_files::BucketFlows::new(storage, "/flows/")).await;
    }

    #[tokio::test]
    async fn a_flow_is_found_by_what_its_file_declares_and_a_rewrite_keeps_its_file() {
        let dir = crate::test_dir::temp();
        std::fs::create_dir_all(dir.path()).expect("mkdir");
        std::fs::create_dir(dir.path().join("sub")).expect("mkdir");
        let named = dir.path().join("sub/anything.yaml");
        std::fs::write(&named, "id: a\nnamespace: team\ntasks: []\n").expect("write");
        std::fs::write(dir.path().join("broken.yml"), "id: [\n").expect("write");
        let files = FolderFlows::new(dir.path());
        let of = files.files_of("team", "a").await.expect("files_of");
        assert_eq!(of.len(), 1);
        assert_eq!(of[0].path, named.display().to_string());
        let written = files.write("team", "a", "id: a\nnamespace: team\ntasks: []\n# v2\n").await.expect("write");
        assert_eq!(written, named.display().to_string(), "the file that declares the flow is rewritten");
        assert!(std::fs::read_to_string(&named).expect("read").ends_with("# v2\n"));
        assert_eq!(files.list().await.expect("list").len(), 2, "no second file, the broken one untouched");
    }

    #[tokio::test]
    async fn the_tests_beside_flows_are_their_own_files() {
        let dir = crate::test_dir::temp();
        std::fs::create_dir_all(dir.path()).expect("mkdir");
        let flow = "id: a\nnamespace: team\ntasks: []\n";
        let test = "id: a\nnamespace: team\nflowId: a\ntestCases: []\n";
        std::fs::write(dir.path().join("team.a.yml"), flow).expect("write");
        let (flows, tests) = (FolderFlows::new(dir.path()), FolderFlows::tests(dir.path()));
        let written = tests.write("team", "a", test).await.expect("write test");
        assert!(written.ends_with("team.a.test.yml"), "{written}");
        assert_eq!(tests.list().await.expect("list"), vec![written.clone()], "only the test file");
        assert_eq!(flows.files_of("team", "a").await.expect("of").len(), 1, "the flow is not its test");
        assert_eq!(tests.files_of("team", "a").await.expect("of")[0].source, test);
        assert_eq!(tests.remove("team", "a").await.expect("remove"), vec![written]);
        assert!(dir.path().join("team.a.yml").exists(), "removing the test leaves the flow");
    }
}
