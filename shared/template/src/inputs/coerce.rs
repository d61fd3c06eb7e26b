//! Per-type coercion of one input value, as Kestra's `FlowInputOutput`
//! does it: CLI strings and API JSON become typed values, normalized
//! (datetimes in UTC with `Z`, durations in Java's `Duration.toString()`).

use std::sync::LazyLock;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, SecondsFormat, Utc};
use regex::Regex;
use serde_json::{Number, Value};

use baton_model::duration;
use baton_model::flow::{Input, InputType};

static EMAIL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\.[a-zA-Z]{2,}$").expect("static regex"));
static URI: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-zA-Z][a-zA-Z0-9+.-]*://[^\s]+$").expect("static regex"));

/// Why a value does not fit: what was expected and what was given.
#[derive(Debug, Clone, PartialEq)]
pub struct Mismatch {
    pub expected: String,
    pub got: String,
}

fn mismatch(expected: impl Into<String>, got: &Value) -> Mismatch {
    Mismatch { expected: expected.into(), got: display(got) }
}

/// A value for messages: strings as is, everything else as JSON.
pub fn display(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Kestra's name for a type, as written in YAML.
pub fn type_name(t: InputType) -> &'static str {
    match t {
        InputType::String => "STRING",
        InputType::Int => "INT",
        InputType::Float => "FLOAT",
        InputType::Boolean => "BOOLEAN",
        InputType::Bool => "BOOL",
        InputType::Select => "SELECT",
        InputType::Enum => "ENUM",
        InputType::Multiselect => "MULTISELECT",
        InputType::Array => "ARRAY",
        InputType::Datetime => "DATETIME",
        InputType::Date => "DATE",
        InputType::Time => "TIME",
        InputType::Duration => "DURATION",
        InputType::Json => "JSON",
        InputType::Yaml => "YAML",
        InputType::Uri => "URI",
        InputType::Email => "EMAIL",
        InputType::Secret => "SECRET",
        InputType::File => "FILE",
    }
}

/// Compiles a `validator` as Java's `String.matches` uses it (whole string).
pub fn compile_validator(pattern: &str) -> Result<Regex, String> {
    Regex::new(&format!("^(?:{pattern})$")).map_err(|e| {
        let text = e.to_string();
        let line = text.lines().find_map(|l| l.trim().strip_prefix("error:")).map(str::trim);
        line.map(str::to_string).unwrap_or_else(|| text.lines().next().unwrap_or_default().to_string())
    })
}

/// A scalar given where a string is expected (API JSON may send numbers).
fn as_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Coerces `v` to the input's type. `v` is never null here.
pub fn coerce(input: &Input, v: &Value) -> Result<Value, Mismatch> {
    coerce_as(input, input.type_, v)
}

fn coerce_as(input: &Input, ty: InputType, v: &Value) -> Result<Value, Mismatch> {
    let name = type_name(ty);
    match ty {
        InputType::String | InputType::Secret => {
            let s = as_text(v).ok_or_else(|| mismatch(name, v))?;
            if let Some(p) = &input.validator {
                let re = compile_validator(p).map_err(|e| mismatch(format!("{name} (invalid validator: {e})"), v))?;
                if !re.is_match(&s) {
                    return Err(mismatch(format!("{name} matching '{p}'"), v));
                }
            }
            Ok(Value::String(s))
        }
        InputType::Int => {
            let n = match v {
                Value::Number(n) => n.as_i64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
                Value::String(s) => s.trim().parse::<i64>().ok(),
                _ => None,
            }
            .ok_or_else(|| mismatch(name, v))?;
            check_range(input, name, n as f64, v)?;
            Ok(Value::Number(n.into()))
        }
        InputType::Float => {
            let f = match v {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.trim().parse::<f64>().ok(),
                _ => None,
            }
            .filter(|f| f.is_finite())
            .ok_or_else(|| mismatch(name, v))?;
            check_range(input, name, f, v)?;
            Number::from_f64(f).map(Value::Number).ok_or_else(|| mismatch(name, v))
        }
        InputType::Boolean | InputType::Bool => match v {
            Value::Bool(b) => Ok(Value::Bool(*b)),
            Value::String(s) if s.trim().eq_ignore_ascii_case("true") => Ok(Value::Bool(true)),
            Value::String(s) if s.trim().eq_ignore_ascii_case("false") => Ok(Value::Bool(false)),
            _ => Err(mismatch(name, v)),
        },
        InputType::Select | InputType::Enum => {
            let s = as_text(v).ok_or_else(|| mismatch(name, v))?;
            check_allowed(input, name, &s, v)?;
            Ok(Value::String(s))
        }
        InputType::Multiselect => {
            let items = split_list(v).ok_or_else(|| mismatch(name, v))?;
            let mut out = Vec::with_capacity(items.len());
            for item in &items {
                let s = as_text(item).ok_or_else(|| mismatch(name, item))?;
                check_allowed(input, name, &s, item)?;
                out.push(Value::String(s));
            }
            Ok(Value::Array(out))
        }
        InputType::Array => {
            let Some(item_type) = input.item_type else {
                return Err(mismatch("ARRAY (the input has no itemType)", v));
            };
            let items = split_list(v).ok_or_else(|| mismatch(format!("ARRAY of {}", type_name(item_type)), v))?;
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let c = coerce_as(input, item_type, item).map_err(|m| Mismatch {
                    expected: format!("ARRAY of {} (item {i}: expected {})", type_name(item_type), m.expected),
                    got: m.got,
                })?;
                out.push(c);
            }
            Ok(Value::Array(out))
        }
        InputType::Datetime => {
            let d = v.as_str().and_then(parse_datetime).ok_or_else(|| mismatch("DATETIME (ISO-8601)", v))?;
            check_bounds(input, name, v, &d, parse_datetime)?;
            Ok(Value::String(format_datetime(d)))
        }
        InputType::Date => {
            let d = v.as_str().and_then(parse_date).ok_or_else(|| mismatch("DATE (yyyy-MM-dd)", v))?;
            check_bounds(input, name, v, &d, parse_date)?;
            Ok(Value::String(d.format("%Y-%m-%d").to_string()))
        }
        InputType::Time => {
            let t = v.as_str().and_then(parse_time).ok_or_else(|| mismatch("TIME (HH:mm:ss)", v))?;
            check_bounds(input, name, v, &t, parse_time)?;
            Ok(Value::String(t.format("%H:%M:%S%.f").to_string()))
        }
        InputType::Duration => {
            let d = v
                .as_str()
                .and_then(|s| duration::parse_iso(s).ok())
                .ok_or_else(|| mismatch("DURATION (ISO-8601, e.g. PT5M)", v))?;
            check_duration_range(input, d, v)?;
            Ok(Value::String(duration::format_iso(d)))
        }
        InputType::Json => {
            let parsed = match v {
                Value::String(s) => serde_json::from_str(s).map_err(|_| mismatch("JSON", v))?,
                other => other.clone(),
            };
            if let Some(schema) = &input.json_schema {
                super::json_schema::validate(schema, &parsed)
                    .map_err(|why| mismatch(format!("JSON matching its jsonSchema ({why})"), v))?;
            }
            Ok(parsed)
        }
        InputType::Yaml => match v {
            Value::String(s) => baton_model::yaml::parse(s).map(|(y, _)| y).map_err(|_| mismatch("YAML", v)),
            other => Ok(other.clone()),
        },
        InputType::Uri => match v {
            Value::String(s) if URI.is_match(s.trim()) => Ok(Value::String(s.trim().to_string())),
            _ => Err(mismatch("URI (scheme://…)", v)),
        },
        InputType::Email => match v {
            Value::String(s) if EMAIL.is_match(s.trim()) => Ok(Value::String(s.trim().to_string())),
            _ => Err(mismatch("EMAIL", v)),
        },
        InputType::File => match v {
            Value::String(s) if !s.trim().is_empty() => Ok(Value::String(s.clone())),
            _ => Err(mismatch("FILE (a path or kestra:// URI)", v)),
        },
    }
}

fn check_range(input: &Input, name: &str, n: f64, v: &Value) -> Result<(), Mismatch> {
    let fmt = |f: f64| if f.fract() == 0.0 { format!("{}", f as i64) } else { f.to_string() };
    let expected = match (input.min, input.max) {
        (Some(lo), Some(hi)) if n < lo || n > hi => format!("{name} between {} and {}", fmt(lo), fmt(hi)),
        (Some(lo), None) if n < lo => format!("{name} ≥ {}", fmt(lo)),
        (None, Some(hi)) if n > hi => format!("{name} ≤ {}", fmt(hi)),
        _ => return Ok(()),
    };
    Err(mismatch(expected, v))
}

/// A DURATION input's `min`/`max` (ISO durations, held in seconds).
fn check_duration_range(input: &Input, d: chrono::Duration, v: &Value) -> Result<(), Mismatch> {
    let secs = d.num_milliseconds() as f64 / 1000.0;
    let iso = |s: f64| duration::format_iso(chrono::Duration::milliseconds((s * 1000.0).round() as i64));
    let expected = match (input.min, input.max) {
        (Some(lo), Some(hi)) if secs < lo || secs > hi => format!("DURATION between {} and {}", iso(lo), iso(hi)),
        (Some(lo), None) if secs < lo => format!("DURATION ≥ {}", iso(lo)),
        (None, Some(hi)) if secs > hi => format!("DURATION ≤ {}", iso(hi)),
        _ => return Ok(()),
    };
    Err(mismatch(expected, v))
}

fn check_allowed(input: &Input, name: &str, s: &str, v: &Value) -> Result<(), Mismatch> {
    if input.allow_custom_value {
        return Ok(());
    }
    let values = input.values.as_deref().unwrap_or_default();
    if values.iter().any(|x| x == s) {
        return Ok(());
    }
    Err(mismatch(format!("{name} (one of: {})", values.join(", ")), v))
}

/// Checks the `after` / `before` bounds of DATETIME, DATE and TIME inputs.
fn check_bounds<T: PartialOrd>(
    input: &Input,
    name: &str,
    v: &Value,
    x: &T,
    parse: fn(&str) -> Option<T>,
) -> Result<(), Mismatch> {
    if let Some(a) = input.after.as_deref()
        && let Some(bound) = parse(a)
        && *x <= bound
    {
        return Err(mismatch(format!("{name} after {a}"), v));
    }
    if let Some(b) = input.before.as_deref()
        && let Some(bound) = parse(b)
        && *x >= bound
    {
        return Err(mismatch(format!("{name} before {b}"), v));
    }
    Ok(())
}

/// A list given as a JSON list, a JSON-list string, or a comma list.
fn split_list(v: &Value) -> Option<Vec<Value>> {
    match v {
        Value::Array(a) => Some(a.clone()),
        Value::String(s) => {
            let t = s.trim();
            if t.starts_with('[') {
                return match serde_json::from_str::<Value>(t) {
                    Ok(Value::Array(a)) => Some(a),
                    _ => None,
                };
            }
            if t.is_empty() {
                return Some(Vec::new());
            }
            Some(t.split(',').map(|x| Value::String(x.trim().to_string())).collect())
        }
        _ => None,
    }
}

/// Parses an ISO-8601 instant; a value without offset is taken as UTC.
pub fn parse_datetime(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.with_timezone(&Utc));
    }
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
        .map(|n| n.and_utc())
}

/// Formats like Java's `Instant.toString()`.
pub fn format_datetime(d: DateTime<Utc>) -> String {
    d.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Parses `yyyy-MM-dd`.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()
}

/// Parses `HH:mm[:ss[.fff]]`.
pub fn parse_time(s: &str) -> Option<NaiveTime> {
    let s = s.trim();
    NaiveTime::parse_from_str(s, "%H:%M:%S%.f").or_else(|_| NaiveTime::parse_from_str(s, "%H:%M")).ok()
}
