//! `auth.OauthAccessToken` with a service-account key (an RSA key made by
//! `openssl` for the test) whose `token_uri` is a local fake of Google's
//! OAuth token endpoint: the fake checks the JWT-bearer grant — the
//! assertion's RS256 signature against the key's public half, its `iss`,
//! `aud` and `scope` — and the task outputs the token it answers.

use std::sync::{Arc, Mutex};

use axum::extract::{Form, State};
use axum::routing::post;
use axum::{Json, Router};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};
use shared::model::StateType;

use crate::support::{harness, runs};

fn openssl(args: &[&str], input: Option<&[u8]>) -> Vec<u8> {
    use std::io::Write;
    let mut child = std::process::Command::new("openssl")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("openssl is needed to make a test RSA key");
    if let Some(i) = input {
        child.stdin.take().unwrap().write_all(i).unwrap();
    } else {
        drop(child.stdin.take());
    }
    child.wait_with_output().unwrap().stdout
}

/// A fresh 2048-bit RSA key pair (private, public) in PEM, made by openssl.
pub(crate) fn rsa_key_pair() -> (Vec<u8>, Vec<u8>) {
    let private = openssl(&["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"], None);
    let public = openssl(&["pkey", "-pubout"], Some(&private));
    (private, public)
}

#[derive(Clone)]
struct Fake {
    public_pem: Vec<u8>,
    audience: String,
    claims: Arc<Mutex<Vec<Value>>>,
}

async fn token(State(f): State<Fake>, Form(form): Form<Vec<(String, String)>>) -> Json<Value> {
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
    assert_eq!(get("grant_type"), "urn:ietf:params:oauth:grant-type:jwt-bearer");
    let mut v = Validation::new(Algorithm::RS256);
    v.set_audience(&[&f.audience]);
    let key = DecodingKey::from_rsa_pem(&f.public_pem).unwrap();
    let data = jsonwebtoken::decode::<Value>(&get("assertion"), &key, &v).expect("a signed, valid assertion");
    f.claims.lock().unwrap().push(data.claims);
    Json(json!({"access_token": "ya29.fake-token", "expires_in": 3599, "token_type": "Bearer"}))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_account_key_gets_an_oauth_token_from_its_token_uri() {
    let (private, public) = rsa_key_pair();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let audience = format!("http://{}/token", listener.local_addr().unwrap());
    let fake = Fake { public_pem: public, audience: audience.clone(), claims: Arc::default() };
    let app = Router::new().route("/token", post(token)).with_state(fake.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let key = json!({
        "type": "service_account", "project_id": "p1", "private_key_id": "kid1",
        "private_key": String::from_utf8(private).unwrap(),
        "client_email": "baton@p1.iam.gserviceaccount.com", "token_uri": audience,
    });
    let h = harness();
    let yaml = r#"
id: oauth
namespace: test.gcp
inputs:
  - id: key
    type: STRING
tasks:
  - id: token
    type: io.kestra.plugin.gcp.auth.OauthAccessToken
    serviceAccount: "{{ inputs.key }}"
    scopes:
      - https://www.googleapis.com/auth/bigquery
      - https://www.googleapis.com/auth/devstorage.read_only
"#;
    let e = h.run(yaml, json!({"key": key.to_string()})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    let out = runs(&e, "token")[0].outputs.as_deref().cloned().unwrap_or_default();
    let t = &out["accessToken"];
    assert_eq!(t["tokenValue"], json!("ya29.fake-token"));
    assert_eq!(
        t["scopes"],
        json!(["https://www.googleapis.com/auth/bigquery", "https://www.googleapis.com/auth/devstorage.read_only"])
    );
    let expires = chrono::DateTime::parse_from_rfc3339(t["expirationTime"].as_str().unwrap()).unwrap();
    let left = expires.signed_duration_since(chrono::Utc::now()).num_seconds();
    assert!((3500..=3600).contains(&left), "{left}");
    let claims = fake.claims.lock().unwrap().clone();
    assert_eq!(claims.len(), 1);
    assert_eq!(claims[0]["iss"], json!("baton@p1.iam.gserviceaccount.com"));
    assert_eq!(
        claims[0]["scope"],
        json!("https://www.googleapis.com/auth/bigquery https://www.googleapis.com/auth/devstorage.read_only")
    );
    // the key never shows in the logs
    let logs = h.logs(&e.id).await.join("\n");
    assert!(!logs.contains("BEGIN PRIVATE KEY") && logs.contains("baton@p1.iam.gserviceaccount.com"), "{logs}");
}
