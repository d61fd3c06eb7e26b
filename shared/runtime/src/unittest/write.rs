//! Writes recorded fixtures into a test file ([`super::record`]): the
//! recorded case's block is replaced in the source text, re-emitted as
//! block YAML at the same indentation, so the rest of the file — other
//! cases, comments, key order — stays as written. Only the case's own
//! inner comments are lost. When the case's block cannot be found safely
//! (a flow-style list, an unusual layout) or the spliced text does not
//! read back as intended, [`splice_case`] says so and the caller writes a
//! whole new document ([`document`]) beside the file instead.

use serde_json::{Map, Value};

use super::model::TaskFixture;
use crate::model::StateType;
use crate::yaml::child_index;

/// The case at `index` of `root` (a test document) with the recorded
/// `tasks` and `files` merged into its fixtures: a recorded task replaces
/// the case's fixtures of the same task id; others are kept. Recorded
/// `namespace_files` replace the case's `namespaceFiles` (the run read
/// those); none recorded leaves them as they are.
pub fn merged_case(
    root: &Value,
    index: usize,
    tasks: &[TaskFixture],
    files: &[(String, String)],
    namespace_files: &[(String, String)],
) -> Option<Value> {
    let mut case = root.get("testCases")?.get(index)?.clone();
    let obj = case.as_object_mut()?;
    let fixtures = obj.entry("fixtures").or_insert_with(|| Value::Object(Map::new()));
    if fixtures.is_null() {
        *fixtures = Value::Object(Map::new());
    }
    let fx = fixtures.as_object_mut()?;
    let recorded_ids: Vec<&str> = tasks.iter().map(|t| t.id.as_str()).collect();
    let mut list: Vec<Value> = match fx.get("tasks") {
        Some(Value::Array(a)) => a
            .iter()
            .filter(|t| !t.get("id").and_then(Value::as_str).is_some_and(|id| recorded_ids.contains(&id)))
            .cloned()
            .collect(),
        _ => Vec::new(),
    };
    list.extend(tasks.iter().map(fixture_value));
    fx.insert("tasks".into(), Value::Array(list));
    if !files.is_empty() {
        let f = fx.entry("files").or_insert_with(|| Value::Object(Map::new()));
        if !f.is_object() {
            *f = Value::Object(Map::new());
        }
        let f = f.as_object_mut()?;
        for (name, content) in files {
            f.insert(name.clone(), Value::String(content.clone()));
        }
    }
    if !namespace_files.is_empty() {
        let m = namespace_files.iter().map(|(p, c)| (p.clone(), Value::String(c.clone()))).collect();
        fx.insert("namespaceFiles".into(), Value::Object(m));
    }
    Some(case)
}

/// A task fixture as YAML would hold it.
fn fixture_value(t: &TaskFixture) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), Value::String(t.id.clone()));
    if let Some(v) = &t.value {
        m.insert("value".into(), Value::String(v.clone()));
    }
    if t.state != StateType::Success {
        let state = serde_json::to_value(t.state).unwrap_or(Value::Null);
        m.insert("state".into(), state);
    }
    m.insert("description".into(), Value::String("recorded by baton test --record".into()));
    if !t.outputs.is_empty() {
        m.insert("outputs".into(), Value::Object(t.outputs.clone()));
    }
    Value::Object(m)
}

/// `source` with the case at `index` replaced by `case`, or `None` when
/// that cannot be done safely.
pub fn splice_case(source: &str, index: usize, case: &Value) -> Option<String> {
    let (root, locs) = crate::yaml::parse(source).ok()?;
    let pos = locs.find(&child_index("testCases", index))?;
    let lines: Vec<&str> = source.split_inclusive('\n').collect();
    let first = *lines.get(pos.line.checked_sub(1)?)?;
    // `  - id: x`: the case starts on its item's line, after `- `
    let head: String = first.chars().take(pos.column.checked_sub(1)?).collect();
    let dash = head.trim_end().strip_suffix('-')?;
    if !dash.chars().all(|c| c == ' ') {
        return None;
    }
    let indent = dash.len();
    let mut end = pos.line; // index of the first line after the block
    while end < lines.len() {
        let l = lines[end];
        let t = l.trim_start_matches(' ');
        let blank = t.trim().is_empty();
        if !blank && l.len() - t.len() <= indent {
            break;
        }
        end += 1;
    }
    // trailing blank and comment lines stay where they are
    while end > pos.line {
        let t = lines[end - 1].trim();
        if t.is_empty() || t.starts_with('#') {
            end -= 1;
        } else {
            break;
        }
    }
    let mut text = String::new();
    text.push_str(&" ".repeat(indent));
    text.push_str("- ");
    let m = case.as_object()?;
    mapping(m, indent + 2, true, &mut text);
    let mut out: String = lines[..pos.line - 1].concat();
    out.push_str(&text);
    out.push_str(&lines[end..].concat());
    // it must read back as the same document with the new case
    let (back, _) = crate::yaml::parse(&out).ok()?;
    let mut want = root;
    *want.get_mut("testCases")?.get_mut(index)? = case.clone();
    (back == want).then_some(out)
}

/// A whole test document as block YAML, with a header comment.
pub fn document(root: &Value, header: &str) -> Option<String> {
    let mut out = String::new();
    for l in header.lines() {
        out.push_str("# ");
        out.push_str(l);
        out.push('\n');
    }
    mapping(root.as_object()?, 0, false, &mut out);
    let (back, _) = crate::yaml::parse(&out).ok()?;
    (back == *root).then_some(out)
}

/// The entries of `m` at `indent`; the first on the current line when
/// `inline` (after `- `).
fn mapping(m: &Map<String, Value>, indent: usize, inline: bool, out: &mut String) {
    for (i, (k, v)) in m.iter().enumerate() {
        if i > 0 || !inline {
            out.push_str(&" ".repeat(indent));
        }
        out.push_str(&scalar_string(k));
        out.push(':');
        value(v, indent, out);
    }
}

/// A value after `key:` (or `-`) whose entries sit at `indent + 2`.
fn value(v: &Value, indent: usize, out: &mut String) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            mapping(m, indent + 2, false, out);
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            for item in a {
                out.push_str(&" ".repeat(indent + 2));
                out.push('-');
                match item {
                    Value::Object(m) if !m.is_empty() => {
                        out.push(' ');
                        mapping(m, indent + 4, true, out);
                    }
                    Value::Array(x) if !x.is_empty() => {
                        out.push(' ');
                        out.push_str(&serde_json::to_string(item).unwrap_or_default());
                        out.push('\n');
                    }
                    other => value(other, indent + 2, out),
                }
            }
        }
        Value::String(s) if literal_block(s) => {
            out.push_str(if s.ends_with('\n') { " |\n" } else { " |-\n" });
            for l in s.lines() {
                if !l.is_empty() {
                    out.push_str(&" ".repeat(indent + 2));
                    out.push_str(l);
                }
                out.push('\n');
            }
        }
        Value::String(s) => {
            out.push(' ');
            out.push_str(&scalar_string(s));
            out.push('\n');
        }
        other => {
            out.push(' ');
            out.push_str(&serde_json::to_string(other).unwrap_or_default());
            out.push('\n');
        }
    }
}

/// Whether a string reads back unchanged from a `|` / `|-` literal block.
fn literal_block(s: &str) -> bool {
    s.contains('\n')
        && !s.starts_with([' ', '\t', '\n'])
        && !s.ends_with("\n\n")
        && !s.chars().any(|c| c == '\r' || (c.is_control() && c != '\n' && c != '\t'))
}

/// A string as a plain YAML scalar when that reads back as the same
/// string, else double-quoted (JSON's escapes are YAML's).
fn scalar_string(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || " _-./@+()".contains(c) || (!c.is_ascii() && c.is_alphanumeric()))
        && s.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '/')
        && !s.ends_with(' ')
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "y" | "n"
        );
    if plain { s.to_string() } else { serde_json::to_string(s).unwrap_or_default() }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "# my tests\nid: t\nnamespace: n\nflowId: f\ntestCases:\n  # the first\n  - id: a\n    type: io.kestra.core.tests.flow.UnitTest\n    fixtures:\n      inputs:\n        x: \"1\"   # why\n    assertions:\n      - value: \"{{ 1 }}\"\n        equalTo: 1\n\n  # the second\n  - id: b\n    type: io.kestra.core.tests.flow.UnitTest\n    assertions:\n      - value: x\n        equalTo: x\n";

    #[test]
    fn a_recorded_case_replaces_its_block_and_keeps_the_comments_around() {
        let (root, _) = crate::yaml::parse(FILE).unwrap();
        let t = TaskFixture {
            id: "get".into(),
            value: None,
            state: StateType::Failed,
            outputs: serde_json::json!({"body": "line 1\nline 2\n", "code": 500, "n": "2019"})
                .as_object()
                .cloned()
                .unwrap(),
            description: None,
            path: String::new(),
        };
        let case = merged_case(&root, 0, &[t], &[("a.csv".into(), "x,y\n1,2\n".into())], &[]).unwrap();
        let out = splice_case(FILE, 0, &case).unwrap();
        assert!(out.starts_with("# my tests\n"), "{out}");
        assert!(out.contains("  # the first\n  - id: a\n"), "{out}");
        assert!(out.contains("\n\n  # the second\n  - id: b\n"), "{out}");
        assert!(out.contains("        - id: get\n          state: FAILED\n"), "{out}");
        assert!(out.contains("            body: |\n              line 1\n              line 2\n"), "{out}");
        assert!(out.contains("            \"n\": \"2019\"\n"), "{out}");
        assert!(out.contains("        a.csv: |\n          x,y\n          1,2\n"), "{out}");
        // the last case too
        let case = merged_case(&root, 1, &[], &[], &[]).unwrap();
        let out = splice_case(FILE, 1, &case).unwrap();
        assert!(out.contains("  - id: b\n    type: io.kestra.core.tests.flow.UnitTest\n"), "{out}");
    }

    #[test]
    fn a_flow_style_list_is_written_as_a_new_document() {
        let src = "id: t\nnamespace: n\nflowId: f\ntestCases: [{id: a, type: io.kestra.core.tests.flow.UnitTest}]\n";
        let (root, _) = crate::yaml::parse(src).unwrap();
        let case = merged_case(&root, 0, &[], &[], &[]).unwrap();
        assert!(splice_case(src, 0, &case).is_none());
        let doc = document(&root, "recorded").unwrap();
        assert!(doc.starts_with("# recorded\nid: t\n"), "{doc}");
    }
}
