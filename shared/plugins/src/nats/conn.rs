//! What every NATS type shares (plugin-nats `NatsConnection`): the `url`
//! (`nats://host:port`, the scheme optional, a token or user and password
//! possibly inside it) and the authentication properties — `username` and
//! `password`, `token`, or `creds` (the content of a `.creds` file, as
//! Kestra takes it) — and one connection per task run or evaluation, with
//! the official client (`async-nats`). The message records the tasks and
//! triggers write, and the messages `Produce` and `Request` send, are here
//! too.

use std::time::Duration;

use async_nats::HeaderMap;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::{Declare, TaskError, de};

/// How long connecting may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The connection properties, `#[serde(flatten)]`ed into each NATS type's.
#[derive(Debug, Default, Clone, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
pub struct NatsProps {
    /// The server: (nats://)host:port; a token may be given as nats://token@host:port.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic, required)]
    pub url: Option<String>,
    /// The user name (with password).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    pub username: Option<String>,
    /// The password (with username).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    pub password: Option<String>,
    /// A token.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    pub token: Option<String>,
    /// The content of a credentials (.creds) file: a user JWT and its NKey seed.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    pub creds: Option<String>,
}

impl NatsProps {
    /// The server's address as the client takes it.
    pub fn url(&self) -> Result<String, TaskError> {
        let url = self.url.as_deref().map(str::trim).filter(|u| !u.is_empty());
        let url = url.ok_or_else(|| TaskError::property("url", "is required"))?;
        if url.contains("://") && !url.starts_with("nats://") && !url.starts_with("tls://") {
            return Err(TaskError::property("url", format!("'{url}' is not nats://host:port")));
        }
        Ok(url.to_string())
    }

    pub fn check(&self) -> Result<(), TaskError> {
        self.url()?;
        if self.username.is_some() != self.password.is_some() {
            let (set, missing) =
                if self.username.is_some() { ("username", "password") } else { ("password", "username") };
            return Err(TaskError::property(set, format!("needs '{missing}'")));
        }
        Ok(())
    }

    /// Connects; an error names the server.
    pub async fn connect(&self) -> Result<async_nats::Client, TaskError> {
        self.check()?;
        let url = self.url()?;
        let mut opts = match &self.creds {
            Some(c) => async_nats::ConnectOptions::with_credentials(c)
                .map_err(|e| TaskError::property("creds", format!("not a credentials file: {e}")))?,
            None => async_nats::ConnectOptions::new(),
        };
        if let (Some(u), Some(p)) = (&self.username, &self.password) {
            opts = opts.user_and_password(u.clone(), p.clone());
        }
        if let Some(t) = &self.token {
            opts = opts.token(t.clone());
        }
        let opts = opts.connection_timeout(CONNECT_TIMEOUT);
        let shown = shown(&url);
        match tokio::time::timeout(CONNECT_TIMEOUT + Duration::from_secs(2), opts.connect(url.as_str())).await {
            Ok(Ok(c)) => Ok(c),
            Ok(Err(e)) => Err(TaskError::failed(format!("cannot connect to NATS at {shown}: {e}"))),
            Err(_) => Err(TaskError::failed(format!("cannot connect to NATS at {shown}: no answer"))),
        }
    }
}

/// The URL without what it may hold of a secret (user, password, token).
pub fn shown(url: &str) -> String {
    match url.split_once('@') {
        Some((head, tail)) => {
            let scheme = head.split_once("://").map(|(s, _)| format!("{s}://")).unwrap_or_default();
            format!("{scheme}{tail}")
        }
        None => url.to_string(),
    }
}

/// A message to send: Kestra's `{headers, data}` map.
#[derive(Debug, Clone, Default)]
pub struct Outgoing {
    pub headers: HeaderMap,
    pub data: Vec<u8>,
}

/// Reads Kestra's message map (`headers`: a map of texts or lists of
/// texts; `data`: text as written, anything else as JSON); `n` numbers it
/// in errors. `strict`: another field is refused (a message written in the
/// flow); a record of a file may hold more (a `Consume`'s `subject`,
/// `timestamp`), which Kestra ignores too.
pub fn outgoing(v: &Value, n: usize, strict: bool) -> Result<Outgoing, TaskError> {
    let err = |e: String| TaskError::property("from", format!("message {n}: {e}"));
    let Value::Object(m) = v else { return Err(err(format!("must be a map {{headers, data}}, found {v}"))) };
    if let Some(k) = m.keys().find(|k| strict && !["headers", "data"].contains(&k.as_str())) {
        return Err(err(format!("unknown field '{k}' (a message has headers and data)")));
    }
    let mut headers = HeaderMap::new();
    match m.get("headers") {
        None | Some(Value::Null) => {}
        Some(Value::Object(h)) => {
            for (k, v) in h {
                let values: Vec<String> = match v {
                    Value::Array(items) => items.iter().map(de::value_to_string).collect(),
                    other => vec![de::value_to_string(other)],
                };
                for value in values {
                    headers.append(k.as_str(), value.as_str());
                }
            }
        }
        Some(other) => return Err(err(format!("'headers' must be a map, found {other}"))),
    }
    let data = match m.get("data") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => s.clone().into_bytes(),
        Some(other) => other.to_string().into_bytes(),
    };
    Ok(Outgoing { headers, data })
}

/// A received message's record: Kestra's `{subject, headers, data,
/// timestamp}` (headers as lists of texts, data as UTF-8 text).
pub fn record(
    subject: &str,
    headers: Option<&HeaderMap>,
    data: &[u8],
    timestamp: Option<String>,
) -> Map<String, Value> {
    let mut h = Map::new();
    if let Some(headers) = headers {
        for (k, values) in headers.iter() {
            let list = values.iter().map(|v| Value::String(v.to_string())).collect();
            h.insert(k.to_string(), Value::Array(list));
        }
    }
    let mut out = Map::new();
    out.insert("subject".into(), Value::String(subject.to_string()));
    out.insert("headers".into(), Value::Object(h));
    out.insert("data".into(), Value::String(String::from_utf8_lossy(data).into_owned()));
    if let Some(t) = timestamp {
        out.insert("timestamp".into(), Value::String(t));
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn messages_are_read_as_kestra_writes_them() {
        let m = outgoing(&json!({"headers": {"k": "v", "l": ["a", "b"]}, "data": "hi"}), 1, true).unwrap();
        assert_eq!(m.data, b"hi");
        assert_eq!(m.headers.get_all("l").count(), 2);
        assert_eq!(outgoing(&json!({"data": {"a": 1}}), 1, true).unwrap().data, br#"{"a":1}"#);
        assert!(outgoing(&json!({"date": "x"}), 2, true).unwrap_err().to_string().contains("message 2"));
        assert!(outgoing(&json!("x"), 1, true).is_err());
        assert!(outgoing(&json!({"data": "x", "subject": "s"}), 1, false).is_ok());
        assert_eq!(shown("nats://user:pw@h:4222"), "nats://h:4222");
        let p = |v: Value| -> NatsProps { crate::parse_props(v.as_object().unwrap()).unwrap() };
        assert!(
            p(json!({"url": "nats://h:4222", "username": "u"})).check().unwrap_err().to_string().contains("'username'")
        );
        assert!(p(json!({"url": "http://h"})).check().is_err());
        assert!(p(json!({"url": "localhost:4222"})).check().is_ok());
    }
}
