//! dbt Cloud's `TriggerRun` and `CheckStatus` in flows against a local fake
//! of dbt Cloud's API v2 (`baseUrl` pointed at it): the trigger's request
//! (path, `Authorization`, Kestra's body), a 503 retried, the run polled
//! until it ends with its steps' new log lines, the artifacts stored (a
//! missing manifest left out), a failed run failing with its status and
//! message, `wait: false`, and `maxDuration` bounding the wait.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::IntoResponse;
use serde_json::{Value, json};
use shared::model::StateType;

use crate::support::{harness, runs};

/// `METHOD /path?query`, `Authorization`, JSON body of one request.
type Call = (String, Option<String>, Value);

#[derive(Clone, Default)]
struct Fake {
    /// Each request, in order.
    calls: Arc<Mutex<Vec<Call>>>,
    /// Polls of each run so far.
    polls: Arc<Mutex<HashMap<u64, u32>>>,
    /// Triggers refused with a 503 before one is accepted.
    unavailable: Arc<Mutex<u32>>,
}

/// Run 7 ends in success after two polls; run 8 in error; run 9 never.
fn run(id: u64, poll: u32) -> Value {
    let (status, human, logs) = match (id, poll) {
        (7, 0) => (3, "Running", "Running with dbt=1.8\n"),
        (7, _) => (10, "Success", "Running with dbt=1.8\n1 of 1 OK created view model orders\n"),
        (8, _) => (20, "Error", "Database Error in model orders\n"),
        _ => (1, "Queued", ""),
    };
    json!({"data": {"id": id, "status": status, "status_humanized": human, "duration_humanized": "1 minute",
        "status_message": if id == 8 { json!("relation \"raw\" does not exist") } else { Value::Null },
        "run_steps": [{"id": 100 + id, "name": "Invoke dbt with `dbt build`", "logs": logs}]}})
}

async fn handle(
    State(fake): State<Fake>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: String,
) -> axum::response::Response {
    let line = format!("{method} {}", uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"));
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_string);
    fake.calls.lock().unwrap().push((line, auth, serde_json::from_str(&body).unwrap_or(Value::Null)));
    let ok = |v: Value| (StatusCode::OK, axum::Json(v)).into_response();
    let path = uri.path();
    let run_of = |p: &str| p.trim_start_matches("/api/v2/accounts/12/runs/").split('/').next()?.parse::<u64>().ok();
    if path == "/api/v2/accounts/12/jobs/42/run/" && method == Method::POST {
        let mut left = fake.unavailable.lock().unwrap();
        if *left > 0 {
            *left -= 1;
            return (StatusCode::SERVICE_UNAVAILABLE, "busy").into_response();
        }
        return ok(json!({"data": {"id": 7, "status": 1, "status_humanized": "Queued"}}));
    }
    if path.ends_with("/artifacts/run_results.json") {
        return ok(json!({"results": [{"unique_id": "model.shop.orders", "status": "success",
            "execution_time": 0.25, "adapter_response": {"rows_affected": 4}}]}));
    }
    if path.ends_with("/artifacts/manifest.json") {
        return (StatusCode::NOT_FOUND, axum::Json(json!({"status": {"code": 404}}))).into_response();
    }
    if let Some(id) = run_of(path).filter(|_| method == Method::GET) {
        let mut polls = fake.polls.lock().unwrap();
        let n = polls.entry(id).or_default();
        let answer = run(id, *n);
        *n += 1;
        return ok(answer);
    }
    (StatusCode::NOT_FOUND, "no such route").into_response()
}

async fn dbt_cloud(unavailable: u32) -> (String, Fake) {
    let fake = Fake { unavailable: Arc::new(Mutex::new(unavailable)), ..Fake::default() };
    let app = Router::new().fallback(handle).with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (base, fake)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trigger_run_polls_the_run_to_its_end_and_stores_its_artifacts() {
    let (base, fake) = dbt_cloud(1).await;
    let h = harness();
    let yaml = r#"
id: dbt_cloud
namespace: company.team
tasks:
  - id: trigger
    type: io.kestra.plugin.dbt.cloud.TriggerRun
    baseUrl: BASE
    accountId: "12"
    token: dbt-token
    jobId: "42"
    gitBranch: main
    threadsOverride: "4"
    stepsOverride: [dbt build]
    pollFrequency: PT0.2S
    initialDelayMs: 50
  - id: later
    type: io.kestra.plugin.dbt.cloud.TriggerRun
    baseUrl: BASE
    accountId: 12
    token: dbt-token
    jobId: 42
    wait: false
"#
    .replace("BASE", &base);
    let started = std::time::Instant::now();
    let e = h.run(&yaml, json!({})).await;
    let took = started.elapsed();
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    let out = runs(&e, "trigger")[0].outputs.clone().expect("outputs");
    assert_eq!(out["runId"], 7);
    let results = out["runResults"].as_str().expect("runResults");
    let text: Value = serde_json::from_slice(&h.read_storage(results).await).unwrap();
    assert_eq!(text["results"][0]["unique_id"], "model.shop.orders");
    assert!(out.get("manifest").is_none(), "no manifest (404): left out: {out:?}");
    let later = runs(&e, "later")[0].outputs.clone().expect("outputs");
    assert_eq!(later.get("runId"), Some(&json!(7)));
    assert!(later.get("runResults").is_none(), "wait: false: the run ID only: {later:?}");

    let calls = fake.calls.lock().unwrap().clone();
    let (line, auth, body) = &calls[1];
    assert_eq!(line, "POST /api/v2/accounts/12/jobs/42/run/", "retried after the 503: {calls:?}");
    assert_eq!(auth.as_deref(), Some("Bearer dbt-token"));
    assert_eq!(
        body,
        &json!({"cause": "Triggered by Kestra.", "git_branch": "main", "threads_override": "4",
            "steps_override": ["dbt build"]})
    );
    let polls: Vec<&String> = calls.iter().map(|c| &c.0).filter(|l| l.contains("/runs/7/?")).collect();
    assert!(polls.len() >= 3, "two polls, then the debug read: {polls:?}");
    assert!(polls.last().unwrap().contains("debug_logs"), "{polls:?}");
    let logs = h.logs(&e.id).await;
    let has = |s: &str| logs.iter().any(|l| l.contains(s));
    assert!(has("503") && has("retrying in 50 ms"), "{logs:?}");
    assert!(has("[Step Invoke dbt with `dbt build`]: Running with dbt=1.8"), "{logs:?}");
    let created = logs.iter().filter(|l| l.ends_with("1 of 1 OK created view model orders")).count();
    assert_eq!(created, 1, "each new log line once: {logs:?}");
    assert!(has("model.shop.orders => success in 0.25s") && has("1 node(s), 4 row(s) affected"), "{logs:?}");
    eprintln!("TriggerRun over the fake dbt Cloud (a retry, 2 polls at 200 ms) took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_status_fails_a_failed_run_and_bounds_its_wait() {
    let (base, _fake) = dbt_cloud(0).await;
    let h = harness();
    let check = |run: u64, extra: &str| {
        format!(
            "id: check_{run}\nnamespace: company.team\ntasks:\n  - id: check\n    type: io.kestra.plugin.dbt.cloud.CheckStatus\n    \
             baseUrl: {base}\n    accountId: \"12\"\n    token: t\n    runId: \"{run}\"\n    pollFrequency: PT0.1S\n{extra}"
        )
    };
    let e = h.run(&check(8, ""), json!({})).await;
    assert_eq!(e.state.current, StateType::Failed);
    let logs = h.logs(&e.id).await;
    assert!(
        logs.iter()
            .any(|l| l.contains("Failed run with status 'Error' after 1 minute: relation \"raw\" does not exist")),
        "{logs:?}"
    );
    assert!(logs.iter().any(|l| l.contains("Database Error in model orders")), "the step's logs: {logs:?}");

    let started = std::time::Instant::now();
    let e = h.run(&check(9, "    maxDuration: PT0.5S\n"), json!({})).await;
    assert_eq!(e.state.current, StateType::Failed);
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    let logs = h.logs(&e.id).await;
    assert!(logs.iter().any(|l| l.contains("dbt Cloud run 9 did not end within 0.5 s (maxDuration)")), "{logs:?}");
}

#[test]
fn properties_baton_does_not_carry_out_are_refused_by_name() {
    let registry = shared::plugins::Registry::builtin();
    let renderer = shared::template::Renderer::new();
    let flow = r#"
id: bad
namespace: company.team
tasks:
  - id: trigger
    type: io.kestra.plugin.dbt.cloud.TriggerRun
    accountId: "1"
    token: t
    jobId: "2"
    options:
      readTimeout: PT1M
  - id: check
    type: io.kestra.plugin.dbt.cloud.CheckStatus
    accountId: "1"
    token: t
    runId: "3"
    pollFrequency: PT0.001S
"#;
    let (_, diags) = shared::validate::validate_source("f.yaml", flow, &registry, &renderer);
    let all = diags.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n");
    for needle in [
        "property 'options' of io.kestra.plugin.dbt.cloud.TriggerRun",
        "property 'pollFrequency' of io.kestra.plugin.dbt.cloud.CheckStatus",
    ] {
        assert!(all.contains(needle), "{needle}: {all}");
    }
}
