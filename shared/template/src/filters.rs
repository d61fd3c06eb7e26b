//! Kestra's and Pebble's filters and tests (`date`, `dateAdd`, `toJson`,
//! `jq`, `slugify`, `substringBefore`, Pebble's `default`, `replace`, `slice`,
//! `split`, `join`…) registered on the environment, plus the argument
//! helper shared with the functions (positional or named arguments).

use std::collections::BTreeMap;

use base64::Engine;
use minijinja::value::{Kwargs, Rest, Value, ValueKind, from_args};
use minijinja::{Environment, Error, ErrorKind};

use super::date::{self, Dt, Input, Zone};
use super::{json, size};
use formats::{hex, indent_text, number, number_format, replaced_len, slugify, url_decode, url_encode};

mod formats;

/// An error raised by a filter or function.
pub fn err(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

fn undefined_err() -> Error {
    Error::from(ErrorKind::UndefinedError)
}

/// Arguments given by position or by name (`date('yyyy', timeZone='UTC')`).
pub struct Args {
    pos: Vec<Value>,
    kw: Option<Kwargs>,
}

impl Args {
    /// Splits positional and keyword arguments.
    pub fn new(args: &[Value]) -> Args {
        match from_args::<(&[Value], Kwargs)>(args) {
            Ok((pos, kw)) => Args { pos: pos.to_vec(), kw: Some(kw) },
            Err(_) => Args { pos: args.to_vec(), kw: None },
        }
    }
    /// The argument at `i` or named `name`; None if absent or null.
    pub fn get(&self, i: usize, name: &str) -> Option<Value> {
        let v = self
            .pos
            .get(i)
            .cloned()
            .or_else(|| self.kw.as_ref().and_then(|k| k.peek::<Option<Value>>(name).ok().flatten()));
        v.filter(|v| !v.is_none() && !v.is_undefined())
    }
    /// A string argument.
    pub fn str(&self, i: usize, name: &str) -> Result<Option<String>, Error> {
        match self.get(i, name) {
            None => Ok(None),
            Some(v) => match v.as_str() {
                Some(s) => Ok(Some(s.to_string())),
                None => Ok(Some(json::to_text(&v))),
            },
        }
    }
    /// An integer argument.
    pub fn int(&self, i: usize, name: &str) -> Result<Option<i64>, Error> {
        match self.get(i, name) {
            None => Ok(None),
            Some(v) => to_i64(&v).map(Some),
        }
    }
    /// A boolean argument.
    pub fn bool(&self, i: usize, name: &str) -> Option<bool> {
        self.get(i, name).map(|v| match v.as_str() {
            Some(s) => s.eq_ignore_ascii_case("true"),
            None => v.is_true(),
        })
    }
}

/// A value as an integer (numbers, numeric strings).
pub fn to_i64(v: &Value) -> Result<i64, Error> {
    if let Some(i) = v.as_i64() {
        return Ok(i);
    }
    if let Ok(f) = f64::try_from(v.clone()) {
        return Ok(f as i64);
    }
    v.as_str()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .ok_or_else(|| err(format!("expected an integer, got '{}'", json::to_text(v))))
}

fn text(v: &Value) -> Result<String, Error> {
    if v.is_undefined() {
        return Err(undefined_err());
    }
    Ok(json::to_text(v))
}

/// The date an input value denotes (ISO string or epoch seconds).
pub fn to_date(v: &Value, zone: Zone, existing: Option<&str>) -> Result<Dt, Error> {
    if v.is_undefined() {
        return Err(undefined_err());
    }
    let r = if let Some(s) = v.as_str() {
        date::convert(Input::Str(s), zone, existing)
    } else if let Ok(f) = f64::try_from(v.clone()) {
        date::convert(Input::Epoch(f), zone, existing)
    } else {
        Err(format!("Unsupported type for date: '{}'", json::to_text(v)))
    };
    r.map_err(err)
}

fn date_filter(v: Value, args: Rest<Value>) -> Result<Value, Error> {
    if v.is_none() {
        return Ok(Value::from(()));
    }
    let a = Args::new(&args);
    let zone = Zone::parse(a.str(1, "timeZone")?.as_deref()).map_err(err)?;
    let dt = to_date(&v, zone, a.str(2, "existingFormat")?.as_deref())?;
    date::format(&dt, a.str(0, "format")?.as_deref()).map(Value::from).map_err(err)
}

fn date_add(v: Value, args: Rest<Value>) -> Result<Value, Error> {
    if v.is_none() {
        return Ok(Value::from(()));
    }
    let a = Args::new(&args);
    let amount = a.int(0, "amount")?.ok_or_else(|| err("dateAdd: missing 'amount'"))?;
    let unit = a.str(1, "unit")?.ok_or_else(|| err("dateAdd: missing 'unit'"))?;
    let zone = Zone::parse(a.str(3, "timeZone")?.as_deref()).map_err(err)?;
    let dt = to_date(&v, zone, a.str(4, "existingFormat")?.as_deref())?;
    let dt = date::add(&dt, amount, &unit).map_err(err)?;
    date::format(&dt, a.str(2, "format")?.as_deref()).map(Value::from).map_err(err)
}

fn timestamp_with(v: &Value, args: &[Value], scale: i64) -> Result<Value, Error> {
    if v.is_none() {
        return Ok(Value::from(()));
    }
    let a = Args::new(args);
    let zone = Zone::parse(a.str(0, "timeZone")?.as_deref()).map_err(err)?;
    let dt = to_date(v, zone, a.str(1, "existingFormat")?.as_deref())?;
    let secs = dt.instant.timestamp();
    let sub = dt.instant.timestamp_subsec_nanos() as i64;
    Ok(Value::from(match scale {
        1 => secs,
        1_000_000 => secs.saturating_mul(1_000_000) + sub / 1000,
        _ => secs.saturating_mul(1_000_000_000) + sub,
    }))
}

fn from_json_value(s: &str) -> Result<Value, Error> {
    serde_json::from_str::<serde_json::Value>(s)
        .map(Value::from_serialize)
        .map_err(|e| err(format!("Invalid JSON: {e}")))
}

/// Parses a JSON string into a value (`fromJson`); null stays null.
pub fn from_json(v: &Value) -> Result<Value, Error> {
    match v.kind() {
        ValueKind::None => Ok(Value::from(())),
        ValueKind::Undefined => Err(undefined_err()),
        ValueKind::String => from_json_value(v.as_str().unwrap_or_default()),
        _ => Ok(v.clone()),
    }
}

fn items(v: &Value) -> Result<Vec<Value>, Error> {
    if v.is_undefined() {
        return Err(undefined_err());
    }
    if v.is_none() {
        return Ok(Vec::new());
    }
    Ok(v.try_iter()?.collect())
}

fn pebble_empty(v: &Value) -> bool {
    match v.kind() {
        ValueKind::Undefined | ValueKind::None => true,
        ValueKind::String => v.as_str().unwrap_or_default().trim().is_empty(),
        ValueKind::Seq | ValueKind::Map | ValueKind::Iterable => v.len() == Some(0),
        _ => false,
    }
}

fn class_name(v: &Value) -> Value {
    Value::from(match v.kind() {
        ValueKind::None | ValueKind::Undefined => return Value::from(()),
        ValueKind::String => "java.lang.String",
        ValueKind::Bool => "java.lang.Boolean",
        ValueKind::Number if v.is_integer() => {
            if v.as_i64().is_some_and(|i| i32::try_from(i).is_ok()) {
                "java.lang.Integer"
            } else {
                "java.lang.Long"
            }
        }
        ValueKind::Number => "java.lang.Double",
        ValueKind::Seq | ValueKind::Iterable => "java.util.ArrayList",
        ValueKind::Map => "java.util.LinkedHashMap",
        _ => "java.lang.Object",
    })
}

/// Registers every filter and test; returns the filters' names.
pub fn register(env: &mut Environment<'static>) -> Vec<&'static str> {
    let mut env = super::vocabulary::Recorder::new(env);
    env.add_filter("date", date_filter);
    env.add_filter("dateAdd", date_add);
    env.add_filter("timestamp", |v: Value, a: Rest<Value>| timestamp_with(&v, &a, 1));
    env.add_filter("timestampMicro", |v: Value, a: Rest<Value>| timestamp_with(&v, &a, 1_000_000));
    env.add_filter("timestampNano", |v: Value, a: Rest<Value>| timestamp_with(&v, &a, 1_000_000_000));
    for name in ["toJson", "json", "toIon"] {
        env.add_filter(name, |v: Value| -> Result<Value, Error> {
            if v.is_undefined() {
                return Err(undefined_err());
            }
            Ok(Value::from(json::to_json(&v)))
        });
    }
    env.add_filter("fromJson", |v: Value| from_json(&v));
    env.add_filter("yaml", |v: Value| -> Result<Value, Error> {
        if v.is_undefined() {
            return Err(undefined_err());
        }
        Ok(Value::from(json::to_yaml(&v)))
    });
    env.add_filter("jq", |v: Value, expr: String| -> Result<Value, Error> {
        if v.is_undefined() {
            return Err(undefined_err());
        }
        // Text is read as Kestra's Jackson `readTree` reads it: the first
        // JSON value, so JSON lines give their first record.
        let first = v.as_str().and_then(|s| serde_json::Deserializer::from_str(s).into_iter().next());
        let input = match first {
            Some(Ok(j @ (serde_json::Value::Object(_) | serde_json::Value::Array(_)))) => j,
            _ => json::to_serde(&v),
        };
        super::jq::run(input, &expr).map(Value::from_serialize).map_err(|e| err(format!("jq '{expr}': {e}")))
    });
    env.add_filter("slugify", |v: Value| text(&v).map(|s| Value::from(slugify(&s))));
    env.add_filter("substringBefore", |v: Value, sep: String| {
        text(&v).map(|s| Value::from(s.find(&sep).map(|i| &s[..i]).unwrap_or(&s).to_string()))
    });
    env.add_filter("substringBeforeLast", |v: Value, sep: String| {
        text(&v).map(|s| Value::from(s.rfind(&sep).map(|i| &s[..i]).unwrap_or(&s).to_string()))
    });
    env.add_filter("substringAfter", |v: Value, sep: String| {
        text(&v).map(|s| Value::from(s.find(&sep).map(|i| &s[i + sep.len()..]).unwrap_or("").to_string()))
    });
    env.add_filter("substringAfterLast", |v: Value, sep: String| {
        text(&v).map(|s| Value::from(s.rfind(&sep).map(|i| &s[i + sep.len()..]).unwrap_or("").to_string()))
    });
    env.add_filter("startsWith", |v: Value, p: String| text(&v).map(|s| s.starts_with(&p)));
    env.add_filter("endsWith", |v: Value, p: String| text(&v).map(|s| s.ends_with(&p)));
    env.add_filter("keys", |v: Value| -> Result<Value, Error> {
        if v.kind() != ValueKind::Map {
            return Err(err(format!("keys: expected a map, got '{}'", json::to_text(&v))));
        }
        Ok(Value::from(items(&v)?))
    });
    env.add_filter("values", |v: Value| -> Result<Value, Error> {
        if v.kind() != ValueKind::Map {
            return Err(err(format!("values: expected a map, got '{}'", json::to_text(&v))));
        }
        let vals: Vec<Value> = items(&v)?.iter().map(|k| v.get_item(k).unwrap_or_default()).collect();
        Ok(Value::from(vals))
    });
    env.add_filter("flatten", |v: Value| -> Result<Value, Error> {
        let mut out = Vec::new();
        for x in items(&v)? {
            if matches!(x.kind(), ValueKind::Seq | ValueKind::Iterable) {
                out.extend(items(&x)?);
            } else {
                out.push(x);
            }
        }
        Ok(Value::from(out))
    });
    env.add_filter("chunk", |v: Value, n: usize| -> Result<Value, Error> {
        if n == 0 {
            return Err(err("chunk: size must be positive"));
        }
        let all = items(&v)?;
        Ok(Value::from(all.chunks(n).map(|c| Value::from(c.to_vec())).collect::<Vec<_>>()))
    });
    env.add_filter("number", |v: Value, kind: Option<String>| number(v, kind));
    env.add_filter("md5", |v: Value| {
        use md5::Digest;
        text(&v).map(|s| hex(&md5::Md5::digest(s.as_bytes())))
    });
    env.add_filter("sha1", |v: Value| {
        use sha1::Digest;
        text(&v).map(|s| hex(&sha1::Sha1::digest(s.as_bytes())))
    });
    env.add_filter("sha256", |v: Value| {
        use sha2::Digest;
        text(&v).map(|s| hex(&sha2::Sha256::digest(s.as_bytes())))
    });
    env.add_filter("sha512", |v: Value| {
        use sha2::Digest;
        text(&v).map(|s| hex(&sha2::Sha512::digest(s.as_bytes())))
    });
    env.add_filter("urlencode", |v: Value| text(&v).map(|s| url_encode(&s)));
    env.add_filter("urldecode", |v: Value| text(&v).map(|s| url_decode(&s)));
    env.add_filter("base64encode", |v: Value| {
        text(&v).map(|s| base64::engine::general_purpose::STANDARD.encode(s.as_bytes()))
    });
    env.add_filter("base64decode", |v: Value| -> Result<Value, Error> {
        let s = text(&v)?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(s.trim().as_bytes())
            .map_err(|e| err(format!("base64decode: {e}")))?;
        Ok(Value::from(String::from_utf8_lossy(&bytes).into_owned()))
    });
    env.add_filter("escapeChar", |v: Value, kind: String| -> Result<Value, Error> {
        let s = text(&v)?;
        Ok(Value::from(match kind.as_str() {
            "single" => s.replace('\'', "\\'"),
            "double" => s.replace('"', "\\\""),
            "shell" => s.replace('\'', "'\\''"),
            other => return Err(err(format!("escapeChar: unknown type '{other}' (single, double, shell)"))),
        }))
    });
    env.add_filter("indent", |v: Value, n: usize, prefix: Option<String>| {
        indent_text(&text(&v)?, n, prefix.as_deref().unwrap_or(" "), false)
    });
    env.add_filter("nindent", |v: Value, n: usize, prefix: Option<String>| {
        Ok::<_, Error>(format!("\n{}", indent_text(&text(&v)?, n, prefix.as_deref().unwrap_or(" "), true)?))
    });
    env.add_filter("abbreviate", |v: Value, n: usize| -> Result<Value, Error> {
        let s = text(&v)?;
        if s.chars().count() <= n {
            return Ok(Value::from(s));
        }
        if n < 4 {
            return Err(err("abbreviate: minimum width is 4"));
        }
        Ok(Value::from(format!("{}...", s.chars().take(n - 3).collect::<String>())))
    });
    env.add_filter("capitalize", |v: Value| -> Result<Value, Error> {
        let s = text(&v)?;
        let mut c = s.chars();
        Ok(Value::from(match c.next() {
            Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
            None => String::new(),
        }))
    });
    env.add_filter("default", |v: Value, d: Option<Value>| -> Value {
        if pebble_empty(&v) { d.unwrap_or_else(|| Value::from("")) } else { v }
    });
    env.add_filter("replace", |v: Value, a: Value, b: Option<Value>| -> Result<Value, Error> {
        let mut s = text(&v)?;
        if a.kind() == ValueKind::Map {
            for k in items(&a)? {
                let to = a.get_item(&k)?;
                let (from, to) = (json::to_text(&k), json::to_text(&to));
                replaced_len(&s, &from, &to)?;
                s = s.replace(&from, &to);
            }
            return Ok(Value::from(s));
        }
        let to = b.ok_or_else(|| err("replace: expected a map or (search, replacement)"))?;
        let (from, to) = (json::to_text(&a), json::to_text(&to));
        replaced_len(&s, &from, &to)?;
        Ok(Value::from(s.replace(&from, &to)))
    });
    env.add_filter("split", |v: Value, sep: String, limit: Option<i64>| -> Result<Value, Error> {
        let s = text(&v)?;
        let mut parts: Vec<Value> = match limit {
            Some(l) if l > 0 => s.splitn(l as usize, sep.as_str()).map(Value::from).collect(),
            _ => s.split(sep.as_str()).map(Value::from).collect(),
        };
        if limit.unwrap_or(0) == 0 {
            while parts.len() > 1 && parts.last().is_some_and(|p| p.as_str() == Some("")) {
                parts.pop();
            }
        }
        Ok(Value::from(parts))
    });
    env.add_filter("length", |v: Value| -> Result<Value, Error> {
        match v.kind() {
            ValueKind::Undefined => Err(undefined_err()),
            ValueKind::None => Ok(Value::from(0)),
            ValueKind::String => Ok(Value::from(v.as_str().unwrap_or_default().chars().count())),
            _ => Ok(Value::from(v.len().unwrap_or_else(|| items(&v).map(|i| i.len()).unwrap_or(0)))),
        }
    });
    env.add_filter("join", |v: Value, sep: Option<String>| -> Result<Value, Error> {
        let parts: Vec<String> = items(&v)?.iter().map(json::to_text).collect();
        let sep = sep.as_deref().unwrap_or("");
        let len = parts.iter().fold(0usize, |n, p| n.saturating_add(p.len()));
        size::check(len.saturating_add(sep.len().saturating_mul(parts.len().saturating_sub(1))), "join")?;
        Ok(Value::from(parts.join(sep)))
    });
    env.add_filter("slice", |v: Value, from: Option<i64>, to: Option<i64>| -> Result<Value, Error> {
        if let Some(s) = v.as_str() {
            let chars: Vec<char> = s.chars().collect();
            let (a, b) = bounds(chars.len(), from, to)?;
            return Ok(Value::from(chars[a..b].iter().collect::<String>()));
        }
        let all = items(&v)?;
        let (a, b) = bounds(all.len(), from, to)?;
        Ok(Value::from(all[a..b].to_vec()))
    });
    env.add_filter("rsort", |v: Value| -> Result<Value, Error> {
        let mut all = items(&v)?;
        all.sort();
        all.reverse();
        Ok(Value::from(all))
    });
    env.add_filter("merge", |v: Value, other: Value| -> Result<Value, Error> {
        if v.kind() == ValueKind::Map {
            let mut m: BTreeMap<String, Value> = BTreeMap::new();
            let mut order = Vec::new();
            for src in [&v, &other] {
                for k in items(src)? {
                    let key = json::to_text(&k);
                    if !m.contains_key(&key) {
                        order.push(key.clone());
                    }
                    m.insert(key, src.get_item(&k)?);
                }
            }
            return Ok(Value::from_iter(order.into_iter().map(|k| {
                let val = m.remove(&k).unwrap_or_default();
                (k, val)
            })));
        }
        let mut all = items(&v)?;
        all.extend(items(&other)?);
        Ok(Value::from(all))
    });
    // Kestra's name is `numberFormat`; the lower-case one is kept for older flows
    for name in ["numberFormat", "numberformat"] {
        env.add_filter(name, |v: Value, pattern: String| -> Result<Value, Error> {
            let f = f64::try_from(v.clone())
                .map_err(|_| err(format!("numberFormat: '{}' is not a number", json::to_text(&v))))?;
            Ok(Value::from(number_format(f, &pattern)))
        });
    }
    env.add_filter("className", |v: Value| class_name(&v));
    env.add_filter("raw", |v: Value| v);

    env.add_test("empty", |v: Value| pebble_empty(&v));
    env.add_test("null", |v: Value| v.is_none() || v.is_undefined());
    env.add_test("map", |v: Value| v.kind() == ValueKind::Map);
    env.add_test("json", |v: Value| v.as_str().is_some_and(|s| serde_json::from_str::<serde_json::Value>(s).is_ok()));
    env.filters
}

fn bounds(len: usize, from: Option<i64>, to: Option<i64>) -> Result<(usize, usize), Error> {
    let a = from.unwrap_or(0);
    let b = to.unwrap_or(len as i64);
    if a < 0 || b < a || b as usize > len {
        return Err(err(format!("slice: indexes {a}..{b} out of bounds for length {len}")));
    }
    Ok((a as usize, b as usize))
}
