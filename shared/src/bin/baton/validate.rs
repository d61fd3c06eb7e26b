//! `baton validate PATH...`: every problem of every flow, located, and
//! each flow's Kestra dialect with the reason.

use std::path::PathBuf;

use shared::dialect::Policy;
use shared::plugins::Registry;
use shared::template::Renderer;
use shared::validate::validate_paths_with;

pub fn validate(paths: &[PathBuf], policy: Policy) -> i32 {
    for p in paths {
        if !p.exists() {
            eprintln!("error: {} does not exist", p.display());
            return 2;
        }
    }
    let registry = Registry::builtin();
    let renderer = Renderer::new();
    let results = validate_paths_with(paths, &registry, &renderer, policy);
    let mut bad = 0;
    for (path, report) in &results {
        let dialect =
            report.dialect.as_ref().map(|r| format!(" [Kestra {}: {}]", r.dialect, r.reason)).unwrap_or_default();
        if report.diagnostics.is_empty() {
            println!("✓ {}{dialect}", path.display());
        } else {
            bad += 1;
            println!("✗ {}{dialect}", path.display());
            for d in &report.diagnostics {
                println!("{d}");
            }
        }
    }
    if results.is_empty() {
        eprintln!("error: no *.yml or *.yaml flow found");
        return 1;
    }
    eprintln!("{} flow(s) checked, {} invalid", results.len(), bad);
    if bad > 0 { 1 } else { 0 }
}
