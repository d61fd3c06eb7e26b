//! Query strings and forms: percent-decoded pairs, a route's supported
//! parameters (anything else is refused, never silently ignored), paging,
//! and labels written `key:value`, `{key: value}` or `[{key, value}]`.

use serde_json::Value;

use super::error::{ApiError, ApiResult};
use crate::model::Label;

/// `key=value` pairs of a query string or urlencoded form, decoded, in order.
pub fn query_pairs(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

/// Decodes `%XX` and `+`; a malformed escape stays as written.
pub fn percent_decode(s: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether `namespace` is `root` or one of its children (`root.…`), as
/// Kestra's older `namespace` parameter selects.
pub fn in_namespace(namespace: &str, root: &str) -> bool {
    namespace.strip_prefix(root).is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
}

/// The parts of a Kestra filter parameter: `filters[labels][EQUALS][team]`
/// gives `["labels", "EQUALS", "team"]`.
pub fn filter_parts(key: &str) -> Vec<&str> {
    key.strip_prefix("filters[").and_then(|r| r.strip_suffix(']')).unwrap_or("").split("][").collect()
}

/// The `filters[…]` parameters with a value, with their parts.
pub fn filters(p: &Params) -> impl Iterator<Item = (&str, Vec<&str>, &String)> {
    p.pairs
        .iter()
        .filter(|(k, v)| k.starts_with("filters[") && !v.is_empty())
        .map(|(k, v)| (k.as_str(), filter_parts(k), v))
}

/// A request's query parameters, checked against what its route supports.
#[derive(Debug, Default, Clone)]
pub struct Params {
    pub pairs: Vec<(String, String)>,
}

impl Params {
    /// Parses `raw`; a parameter not in `supported` (or, for a name ending
    /// in `[`, not starting with it) is a 400 naming it and the route's
    /// parameters.
    pub fn parse(raw: Option<&str>, route: &str, supported: &[&str]) -> ApiResult<Params> {
        let pairs = query_pairs(raw.unwrap_or(""));
        for (k, _) in &pairs {
            let ok = supported.iter().any(|s| if s.ends_with('[') { k.starts_with(s) } else { k == s });
            if !ok {
                let list = if supported.is_empty() { "none".to_string() } else { supported.join(", ") };
                return Err(ApiError::bad_request(format!(
                    "query parameter '{k}' is not supported by {route} in Baton (supported: {list})"
                )));
            }
        }
        Ok(Params { pairs })
    }

    /// The last non-empty value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs.iter().rev().find(|(k, v)| k == key && !v.is_empty()).map(|(_, v)| v.as_str())
    }

    /// Every non-empty value of `key`, in order.
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.pairs.iter().filter(|(k, v)| k == key && !v.is_empty()).map(|(_, v)| v.as_str()).collect()
    }

    /// `true`/`false` (absent: `default`).
    pub fn flag(&self, key: &str, default: bool) -> ApiResult<bool> {
        match self.get(key) {
            None => Ok(default),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
            Some(v) => Err(ApiError::bad_request(format!("{key} must be true or false, got '{v}'"))),
        }
    }

    /// A positive number (absent: `default`).
    pub fn number(&self, key: &str, default: usize) -> ApiResult<usize> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => match v.trim().parse::<usize>() {
                Ok(n) if n > 0 => Ok(n),
                _ => Err(ApiError::bad_request(format!("{key} must be a positive number, got '{v}'"))),
            },
        }
    }

    /// Kestra's paging: `page` from 1, `size` (default 10, at most 10,000).
    pub fn paging(&self) -> ApiResult<Paging> {
        let page = self.number("page", 1)?;
        let size = self.number("size", 10)?;
        if size > 10_000 {
            return Err(ApiError::bad_request(format!("size {size} is over the maximum of 10000")));
        }
        Ok(Paging { page, size })
    }

    /// Labels of `?labels=key:value` (repeatable).
    pub fn labels(&self, key: &str) -> ApiResult<Vec<Label>> {
        self.all(key).into_iter().map(|v| label_from_str(v).map_err(ApiError::unprocessable)).collect()
    }
}

/// A page of results.
#[derive(Debug, Clone, Copy)]
pub struct Paging {
    pub page: usize,
    pub size: usize,
}

impl Paging {
    /// The slice of `items` this page shows.
    pub fn slice<T>(&self, items: Vec<T>) -> Vec<T> {
        items.into_iter().skip((self.page - 1).saturating_mul(self.size)).take(self.size).collect()
    }
}

/// `key:value`.
pub fn label_from_str(s: &str) -> Result<Label, String> {
    match s.split_once(':') {
        Some((k, v)) if !k.is_empty() => Ok(Label { key: k.to_string(), value: v.to_string() }),
        _ => Err(format!("label '{s}' must be written key:value")),
    }
}

fn value_text(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_string)
}

/// Labels as a `{key: value}` map, a `[{key, value}]` list or `["key:value"]`.
pub fn labels_from_json(v: &Value) -> Result<Vec<Label>, String> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::Object(m) => Ok(m.iter().map(|(k, v)| Label { key: k.clone(), value: value_text(v) }).collect()),
        Value::Array(items) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => label_from_str(s),
                Value::Object(o) => match (o.get("key").and_then(Value::as_str), o.get("value")) {
                    (Some(k), Some(v)) => Ok(Label { key: k.into(), value: value_text(v) }),
                    _ => Err(format!("label {i} needs 'key' and 'value'")),
                },
                other => Err(format!("label {other} must be key:value or {{key, value}}")),
            })
            .collect(),
        other => Err(format!("labels must be a map or a list, got {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_and_form_decoding() {
        assert_eq!(
            query_pairs("labels=env%3Aprod&labels=team:data&x=a+b&y"),
            vec![
                ("labels".to_string(), "env:prod".to_string()),
                ("labels".to_string(), "team:data".to_string()),
                ("x".to_string(), "a b".to_string()),
                ("y".to_string(), String::new()),
            ]
        );
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%41"), "%zzA");
    }

    #[test]
    fn unsupported_parameters_are_named() {
        let e = Params::parse(Some("namespace=a&bogus=1"), "GET /x", &["namespace"]).unwrap_err();
        assert!(e.message.contains("'bogus'") && e.message.contains("namespace"), "{}", e.message);
        let p = Params::parse(Some("filters%5Bstate%5D%5BEQUALS%5D=SUCCESS"), "GET /x", &["filters["]).unwrap();
        assert_eq!(p.pairs[0].0, "filters[state][EQUALS]");
    }

    #[test]
    fn labels_in_every_form() {
        let l = labels_from_json(&serde_json::json!([{"key": "a", "value": 1}, "b:c"])).unwrap();
        assert_eq!((l[0].value.as_str(), l[1].key.as_str()), ("1", "b"));
        assert!(labels_from_json(&serde_json::json!(["nocolon"])).is_err());
    }
}
