//! Service-account JSON keys, as flows pass them in `serviceAccount` (the
//! key file's content, usually from `kv('GCP_CREDS')` or
//! `secret('GCP_CREDS')`). Parsing checks what Google's libraries need and
//! says precisely what is wrong — never echoing the key: errors and `Debug`
//! name fields, positions and the account's email, not values.

use base64::Engine;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// What is wrong with a service-account key. No variant carries key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the service account key is empty")]
    Empty,
    #[error(
        "the service account key is not valid JSON ({what} at line {line}, column {column}); \
         expected the content of the JSON key file downloaded from Google Cloud"
    )]
    NotJson { what: String, line: usize, column: usize },
    #[error("the service account key must be a JSON object, found {0}")]
    NotObject(&'static str),
    #[error("the service account key has type '{0}', expected 'service_account'")]
    WrongType(String),
    #[error("the service account key has no \"type\" field, expected \"type\": \"service_account\"")]
    MissingType,
    #[error("the service account key has no '{0}' (or it is empty)")]
    Missing(&'static str),
    #[error(
        "the service account key's 'private_key' is not a PEM private key \
         (expected it to start with '-----BEGIN PRIVATE KEY-----')"
    )]
    BadPrivateKey,
}

/// A parsed, checked service-account key.
#[derive(Clone)]
pub struct ServiceAccountKey {
    json: Value,
    client_email: String,
    project_id: Option<String>,
    fingerprint: String,
}

impl std::fmt::Debug for ServiceAccountKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccountKey")
            .field("client_email", &self.client_email)
            .field("project_id", &self.project_id)
            .field("private_key", &"[redacted]")
            .finish()
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "",
    }
}

fn non_empty(obj: &Map<String, Value>, field: &'static str) -> Result<String, KeyError> {
    match obj.get(field).and_then(Value::as_str).map(str::trim) {
        Some(s) if !s.is_empty() => Ok(s.to_string()),
        _ => Err(KeyError::Missing(field)),
    }
}

/// A short, printable rendering of a non-secret field value.
fn shown(s: &str) -> String {
    let mut out: String = s.chars().filter(|c| !c.is_control()).take(40).collect();
    if s.chars().count() > 40 {
        out.push('…');
    }
    out
}

impl ServiceAccountKey {
    /// Parses a key given as text: the JSON itself, or that JSON base64-encoded.
    pub fn parse(text: &str) -> Result<ServiceAccountKey, KeyError> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(KeyError::Empty);
        }
        let value = match serde_json::from_str::<Value>(trimmed) {
            Ok(v) => v,
            Err(e) => {
                // A base64-encoded key file (a common way to pass it in an env var).
                let decoded = (!trimmed.starts_with('{'))
                    .then(|| base64::engine::general_purpose::STANDARD.decode(trimmed).ok())
                    .flatten()
                    .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok());
                match decoded {
                    Some(v) => v,
                    None => {
                        let what = match e.classify() {
                            serde_json::error::Category::Eof => "the text ends too early",
                            serde_json::error::Category::Syntax => "syntax error",
                            serde_json::error::Category::Data => "unexpected data",
                            serde_json::error::Category::Io => "read error",
                        };
                        return Err(KeyError::NotJson { what: what.to_string(), line: e.line(), column: e.column() });
                    }
                }
            }
        };
        Self::from_value(value)
    }

    /// Checks a key given as a JSON value (a `JSON` KV entry renders as a map).
    pub fn from_value(value: Value) -> Result<ServiceAccountKey, KeyError> {
        let obj = match &value {
            Value::Object(m) => m,
            Value::String(s) => return Self::parse(s),
            other => return Err(KeyError::NotObject(kind(other))),
        };
        match obj.get("type").and_then(Value::as_str) {
            Some("service_account") => {}
            Some(other) => return Err(KeyError::WrongType(shown(other))),
            None => return Err(KeyError::MissingType),
        }
        let client_email = non_empty(obj, "client_email")?;
        let private_key = non_empty(obj, "private_key")?;
        if !(private_key.starts_with("-----BEGIN") && private_key.contains("PRIVATE KEY-----")) {
            return Err(KeyError::BadPrivateKey);
        }
        let project_id = obj.get("project_id").and_then(Value::as_str).map(str::to_string);
        let canonical = serde_json::to_vec(&value).unwrap_or_default();
        let fingerprint = format!("{:x}", Sha256::digest(&canonical));
        Ok(ServiceAccountKey { json: value, client_email, project_id, fingerprint })
    }

    /// The account's email (safe to show).
    pub fn client_email(&self) -> &str {
        &self.client_email
    }

    /// The key's project, used when a task has no `projectId`.
    pub fn project_id(&self) -> Option<&str> {
        self.project_id.as_deref()
    }

    /// The whole key, for Google's credential builders.
    pub fn json(&self) -> &Value {
        &self.json
    }

    /// A SHA-256 of the key (hex): identifies it in caches without keeping it readable.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The `private_key` text, for masking in logs.
    pub fn private_key(&self) -> &str {
        self.json.get("private_key").and_then(Value::as_str).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const SECRET: &str = "-----BEGIN PRIVATE KEY-----\nMIIsecretsecret\n-----END PRIVATE KEY-----\n";

    fn key() -> Value {
        json!({"type": "service_account", "project_id": "p1", "private_key_id": "abc",
               "private_key": SECRET, "client_email": "sa@p1.iam.gserviceaccount.com"})
    }

    #[test]
    fn accepts_a_key_as_text_map_or_base64() {
        let text = key().to_string();
        let k = ServiceAccountKey::parse(&text).unwrap();
        assert_eq!(k.client_email(), "sa@p1.iam.gserviceaccount.com");
        assert_eq!(k.project_id(), Some("p1"));
        assert_eq!(k.private_key(), SECRET);
        let b64 = base64::engine::general_purpose::STANDARD.encode(&text);
        assert_eq!(ServiceAccountKey::parse(&b64).unwrap().fingerprint(), k.fingerprint());
        assert_eq!(ServiceAccountKey::from_value(key()).unwrap().fingerprint(), k.fingerprint());
        assert!(!format!("{k:?}").contains("MIIsecret"));
    }

    #[test]
    fn says_what_is_wrong_without_the_key() {
        let mut broken = key().to_string();
        broken.truncate(broken.len() - 5);
        let e = ServiceAccountKey::parse(&broken).unwrap_err();
        assert!(matches!(e, KeyError::NotJson { line: 1, .. }), "{e}");
        let e = ServiceAccountKey::parse("not a key MIIsecret").unwrap_err().to_string();
        assert!(e.contains("not valid JSON") && !e.contains("MIIsecret"), "{e}");

        let mut k = key();
        k["type"] = json!("authorized_user");
        assert_eq!(
            ServiceAccountKey::from_value(k).unwrap_err().to_string(),
            "the service account key has type 'authorized_user', expected 'service_account'"
        );
        let mut k = key();
        k.as_object_mut().unwrap().remove("private_key");
        assert_eq!(ServiceAccountKey::from_value(k).unwrap_err(), KeyError::Missing("private_key"));
        let mut k = key();
        k["client_email"] = json!("");
        assert_eq!(ServiceAccountKey::from_value(k).unwrap_err(), KeyError::Missing("client_email"));
        let mut k = key();
        k["private_key"] = json!("MIIsecret");
        let e = ServiceAccountKey::from_value(k).unwrap_err().to_string();
        assert!(e.contains("not a PEM private key") && !e.contains("MIIsecret"), "{e}");
        assert_eq!(ServiceAccountKey::from_value(json!([1])).unwrap_err(), KeyError::NotObject("a list"));
        assert_eq!(ServiceAccountKey::parse("  ").unwrap_err(), KeyError::Empty);
    }
}
