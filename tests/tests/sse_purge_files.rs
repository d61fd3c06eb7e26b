//! `http.SseRequest` and `namespace.PurgeFiles` on the embedded runtime:
//! a flow reads a local Server-Sent Events stream written slowly, chunk by
//! chunk (events, and a jq result logged by the next task), and a flow
//! purges old revisions of namespace files across a namespace tree; the
//! validator refuses a purge behavior Kestra refuses.

use serde_json::{Value, json};
use shared::backend::nsfiles::namespace_files;
use shared::model::StateType;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::support::{Harness, harness, runs};

fn output(e: &shared::model::Execution, task: &str, key: &str) -> Value {
    runs(e, task)[0].outputs.as_ref().and_then(|o| o.get(key)).cloned().unwrap_or(Value::Null)
}

/// An event stream on 127.0.0.1: each event written apart, 20 ms between,
/// split mid-line, then the connection closed.
async fn sse_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let n = sock.read(&mut buf).await.unwrap_or(0);
                let authorized = String::from_utf8_lossy(&buf[..n]).to_ascii_lowercase().contains("x-api-key: k1");
                let head = if authorized {
                    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
                } else {
                    "HTTP/1.1 403 Forbidden\r\nContent-Length: 6\r\nConnection: close\r\n\r\ndenied"
                };
                if sock.write_all(head.as_bytes()).await.is_err() || !authorized {
                    return;
                }
                let parts = [
                    ": keep-alive\n\n",
                    "event: greeting\nid: 1\ndata: {\"message\": \"Hel",
                    "lo\"}\n\n",
                    "data: {\"message\": \" world\"}\n\n",
                    "data: not json\n\n",
                ];
                for p in parts {
                    if sock.write_all(p.as_bytes()).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
            });
        }
    });
    format!("http://{addr}/events")
}

fn sse_flow(uri: &str, extra: &str) -> String {
    format!(
        r#"
id: sse
namespace: company.team
tasks:
  - id: sse
    type: io.kestra.plugin.core.http.SseRequest
    uri: "{uri}"
    headers:
      X-API-Key: k1
{extra}
  - id: show
    type: io.kestra.plugin.core.log.Log
    message: "size={{{{ outputs.sse.size }}}} result={{{{ outputs.sse.result | default('none') }}}}"
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_request_reads_a_slow_stream_into_events_or_a_jq_result() {
    let h = harness();
    let uri = sse_server().await;
    let e = h.run(&sse_flow(&uri, ""), json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?} {:?}", e.error, h.logs(&e.id).await);
    assert_eq!(output(&e, "sse", "size"), json!(3), "the keep-alive is no event");
    assert_eq!(
        output(&e, "sse", "events"),
        json!([
            {"data": {"message": "Hello"}, "id": "1", "name": "greeting"},
            {"data": {"message": " world"}},
            {"data": "not json"}
        ])
    );

    let jq = "    concatJqExpression: .data.message\n    failedOnMissingJq: false";
    let e = h.run(&sse_flow(&uri, jq), json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?} {:?}", e.error, h.logs(&e.id).await);
    assert!(h.logs(&e.id).await.iter().any(|l| l == "size=3 result=Hello world"), "{:?}", h.logs(&e.id).await);

    let jq = "    concatJqExpression: .data.message";
    let e = h.run(&sse_flow(&uri, jq), json!({})).await;
    assert_eq!(e.state.current, StateType::Failed, "the text event has no .message");
    let said = format!("{:?} {:?}", h.logs(&e.id).await, e.error);
    assert!(said.contains("Failed to resolve JQ expression '.data.message'"), "{said}");

    let e = h.run(&sse_flow(&uri, "").replace("X-API-Key: k1", "X-API-Key: nope"), json!({})).await;
    assert_eq!(e.state.current, StateType::Failed);
    let said = format!("{:?} {:?}", h.logs(&e.id).await, e.error);
    assert!(said.contains("'403'") && said.contains("denied"), "{said}");
}

async fn seed(h: &Harness, ns: &str, path: &str, writes: usize) {
    let files = namespace_files(h.embedded.engine.storage.clone());
    for i in 0..writes {
        files.put(ns, path, Box::pin(std::io::Cursor::new(format!("v{i}").into_bytes()))).await.expect("put");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_files_keeps_the_newest_revisions_of_matching_files() {
    let h = harness();
    let files = namespace_files(h.embedded.engine.storage.clone());
    seed(&h, "acme", "q/a.sql", 4).await;
    seed(&h, "acme.team", "b.sql", 3).await;
    seed(&h, "acme.team", "notes.txt", 3).await;
    seed(&h, "elsewhere", "c.sql", 3).await;
    let flow = r#"
id: purge
namespace: system
tasks:
  - id: purge
    type: io.kestra.plugin.core.namespace.PurgeFiles
    namespaces:
      - acme
    filePattern: "*.sql"
    behavior:
      type: version
      keepAmount: 2
  - id: show
    type: io.kestra.plugin.core.log.Log
    message: "purged {{ outputs.purge.size }}"
"#;
    let e = h.run(flow, json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?} {:?}", e.error, h.logs(&e.id).await);
    assert_eq!(output(&e, "purge", "size"), json!(3), "q/a.sql 2, b.sql 1");
    assert!(h.logs(&e.id).await.iter().any(|l| l == "purged 3"));
    assert_eq!(files.revisions("acme", "q/a.sql").await.expect("revisions"), [3, 4]);
    assert_eq!(files.revisions("acme.team", "b.sql").await.expect("revisions"), [2, 3]);
    assert_eq!(files.revisions("acme.team", "notes.txt").await.expect("revisions"), [1, 2, 3]);
    assert_eq!(files.revisions("elsewhere", "c.sql").await.expect("revisions"), [1, 2, 3]);

    // the default behavior keeps the last revision, here of every namespace
    let e = h
        .run(&flow.replace("    namespaces:\n      - acme\n", "").replace("keepAmount: 2", "keepAmount: 1"), json!({}))
        .await;
    assert_eq!(e.state.current, StateType::Success, "{:?} {:?}", e.error, h.logs(&e.id).await);
    assert_eq!(output(&e, "purge", "size"), json!(4), "q/a.sql 1, b.sql 1, c.sql 2");
    assert_eq!(files.revisions("elsewhere", "c.sql").await.expect("revisions"), [3]);
}

#[test]
fn a_purge_behavior_with_both_bounds_is_refused() {
    let registry = shared::plugins::Registry::builtin();
    let renderer = shared::template::Renderer::new();
    let src = r#"
id: bad
namespace: system
tasks:
  - id: purge
    type: io.kestra.plugin.core.namespace.PurgeFiles
    behavior:
      type: version
      keepAmount: 1
      before: "2025-01-01T00:00:00Z"
  - id: sse
    type: io.kestra.plugin.core.http.SseRequest
    uri: http://127.0.0.1:1/events
    maxEvents: 10
"#;
    let (_, d) = shared::validate::validate_source("bad.yaml", src, &registry, &renderer);
    let said: Vec<&str> = d.iter().map(|d| d.message.as_str()).collect();
    assert!(said.iter().any(|m| m.contains("Cannot set both 'before' and 'keepAmount'")), "{said:?}");
    assert!(said.iter().any(|m| m.contains("unknown property 'maxEvents'")), "{said:?}");
}
