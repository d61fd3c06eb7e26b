//! `baton validate PATH...` (also `baton flows validate`, Kestra's `flow
//! validate`): every problem of every flow, located, and each flow's Kestra
//! dialect. A reason particular to a flow (its label, a construct only one
//! dialect has) is given on its line; the reason many flows share (they use
//! no construct of either dialect, or the `--dialect` given) once, at the end.

use std::collections::BTreeMap;
use std::path::PathBuf;

use shared::dialect::{Basis, Policy};
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
    // shared reasons: reason → how many flows
    let mut shared_reasons: BTreeMap<String, usize> = BTreeMap::new();
    for (path, report) in &results {
        let dialect = match &report.dialect {
            Some(r) if matches!(r.basis, Basis::Default | Basis::Server) => {
                *shared_reasons.entry(format!("Kestra {}: {}", r.dialect, r.reason)).or_default() += 1;
                format!(" [Kestra {}]", r.dialect)
            }
            Some(r) => format!(" [Kestra {}: {}]", r.dialect, r.reason),
            None => String::new(),
        };
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
    for (reason, n) in &shared_reasons {
        let which = if *n == results.len() { "every flow".to_string() } else { format!("{n} flow(s)") };
        println!("note: {which} — {reason}");
    }
    eprintln!("{} flow(s) checked, {} invalid", results.len(), bad);
    if bad > 0 { 1 } else { 0 }
}
