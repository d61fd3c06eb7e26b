//! `baton validate PATH...`: every problem of every flow, located.

use std::path::PathBuf;

use shared::plugins::Registry;
use shared::template::Renderer;
use shared::validate::validate_paths;

pub fn validate(paths: &[PathBuf]) -> i32 {
    for p in paths {
        if !p.exists() {
            eprintln!("error: {} does not exist", p.display());
            return 2;
        }
    }
    let registry = Registry::builtin();
    let renderer = Renderer::new();
    let results = validate_paths(paths, &registry, &renderer);
    let mut bad = 0;
    for (path, diags) in &results {
        if diags.is_empty() {
            println!("✓ {}", path.display());
        } else {
            bad += 1;
            for d in diags {
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
