//! What every AMQP type shares (plugin-amqp `AbstractAmqpConnection`):
//! `host`, `port` (`5672`), `username`, `password`, `virtualHost` (`/`),
//! or the deprecated `url` (`amqp://user:password@host:port/vhost`, not
//! with `host`), and one connection per task run or evaluation with lapin
//! on tokio. `amqps://` (TLS) is refused by name: Kestra's connection
//! factory never turns TLS on either (it reads only the URL's host, port,
//! credentials and path). The `args` maps of the declare and bind tasks are
//! turned into AMQP field tables here.

use std::time::Duration;

use lapin::types::{AMQPValue, FieldArray, FieldTable, LongString, ShortString};
use lapin::uri::{AMQPAuthority, AMQPQueryString, AMQPScheme, AMQPUri, AMQPUserInfo};
use lapin::{Connection, ConnectionProperties};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::{Declare, TaskError, de};

/// How long connecting may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The connection properties, `#[serde(flatten)]`ed into each AMQP type's.
#[derive(Debug, Default, Clone, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
pub struct AmqpProps {
    /// Deprecated: the broker as amqp://user:password@host:port/vhost (instead of host, port, username, password and virtualHost; not with host).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic, check = url_ok)]
    pub url: Option<String>,
    /// The broker's host name or IP (required unless url is given).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    pub host: Option<String>,
    /// The broker's TCP port.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic, default = "\"5672\"")]
    pub port: Option<String>,
    /// The user name (the broker's default, often guest, when not set).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    pub username: Option<String>,
    /// The password.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    pub password: Option<String>,
    /// The virtual host, as the broker names it.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic, default = "\"/\"")]
    pub virtual_host: Option<String>,
}

/// A written `url`: a template is read when rendered.
fn url_ok(v: &Value) -> Result<(), String> {
    match v.as_str() {
        Some(s) if baton_model::expr::is_template(s) => Ok(()),
        Some(s) => parse_url(s).map(|_| ()).map_err(super::message),
        None => Err(format!("must be a text amqp://host:port/vhost, found {v}")),
    }
}

/// `url` read: host, port (if any), user and password (if any), vhost (if any).
struct FromUrl {
    host: String,
    port: Option<u16>,
    user: Option<(String, String)>,
    vhost: Option<String>,
}

fn parse_url(url: &str) -> Result<FromUrl, TaskError> {
    let err = |m: String| TaskError::property("url", m);
    let url = url.trim();
    let rest = match url.split_once("://") {
        Some(("amqp", rest)) => rest,
        Some(("amqps", _)) => {
            return Err(err(format!(
                "'{}': amqps:// (TLS) is not supported by Baton's AMQP plugin; use amqp:// or host and port",
                shown(url)
            )));
        }
        _ => return Err(err(format!("'{}' is not amqp://host:port/vhost", shown(url)))),
    };
    let (authority, path) = rest.split_once('/').map_or((rest, None), |(a, p)| (a, Some(p)));
    let (user, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => {
            let (name, pw) = u.split_once(':').unwrap_or((u, ""));
            (Some((decode(name), decode(pw))), h)
        }
        None => (None, authority),
    };
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) => (h, Some(p.parse::<u16>().map_err(|_| err(format!("port '{p}' is not a number")))?)),
        None => (hostport, None),
    };
    if host.is_empty() {
        return Err(err(format!("'{}' names no host", shown(url))));
    }
    // Kestra keeps the URI's path as it is, its slash included
    let vhost = path.map(|p| format!("/{}", decode(p.split('?').next().unwrap_or(""))));
    Ok(FromUrl { host: host.to_string(), port, user, vhost: vhost.filter(|v| v != "/") })
}

/// Percent-decoding of a URL's part.
fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()
}

/// A URL without its credentials.
pub fn shown(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((_, tail)) => format!("{scheme}://{tail}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl AmqpProps {
    /// The broker's address, read and checked.
    pub fn uri(&self) -> Result<AMQPUri, TaskError> {
        let from_url = match (given(&self.url), given(&self.host)) {
            (Some(_), Some(_)) => return Err(TaskError::property("url", "cannot be given with 'host'")),
            (Some(u), None) => Some(parse_url(u)?),
            (None, None) => return Err(TaskError::property("host", "is required")),
            (None, Some(_)) => None,
        };
        let port = match given(&self.port) {
            Some(p) => Some(
                p.parse::<u16>()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| TaskError::property("port", format!("'{p}' is not a TCP port")))?,
            ),
            None => None,
        };
        let host = match (&from_url, given(&self.host)) {
            (Some(u), _) => u.host.clone(),
            (None, h) => h.unwrap_or_default().to_string(),
        };
        let port = from_url.as_ref().and_then(|u| u.port).or(port).unwrap_or(5672);
        let (username, password) = match from_url.as_ref().and_then(|u| u.user.clone()) {
            Some(up) => up,
            None => (
                given(&self.username).unwrap_or("guest").to_string(),
                self.password
                    .clone()
                    .unwrap_or_else(|| if self.username.is_none() { "guest".into() } else { String::new() }),
            ),
        };
        let vhost = from_url
            .and_then(|u| u.vhost)
            .or_else(|| given(&self.virtual_host).map(str::to_string))
            .unwrap_or_else(|| "/".into());
        Ok(AMQPUri {
            scheme: AMQPScheme::AMQP,
            authority: AMQPAuthority { userinfo: AMQPUserInfo { username, password }, host, port },
            vhost,
            query: AMQPQueryString {
                connection_timeout: Some(CONNECT_TIMEOUT.as_millis() as u64),
                ..Default::default()
            },
        })
    }

    pub fn check(&self) -> Result<(), TaskError> {
        self.uri().map(|_| ())
    }

    /// Connects; an error names the broker (never its password).
    pub async fn connect(&self) -> Result<Connection, TaskError> {
        let uri = self.uri()?;
        let shown = format!("amqp://{}:{}{}", uri.authority.host, uri.authority.port, vhost_shown(&uri.vhost));
        let props = ConnectionProperties::default()
            .with_connection_name("baton".into())
            .with_executor(tokio_executor_trait::Tokio::current())
            .with_reactor(tokio_reactor_trait::Tokio::current());
        match tokio::time::timeout(CONNECT_TIMEOUT + Duration::from_secs(2), Connection::connect_uri(uri, props)).await
        {
            Ok(Ok(c)) => Ok(c),
            Ok(Err(e)) => Err(TaskError::failed(format!("cannot connect to AMQP at {shown}: {e}"))),
            Err(_) => Err(TaskError::failed(format!("cannot connect to AMQP at {shown}: no answer"))),
        }
    }
}

fn vhost_shown(vhost: &str) -> String {
    if vhost == "/" { "/".into() } else { format!("/{vhost}") }
}

/// An `args` map (queue, exchange or binding arguments) as an AMQP field
/// table: texts, booleans, integers, decimals, lists and maps.
pub fn field_table(property: &str, args: Option<&Map<String, Value>>) -> Result<FieldTable, TaskError> {
    let mut t = FieldTable::default();
    for (k, v) in args.into_iter().flatten() {
        t.insert(ShortString::from(k.as_str()), field_value(property, k, v)?);
    }
    Ok(t)
}

fn field_value(property: &str, key: &str, v: &Value) -> Result<AMQPValue, TaskError> {
    Ok(match v {
        Value::Null => AMQPValue::Void,
        Value::Bool(b) => AMQPValue::Boolean(*b),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => AMQPValue::LongLongInt(i),
            (None, Some(f)) => AMQPValue::Double(f),
            _ => return Err(TaskError::property(property, format!("'{key}': {n} is out of range"))),
        },
        Value::String(s) => AMQPValue::LongString(LongString::from(s.as_str())),
        Value::Array(items) => {
            let items: Result<Vec<_>, _> = items.iter().map(|i| field_value(property, key, i)).collect();
            AMQPValue::FieldArray(FieldArray::from(items?))
        }
        Value::Object(m) => AMQPValue::FieldTable(field_table(property, Some(m))?),
    })
}

/// An AMQP value as Kestra shows a header (Java's `String.valueOf`).
pub fn value_text(v: &AMQPValue) -> String {
    match v {
        AMQPValue::Boolean(b) => b.to_string(),
        AMQPValue::ShortShortInt(n) => n.to_string(),
        AMQPValue::ShortShortUInt(n) => n.to_string(),
        AMQPValue::ShortInt(n) => n.to_string(),
        AMQPValue::ShortUInt(n) => n.to_string(),
        AMQPValue::LongInt(n) => n.to_string(),
        AMQPValue::LongUInt(n) => n.to_string(),
        AMQPValue::LongLongInt(n) => n.to_string(),
        AMQPValue::Float(f) => f.to_string(),
        AMQPValue::Double(f) => f.to_string(),
        AMQPValue::DecimalValue(d) => (d.value as f64 / 10f64.powi(i32::from(d.scale))).to_string(),
        AMQPValue::ShortString(s) => s.as_str().to_string(),
        AMQPValue::LongString(s) => String::from_utf8_lossy(s.as_bytes()).into_owned(),
        AMQPValue::FieldArray(a) => format!("[{}]", a.as_slice().iter().map(value_text).collect::<Vec<_>>().join(", ")),
        AMQPValue::Timestamp(t) => t.to_string(),
        AMQPValue::FieldTable(t) => format!(
            "{{{}}}",
            t.inner().iter().map(|(k, v)| format!("{}={}", k.as_str(), value_text(v))).collect::<Vec<_>>().join(", ")
        ),
        AMQPValue::ByteArray(b) => String::from_utf8_lossy(b.as_slice()).into_owned(),
        AMQPValue::Void => "null".into(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn props(v: Value) -> AmqpProps {
        crate::parse_props(v.as_object().unwrap()).unwrap()
    }

    #[test]
    fn hosts_and_urls_are_read_as_kestra_reads_them() {
        let u = props(json!({"host": "h", "port": 5673, "username": "u", "password": "p", "virtualHost": "/my_vhost"}))
            .uri()
            .unwrap();
        assert_eq!((u.authority.host.as_str(), u.authority.port, u.vhost.as_str()), ("h", 5673, "/my_vhost"));
        assert_eq!(u.authority.userinfo.username, "u");
        let u = props(json!({"url": "amqp://guest:g%40st@localhost:5670/my_vhost"})).uri().unwrap();
        assert_eq!(
            (u.authority.port, u.vhost.as_str(), u.authority.userinfo.password.as_str()),
            (5670, "/my_vhost", "g@st")
        );
        let u = props(json!({"url": "amqp://localhost"})).uri().unwrap();
        assert_eq!((u.authority.port, u.vhost.as_str()), (5672, "/"));
        let err = |v: Value| props(v).uri().unwrap_err().to_string();
        assert!(err(json!({"url": "amqps://u:secret@h"})).contains("'url'"));
        assert!(!err(json!({"url": "amqps://u:secret@h"})).contains("secret"));
        assert!(err(json!({"url": "amqp://h", "host": "h"})).contains("'url'"));
        assert!(err(json!({})).contains("'host'"));
        assert!(err(json!({"host": "h", "port": "x"})).contains("'port'"));
        assert!(url_ok(&json!("amqps://h")).is_err());
        assert!(url_ok(&json!("{{ secret('URL') }}")).is_ok());
    }

    #[test]
    fn args_become_field_tables() {
        let t = field_table("args", json!({"x-max-length": 10, "x-queue-type": "classic", "a": [true]}).as_object())
            .unwrap();
        assert_eq!(t.inner().get("x-max-length"), Some(&AMQPValue::LongLongInt(10)));
        assert_eq!(value_text(t.inner().get("a").unwrap()), "[true]");
    }
}
