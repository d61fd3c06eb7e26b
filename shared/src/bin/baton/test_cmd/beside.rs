//! The flows beside test files: a test file whose flow is not among the
//! paths given finds it in its own folder or the folder above (the usual
//! layout `flows/x.yaml` + `flows/tests/x.test.yaml`), so `baton test
//! examples/tests` needs no `--flows examples`. Only those two folders are
//! read, not searched recursively.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use shared::plugins::Registry;
use shared::template::Renderer;
use shared::unittest::{TestSuite, is_test_document};

use super::Parsed;

/// The most YAML files read from the folders beside the test files.
const MAX_BESIDE_FILES: usize = 1_000;

/// Adds to `flows` the flows of the folders holding (or above) each test
/// file whose flow is missing. A flow already loaded is never replaced.
pub(super) fn add_flows_beside<'a>(
    tests: impl Iterator<Item = (&'a Path, &'a TestSuite)>,
    flows: &mut HashMap<(String, String), Parsed>,
    registry: &Registry,
    renderer: &Renderer,
) {
    let mut dirs: Vec<PathBuf> = Vec::new();
    for (path, suite) in tests {
        if flows.contains_key(&(suite.namespace.clone(), suite.flow_id.clone())) {
            continue;
        }
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let dir = if dir.as_os_str().is_empty() { PathBuf::from(".") } else { dir };
        let above = dir.join("..");
        for d in [dir, above] {
            if !dirs.contains(&d) {
                dirs.push(d);
            }
        }
    }
    let mut read = 0usize;
    for d in dirs {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "yml" || x == "yaml"))
            .collect();
        files.sort();
        for f in files {
            read += 1;
            if read > MAX_BESIDE_FILES {
                return;
            }
            if let Some((key, parsed)) = read_flow(&f, registry, renderer) {
                flows.entry(key).or_insert(parsed);
            }
        }
    }
}

/// A flow file read and validated, keyed by (namespace, id); `None` for a
/// test file or anything that is not a flow.
pub(super) fn read_flow(path: &Path, registry: &Registry, renderer: &Renderer) -> Option<((String, String), Parsed)> {
    let source = shared::yaml::read_file(path).ok()?;
    let (root, _) = shared::yaml::parse(&source).ok()?;
    if is_test_document(&root) {
        return None;
    }
    let (ns, id) = (root.get("namespace")?.as_str()?, root.get("id")?.as_str()?);
    let name = path.display().to_string();
    let parsed = shared::validate::validate_source(&name, &source, registry, renderer);
    Some(((ns.to_string(), id.to_string()), parsed))
}
