//! The declared variables against the sources: each `BATON_…` name the
//! code of `shared/` and `functions/` writes is declared, and each declared
//! one is written somewhere besides its declaration.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::ALL;

/// The workspace root (this crate is `shared/model`).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The Rust sources that are neither tests nor benches.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if p.is_dir() {
            if !matches!(name.as_str(), "tests" | "benches" | "target" | "node_modules") {
                sources(&p, out);
            }
        } else if name.ends_with(".rs") && name != "tests.rs" && !name.ends_with("_tests.rs") {
            out.push(p);
        }
    }
}

/// The `BATON_…` names in the code (not in comments, not in a test
/// module) of each file.
fn names_in_code() -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    sources(&root().join("shared"), &mut files);
    sources(&root().join("functions"), &mut files);
    let mut found: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in files {
        let text = std::fs::read_to_string(&f).expect("source");
        let shown = f.strip_prefix(root()).unwrap_or(&f).display().to_string();
        for line in text.lines().take_while(|l| l.trim() != "#[cfg(test)]") {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            let mut rest = code;
            while let Some(i) = rest.find("BATON_") {
                let word: String = rest[i..]
                    .chars()
                    .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                    .collect();
                let word = word.trim_end_matches('_').to_string();
                // cargo's `DEP_BATON_SHARED_…` (links metadata between build
                // scripts) is not a setting
                let cargo_dep = rest[..i].ends_with("DEP_");
                if word.len() > "BATON_".len() && !cargo_dep {
                    found.entry(word.clone()).or_default().insert(shown.clone());
                }
                rest = &rest[i + word.len().max(6)..];
            }
        }
    }
    found
}

#[test]
fn every_variable_the_code_reads_is_declared_and_every_declared_one_is_read() {
    let found = names_in_code();
    let declared: BTreeSet<&str> = ALL.iter().map(|s| s.name).collect();
    let undeclared: Vec<String> = found
        .iter()
        .filter(|(name, _)| !declared.contains(name.as_str()))
        .map(|(name, files)| format!("{name} (in {})", files.iter().cloned().collect::<Vec<_>>().join(", ")))
        .collect();
    assert!(
        undeclared.is_empty(),
        "declare these in shared/model/src/settings.rs (the configuration reference is generated from it): {undeclared:?}"
    );
    let unread: Vec<&str> = declared
        .iter()
        .filter(|name| found.get(**name).is_none_or(|files| files.iter().all(|f| f.ends_with("settings.rs"))))
        .copied()
        .collect();
    assert!(unread.is_empty(), "declared in settings.rs but read nowhere: {unread:?}");
}

#[test]
fn the_list_is_sorted_and_each_variable_says_what_it_does_and_who_reads_it() {
    let names: Vec<&str> = ALL.iter().filter(|s| !s.internal).map(|s| s.name).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "ALL is sorted by name (internal ones last)");
    for s in ALL {
        assert!(s.name.starts_with("BATON_") && !s.doc.is_empty() && !s.read_by.is_empty(), "{s:?}");
    }
    assert_eq!(super::find("BATON_HOME").and_then(|s| s.default), Some("`~/.baton`"));
}
