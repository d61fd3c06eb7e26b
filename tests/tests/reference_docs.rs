//! The documentation's reference pages are what the code generates: `baton
//! plugins --doc` run into a temporary folder (beside a copy of
//! `docs/src/SUMMARY.md`) writes exactly `docs/src/reference/` and the
//! table of contents' generated block. And `baton --version` names the
//! commit it was built from.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::sched_support::temp_dir;
use crate::support::baton_bin;

const REFRESH: &str = "run `baton plugins --doc docs/src/reference` (a baton built with `--features gcp`, \
                       e.g. `cargo run -p shared --features gcp -- plugins --doc docs/src/reference`) to refresh";

/// The files under `dir`, relative to it.
fn files(dir: &Path) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else if let Ok(rel) = p.strip_prefix(dir) {
                out.insert(rel.to_path_buf());
            }
        }
    }
    out
}

#[test]
fn the_reference_pages_in_the_docs_are_the_generated_ones() {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/src");
    let tmp = temp_dir("baton-reference");
    std::fs::copy(docs.join("SUMMARY.md"), tmp.join("SUMMARY.md")).expect("copy SUMMARY.md");
    let out = Command::new(baton_bin()).args(["plugins", "--doc"]).arg(tmp.join("reference")).output().expect("baton");
    assert!(out.status.success(), "baton plugins --doc: {}", String::from_utf8_lossy(&out.stderr));
    let (want, have) = (tmp.join("reference"), docs.join("reference"));
    let mut problems = Vec::new();
    let (generated, written) = (files(&want), files(&have));
    for f in generated.union(&written) {
        let shown = Path::new("docs/src/reference").join(f).display().to_string();
        match (std::fs::read(want.join(f)).ok(), std::fs::read(have.join(f)).ok()) {
            (Some(_), None) => problems.push(format!("{shown} is missing")),
            (None, Some(_)) => problems.push(format!(
                "{shown} is not generated (a page it wrote before is removed by the command; remove any other)"
            )),
            (Some(a), Some(b)) if a != b => problems.push(format!("{shown} is stale")),
            _ => {}
        }
    }
    let summary = |dir: &Path| std::fs::read_to_string(dir.join("SUMMARY.md")).expect("SUMMARY.md");
    if summary(&tmp) != summary(&docs) {
        problems.push("docs/src/SUMMARY.md's reference block is stale".to_string());
    }
    let _ = std::fs::remove_dir_all(&tmp);
    assert!(problems.is_empty(), "{}; {REFRESH}", problems.join("; "));
}

#[test]
fn baton_version_names_the_commit_it_was_built_from() {
    let out = Command::new(baton_bin()).arg("--version").output().expect("baton --version");
    let text = String::from_utf8_lossy(&out.stdout);
    let rest = text.trim().strip_prefix(&format!("baton {} (commit ", env!("CARGO_PKG_VERSION"))).unwrap_or_default();
    let commit = rest.strip_suffix(')').unwrap_or_default();
    let hash = commit.strip_suffix("-dirty").unwrap_or(commit);
    assert!(
        hash == "unknown" || (hash.len() >= 7 && hash.chars().all(|c| c.is_ascii_hexdigit())),
        "baton --version: {text:?}"
    );
}
