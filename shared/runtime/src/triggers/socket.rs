//! The socket triggers of plugin-fs (`tcp/RealtimeTrigger.java`,
//! `udp/RealtimeTrigger.java`): a flow started by each message received on
//! a port.
//!
//! `io.kestra.plugin.fs.tcp.RealtimeTrigger` listens on `host:port`
//! (`host` 0.0.0.0 by default) and reads each connection to its end: its
//! lines joined without their line breaks and trimmed, as Kestra's reader
//! does, are one execution's `trigger.payload` (an empty message starts
//! nothing). `io.kestra.plugin.fs.udp.RealtimeTrigger` starts one
//! execution per datagram, the first `bufferSize` bytes of it (1024 by
//! default). Both decode with `encoding` (UTF-8, US-ASCII or ISO-8859-1)
//! and give `trigger.payload`, `trigger.timestamp`, `trigger.sourceIp` and
//! `trigger.sourcePort`.
//!
//! They listen on `baton server local` only (`runtime::events::socket`):
//! Google Cloud's functions answer HTTP requests and hold no listener, so a
//! deployment refuses a flow that has one enabled (Terraform's
//! `unsupported` check, naming the trigger and the Webhook trigger as the
//! way to receive messages there).
//!
//! This module is the pure part: the declarations, the checks of what is
//! written out, and [`SocketSpec`], a trigger once its properties are
//! rendered.

use std::sync::LazyLock;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::{TriggerDef, TriggerProblem, WhenProp, prop};
use crate::model::{Flow, Trigger};
use crate::plugins::Declare;
use crate::plugins::sockets::check_charset;
use crate::template::is_template;

pub const TCP_TYPE: &str = "io.kestra.plugin.fs.tcp.RealtimeTrigger";
pub const UDP_TYPE: &str = "io.kestra.plugin.fs.udp.RealtimeTrigger";
/// Kestra's default `bufferSize` of the UDP trigger.
pub const DEFAULT_BUFFER: u64 = 1024;
/// The largest datagram payload over IPv4: the most `bufferSize` may be.
pub const MAX_BUFFER: u64 = 65_507;

/// The properties a listener reads (rendered when it opens).
const PROPS: &[&str] = &["host", "port", "encoding", "bufferSize"];

/// Start an execution for each TCP message received.
///
/// Listens on `host:port` and starts one execution per connection, with what the sender wrote before closing it (its lines joined, trimmed) as `trigger.payload`, and `trigger.timestamp`, `trigger.sourceIp`, `trigger.sourcePort`. An empty message starts nothing. Listens on `baton server local` only: a Google Cloud deployment refuses it (its functions hold no listener; a Webhook trigger receives messages there). A message is at most 1 MiB and must be sent within 30 seconds of connecting (`MAX_SOCKET_MESSAGE`, `SOCKET_READ_DEADLINE`).
#[derive(Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
#[plugin(
    type = TCP_TYPE,
    example = "id: tcp_listener\ntype: io.kestra.plugin.fs.tcp.RealtimeTrigger\nhost: 0.0.0.0\nport: 9090\n",
    outputs(
        payload(String, "The message received."),
        timestamp(String, "When it was received (ISO 8601)."),
        sourceIp(String, "The sender's IP address."),
        sourcePort(Integer, "The sender's port.")
    )
)]
struct TcpTriggerProps {
    /// The interface to listen on.
    #[prop(dynamic, kind = "String", default = "\"0.0.0.0\"")]
    host: Option<Value>,
    /// The TCP port to listen on.
    #[prop(dynamic, kind = "Integer", required)]
    port: Option<Value>,
    /// The charset of the messages: UTF-8, US-ASCII or ISO-8859-1.
    #[prop(dynamic, kind = "String", default = "\"UTF-8\"")]
    encoding: Option<Value>,
    #[serde(flatten)]
    when: WhenProp,
}

/// Start an execution for each UDP datagram received.
///
/// Listens on `host:port` and starts one execution per datagram, with its first `bufferSize` bytes as `trigger.payload`, and `trigger.timestamp`, `trigger.sourceIp`, `trigger.sourcePort`. Listens on `baton server local` only: a Google Cloud deployment refuses it (its functions hold no listener; a Webhook trigger receives messages there).
#[derive(Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
#[plugin(
    type = UDP_TYPE,
    example = "id: udp_incoming\ntype: io.kestra.plugin.fs.udp.RealtimeTrigger\nhost: 0.0.0.0\nport: 8091\n",
    outputs(
        payload(String, "The datagram received (its first bufferSize bytes)."),
        timestamp(String, "When it was received (ISO 8601)."),
        sourceIp(String, "The sender's IP address."),
        sourcePort(Integer, "The sender's port.")
    )
)]
struct UdpTriggerProps {
    /// The interface to listen on.
    #[prop(dynamic, kind = "String", default = "\"0.0.0.0\"")]
    host: Option<Value>,
    /// The UDP port to listen on.
    #[prop(dynamic, kind = "Integer", required)]
    port: Option<Value>,
    /// How many bytes of a datagram are read (at most 65507); the rest is dropped.
    #[prop(dynamic, kind = "Integer", default = "1024")]
    buffer_size: Option<Value>,
    /// The charset of the datagrams: UTF-8, US-ASCII or ISO-8859-1.
    #[prop(dynamic, kind = "String", default = "\"UTF-8\"")]
    encoding: Option<Value>,
    #[serde(flatten)]
    when: WhenProp,
}

pub static TCP_DEF: LazyLock<TriggerDef> =
    LazyLock::new(|| TriggerDef::declare::<TcpTriggerProps>(check, crate::conditions::ConditionUse::None));

pub static UDP_DEF: LazyLock<TriggerDef> =
    LazyLock::new(|| TriggerDef::declare::<UdpTriggerProps>(check, crate::conditions::ConditionUse::None));

/// TCP or UDP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Tcp,
    Udp,
}

impl Protocol {
    /// The trigger type of this protocol.
    pub fn type_name(self) -> &'static str {
        match self {
            Protocol::Tcp => TCP_TYPE,
            Protocol::Udp => UDP_TYPE,
        }
    }

    fn of(t: &Trigger) -> Option<Protocol> {
        match t.type_.as_str() {
            TCP_TYPE => Some(Protocol::Tcp),
            UDP_TYPE => Some(Protocol::Udp),
            _ => None,
        }
    }
}

/// The protocol of an enabled socket trigger and the properties its
/// listener opens with, unrendered; `None` for another type or a disabled one.
pub fn listen_props(t: &Trigger) -> Option<(Protocol, Map<String, Value>)> {
    let protocol = Protocol::of(t).filter(|_| !t.disabled)?;
    let props = t
        .props
        .iter()
        .filter(|(k, v)| PROPS.contains(&k.as_str()) && !v.is_null())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Some((protocol, props))
}

/// A socket trigger with its properties rendered: where to listen and how
/// to read what comes.
#[derive(Debug, Clone, PartialEq)]
pub struct SocketSpec {
    pub protocol: Protocol,
    pub host: String,
    pub port: u16,
    pub encoding: String,
    /// UDP: the bytes of a datagram read.
    pub buffer: usize,
}

/// An integer property between `min` and `max`.
fn number(name: &str, v: &Value, min: u64, max: u64) -> Result<u64, String> {
    let n = match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    n.filter(|n| (min..=max).contains(n))
        .ok_or_else(|| format!("'{name}' must be a whole number between {min} and {max}, got {v}"))
}

/// Property `name`'s value (rendered, or written out) checked.
fn field(name: &str, v: &Value) -> Result<(), String> {
    let text = || v.as_str().map(str::trim).ok_or_else(|| format!("'{name}' must be a string, got {v}"));
    match name {
        "port" => number(name, v, 1, u64::from(u16::MAX)).map(|_| ()),
        "bufferSize" => number(name, v, 1, MAX_BUFFER).map(|_| ()),
        "host" if text()?.is_empty() => Err("'host' must not be empty".into()),
        "encoding" => check_charset(text()?).map_err(|e| format!("'encoding': {e}")),
        _ => Ok(()),
    }
}

impl SocketSpec {
    /// The listener's properties, rendered.
    pub fn from_rendered(protocol: Protocol, props: &Map<String, Value>) -> Result<SocketSpec, String> {
        let get = |name: &str| props.get(name).filter(|v| !v.is_null());
        let port = get("port").ok_or("it needs 'port'")?;
        for name in PROPS {
            if let Some(v) = get(name) {
                field(name, v)?;
            }
        }
        let text = |name: &str, default: &str| {
            get(name).and_then(Value::as_str).map_or(default.to_string(), |s| s.trim().to_string())
        };
        let buffer = get("bufferSize").map_or(Ok(DEFAULT_BUFFER), |v| number("bufferSize", v, 1, MAX_BUFFER))?;
        Ok(SocketSpec {
            protocol,
            host: text("host", "0.0.0.0"),
            port: u16::try_from(number("port", port, 1, u64::from(u16::MAX))?).unwrap_or(u16::MAX),
            encoding: text("encoding", "UTF-8"),
            buffer: usize::try_from(buffer).unwrap_or(usize::MAX),
        })
    }
}

fn check(trig: &Trigger, _flow: &Flow) -> Vec<TriggerProblem> {
    let mut out = Vec::new();
    let Some(protocol) = Protocol::of(trig) else { return out };
    let what = if protocol == Protocol::Tcp { "tcp" } else { "udp" };
    if prop(trig, "port").is_none() {
        out.push(TriggerProblem::at("", format!("trigger '{}': an fs.{what}.RealtimeTrigger needs 'port'", trig.id)));
    }
    for name in PROPS {
        let Some(v) = prop(trig, name) else { continue };
        if v.as_str().is_some_and(is_template) {
            continue;
        }
        if *name == "bufferSize" && protocol == Protocol::Tcp {
            continue;
        }
        if let Err(e) = field(name, v) {
            out.push(TriggerProblem::at(*name, format!("trigger '{}': {e}", trig.id)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::tests::flow;
    use super::*;

    fn trigger(type_: &str, props: Value) -> Trigger {
        super::super::tests::trigger_of("listen", type_, props)
    }

    #[test]
    fn reads_kestras_examples_with_their_defaults() {
        let tcp = json!({"host": "0.0.0.0", "port": 9090});
        let s = SocketSpec::from_rendered(Protocol::Tcp, tcp.as_object().expect("map")).expect("valid");
        assert_eq!((s.host.as_str(), s.port, s.encoding.as_str()), ("0.0.0.0", 9090, "UTF-8"));
        assert!(check(&trigger(TCP_TYPE, tcp), &flow()).is_empty());
        let udp = json!({"port": "8091", "bufferSize": 64, "encoding": "ISO-8859-1"});
        let s = SocketSpec::from_rendered(Protocol::Udp, udp.as_object().expect("map")).expect("valid");
        assert_eq!((s.port, s.buffer, s.encoding.as_str()), (8091, 64, "ISO-8859-1"));
        let t = trigger(UDP_TYPE, udp);
        assert!(check(&t, &flow()).is_empty());
        assert_eq!(listen_props(&t).map(|(p, _)| p), Some(Protocol::Udp));
    }

    #[test]
    fn checks_name_the_property() {
        let paths = |type_: &str, p: Value| -> Vec<String> {
            check(&trigger(type_, p), &flow()).into_iter().map(|p| p.path).collect()
        };
        assert_eq!(paths(TCP_TYPE, json!({"host": "127.0.0.1"})), [""], "port");
        assert_eq!(paths(TCP_TYPE, json!({"port": 70000})), ["port"]);
        assert_eq!(paths(UDP_TYPE, json!({"port": 1, "bufferSize": 70000})), ["bufferSize"]);
        assert_eq!(paths(UDP_TYPE, json!({"port": 1, "encoding": "EBCDIC"})), ["encoding"]);
        assert!(paths(TCP_TYPE, json!({"port": "{{ vars.port }}"})).is_empty(), "a template is read when it opens");
        let err = SocketSpec::from_rendered(Protocol::Tcp, &Map::new()).expect_err("no port");
        assert_eq!(err, "it needs 'port'");
    }
}
