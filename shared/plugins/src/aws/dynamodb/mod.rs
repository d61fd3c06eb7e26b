//! Amazon DynamoDB (`io.kestra.plugin.aws.dynamodb.*`, plugin-aws
//! `dynamodb/`): [`item`] (`PutItem`, `GetItem`, `DeleteItem`) and [`read`]
//! (`Query`, `Scan`) on the official SDK, with the table property and the
//! conversion of values to and from DynamoDB's attributes here.
//!
//! Values are written as Kestra writes them (`AbstractDynamoDb`): text as
//! `S`, a boolean as `BOOL`, a map as `M`, a list of texts as a string set
//! `SS`, null as `NULL`, and a number as its text (`S`) — so a key written
//! `id: 1` is read back with `id: "1"`, as in Kestra's examples. A list
//! holding anything but text is written as a list `L` (Kestra fails on
//! it). Reading gives back every attribute type: Kestra reads a number
//! (`N`), a `false` and a list `L` as null; Baton reads them as they are.

pub mod item;
pub mod read;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use serde::Deserialize;
use serde_json::{Map, Number, Value};

use crate::{Declare, Registry, TaskError, de};

/// Registers the DynamoDB tasks.
pub fn register(r: &mut Registry) {
    r.register(*item::PUT);
    r.register(*item::GET);
    r.register(*item::DELETE);
    r.register(*read::QUERY);
    r.register(*read::SCAN);
}

/// The table every DynamoDB task names (Kestra's `AbstractDynamoDb`).
#[derive(Debug, Default, Clone, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
pub struct TableProps {
    /// The table's name.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic, required)]
    pub table_name: Option<String>,
}

impl TableProps {
    pub fn table(&self) -> Result<&str, TaskError> {
        match self.table_name.as_deref().map(str::trim) {
            None | Some("") => Err(TaskError::property("tableName", "the table's name is required")),
            Some(t) => Ok(t),
        }
    }
}

/// A value as Kestra writes it (see the module documentation).
pub fn to_attribute(v: &Value) -> AttributeValue {
    match v {
        Value::Null => AttributeValue::Null(true),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Number(n) => AttributeValue::S(n.to_string()),
        Value::String(s) => AttributeValue::S(s.clone()),
        Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_string) => {
            AttributeValue::Ss(items.iter().filter_map(|i| i.as_str().map(str::to_string)).collect())
        }
        Value::Array(items) => AttributeValue::L(items.iter().map(to_attribute).collect()),
        Value::Object(m) => AttributeValue::M(to_item(m)),
    }
}

/// A map of values as an item.
pub fn to_item(m: &Map<String, Value>) -> std::collections::HashMap<String, AttributeValue> {
    m.iter().map(|(k, v)| (k.clone(), to_attribute(v))).collect()
}

/// A number attribute's text as JSON (its text when JSON cannot hold it).
fn number(text: &str) -> Value {
    if let Ok(i) = text.parse::<i64>() {
        return Value::from(i);
    }
    match text.parse::<f64>().ok().and_then(Number::from_f64) {
        Some(n) => Value::Number(n),
        None => Value::String(text.to_string()),
    }
}

fn blob(b: &Blob) -> Value {
    Value::String(base64::engine::general_purpose::STANDARD.encode(b.as_ref()))
}

/// An attribute read back (binary as base64 text).
pub fn from_attribute(a: &AttributeValue) -> Value {
    match a {
        AttributeValue::S(s) => Value::String(s.clone()),
        AttributeValue::N(n) => number(n),
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::Ss(v) => Value::Array(v.iter().cloned().map(Value::String).collect()),
        AttributeValue::Ns(v) => Value::Array(v.iter().map(|n| number(n)).collect()),
        AttributeValue::Bs(v) => Value::Array(v.iter().map(blob).collect()),
        AttributeValue::B(b) => blob(b),
        AttributeValue::L(v) => Value::Array(v.iter().map(from_attribute).collect()),
        AttributeValue::M(m) => Value::Object(from_item(m)),
        _ => Value::Null,
    }
}

/// An item read back, its attributes sorted by name.
pub fn from_item(m: &std::collections::HashMap<String, AttributeValue>) -> Map<String, Value> {
    let mut keys: Vec<&String> = m.keys().collect();
    keys.sort();
    keys.into_iter().map(|k| (k.clone(), from_attribute(&m[k]))).collect()
}

/// A map property (`item`, `key`, `expressionAttributeValues`): a map, or
/// a string holding a JSON object (Kestra's `item: "{{ … | toJson }}"`).
pub fn map_of(name: &str, v: &Value) -> Result<Map<String, Value>, TaskError> {
    match v {
        Value::Object(m) => Ok(m.clone()),
        Value::String(s) => match serde_json::from_str::<Value>(s) {
            Ok(Value::Object(m)) => Ok(m),
            _ => Err(TaskError::property(name, "expected a map, or a string holding a JSON object")),
        },
        other => Err(TaskError::property(name, format!("expected a map, found {other}"))),
    }
}

/// Validation's check of a written map property (a template passes).
pub fn map_ok(v: &Value) -> Result<(), String> {
    match v {
        Value::Object(_) | Value::String(_) => Ok(()),
        other => Err(format!("expected a map, found {other}")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn values_are_written_as_kestra_writes_them_and_read_back() {
        assert_eq!(to_attribute(&json!(1)), AttributeValue::S("1".into()));
        assert_eq!(to_attribute(&json!(["a", "b"])), AttributeValue::Ss(vec!["a".into(), "b".into()]));
        assert_eq!(
            to_attribute(&json!([1, "b"])),
            AttributeValue::L(vec![AttributeValue::S("1".into()), AttributeValue::S("b".into())])
        );
        let item = json!({"id": 1, "ok": false, "tags": ["x"], "nested": {"n": null}});
        let back = from_item(&to_item(item.as_object().expect("map")));
        assert_eq!(Value::Object(back), json!({"id": "1", "nested": {"n": null}, "ok": false, "tags": ["x"]}));
        assert_eq!(from_attribute(&AttributeValue::N("12".into())), json!(12));
        assert_eq!(from_attribute(&AttributeValue::N("1.5".into())), json!(1.5));
        assert_eq!(map_of("item", &json!("{\"a\": 1}")).unwrap(), json!({"a": 1}).as_object().unwrap().clone());
        assert!(map_of("item", &json!("nope")).unwrap_err().to_string().contains("'item'"));
    }
}
