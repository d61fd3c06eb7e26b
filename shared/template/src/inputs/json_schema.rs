//! A JSON input's `jsonSchema` (Kestra 2.0): the value given must match
//! it, or the execution is refused with the path that failed
//! (`$.address.zip: expected string, got 12`). Baton checks the JSON
//! Schema keywords listed in [`KEYWORDS`] (types, properties, required,
//! additionalProperties, items, enum/const, bounds, lengths, pattern,
//! allOf/anyOf/oneOf/not); a schema using another keyword is refused at
//! validation, naming it, rather than half-checked. Nesting is bounded
//! by [`MAX_DEPTH`].

use std::fmt::Write;

use regex::Regex;
use serde_json::{Map, Value};

/// The keywords Baton checks; annotations (`title`…) are accepted as such.
pub const KEYWORDS: &[&str] = &[
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "enum",
    "const",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minProperties",
    "maxProperties",
    "allOf",
    "anyOf",
    "oneOf",
    "not",
];

/// Keywords that only describe.
const ANNOTATIONS: &[&str] =
    &["$schema", "$id", "title", "description", "default", "examples", "$comment", "deprecated", "format"];

/// How deep a schema may nest (a deeper one is refused at validation).
pub const MAX_DEPTH: usize = 64;

/// Why a schema cannot be used, naming its path and keyword.
pub fn check_schema(schema: &Value) -> Result<(), String> {
    walk_schema(schema, "#", 0)
}

fn walk_schema(s: &Value, at: &str, depth: usize) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err(format!("{at}: nested more than {MAX_DEPTH} levels (MAX_DEPTH)"));
    }
    let o = match s {
        Value::Bool(_) => return Ok(()),
        Value::Object(o) => o,
        other => return Err(format!("{at}: a schema must be an object or a boolean, got {other}")),
    };
    for (k, v) in o {
        if !KEYWORDS.contains(&k.as_str()) && !ANNOTATIONS.contains(&k.as_str()) {
            return Err(format!("{at}: keyword '{k}' is not supported by Baton (supported: {})", KEYWORDS.join(", ")));
        }
        match (k.as_str(), v) {
            ("properties", Value::Object(m)) => {
                for (p, sub) in m {
                    walk_schema(sub, &format!("{at}/properties/{p}"), depth + 1)?;
                }
            }
            ("items" | "additionalProperties" | "not", sub) => walk_schema(sub, &format!("{at}/{k}"), depth + 1)?,
            ("allOf" | "anyOf" | "oneOf", Value::Array(a)) => {
                for (i, sub) in a.iter().enumerate() {
                    walk_schema(sub, &format!("{at}/{k}/{i}"), depth + 1)?;
                }
            }
            ("pattern", Value::String(p)) => {
                Regex::new(p).map_err(|e| format!("{at}/pattern: '{p}' is not a valid regex: {e}"))?;
            }
            ("type", Value::String(_) | Value::Array(_)) | ("required" | "enum", Value::Array(_)) => {}
            ("properties" | "allOf" | "anyOf" | "oneOf" | "type" | "required" | "enum" | "pattern", other) => {
                return Err(format!("{at}/{k}: unexpected value {other}"));
            }
            _ => {}
        }
    }
    Ok(())
}

/// The first place `v` does not match `schema`, as `$.path: why`.
pub fn validate(schema: &Value, v: &Value) -> Result<(), String> {
    check(schema, v, "$", 0)
}

fn type_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0) => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn is_type(v: &Value, t: &str) -> bool {
    let actual = type_of(v);
    actual == t || (t == "number" && actual == "integer")
}

fn num(o: &Map<String, Value>, k: &str) -> Option<f64> {
    o.get(k).and_then(Value::as_f64)
}

fn count(o: &Map<String, Value>, k: &str) -> Option<usize> {
    o.get(k).and_then(Value::as_u64).map(|n| n as usize)
}

fn check(schema: &Value, v: &Value, at: &str, depth: usize) -> Result<(), String> {
    let o = match schema {
        Value::Bool(true) => return Ok(()),
        Value::Bool(false) => return Err(format!("{at}: no value is allowed here")),
        Value::Object(o) => o,
        _ => return Ok(()),
    };
    if depth > MAX_DEPTH {
        return Err(format!("{at}: nested more than {MAX_DEPTH} levels (MAX_DEPTH)"));
    }
    let fail = |why: String| Err(format!("{at}: {why}"));
    match o.get("type") {
        Some(Value::String(t)) if !is_type(v, t) => return fail(format!("expected {t}, got {}", short(v))),
        Some(Value::Array(ts)) if !ts.iter().filter_map(Value::as_str).any(|t| is_type(v, t)) => {
            let names: Vec<&str> = ts.iter().filter_map(Value::as_str).collect();
            return fail(format!("expected {}, got {}", names.join(" or "), short(v)));
        }
        _ => {}
    }
    if let Some(Value::Array(e)) = o.get("enum")
        && !e.contains(v)
    {
        return fail(format!("{} is not one of {}", short(v), Value::Array(e.clone())));
    }
    if let Some(c) = o.get("const")
        && c != v
    {
        return fail(format!("expected {c}, got {}", short(v)));
    }
    if let Some(x) = v.as_f64() {
        let bounds = [
            ("minimum", num(o, "minimum").filter(|m| x < *m)),
            ("maximum", num(o, "maximum").filter(|m| x > *m)),
            ("exclusiveMinimum", num(o, "exclusiveMinimum").filter(|m| x <= *m)),
            ("exclusiveMaximum", num(o, "exclusiveMaximum").filter(|m| x >= *m)),
        ];
        if let Some((k, Some(m))) = bounds.into_iter().find(|(_, b)| b.is_some()) {
            return fail(format!("{x} breaks {k} {m}"));
        }
    }
    if let Value::String(s) = v {
        let n = s.chars().count();
        if let Some(m) = count(o, "minLength").filter(|m| n < *m) {
            return fail(format!("'{s}' is shorter than minLength {m}"));
        }
        if let Some(m) = count(o, "maxLength").filter(|m| n > *m) {
            return fail(format!("{n} characters, more than maxLength {m}"));
        }
        if let Some(p) = o.get("pattern").and_then(Value::as_str) {
            let re = Regex::new(p).map_err(|e| format!("{at}: pattern '{p}' is not a valid regex: {e}"))?;
            if !re.is_match(s) {
                return fail(format!("'{s}' does not match pattern '{p}'"));
            }
        }
    }
    if let Value::Array(a) = v {
        if let Some(m) = count(o, "minItems").filter(|m| a.len() < *m) {
            return fail(format!("{} items, fewer than minItems {m}", a.len()));
        }
        if let Some(m) = count(o, "maxItems").filter(|m| a.len() > *m) {
            return fail(format!("{} items, more than maxItems {m}", a.len()));
        }
        if o.get("uniqueItems") == Some(&Value::Bool(true)) {
            for (i, x) in a.iter().enumerate() {
                if a[..i].contains(x) {
                    return fail(format!("item {i} repeats an earlier item (uniqueItems)"));
                }
            }
        }
        if let Some(items) = o.get("items") {
            for (i, x) in a.iter().enumerate() {
                check(items, x, &format!("{at}[{i}]"), depth + 1)?;
            }
        }
    }
    if let Value::Object(m) = v {
        if let Some(Value::Array(req)) = o.get("required") {
            for r in req.iter().filter_map(Value::as_str) {
                if !m.contains_key(r) {
                    return fail(format!("missing required property '{r}'"));
                }
            }
        }
        if let Some(n) = count(o, "minProperties").filter(|n| m.len() < *n) {
            return fail(format!("{} properties, fewer than minProperties {n}", m.len()));
        }
        if let Some(n) = count(o, "maxProperties").filter(|n| m.len() > *n) {
            return fail(format!("{} properties, more than maxProperties {n}", m.len()));
        }
        let props = o.get("properties").and_then(Value::as_object);
        for (k, x) in m {
            let path = child(at, k);
            match props.and_then(|p| p.get(k)) {
                Some(sub) => check(sub, x, &path, depth + 1)?,
                None => {
                    if let Some(extra) = o.get("additionalProperties") {
                        if extra == &Value::Bool(false) {
                            return fail(format!("property '{k}' is not allowed (additionalProperties: false)"));
                        }
                        check(extra, x, &path, depth + 1)?;
                    }
                }
            }
        }
    }
    for sub in o.get("allOf").and_then(Value::as_array).into_iter().flatten() {
        check(sub, v, at, depth + 1)?;
    }
    if let Some(any) = o.get("anyOf").and_then(Value::as_array)
        && !any.iter().any(|s| check(s, v, at, depth + 1).is_ok())
    {
        return fail("matches none of anyOf".into());
    }
    if let Some(one) = o.get("oneOf").and_then(Value::as_array) {
        let n = one.iter().filter(|s| check(s, v, at, depth + 1).is_ok()).count();
        if n != 1 {
            return fail(format!("matches {n} of oneOf, not exactly one"));
        }
    }
    if let Some(not) = o.get("not")
        && check(not, v, at, depth + 1).is_ok()
    {
        return fail("matches the schema under 'not'".into());
    }
    Ok(())
}

fn child(at: &str, key: &str) -> String {
    let mut s = at.to_string();
    if key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        let _ = write!(s, ".{key}");
    } else {
        let _ = write!(s, "['{key}']");
    }
    s
}

/// A value for messages, cut at 80 characters.
fn short(v: &Value) -> String {
    let s = v.to_string();
    match s.char_indices().nth(80) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn schema() -> Value {
        json!({
            "type": "object",
            "required": ["name", "address"],
            "additionalProperties": false,
            "properties": {
                "name": {"type": "string", "minLength": 2},
                "age": {"type": "integer", "minimum": 0},
                "tags": {"type": "array", "items": {"enum": ["a", "b"]}, "uniqueItems": true},
                "address": {"type": "object", "properties": {"zip": {"type": "string", "pattern": "^[0-9]{5}$"}}}
            }
        })
    }

    #[test]
    fn a_value_is_checked_and_the_failing_path_named() {
        let s = schema();
        assert_eq!(
            validate(&s, &json!({"name": "Ada", "age": 36, "tags": ["a"], "address": {"zip": "75001"}})),
            Ok(())
        );
        let cases = [
            (json!({"name": "Ada", "address": {"zip": 12}}), "$.address.zip: expected string, got 12"),
            (json!({"name": "Ada", "address": {"zip": "1"}}), "$.address.zip: '1' does not match pattern"),
            (json!({"name": "Ada"}), "$: missing required property 'address'"),
            (json!({"name": "Ada", "address": {}, "x": 1}), "$: property 'x' is not allowed"),
            (json!({"name": "Ada", "address": {}, "tags": ["c"]}), "$.tags[0]: \"c\" is not one of"),
            (json!({"name": "Ada", "address": {}, "age": -1}), "$.age: -1 breaks minimum 0"),
            (json!({"name": "Ada", "address": {}, "age": 1.5}), "$.age: expected integer, got 1.5"),
            (json!([1]), "$: expected object, got [1]"),
        ];
        for (v, want) in cases {
            let got = validate(&s, &v).expect_err(want);
            assert!(got.starts_with(want), "{got} / {want}");
        }
    }

    #[test]
    fn a_schema_with_an_unsupported_keyword_is_refused_by_name() {
        assert_eq!(check_schema(&schema()), Ok(()));
        let e = check_schema(&json!({"properties": {"a": {"$ref": "#/defs/x"}}})).expect_err("$ref");
        assert!(e.starts_with("#/properties/a: keyword '$ref' is not supported"), "{e}");
        let e = check_schema(&json!({"pattern": "("})).expect_err("regex");
        assert!(e.contains("not a valid regex"), "{e}");
    }
}
