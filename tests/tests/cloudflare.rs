//! Cloudflare (`io.kestra.plugin.cloudflare.*`) in flows, against a local
//! server answering as Cloudflare's v4 API does (its JSON envelope, pages
//! with `result_info`, a zone's DNS records kept in memory): Kestra's
//! `cloudflare-cache-purge-on-deploy` blueprint (purge, check the site,
//! tell Slack), `Upsert` creating then updating, every record task, a
//! `Batch` from a JSON string as the multizone blueprint writes it, zones
//! over two pages, and a refused token named with Cloudflare's error.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use serde_json::{Map, Value, json};
use shared::model::StateType;
use shared::runtime::secrets::Secrets;

use crate::support::{harness_with, runs, secret};

/// The fake's state: records by id, what was purged, each call.
#[derive(Default)]
struct Cf {
    records: Vec<Map<String, Value>>,
    purged: Vec<Value>,
    batches: Vec<Value>,
    calls: Vec<String>,
    next: u32,
}

type Shared = Arc<Mutex<Cf>>;

fn ok(result: Value) -> Response {
    axum::Json(json!({"success": true, "errors": [], "messages": [], "result": result})).into_response()
}

fn refused(h: &HeaderMap) -> Option<Response> {
    let good = h.get("authorization").and_then(|v| v.to_str().ok()) == Some("Bearer cf-token");
    (!good).then(|| {
        let body = json!({"success": false, "errors": [{"code": 9109, "message": "Invalid access token"}], "messages": [], "result": null});
        (StatusCode::FORBIDDEN, axum::Json(body)).into_response()
    })
}

/// `GET /zones`: three zones, two a page (`page`, `per_page` ignored but
/// for the page number), or the one named `name`.
async fn zones(State(s): State<Shared>, h: HeaderMap, Query(q): Query<Map<String, Value>>) -> Response {
    s.lock().unwrap().calls.push("GET /zones".into());
    if let Some(r) = refused(&h) {
        return r;
    }
    let all: Vec<Value> = ["example.com", "example.org", "example.net"]
        .iter()
        .enumerate()
        .map(|(i, n)| json!({"id": format!("z{i}"), "name": n, "status": "active", "paused": false}))
        .collect();
    if let Some(name) = q.get("name").and_then(Value::as_str) {
        return ok(Value::Array(all.into_iter().filter(|z| z["name"] == name).collect()));
    }
    let page: usize = q.get("page").and_then(Value::as_str).and_then(|p| p.parse().ok()).unwrap_or(1);
    let items: Vec<Value> = all.iter().skip((page - 1) * 2).take(2).cloned().collect();
    let body = json!({"success": true, "errors": [], "messages": [], "result": items,
        "result_info": {"page": page, "per_page": 2, "count": items.len(), "total_count": 3, "total_pages": 2}});
    axum::Json(body).into_response()
}

async fn zone(State(s): State<Shared>, h: HeaderMap, Path(id): Path<String>) -> Response {
    s.lock().unwrap().calls.push(format!("GET /zones/{id}"));
    refused(&h).unwrap_or_else(|| ok(json!({"id": id, "name": "example.com", "status": "active"})))
}

async fn purge(State(s): State<Shared>, h: HeaderMap, Path(zone): Path<String>, body: String) -> Response {
    let mut cf = s.lock().unwrap();
    cf.calls.push(format!("POST /zones/{zone}/purge_cache"));
    if let Some(r) = refused(&h) {
        return r;
    }
    cf.purged.push(serde_json::from_str(&body).unwrap_or(Value::Null));
    ok(json!({"id": "purge-1"}))
}

/// `/zones/{zone}/dns_records`, every method.
async fn records(
    s: State<Shared>,
    method: Method,
    h: HeaderMap,
    Path(zone): Path<String>,
    q: Query<Map<String, Value>>,
    body: String,
) -> Response {
    record(s, method, h, Path((zone, String::new())), q, body).await
}

/// `/zones/{zone}/dns_records/{id}` and `…/batch`, every method.
async fn record(
    State(s): State<Shared>,
    method: Method,
    h: HeaderMap,
    Path((zone, rest)): Path<(String, String)>,
    Query(q): Query<Map<String, Value>>,
    body: String,
) -> Response {
    let mut cf = s.lock().unwrap();
    cf.calls.push(format!("{method} /zones/{zone}/dns_records/{rest}").trim_end_matches('/').to_string());
    if let Some(r) = refused(&h) {
        return r;
    }
    let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    match (method.as_str(), rest.as_str()) {
        ("GET", "") => {
            let want = |k: &str, r: &Map<String, Value>| q.get(k).is_none_or(|v| r.get(k) == Some(v));
            let found: Vec<Value> =
                cf.records.iter().filter(|r| want("name", r) && want("type", r)).cloned().map(Value::Object).collect();
            ok(Value::Array(found))
        }
        ("POST", "") => {
            cf.next += 1;
            let mut r = body.as_object().cloned().unwrap_or_default();
            r.insert("id".into(), json!(format!("rec{}", cf.next)));
            r.insert("zone_id".into(), json!(zone));
            cf.records.push(r.clone());
            ok(Value::Object(r))
        }
        ("POST", "batch") => {
            cf.batches.push(body);
            ok(json!({"posts": [], "patches": [], "deletes": []}))
        }
        (m, id) => {
            let Some(i) = cf.records.iter().position(|r| r["id"] == id) else {
                let e = json!({"success": false, "errors": [{"code": 81044, "message": "Record does not exist."}], "result": null});
                return (StatusCode::NOT_FOUND, axum::Json(e)).into_response();
            };
            match m {
                "GET" => ok(Value::Object(cf.records[i].clone())),
                "PATCH" => {
                    for (k, v) in body.as_object().cloned().unwrap_or_default() {
                        cf.records[i].insert(k, v);
                    }
                    ok(Value::Object(cf.records[i].clone()))
                }
                "DELETE" => {
                    cf.records.remove(i);
                    ok(json!({"id": id}))
                }
                _ => StatusCode::METHOD_NOT_ALLOWED.into_response(),
            }
        }
    }
}

async fn fake() -> (String, Shared) {
    let s: Shared = Arc::default();
    let app = Router::new()
        .route("/client/v4/zones", get(zones))
        .route("/client/v4/zones/{zone}", get(zone))
        .route("/client/v4/zones/{zone}/purge_cache", post(purge))
        .route("/client/v4/zones/{zone}/dns_records", any(records))
        .route("/client/v4/zones/{zone}/dns_records/{rest}", any(record))
        .route("/site", get(|| async { "fresh" }))
        .with_state(s.clone());
    (crate::support::serve_app(app).await, s)
}

fn out(e: &shared::model::Execution, task: &str) -> Value {
    Value::Object(runs(e, task)[0].outputs.as_deref().cloned().unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kestra_s_cache_purge_blueprint_purges_checks_and_notifies() {
    let (base, cf) = fake().await;
    let (hook, posted) = e2e::webhook::receiver().await;
    let h = harness_with(Secrets::from_vars([
        secret("CLOUDFLARE_API_TOKEN", "cf-token"),
        secret("SLACK_WEBHOOK_URL", &hook),
        secret("CLOUDFLARE_PURGE_WEBHOOK_KEY", "k"),
    ]));
    // Kestra's blueprint cloudflare-cache-purge-on-deploy; its pluginDefaults
    // also point baseUrl at the local API
    let flow = format!(
        r#"
id: cloudflare-cache-purge-on-deploy
namespace: company.team
inputs:
  - id: zone_id
    type: STRING
  - id: verify_url
    type: STRING
    defaults: https://app.example.com/
tasks:
  - id: purge_cache
    type: io.kestra.plugin.cloudflare.cache.Purge
    zoneId: "{{{{ inputs.zone_id }}}}"
    purgeAll: true
  - id: verify_site
    type: io.kestra.plugin.core.http.Request
    uri: "{{{{ inputs.verify_url }}}}"
    method: GET
  - id: notify
    type: io.kestra.plugin.slack.notifications.SlackIncomingWebhook
    url: "{{{{ secret('SLACK_WEBHOOK_URL') }}}}"
    payload: |
      {{
        "text": "Cloudflare cache purged for zone {{{{ inputs.zone_id }}}}. {{{{ inputs.verify_url }}}} returned {{{{ outputs.verify_site.code }}}}."
      }}
pluginDefaults:
  - type: io.kestra.plugin.cloudflare.cache.Purge
    values:
      apiToken: "{{{{ secret('CLOUDFLARE_API_TOKEN') }}}}"
      baseUrl: {base}/client/v4
triggers:
  - id: deploy_healthy
    type: io.kestra.plugin.core.trigger.Webhook
    key: "{{{{ secret('CLOUDFLARE_PURGE_WEBHOOK_KEY') }}}}"
"#
    );
    let e = h.run(&flow, json!({"zone_id": "z0", "verify_url": format!("{base}/site")})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}\n{:?}", e.error, h.logs(&e.id).await);
    assert_eq!(out(&e, "purge_cache"), json!({"requestId": "purge-1"}));
    assert_eq!(cf.lock().unwrap().purged, vec![json!({"purge_everything": true})]);
    let posted = posted.lock().unwrap();
    assert_eq!(posted.len(), 1, "{posted:?}");
    assert!(posted[0].contains("purged for zone z0") && posted[0].contains("returned 200"), "{posted:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn records_zones_and_batches_as_kestra_s_tasks_do() {
    let (base, cf) = fake().await;
    let h = harness_with(Secrets::from_vars([secret("CLOUDFLARE_API_TOKEN", "cf-token")]));
    let api = format!("{base}/client/v4");
    let flow = format!(
        r#"
id: dns
namespace: company.team
pluginDefaults:
  - type: io.kestra.plugin.cloudflare
    values:
      apiToken: "{{{{ secret('CLOUDFLARE_API_TOKEN') }}}}"
      baseUrl: {api}
tasks:
  - id: first
    type: io.kestra.plugin.cloudflare.dns.records.Upsert
    zoneId: z0
    recordType: A
    name: app.example.com
    content: 1.2.3.4
  - id: second
    type: io.kestra.plugin.cloudflare.dns.records.Upsert
    zoneId: z0
    recordType: A
    name: app.example.com
    content: 5.6.7.8
    proxied: true
  - id: txt
    type: io.kestra.plugin.cloudflare.dns.records.Create
    zoneId: z0
    recordType: TXT
    name: app.example.com
    content: hello
    ttl: 300
  - id: update
    type: io.kestra.plugin.cloudflare.dns.records.Update
    zoneId: z0
    recordId: "{{{{ outputs.txt.recordId }}}}"
    content: bye
  - id: get
    type: io.kestra.plugin.cloudflare.dns.records.Get
    zoneId: z0
    recordId: "{{{{ outputs.txt.recordId }}}}"
  - id: delete
    type: io.kestra.plugin.cloudflare.dns.records.Delete
    zoneId: z0
    recordId: "{{{{ outputs.txt.recordId }}}}"
  - id: list
    type: io.kestra.plugin.cloudflare.dns.records.List
    zoneId: z0
  - id: zones
    type: io.kestra.plugin.cloudflare.zones.List
  - id: zone
    type: io.kestra.plugin.cloudflare.zones.Get
    hostname: example.net
  - id: batch
    type: io.kestra.plugin.cloudflare.dns.records.Batch
    zoneId: z0
    posts: "{{{{ '[{{\"type\": \"A\", \"name\": \"b.example.com\", \"content\": \"9.9.9.9\", \"ttl\": 1, \"proxied\": false}}]' | fromJson }}}}"
    deletes:
      - id: "{{{{ outputs.first.recordId }}}}"
"#
    );
    let e = h.run(&flow, json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}\n{:?}", e.error, h.logs(&e.id).await);
    assert_eq!(out(&e, "first")["action"], "created");
    let second = out(&e, "second");
    assert_eq!(second["action"], "updated");
    assert_eq!(second["recordId"], out(&e, "first")["recordId"], "the record found by name and type is updated");
    assert_eq!((second["content"].clone(), second["proxied"].clone()), (json!("5.6.7.8"), json!(true)));
    assert_eq!(out(&e, "txt")["type"], "TXT");
    assert_eq!(out(&e, "txt")["ttl"], 300);
    assert_eq!(out(&e, "get")["content"], "bye", "Update patched content only");
    assert_eq!(out(&e, "get")["ttl"], 300);
    assert_eq!(out(&e, "delete")["deletedId"], out(&e, "txt")["recordId"]);
    let listed = out(&e, "list")["records"].clone();
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!(listed[0]["content"], "5.6.7.8");
    assert!(listed[0].get("zone_id").is_none(), "a listed record keeps Kestra's fields: {listed}");
    let zones: Vec<Value> = out(&e, "zones")["zones"].as_array().cloned().unwrap_or_default();
    assert_eq!(zones.len(), 3, "both pages are read: {zones:?}");
    assert_eq!(zones[2], json!({"id": "z2", "name": "example.net", "status": "active"}));
    assert_eq!(out(&e, "zone")["id"], "z2");
    let cf = cf.lock().unwrap();
    assert_eq!(
        cf.batches,
        vec![json!({
            "posts": [{"type": "A", "name": "b.example.com", "content": "9.9.9.9", "ttl": 1, "proxied": false}],
            "deletes": [{"id": out(&e, "first")["recordId"]}]
        })],
        "empty lists are left out"
    );
    assert!(cf.calls.iter().any(|c| c == "GET /zones/z0/dns_records"), "{:?}", cf.calls);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refused_token_and_a_bad_batch_are_named() {
    let (base, _) = fake().await;
    let h = crate::support::harness();
    let flow = format!(
        "id: denied\nnamespace: company.team\ntasks:\n  - id: zones\n    type: io.kestra.plugin.cloudflare.zones.List\n    \
         apiToken: wrong\n    baseUrl: {base}/client/v4\n"
    );
    let e = h.run(&flow, json!({})).await;
    assert_eq!(e.state.current, StateType::Failed);
    let logs = h.logs(&e.id).await.join("\n");
    assert!(logs.contains("403") && logs.contains("[9109] Invalid access token"), "{logs}");

    let flow = format!(
        "id: bad\nnamespace: company.team\ntasks:\n  - id: batch\n    type: io.kestra.plugin.cloudflare.dns.records.Batch\n    \
         apiToken: t\n    baseUrl: {base}/client/v4\n    zoneId: z0\n    posts:\n      - type: MX\n        name: example.com\n        \
         content: mail.example.com\n        priority: 10\n"
    );
    let e = h.run(&flow, json!({})).await;
    assert_eq!(e.state.current, StateType::Failed);
    let logs = h.logs(&e.id).await.join("\n");
    assert!(logs.contains("posts[0]") && logs.contains("'priority'"), "{logs}");
}
