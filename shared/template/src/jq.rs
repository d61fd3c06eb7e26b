//! A small jq subset for the `jq` filter: `.`, `.a.b`, `.a[0]`, `.[]`,
//! `.a[]`, `.["key"]`, `.[-1]`, pipes `|`, and `length`, `keys`, `values`,
//! `first`, `last`, `not`, `type`, `tostring`. Results are a stream (a list).

use serde_json::Value;

#[derive(Debug, Clone)]
enum Step {
    Key(String),
    Index(i64),
    Iter,
    Builtin(String),
}

fn parse_stage(s: &str) -> Result<Vec<Step>, String> {
    let s = s.trim();
    if !s.starts_with('.') {
        return match s {
            "length" | "keys" | "values" | "first" | "last" | "not" | "type" | "tostring" | "tonumber" | "add" => {
                Ok(vec![Step::Builtin(s.to_string())])
            }
            _ => Err(format!("unsupported jq expression '{s}'")),
        };
    }
    let b: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut steps = Vec::new();
    while i < b.len() {
        match b[i] {
            '.' => {
                i += 1;
                let start = i;
                while i < b.len() && (b[i].is_alphanumeric() || b[i] == '_' || b[i] == '-' || b[i] == '$') {
                    i += 1;
                }
                if i > start {
                    steps.push(Step::Key(b[start..i].iter().collect()));
                }
            }
            '[' => {
                let end = (i..b.len()).find(|&j| b[j] == ']').ok_or("unclosed '[' in jq expression")?;
                let inner: String = b[i + 1..end].iter().collect();
                let inner = inner.trim();
                if inner.is_empty() {
                    steps.push(Step::Iter);
                } else if let Ok(n) = inner.parse::<i64>() {
                    steps.push(Step::Index(n));
                } else if (inner.starts_with('"') && inner.ends_with('"') && inner.len() >= 2)
                    || (inner.starts_with('\'') && inner.ends_with('\'') && inner.len() >= 2)
                {
                    steps.push(Step::Key(inner[1..inner.len() - 1].to_string()));
                } else {
                    return Err(format!("unsupported jq subscript '[{inner}]'"));
                }
                i = end + 1;
                if i < b.len() && b[i] == '?' {
                    i += 1;
                }
            }
            ' ' => i += 1,
            c => return Err(format!("unexpected '{c}' in jq expression")),
        }
    }
    Ok(steps)
}

fn apply(step: &Step, v: Value, out: &mut Vec<Value>) -> Result<(), String> {
    match step {
        Step::Key(k) => match v {
            Value::Object(mut m) => out.push(m.remove(k).unwrap_or(Value::Null)),
            Value::Null => out.push(Value::Null),
            other => return Err(format!("Cannot index {} with \"{k}\"", type_name(&other))),
        },
        Step::Index(n) => match v {
            Value::Array(a) => {
                let idx = if *n < 0 { a.len() as i64 + n } else { *n };
                out.push(usize::try_from(idx).ok().and_then(|i| a.get(i).cloned()).unwrap_or(Value::Null));
            }
            Value::Null => out.push(Value::Null),
            other => return Err(format!("Cannot index {} with number", type_name(&other))),
        },
        Step::Iter => match v {
            Value::Array(a) => out.extend(a),
            Value::Object(m) => out.extend(m.into_iter().map(|(_, x)| x)),
            other => return Err(format!("Cannot iterate over {}", type_name(&other))),
        },
        Step::Builtin(b) => out.push(match (b.as_str(), v) {
            ("length", Value::Array(a)) => Value::from(a.len()),
            ("length", Value::Object(m)) => Value::from(m.len()),
            ("length", Value::String(s)) => Value::from(s.chars().count()),
            ("length", Value::Null) => Value::from(0),
            ("length", Value::Number(n)) => Value::from(n.as_f64().map(f64::abs).unwrap_or(0.0)),
            ("keys", Value::Object(m)) => {
                let mut k: Vec<String> = m.keys().cloned().collect();
                k.sort();
                Value::from(k)
            }
            ("keys", Value::Array(a)) => Value::from((0..a.len()).collect::<Vec<_>>()),
            ("values", Value::Object(m)) => Value::Array(m.into_iter().map(|(_, x)| x).collect()),
            ("first", Value::Array(a)) => a.into_iter().next().unwrap_or(Value::Null),
            ("last", Value::Array(a)) => a.into_iter().last().unwrap_or(Value::Null),
            ("not", v) => Value::Bool(matches!(v, Value::Null | Value::Bool(false))),
            ("type", v) => Value::from(type_name(&v)),
            ("tostring", Value::String(s)) => Value::String(s),
            ("tostring", v) => Value::String(v.to_string()),
            ("tonumber", Value::String(s)) => {
                serde_json::from_str::<serde_json::Number>(s.trim()).map(Value::Number).map_err(|e| e.to_string())?
            }
            ("tonumber", v @ Value::Number(_)) => v,
            ("add", Value::Array(a)) => add(a),
            (b, other) => return Err(format!("{} ({}) has no {b}", type_name(&other), other)),
        }),
    }
    Ok(())
}

fn add(a: Vec<Value>) -> Value {
    if a.iter().all(Value::is_number) && !a.is_empty() {
        if a.iter().all(|x| x.is_i64()) {
            return Value::from(a.iter().filter_map(Value::as_i64).sum::<i64>());
        }
        return Value::from(a.iter().filter_map(Value::as_f64).sum::<f64>());
    }
    if a.iter().all(Value::is_string) && !a.is_empty() {
        return Value::String(a.iter().filter_map(Value::as_str).collect());
    }
    if a.iter().all(Value::is_array) && !a.is_empty() {
        return Value::Array(
            a.into_iter().flat_map(|x| if let Value::Array(v) = x { v } else { Vec::new() }).collect(),
        );
    }
    Value::Null
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Runs `expr` on `input`; every result of the stream, in order.
pub fn run(input: Value, expr: &str) -> Result<Vec<Value>, String> {
    let mut stream = vec![input];
    for stage in split_pipes(expr) {
        for step in parse_stage(&stage)? {
            let mut next = Vec::with_capacity(stream.len());
            for v in stream {
                apply(&step, v, &mut next)?;
            }
            stream = next;
        }
    }
    Ok(stream)
}

/// Checks that `expr` is in the subset, without running it.
pub fn check(expr: &str) -> Result<(), String> {
    for stage in split_pipes(expr) {
        parse_stage(&stage)?;
    }
    Ok(())
}

fn split_pipes(expr: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut quote = None;
    for c in expr.chars() {
        match (quote, c) {
            (None, '"' | '\'') => {
                quote = Some(c);
                cur.push(c);
            }
            (Some(q), c) if c == q => {
                quote = None;
                cur.push(c);
            }
            (None, '|') => parts.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    parts.push(cur);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn subset() {
        let v = json!({"a": {"b": [1, 2]}, "k-1": "x", "list": [{"n": 1}, {"n": 2}]});
        assert_eq!(run(v.clone(), ".a.b[1]").unwrap(), vec![json!(2)]);
        assert_eq!(run(v.clone(), ".").unwrap(), vec![v.clone()]);
        assert_eq!(run(v.clone(), ".list[].n").unwrap(), vec![json!(1), json!(2)]);
        assert_eq!(run(v.clone(), ".[\"k-1\"]").unwrap(), vec![json!("x")]);
        assert_eq!(run(v.clone(), ".a.b | length").unwrap(), vec![json!(2)]);
        assert_eq!(run(v.clone(), ".a | keys").unwrap(), vec![json!(["b"])]);
        assert_eq!(run(v.clone(), ".a.b[-1]").unwrap(), vec![json!(2)]);
        assert!(run(v, ".a.b.c").is_err());
    }
}
