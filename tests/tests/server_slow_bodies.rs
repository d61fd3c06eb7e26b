//! Issue 53, slow clients past the connection cap: up to 2,000 clients on
//! loopback (as many as the file descriptor limit allows), from the same
//! address as the normal client, each sending a request body one byte a
//! second. The normal client is answered within a second every time, and
//! the slow bodies are cut at the minimum body rate with an error naming
//! it.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use shared::serve::ServeLimits;
use shared::serve_guard::BodyRate;
use shared::server::{LocalServer, ServerOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::sched_support::temp_dir;
use crate::support::TempHome;

/// How many slow clients this machine can hold: each takes two file
/// descriptors in this process (its end and the server's).
fn slow_clients() -> usize {
    let soft = rustix::process::getrlimit(rustix::process::Resource::Nofile).current.unwrap_or(1024);
    (soft.saturating_sub(400) / 2).min(2000) as usize
}

/// One request on a new connection: its status and how long it took.
async fn get(addr: SocketAddr, path: &str) -> (u16, Duration) {
    let t = Instant::now();
    let Ok(Ok(mut sock)) = tokio::time::timeout(Duration::from_secs(5), tokio::net::TcpStream::connect(addr)).await
    else {
        return (0, t.elapsed());
    };
    let req = format!("GET {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n");
    if sock.write_all(req.as_bytes()).await.is_err() {
        return (0, t.elapsed());
    }
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), sock.read_to_end(&mut out)).await;
    let text = String::from_utf8_lossy(&out);
    (text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0), t.elapsed())
}

/// A client sending a 100 kB flow one byte a second; what the server
/// answered (empty when it closed the connection without a word).
async fn slow(addr: SocketAddr, until: Instant) -> String {
    let Ok(mut sock) = tokio::net::TcpStream::connect(addr).await else { return String::new() };
    let head = format!(
        "POST /api/v1/flows HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/x-yaml\r\ncontent-length: 100000\r\n\r\n"
    );
    if sock.write_all(head.as_bytes()).await.is_err() {
        return String::new();
    }
    let mut buf = vec![0u8; 4096];
    while Instant::now() < until {
        if sock.write_all(b"#").await.is_err() {
            break;
        }
        match tokio::time::timeout(Duration::from_secs(1), sock.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => return String::from_utf8_lossy(&buf[..n]).into_owned(),
            Err(_) => {}
        }
    }
    String::new()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_normal_client_is_answered_within_a_second_under_thousands_of_slow_bodies() {
    let home = temp_dir("baton-slow-bodies");
    let _home = TempHome(home.clone());
    let mut opts = ServerOptions::new(home.join("home"));
    opts.flows_dir = home.clone();
    opts.port = 0;
    opts.workers = 2;
    // the production caps; a shorter grace, so the test sees bodies cut
    opts.http = ServeLimits {
        body_rate: BodyRate { grace: Duration::from_secs(3), ..Default::default() },
        ..Default::default()
    };
    let server = LocalServer::start(opts).await.expect("server starts");
    let addr = server.addr();
    let n = slow_clients();
    assert!(n >= 600, "only {n} slow clients fit under this machine's file descriptor limit");
    let until = Instant::now() + Duration::from_secs(12);
    let mut clients = Vec::new();
    for i in 0..n {
        clients.push(tokio::spawn(slow(addr, until)));
        if i % 100 == 99 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // the normal client, while the slow ones hold or come back for the caps
    let mut worst = Duration::ZERO;
    for _ in 0..10 {
        let (status, took) = get(addr, "/api/v1/flows/search").await;
        assert_eq!(status, 200, "the normal client was not answered ({took:?}) under {n} slow clients");
        worst = worst.max(took);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(worst < Duration::from_secs(1), "the normal client waited {worst:?} under {n} slow clients");
    let answers: Vec<String> = futures_join(clients).await;
    let cut = answers.iter().filter(|a| a.contains("MIN_BODY_RATE")).count();
    assert!(cut > 0, "no slow body was cut naming the bound");
    eprintln!("{n} slow clients: normal client at worst {worst:?}; {cut} slow bodies cut naming MIN_BODY_RATE");
    server.shutdown().await;
}

async fn futures_join(handles: Vec<tokio::task::JoinHandle<String>>) -> Vec<String> {
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await.unwrap_or_default());
    }
    out
}
