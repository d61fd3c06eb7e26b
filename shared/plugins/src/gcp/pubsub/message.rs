//! Kestra's Pub/Sub `Message` (plugin-gcp `pubsub/model/Message.java`,
//! `SerdeType.java`) both ways:
//!
//! - written (Publish's `from`): `data`, `attributes`, `messageId`,
//!   `orderingKey`, nothing else. A string `data` is sent as its UTF-8
//!   bytes whatever `serdeType` (so Kestra's `"{{ 'x' | base64encode }}"`
//!   publishes the base64 text, not the decoded bytes); other values are
//!   serialized by `serdeType`: JSON as JSON, STRING as Java's `toString`
//!   (`{a=1, b=[x, y]}`). `messageId` is accepted as in Kestra, where
//!   Pub/Sub assigns the id anyway: it is not sent.
//! - received (Consume's file): `data` base64-encoded with STRING (the
//!   bytes, as Kestra's JSON shows them), the parsed value with JSON, plus
//!   `attributes`, `messageId`, `orderingKey` — the shape the Pub/Sub
//!   triggers give too.

use base64::Engine as _;
use serde_json::{Map, Value};

use baton_gcp::pubsub::Message;

/// Kestra's `serdeType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Serde {
    String,
    Json,
}

impl Serde {
    pub fn parse(v: Option<&str>) -> Result<Serde, String> {
        match v.map(|s| s.trim().to_ascii_uppercase()).as_deref() {
            None | Some("") | Some("STRING") => Ok(Serde::String),
            Some("JSON") => Ok(Serde::Json),
            Some(other) => Err(format!("'{other}' is not one of STRING, JSON")),
        }
    }
}

/// The fields a written message may have.
pub const FIELDS: &[&str] = &["data", "attributes", "messageId", "orderingKey"];

/// Checks a written message's fields (validation: templates pass).
pub fn check_fields(m: &Map<String, Value>) -> Result<(), String> {
    if let Some(k) = m.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(format!("unknown message property '{k}' (known: {})", FIELDS.join(", ")));
    }
    match m.get("attributes") {
        None | Some(Value::Null) | Some(Value::Object(_)) => Ok(()),
        Some(Value::String(s)) if baton_model::expr::is_template(s) => Ok(()),
        Some(other) => Err(format!("a message's 'attributes' must be a map of strings, found {other}")),
    }
}

/// Java's `toString` of a value Jackson read (maps `{k=v, …}`, lists `[a, b]`).
pub fn java_string(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(a) => format!("[{}]", a.iter().map(java_string).collect::<Vec<_>>().join(", ")),
        Value::Object(m) => {
            format!("{{{}}}", m.iter().map(|(k, v)| format!("{k}={}", java_string(v))).collect::<Vec<_>>().join(", "))
        }
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => java_string(other),
    }
}

/// A written message as the Pub/Sub message to publish; `n` (1-based)
/// names it in errors.
pub fn to_pubsub(m: &Map<String, Value>, serde: Serde, n: usize) -> Result<Message, String> {
    check_fields(m).map_err(|e| format!("message {n}: {e}"))?;
    let mut out = Message::new();
    match m.get("data") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => out = out.set_data(s.clone().into_bytes()),
        Some(other) => {
            let bytes = match serde {
                Serde::Json => serde_json::to_vec(other).map_err(|e| format!("message {n}: {e}"))?,
                Serde::String => java_string(other).into_bytes(),
            };
            out = out.set_data(bytes);
        }
    }
    if let Some(Value::Object(a)) = m.get("attributes") {
        out = out.set_attributes(a.iter().map(|(k, v)| (k.clone(), scalar(v))));
    }
    if let Some(k) = m.get("orderingKey").filter(|v| !v.is_null()) {
        out = out.set_ordering_key(scalar(k));
    }
    if out.data.is_empty() && out.attributes.is_empty() {
        return Err(format!("message {n} has neither data nor attributes: Pub/Sub refuses empty messages"));
    }
    Ok(out)
}

/// A received message as Kestra's `Message` value.
pub fn from_pubsub(m: &Message, serde: Serde) -> Result<Value, String> {
    let data = match serde {
        Serde::String => Value::String(base64::engine::general_purpose::STANDARD.encode(&m.data)),
        Serde::Json => serde_json::from_slice(&m.data)
            .map_err(|e| format!("message {}: serdeType is JSON, but its data is not JSON: {e}", m.message_id))?,
    };
    let mut attributes: Vec<(&String, &String)> = m.attributes.iter().collect();
    attributes.sort();
    let mut out = Map::new();
    out.insert("data".into(), data);
    out.insert(
        "attributes".into(),
        Value::Object(attributes.into_iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect()),
    );
    out.insert("messageId".into(), Value::String(m.message_id.clone()));
    out.insert("orderingKey".into(), Value::String(m.ordering_key.clone()));
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn written_messages_as_kestra_sends_them() {
        let m = to_pubsub(&map(json!({"data": "aGk=", "attributes": {"a": "1", "n": 2}})), Serde::String, 1).unwrap();
        assert_eq!(&m.data[..], b"aGk=", "a string is sent as it is, not base64-decoded");
        assert_eq!((m.attributes["a"].as_str(), m.attributes["n"].as_str()), ("1", "2"));
        let j = to_pubsub(&map(json!({"data": {"a": [1, "x"]}})), Serde::Json, 1).unwrap();
        assert_eq!(&j.data[..], br#"{"a":[1,"x"]}"#);
        let s = to_pubsub(&map(json!({"data": {"a": [1, "x"]}, "orderingKey": "k"})), Serde::String, 1).unwrap();
        assert_eq!((&s.data[..], s.ordering_key.as_str()), (&b"{a=[1, x]}"[..], "k"));
        let e = to_pubsub(&map(json!({"messageId": "1"})), Serde::String, 2).unwrap_err();
        assert!(e.contains("message 2 has neither data nor attributes"), "{e}");
        let e = to_pubsub(&map(json!({"data": "x", "key": "k"})), Serde::String, 3).unwrap_err();
        assert_eq!(e, "message 3: unknown message property 'key' (known: data, attributes, messageId, orderingKey)");
    }

    #[test]
    fn received_messages_as_kestra_shows_them() {
        let mut m = Message::new().set_data(br#"{"a":1}"#.to_vec()).set_attributes([("k", "v")]);
        m.message_id = "42".into();
        let s = from_pubsub(&m, Serde::String).unwrap();
        assert_eq!(s, json!({"data": "eyJhIjoxfQ==", "attributes": {"k": "v"}, "messageId": "42", "orderingKey": ""}));
        assert_eq!(from_pubsub(&m, Serde::Json).unwrap()["data"], json!({"a": 1}));
        let bad = Message::new().set_data(b"nope".to_vec());
        assert!(from_pubsub(&bad, Serde::Json).unwrap_err().contains("not JSON"));
        assert_eq!(Serde::parse(Some("json")), Ok(Serde::Json));
        assert!(Serde::parse(Some("AVRO")).is_err());
    }
}
