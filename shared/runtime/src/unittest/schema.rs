//! The JSON Schema (draft-07) of a test file, derived from the keys the
//! parser checks ([`super::keys`]) and the operators ([`Operator`]): served
//! at `GET /api/v1/plugins/schemas/test`, completed from by the UI's test
//! editor, and held against the example test files by a real JSON Schema
//! validator (`conformance_tests`). A test case is a definition named by
//! its type, so the editor's documentation panel shows it as it shows a
//! task.

use serde_json::{Map, Value, json};

use super::keys::{KeyKind, MOCK_STATES, SUITE, Shape};
use super::model::{Expects, Operator, UNIT_TEST_TYPE};
use super::parse::MAX_CASES;
use crate::schema::json::DRAFT_07;

/// Where the schema is served, relative to `/api/v1`.
pub const ROUTE: &str = "/plugins/schemas/test";

/// Text, or a number or boolean read as its text.
fn text() -> Value {
    json!({"type": ["string", "number", "boolean"]})
}

fn described(mut s: Value, doc: &str) -> Value {
    s["title"] = json!(doc);
    s["description"] = json!(doc);
    s
}

fn key_schema(kind: KeyKind) -> Value {
    match kind {
        KeyKind::Text => text(),
        KeyKind::Boolean => json!({"type": "boolean"}),
        KeyKind::Map => json!({"type": "object"}),
        KeyKind::TextMap => json!({"type": "object", "additionalProperties": {"type": "string"}}),
        KeyKind::Any => json!({}),
        KeyKind::CaseType => json!({"type": "string", "enum": [UNIT_TEST_TYPE]}),
        KeyKind::MockState => {
            json!({"type": "string", "enum": MOCK_STATES.iter().map(|s| s.as_str()).collect::<Vec<_>>()})
        }
        KeyKind::Object(s) => shape_ref(s),
        KeyKind::List(s) => {
            let mut l = json!({"type": "array", "items": shape_ref(s), "minItems": 1});
            if std::ptr::eq(s, &super::keys::CASE) {
                l["maxItems"] = json!(MAX_CASES);
            }
            l
        }
    }
}

fn shape_ref(s: &Shape) -> Value {
    json!({"$ref": format!("#/definitions/{}", s.name)})
}

/// What an operator's value may be.
fn expected_schema(e: Expects) -> Value {
    match e {
        // alternatives, so the editor offers true and false
        Expects::Flag => json!({"anyOf": [{"type": "boolean"}, {"type": "string"}]}),
        Expects::List => json!({"anyOf": [{"type": "array"}, {"type": "string"}]}),
        Expects::Anything => json!({}),
        Expects::Scalar => text(),
    }
}

/// The markdown the editor's documentation panel shows for a shape.
fn markdown(s: &Shape) -> String {
    let mut md = format!("# {}\n\n{}\n", s.name, s.doc);
    if s.operators {
        md.push_str(&format!(
            "\nOperators: {}.\n",
            Operator::ALL.iter().map(|o| format!("`{}`", o.key())).collect::<Vec<_>>().join(", ")
        ));
    }
    md
}

/// One shape as a definition.
fn definition(s: &Shape) -> Value {
    let mut props = Map::new();
    for k in s.keys {
        let mut p = described(key_schema(k.kind), k.doc);
        if k.required {
            p["$required"] = json!(true);
        }
        props.insert(k.name.to_string(), p);
    }
    if s.operators {
        for o in Operator::ALL {
            props.insert(o.key().to_string(), described(expected_schema(o.expects()), o.doc()));
        }
        for (alias, o) in Operator::ALIASES {
            let doc = format!("The name Kestra 0.23 gave `{}`: {}", o.key(), o.doc());
            let mut p = described(expected_schema(o.expects()), &doc);
            p["deprecated"] = json!(true);
            props.insert(alias.to_string(), p);
        }
    }
    let required: Vec<&str> = s.keys.iter().filter(|k| k.required).map(|k| k.name).collect();
    let mut d = json!({
        "type": "object",
        "title": s.name,
        "description": s.doc,
        "markdownDescription": markdown(s),
        "properties": props,
        "required": required,
        "additionalProperties": false,
    });
    if s.operators {
        // at least one operator: not every key is one of the others
        d["not"] = json!({"propertyNames": {"enum": s.keys.iter().map(|k| k.name).collect::<Vec<_>>()}});
    }
    d
}

/// The JSON Schema of a test file.
pub fn test_schema() -> Value {
    let definitions: Map<String, Value> =
        SUITE.all().into_iter().skip(1).map(|s| (s.name.to_string(), definition(s))).collect();
    let mut root = definition(&SUITE);
    root["$schema"] = json!(DRAFT_07);
    root["$id"] = json!(format!("https://baton.local/api/v1{ROUTE}"));
    root["title"] = json!("Kestra flow unit test (Baton)");
    root["definitions"] = Value::Object(definitions);
    root
}

#[cfg(test)]
#[path = "schema_tests.rs"]
mod tests;
