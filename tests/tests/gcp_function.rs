//! `function.HttpFunction` against a local fake of Google's token endpoint
//! and a local "function": with a service-account key (an RSA key made by
//! `openssl` for the test), the task signs a JWT-bearer grant asking for an
//! ID token whose `target_audience` is the function's URL — the fake
//! checks the signature, `iss`, `aud` and the audience — then calls the
//! function with that token as bearer and its `httpBody` as JSON; the
//! function's JSON answer is `responseBody`. A 500 fails with Kestra's
//! "Request failed" message; a text answer is output as text.

use std::sync::{Arc, Mutex};

use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};
use shared::model::StateType;

use crate::support::{harness, runs};

#[derive(Clone)]
struct Fake {
    public_pem: Vec<u8>,
    token_uri: String,
    audiences: Arc<Mutex<Vec<String>>>,
    calls: Arc<Mutex<Vec<(String, Value)>>>,
}

async fn token(State(f): State<Fake>, Form(form): Form<Vec<(String, String)>>) -> Json<Value> {
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
    assert_eq!(get("grant_type"), "urn:ietf:params:oauth:grant-type:jwt-bearer");
    let mut v = Validation::new(Algorithm::RS256);
    v.set_audience(&[&f.token_uri]);
    let key = DecodingKey::from_rsa_pem(&f.public_pem).unwrap();
    let data = jsonwebtoken::decode::<Value>(&get("assertion"), &key, &v).expect("a signed, valid assertion");
    assert_eq!(data.claims["iss"], json!("baton@p1.iam.gserviceaccount.com"));
    let audience = data.claims["target_audience"].as_str().expect("target_audience").to_string();
    f.audiences.lock().unwrap().push(audience.clone());
    Json(json!({"id_token": format!("id-token-for:{audience}")}))
}

async fn hello(State(f): State<Fake>, headers: HeaderMap, body: String) -> (StatusCode, Json<Value>) {
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let body: Value = if body.is_empty() { Value::Null } else { serde_json::from_str(&body).unwrap() };
    f.calls.lock().unwrap().push((auth.clone(), body.clone()));
    (
        StatusCode::OK,
        Json(json!({"greeting": format!("hello {}", body["name"].as_str().unwrap_or("nobody")), "auth": auth})),
    )
}

async fn broken() -> (StatusCode, &'static str) {
    (StatusCode::INTERNAL_SERVER_ERROR, "boom")
}

async fn text() -> &'static str {
    "plain words"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_is_called_with_an_id_token_for_its_url() {
    let (private, public) = crate::gcp_oauth::rsa_key_pair();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let fake = Fake {
        public_pem: public,
        token_uri: format!("{base}/token"),
        audiences: Arc::default(),
        calls: Arc::default(),
    };
    let app = Router::new()
        .route("/token", post(token))
        .route("/hello", post(hello))
        .route("/broken", get(broken))
        .route("/text", get(text))
        .with_state(fake.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let key = json!({
        "type": "service_account", "project_id": "p1", "private_key_id": "kid1",
        "private_key": String::from_utf8(private).unwrap(),
        "client_email": "baton@p1.iam.gserviceaccount.com", "token_uri": fake.token_uri,
    });
    let h = harness();
    let flow = format!(
        r#"
id: function
namespace: test.gcp
inputs:
  - id: key
    type: STRING
tasks:
  - id: hello
    type: io.kestra.plugin.gcp.function.HttpFunction
    httpMethod: POST
    url: {base}/hello
    httpBody:
      name: Kestra
    maxDuration: PT30S
  - id: text
    type: io.kestra.plugin.gcp.function.HttpFunction
    httpMethod: GET
    url: {base}/text
  - id: broken
    type: io.kestra.plugin.gcp.function.HttpFunction
    httpMethod: GET
    url: {base}/broken
pluginDefaults:
  - type: io.kestra.plugin.gcp
    values:
      serviceAccount: "{{{{ inputs.key }}}}"
"#
    );
    let e = h.run(&flow, json!({"key": key.to_string()})).await;
    assert_eq!(e.state.current, StateType::Failed, "the broken call fails the execution");
    let out = |t: &str| Value::Object(runs(&e, t)[0].outputs.as_deref().cloned().unwrap_or_default());
    let url = format!("{base}/hello");
    assert_eq!(
        out("hello")["responseBody"],
        json!({"greeting": "hello Kestra", "auth": format!("Bearer id-token-for:{url}")})
    );
    assert_eq!(out("text")["responseBody"], json!("plain words"));
    assert_eq!(fake.calls.lock().unwrap()[0].1, json!({"name": "Kestra"}));
    let audiences = fake.audiences.lock().unwrap().clone();
    assert_eq!(audiences, [url, format!("{base}/text"), format!("{base}/broken")]);
    let broken = runs(&e, "broken")[0];
    assert_eq!(broken.state.current, StateType::Failed);
    let logs = h.logs(&e.id).await.join("\n");
    assert!(logs.contains("Request failed '500' and body 'boom'"), "{logs}");
}
