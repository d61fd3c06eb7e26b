//! Helpers for the rules' unit tests: migrate, compare, and check that a
//! second run changes nothing.

use crate::migrate::{Migration, migrate};

/// Migrates `src`, asserts the output is `expected` and that migrating it
/// again changes nothing and reports nothing new to rewrite.
pub fn check(src: &str, expected: &str) -> Migration {
    let m = migrate(src).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(m.output, expected, "\n--- got ---\n{}\n--- findings ---\n{:#?}", m.output, m.findings);
    let again = migrate(&m.output).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(again.output, m.output, "not idempotent");
    assert!(again.findings.iter().all(|f| f.manual), "second run rewrote: {:#?}", again.findings);
    m
}

/// The rules named in the findings, as `rule:line` strings.
pub fn found(m: &Migration) -> Vec<String> {
    m.findings.iter().map(|f| format!("{}:{}{}", f.rule, f.position.line, if f.manual { "!" } else { "" })).collect()
}
