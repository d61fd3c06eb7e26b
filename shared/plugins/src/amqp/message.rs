//! Kestra's AMQP message (plugin-amqp `models/Message.java`): the record a
//! consume writes and a `RealtimeTrigger` gives as `trigger` —
//! `{data, headers, contentType, contentEncoding, deliveryMode, priority,
//! messageId, correlationId, replyTo, expiration, timestamp, type, userId,
//! appId}`, the fields a message does not carry left out — and the same
//! map read from `from` to publish. `serdeType` (`STRING`, `JSON`) says how
//! a body is read and written: STRING as UTF-8 text (a value that is not
//! text is written as JSON), JSON as a JSON value.

use chrono::{DateTime, SecondsFormat, Utc};
use lapin::BasicProperties;
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use serde_json::{Map, Value};

use super::conn::value_text;
use crate::TaskError;

/// The fields of a message besides `data`, as Kestra names them.
const FIELDS: &[&str] = &[
    "contentType",
    "contentEncoding",
    "headers",
    "deliveryMode",
    "priority",
    "messageId",
    "correlationId",
    "replyTo",
    "expiration",
    "timestamp",
    "type",
    "userId",
    "appId",
];

/// How a message's body is read and written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SerdeType {
    String,
    Json,
}

impl SerdeType {
    /// Reads property `serdeType` (`STRING` by default).
    pub fn read(v: Option<&str>) -> Result<SerdeType, TaskError> {
        match v.map(str::trim) {
            None | Some("STRING") => Ok(SerdeType::String),
            Some("JSON") => Ok(SerdeType::Json),
            Some(other) => Err(TaskError::property("serdeType", format!("unknown '{other}': STRING or JSON"))),
        }
    }

    /// A body as `data`.
    pub fn decode(self, body: &[u8]) -> Result<Value, String> {
        match self {
            SerdeType::String => Ok(Value::String(String::from_utf8_lossy(body).into_owned())),
            SerdeType::Json => serde_json::from_slice(body).map_err(|e| format!("its body is not JSON ({e})")),
        }
    }

    /// `data` as a body.
    pub fn encode(self, data: &Value) -> Vec<u8> {
        match (self, data) {
            (SerdeType::String, Value::String(s)) => s.clone().into_bytes(),
            (SerdeType::String, Value::Null) => Vec::new(),
            _ => data.to_string().into_bytes(),
        }
    }
}

fn text(v: &Option<ShortString>) -> Option<Value> {
    v.as_ref().map(|s| Value::String(s.as_str().to_string()))
}

/// A received message's record.
pub fn record(body: &[u8], props: &BasicProperties, serde: SerdeType) -> Result<Map<String, Value>, String> {
    let mut out = Map::new();
    out.insert("data".into(), serde.decode(body)?);
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            out.insert(k.into(), v);
        }
    };
    put("contentType", text(props.content_type()));
    put("contentEncoding", text(props.content_encoding()));
    put(
        "headers",
        props.headers().as_ref().map(|h| {
            Value::Object(
                h.inner().iter().map(|(k, v)| (k.as_str().to_string(), Value::String(value_text(v)))).collect(),
            )
        }),
    );
    put("deliveryMode", props.delivery_mode().map(Value::from));
    put("priority", props.priority().map(Value::from));
    put("messageId", text(props.message_id()));
    put("correlationId", text(props.correlation_id()));
    put("replyTo", text(props.reply_to()));
    // an expiration is milliseconds; Kestra shows it as an ISO-8601 duration
    put(
        "expiration",
        props
            .expiration()
            .as_ref()
            .and_then(|e| e.as_str().parse::<i64>().ok())
            .map(|ms| Value::String(iso_millis(ms))),
    );
    put(
        "timestamp",
        props
            .timestamp()
            .and_then(|t| DateTime::<Utc>::from_timestamp(t as i64, 0))
            .map(|t| Value::String(t.to_rfc3339_opts(SecondsFormat::AutoSi, true))),
    );
    put("type", text(props.kind()));
    put("userId", text(props.user_id()));
    put("appId", text(props.app_id()));
    Ok(out)
}

fn iso_millis(ms: i64) -> String {
    if ms % 1000 == 0 { format!("PT{}S", ms / 1000) } else { format!("PT{}.{:03}S", ms / 1000, ms % 1000) }
}

/// A message to publish: its properties and body.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub props: BasicProperties,
    pub body: Vec<u8>,
}

/// Reads Kestra's message map; `n` numbers it in errors. `strict`: a field
/// that is not a message's is refused (a message written in the flow); a
/// line of a file may hold more.
pub fn outgoing(v: &Value, n: usize, serde: SerdeType, strict: bool) -> Result<Outgoing, TaskError> {
    let err = |e: String| TaskError::property("from", format!("message {n}: {e}"));
    let Value::Object(m) = v else { return Err(err(format!("must be a map {{data, headers…}}, found {v}"))) };
    if let Some(k) = m.keys().find(|k| strict && k.as_str() != "data" && !FIELDS.contains(&k.as_str())) {
        return Err(err(format!("unknown field '{k}' (a message has data, {})", FIELDS.join(", "))));
    }
    let get = |k: &str| m.get(k).filter(|v| !v.is_null());
    let short = |k: &str| -> Result<Option<ShortString>, TaskError> {
        match get(k) {
            None => Ok(None),
            Some(Value::String(s)) if s.len() <= 255 => Ok(Some(ShortString::from(s.as_str()))),
            Some(Value::String(_)) => Err(err(format!("'{k}' is longer than 255 bytes"))),
            Some(other) => Ok(Some(ShortString::from(other.to_string()))),
        }
    };
    let octet = |k: &str, max: u64| -> Result<Option<u8>, TaskError> {
        match get(k) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
                .filter(|x| *x <= max)
                .map(|x| Some(x as u8))
                .ok_or_else(|| err(format!("'{k}' must be an integer from 0 to {max}, found {v}"))),
        }
    };
    let mut p = BasicProperties::default();
    if let Some(v) = short("contentType")? {
        p = p.with_content_type(v);
    }
    if let Some(v) = short("contentEncoding")? {
        p = p.with_content_encoding(v);
    }
    match get("headers") {
        None => {}
        Some(Value::Object(h)) => {
            let mut t = FieldTable::default();
            for (k, v) in h {
                let value = match v {
                    Value::String(s) => AMQPValue::LongString(LongString::from(s.as_str())),
                    Value::Bool(b) => AMQPValue::Boolean(*b),
                    Value::Number(x) if x.is_i64() => AMQPValue::LongLongInt(x.as_i64().unwrap_or_default()),
                    other => AMQPValue::LongString(LongString::from(other.to_string())),
                };
                t.insert(ShortString::from(k.as_str()), value);
            }
            p = p.with_headers(t);
        }
        Some(other) => return Err(err(format!("'headers' must be a map, found {other}"))),
    }
    if let Some(v) = octet("deliveryMode", 2)? {
        p = p.with_delivery_mode(v);
    }
    if let Some(v) = octet("priority", 9)? {
        p = p.with_priority(v);
    }
    for (k, set) in [
        ("messageId", BasicProperties::with_message_id as fn(BasicProperties, ShortString) -> BasicProperties),
        ("correlationId", BasicProperties::with_correlation_id),
        ("replyTo", BasicProperties::with_reply_to),
        ("type", BasicProperties::with_type),
        ("userId", BasicProperties::with_user_id),
        ("appId", BasicProperties::with_app_id),
    ] {
        if let Some(v) = short(k)? {
            p = set(p, v);
        }
    }
    if let Some(e) = get("expiration") {
        let ms = match e {
            Value::Number(x) => x.as_u64(),
            Value::String(s) => {
                baton_model::duration::parse_iso(s).ok().and_then(|d| u64::try_from(d.num_milliseconds()).ok())
            }
            _ => None,
        };
        let ms = ms.ok_or_else(|| err(format!("'expiration' must be a duration (PT10S), found {e}")))?;
        p = p.with_expiration(ShortString::from(ms.to_string()));
    }
    if let Some(t) = get("timestamp") {
        let at = t.as_str().and_then(|s| DateTime::parse_from_rfc3339(s.trim()).ok());
        let at = at.ok_or_else(|| err(format!("'timestamp' must be an ISO-8601 date-time, found {t}")))?;
        p = p.with_timestamp(at.timestamp().max(0) as u64);
    }
    let body = serde.encode(m.get("data").unwrap_or(&Value::Null));
    Ok(Outgoing { props: p, body })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_message_goes_out_and_comes_back_as_kestra_s_record() {
        let m = json!({"data": {"a": 1}, "headers": {"testHeader": "KestraTest", "n": 2},
            "timestamp": "2023-01-09T08:46:33.103130753Z", "appId": "unit-kestra", "expiration": "PT10S",
            "deliveryMode": 2, "priority": 5, "type": "t"});
        let o = outgoing(&m, 1, SerdeType::Json, true).unwrap();
        assert_eq!(o.body, br#"{"a":1}"#);
        let r = record(&o.body, &o.props, SerdeType::Json).unwrap();
        assert_eq!(r["data"], json!({"a": 1}));
        assert_eq!(r["headers"], json!({"testHeader": "KestraTest", "n": "2"}));
        assert_eq!(r["timestamp"], "2023-01-09T08:46:33Z");
        assert_eq!(
            (&r["appId"], &r["expiration"], &r["deliveryMode"]),
            (&json!("unit-kestra"), &json!("PT10S"), &json!(2))
        );
        assert_eq!(r["type"], "t");
        assert!(!r.contains_key("messageId"));
        let s = outgoing(&json!({"data": "value-1"}), 1, SerdeType::String, true).unwrap();
        assert_eq!(record(&s.body, &s.props, SerdeType::String).unwrap()["data"], "value-1");
        let err = |v: Value| outgoing(&v, 3, SerdeType::String, true).unwrap_err().to_string();
        assert!(err(json!({"date": "x"})).contains("message 3"));
        assert!(err(json!({"data": "x", "priority": 12})).contains("'priority'"));
        assert!(outgoing(&json!({"data": "x", "other": 1}), 1, SerdeType::String, false).is_ok());
        assert!(SerdeType::Json.decode(b"not json").is_err());
        assert!(SerdeType::read(Some("AVRO")).unwrap_err().to_string().contains("'serdeType'"));
    }
}
