//! Issue 24, the server under hostile requests: a body read whole is
//! bounded (a 1 GB `POST /flows` once took the server to 4.8 GB RSS), a
//! flow import's ZIP cannot unpack past its bound, and the routes that
//! stream uploads to storage still take files over the bound.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;
use shared::api::limits::{MAX_IMPORT_TEXT, MAX_REQUEST_BODY};
use shared::server::{LocalServer, ServerOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::sched_support::temp_dir;
use crate::support::TempHome;

const UPLOAD: &str = "id: upload\nnamespace: test.bounds\ninputs:\n  - id: data\n    type: FILE\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.debug.Return\n    format: ok\n";

/// The server, and its home (removed when dropped: its uploads are tens of MB).
async fn start() -> (LocalServer, TempHome) {
    let home = temp_dir("baton-bounds");
    let flows = home.join("flows");
    std::fs::create_dir_all(&flows).expect("flows");
    std::fs::write(flows.join("upload.yml"), UPLOAD).expect("flow");
    let mut opts = ServerOptions::new(home.join("home"));
    opts.flows_dir = flows;
    opts.port = 0;
    opts.workers = 2;
    (LocalServer::start(opts).await.expect("server starts"), TempHome(home))
}

/// Sends `head` and `body` (not minding a server that answers and closes
/// before the body is all sent); (status, JSON body or Null).
async fn send(addr: SocketAddr, head: &str, body: Vec<u8>) -> (u16, Value) {
    let sock = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (mut rd, mut wr) = sock.into_split();
    let head = format!("{head}host: {addr}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", body.len());
    let writer = tokio::spawn(async move {
        let _ = wr.write_all(head.as_bytes()).await;
        let _ = wr.write_all(&body).await;
        wr
    });
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(60), rd.read_to_end(&mut out)).await.expect("answered");
    writer.abort();
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

fn message(v: &Value) -> String {
    v["message"].as_str().unwrap_or_else(|| panic!("a JSON message: {v}")).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_read_whole_are_bounded_and_streamed_uploads_are_not() {
    let (server, _home) = start().await;
    let addr = server.addr();
    let over = MAX_REQUEST_BODY + 1024;
    // a YAML comment over the bound: refused before it is parsed
    let mut big = b"id: x\nnamespace: test.bounds\n# ".to_vec();
    big.resize(over, b'a');
    for route in ["POST /api/v1/flows", "POST /api/v1/flows/validate", "POST /api/v1/main/flows/test.bounds"] {
        let (status, v) =
            send(addr, &format!("{route} HTTP/1.1\r\ncontent-type: application/x-yaml\r\n"), big.clone()).await;
        assert_eq!(status, 413, "{route}: {v}");
        assert!(message(&v).contains("16 MiB"), "{route}: {v}");
    }
    let (status, v) =
        send(addr, "PUT /api/v1/namespaces/test.bounds/kv/k HTTP/1.1\r\ncontent-type: application/json\r\n", big).await;
    assert_eq!(status, 413, "{v}");
    // just under the bound is read (and then judged on what it says)
    let (status, v) = send(
        addr,
        "PUT /api/v1/namespaces/test.bounds/kv/k HTTP/1.1\r\ncontent-type: application/json\r\n",
        format!("\"{}\"", "v".repeat(1024 * 1024)).into_bytes(),
    )
    .await;
    assert!(status < 300, "{status} {v}");
    // a FILE input streams to storage: 20 MiB passes
    let b = "XbX";
    let mut body = format!(
        "--{b}\r\ncontent-disposition: form-data; name=\"data\"; filename=\"d.bin\"\r\ncontent-type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend(std::iter::repeat_n(b'x', 20 * 1024 * 1024));
    body.extend(format!("\r\n--{b}--\r\n").as_bytes());
    let head = format!(
        "POST /api/v1/executions/test.bounds/upload?wait=true HTTP/1.1\r\ncontent-type: multipart/form-data; boundary={b}\r\n"
    );
    let (status, v) = send(addr, &head, body).await;
    assert_eq!((status, v["state"]["current"].as_str()), (200, Some("SUCCESS")), "{v}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zip_import_cannot_unpack_past_its_bound() {
    use std::io::Write;
    let (server, _home) = start().await;
    let addr = server.addr();
    // 20 entries of 4 MiB less a little, compressed to a few KiB each
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    let mut entry =
        b"id: f\nnamespace: test.bounds\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n# "
            .to_vec();
    entry.resize(4 * 1024 * 1024 - 16, b'a');
    for i in 0..20 {
        zip.start_file(format!("f{i}.yml"), options).expect("entry");
        zip.write_all(&entry).expect("write");
    }
    let bytes = zip.finish().expect("zip").into_inner();
    assert!(bytes.len() < 2 * 1024 * 1024 && 20 * entry.len() > MAX_IMPORT_TEXT);
    let b = "XbX";
    let mut body = format!(
        "--{b}\r\ncontent-disposition: form-data; name=\"fileUpload\"; filename=\"flows.zip\"\r\ncontent-type: application/zip\r\n\r\n"
    )
    .into_bytes();
    body.extend(bytes);
    body.extend(format!("\r\n--{b}--\r\n").as_bytes());
    let head = format!("POST /api/v1/flows/import HTTP/1.1\r\ncontent-type: multipart/form-data; boundary={b}\r\n");
    let (status, v) = send(addr, &head, body).await;
    assert_eq!(status, 413, "{v}");
    assert!(message(&v).contains("64 MiB") && message(&v).contains("in parts"), "{v}");
    server.shutdown().await;
}

/// Slow clients (slowloris): each sends one header line at a time and never
/// ends its headers. The server closes them at the header timeout, holds at
/// most its connection bound, and `/healthz` is answered meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_at_the_header_timeout_and_do_not_starve_others() {
    let home = temp_dir("baton-slow");
    let _home = TempHome(home.clone());
    let mut opts = ServerOptions::new(home.join("home"));
    opts.flows_dir = home.clone();
    opts.port = 0;
    opts.http = shared::serve::ServeLimits {
        max_connections: 20,
        header_timeout: Duration::from_secs(1),
        ..Default::default()
    };
    let server = LocalServer::start(opts).await.expect("server starts");
    let addr = server.addr();
    let started = std::time::Instant::now();
    let mut slow = Vec::new();
    for _ in 0..40 {
        slow.push(tokio::spawn(async move {
            let mut sock = tokio::net::TcpStream::connect(addr).await.expect("connect");
            let mut lines = vec![format!("GET /healthz HTTP/1.1\r\nhost: {addr}\r\n")];
            lines.extend((0..100).map(|i| format!("x-slow-{i}: 1\r\n")));
            for line in lines {
                if sock.write_all(line.as_bytes()).await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
                // closed by the server (EOF or its 408) ends the client
                let mut buf = [0u8; 256];
                if let Ok(Ok(n)) = tokio::time::timeout(Duration::from_millis(1), sock.read(&mut buf)).await
                    && (n == 0 || buf[..n].starts_with(b"HTTP/1.1 408"))
                {
                    return started.elapsed();
                }
            }
            started.elapsed()
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let t = std::time::Instant::now();
    let (status, v) = send(addr, "GET /healthz HTTP/1.1\r\n", Vec::new()).await;
    assert_eq!((status, &v["status"]), (200, &Value::from("UP")), "{v}");
    assert!(t.elapsed() < Duration::from_secs(5), "healthz waited {:?}", t.elapsed());
    // the same answer at /health (Cloud Run's front end keeps paths ending in z)
    let (status, v) = send(addr, "GET /health HTTP/1.1\r\n", Vec::new()).await;
    assert_eq!((status, &v["status"]), (200, &Value::from("UP")), "{v}");
    for s in slow {
        let ended = s.await.expect("client");
        // 100 lines at 200 ms would take 20 s: the server cut it, after at
        // most two header timeouts (the second 20 waited for a slot)
        assert!(ended < Duration::from_secs(6), "a slow client was held {ended:?}");
    }
    server.shutdown().await;
}
