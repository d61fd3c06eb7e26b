//! Kestra's socket triggers of plugin-fs on `baton server local`:
//! - `fs.tcp.RealtimeTrigger`: each connection's message (its lines joined
//!   without their breaks, trimmed) starts one execution with
//!   `trigger.payload`, `sourceIp`, `sourcePort`, `timestamp`; an empty
//!   one starts nothing; a message past `MAX_SOCKET_MESSAGE` is dropped and
//!   the next still starts its execution;
//! - `fs.udp.RealtimeTrigger`: one execution per datagram, cut to
//!   `bufferSize`, decoded with `encoding`;
//! - the socket stays bound between the poller's windows (messages sent
//!   back to back all arrive), and is closed when the trigger is disabled;
//! - its properties are rendered as Kestra renders a trigger's, with the
//!   flow's `vars` (the TCP port comes from one);
//! - validation names a missing `port` and a bad `encoding` with
//!   file:line:column.

use std::io::Write as _;
use std::time::Duration;

use shared::model::Execution;

use crate::redis_tasks::validate;
use crate::redis_triggers::{Local, ended};

fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

fn flow(tcp: u16, udp: u16) -> String {
    format!(
        "id: sockets\nnamespace: company.team\nvariables:\n  tcp_port: {tcp}\ntasks:\n  - id: log\n    \
         type: io.kestra.plugin.core.log.Log\n    message: \"{{{{ trigger.payload }}}}\"\ntriggers:\n  - id: tcp\n    \
         type: io.kestra.plugin.fs.tcp.RealtimeTrigger\n    host: 127.0.0.1\n    port: \"{{{{ vars.tcp_port }}}}\"\n  - id: udp\n    type: io.kestra.plugin.fs.udp.RealtimeTrigger\n    \
         host: 127.0.0.1\n    port: {udp}\n    bufferSize: 8\n    encoding: ISO-8859-1\n"
    )
}

/// Sends `bytes` over one TCP connection and closes it.
fn send_tcp(port: u16, bytes: &[u8]) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.write_all(bytes).expect("write");
}

fn var<'e>(e: &'e Execution, name: &str) -> &'e serde_json::Value {
    &e.trigger.as_ref().expect("a trigger").variables[name]
}

fn payloads(all: &[Execution], type_: &str) -> Vec<String> {
    let mut p: Vec<String> = all
        .iter()
        .filter(|e| e.trigger.as_ref().is_some_and(|t| t.type_ == type_))
        .map(|e| var(e, "payload").as_str().unwrap_or_default().to_string())
        .collect();
    p.sort();
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tcp_messages_and_udp_datagrams_each_start_an_execution() {
    let (tcp, udp) = (free_tcp_port(), free_udp_port());
    let local = Local::new(&flow(tcp, udp));
    let server = local.start().await;
    // listening once a connection is accepted (the poller's first pass)
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", tcp)).is_err() {
        assert!(std::time::Instant::now() < deadline, "the TCP trigger never listened on {tcp}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    send_tcp(tcp, b"hello\nwor");
    send_tcp(tcp, b"  ld\r\n  second  \n");
    send_tcp(tcp, b" \n \n");
    // past MAX_SOCKET_MESSAGE: dropped, and the next one still arrives
    send_tcp(tcp, &vec![b'x'; 1024 * 1024 + 1]);
    send_tcp(tcp, b"after the big one");
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let from_port = sock.local_addr().expect("addr").port();
    sock.send_to(b"ping", ("127.0.0.1", udp)).expect("send");
    sock.send_to(b"caf\xe9 longer than eight", ("127.0.0.1", udp)).expect("send");

    let all = ended(&server, "sockets", 5).await;
    assert_eq!(
        payloads(&all, "io.kestra.plugin.fs.tcp.RealtimeTrigger"),
        ["after the big one", "hellowor", "ld  second"],
        "an empty message starts nothing, a message past the bound is dropped"
    );
    assert_eq!(payloads(&all, "io.kestra.plugin.fs.udp.RealtimeTrigger"), ["caf\u{e9} lon", "ping"]);
    let ping = all.iter().find(|e| var(e, "payload") == "ping").expect("ping");
    assert_eq!(var(ping, "sourceIp"), "127.0.0.1");
    assert_eq!(var(ping, "sourcePort"), from_port);
    assert!(var(ping, "timestamp").as_str().is_some_and(|t| t.ends_with('Z')), "{:?}", var(ping, "timestamp"));
    assert!(all.iter().all(|e| e.state.current == shared::model::StateType::Success));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(crate::sched_support::executions_of(&server.engine, "company.team", "sockets").await.len(), 5);

    // the trigger disabled in the flow's file: its port is closed
    let disabled = flow(tcp, udp)
        .replace("port: \"{{ vars.tcp_port }}\"\n", "port: \"{{ vars.tcp_port }}\"\n    disabled: true\n");
    assert!(disabled.contains("disabled: true"), "{disabled}");
    std::fs::write(local.dir.join("flows/f.yml"), disabled).expect("rewrite");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", tcp)).is_ok() {
        assert!(std::time::Instant::now() < deadline, "port {tcp} still open after its trigger was disabled");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.shutdown().await;
}

/// More senders at once than the trigger reads at once (`MAX_OPEN_READS`,
/// 64): every message still starts its execution.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn more_senders_at_once_than_reads_at_once_lose_no_message() {
    let (tcp, udp) = (free_tcp_port(), free_udp_port());
    let local = Local::new(&flow(tcp, udp));
    let server = local.start().await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", tcp)).is_err() {
        assert!(std::time::Instant::now() < deadline, "the TCP trigger never listened on {tcp}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // 70 connections open before any sends: the reads pile up past 64
    let mut open: Vec<std::net::TcpStream> =
        (0..70).map(|_| std::net::TcpStream::connect(("127.0.0.1", tcp)).expect("connect")).collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    for (i, s) in open.iter_mut().enumerate() {
        s.write_all(format!("m{i:02}").as_bytes()).expect("write");
    }
    drop(open);
    let all = ended(&server, "sockets", 70).await;
    let mut want: Vec<String> = (0..70).map(|i| format!("m{i:02}")).collect();
    want.sort();
    assert_eq!(payloads(&all, "io.kestra.plugin.fs.tcp.RealtimeTrigger"), want);
    server.shutdown().await;
}

#[test]
fn validation_names_what_a_socket_trigger_lacks_with_its_position() {
    let out = validate(
        "id: f\nnamespace: company.team\ntasks:\n  - id: log\n    type: io.kestra.plugin.core.log.Log\n    \
         message: hi\ntriggers:\n  - id: noport\n    type: io.kestra.plugin.fs.tcp.RealtimeTrigger\n    host: 0.0.0.0\n\
         \x20 - id: odd\n    type: io.kestra.plugin.fs.udp.RealtimeTrigger\n    port: 8091\n    encoding: EBCDIC\n",
    );
    assert!(
        out.contains("flow.yaml:8:5: triggers[0]: trigger 'noport': an fs.tcp.RealtimeTrigger needs 'port'"),
        "{out}"
    );
    assert!(out.contains("flow.yaml:14:5: triggers[1].encoding: trigger 'odd': 'encoding':"), "{out}");
}
