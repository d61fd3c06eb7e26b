//! `baton migrate` proved by running, continued (see `migrate`): the seed
//! flows that need no outside service run beside their migrations with
//! the same task runs, flow outputs and log lines (levels included, so an
//! inlined pluginDefault that sets a level counts); and the `legacy`
//! rule's rewrites (Pause `delay`, HTTP `options` basic auth and timeout,
//! a script's `runner`) give the same results as the 1.x properties.

use std::path::Path;

use serde_json::{Value, json};
use shared::migrate::migrate;
use shared::migrate::verify::validate_v2;
use shared::model::{Execution, StateType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{Harness, harness, runs};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// A log line without what differs from run to run: times and pids.
fn volatile(line: &str) -> String {
    static TIMES: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?( ?(Z|UTC|[+-]\d\d:?\d\d))?|pid \d+")
            .expect("static regex")
    });
    TIMES.replace_all(line, "<volatile>").into_owned()
}

/// A run reduced to what must not change with the dialect.
async fn digest(h: &Harness, e: &Execution) -> (StateType, Vec<(String, String, StateType)>, Value, Vec<String>) {
    let mut trs: Vec<_> = e
        .task_run_list
        .iter()
        .map(|t| (t.task_id.clone(), t.value.clone().unwrap_or_default(), t.state.current))
        .collect();
    trs.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    let outputs = serde_json::to_value(&e.outputs).unwrap_or(Value::Null);
    let mut logs: Vec<String> = h
        .embedded
        .engine
        .state
        .logs(&e.id)
        .await
        .expect("logs")
        .into_iter()
        .map(|l| format!("{} {}", l.level, volatile(&l.message.replace(&e.id, "<id>"))))
        .collect();
    logs.sort();
    (e.state.current, trs, outputs, logs)
}

/// Migrates `src` (checking it validates as 2.0) and runs both, each in
/// its own harness, with `inputs`; returns the two digests.
async fn run_beside(
    name: &str,
    src: &str,
    inputs: Value,
) -> Vec<(StateType, Vec<(String, String, StateType)>, Value, Vec<String>)> {
    let m = migrate(src).unwrap_or_else(|e| panic!("{name}: {e}"));
    let registry = shared::plugins::Registry::builtin();
    let renderer = shared::template::Renderer::new();
    let bad = validate_v2(name, &m.output, &registry, &renderer);
    assert!(bad.is_empty(), "{name}: not valid as 2.0: {bad:?}\n{}", m.output);
    let mut out = Vec::new();
    for text in [src, m.output.as_str()] {
        let h = harness();
        let e = h.run(text, inputs.clone()).await;
        out.push(digest(&h, &e).await);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_seed_flows_run_beside_their_migrations() {
    let seeds = [
        ("examples/taxi_scheduled.yaml", json!({"taxi": "yellow"})),
        ("tests/fixtures/flows/valid/01_hello_world.yaml", json!({"name": "Baton"})),
        ("tests/fixtures/flows/scheduled/daily_report.yaml", json!({})),
        ("tests/fixtures/flows/scheduled/last_day.yaml", json!({})),
        ("tests/fixtures/flows/scheduled/paused.yaml", json!({})),
    ];
    let mut changed = 0;
    for (path, inputs) in seeds {
        // the 15 s Sleep of the hello world is shortened in both
        let src = std::fs::read_to_string(Path::new(ROOT).join(path)).expect(path).replace("PT15S", "PT1S");
        if migrate(&src).expect(path).output != src {
            changed += 1;
        }
        let d = run_beside(path, &src, inputs).await;
        assert_eq!(d[0].0, StateType::Success, "{path}: {:?}", d[0]);
        assert_eq!(d[0], d[1], "{path}: the migrated flow ran otherwise");
        assert!(!d[0].3.is_empty(), "{path}: no log lines to compare");
    }
    assert!(changed >= 3, "the migration changed only {changed} of these seeds");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hello_worlds_inlined_log_level_is_kept() {
    let path = "tests/fixtures/flows/valid/01_hello_world.yaml";
    let src = std::fs::read_to_string(Path::new(ROOT).join(path)).expect(path).replace("PT15S", "PT1S");
    let d = run_beside(path, &src, json!({})).await;
    assert_eq!(d[0], d[1]);
    assert!(d[1].3.contains(&"ERROR Hello, Will!".to_string()), "{:?}", d[1].3);
}

/// Answers every request with its Authorization header as the body.
async fn auth_echo() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else { break };
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&buf).to_string();
                let auth = head
                    .lines()
                    .find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("authorization")))
                    .map(|(_, v)| v.trim().to_string())
                    .unwrap_or_else(|| "none".into());
                let resp =
                    format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{auth}", auth.len());
                let _ = sock.write_all(resp.as_bytes()).await;
            });
        }
    });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_properties_run_beside_their_rewrites() {
    let base = auth_echo().await;
    let src = format!(
        r#"id: legacy_props
namespace: test.migrate
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
    delay: PT1S
  - id: call
    type: io.kestra.plugin.core.http.Request
    uri: {base}/x
    options:
      basicAuthUser: alice
      basicAuthPassword: s3cret
      readTimeout: PT30S
      maxContentLength: 1000
  - id: shell
    type: io.kestra.plugin.scripts.shell.Commands
    runner: PROCESS
    commands:
      - echo "from the shell"
outputs:
  - id: auth
    type: STRING
    value: "{{{{ outputs.call.body }}}}"
"#
    );
    let m = migrate(&src).unwrap();
    for new in [
        "pauseDuration: PT1S",
        "auth: {type: BASIC",
        "timeout: {readIdleTimeout",
        "taskRunner: {type: io.kestra.plugin.core.runner.Process}",
    ] {
        assert!(m.output.contains(new), "{new} missing:\n{}", m.output);
    }
    for old in ["delay:", "basicAuthUser", "readTimeout", "maxContentLength", "runner: PROCESS"] {
        assert!(!m.output.contains(old), "{old} left:\n{}", m.output);
    }
    let d = run_beside("legacy_props", &src, json!({})).await;
    assert_eq!(d[0].0, StateType::Success, "{:?}", d[0]);
    assert_eq!(d[0], d[1]);
    // Basic alice:s3cret, the same on both sides
    assert_eq!(d[0].2["auth"], "Basic YWxpY2U6czNjcmV0", "{:?}", d[0].2);
    assert!(d[0].3.iter().any(|l| l.contains("from the shell")), "{:?}", d[0].3);
    let h = harness();
    let e = h.run(&m.output, json!({})).await;
    assert_eq!(runs(&e, "wait")[0].state.current, StateType::Success);
}
