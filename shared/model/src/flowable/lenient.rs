//! How a flowable's written properties become its typed fields: leniently,
//! as the executor always read them — a number may be written as a string,
//! a flag is Kestra's truthiness of the value's text, a value of the wrong
//! shape reads as absent. The flow is validated before it runs
//! (`baton validate`, every deploy and save), and the validator names a
//! wrong kind with its line; the loader never fails on one.

use std::sync::Arc;

use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use crate::flow::scalar_string;

/// Kestra's truthiness of a rendered text: false only for "false", "0",
/// "-0", "", and "null".
pub fn truthy(s: &str) -> bool {
    !matches!(s.trim(), "false" | "0" | "-0" | "" | "null")
}

/// Any value as its text (`scalar_string`).
pub fn scalar<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Value::deserialize(d).map(|v| scalar_string(&v))
}

/// Any value as its text, absent only when not written.
pub fn opt_scalar<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Value::deserialize(d).map(|v| Some(scalar_string(&v)))
}

/// The value as written, `null` included (absent only when not written).
pub fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// The value as written, shared (`present`): a list's slack dropped, as
/// the value is held as long as its flow, and what an execution evaluates
/// of it may share it (a ForEach's 100,000 literal values are held once,
/// not once more per execution).
pub fn present_shared<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Arc<Value>>, D::Error> {
    let mut v = Value::deserialize(d)?;
    if let Value::Array(a) = &mut v {
        a.shrink_to_fit();
    }
    Ok(Some(Arc::new(v)))
}

/// A count: a non-negative number, or a string of one; anything else
/// reads as absent.
pub fn count<'de, D: Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Number(n) => n.as_u64().map(|n| n as usize),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    })
}

/// A flag: the truthiness of the value's text.
pub fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Value::deserialize(d).map(|v| Some(truthy(&scalar_string(&v))))
}

/// A list; any other value reads as empty.
pub fn list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Value>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Array(a) => a,
        _ => Vec::new(),
    })
}

/// A mapping; any other value reads as absent.
pub fn object<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Map<String, Value>>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Object(m) => Some(m),
        _ => None,
    })
}

/// A value that is not null (null reads as absent).
pub fn non_null<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Ok(Some(Value::deserialize(d)?).filter(|v| !v.is_null()))
}

/// A value that is not null, as its text (null reads as absent).
pub fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Some(Value::deserialize(d)?).filter(|v| !v.is_null()).map(|v| scalar_string(&v)))
}
