//! Airbyte (`io.kestra.plugin.airbyte.*`) in flows, against a local server
//! answering as a self-managed Airbyte's configuration API v1 and Airbyte
//! Cloud's public API v1 do (`BATON_AIRBYTE_CLOUD_BASE_URL` points the
//! cloud tasks at it): a sync followed until its job ends — a transient
//! 503 retried, each attempt's log lines logged once at their level, the
//! stream metrics — basic auth, application credentials exchanged for a
//! token, a sync already running (failing or not), a failed job failing
//! the task, `CheckStatus`, and the cloud `Sync` and `Reset`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use shared::model::StateType;
use shared::plugins::PluginConfig;

use crate::support::{harness_with_plugins, runs};

#[derive(Default)]
struct Seen {
    /// (path, Authorization) of each call.
    calls: Vec<(String, String)>,
    polls: HashMap<u64, usize>,
}

type Shared = Arc<Mutex<Seen>>;

fn note(s: &Shared, path: &str, h: &HeaderMap) {
    let auth = h.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    s.lock().unwrap().calls.push((path.to_string(), auth));
}

async fn token(State(s): State<Shared>, h: HeaderMap, axum::Json(b): axum::Json<Value>) -> Response {
    note(&s, "token", &h);
    let ok = b["client_id"] == "app" && b["client_secret"] == "shh" && b["grant-type"] == "client_credentials";
    if !ok {
        return (StatusCode::UNAUTHORIZED, "bad client").into_response();
    }
    axum::Json(json!({"access_token": "app-token"})).into_response()
}

async fn sync(State(s): State<Shared>, h: HeaderMap, axum::Json(b): axum::Json<Value>) -> Response {
    note(&s, "sync", &h);
    match b["connectionId"].as_str() {
        Some("busy") => (StatusCode::CONFLICT, r#"{"message":"A sync is already running"}"#).into_response(),
        Some("failing") => axum::Json(json!({"job": {"id": 43, "status": "running"}, "attempts": []})).into_response(),
        _ => axum::Json(json!({"job": {"id": 42, "status": "running"}, "attempts": []})).into_response(),
    }
}

async fn job(State(s): State<Shared>, h: HeaderMap, axum::Json(b): axum::Json<Value>) -> Response {
    note(&s, "jobs/get", &h);
    let id = b["id"].as_u64().unwrap_or(0);
    let n = {
        let mut seen = s.lock().unwrap();
        let n = seen.polls.entry(id).or_default();
        *n += 1;
        *n
    };
    let logs = |lines: &[&str]| json!({"logLines": lines});
    let answer = match (id, n) {
        (42, 1) => return (StatusCode::SERVICE_UNAVAILABLE, "busy").into_response(),
        (42, 2) => json!({"job": {"id": 42, "status": "running"},
            "attempts": [{"attempt": {"id": 0}, "logs": logs(&["line one", "2026 ERROR[worker] broke"])}]}),
        (42, _) => json!({"job": {"id": 42, "status": "succeeded"}, "attempts": [{
            "attempt": {"id": 0, "streamStats": [{"streamName": "users",
                "stats": {"recordsCommitted": 10, "recordsEmitted": 11, "bytesEmitted": 100, "stateMessagesEmitted": 1}}]},
            "logs": logs(&["line one", "2026 ERROR[worker] broke", "line three"])}]}),
        _ => json!({"job": {"id": id, "status": "failed"}, "attempts": [{
            "attempt": {"id": 0, "failureSummary": {"failures": [{"externalMessage": "source down"}]}},
            "logs": logs(&[])}]}),
    };
    axum::Json(answer).into_response()
}

async fn cloud_create(State(s): State<Shared>, h: HeaderMap, axum::Json(b): axum::Json<Value>) -> Response {
    note(&s, "cloud create", &h);
    axum::Json(json!({"jobId": 9, "status": "pending", "jobType": b["jobType"], "startTime": "2026-12-02T10:00:00Z",
        "connectionId": b["connectionId"]}))
    .into_response()
}

async fn cloud_job(State(s): State<Shared>, h: HeaderMap, Path(id): Path<u64>) -> Response {
    note(&s, "cloud job", &h);
    let n = {
        let mut seen = s.lock().unwrap();
        let n = seen.polls.entry(1000 + id).or_default();
        *n += 1;
        *n
    };
    let status = if n == 1 { "running" } else { "succeeded" };
    axum::Json(json!({"jobId": id, "status": status, "jobType": "sync", "startTime": "2026-12-02T10:00:00Z",
        "lastUpdatedAt": "2026-12-02T10:01:02Z", "duration": "PT1M2S", "bytesSynced": 2048, "rowsSynced": 20,
        "connectionId": "c"}))
    .into_response()
}

async fn fake() -> (String, Shared) {
    let seen: Shared = Arc::default();
    let app = Router::new()
        .route("/api/v1/applications/token", post(token))
        .route("/api/v1/connections/sync/", post(sync))
        .route("/api/v1/jobs/get/", post(job))
        .route("/v1/applications/token", post(token))
        .route("/v1/jobs", post(cloud_create))
        .route("/v1/jobs/{id}", get(cloud_job))
        .with_state(seen.clone());
    (crate::support::serve_app(app).await, seen)
}

fn flow(id: &str, task: &str) -> String {
    format!("id: {id}\nnamespace: company.team\ntasks:\n  - id: t\n{task}")
}

fn out(e: &shared::model::Execution) -> serde_json::Map<String, Value> {
    runs(e, "t").first().and_then(|t| t.outputs.clone()).map(|o| (*o).clone()).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_connection_sync_is_followed_until_its_job_ends() {
    let (base, seen) = fake().await;
    let h = harness_with_plugins(PluginConfig::default());
    let sync = |connection: &str, extra: &str| {
        format!(
            "    type: io.kestra.plugin.airbyte.connections.Sync\n    url: {base}\n    connectionId: {connection}\n    \
             username: admin\n    password: secret\n    pollFrequency: PT0.2S\n{extra}"
        )
    };

    let e = h.run(&flow("ok", &sync("users", "")), json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", h.logs(&e.id).await);
    assert_eq!(out(&e), *json!({"jobId": 42, "alreadyRunning": false}).as_object().unwrap());
    let logs = h.logs(&e.id).await;
    for line in ["line one", "ERROR[worker] broke", "line three"] {
        assert_eq!(logs.iter().filter(|l| l.contains(line)).count(), 1, "{line} once: {logs:?}");
    }
    assert!(seen.lock().unwrap().calls.iter().all(|(_, auth)| auth.starts_with("Basic ")), "basic auth");
    assert_eq!(seen.lock().unwrap().polls[&42], 3, "a 503 retried, then polled until it ended");

    let e = h.run(&flow("busy", &sync("busy", "")), json!({})).await;
    assert_eq!(e.state.current, StateType::Failed);
    assert!(h.logs(&e.id).await.join("\n").contains("A sync is already running for connection busy"));
    let e = h.run(&flow("busy_ok", &sync("busy", "    failOnActiveSync: false\n")), json!({})).await;
    assert_eq!(e.state.current, StateType::Success);
    assert_eq!(out(&e), *json!({"alreadyRunning": true}).as_object().unwrap());

    let e = h.run(&flow("failing", &sync("failing", "")), json!({})).await;
    assert_eq!(e.state.current, StateType::Failed);
    let logs = h.logs(&e.id).await.join("\n");
    assert!(logs.contains("Failed run with status 'failed' after 1 attempt(s)"), "{logs}");
    assert!(logs.contains("Failure with reason") && logs.contains("source down"), "{logs}");

    let check = format!(
        "    type: io.kestra.plugin.airbyte.connections.CheckStatus\n    url: {base}\n    jobId: \"42\"\n    \
         applicationCredentials:\n      clientId: app\n      clientSecret: shh\n"
    );
    let e = h.run(&flow("check", &check), json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", h.logs(&e.id).await);
    assert_eq!(out(&e)["finalJobStatus"], json!("succeeded"));
    let calls = seen.lock().unwrap().calls.clone();
    let last = calls.last().expect("calls");
    assert_eq!(last, &("jobs/get".to_string(), "Bearer app-token".to_string()), "the application's token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn airbyte_cloud_sync_and_reset_jobs() {
    let (base, seen) = fake().await;
    let h = harness_with_plugins(PluginConfig { airbyte_cloud_url: Some(format!("{base}/v1")), ..Default::default() });
    let task = format!(
        "    type: io.kestra.plugin.airbyte.cloud.jobs.Sync\n    connectionId: c\n    clientId: app\n    \
         clientSecret: shh\n    tokenURL: {base}/v1/applications/token\n    pollFrequency: PT0.2S\n"
    );
    let e = h.run(&flow("cloud", &task), json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", h.logs(&e.id).await);
    let job = out(&e)["job"].clone();
    assert_eq!(
        job,
        json!({"jobId": 9, "status": "succeeded", "jobType": "sync", "startTime": "2026-12-02T10:00:00Z",
            "lastUpdatedAt": "2026-12-02T10:01:02Z", "duration": "PT1M2S", "bytesSynced": 2048, "rowsSynced": 20})
    );
    assert!(seen.lock().unwrap().calls.iter().any(|c| c == &("cloud job".to_string(), "Bearer app-token".to_string())));

    let reset =
        "    type: io.kestra.plugin.airbyte.cloud.jobs.Reset\n    connectionId: c\n    token: t\n    wait: false\n";
    let e = h.run(&flow("reset", reset), json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", h.logs(&e.id).await);
    assert_eq!(
        out(&e)["job"],
        json!({"jobId": 9, "status": "pending", "jobType": "reset", "startTime": "2026-12-02T10:00:00Z"})
    );
}
