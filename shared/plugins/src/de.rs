//! Lenient serde helpers for plugin properties. The worker renders every
//! string property before a plugin is built, so a number, boolean or
//! duration may arrive either typed (`3`, `true`) or as a rendered string
//! (`"3"`, `"true"`, `"PT1S"`). Use with `#[serde(deserialize_with = …)]`
//! (and `default` for the `opt_` variants).

use chrono::Duration;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use baton_model::duration::parse_iso;

/// A JSON value shown as a property string: strings as is, numbers and
/// booleans printed, maps and lists as JSON, `null` as empty.
pub fn value_to_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn parse_duration_value<E: serde::de::Error>(v: &Value) -> Result<Duration, E> {
    match v {
        Value::String(s) => parse_iso(s).map_err(E::custom),
        // A bare number is taken as seconds.
        Value::Number(n) => n
            .as_f64()
            .and_then(|f| Duration::try_milliseconds((f * 1000.0).round() as i64))
            .ok_or_else(|| E::custom(format!("'{n}' is not a valid duration"))),
        other => Err(E::custom(format!("expected an ISO-8601 duration (e.g. PT5M), found {other}"))),
    }
}

/// An ISO-8601 duration (`PT5M`); a bare number is seconds.
pub fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let v = Value::deserialize(d)?;
    parse_duration_value(&v)
}

/// An optional ISO-8601 duration; `null` and `""` are `None`.
pub fn opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    let v = Value::deserialize(d)?;
    match &v {
        Value::Null => Ok(None),
        Value::String(s) if s.trim().is_empty() => Ok(None),
        other => parse_duration_value(other).map(Some),
    }
}

fn parse_bool_value<E: serde::de::Error>(v: &Value) -> Result<bool, E> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(E::custom(format!("expected true or false, found '{s}'"))),
        },
        other => Err(E::custom(format!("expected true or false, found {other}"))),
    }
}

/// A boolean, or the strings `"true"`/`"false"` (any case).
pub fn bool_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    let v = Value::deserialize(d)?;
    parse_bool_value(&v)
}

/// An optional lenient boolean; `null` and `""` are `None`.
pub fn opt_bool_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    let v = Value::deserialize(d)?;
    match &v {
        Value::Null => Ok(None),
        Value::String(s) if s.trim().is_empty() => Ok(None),
        other => parse_bool_value(other).map(Some),
    }
}

fn parse_u64_value<E: serde::de::Error>(v: &Value) -> Result<u64, E> {
    match v {
        Value::Number(n) => n.as_u64().ok_or_else(|| E::custom(format!("expected a non-negative integer, found {n}"))),
        Value::String(s) => {
            s.trim().parse::<u64>().map_err(|_| E::custom(format!("expected a non-negative integer, found '{s}'")))
        }
        other => Err(E::custom(format!("expected a non-negative integer, found {other}"))),
    }
}

/// A non-negative integer, or a string holding one.
pub fn u64_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let v = Value::deserialize(d)?;
    parse_u64_value(&v)
}

/// An optional lenient integer; `null` and `""` are `None`.
pub fn opt_u64_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let v = Value::deserialize(d)?;
    match &v {
        Value::Null => Ok(None),
        Value::String(s) if s.trim().is_empty() => Ok(None),
        other => parse_u64_value(other).map(Some),
    }
}

/// A string; numbers and booleans are accepted and printed.
pub fn string_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let v = Value::deserialize(d)?;
    match &v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(_) | Value::Bool(_) => Ok(v.to_string()),
        other => Err(D::Error::custom(format!("expected a string, found {other}"))),
    }
}

/// An optional lenient string; `null` is `None`.
pub fn opt_string_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = Value::deserialize(d)?;
    match &v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        Value::Number(_) | Value::Bool(_) => Ok(Some(v.to_string())),
        other => Err(D::Error::custom(format!("expected a string, found {other}"))),
    }
}

/// A string or a list of strings (scalars printed), as a list.
pub fn string_or_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let v = Value::deserialize(d)?;
    match v {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => items
            .iter()
            .map(|x| match x {
                Value::Array(_) | Value::Object(_) => {
                    Err(D::Error::custom(format!("expected a string or a list of strings, found {x}")))
                }
                other => Ok(value_to_string(other)),
            })
            .collect(),
        Value::Object(_) => Err(D::Error::custom("expected a string or a list of strings, found a map")),
        other => Ok(vec![value_to_string(&other)]),
    }
}

/// A map of string → string (scalars printed, maps and lists as JSON).
pub fn string_map<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(String, String)>, D::Error> {
    let v = Value::deserialize(d)?;
    match v {
        Value::Null => Ok(Vec::new()),
        Value::Object(m) => Ok(m.iter().map(|(k, v)| (k.clone(), value_to_string(v))).collect()),
        other => Err(D::Error::custom(format!("expected a map, found {other}"))),
    }
}

/// A map of name → values (a scalar or a list of scalars), e.g. HTTP headers.
pub fn multi_map<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(String, Vec<String>)>, D::Error> {
    let v = Value::deserialize(d)?;
    match v {
        Value::Null => Ok(Vec::new()),
        Value::Object(m) => Ok(m
            .iter()
            .map(|(k, v)| {
                let vals = match v {
                    Value::Array(items) => items.iter().map(value_to_string).collect(),
                    other => vec![value_to_string(other)],
                };
                (k.clone(), vals)
            })
            .collect()),
        other => Err(D::Error::custom(format!("expected a map, found {other}"))),
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    use super::*;

    #[derive(Deserialize)]
    struct P {
        #[serde(deserialize_with = "duration")]
        d: Duration,
        #[serde(default, deserialize_with = "opt_duration")]
        od: Option<Duration>,
        #[serde(deserialize_with = "bool_lenient")]
        b: bool,
        #[serde(deserialize_with = "u64_lenient")]
        n: u64,
        #[serde(deserialize_with = "string_or_list")]
        l: Vec<String>,
    }

    #[test]
    fn lenient_values() {
        let p: P = serde_json::from_value(json!({"d": "PT1S", "b": "TRUE", "n": "3", "l": "x"})).unwrap();
        assert_eq!(p.d, Duration::seconds(1));
        assert_eq!(p.od, None);
        assert!(p.b);
        assert_eq!(p.n, 3);
        assert_eq!(p.l, vec!["x"]);
        let p: P = serde_json::from_value(json!({"d": 2, "od": "PT1M", "b": false, "n": 4, "l": ["a", 1]})).unwrap();
        assert_eq!(p.d, Duration::seconds(2));
        assert_eq!(p.od, Some(Duration::minutes(1)));
        assert!(!p.b);
        assert_eq!(p.l, vec!["a", "1"]);
        assert!(serde_json::from_value::<P>(json!({"d": "soon", "b": true, "n": 1, "l": "x"})).is_err());
        assert!(serde_json::from_value::<P>(json!({"d": "PT1S", "b": "yes", "n": 1, "l": "x"})).is_err());
    }
}
