//! Apify (`io.kestra.plugin.apify.actor.Run`, `dataset.Get`) in flows,
//! against a local server answering as Apify's API v2 does
//! (`BATON_APIFY_BASE_URL` points the tasks at it): Kestra's
//! `apify-cost-quality-guardrail` blueprint (an Actor run with its options,
//! its dataset read once it is no longer empty, the quality gate's healthy
//! branch), the query each task sends, and a refused token.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use shared::model::StateType;
use shared::plugins::PluginConfig;
use shared::runtime::secrets::Secrets;

use crate::support::{Harness, harness_with_secrets_and_plugins, runs, secret};

/// What the fake saw: each call (method, path, query), the run's body,
/// and how often the dataset was read.
#[derive(Default)]
struct Seen {
    calls: Vec<String>,
    bodies: Vec<String>,
    reads: usize,
}

type Shared = Arc<Mutex<Seen>>;

fn authorized(h: &HeaderMap) -> bool {
    h.get("authorization").and_then(|v| v.to_str().ok()) == Some("Bearer apify-token")
        && h.get("x-apify-integration-platform").and_then(|v| v.to_str().ok()) == Some("kestra")
}

async fn start(
    State(s): State<Shared>,
    Path(actor): Path<String>,
    RawQuery(q): RawQuery,
    h: HeaderMap,
    body: String,
) -> Response {
    let mut seen = s.lock().unwrap();
    seen.calls.push(format!("POST /acts/{actor}/runs?{}", q.unwrap_or_default()));
    if !authorized(&h) {
        return (
            StatusCode::UNAUTHORIZED,
            r#"{"error":{"type":"token-not-valid","message":"Authentication token is not valid."}}"#,
        )
            .into_response();
    }
    seen.bodies.push(body);
    axum::Json(json!({"data": {
        "id": "run-1", "actId": "act-9", "status": "RUNNING", "startedAt": "2026-12-03T06:00:00.000Z",
        "defaultDatasetId": "ds-1", "defaultKeyValueStoreId": "kv-1", "usageTotalUsd": 0.042,
        "stats": {"computeUnits": 0.01}, "options": {"memoryMbytes": 1024}
    }}))
    .into_response()
}

/// The dataset is empty at the first read (the run is still going), then
/// holds three items.
async fn items(State(s): State<Shared>, Path(id): Path<String>, RawQuery(q): RawQuery, h: HeaderMap) -> Response {
    let mut seen = s.lock().unwrap();
    seen.calls.push(format!("GET /datasets/{id}/items?{}", q.unwrap_or_default()));
    if !authorized(&h) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    seen.reads += 1;
    if seen.reads == 1 {
        return axum::Json(json!([])).into_response();
    }
    axum::Json(json!([{"url": "https://a"}, {"url": "https://b"}, {"url": "https://c"}])).into_response()
}

async fn harness(secrets: Secrets) -> (Harness, Shared) {
    let seen: Shared = Arc::default();
    let app = Router::new()
        .route("/v2/acts/{actor}/runs", post(start))
        .route("/v2/datasets/{id}/items", get(items))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    let plugins = PluginConfig { apify_url: Some(format!("http://{addr}/v2")), ..Default::default() };
    (harness_with_secrets_and_plugins(secrets, plugins), seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kestra_s_guardrail_blueprint_runs_the_actor_and_waits_for_its_dataset() {
    let (h, seen) = harness(Secrets::from_vars([secret("APIFY_API_TOKEN", "apify-token")])).await;
    // Kestra's blueprint apify-cost-quality-guardrail (its schedule and the
    // PagerDuty branch kept; the gate passes here)
    let flow = r#"
id: apify-cost-quality-guardrail
namespace: company.team
inputs:
  - id: actor_id
    type: STRING
    defaults: apify/website-content-crawler
  - id: start_url
    type: STRING
    defaults: https://news.ycombinator.com
  - id: min_items
    type: INT
    defaults: 3
tasks:
  - id: run_actor
    type: io.kestra.plugin.apify.actor.Run
    actorId: "{{ inputs.actor_id }}"
    apiToken: "{{ secret('APIFY_API_TOKEN') }}"
    maxItems: 1000
    maxTotalChargeUsd: 10
    memory: MB_1024
    requestTimeout: 600
    input:
      startUrls:
        - url: "{{ inputs.start_url }}"
      maxCrawlPages: 100
  - id: get_dataset
    type: io.kestra.plugin.apify.dataset.Get
    apiToken: "{{ secret('APIFY_API_TOKEN') }}"
    datasetId: "{{ outputs.run_actor.defaultDatasetId }}"
  - id: quality_gate
    type: io.kestra.plugin.core.flow.If
    condition: "{{ (outputs.get_dataset.dataset | length) >= inputs.min_items }}"
    then:
      - id: promote
        type: io.kestra.plugin.core.storage.Write
        content: "{{ outputs.get_dataset.dataset | json }}"
        extension: .json
      - id: log_healthy
        type: io.kestra.plugin.core.log.Log
        message: "Scrape healthy: {{ outputs.get_dataset.dataset | length }} items at cost ${{ outputs.run_actor.usageTotalUsd }}. Dataset promoted for downstream processing."
    else:
      - id: alert_degraded
        type: io.kestra.plugin.pagerduty.PagerDutyAlert
        url: http://127.0.0.1:9/v2/enqueue
        payload: "{}"
triggers:
  - id: every_six_hours
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 */6 * * *"
"#;
    let e = h.run(flow, json!({"actor_id": "apify~website-content-crawler"})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}\n{:?}", e.error, h.logs(&e.id).await);
    let run = runs(&e, "run_actor")[0].outputs.as_deref().cloned().unwrap_or_default();
    assert_eq!((run["status"].clone(), run["defaultDatasetId"].clone()), (json!("RUNNING"), json!("ds-1")));
    assert_eq!(runs(&e, "alert_degraded").len(), 0);
    let logs = h.logs(&e.id).await.join("\n");
    assert!(logs.contains("Scrape healthy: 3 items at cost $0.042"), "{logs}");
    let seen = seen.lock().unwrap();
    assert_eq!(
        seen.calls[0],
        "POST /acts/apify~website-content-crawler/runs?maxItems=1000&maxTotalChargeUsd=10&memory=1024&timeout=600"
    );
    let body: Value = serde_json::from_str(&seen.bodies[0]).unwrap();
    assert_eq!(body, json!({"startUrls": [{"url": "https://news.ycombinator.com"}], "maxCrawlPages": 100}));
    assert_eq!(seen.reads, 2, "the empty dataset is read again: {:?}", seen.calls);
    assert_eq!(
        seen.calls[1],
        "GET /datasets/ds-1/items?clean=true&desc=false&flatten=false&limit=1000&offset=0&simplified=false&skipEmpty=true&skipFailedPages=false&skipHidden=false"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dataset_options_and_a_refused_token() {
    let (h, seen) = harness(Secrets::from_vars(Vec::new())).await;
    let flow = r##"
id: options
namespace: company.team
tasks:
  - id: run
    type: io.kestra.plugin.apify.actor.Run
    apiToken: apify-token
    actorId: act-9
    build: beta
    waitForFinish: 60
  - id: items
    type: io.kestra.plugin.apify.dataset.Get
    apiToken: apify-token
    datasetId: ds-2
    offset: 1
    limit: 10
    fields: [url, "#id"]
    omit: ["#id"]
    sort: DESC
    clean: false
"##;
    // the first read of a dataset is empty: skip it
    seen.lock().unwrap().reads = 1;
    let e = h.run(flow, json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}\n{:?}", e.error, h.logs(&e.id).await);
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen.calls[0], "POST /acts/act-9/runs?build=beta&waitForFinish=60");
        assert_eq!(seen.bodies[0], "", "an empty input is not sent");
        assert_eq!(
            seen.calls[1],
            "GET /datasets/ds-2/items?clean=false&desc=true&fields=url%2C%23id&flatten=false&limit=10&offset=1&omit=%23id&simplified=false&skipEmpty=true&skipFailedPages=false&skipHidden=false"
        );
    }

    let denied = "id: denied\nnamespace: company.team\ntasks:\n  - id: run\n    type: io.kestra.plugin.apify.actor.Run\n    \
                  apiToken: wrong\n    actorId: act-9\n";
    let e = h.run(denied, json!({})).await;
    assert_eq!(e.state.current, StateType::Failed);
    let logs = h.logs(&e.id).await.join("\n");
    assert!(logs.contains("Request failed '401'") && logs.contains("token-not-valid"), "{logs}");
}
