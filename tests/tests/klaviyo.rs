//! Klaviyo (`io.kestra.plugin.klaviyo.*`) in flows, against a local server
//! answering as Klaviyo's REST API does (`baseUrl` points the tasks at it,
//! set once in a `pluginDefaults` for the family as Kestra's blueprints
//! do): the key and API revision headers, rows in the order of the IDs,
//! the fetch types, the three kinds of IDs, the pace between calls, and a
//! missing object's error.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use shared::model::StateType;

use crate::support::{harness, runs};

type Seen = Arc<Mutex<Vec<String>>>;

/// Any `GET /api/{path}`: the object `{"type": …, "id": …}` for an ID
/// that does not start with `missing`.
async fn object(State(s): State<Seen>, Path(path): Path<String>, h: HeaderMap) -> Response {
    s.lock().unwrap().push(path.clone());
    let header = |n: &str| h.get(n).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    if header("authorization") != "Klaviyo-API-Key pk_test" || header("revision") != "2025-10-15" {
        return (StatusCode::UNAUTHORIZED, axum::Json(json!({"errors": [{"detail": "bad key"}]}))).into_response();
    }
    if path.contains("missing") {
        return (StatusCode::NOT_FOUND, axum::Json(json!({"errors": [{"detail": "Not found"}]}))).into_response();
    }
    let mut parts = path.split('/');
    let kind = parts.next().unwrap_or_default().to_string();
    let id = parts.next().unwrap_or_default().to_string();
    axum::Json(json!({"data": {"type": kind, "id": id, "attributes": {"name": format!("{kind} {id}")}}}))
        .into_response()
}

async fn fake() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let app = Router::new().route("/api/{*path}", get(object)).with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/api"), seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn campaigns_messages_and_jobs_by_id() {
    let (base, seen) = fake().await;
    let h = harness();
    let flow = format!(
        r#"
id: klaviyo
namespace: company.marketing
tasks:
  - id: campaigns
    type: io.kestra.plugin.klaviyo.campaign.Get
    campaignIds: ["c2", "c1"]
  - id: estimate
    type: io.kestra.plugin.klaviyo.campaign.GetRecipientCount
    campaignIds: ["c1"]
    fetchType: FETCH_ONE
  - id: message_campaign
    type: io.kestra.plugin.klaviyo.campaign.messages.GetCampaign
    messageIds: ["m1"]
    fetchType: STORE
  - id: send_jobs
    type: io.kestra.plugin.klaviyo.jobs.GetSendJob
    jobIds: ["j1", "j2"]
    fetchType: NONE
pluginDefaults:
  - type: io.kestra.plugin.klaviyo
    values:
      apiKey: pk_test
      baseUrl: {base}
"#
    );
    let started = Instant::now();
    let e = h.run(&flow, json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}\n{:?}", e.error, h.logs(&e.id).await);
    assert!(started.elapsed() >= Duration::from_secs(2), "two IDs in a task are a second apart, twice");
    let out = |t: &str| runs(&e, t)[0].outputs.as_deref().cloned().unwrap_or_default();
    let campaigns = out("campaigns");
    assert_eq!(campaigns["size"], 2);
    let ids: Vec<&str> = campaigns["rows"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["c2", "c1"], "rows keep the IDs' order");
    assert_eq!(out("estimate")["row"]["type"], "campaign-recipient-estimations");
    let stored = out("message_campaign");
    assert!(stored["uri"].as_str().unwrap().starts_with("kestra://") && stored.get("rows").is_none(), "{stored:?}");
    let jobs = out("send_jobs");
    assert_eq!((jobs["size"].clone(), jobs.get("rows")), (json!(2), None));
    {
        let seen = seen.lock().unwrap();
        assert!(seen.contains(&"campaign-messages/m1/campaign".to_string()), "{seen:?}");
        assert!(seen.contains(&"campaign-send-jobs/j2".to_string()), "{seen:?}");
    }

    let missing = format!(
        "id: missing\nnamespace: company.marketing\ntasks:\n  - id: get\n    type: io.kestra.plugin.klaviyo.campaign.messages.Get\n    \
         apiKey: pk_test\n    baseUrl: {base}\n    messageIds: [missing-1]\n"
    );
    let e = h.run(&missing, json!({})).await;
    assert_eq!(e.state.current, StateType::Failed);
    let logs = h.logs(&e.id).await.join("\n");
    assert!(logs.contains("Failed to retrieve message missing-1: 404") && logs.contains("Not found"), "{logs}");
}
