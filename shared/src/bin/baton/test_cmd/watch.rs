//! `baton test --watch [PATH...]`: runs every case once, then watches the
//! YAML files of the paths (and of `--flows`, and the folders beside each
//! test file where its flow may live) by polling their modification time
//! and size every [`POLL`], and re-runs the cases a change touches: a test
//! file changed re-runs its cases; a flow changed re-runs every test file
//! naming it. Ctrl-C exits 0. No file-system notification crate: polling a
//! few hundred files twice a second costs nothing and behaves the same on
//! every file system (network mounts, containers' bind mounts).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::{MAX_FILES, TestArgs, run_tests, show, yaml_files};

/// How often the files are checked.
const POLL: Duration = Duration::from_millis(500);

/// What a file looked like: modification time and size (`None`: unreadable).
type Stamp = Option<(SystemTime, u64)>;

pub(super) async fn watch(a: TestArgs) -> i32 {
    let roots: Vec<PathBuf> = if a.paths.is_empty() { vec![PathBuf::from(".")] } else { a.paths.clone() };
    // polled once now, so that Ctrl-C is caught from here on, the first run included
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    tokio::select! {
        biased;
        _ = &mut ctrl_c => return 0,
        _ = std::future::ready(()) => {}
    }
    let mut seen = match snapshot(&roots, &a.flows) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    run_tests(&a, None).await;
    println!("watching {} ({} YAML files) for changes; Ctrl-C stops", show(&roots), seen.len());
    loop {
        tokio::select! {
            _ = &mut ctrl_c => {
                println!("stopped watching");
                return 0;
            }
            _ = tokio::time::sleep(POLL) => {}
        }
        let now = match snapshot(&roots, &a.flows) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {e}");
                continue;
            }
        };
        let changed: Vec<PathBuf> =
            now.iter().filter(|(p, m)| seen.get(*p) != Some(*m)).map(|(p, _)| p.clone()).collect();
        seen = now;
        if changed.is_empty() {
            continue;
        }
        let targets = affected(&changed, seen.keys());
        if targets.is_empty() {
            continue;
        }
        println!("\n--- {} changed: re-running {}", show(&changed), show(&targets));
        run_tests(&a, Some(&targets)).await;
        println!("watching for changes; Ctrl-C stops");
    }
}

/// Every YAML file watched, with its stamp: those under `roots` and
/// `flows`, and those of the folder above each test file's folder.
fn snapshot(roots: &[PathBuf], flows: &[PathBuf]) -> Result<BTreeMap<PathBuf, Stamp>, String> {
    let mut files = Vec::new();
    for p in roots.iter().chain(flows) {
        if p.exists() {
            yaml_files(p, &mut files)?;
        }
    }
    let mut beside = Vec::new();
    for f in &files {
        if suite_of(f).is_some()
            && let Some(dir) = f.parent()
        {
            for d in [dir.to_path_buf(), dir.join("..")] {
                if !beside.contains(&d) {
                    beside.push(d);
                }
            }
        }
    }
    for d in beside {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        files.extend(
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "yml" || x == "yaml")),
        );
        if files.len() > MAX_FILES {
            return Err(format!("more than {MAX_FILES} YAML files to watch: name fewer paths"));
        }
    }
    Ok(files.into_iter().map(|f| (f.clone(), stamp(&f))).collect())
}

fn stamp(p: &Path) -> Stamp {
    let m = std::fs::metadata(p).ok()?;
    Some((m.modified().ok()?, m.len()))
}

/// The (namespace, flowId) a test file names; `None` for another file.
fn suite_of(p: &Path) -> Option<(String, String)> {
    let (root, _) = shared::yaml::parse(&shared::yaml::read_file(p).ok()?).ok()?;
    if !shared::unittest::is_test_document(&root) {
        return None;
    }
    Some((root.get("namespace")?.as_str()?.to_string(), root.get("flowId")?.as_str()?.to_string()))
}

/// The (namespace, id) of a flow file; `None` for another file.
fn flow_of(p: &Path) -> Option<(String, String)> {
    let (root, _) = shared::yaml::parse(&shared::yaml::read_file(p).ok()?).ok()?;
    if shared::unittest::is_test_document(&root) {
        return None;
    }
    Some((root.get("namespace")?.as_str()?.to_string(), root.get("id")?.as_str()?.to_string()))
}

/// The test files to re-run for `changed`: the changed test files, and
/// every test file of a changed flow.
fn affected<'a>(changed: &[PathBuf], all: impl Iterator<Item = &'a PathBuf>) -> Vec<PathBuf> {
    let all: Vec<&PathBuf> = all.collect();
    let mut out: Vec<PathBuf> = Vec::new();
    for c in changed {
        if suite_of(c).is_some() {
            out.push(c.clone());
        } else if let Some(flow) = flow_of(c) {
            out.extend(all.iter().filter(|t| suite_of(t).as_ref() == Some(&flow)).map(|t| (*t).clone()));
        }
    }
    out.sort();
    out.dedup();
    out
}
