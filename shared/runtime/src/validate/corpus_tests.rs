//! Kestra's own test flows (`tests/fixtures/kestra-corpus`, vendored with
//! their licence) against `expected.txt`: every valid Kestra accepts
//! validates, every invalid is refused for its reason, each file has a
//! line, and the figures the README reports are what this computes.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::validate_source;
use crate::plugins::Registry;
use crate::template::Renderer;

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/kestra-corpus")
}

/// `PATH OUTCOME DETAIL` lines of `expected.txt` (not the `run` ones).
fn expected() -> BTreeMap<String, (String, String)> {
    let text = std::fs::read_to_string(corpus().join("expected.txt")).expect("expected.txt");
    let mut out = BTreeMap::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let mut parts = line.splitn(3, ' ');
        let (path, outcome) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        if outcome == "run" {
            continue;
        }
        let detail = parts.next().unwrap_or("").to_string();
        assert!(out.insert(path.to_string(), (outcome.to_string(), detail)).is_none(), "{path} listed twice");
    }
    out
}

#[test]
fn kestras_corpus_validates_as_expected() {
    let expected = expected();
    let (registry, renderer) = (Registry::builtin(), Renderer::new());
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    let mut wrong = Vec::new();
    for dir in ["valids", "invalids"] {
        let mut files: Vec<_> = std::fs::read_dir(corpus().join(dir)).expect("corpus dir").flatten().collect();
        files.sort_by_key(|e| e.file_name());
        for entry in files {
            let rel = format!("{dir}/{}", entry.file_name().to_string_lossy());
            let Some((outcome, detail)) = expected.get(&rel) else {
                wrong.push(format!("{rel}: no line in expected.txt"));
                continue;
            };
            let src = std::fs::read_to_string(entry.path()).expect("corpus file");
            let (_, diags) = validate_source(&rel, &src, &registry, &renderer);
            let lines: Vec<String> = diags.iter().map(ToString::to_string).collect();
            let has = |needle: &str| lines.iter().any(|l| l.contains(needle));
            let ok = match outcome.as_str() {
                "validates" => lines.is_empty(),
                "refused" | "gap" => !lines.is_empty() && has(detail),
                "excluded" => has("unknown task type") || has("unknown trigger type"),
                other => panic!("{rel}: unknown outcome {other}"),
            };
            if !ok {
                wrong.push(format!("{rel}: expected {outcome} {detail}, got {lines:?}"));
            }
            *counts.entry(outcome.as_str()).or_default() += 1;
        }
    }
    assert!(wrong.is_empty(), "{} files differ from expected.txt:\n{}", wrong.len(), wrong.join("\n"));
    // the README's figures
    let core = counts["validates"] + counts["gap"];
    assert_eq!((counts["validates"], core), (163, 169), "{counts:?}");
    assert_eq!(counts["refused"], 22);
    // the four `retry.behavior: CREATE_NEW_EXECUTION` flows are refused by
    // name (they were accepted and their behavior ignored): 96.4 %
    assert!(counts["validates"] * 100 >= core * 96, "at least 96 % of the core-only valids validate");
}
