//! How values print: strings raw, null empty, numbers like Java (`2.0`,
//! `1.0E20`), maps and lists as compact JSON (like Jackson), and a simple
//! YAML writer for the `yaml` filter. Also converts values to serde JSON.

use std::fmt::Write;

use minijinja::value::{Value, ValueKind};

/// Prints a value the way Kestra's Pebble writer does.
pub fn print(v: &Value, out: &mut String) {
    match v.kind() {
        ValueKind::Undefined | ValueKind::None => {}
        ValueKind::String => out.push_str(v.as_str().unwrap_or_default()),
        ValueKind::Bool => out.push_str(if v.is_true() { "true" } else { "false" }),
        ValueKind::Number => number(v, out),
        ValueKind::Seq | ValueKind::Map | ValueKind::Iterable => json(v, out),
        ValueKind::Bytes => out.push_str(&String::from_utf8_lossy(v.as_bytes().unwrap_or_default())),
        _ => {
            let _ = write!(out, "{v}");
        }
    }
}

/// `print` into a new string.
pub fn to_text(v: &Value) -> String {
    let mut s = String::new();
    print(v, &mut s);
    s
}

fn number(v: &Value, out: &mut String) {
    if v.is_integer() {
        let _ = write!(out, "{v}");
    } else if let Ok(f) = f64::try_from(v.clone()) {
        java_double(f, out);
    } else {
        let _ = write!(out, "{v}");
    }
}

/// Formats a float like Java's `Double.toString`.
pub fn java_double(f: f64, out: &mut String) {
    if f.is_nan() {
        out.push_str("NaN");
    } else if f.is_infinite() {
        out.push_str(if f > 0.0 { "Infinity" } else { "-Infinity" });
    } else if f == 0.0 {
        out.push_str(if f.is_sign_negative() { "-0.0" } else { "0.0" });
    } else if (1e-3..1e7).contains(&f.abs()) {
        let s = format!("{f}");
        out.push_str(&s);
        if !s.contains('.') {
            out.push_str(".0");
        }
    } else {
        let s = format!("{f:e}");
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        out.push_str(m);
        if !m.contains('.') {
            out.push_str(".0");
        }
        out.push('E');
        out.push_str(e);
    }
}

/// Writes compact JSON (Jackson style).
pub fn json(v: &Value, out: &mut String) {
    match v.kind() {
        ValueKind::Undefined | ValueKind::None => out.push_str("null"),
        ValueKind::Bool => out.push_str(if v.is_true() { "true" } else { "false" }),
        ValueKind::Number => number(v, out),
        ValueKind::String => json_str(v.as_str().unwrap_or_default(), out),
        ValueKind::Map => {
            out.push('{');
            if let Ok(keys) = v.try_iter() {
                for (i, k) in keys.enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    match k.as_str() {
                        Some(s) => json_str(s, out),
                        None => json_str(&to_text(&k), out),
                    }
                    out.push(':');
                    json(&v.get_item(&k).unwrap_or_default(), out);
                }
            }
            out.push('}');
        }
        ValueKind::Seq | ValueKind::Iterable => {
            out.push('[');
            if let Ok(items) = v.try_iter() {
                for (i, x) in items.enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    json(&x, out);
                }
            }
            out.push(']');
        }
        _ => json_str(&v.to_string(), out),
    }
}

/// `json` into a new string.
pub fn to_json(v: &Value) -> String {
    let mut s = String::new();
    json(v, &mut s);
    s
}

fn json_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Converts a template value into serde JSON (undefined becomes null).
pub fn to_serde(v: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v.kind() {
        ValueKind::Undefined | ValueKind::None => J::Null,
        ValueKind::Bool => J::Bool(v.is_true()),
        ValueKind::Number => {
            if let Some(i) = v.as_i64() {
                J::from(i)
            } else if let Ok(u) = u64::try_from(v.clone()) {
                J::from(u)
            } else {
                f64::try_from(v.clone()).ok().and_then(serde_json::Number::from_f64).map(J::Number).unwrap_or(J::Null)
            }
        }
        ValueKind::String => J::String(v.as_str().unwrap_or_default().to_string()),
        ValueKind::Map => {
            let mut m = serde_json::Map::new();
            if let Ok(keys) = v.try_iter() {
                for k in keys {
                    let val = v.get_item(&k).unwrap_or_default();
                    m.insert(k.as_str().map(str::to_string).unwrap_or_else(|| to_text(&k)), to_serde(&val));
                }
            }
            J::Object(m)
        }
        ValueKind::Seq | ValueKind::Iterable => {
            J::Array(v.try_iter().map(|it| it.map(|x| to_serde(&x)).collect()).unwrap_or_default())
        }
        _ => J::String(v.to_string()),
    }
}

/// Writes a value as block YAML (Jackson YAML style, quotes only when needed).
pub fn to_yaml(v: &Value) -> String {
    let mut out = String::new();
    yaml(v, 0, &mut out, false);
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

fn yaml_scalar(v: &Value, out: &mut String) {
    match v.kind() {
        ValueKind::String => {
            let s = v.as_str().unwrap_or_default();
            let plain = !s.is_empty()
                && !s.starts_with(|c: char| c.is_whitespace() || "-?:,[]{}#&*!|>'\"%@`".contains(c))
                && !s.ends_with(char::is_whitespace)
                && !s.contains(": ")
                && !s.contains(" #")
                && !s.contains('\n')
                && !matches!(s, "true" | "false" | "null" | "~" | "yes" | "no" | "on" | "off")
                && s.parse::<f64>().is_err();
            if plain { out.push_str(s) } else { json_str(s, out) }
        }
        ValueKind::Undefined | ValueKind::None => out.push_str("null"),
        _ => print(v, out),
    }
}

fn yaml(v: &Value, indent: usize, out: &mut String, inline_first: bool) {
    let pad = " ".repeat(indent);
    match v.kind() {
        ValueKind::Map if v.len().unwrap_or(0) > 0 => {
            let keys: Vec<Value> = v.try_iter().map(|i| i.collect()).unwrap_or_default();
            for (i, k) in keys.iter().enumerate() {
                if i > 0 || !inline_first {
                    out.push_str(&pad);
                }
                yaml_scalar(k, out);
                out.push(':');
                let val = v.get_item(k).unwrap_or_default();
                nested(&val, indent, out);
            }
        }
        ValueKind::Seq | ValueKind::Iterable if v.len().unwrap_or(0) > 0 => {
            let items: Vec<Value> = v.try_iter().map(|i| i.collect()).unwrap_or_default();
            for (i, x) in items.iter().enumerate() {
                if i > 0 || !inline_first {
                    out.push_str(&pad);
                }
                out.push_str("- ");
                match x.kind() {
                    ValueKind::Map | ValueKind::Seq if x.len().unwrap_or(0) > 0 => yaml(x, indent + 2, out, true),
                    _ => {
                        yaml_flow(x, out);
                        out.push('\n');
                    }
                }
            }
        }
        _ => {
            yaml_flow(v, out);
            out.push('\n');
        }
    }
}

fn nested(val: &Value, indent: usize, out: &mut String) {
    match val.kind() {
        ValueKind::Map if val.len().unwrap_or(0) > 0 => {
            out.push('\n');
            yaml(val, indent + 2, out, false);
        }
        ValueKind::Seq if val.len().unwrap_or(0) > 0 => {
            out.push('\n');
            yaml(val, indent + 2, out, false);
        }
        _ => {
            out.push(' ');
            yaml_flow(val, out);
            out.push('\n');
        }
    }
}

fn yaml_flow(v: &Value, out: &mut String) {
    match v.kind() {
        ValueKind::Map => out.push_str("{}"),
        ValueKind::Seq | ValueKind::Iterable => out.push_str("[]"),
        _ => yaml_scalar(v, out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_like_kestra() {
        let v = Value::from_serialize(serde_json::json!({"a": 1, "b": [true, null, "x\"y"], "c": 2.0}));
        assert_eq!(to_text(&v), r#"{"a":1,"b":[true,null,"x\"y"],"c":2.0}"#);
        assert_eq!(to_text(&Value::from(1.5)), "1.5");
        assert_eq!(to_text(&Value::from(2.0)), "2.0");
        assert_eq!(to_text(&Value::from(1e20)), "1.0E20");
        assert_eq!(to_text(&Value::from(())), "");
        assert_eq!(to_text(&Value::from(false)), "false");
    }

    #[test]
    fn yaml_block() {
        let v = Value::from_serialize(serde_json::json!({"a": 1, "b": ["x", {"c": "d: e"}], "e": {}}));
        assert_eq!(to_yaml(&v), "a: 1\nb:\n  - x\n  - c: \"d: e\"\ne: {}\n");
    }

    #[test]
    fn serde_round_trip() {
        let j = serde_json::json!({"a": [1, 2.5, "s", null, {"b": false}]});
        assert_eq!(to_serde(&Value::from_serialize(&j)), j);
    }
}
