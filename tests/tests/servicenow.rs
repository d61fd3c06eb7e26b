//! ServiceNow (`io.kestra.plugin.servicenow.*`) in flows, against a local
//! server answering as ServiceNow's Table API does
//! (`BATON_SERVICENOW_BASE_URL` points the tasks at it): Kestra's
//! `service-now-custom-table` blueprint run twice (records created, then
//! updated by the `sys_id` a `Get` found), `Get`'s query parameters and
//! fetch types, the OAuth password grant, `Delete`'s 204, and the errors a
//! wrong password and a missing table give.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Map, Value, json};
use shared::model::StateType;
use shared::plugins::PluginConfig;
use shared::runtime::secrets::Secrets;

use crate::support::{Harness, harness_with_secrets_and_plugins, runs, secret};

/// The fake's tables (table → sys_id → record) and the calls it saw.
#[derive(Default)]
struct Db {
    tables: BTreeMap<String, BTreeMap<String, Map<String, Value>>>,
    calls: Vec<String>,
    next: u64,
}

type Shared = Arc<Mutex<Db>>;

const BASIC: &str = "Basic c24tdXNlcjpzbi1wYXNz"; // sn-user:sn-pass

fn authorized(h: &HeaderMap) -> bool {
    let auth = h.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
    auth == BASIC || auth == "Bearer sn-token"
}

fn denied() -> Response {
    (StatusCode::UNAUTHORIZED, axum::Json(json!({"error": {"message": "User Not Authenticated"}}))).into_response()
}

async fn token(State(s): State<Shared>, Form(f): Form<HashMap<String, String>>) -> Response {
    s.lock().unwrap().calls.push("POST /oauth_token.do".into());
    let ok = f.get("grant_type").map(String::as_str) == Some("password")
        && f.get("client_id").map(String::as_str) == Some("client")
        && f.get("client_secret").map(String::as_str) == Some("client-secret")
        && f.get("username").map(String::as_str) == Some("sn-user")
        && f.get("password").map(String::as_str) == Some("sn-pass");
    if !ok {
        return (StatusCode::UNAUTHORIZED, axum::Json(json!({"error": "access_denied"}))).into_response();
    }
    axum::Json(json!({"access_token": "sn-token", "token_type": "Bearer", "expires_in": 1799})).into_response()
}

/// `GET /api/now/table/{t}`: `field=value` terms joined by `^`, limit,
/// offset, fields.
async fn list(
    State(s): State<Shared>,
    Path(t): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    h: HeaderMap,
) -> Response {
    let mut db = s.lock().unwrap();
    let mut keys: Vec<&String> = q.keys().collect();
    keys.sort();
    db.calls.push(format!("GET /api/now/table/{t} {keys:?}"));
    if !authorized(&h) {
        return denied();
    }
    let Some(rows) = db.tables.get(&t) else {
        return (StatusCode::BAD_REQUEST, axum::Json(json!({"error": {"message": "Invalid table"}}))).into_response();
    };
    let terms: Vec<(String, String)> = q
        .get("sysparm_query")
        .map(|qs| qs.split('^').filter_map(|t| t.split_once('=')).map(|(k, v)| (k.into(), v.into())).collect())
        .unwrap_or_default();
    let fields: Option<Vec<&str>> = q.get("sysparm_fields").map(|f| f.split(',').collect());
    let offset: usize = q.get("sysparm_offset").and_then(|o| o.parse().ok()).unwrap_or(0);
    let limit: usize = q.get("sysparm_limit").and_then(|o| o.parse().ok()).unwrap_or(10_000);
    let result: Vec<Value> = rows
        .values()
        .filter(|r| terms.iter().all(|(k, v)| r.get(k).and_then(Value::as_str) == Some(v.as_str())))
        .skip(offset)
        .take(limit)
        .map(|r| match &fields {
            None => Value::Object(r.clone()),
            Some(f) => Value::Object(
                r.iter().filter(|(k, _)| f.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect(),
            ),
        })
        .collect();
    axum::Json(json!({"result": result})).into_response()
}

async fn create(State(s): State<Shared>, Path(t): Path<String>, h: HeaderMap, body: String) -> Response {
    let mut db = s.lock().unwrap();
    db.calls.push(format!("POST /api/now/table/{t}"));
    if !authorized(&h) {
        return denied();
    }
    db.next += 1;
    let id = format!("sys{:04}", db.next);
    let mut rec: Map<String, Value> = serde_json::from_str(&body).unwrap();
    rec.insert("sys_id".into(), json!(id));
    db.tables.entry(t).or_default().insert(id, rec.clone());
    (StatusCode::CREATED, axum::Json(json!({"result": rec}))).into_response()
}

async fn one(
    State(s): State<Shared>,
    Path((t, id)): Path<(String, String)>,
    method: axum::http::Method,
    h: HeaderMap,
    body: String,
) -> Response {
    let mut db = s.lock().unwrap();
    db.calls.push(format!("{method} /api/now/table/{t}/{id}"));
    if !authorized(&h) {
        return denied();
    }
    let Some(rec) = db.tables.get_mut(&t).and_then(|rows| rows.get_mut(&id)) else {
        return (StatusCode::NOT_FOUND, axum::Json(json!({"error": {"message": "No Record found"}}))).into_response();
    };
    if method == axum::http::Method::DELETE {
        db.tables.get_mut(&t).unwrap().remove(&id);
        return StatusCode::NO_CONTENT.into_response();
    }
    let patch: Map<String, Value> = serde_json::from_str(&body).unwrap();
    rec.extend(patch);
    axum::Json(json!({"result": rec.clone()})).into_response()
}

/// The blueprint's product source (dummyjson.com's shape).
async fn products() -> Response {
    axum::Json(json!({"products": [
        {"title": "Lamp", "description": "A lamp", "price": 10, "category": "home"},
        {"title": "Pen", "description": "A pen", "price": 2, "category": "office"}
    ]}))
    .into_response()
}

async fn fake() -> (String, Shared) {
    let db: Shared = Arc::default();
    db.lock().unwrap().tables.insert("product_data".into(), BTreeMap::new());
    let app = Router::new()
        .route("/oauth_token.do", post(token))
        .route("/api/now/table/{t}", get(list).post(create))
        .route("/api/now/table/{t}/{id}", axum::routing::put(one).delete(one))
        .route("/products", get(products))
        .with_state(db.clone());
    (crate::support::serve_app(app).await, db)
}

async fn harness() -> (Harness, Shared, String) {
    let (base, db) = fake().await;
    let secrets = Secrets::from_vars([
        secret("SN_DOMAIN", "dev12345"),
        secret("SN_USERNAME", "sn-user"),
        secret("SN_PASSWORD", "sn-pass"),
    ]);
    let h = harness_with_secrets_and_plugins(
        secrets,
        PluginConfig { servicenow_url: Some(base.clone()), ..Default::default() },
    );
    (h, db, base)
}

fn out(e: &shared::model::Execution, task: &str) -> Map<String, Value> {
    runs(e, task).first().and_then(|t| t.outputs.clone()).map(|o| (*o).clone()).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kestra_s_custom_table_blueprint_creates_then_updates() {
    let (h, db, base) = harness().await;
    let url = format!("{base}/products");
    // Kestra's blueprint service-now-custom-table: its product source
    // local, its Get narrowed to the product's title (so that the second
    // run finds each product), its sibling outputs read by
    // `[taskrun.value]`, and the products read with `fromJson`: a Request's
    // `body` is a string, in Kestra as in Baton, whose `.products` the
    // blueprint's `outputs.fetch_products.body.products` cannot reach; each
    // product read with `fromJson(taskrun.value)` as well: a ForEach value
    // is a string (a map item its JSON), in Kestra as in Baton
    let flow = format!(
        r#"
id: service-now-custom-table
namespace: company.team
tasks:
  - id: fetch_products
    type: io.kestra.plugin.core.http.Request
    uri: {url}
    method: GET
  - id: iterate_products
    type: io.kestra.plugin.core.flow.ForEach
    values: "{{{{ fromJson(outputs.fetch_products.body).products }}}}"
    tasks:
      - id: check_existing_product
        type: io.kestra.plugin.servicenow.Get
        domain: "{{{{ secret('SN_DOMAIN') }}}}"
        username: "{{{{ secret('SN_USERNAME') }}}}"
        password: "{{{{ secret('SN_PASSWORD') }}}}"
        table: product_data
        query: "title={{{{ fromJson(taskrun.value).title }}}}"
        fields:
          - sys_id
          - title
          - price
      - id: if_product_exists
        type: io.kestra.plugin.core.flow.If
        condition: "{{{{ outputs.check_existing_product[taskrun.value].size > 0 }}}}"
        then:
          - id: update_product_in_servicenow
            type: io.kestra.plugin.servicenow.Update
            domain: "{{{{ secret('SN_DOMAIN') }}}}"
            username: "{{{{ secret('SN_USERNAME') }}}}"
            password: "{{{{ secret('SN_PASSWORD') }}}}"
            table: product_data
            sysId: "{{{{ outputs.check_existing_product[taskrun.value].results[0].sys_id }}}}"
            data:
              title: "{{{{ fromJson(taskrun.value).title }}}}"
              description: "{{{{ fromJson(taskrun.value).description }}}} (updated)"
              price: "{{{{ fromJson(taskrun.value).price }}}}"
              category: "{{{{ fromJson(taskrun.value).category }}}}"
        else:
          - id: post_product_to_servicenow
            type: io.kestra.plugin.servicenow.Post
            domain: "{{{{ secret('SN_DOMAIN') }}}}"
            username: "{{{{ secret('SN_USERNAME') }}}}"
            password: "{{{{ secret('SN_PASSWORD') }}}}"
            table: product_data
            data:
              title: "{{{{ fromJson(taskrun.value).title }}}}"
              description: "{{{{ fromJson(taskrun.value).description }}}}"
              price: "{{{{ fromJson(taskrun.value).price }}}}"
              category: "{{{{ fromJson(taskrun.value).category }}}}"
"#
    );
    for round in 0..2 {
        let e = h.run(&flow, json!({})).await;
        assert_eq!(e.state.current, StateType::Success, "round {round}: {:?}\n{:?}", e.error, h.logs(&e.id).await);
        let posted = runs(&e, "post_product_to_servicenow").len();
        let updated = runs(&e, "update_product_in_servicenow").len();
        assert_eq!((posted, updated), if round == 0 { (2, 0) } else { (0, 2) }, "round {round}");
    }
    let d = db.lock().unwrap();
    let rows = &d.tables["product_data"];
    assert_eq!(rows.len(), 2, "two records, not four");
    let lamp = rows.values().find(|r| r["title"] == "Lamp").unwrap();
    assert_eq!(lamp["description"], "A lamp (updated)");
    assert!(
        d.calls.iter().any(|c| c.starts_with("GET /api/now/table/product_data") && c.contains("sysparm_fields")),
        "{:?}",
        d.calls
    );
    assert!(d.calls.iter().any(|c| c.starts_with("PUT /api/now/table/product_data/sys")), "{:?}", d.calls);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn get_fetch_types_oauth_delete_and_errors() {
    let (h, db, _) = harness().await;
    {
        let mut d = db.lock().unwrap();
        let t = d.tables.entry("incident".into()).or_default();
        for i in 1..=5 {
            let mut r = Map::new();
            r.insert("sys_id".into(), json!(format!("inc{i}")));
            r.insert("number".into(), json!(format!("INC000{i}")));
            r.insert("active".into(), json!(if i % 2 == 1 { "true" } else { "false" }));
            t.insert(format!("inc{i}"), r);
        }
    }
    let conn = "    domain: dev12345\n    username: sn-user\n    password: sn-pass\n";
    let flow = format!(
        "id: snow\nnamespace: company.team\ntasks:\n\
         - id: page\n    type: io.kestra.plugin.servicenow.Get\n{conn}    table: incident\n    query: active=true\n    limit: 2\n    offset: 1\n\
         - id: one\n    type: io.kestra.plugin.servicenow.Get\n{conn}    table: incident\n    fetchType: FETCH_ONE\n\
         - id: store\n    type: io.kestra.plugin.servicenow.Get\n{conn}    table: incident\n    fetchType: STORE\n\
         - id: oauth\n    type: io.kestra.plugin.servicenow.Get\n{conn}    clientId: client\n    clientSecret: client-secret\n    table: incident\n    query: number=INC0005\n\
         - id: delete\n    type: io.kestra.plugin.servicenow.Delete\n{conn}    table: incident\n    sysId: inc5\n"
    )
    .replace("\n- id:", "\n  - id:");
    let e = h.run(&flow, json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}\n{:?}", e.error, h.logs(&e.id).await);
    let page = out(&e, "page");
    assert_eq!(page["size"], 2);
    assert_eq!(page["offset"], 1);
    let numbers: Vec<&str> =
        page["results"].as_array().unwrap().iter().map(|r| r["number"].as_str().unwrap()).collect();
    assert_eq!(numbers, ["INC0003", "INC0005"]);
    let one = out(&e, "one");
    assert_eq!((one["size"].clone(), one["results"].as_array().unwrap().len()), (json!(1), 1));
    let store = out(&e, "store");
    assert_eq!(store["size"], 5);
    assert!(store["uri"].as_str().unwrap().starts_with("kestra://") && store.get("results").is_none(), "{store:?}");
    assert_eq!(out(&e, "oauth")["results"][0]["sys_id"], "inc5");
    assert_eq!(out(&e, "delete")["deleted"], true);
    {
        let d = db.lock().unwrap();
        assert!(!d.tables["incident"].contains_key("inc5"));
        assert_eq!(d.calls.iter().filter(|c| c.as_str() == "POST /oauth_token.do").count(), 1);
    }

    let wrong = "id: denied\nnamespace: company.team\ntasks:\n  - id: q\n    type: io.kestra.plugin.servicenow.Get\n    \
                 domain: dev12345\n    username: sn-user\n    password: wrong\n    table: incident\n";
    let e = h.run(wrong, json!({})).await;
    assert_eq!(e.state.current, StateType::Failed);
    let logs = h.logs(&e.id).await.join("\n");
    assert!(logs.contains("Request failed '401'") && logs.contains("User Not Authenticated"), "{logs}");
    assert!(!logs.contains("sn-pass"), "{logs}");

    let missing = "id: missing\nnamespace: company.team\ntasks:\n  - id: q\n    type: io.kestra.plugin.servicenow.Update\n    \
                   domain: dev12345\n    username: sn-user\n    password: sn-pass\n    table: incident\n    sysId: nope\n    data:\n      state: 2\n";
    let e = h.run(missing, json!({})).await;
    assert_eq!(e.state.current, StateType::Failed);
    let logs = h.logs(&e.id).await.join("\n");
    assert!(logs.contains("Request failed '404'") && logs.contains("/api/now/table/incident/nope"), "{logs}");
}
