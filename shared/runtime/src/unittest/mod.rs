//! Flow unit tests in Kestra's format (`baton test`): a test file names a
//! flow (`namespace`, `flowId`) and holds `testCases` of type
//! `io.kestra.core.tests.flow.UnitTest`, each with `fixtures` (inputs,
//! inline files, mocked tasks, a trigger) and `assertions`. Each case runs
//! as its own transient execution; a mocked task returns its fixture's
//! outputs and state without running (`runtime::fixtures`).
//!
//! [`parse`] reads a file with file:line:column problems, [`check`] holds it
//! against its flow, [`assert`] runs the operators and [`run`] a case.
//! [`keys`] declares every key of the format once: the parser's checks,
//! the JSON Schema ([`schema`], `GET /api/v1/plugins/schemas/test`) and the
//! reference page read it. [`record`] turns one real run of a case into task fixtures and
//! [`write`] puts them into the test file (`baton test --record`);
//! [`nsfiles`] gives a case its namespace files, and records those a run read.

pub mod assert;
pub mod check;
pub mod keys;
pub mod model;
pub mod nsfiles;
#[cfg(test)]
mod nsfiles_tests;
pub mod parse;
pub mod record;
pub mod run;
pub mod schema;
#[cfg(test)]
mod tests;
pub mod write;

pub use model::{Assertion, Fixtures, Operator, TaskFixture, TestSuite, UnitTest};
pub use parse::{is_test_document, parse_source};
pub use run::{CaseOutcome, CaseState, run_case};
