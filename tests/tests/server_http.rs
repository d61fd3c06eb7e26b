//! The local server's HTTP hardening (issue 16, items 7 and 8): foreign
//! `Host` headers and cross-site state changes refused, unknown routes,
//! methods and parameters answered with JSON, a non-loopback bind refused
//! without auth, a 5 MB FILE upload streamed to storage (and no file left
//! when the launch then fails), and a stop not held by a half-sent request.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;
use shared::server::{LocalServer, ServerError, ServerOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::sched_support::temp_dir;
use crate::support::TempHome;

const BIG: &str = r#"
id: big
namespace: test.http
inputs:
  - id: name
    type: STRING
  - id: data
    type: FILE
tasks:
  - id: echo
    type: io.kestra.plugin.core.debug.Return
    format: "{{ inputs.name }}"
"#;

/// The server, and its home (removed when dropped).
async fn start() -> (LocalServer, TempHome) {
    let home = temp_dir("baton-http");
    let flows = home.join("flows");
    std::fs::create_dir_all(&flows).expect("flows");
    std::fs::write(flows.join("big.yml"), BIG).expect("flow");
    let mut opts = ServerOptions::new(home.join("home"));
    opts.flows_dir = flows;
    opts.port = 0;
    opts.workers = 2;
    opts.tick = Duration::from_millis(200);
    (LocalServer::start(opts).await.expect("server starts"), TempHome(home))
}

/// One raw HTTP/1.1 request; (status, JSON body or Null).
async fn request(addr: SocketAddr, head: &str, body: &[u8]) -> (u16, Value) {
    let mut sock = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let head = format!("{head}content-length: {}\r\nconnection: close\r\n\r\n", body.len());
    sock.write_all(head.as_bytes()).await.expect("write");
    sock.write_all(body).await.expect("write body");
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), sock.read_to_end(&mut out)).await.expect("answered").expect("read");
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

fn message(v: &Value) -> &str {
    v["message"].as_str().unwrap_or_else(|| panic!("a JSON message: {v}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_hosts_cross_site_forms_and_unknown_requests_get_json_refusals() {
    let (server, _home) = start().await;
    let addr = server.addr();
    let host = format!("host: {addr}\r\n");
    let (status, v) = request(addr, "GET /api/v1/flows HTTP/1.1\r\nhost: evil.example:8080\r\n", b"").await;
    assert_eq!(status, 403, "{v}");
    assert!(message(&v).contains("evil.example"), "{v}");
    // a form on another site posting to the API
    let form = format!(
        "POST /api/v1/executions/test.http/big HTTP/1.1\r\n{host}origin: http://evil.example\r\ncontent-type: application/x-www-form-urlencoded\r\n"
    );
    let (status, v) = request(addr, &form, b"name=x").await;
    assert_eq!(status, 403, "{v}");
    let (status, v) = request(addr, &format!("GET /api/v1/executions/search HTTP/1.1\r\n{host}"), b"").await;
    assert_eq!((status, &v["total"]), (200, &Value::from(0)), "no execution was created: {v}");
    let (status, v) = request(addr, &format!("GET /nope HTTP/1.1\r\n{host}"), b"").await;
    assert_eq!(status, 404);
    assert!(message(&v).contains("web UI at /"), "{v}");
    let (status, v) = request(addr, &format!("GET /api/v1/nope HTTP/1.1\r\n{host}"), b"").await;
    assert_eq!(status, 404);
    assert!(message(&v).contains("/api/v1/nope"), "{v}");
    let (status, v) = request(addr, &format!("GET /api/v1/executions/search?bogus=1 HTTP/1.1\r\n{host}"), b"").await;
    assert_eq!(status, 400);
    assert!(message(&v).contains("'bogus'"), "{v}");
    let path = "/api/v1/executions/search?filters%5BtaskId%5D%5BEQUALS%5D=a";
    let (status, v) = request(addr, &format!("GET {path} HTTP/1.1\r\n{host}"), b"").await;
    assert_eq!(status, 400);
    assert!(message(&v).contains("filters[taskId][EQUALS]"), "{v}");
    let (status, v) = request(addr, &format!("DELETE /api/v1/flows HTTP/1.1\r\n{host}"), b"").await;
    assert_eq!(status, 405);
    assert!(message(&v).contains("DELETE"), "{v}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_loopback_bind_needs_basic_auth() {
    let home = temp_dir("baton-http-bind");
    let _home = TempHome(home.clone());
    let mut opts = ServerOptions::new(home.join("home"));
    opts.flows_dir = home.clone();
    opts.port = 0;
    opts.bind = "0.0.0.0".parse().expect("ip");
    match LocalServer::start(opts).await {
        Err(e @ ServerError::Unauthenticated(_)) => assert!(e.to_string().contains("BATON_SERVER_BASIC_AUTH"), "{e}"),
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("a server on 0.0.0.0 without auth started"),
    }
}

fn multipart(name: Option<&str>, size: usize) -> (String, Vec<u8>) {
    let b = "XbatonX";
    let mut body = Vec::new();
    if let Some(n) = name {
        body.extend(format!("--{b}\r\ncontent-disposition: form-data; name=\"name\"\r\n\r\n{n}\r\n").as_bytes());
    }
    body.extend(
        format!("--{b}\r\ncontent-disposition: form-data; name=\"data\"; filename=\"big.bin\"\r\ncontent-type: application/octet-stream\r\n\r\n")
            .as_bytes(),
    );
    body.extend(std::iter::repeat_n(b'x', size));
    body.extend(format!("\r\n--{b}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={b}"), body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_5_mb_upload_is_stored_and_a_failed_launch_leaves_no_file() {
    let (server, _home) = start().await;
    let addr = server.addr();
    let size = 5 * 1024 * 1024;
    let (ct, body) = multipart(Some("Baton"), size);
    let head =
        format!("POST /api/v1/executions/test.http/big?wait=true HTTP/1.1\r\nhost: {addr}\r\ncontent-type: {ct}\r\n");
    let (status, v) = request(addr, &head, &body).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["state"]["current"], "SUCCESS", "{v}");
    let uri = v["inputs"]["data"].as_str().expect("file input");
    let path = shared::backend::storage_path(uri).expect("kestra uri");
    assert_eq!(server.engine.storage.size(&path).await.expect("size"), Some(size as u64));
    let stored = server.engine.storage.list("/test/http/big/executions").await.expect("list");
    assert_eq!(stored.len(), 1, "{stored:?}");
    // the required `name` is missing: the launch fails after the file was stored
    let (ct, body) = multipart(None, 3 * 1024 * 1024);
    let head = format!("POST /api/v1/executions/test.http/big HTTP/1.1\r\nhost: {addr}\r\ncontent-type: {ct}\r\n");
    let (status, v) = request(addr, &head, &body).await;
    assert_eq!(status, 422, "{v}");
    let after = server.engine.storage.list("/test/http/big/executions").await.expect("list");
    assert_eq!(after, stored, "the failed launch's upload was removed");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_sent_request_does_not_hold_the_server_at_stop() {
    let (server, _home) = start().await;
    let mut sock = tokio::net::TcpStream::connect(server.addr()).await.expect("connect");
    let head = format!(
        "POST /api/v1/executions/test.http/big HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\ncontent-length: 1000000\r\n\r\n{{\"na",
        server.addr()
    );
    sock.write_all(head.as_bytes()).await.expect("write");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = std::time::Instant::now();
    tokio::time::timeout(Duration::from_secs(15), server.shutdown()).await.expect("the server stops");
    assert!(started.elapsed() < shared::server::SHUTDOWN_GRACE + Duration::from_secs(3), "{:?}", started.elapsed());
    drop(sock);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_streams_the_execution_and_its_logs_until_it_ends() {
    let (server, _home) = start().await;
    let addr = server.addr();
    let flow = "id: slowlog\nnamespace: test.http\ntasks:\n  - id: first\n    type: io.kestra.plugin.core.log.Log\n    message: before\n  - id: nap\n    type: io.kestra.plugin.core.flow.Sleep\n    duration: PT1S\n  - id: last\n    type: io.kestra.plugin.core.log.Log\n    message: after\n";
    let head = format!("POST /api/v1/flows HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/x-yaml\r\n");
    let (status, v) = request(addr, &head, flow.as_bytes()).await;
    assert_eq!(status, 200, "{v}");
    let head = format!("POST /api/v1/executions/test.http/slowlog HTTP/1.1\r\nhost: {addr}\r\n");
    let (status, v) = request(addr, &head, b"").await;
    assert_eq!(status, 200, "{v}");
    let id = v["id"].as_str().expect("id").to_string();
    let follow = |path: String| async move {
        let mut sock = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let req = format!("GET {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n");
        sock.write_all(req.as_bytes()).await.expect("write");
        let mut out = Vec::new();
        tokio::time::timeout(Duration::from_secs(30), sock.read_to_end(&mut out))
            .await
            .expect("stream ends")
            .expect("read");
        String::from_utf8_lossy(&out).into_owned()
    };
    let (execs, logs) =
        tokio::join!(follow(format!("/api/v1/executions/{id}/follow")), follow(format!("/api/v1/logs/{id}/follow")));
    assert!(execs.contains("text/event-stream"), "{execs}");
    let states: Vec<String> = execs
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .map(|v| v["state"]["current"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(states.len() >= 2 && states.last().map(String::as_str) == Some("SUCCESS"), "{states:?}");
    let messages: Vec<String> = logs
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter_map(|v| v["message"].as_str().map(String::from))
        .collect();
    assert!(messages.contains(&"before".to_string()) && messages.contains(&"after".to_string()), "{messages:?}");
    let (status, _) = request(addr, &format!("GET /api/v1/logs/{id}/download HTTP/1.1\r\nhost: {addr}\r\n"), b"").await;
    assert_eq!(status, 200);
    let mut sock = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let req =
        format!("GET /api/v1/logs/{id}/download?minLevel=INFO HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n");
    sock.write_all(req.as_bytes()).await.expect("write");
    let mut text = String::new();
    sock.read_to_string(&mut text).await.expect("read");
    assert!(text.contains("INFO [first] before") && text.contains("INFO [last] after"), "{text}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn triggers_are_disabled_and_backfills_created_paused_and_deleted_through_kestras_routes() {
    let (server, _home) = start().await;
    let addr = server.addr();
    let flow = "id: sched\nnamespace: test.http\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: tick\ntriggers:\n  - id: monthly\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: \"0 9 1 * *\"\n";
    let head = format!("POST /api/v1/main/flows HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/x-yaml\r\n");
    assert_eq!(request(addr, &head, flow.as_bytes()).await.0, 200);
    let json = |method: &str, path: &str| {
        format!("{method} {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n")
    };
    let key = r#""namespace": "test.http", "flowId": "sched", "triggerId": "monthly""#;
    let (status, v) =
        request(addr, &json("PUT", "/api/v1/triggers"), format!("{{{key}, \"disabled\": true}}").as_bytes()).await;
    assert_eq!((status, &v["disabled"]), (200, &Value::Bool(true)), "{v}");
    let get = format!("GET /api/v1/triggers/test.http/sched/monthly HTTP/1.1\r\nhost: {addr}\r\n");
    assert_eq!(request(addr, &get, b"").await.1["disabled"], true);
    let (_, v) =
        request(addr, &json("PUT", "/api/v1/triggers"), format!("{{{key}, \"disabled\": false}}").as_bytes()).await;
    assert_eq!(v["disabled"], false, "{v}");
    // Kestra 2.0's create, paused at once; then unpause, pause, delete
    let body = format!(
        "{{{key}, \"backfill\": {{\"start\": \"2019-01-01T00:00:00Z\", \"end\": \"2019-12-31T00:00:00Z\", \"paused\": true}}}}"
    );
    let (status, v) = request(addr, &json("PUT", "/api/v1/triggers/backfill/create"), body.as_bytes()).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["backfill"]["paused"], true, "{v}");
    let key_body = format!("{{{key}}}");
    let (status, v) = request(addr, &json("PUT", "/api/v1/triggers/backfill/unpause"), key_body.as_bytes()).await;
    assert_eq!((status, &v["backfill"]["paused"]), (200, &Value::Bool(false)), "{v}");
    let (status, v) = request(addr, &json("PUT", "/api/v1/triggers/backfill/pause"), key_body.as_bytes()).await;
    assert_eq!((status, &v["backfill"]["paused"]), (200, &Value::Bool(true)), "{v}");
    let (status, v) = request(addr, &json("POST", "/api/v1/triggers/backfill/delete"), key_body.as_bytes()).await;
    assert_eq!((status, &v["backfill"]["state"]), (200, &Value::from("CANCELLED")), "{v}");
    let (status, v) = request(addr, &json("PUT", "/api/v1/triggers/backfill/pause"), key_body.as_bytes()).await;
    assert_eq!(status, 404, "nothing left to pause: {v}");
    server.shutdown().await;
}

/// After a first backfill on a trigger has ended, a second one (the UI
/// dialog's `PUT /triggers`) is the one `PUT /triggers`, `GET
/// /triggers/search` and the trigger's own route show, not the first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_backfill_is_the_one_the_trigger_shows_not_the_first() {
    let (server, _home) = start().await;
    let addr = server.addr();
    let flow = "id: twice\nnamespace: test.http\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: tick\ntriggers:\n  - id: monthly\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: \"0 9 1 * *\"\n";
    let head = format!("POST /api/v1/main/flows HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/x-yaml\r\n");
    assert_eq!(request(addr, &head, flow.as_bytes()).await.0, 200);
    let json = |method: &str, path: &str| {
        format!("{method} {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n")
    };
    let key = r#""namespace": "test.http", "flowId": "twice", "triggerId": "monthly""#;
    let window = |start: &str, end: &str| {
        format!("{{{key}, \"backfill\": {{\"start\": \"{start}T00:00:00Z\", \"end\": \"{end}T00:00:00Z\"}}}}")
    };
    let get = format!("GET /api/v1/triggers/test.http/twice/monthly HTTP/1.1\r\nhost: {addr}\r\n");
    let ended = |v: &Value| v["backfill"]["state"] == "SUCCESS";
    // the first: two ticks (February and March 2019), to its end
    let (status, first) =
        request(addr, &json("PUT", "/api/v1/triggers/backfill/create"), window("2019-01-15", "2019-03-15").as_bytes())
            .await;
    assert_eq!(status, 200, "{first}");
    let mut v = first.clone();
    for _ in 0..200 {
        v = request(addr, &get, b"").await.1;
        if ended(&v) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(ended(&v), "the first backfill ends: {v}");
    let first_id = v["backfill"]["id"].clone();
    // the second, as the UI dialog sends it: three ticks in 2020
    let (status, second) =
        request(addr, &json("PUT", "/api/v1/triggers"), window("2020-01-15", "2020-04-15").as_bytes()).await;
    assert_eq!(status, 200, "{second}");
    assert_ne!(second["backfill"]["id"], first_id, "PUT /triggers answers the new backfill: {second}");
    assert_eq!(second["backfill"]["start"].as_str().map(|s| &s[..10]), Some("2020-01-15"), "{second}");
    let shown = request(addr, &get, b"").await.1;
    assert_eq!(shown["backfill"]["id"], second["backfill"]["id"], "the trigger shows the new one: {shown}");
    let search = format!("GET /api/v1/main/triggers/search?namespace=test.http HTTP/1.1\r\nhost: {addr}\r\n");
    let (status, found) = request(addr, &search, b"").await;
    assert_eq!(status, 200, "{found}");
    let ctx = found["results"]
        .as_array()
        .and_then(|r| r.iter().find(|t| t["triggerContext"]["flowId"] == "twice"))
        .map(|t| t["triggerContext"].clone())
        .expect("the trigger is listed");
    assert_eq!(ctx["backfill"]["id"], second["backfill"]["id"], "the search shows the new one: {ctx}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kestra_2_routes_outputs_by_task_run_start_at_a_revision_and_draft_refused() {
    let (server, _home) = start().await;
    let addr = server.addr();
    let yaml = |v: &str| {
        format!("POST /api/v1/main/flows{v} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/x-yaml\r\n")
    };
    let flow = |word: &str| {
        format!(
            "id: rev\nnamespace: test.http\ntasks:\n  - id: say\n    type: io.kestra.plugin.core.debug.Return\n    format: {word}\n"
        )
    };
    // ?draft=true would save a revision Kestra never runs: refused by name
    let (status, v) = request(addr, &yaml("?draft=true"), flow("one").as_bytes()).await;
    assert_eq!(status, 501, "{v}");
    assert!(message(&v).contains("draft=true"), "{v}");
    assert_eq!(request(addr, &yaml("?draft=false"), flow("one").as_bytes()).await.0, 200);
    let put = format!(
        "PUT /api/v1/main/flows/test.http/rev?draft=false HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/x-yaml\r\n"
    );
    let (status, v) = request(addr, &put, flow("two").as_bytes()).await;
    assert_eq!((status, &v["revision"]), (200, &Value::from(2)), "{v}");
    // start at revision 1 (Kestra's `revision`), waiting for the end
    let start = format!(
        "POST /api/v1/main/executions/test.http/rev?wait=true&revision=1 HTTP/1.1\r\nhost: {addr}\r\ncontent-type: multipart/form-data; boundary=b\r\n"
    );
    let (status, e) = request(addr, &start, b"--b--\r\n").await;
    assert_eq!((status, &e["flowRevision"]), (200, &Value::from(1)), "{e}");
    let id = e["id"].as_str().expect("id");
    let run = e["taskRunList"][0]["id"].as_str().expect("task run");
    // 2.0's outputs routes, as the migration guide spells them
    let get = |path: String| format!("GET {path} HTTP/1.1\r\nhost: {addr}\r\n");
    let (status, v) = request(addr, &get(format!("/api/v1/main/outputs/{id}/{run}")), b"").await;
    assert_eq!((status, &v["value"]), (200, &Value::from("one")), "revision 1 ran: {v}");
    let (status, v) = request(addr, &get(format!("/api/v1/outputs/{id}")), b"").await;
    assert_eq!((status, &v[0]["taskRunId"]), (200, &Value::from(run)), "{v}");
    let (status, v) = request(addr, &get(format!("/api/v1/outputs/{id}/nope")), b"").await;
    assert_eq!(status, 404, "{v}");
    let bad = format!(
        "POST /api/v1/main/executions/test.http/rev?revision=9 HTTP/1.1\r\nhost: {addr}\r\ncontent-type: multipart/form-data; boundary=b\r\n"
    );
    assert_eq!(request(addr, &bad, b"--b--\r\n").await.0, 404, "no revision 9");
    server.shutdown().await;
}

/// Kestra's JSON leaves out null fields, and clients generated from its
/// spec read what is there: a root task run has no `parentTaskRunId` and
/// (outside a loop) no `value`, a valid flow's validation no
/// `constraints`, an edge from the graph's root no `relationType`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_leave_out_null_fields_as_kestra_does() {
    let (server, _home) = start().await;
    let addr = server.addr();
    let flow = "id: plain\nnamespace: test.http\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n";
    let yaml = |path: &str| format!("POST {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/x-yaml\r\n");
    assert_eq!(request(addr, &yaml("/api/v1/main/flows"), flow.as_bytes()).await.0, 200);
    let (status, v) = request(addr, &yaml("/api/v1/main/flows/validate"), flow.as_bytes()).await;
    assert_eq!(status, 200, "{v}");
    assert!(v[0].get("constraints").is_none() && v[0]["flow"] == "plain", "no constraints for a valid flow: {v}");
    let start = format!(
        "POST /api/v1/main/executions/test.http/plain?wait=true HTTP/1.1\r\nhost: {addr}\r\ncontent-type: multipart/form-data; boundary=b\r\n"
    );
    let (status, e) = request(addr, &start, b"--b--\r\n").await;
    assert_eq!(status, 200, "{e}");
    let id = e["id"].as_str().expect("id");
    let (_, e) = request(addr, &format!("GET /api/v1/main/executions/{id} HTTP/1.1\r\nhost: {addr}\r\n"), b"").await;
    let run = e["taskRunList"][0].as_object().expect("a task run");
    for absent in ["parentTaskRunId", "value", "outputs", "error"] {
        assert!(!run.contains_key(absent), "{absent} left out: {e}");
    }
    assert!(e["taskRunList"][0]["attempts"][0].as_object().is_some_and(|a| a.values().all(|v| !v.is_null())), "{e}");
    assert!(e.as_object().is_some_and(|m| m.values().all(|v| !v.is_null())), "no null field: {e}");
    let (_, g) =
        request(addr, &format!("GET /api/v1/main/flows/test.http/plain/graph HTTP/1.1\r\nhost: {addr}\r\n"), b"").await;
    assert!(g["edges"].as_array().is_some_and(|e| e.iter().any(|x| x["relation"] == serde_json::json!({}))), "{g}");
    server.shutdown().await;
}
