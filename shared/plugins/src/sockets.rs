//! `io.kestra.plugin.fs.tcp.Send` and `io.kestra.plugin.fs.udp.Send`:
//! one payload to `host:port`, as Kestra's tasks send it — TCP opens a
//! connection (within `timeout`, default 10 seconds, which also bounds the
//! write), writes the bytes and closes; UDP sends them as one datagram.
//! `encoding` is a charset (UTF-8, the default; US-ASCII; ISO-8859-1,
//! with `?` for what a charset cannot hold, as Java's) or, for TCP only,
//! BASE64 (the payload is base64 decoded and sent as bytes). Outputs
//! `host`, `port`, `sentBytes`. Payloads are bounded (`MAX_SOCKET_PAYLOAD`).
//! [`decode`] reads what the `RealtimeTrigger`s of both receive
//! (`baton-runtime`'s `triggers::socket`) in the same charsets.

use std::sync::LazyLock;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use serde::Deserialize;
use serde_json::{Map, Value};
use tokio::io::AsyncWriteExt;

use crate::config::MAX_SOCKET_PAYLOAD;
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// The most bytes one UDP datagram carries over IPv4.
const MAX_DATAGRAM: usize = 65_507;

/// Send a payload over TCP.
///
/// Connects to `host:port`, sends `payload` (encoded with `encoding`) and closes the connection.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.fs.tcp.Send",
    group = "core",
    example = "id: send\ntype: io.kestra.plugin.fs.tcp.Send\nhost: 127.0.0.1\nport: 9090\npayload: Hello from Kestra\n",
    outputs(
        host(String, "The host sent to."),
        port(Integer, "The port sent to."),
        sentBytes(Integer, "The number of bytes sent.")
    )
)]
struct TcpProps {
    /// The host name or IP address.
    #[serde(deserialize_with = "de::string_lenient")]
    host: String,
    /// The port.
    #[serde(deserialize_with = "de::u64_lenient")]
    #[prop(kind = "Integer")]
    port: u64,
    /// What is sent.
    #[serde(deserialize_with = "de::string_lenient")]
    payload: String,
    /// The payload's charset (UTF-8, US-ASCII, ISO-8859-1), or BASE64 to send the bytes it decodes to.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(default = "\"UTF-8\"", check = tcp_encoding_ok)]
    encoding: Option<String>,
    /// The most time connecting, and then sending, may take.
    #[serde(default, deserialize_with = "de::opt_duration")]
    #[prop(kind = "Duration", default = "\"PT10S\"")]
    timeout: Option<chrono::Duration>,
}

/// Send a UDP datagram.
///
/// Sends `payload` (encoded with `encoding`) to `host:port` as one datagram.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.fs.udp.Send",
    group = "core",
    example = "id: send\ntype: io.kestra.plugin.fs.udp.Send\nhost: 127.0.0.1\nport: 5514\npayload: Hello from Kestra\n",
    outputs(
        host(String, "The host sent to."),
        port(Integer, "The port sent to."),
        sentBytes(Integer, "The number of bytes sent.")
    )
)]
struct UdpProps {
    /// The host name or IP address.
    #[serde(deserialize_with = "de::string_lenient")]
    host: String,
    /// The port.
    #[serde(deserialize_with = "de::u64_lenient")]
    #[prop(kind = "Integer")]
    port: u64,
    /// What is sent.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    payload: Option<String>,
    /// The payload's charset (UTF-8, US-ASCII, ISO-8859-1).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(default = "\"UTF-8\"", check = udp_encoding_ok)]
    encoding: Option<String>,
}

/// A charset Baton encodes with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Utf8,
    Ascii,
    Latin1,
    Base64,
}

fn parse_encoding(written: &str, base64: bool) -> Result<Encoding, String> {
    match written.trim().to_ascii_uppercase().replace('_', "-").as_str() {
        "UTF-8" | "UTF8" => Ok(Encoding::Utf8),
        "US-ASCII" | "ASCII" => Ok(Encoding::Ascii),
        "ISO-8859-1" | "ISO8859-1" | "LATIN1" => Ok(Encoding::Latin1),
        "BASE64" if base64 => Ok(Encoding::Base64),
        _ => Err(format!(
            "'{written}' is not an encoding Baton sends: use UTF-8, US-ASCII, ISO-8859-1{}",
            if base64 { " or BASE64" } else { "" }
        )),
    }
}

/// Whether `written` is a charset [`decode`] reads (UTF-8, US-ASCII,
/// ISO-8859-1).
pub fn check_charset(written: &str) -> Result<(), String> {
    parse_encoding(written, false).map(|_| ())
}

/// Received bytes as text in charset `written`, as Java's decoder reads
/// them: a byte sequence the charset does not hold becomes U+FFFD.
pub fn decode(bytes: &[u8], written: &str) -> Result<String, String> {
    Ok(match parse_encoding(written, false)? {
        Encoding::Ascii => bytes.iter().map(|b| if b.is_ascii() { char::from(*b) } else { '\u{FFFD}' }).collect(),
        Encoding::Latin1 => bytes.iter().map(|b| char::from(*b)).collect(),
        Encoding::Utf8 | Encoding::Base64 => String::from_utf8_lossy(bytes).into_owned(),
    })
}

fn encoding_ok(v: &Value, base64: bool) -> Result<(), String> {
    match v {
        Value::String(s) if !s.contains("{{") && !s.contains("{%") => parse_encoding(s, base64).map(|_| ()),
        _ => Ok(()),
    }
}

fn tcp_encoding_ok(v: &Value) -> Result<(), String> {
    encoding_ok(v, true)
}

fn udp_encoding_ok(v: &Value) -> Result<(), String> {
    encoding_ok(v, false)
}

/// `payload`'s bytes in `encoding` (bounded by `MAX_SOCKET_PAYLOAD`).
fn encode(payload: &str, encoding: Option<&str>, base64: bool) -> Result<Vec<u8>, TaskError> {
    let enc = parse_encoding(encoding.unwrap_or("UTF-8"), base64).map_err(|m| TaskError::property("encoding", m))?;
    let narrow =
        |max: u32| payload.chars().map(move |c| u8::try_from(u32::from(c)).ok().filter(|b| u32::from(*b) <= max));
    let bytes = match enc {
        Encoding::Utf8 => payload.as_bytes().to_vec(),
        Encoding::Ascii => narrow(0x7F).map(|b| b.unwrap_or(b'?')).collect(),
        Encoding::Latin1 => narrow(0xFF).map(|b| b.unwrap_or(b'?')).collect(),
        Encoding::Base64 => base64::engine::general_purpose::STANDARD
            .decode(payload.trim())
            .map_err(|e| TaskError::property("payload", format!("is not base64 (encoding BASE64): {e}")))?,
    };
    if bytes.len() as u64 > MAX_SOCKET_PAYLOAD {
        return Err(TaskError::property(
            "payload",
            format!(
                "is {} bytes, more than the {MAX_SOCKET_PAYLOAD} bytes a socket task sends (MAX_SOCKET_PAYLOAD)",
                bytes.len()
            ),
        ));
    }
    Ok(bytes)
}

fn port(p: u64) -> Result<u16, TaskError> {
    u16::try_from(p).ok().filter(|p| *p > 0).ok_or_else(|| TaskError::property("port", format!("{p} is not a port")))
}

fn sent(host: &str, port: u16, n: usize) -> TaskOutput {
    let mut out = Map::new();
    out.insert("host".into(), Value::String(host.to_string()));
    out.insert("port".into(), Value::from(port));
    out.insert("sentBytes".into(), Value::from(n));
    TaskOutput::with(out)
}

#[derive(Debug)]
struct TcpSend {
    host: String,
    port: u16,
    bytes: Vec<u8>,
    timeout: Duration,
}

#[async_trait]
impl RunnableTask for TcpSend {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let (host, port, secs) = (&self.host, self.port, self.timeout.as_secs_f64());
        cx.info(&format!("Connecting to {host}:{port} (timeout: {secs} s)."));
        let fail = |what: &str, e: &dyn std::fmt::Display| {
            TaskError::failed(format!("Failed to send TCP message to {host}:{port}: {what}: {e}"))
        };
        let connect = tokio::net::TcpStream::connect((host.as_str(), port));
        let mut stream = match tokio::time::timeout(self.timeout, connect).await {
            Ok(s) => s.map_err(|e| fail("cannot connect", &e))?,
            Err(_) => return Err(fail("cannot connect", &format!("no connection within {secs} s (timeout)"))),
        };
        let send = async {
            stream.write_all(&self.bytes).await?;
            stream.flush().await?;
            stream.shutdown().await
        };
        match tokio::time::timeout(self.timeout, send).await {
            Ok(r) => r.map_err(|e| fail("cannot send", &e))?,
            Err(_) => return Err(fail("cannot send", &format!("not sent within {secs} s (timeout)"))),
        }
        cx.info(&format!("Sent {} bytes to {host}:{port} successfully.", self.bytes.len()));
        Ok(sent(host, port, self.bytes.len()))
    }
}

fn build_tcp(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: TcpProps = parse_props(props)?;
    let timeout = match p.timeout {
        None => Duration::from_secs(10),
        Some(t) => t.to_std().map_err(|_| TaskError::property("timeout", "must not be negative"))?,
    };
    let bytes = encode(&p.payload, p.encoding.as_deref(), true)?;
    Ok(Box::new(TcpSend { host: p.host, port: port(p.port)?, bytes, timeout }))
}

#[derive(Debug)]
struct UdpSend {
    host: String,
    port: u16,
    bytes: Vec<u8>,
}

#[async_trait]
impl RunnableTask for UdpSend {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let (host, port) = (&self.host, self.port);
        cx.info(&format!("Sending UDP datagram to {host}:{port}..."));
        let fail =
            |e: std::io::Error| TaskError::failed(format!("Failed to send a UDP datagram to {host}:{port}: {e}"));
        let target = tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(fail)?
            .next()
            .ok_or_else(|| TaskError::failed(format!("'{host}' has no address")))?;
        let local = if target.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" };
        let socket = tokio::net::UdpSocket::bind(local).await.map_err(fail)?;
        socket.send_to(&self.bytes, target).await.map_err(fail)?;
        cx.info(&format!("Sent UDP packet of {} bytes to {host}:{port}", self.bytes.len()));
        Ok(sent(host, port, self.bytes.len()))
    }
}

fn build_udp(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: UdpProps = parse_props(props)?;
    let bytes = encode(p.payload.as_deref().unwrap_or_default(), p.encoding.as_deref(), false)?;
    if bytes.len() > MAX_DATAGRAM {
        return Err(TaskError::property(
            "payload",
            format!("is {} bytes, more than the {MAX_DATAGRAM} bytes one UDP datagram carries", bytes.len()),
        ));
    }
    Ok(Box::new(UdpSend { host: p.host, port: port(p.port)?, bytes }))
}

pub static TCP_SEND: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<TcpProps>(build_tcp));
pub static UDP_SEND: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<UdpProps>(build_udp));

/// Registers this family's plugins.
pub fn register(r: &mut crate::Registry) {
    r.register(*TCP_SEND);
    r.register(*UDP_SEND);
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use tokio::io::AsyncReadExt;

    use super::*;
    use crate::core::test_support::Env;

    #[test]
    fn encodes_as_java_charsets() {
        assert_eq!(encode("hé", None, true).unwrap(), "hé".as_bytes());
        assert_eq!(encode("hé€", Some("ISO-8859-1"), true).unwrap(), [b'h', 0xE9, b'?']);
        assert_eq!(encode("hé", Some("us-ascii"), true).unwrap(), b"h?");
        assert_eq!(encode("AAEC", Some("BASE64"), true).unwrap(), [0, 1, 2]);
        assert!(encode("AAEC", Some("BASE64"), false).unwrap_err().to_string().contains("encoding"));
        assert!(encode("x", Some("EBCDIC"), true).unwrap_err().to_string().contains("EBCDIC"));
        assert!(tcp_encoding_ok(&json!("UTF-16")).is_err());
        assert!(tcp_encoding_ok(&json!("{{ vars.enc }}")).is_ok());
    }

    #[tokio::test]
    async fn sends_over_tcp_and_udp() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let tcp_port = listener.local_addr().unwrap().port();
        let got = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = Vec::new();
            s.read_to_end(&mut buf).await.unwrap();
            buf
        });
        let env = Env::new();
        let raw = json!({"host": "127.0.0.1", "port": tcp_port.to_string(), "payload": "hello {{ inputs.name }}"});
        let out = env.run(&TCP_SEND, raw).await.unwrap().outputs;
        assert_eq!(got.await.unwrap(), b"hello world");
        assert_eq!(Value::Object(out), json!({"host": "127.0.0.1", "port": tcp_port, "sentBytes": 11}));

        let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let udp_port = udp.local_addr().unwrap().port();
        let raw = json!({"host": "127.0.0.1", "port": udp_port, "payload": "ping"});
        let out = env.run(&UDP_SEND, raw).await.unwrap().outputs;
        let mut buf = [0u8; 16];
        let (n, _) = udp.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"ping");
        assert_eq!(out["sentBytes"], json!(4));
    }

    #[tokio::test]
    async fn a_closed_port_fails_naming_it() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let env = Env::new();
        let raw = json!({"host": "127.0.0.1", "port": port, "payload": "x", "timeout": "PT2S"});
        let e = env.run(&TCP_SEND, raw).await.unwrap_err().to_string();
        assert!(e.contains(&format!("127.0.0.1:{port}")) && e.contains("cannot connect"), "{e}");
    }
}
