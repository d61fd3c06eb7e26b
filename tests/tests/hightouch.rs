//! Hightouch (`io.kestra.plugin.hightouch.Sync`) in flows, against a local
//! server answering as Hightouch's API v1 does (`BATON_HIGHTOUCH_BASE_URL`
//! points the task at it): the calls Kestra's task makes (the sync, its
//! trigger with `fullResync`, the run polled by id with the bearer token),
//! a run that ends in success (its metadata and status changes), one that
//! fails (its error in the task's), `wait: false`, and `maxDuration`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use shared::model::StateType;
use shared::plugins::PluginConfig;

use crate::support::{harness_with_plugins, runs};

/// What the fake saw: each call (`GET /api/v1/syncs/1`…) and the trigger bodies.
#[derive(Default)]
struct Seen {
    calls: Vec<String>,
    bodies: Vec<Value>,
    polls: HashMap<u64, usize>,
}

type Shared = Arc<Mutex<Seen>>;

fn authorized(h: &HeaderMap) -> bool {
    h.get("authorization").and_then(|v| v.to_str().ok()) == Some("Bearer ht-token")
}

async fn sync(State(s): State<Shared>, Path(id): Path<u64>, h: HeaderMap) -> Response {
    s.lock().unwrap().calls.push(format!("GET /api/v1/syncs/{id}"));
    if !authorized(&h) {
        return (StatusCode::UNAUTHORIZED, "no token").into_response();
    }
    axum::Json(json!({"id": id, "slug": format!("sync-{id}"), "status": "success"})).into_response()
}

async fn trigger(State(s): State<Shared>, Path(id): Path<u64>, body: String) -> Response {
    let mut seen = s.lock().unwrap();
    seen.calls.push(format!("POST /api/v1/syncs/{id}/trigger"));
    seen.bodies.push(serde_json::from_str(&body).unwrap_or(Value::Null));
    axum::Json(json!({"id": 7000 + id})).into_response()
}

/// Sync 1 succeeds on the third poll, 2 fails, 3 never ends.
async fn run_list(State(s): State<Shared>, Path(id): Path<u64>, Query(q): Query<HashMap<String, String>>) -> Response {
    let mut seen = s.lock().unwrap();
    seen.calls.push(format!("GET /api/v1/syncs/{id}/runs"));
    let run_id: u64 = q.get("runId").and_then(|r| r.parse().ok()).unwrap_or(0);
    let n = {
        let n = seen.polls.entry(id).or_default();
        *n += 1;
        *n
    };
    let rows = |a: u64, c: u64, r: u64| json!({"addedCount": a, "changedCount": c, "removedCount": r});
    let run = match (id, n) {
        (_, 1) => return axum::Json(json!({"data": [], "hasMore": false})).into_response(),
        (1, 2) | (3, _) => json!({"id": run_id, "status": "querying"}),
        (1, _) => json!({
            "id": run_id, "status": "success", "completionRatio": 1, "querySize": 8,
            "plannedRows": rows(5, 2, 1), "successfulRows": rows(5, 2, 1), "failedRows": rows(0, 0, 0),
            "createdAt": "2026-12-02T10:00:00Z", "startedAt": "2026-12-02T10:00:01Z",
            "finishedAt": "2026-12-02T10:00:09Z", "error": null, "extra": "not Kestra's"
        }),
        _ => json!({"id": run_id, "status": "failed", "error": "destination unreachable"}),
    };
    axum::Json(json!({"data": [{"id": 1, "status": "success"}, run], "hasMore": false})).into_response()
}

async fn fake() -> (String, Shared) {
    let seen: Shared = Arc::default();
    let app = Router::new()
        .route("/api/v1/syncs/{id}", get(sync))
        .route("/api/v1/syncs/{id}/trigger", post(trigger))
        .route("/api/v1/syncs/{id}/runs", get(run_list))
        .with_state(seen.clone());
    (crate::support::serve_app(app).await, seen)
}

fn flow(id: &str, sync_id: u64, extra: &str) -> String {
    format!(
        "id: {id}\nnamespace: company.team\ntasks:\n  - id: sync\n    type: io.kestra.plugin.hightouch.Sync\n    \
         token: ht-token\n    syncId: {sync_id}\n{extra}"
    )
}

fn out(e: &shared::model::Execution) -> serde_json::Map<String, Value> {
    runs(e, "sync").first().and_then(|t| t.outputs.clone()).map(|o| (*o).clone()).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sync_is_triggered_and_followed_until_its_run_ends() {
    let (base, seen) = fake().await;
    let h = harness_with_plugins(PluginConfig { hightouch_url: Some(base), ..Default::default() });

    let e = h.run(&flow("ok", 1, "    fullResynchronization: true\n"), json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", h.logs(&e.id).await);
    let o = out(&e);
    assert_eq!(o["runId"], json!(7001));
    let meta = o["metadata"].as_object().expect("metadata");
    assert_eq!((meta["status"].clone(), meta["successfulRows"]["addedCount"].clone()), (json!("success"), json!(5)));
    assert!(!meta.contains_key("extra"), "only Kestra's fields: {meta:?}");
    let logs = h.logs(&e.id).await.join("\n");
    for line in ["[syncId=1] sync-1: Job triggered with runId 7001", "is now querying", "is now success"] {
        assert!(logs.contains(line), "{line}: {logs}");
    }
    {
        let s = seen.lock().unwrap();
        assert_eq!(s.bodies, [json!({"fullResync": true})]);
        assert_eq!(s.calls[..2], ["GET /api/v1/syncs/1", "POST /api/v1/syncs/1/trigger"]);
        assert_eq!(s.polls[&1], 3, "polled until the run ended");
    }

    let e = h.run(&flow("bad", 2, ""), json!({})).await;
    assert_eq!(e.state.current, StateType::Failed);
    let logs = h.logs(&e.id).await.join("\n");
    assert!(logs.contains("Failed run 7002 with status 'failed': destination unreachable"), "{logs}");
    assert_eq!(seen.lock().unwrap().bodies[1], json!({"fullResync": false}));

    let e = h.run(&flow("nowait", 3, "    wait: false\n"), json!({})).await;
    assert_eq!(e.state.current, StateType::Success);
    assert_eq!(out(&e).into_iter().collect::<Vec<_>>(), [("runId".to_string(), json!(7003))]);
    assert!(!seen.lock().unwrap().polls.contains_key(&3), "no poll without wait");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_run_that_does_not_end_fails_at_max_duration_and_a_bad_token_is_named() {
    let (base, _seen) = fake().await;
    let h = harness_with_plugins(PluginConfig { hightouch_url: Some(base), ..Default::default() });
    let started = std::time::Instant::now();
    let e = h.run(&flow("slow", 3, "    maxDuration: PT3S\n"), json!({})).await;
    assert_eq!(e.state.current, StateType::Failed);
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "{:?}", started.elapsed());
    let logs = h.logs(&e.id).await.join("\n");
    assert!(logs.contains("did not end within maxDuration (3s): last status 'querying'"), "{logs}");

    let e = h.run(&flow("denied", 1, "").replace("ht-token", "wrong"), json!({})).await;
    assert_eq!(e.state.current, StateType::Failed);
    let logs = h.logs(&e.id).await.join("\n");
    assert!(logs.contains("Hightouch answered GET /api/v1/syncs/1 with 401: no token"), "{logs}");
}
