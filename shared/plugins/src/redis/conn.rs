//! What every Redis task shares (plugin-redis `AbstractRedisConnection`
//! and `SerdeType`): the `url` property, one multiplexed connection per
//! task run with bounded connect and response times, and the STRING/JSON
//! serde that turns values into the stored text and back.
//!
//! Baton speaks RESP through the `redis` crate (redis-rs). Kestra's Lettuce
//! also accepts `rediss://` (TLS), `redis-socket://` and
//! `redis-sentinel://`; this build connects over plain TCP only and refuses
//! those by name rather than connect differently than asked.

use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client};
use serde::Deserialize;
use serde_json::Value;

use crate::{Declare, TaskError, de};

/// How long a connection may take to open.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one command may wait for its answer.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(60);
/// The largest value a task reads into its outputs or a file line, in
/// bytes (Redis itself allows 512 MB).
pub const MAX_VALUE_BYTES: usize = 32 * 1024 * 1024;

/// The connection property every Redis task has.
#[derive(Debug, Clone, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
pub struct RedisProps {
    /// The connection string: redis://[[user]:password@]host[:port][/database].
    #[serde(deserialize_with = "de::string_lenient")]
    #[prop(check = url_ok)]
    pub url: String,
}

/// The schemes Lettuce takes that this build does not.
const REFUSED: &[(&str, &str)] = &[
    ("rediss://", "TLS connections (rediss://)"),
    ("redis-socket://", "Unix socket connections (redis-socket://)"),
    ("redis-sentinel://", "Sentinel connections (redis-sentinel://)"),
];

fn url_ok(v: &Value) -> Result<(), String> {
    match v.as_str() {
        Some(s) if baton_model::expr::is_template(s) => Ok(()),
        Some(s) => check_url(s),
        None => Err(format!("expected a redis:// URL, found {v}")),
    }
}

/// Refuses what this build cannot connect to, naming it.
pub fn check_url(url: &str) -> Result<(), String> {
    let url = url.trim();
    for (scheme, what) in REFUSED {
        if url.starts_with(scheme) {
            return Err(format!("{what} are not supported by Baton's Redis tasks: use redis://"));
        }
    }
    if !url.starts_with("redis://") {
        return Err("expected a redis:// URL: redis://[[user]:password@]host[:port][/database]".into());
    }
    Ok(())
}

impl RedisProps {
    /// Opens the connection a task run uses.
    pub async fn connect(&self) -> Result<MultiplexedConnection, TaskError> {
        check_url(&self.url).map_err(|e| TaskError::property("url", e))?;
        let client =
            Client::open(self.url.trim()).map_err(|e| TaskError::property("url", format!("not a Redis URL: {e}")))?;
        let host = client.get_connection_info().addr().to_string();
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT));
        client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(|e| TaskError::failed(format!("cannot connect to Redis at {host}: {e}")))
    }
}

/// A Redis command's failure as a task error naming the command.
pub fn command_error(command: &str, e: redis::RedisError) -> TaskError {
    TaskError::failed(format!("Redis {command} failed: {e}"))
}

/// Kestra's `serdeType`: how values are written and read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Serde {
    String,
    Json,
}

impl Serde {
    pub fn parse(v: Option<&str>) -> Result<Serde, String> {
        match v.map(str::trim) {
            None | Some("") | Some("STRING") => Ok(Serde::String),
            Some("JSON") => Ok(Serde::Json),
            Some(other) => Err(format!("unknown '{other}': STRING or JSON")),
        }
    }

    /// A task's rendered `serdeType`, as a property error naming it.
    pub fn property(v: Option<&str>) -> Result<Serde, TaskError> {
        Serde::parse(v).map_err(|e| TaskError::property("serdeType", e))
    }

    /// The text stored for `v`. JSON keeps a string that is already JSON
    /// as written (refusing one that is not) and writes anything else as
    /// JSON; STRING stores text, numbers and booleans as their text, and
    /// refuses a map or list (store those with serdeType JSON).
    pub fn serialize(self, v: &Value) -> Result<String, String> {
        match (self, v) {
            (Serde::Json, Value::String(s)) => match serde_json::from_str::<Value>(s) {
                Ok(_) => Ok(s.clone()),
                Err(e) => Err(format!("serdeType JSON: the value is not JSON ({e})")),
            },
            (Serde::Json, other) => Ok(other.to_string()),
            (Serde::String, Value::String(s)) => Ok(s.clone()),
            (Serde::String, Value::Null) => Ok("null".into()),
            (Serde::String, v @ (Value::Number(_) | Value::Bool(_))) => Ok(v.to_string()),
            (Serde::String, _) => Err("serdeType STRING stores text: a map or list needs serdeType JSON".into()),
        }
    }

    /// The value read back from stored text.
    pub fn deserialize(self, text: String) -> Result<Value, String> {
        match self {
            Serde::String => Ok(Value::String(text)),
            Serde::Json => {
                serde_json::from_str(&text).map_err(|e| format!("serdeType JSON: the stored value is not JSON ({e})"))
            }
        }
    }
}

/// A `serdeType` as written, checked at validation.
pub fn serde_ok(v: &Value) -> Result<(), String> {
    match v.as_str() {
        Some(s) if !baton_model::expr::is_template(s) => Serde::parse(Some(s)).map(|_| ()),
        _ => Ok(()),
    }
}

/// A value too large to read, named.
pub fn check_size(what: &str, len: usize) -> Result<(), TaskError> {
    if len > MAX_VALUE_BYTES {
        return Err(TaskError::failed(format!(
            "{what} holds {len} bytes, more than the {MAX_VALUE_BYTES} bytes a Redis task reads into one value"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn urls_other_than_redis_are_named() {
        assert!(check_url("redis://:pw@localhost:6379/0").is_ok());
        assert!(check_url("rediss://h:6380").unwrap_err().contains("TLS"));
        assert!(check_url("redis-sentinel://h").unwrap_err().contains("Sentinel"));
        assert!(check_url("http://h").unwrap_err().contains("redis://"));
    }

    #[test]
    fn serde_string_and_json() {
        assert_eq!(Serde::String.serialize(&json!("a b")).unwrap(), "a b");
        assert_eq!(Serde::String.serialize(&json!(3)).unwrap(), "3");
        assert!(Serde::String.serialize(&json!({"a": 1})).unwrap_err().contains("JSON"));
        assert_eq!(Serde::Json.serialize(&json!({"a": 1})).unwrap(), r#"{"a":1}"#);
        assert_eq!(Serde::Json.serialize(&json!("{\"a\": 1}")).unwrap(), "{\"a\": 1}");
        assert!(Serde::Json.serialize(&json!("not json")).is_err());
        assert_eq!(Serde::Json.deserialize(r#"{"a":1}"#.into()).unwrap(), json!({"a": 1}));
        assert_eq!(Serde::String.deserialize("x".into()).unwrap(), json!("x"));
        assert_eq!(Serde::parse(Some("JSON")).unwrap(), Serde::Json);
        assert!(Serde::parse(Some("ION")).is_err());
    }
}
