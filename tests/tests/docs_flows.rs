//! Every flow the documentation shows validates (issue 47): each fenced
//! ```` ```yaml ```` / ```` ```yml ```` block of README.md and
//! docs/src/**/*.md (not the generated docs/src/reference/ nor
//! docs/src/bench/) with a top-level `id:` and `namespace:` line is checked
//! with the validator `baton validate` runs, the built-in plugins
//! registered, and so is every examples/*.yaml. A block that is partial or
//! wrong on purpose is marked by `<!-- not-a-flow -->` on the line before
//! its fence (docs/src/contributing/testing.md). A block marked
//! `<!-- runs: STATE … -->` is also run (`docs_runs`).

use std::path::{Path, PathBuf};

use shared::dialect::Policy;
use shared::plugins::Registry;
use shared::template::Renderer;
use shared::validate::validate_source_with;

/// The marker, alone on the line before a fence, that skips the block.
const NOT_A_FLOW: &str = "<!-- not-a-flow -->";

/// One flow-shaped YAML block of a markdown file.
pub(crate) struct Block {
    /// The 1-based line of its opening fence.
    pub(crate) line: usize,
    pub(crate) source: String,
    skipped: bool,
    /// The `<!-- runs: … -->` marker's text after `runs:`, if the line
    /// before the fence is one.
    pub(crate) runs: Option<String>,
}

/// The fenced yaml/yml blocks of `text` with a top-level `id:` and
/// `namespace:` line (the fence's indentation removed).
pub(crate) fn flow_blocks(text: &str) -> Vec<Block> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let trimmed = lines[i].trim_start();
        let indent = lines[i].len() - trimmed.len();
        let fence: String = trimmed.chars().take_while(|c| *c == '`' || *c == '~').collect();
        if fence.len() < 3 || !(fence.chars().all(|c| c == '`') || fence.chars().all(|c| c == '~')) {
            i += 1;
            continue;
        }
        let info = trimmed[fence.len()..].trim();
        let lang = info.split(|c: char| c.is_whitespace() || c == ',' || c == '{').next().unwrap_or("");
        let start = i;
        let prev = lines[..start].iter().rev().find(|l| !l.trim().is_empty()).map(|l| l.trim());
        let mut body = Vec::new();
        i += 1;
        while i < lines.len() {
            let t = lines[i].trim_start();
            if t.starts_with(fence.as_str()) && t.trim_end().chars().all(|c| c == fence.chars().next().unwrap()) {
                break;
            }
            let l = lines[i];
            let cut = l.len() - l.trim_start().len();
            body.push(&l[cut.min(indent)..]);
            i += 1;
        }
        i += 1;
        if !matches!(lang, "yaml" | "yml") {
            continue;
        }
        let top = |key: &str| body.iter().any(|l| l.starts_with(key));
        if top("id:") && top("namespace:") {
            let mut source = body.join("\n");
            source.push('\n');
            let runs = prev
                .and_then(|p| p.strip_prefix("<!-- runs:"))
                .and_then(|p| p.strip_suffix("-->"))
                .map(|p| p.trim().to_string());
            out.push(Block { line: start + 1, source, skipped: prev == Some(NOT_A_FLOW), runs });
        }
    }
    out
}

/// The markdown files checked, relative to the repository root, sorted.
pub(crate) fn markdown_files(root: &Path) -> Vec<PathBuf> {
    let mut out = vec![PathBuf::from("README.md")];
    let mut todo = vec![PathBuf::from("docs/src")];
    let excluded = [Path::new("docs/src/reference"), Path::new("docs/src/bench")];
    while let Some(dir) = todo.pop() {
        for e in std::fs::read_dir(root.join(&dir)).expect("read docs folder").flatten() {
            let rel = dir.join(e.file_name());
            if excluded.contains(&rel.as_path()) {
                continue;
            }
            if e.path().is_dir() {
                todo.push(rel);
            } else if rel.extension().is_some_and(|x| x == "md") {
                out.push(rel);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn every_flow_in_the_docs_and_examples_validates() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let registry = Registry::builtin();
    let renderer = Renderer::new();
    let mut problems = Vec::new();
    let (mut checked, mut skipped) = (0, Vec::new());
    // `file`, the source's first line's line in it less one, what to call it
    let mut check = |file: &str, offset: usize, shown: String, source: &str| {
        // a unit test file (`baton test`) is checked as one, not as a flow
        let is_test = shared::yaml::parse(source).is_ok_and(|(root, _)| shared::unittest::is_test_document(&root));
        let diagnostics = if is_test {
            shared::unittest::parse_source(file, source).1
        } else {
            validate_source_with(file, source, &registry, &renderer, Policy::AUTO).diagnostics
        };
        checked += 1;
        if !diagnostics.is_empty() {
            let diags: Vec<String> = diagnostics
                .into_iter()
                .map(|mut d| {
                    d.line = d.line.map(|l| l + offset);
                    format!("    {d}")
                })
                .collect();
            problems.push(format!("{shown}:\n{}", diags.join("\n")));
        }
    };
    let mut doc_blocks = 0;
    for rel in markdown_files(&root) {
        let text = std::fs::read_to_string(root.join(&rel)).expect("read markdown");
        for b in flow_blocks(&text) {
            let shown = format!("{} (block at line {})", rel.display(), b.line);
            if b.skipped {
                skipped.push(shown);
                continue;
            }
            doc_blocks += 1;
            check(&rel.display().to_string(), b.line, shown, &b.source);
        }
    }
    let mut examples: Vec<PathBuf> = std::fs::read_dir(root.join("examples"))
        .expect("examples/")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    examples.sort();
    let example_count = examples.len();
    for p in examples {
        let source = std::fs::read_to_string(&p).expect("read example");
        let shown = format!("examples/{}", p.file_name().unwrap_or_default().to_string_lossy());
        check(&shown.clone(), 0, shown, &source);
    }
    assert!(
        problems.is_empty(),
        "{} of {checked} flow(s) invalid (fix the flow, or mark a block that is partial or wrong on purpose with \
         `{NOT_A_FLOW}` on the line before its fence):\n{}",
        problems.len(),
        problems.join("\n")
    );
    // README.md, the quick start, the editor guide and the dbt and GCP
    // tutorials hold one flow each; examples/ holds six: at least ten in all
    assert!(doc_blocks >= 5, "only {doc_blocks} flow block(s) found in the docs: is the extraction broken?");
    assert!(example_count >= 5, "only {example_count} example flow(s) found in examples/");
    assert!(checked >= 10, "only {checked} flow(s) checked");
    assert!(skipped.len() <= 10, "{} skipped blocks: {}", skipped.len(), skipped.join(", "));
    eprintln!("{doc_blocks} docs block(s) and {example_count} example(s) valid; skipped: {skipped:?}");
}

#[test]
fn the_block_extraction_finds_indented_fences_and_the_marker() {
    let md = "text\n\n```yaml\nid: a\nnamespace: b\n```\n\n- item\n\n  ```yml\n  id: c\n  namespace: d\n  ```\n\n\
              <!-- not-a-flow -->\n```yaml\nid: e\nnamespace: f\n```\n\n```yaml\ntasks: []\n```\n\n```bash\nid: x\nnamespace: y\n```\n";
    let blocks = flow_blocks(md);
    let got: Vec<(usize, bool, &str)> = blocks.iter().map(|b| (b.line, b.skipped, b.source.as_str())).collect();
    assert_eq!(
        got,
        vec![
            (3, false, "id: a\nnamespace: b\n"),
            (10, false, "id: c\nnamespace: d\n"),
            (16, true, "id: e\nnamespace: f\n"),
        ]
    );
}
