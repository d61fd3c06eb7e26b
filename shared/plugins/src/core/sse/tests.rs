//! Tests of `http.SseRequest` against local servers: events, jq
//! extraction, headers and auth, failures, and every bound.

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;
use crate::core::test_support::{Env, Req, Resp, serve};

fn sse(body: &str) -> Resp {
    Resp::new(200, body.to_string()).header("Content-Type", "text/event-stream")
}

fn handler(r: &Req) -> Resp {
    match r.path.as_str() {
        "/simple" => sse(&(0..5).map(|i| format!("data: Simple event {i}\n\n")).collect::<String>()),
        "/json" => sse("data: {\"message\": \"Hello\", \"id\": 1}\n\ndata: {\"message\": \"World\", \"id\": 2}\n\n"),
        "/nested" => sse("data: {\"data\": {\"value\": 1}}\n\ndata: {\"data\": {\"value\": 2}}\n\n"),
        "/mixed" => sse("data: {\"count\": 1}\n\ndata: Plain text event\n\ndata: {\"count\": 2}\n\ndata: Another\n\n"),
        "/auth" if r.header("x-api-key") == Some("test-key") && r.header("accept") == Some("text/event-stream") => {
            sse("data: {\"status\": \"authorized\"}\n\n")
        }
        "/auth" => Resp::new(401, "Unauthorized"),
        "/echo" => sse(&format!(
            "data: {}\n\n",
            json!({"method": r.method, "auth": r.header("authorization"), "body": String::from_utf8_lossy(&r.body)})
        )),
        _ => Resp::new(404, "no such stream"),
    }
}

#[tokio::test]
async fn collects_events() {
    let base = serve(handler).await;
    let env = Env::new();
    let out = env.run(&DEF, json!({"uri": format!("{base}/simple")})).await.unwrap();
    assert_eq!(out.outputs["size"], json!(5));
    assert_eq!(out.outputs["events"][0], json!({"data": "Simple event 0"}));
    assert_eq!(out.outputs["uri"], json!(format!("{base}/simple")));
    assert!(out.outputs.get("result").is_none());
}

#[tokio::test]
async fn concatenates_jq_values() {
    let base = serve(handler).await;
    let env = Env::new();
    let out =
        env.run(&DEF, json!({"uri": format!("{base}/json"), "concatJqExpression": ".data.message"})).await.unwrap();
    assert_eq!((out.outputs["size"].clone(), out.outputs["result"].clone()), (json!(2), json!("HelloWorld")));
    assert!(out.outputs.get("events").is_none(), "events are not output with a result");
    let out = env
        .run(&DEF, json!({"uri": format!("{base}/nested"), "concatJqExpression": ".data.data.value"}))
        .await
        .unwrap();
    assert_eq!(out.outputs["result"], json!("12"));

    let e = env.run(&DEF, json!({"uri": format!("{base}/mixed"), "concatJqExpression": ".data.count"})).await;
    let e = e.unwrap_err().to_string();
    assert!(
        e.contains("Failed to resolve JQ expression '.data.count' and value '{\"data\":\"Plain text event\"}'"),
        "{e}"
    );
    let raw = json!({"uri": format!("{base}/mixed"), "concatJqExpression": ".data.count", "failedOnMissingJq": false});
    let out = env.run(&DEF, raw).await.unwrap();
    assert_eq!((out.outputs["size"].clone(), out.outputs["result"].clone()), (json!(4), json!("12")));

    let e = env.run(&DEF, json!({"uri": format!("{base}/json"), "concatJqExpression": ".data"})).await.unwrap_err();
    assert!(e.to_string().contains("Expected text value from JQ expression but got: OBJECT"), "{e}");
    let e = env.run(&DEF, json!({"uri": format!("{base}/json"), "concatJqExpression": "$.message"})).await;
    assert!(e.unwrap_err().to_string().contains("'concatJqExpression'"));
}

#[tokio::test]
async fn sends_headers_bodies_and_auth_and_fails_on_errors() {
    let base = serve(handler).await;
    let env = Env::new();
    let out = env.run(&DEF, json!({"uri": format!("{base}/auth"), "headers": {"X-API-Key": "test-key"}})).await;
    assert_eq!(out.unwrap().outputs["events"][0]["data"]["status"], json!("authorized"));
    let raw = json!({"uri": format!("{base}/echo"), "method": "POST", "body": {"q": 1},
        "options": {"auth": {"type": "BEARER", "token": "tok"}}});
    let out = env.run(&DEF, raw).await.unwrap();
    assert_eq!(out.outputs["events"][0]["data"], json!({"method": "POST", "auth": "Bearer tok", "body": "{\"q\":1}"}));

    let e = env.run(&DEF, json!({"uri": format!("{base}/auth")})).await.unwrap_err().to_string();
    assert!(e.contains("'401'") && e.contains("Unauthorized"), "{e}");
    let out = env.run(&DEF, json!({"uri": format!("{base}/nope"), "options": {"allowFailed": true}})).await.unwrap();
    assert_eq!((out.outputs["size"].clone(), out.outputs["events"].clone()), (json!(0), json!([])));
}

/// A server that writes `parts` with `pause` between them and then holds
/// the connection open for `hold`.
async fn slow_server(parts: Vec<String>, pause: Duration, hold: Duration) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let parts = parts.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf).await;
                let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n";
                if sock.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                for p in parts {
                    if sock.write_all(p.as_bytes()).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(pause).await;
                }
                tokio::time::sleep(hold).await;
            });
        }
    });
    format!("http://{addr}/")
}

async fn run_with(env: &Env, raw: Value, limits: Limits) -> Result<TaskOutput, TaskError> {
    let cx = env.cx(&raw);
    let mut task = parse(raw.as_object().unwrap()).unwrap();
    task.limits = limits;
    task.run(&cx).await
}

#[tokio::test]
async fn every_bound_is_named() {
    let env = Env::new();
    let events = |n: usize| (0..n).map(|i| format!("data: {i}\n\n")).collect::<Vec<_>>();
    let base = slow_server(events(3), Duration::from_millis(5), Duration::ZERO).await;
    let small = |f: fn(&mut Limits)| {
        let mut l = LIMITS;
        f(&mut l);
        l
    };
    let raw = json!({"uri": base});
    let out = run_with(&env, raw.clone(), LIMITS).await.unwrap();
    assert_eq!(out.outputs["size"], json!(3), "a stream read until the server closes it");
    let e = run_with(&env, raw.clone(), small(|l| l.events = 2)).await.unwrap_err().to_string();
    assert!(e.contains("more than 2 events"), "{e}");
    let e = run_with(&env, raw.clone(), small(|l| l.stream_bytes = 10)).await.unwrap_err().to_string();
    assert!(e.contains("larger than 10 bytes"), "{e}");
    let e = run_with(&env, raw.clone(), small(|l| l.event_bytes = 4)).await.unwrap_err().to_string();
    assert!(e.contains("larger than 4 bytes, the most Baton keeps per event"), "{e}");

    // a stream that stays open: the duration bound, then the idle timeout
    let open = slow_server(events(1), Duration::ZERO, Duration::from_secs(30)).await;
    let e = run_with(&env, json!({"uri": open}), small(|l| l.duration = Duration::from_millis(300)))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("still open after 0s") || e.contains("still open after"), "{e}");
    let raw = json!({"uri": open, "options": {"timeout": {"readIdleTimeout": "PT0.3S"}}});
    let e = run_with(&env, raw, LIMITS).await.unwrap_err().to_string();
    assert!(e.contains("no data for 0.3s (options.timeout.readIdleTimeout)"), "{e}");
}
