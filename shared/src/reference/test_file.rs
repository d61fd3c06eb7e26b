//! The test file reference: every key of a flow unit test file and every
//! assertion operator, from the tables `baton test`'s parser checks and the
//! test file's JSON Schema reads (`unittest::keys`, `unittest::Operator`).

use super::markdown::{cell, code, table};
use super::{MARK, Page};
use crate::unittest::keys::{KeyKind, MOCK_STATES, SUITE, Shape};
use crate::unittest::model::{Expects, Operator, UNIT_TEST_TYPE};

/// A key's kind, in words.
fn kind(k: KeyKind) -> String {
    match k {
        KeyKind::Text => "string".into(),
        KeyKind::Boolean => "boolean".into(),
        KeyKind::Map => "map".into(),
        KeyKind::TextMap => "map of string".into(),
        KeyKind::Any => "any".into(),
        KeyKind::CaseType => UNIT_TEST_TYPE.into(),
        KeyKind::MockState => MOCK_STATES.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" \\| "),
        KeyKind::Object(s) => s.name.into(),
        KeyKind::List(s) => format!("list of {}", s.name),
    }
}

fn expects(e: Expects) -> &'static str {
    match e {
        Expects::Flag => "boolean",
        Expects::List => "list",
        Expects::Anything => "any",
        Expects::Scalar => "string, number or boolean",
    }
}

fn section(s: &Shape) -> String {
    let rows: Vec<Vec<String>> = s
        .keys
        .iter()
        .map(|k| {
            vec![code(k.name), format!("`{}`", kind(k.kind)), if k.required { "yes" } else { "" }.into(), cell(k.doc)]
        })
        .collect();
    format!("\n## {}\n\n{}\n\n{}", s.name, cell(s.doc), table(&["key", "type", "required", "what it is"], &rows))
}

/// The page.
pub fn page() -> Page {
    let mut text = format!(
        "{MARK}\n# Test file properties\n\nThe keys of a flow unit test file (Kestra's format), as `baton test` \
         and the server's `/tests` routes accept them and the test file's JSON Schema (`GET \
         /api/v1/plugins/schemas/test`, which the UI's test editor completes from) describes them; any other \
         key is refused with its file:line:column. [Testing flows](../guides/testing-flows.md) tells how to write \
         and run tests.\n"
    );
    for s in SUITE.all() {
        text.push_str(&section(s));
    }
    let rows: Vec<Vec<String>> =
        Operator::ALL.iter().map(|o| vec![code(o.key()), code(expects(o.expects())), cell(o.doc())]).collect();
    let aliases: Vec<String> = Operator::ALIASES.iter().map(|(a, o)| format!("`{a}` (for `{}`)", o.key())).collect();
    text.push_str(&format!(
        "\n## Assertion operators\n\nAn assertion gives at least one; each is checked against the rendered \
         `value`. Kestra 0.23's names are read too: {}.\n\n{}",
        aliases.join(", "),
        table(&["operator", "expects", "holds when"], &rows)
    ));
    Page { path: "test-file.md".into(), title: "Test file properties".into(), depth: 0, text }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_key_and_operator_is_on_the_page() {
        let page = super::page();
        for s in crate::unittest::keys::SUITE.all() {
            for name in s.names() {
                assert!(page.text.contains(&format!("`{name}`")), "{}.{name}", s.name);
            }
        }
    }
}
