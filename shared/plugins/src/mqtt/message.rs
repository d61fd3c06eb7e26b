//! MQTT payloads and records (plugin-mqtt `SerdeType`, `Message`): how a
//! payload is written and read per `serdeType` (STRING, JSON, BYTES), the
//! record a received message becomes (a line of `Subscribe`'s file, the
//! trigger's variables), and the reading of `crt`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};
use tokio::io::AsyncReadExt;

use super::conn::Message;
use crate::TaskError;

/// The largest `crt` read from a file.
const MAX_CRT_BYTES: u64 = 1024 * 1024;

/// Kestra's `serdeType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Serde {
    String,
    Json,
    Bytes,
}

pub fn serde_ok(v: &Value) -> Result<(), String> {
    match v.as_str() {
        Some(s) if baton_model::expr::is_template(s) => Ok(()),
        Some(s) => Serde::parse(Some(s)).map(|_| ()),
        None => Err(format!("expected STRING, JSON or BYTES, found {v}")),
    }
}

impl Serde {
    pub fn parse(v: Option<&str>) -> Result<Serde, String> {
        match v.map(str::trim) {
            Some("STRING") => Ok(Serde::String),
            None | Some("") | Some("JSON") => Ok(Serde::Json),
            Some("BYTES") => Ok(Serde::Bytes),
            Some(other) => Err(format!("unknown '{other}': STRING, JSON or BYTES")),
        }
    }

    pub fn property(v: Option<&str>) -> Result<Serde, TaskError> {
        Serde::parse(v).map_err(|e| TaskError::property("serdeType", e))
    }

    /// A payload read: text, JSON parsed, or BYTES as Base64 text (as
    /// Kestra's JSON mapper writes a byte array).
    pub fn read(self, payload: &[u8]) -> Result<Value, String> {
        match self {
            Serde::String => Ok(Value::String(String::from_utf8_lossy(payload).into_owned())),
            Serde::Json => serde_json::from_slice(payload).map_err(|e| format!("the payload is not JSON ({e})")),
            Serde::Bytes => Ok(Value::String(STANDARD.encode(payload))),
        }
    }

    /// The payload written for `v`: JSON as JSON; STRING as the text (a
    /// number or boolean as its text; a map or list needs JSON).
    pub fn write(self, v: &Value) -> Result<Vec<u8>, String> {
        match (self, v) {
            (Serde::Json, v) => serde_json::to_vec(v).map_err(|e| e.to_string()),
            (Serde::String, Value::String(s)) => Ok(s.clone().into_bytes()),
            (Serde::String, v @ (Value::Number(_) | Value::Bool(_) | Value::Null)) => Ok(v.to_string().into_bytes()),
            (Serde::String, _) => Err("serdeType STRING sends text: a map or list needs serdeType JSON".into()),
            (Serde::Bytes, _) => Err("serdeType BYTES is for reading: Publish sends STRING or JSON".into()),
        }
    }
}

/// What a received message becomes: Kestra's `Message` (`id`, `topic`,
/// `qos`, `properties`, `payload`, `retain`, `responseTopic`,
/// `correlationData` as Base64), absent fields left out.
pub fn record(m: &Message, payload: Value) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("id".into(), Value::from(m.id));
    out.insert("topic".into(), Value::String(m.topic.clone()));
    out.insert("qos".into(), Value::from(m.qos));
    if let Some(ids) = &m.property_ids {
        out.insert("properties".into(), Value::Array(ids.iter().map(|i| Value::from(*i)).collect()));
    }
    out.insert("payload".into(), payload);
    out.insert("retain".into(), Value::Bool(m.retain));
    if let Some(t) = &m.response_topic {
        out.insert("responseTopic".into(), Value::String(t.clone()));
    }
    if let Some(c) = &m.correlation_data {
        out.insert("correlationData".into(), Value::String(STANDARD.encode(c)));
    }
    out
}

/// `correlationData` as given (Base64) decoded.
pub fn correlation_data(s: &str) -> Result<Vec<u8>, TaskError> {
    STANDARD.decode(s.trim()).map_err(|e| {
        TaskError::property("correlationData", format!("must be Base64, as it is binary on the wire ({e})"))
    })
}

/// Where `crt` points, as Kestra reads it.
pub enum Crt {
    Pem(Vec<u8>),
    Kestra(String),
    Path(std::path::PathBuf),
}

impl Crt {
    pub fn parse(s: &str) -> Result<Option<Crt>, TaskError> {
        let s = s.trim();
        if s.is_empty() {
            return Ok(None);
        }
        if s.starts_with("kestra://") {
            return Ok(Some(Crt::Kestra(s.to_string())));
        }
        if s.starts_with("-----BEGIN ") {
            return Ok(Some(Crt::Pem(s.as_bytes().to_vec())));
        }
        let path = std::path::Path::new(s);
        if path.is_file() {
            return Ok(Some(Crt::Path(path.to_path_buf())));
        }
        let shown: String = s.chars().take(50).collect();
        Err(TaskError::property("crt", format!("'{shown}' is neither PEM text, a kestra:// URI nor an existing file")))
    }

    /// The PEM bytes; `storage_path` checks a kestra:// URI and gives its path.
    pub async fn read(
        self,
        storage: &dyn baton_backend::Storage,
        storage_path: impl FnOnce(&str) -> Result<String, TaskError>,
    ) -> Result<Vec<u8>, TaskError> {
        let too_big = || TaskError::property("crt", format!("the certificate file is over {MAX_CRT_BYTES} bytes"));
        match self {
            Crt::Pem(b) => Ok(b),
            Crt::Path(p) => {
                let meta = tokio::fs::metadata(&p).await;
                if meta.as_ref().is_ok_and(|m| m.len() > MAX_CRT_BYTES) {
                    return Err(too_big());
                }
                tokio::fs::read(&p)
                    .await
                    .map_err(|e| TaskError::property("crt", format!("cannot read {}: {e}", p.display())))
            }
            Crt::Kestra(uri) => {
                let path = storage_path(&uri)?;
                let stream = storage
                    .get(&path)
                    .await
                    .map_err(|e| TaskError::property("crt", format!("cannot read {uri}: {e}")))?;
                let mut out = Vec::new();
                stream
                    .take(MAX_CRT_BYTES + 1)
                    .read_to_end(&mut out)
                    .await
                    .map_err(|e| TaskError::property("crt", format!("cannot read {uri}: {e}")))?;
                if out.len() as u64 > MAX_CRT_BYTES {
                    return Err(too_big());
                }
                Ok(out)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn payloads_are_written_and_read_per_serde_type() {
        assert_eq!(Serde::Json.write(&json!({"a": 1})).unwrap(), br#"{"a":1}"#);
        assert_eq!(Serde::String.write(&json!("hi")).unwrap(), b"hi");
        assert_eq!(Serde::String.write(&json!(1.5)).unwrap(), b"1.5");
        assert!(Serde::String.write(&json!({"a": 1})).unwrap_err().contains("JSON"));
        assert!(Serde::Bytes.write(&json!("x")).is_err());
        assert_eq!(Serde::Json.read(br#"{"a":1}"#).unwrap(), json!({"a": 1}));
        assert!(Serde::Json.read(b"not json").unwrap_err().contains("not JSON"));
        assert_eq!(Serde::Bytes.read(b"hi").unwrap(), json!("aGk="));
        assert_eq!(Serde::parse(None).unwrap(), Serde::Json);
        assert!(Serde::parse(Some("AVRO")).is_err());
        assert!(correlation_data("@@").is_err());
        assert_eq!(correlation_data("aGk=").unwrap(), b"hi");
        assert!(Crt::parse("no such thing").is_err());
        assert!(matches!(Crt::parse("kestra:///a/b.pem"), Ok(Some(Crt::Kestra(_)))));
    }
}
