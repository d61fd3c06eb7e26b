//! Kestra's serdes (plugin-kafka `SerdeType`): how a key or value becomes
//! a record's bytes and back, as the Java client's serializers write them
//! — numbers big-endian (`INTEGER` 4 bytes, `LONG` 8, `SHORT` 2, `FLOAT`
//! and `DOUBLE` IEEE 754), `STRING` and `UUID` as UTF-8 text, `JSON` as
//! JSON text, the byte types as they are (read back as base64 text, the
//! way Kestra's outputs show bytes; written from base64 text), `VOID`
//! nothing. A null is no bytes (a tombstone value) in every serde.
//!
//! `AVRO` and `PROTOBUF` need a schema registry, which Baton does not
//! speak: they are refused by name at validation.

use base64::Engine as _;
use serde_json::Value;

use crate::TaskError;

/// One of Kestra's serdes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Serde {
    String,
    Integer,
    Float,
    Double,
    Long,
    Short,
    Bytes,
    Uuid,
    Void,
    Json,
}

/// The names a serde property takes.
pub const NAMES: &[&str] = &[
    "STRING",
    "INTEGER",
    "FLOAT",
    "DOUBLE",
    "LONG",
    "SHORT",
    "BYTE_ARRAY",
    "BYTE_BUFFER",
    "BYTES",
    "UUID",
    "VOID",
    "AVRO",
    "JSON",
    "PROTOBUF",
];

impl Serde {
    /// Reads property `property` (`None`: STRING, Kestra's default).
    pub fn read(property: &str, v: Option<&str>) -> Result<Serde, TaskError> {
        Ok(match v.map(str::trim).unwrap_or("STRING") {
            "STRING" => Serde::String,
            "INTEGER" => Serde::Integer,
            "FLOAT" => Serde::Float,
            "DOUBLE" => Serde::Double,
            "LONG" => Serde::Long,
            "SHORT" => Serde::Short,
            "BYTE_ARRAY" | "BYTE_BUFFER" | "BYTES" => Serde::Bytes,
            "UUID" => Serde::Uuid,
            "VOID" => Serde::Void,
            "JSON" => Serde::Json,
            s @ ("AVRO" | "PROTOBUF") => {
                return Err(TaskError::property(
                    property,
                    format!(
                        "{s} needs a schema registry, which Baton's Kafka plugin does not speak: use JSON, STRING or BYTES"
                    ),
                ));
            }
            other => {
                return Err(TaskError::property(property, format!("unknown serde '{other}' ({})", NAMES.join(", "))));
            }
        })
    }

    /// The bytes of `v` (`None` for null); an error says what is wrong.
    pub fn encode(self, v: &Value) -> Result<Option<Vec<u8>>, String> {
        if v.is_null() {
            return Ok(None);
        }
        let number = |v: &Value| -> Result<f64, String> {
            match v {
                Value::Number(n) => n.as_f64().ok_or_else(|| format!("{n} is not a number")),
                Value::String(s) => s.trim().parse().map_err(|_| format!("'{s}' is not a number")),
                other => Err(format!("{other} is not a number")),
            }
        };
        let whole = |v: &Value, min: i64, max: i64| -> Result<i64, String> {
            let n = match v {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => s.trim().parse().ok(),
                _ => None,
            };
            n.filter(|n| (min..=max).contains(n))
                .ok_or_else(|| format!("{v} is not a whole number from {min} to {max}"))
        };
        Ok(Some(match self {
            Serde::String => match v {
                Value::String(s) => s.clone().into_bytes(),
                Value::Array(_) | Value::Object(_) => v.to_string().into_bytes(),
                other => other.to_string().into_bytes(),
            },
            Serde::Integer => (whole(v, i32::MIN.into(), i32::MAX.into())? as i32).to_be_bytes().to_vec(),
            Serde::Long => whole(v, i64::MIN, i64::MAX)?.to_be_bytes().to_vec(),
            Serde::Short => (whole(v, i16::MIN.into(), i16::MAX.into())? as i16).to_be_bytes().to_vec(),
            Serde::Float => (number(v)? as f32).to_be_bytes().to_vec(),
            Serde::Double => number(v)?.to_be_bytes().to_vec(),
            Serde::Bytes => match v {
                Value::String(s) => base64::engine::general_purpose::STANDARD
                    .decode(s.trim())
                    .map_err(|e| format!("bytes are written as base64 text (as a consume reads them): {e}"))?,
                other => return Err(format!("bytes are written as base64 text, found {other}")),
            },
            Serde::Uuid => {
                let s = crate::de::value_to_string(v);
                uuid::Uuid::parse_str(s.trim()).map_err(|e| format!("'{s}' is not a UUID: {e}"))?;
                s.trim().to_string().into_bytes()
            }
            Serde::Void => return Err(format!("a VOID serde writes nothing, found {v}")),
            Serde::Json => serde_json::to_vec(v).map_err(|e| e.to_string())?,
        }))
    }

    /// The value of `bytes` (`None`: no bytes, a null); an error says what is wrong.
    pub fn decode(self, bytes: Option<&[u8]>) -> Result<Value, String> {
        let Some(b) = bytes else { return Ok(Value::Null) };
        let sized = |n: usize, name: &str| -> Result<(), String> {
            if b.len() == n { Ok(()) } else { Err(format!("{name} reads {n} bytes, the record holds {}", b.len())) }
        };
        Ok(match self {
            Serde::String => Value::String(String::from_utf8_lossy(b).into_owned()),
            Serde::Integer => {
                sized(4, "INTEGER")?;
                Value::from(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
            }
            Serde::Long => {
                sized(8, "LONG")?;
                Value::from(i64::from_be_bytes(b.try_into().map_err(|_| "LONG reads 8 bytes".to_string())?))
            }
            Serde::Short => {
                sized(2, "SHORT")?;
                Value::from(i16::from_be_bytes([b[0], b[1]]))
            }
            Serde::Float => {
                sized(4, "FLOAT")?;
                float(f32::from_be_bytes([b[0], b[1], b[2], b[3]]).into())
            }
            Serde::Double => {
                sized(8, "DOUBLE")?;
                float(f64::from_be_bytes(b.try_into().map_err(|_| "DOUBLE reads 8 bytes".to_string())?))
            }
            Serde::Bytes => Value::String(base64::engine::general_purpose::STANDARD.encode(b)),
            Serde::Uuid => {
                let s = String::from_utf8_lossy(b).into_owned();
                uuid::Uuid::parse_str(&s).map_err(|e| format!("'{s}' is not a UUID: {e}"))?;
                Value::String(s)
            }
            Serde::Void => return Err(format!("a VOID serde reads nothing, the record holds {} bytes", b.len())),
            Serde::Json => serde_json::from_slice(b).map_err(|e| format!("not JSON: {e}"))?,
        })
    }
}

/// A written serde property, checked at validation (a template is read when rendered).
pub fn serde_ok(v: &Value) -> Result<(), String> {
    match v.as_str() {
        Some(s) if !baton_model::expr::is_template(s) => {
            Serde::read("serde", Some(s)).map(|_| ()).map_err(super::message)
        }
        _ => Ok(()),
    }
}

/// A schema-registry property: always refused (only the AVRO serdes read them).
pub fn registry_refused(_: &Value) -> Result<(), String> {
    Err("belongs to the AVRO serdes and their schema registry, which Baton's Kafka plugin does not speak".into())
}

fn float(f: f64) -> Value {
    serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn values_round_trip_as_the_java_serializers_write_them() {
        for (s, v) in [
            (Serde::String, json!("héllo")),
            (Serde::Integer, json!(-7)),
            (Serde::Long, json!(1_700_000_000_000_i64)),
            (Serde::Short, json!(12)),
            (Serde::Double, json!(1.5)),
            (Serde::Float, json!(0.25)),
            (Serde::Json, json!({"a": [1, "b"]})),
            (Serde::Uuid, json!("0f8fad5b-d9cb-469f-a165-70867728950e")),
            (Serde::Bytes, json!("AAEC")),
        ] {
            let b = s.encode(&v).unwrap();
            assert_eq!(s.decode(b.as_deref()).unwrap(), v, "{s:?}");
        }
        assert_eq!(Serde::Integer.encode(&json!(1)).unwrap().unwrap(), [0, 0, 0, 1]);
        assert_eq!(Serde::Json.encode(&json!("x")).unwrap().unwrap(), br#""x""#);
        assert_eq!(Serde::String.encode(&json!(null)).unwrap(), None);
        assert!(Serde::Integer.encode(&json!(1u64 << 40)).is_err());
        assert!(Serde::Integer.decode(Some(&[1, 2])).unwrap_err().contains("4 bytes"));
        assert!(Serde::Json.decode(Some(b"{no")).unwrap_err().contains("not JSON"));
        assert!(Serde::read("valueSerializer", Some("AVRO")).unwrap_err().to_string().contains("schema registry"));
        assert!(Serde::read("keySerializer", Some("TEXT")).unwrap_err().to_string().contains("'keySerializer'"));
    }
}
