//! The socket triggers' listeners (`fs.tcp.RealtimeTrigger`,
//! `fs.udp.RealtimeTrigger`, declared in `crate::triggers::socket`), on
//! `baton server local`: its poller evaluates each one continuously, and
//! an evaluation takes what arrives within [`LISTEN_WINDOW`].
//!
//! The socket stays bound from one evaluation to the next (held in the
//! poller's slot of the trigger, opened again when the rendered `host`,
//! `port`, `encoding` or `bufferSize` change, closed when the trigger or
//! its flow goes), so the kernel queues what arrives between two windows:
//! nothing sent while the server runs is refused.
//!
//! TCP: each connection accepted is read to its end, at most
//! [`MAX_SOCKET_MESSAGE`] bytes within [`SOCKET_READ_DEADLINE`] (a sender
//! past either is dropped with a WARN naming the bound, as a request past
//! a server's bounds is), at most [`MAX_OPEN_READS`] at once (more wait in
//! the listen backlog; an evaluation ends once the reads it started have,
//! so a slow sender delays the next window, within the deadline). Its
//! lines, joined without their line breaks and
//! trimmed, are the message (Kestra's `readLine` loop); an empty one
//! starts nothing. UDP: each datagram is one message, its first
//! `bufferSize` bytes (Java's `DatagramPacket` drops the rest). Each
//! message starts one execution with `trigger.payload`, `timestamp`,
//! `sourceIp` and `sourcePort`; at most [`LISTEN_BATCH`] a window.
//!
//! A message has been received when its execution is created: one whose
//! execution cannot be stored is lost, as in Kestra (the sender is gone);
//! the evaluation ends with the error, logged, and listening goes on.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};
use tokio::io::AsyncReadExt as _;
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::{EventError, launch_event};
use crate::model::Flow;
use crate::runtime::engine::Engine;
use crate::triggers::socket::{MAX_BUFFER, Protocol, SocketSpec};

/// How long one evaluation takes what arrives.
pub const LISTEN_WINDOW: Duration = Duration::from_secs(1);
/// The most messages one evaluation starts executions for.
const LISTEN_BATCH: usize = 100;
/// The most bytes one TCP message may hold.
pub const MAX_SOCKET_MESSAGE: u64 = 1024 * 1024;
/// How long a TCP sender has, from its connection, to send its message and close.
pub const SOCKET_READ_DEADLINE: Duration = Duration::from_secs(30);
/// The most TCP connections read at once by one trigger.
pub const MAX_OPEN_READS: usize = 64;

/// A bound socket and what it was opened for.
#[derive(Debug)]
pub struct Listener {
    opened_for: SocketSpec,
    socket: Socket,
}

#[derive(Debug)]
enum Socket {
    Tcp(TcpListener),
    Udp(UdpSocket),
}

/// A trigger's listener, kept by the poller across evaluations.
pub type Held = Arc<tokio::sync::Mutex<Option<Listener>>>;

/// One message received.
struct Message {
    payload: String,
    from: SocketAddr,
}

/// The trigger's properties rendered and read.
fn spec(
    engine: &Engine,
    flow: &Flow,
    trigger_id: &str,
    protocol: Protocol,
    props: &Map<String, Value>,
) -> Result<SocketSpec, EventError> {
    let rendered = super::render_props(engine, flow, trigger_id, props.clone())?;
    SocketSpec::from_rendered(protocol, &rendered).map_err(|e| EventError::config(flow, trigger_id, e))
}

/// One evaluation of socket trigger `trigger_id` of `flow`: the ids of the
/// executions it started.
pub async fn listen(
    engine: &Arc<Engine>,
    flow: &Flow,
    trigger_id: &str,
    protocol: Protocol,
    props: &Map<String, Value>,
    held: &Held,
) -> Result<Vec<String>, EventError> {
    let spec = spec(engine, flow, trigger_id, protocol, props)?;
    let mut open = held.lock().await;
    if open.as_ref().is_none_or(|l| l.opened_for != spec) {
        // the old socket is closed before the new one binds (same port)
        *open = None;
        let at = (spec.host.as_str(), spec.port);
        let socket = match protocol {
            Protocol::Tcp => TcpListener::bind(at).await.map(Socket::Tcp),
            Protocol::Udp => UdpSocket::bind(at).await.map(Socket::Udp),
        }
        .map_err(|e| {
            EventError::config(flow, trigger_id, format!("cannot listen on {}:{}: {e}", spec.host, spec.port))
        })?;
        tracing::info!(namespace = %flow.namespace, flow_id = %flow.id, trigger_id, host = %spec.host, port = spec.port,
            "{} listening", protocol.type_name());
        *open = Some(Listener { opened_for: spec.clone(), socket });
    }
    let Some(listener) = open.as_ref() else { return Ok(Vec::new()) };
    let messages = match &listener.socket {
        Socket::Tcp(l) => tcp_window(l, &spec).await,
        Socket::Udp(s) => udp_window(s, &spec).await,
    }
    .map_err(|e| EventError::config(flow, trigger_id, e))?;
    let (mut started, mut failed) = (Vec::new(), None);
    for m in messages {
        let mut vars = Map::new();
        vars.insert("payload".into(), Value::String(m.payload));
        vars.insert(
            "timestamp".into(),
            Value::String(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
        );
        vars.insert("sourceIp".into(), Value::String(m.from.ip().to_string()));
        vars.insert("sourcePort".into(), Value::from(m.from.port()));
        let id = crate::model::ids::new_id();
        match launch_event(engine, flow, trigger_id, protocol.type_name(), &id, vars).await {
            Ok(true) => started.push(id),
            Ok(false) => {}
            // the other messages of the window still start theirs
            Err(e) => failed = failed.or(Some(e)),
        }
    }
    failed.map_or(Ok(started), Err)
}

/// The messages of the connections accepted within the window, each read
/// to its end (within the bounds); an empty one is dropped.
async fn tcp_window(listener: &TcpListener, spec: &SocketSpec) -> Result<Vec<Message>, String> {
    let until = Instant::now() + LISTEN_WINDOW;
    let mut reads: JoinSet<Result<Option<Message>, String>> = JoinSet::new();
    let mut out = Vec::new();
    let mut accepted = 0;
    while accepted < LISTEN_BATCH {
        let accept = tokio::time::timeout_at(until, listener.accept()).await;
        let Ok(accept) = accept else { break };
        let (stream, from) = accept.map_err(|e| format!("cannot accept a connection: {e}"))?;
        accepted += 1;
        // at the bound, a read ends (its message kept) before the next starts
        while reads.len() >= MAX_OPEN_READS {
            let Some(joined) = reads.join_next().await else { break };
            keep(joined, &mut out, spec.port);
        }
        reads.spawn(read_message(stream, from, spec.encoding.clone()));
    }
    while let Some(joined) = reads.join_next().await {
        keep(joined, &mut out, spec.port);
    }
    Ok(out)
}

/// A finished read's message into `out`; a dropped one logged naming why.
fn keep(joined: Result<Result<Option<Message>, String>, tokio::task::JoinError>, out: &mut Vec<Message>, port: u16) {
    match joined {
        Ok(Ok(Some(m))) => out.push(m),
        Ok(Ok(None)) => {}
        Ok(Err(why)) => tracing::warn!(port, "fs.tcp.RealtimeTrigger: a message dropped: {why}"),
        Err(e) => tracing::warn!(port, "fs.tcp.RealtimeTrigger: a read ended: {e}"),
    }
}

/// A connection's message: its lines joined without their breaks and
/// trimmed (`None` when that leaves nothing).
async fn read_message(stream: TcpStream, from: SocketAddr, encoding: String) -> Result<Option<Message>, String> {
    let mut bytes = Vec::new();
    let mut limited = stream.take(MAX_SOCKET_MESSAGE + 1);
    let read = limited.read_to_end(&mut bytes);
    match tokio::time::timeout(SOCKET_READ_DEADLINE, read).await {
        Err(_) => {
            return Err(format!(
                "{from} did not send its message and close within {} s (SOCKET_READ_DEADLINE)",
                SOCKET_READ_DEADLINE.as_secs()
            ));
        }
        Ok(Err(e)) => return Err(format!("reading from {from}: {e}")),
        Ok(Ok(_)) => {}
    }
    if bytes.len() as u64 > MAX_SOCKET_MESSAGE {
        return Err(format!("{from} sent more than {MAX_SOCKET_MESSAGE} bytes (MAX_SOCKET_MESSAGE)"));
    }
    let text = crate::plugins::sockets::decode(&bytes, &encoding)?;
    let joined: String = text.split(['\n', '\r']).collect();
    // Java's trim: every character up to the space
    let payload = joined.trim_matches(|c: char| c <= ' ').to_string();
    Ok((!payload.is_empty()).then_some(Message { payload, from }))
}

/// The datagrams received within the window, each cut to `bufferSize`.
async fn udp_window(socket: &UdpSocket, spec: &SocketSpec) -> Result<Vec<Message>, String> {
    let until = Instant::now() + LISTEN_WINDOW;
    let mut buf = vec![0u8; usize::try_from(MAX_BUFFER).unwrap_or(65_507)];
    let mut out = Vec::new();
    while out.len() < LISTEN_BATCH {
        let Ok(received) = tokio::time::timeout_at(until, socket.recv_from(&mut buf)).await else { break };
        let (n, from) = received.map_err(|e| format!("cannot receive a datagram: {e}"))?;
        let payload = crate::plugins::sockets::decode(&buf[..n.min(spec.buffer)], &spec.encoding)?;
        out.push(Message { payload, from });
    }
    Ok(out)
}
