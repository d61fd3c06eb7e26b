//! Push caller verification: tokens signed like Google's (RS256, `kid`)
//! with the test keys of `tests/fixtures/keys`, checked against a JWKS
//! served locally. Only a token of the configured audience, issuer and
//! verified service account, unexpired and correctly signed, gets in.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use e2e::functions::{Cluster, ClusterOptions, Effects, push, serve};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use shared::functions::oidc::{OidcConfig, OidcVerifier};
use shared::functions::relay::RelayOptions;
use shared::functions::server::PushAuth;
use shared::model::StateType;

const TEST_KEY: &[u8] = include_bytes!("../../fixtures/keys/test-rsa.pem");
const OTHER_KEY: &[u8] = include_bytes!("../../fixtures/keys/other-rsa.pem");
const JWKS: &str = include_str!("../../fixtures/keys/test-jwks.json");
const ROTATED_JWKS: &str = include_str!("../../fixtures/keys/rotated-jwks.json");

const AUDIENCE: &str = "https://executor-abc123-ew.a.run.app";
const ACCOUNT: &str = "baton-push@test-proj.iam.gserviceaccount.com";

/// A JWKS endpoint whose key set a test can change, counting fetches.
struct Jwks {
    url: String,
    keys: Arc<Mutex<Option<Value>>>,
    fetches: Arc<AtomicU32>,
    _served: e2e::functions::Served,
}

type JwksState = (Arc<Mutex<Option<Value>>>, Arc<AtomicU32>);

async fn certs(State((keys, fetches)): State<JwksState>) -> Result<axum::Json<Value>, StatusCode> {
    fetches.fetch_add(1, Ordering::SeqCst);
    let keys = keys.lock().map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?.clone();
    keys.map(axum::Json).ok_or(StatusCode::INTERNAL_SERVER_ERROR)
}

impl Jwks {
    async fn start(initial: &str) -> Jwks {
        let keys = Arc::new(Mutex::new(Some(serde_json::from_str::<Value>(initial).expect("jwks json"))));
        let fetches = Arc::new(AtomicU32::new(0));
        let router = axum::Router::new()
            .route("/oauth2/v3/certs", axum::routing::get(certs))
            .with_state((keys.clone(), fetches.clone()));
        let served = serve(router).await;
        Jwks { url: format!("{}oauth2/v3/certs", served.url), keys, fetches, _served: served }
    }

    fn set(&self, jwks: Option<&str>) {
        *self.keys.lock().expect("lock") = jwks.map(|j| serde_json::from_str(j).expect("jwks json"));
    }

    fn fetches(&self) -> u32 {
        self.fetches.load(Ordering::SeqCst)
    }

    fn verifier(&self) -> Arc<OidcVerifier> {
        let cfg = OidcConfig {
            jwks_url: self.url.clone(),
            min_refresh: Duration::ZERO,
            leeway: 0,
            ..OidcConfig::google(AUDIENCE, ACCOUNT)
        };
        Arc::new(OidcVerifier::new(cfg, reqwest::Client::new()))
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Claims as Google puts them in a Pub/Sub push token.
fn claims() -> Value {
    json!({
        "aud": AUDIENCE,
        "azp": "112233445566778899",
        "email": ACCOUNT,
        "email_verified": true,
        "exp": now() + 3600,
        "iat": now(),
        "iss": "https://accounts.google.com",
        "sub": "112233445566778899",
    })
}

fn sign(claims: &Value, key: &[u8], kid: &str) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_string());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_rsa_pem(key).expect("test key")).expect("sign")
}

fn with(change: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Value {
    let mut c = claims();
    if let Some(m) = c.as_object_mut() {
        change(m);
    }
    c
}

const WAKE: &[u8] = br#"{"type":"wake","executionId":"none"}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_google_signed_tokens_of_the_push_account_get_in() {
    let jwks = Jwks::start(JWKS).await;
    let cluster =
        Cluster::start(ClusterOptions { auth: PushAuth::Oidc(jwks.verifier()), ..ClusterOptions::default() }).await;
    let http = &cluster.http;
    let url = &cluster.executor.url;

    let good = sign(&claims(), TEST_KEY, "baton-test-key-1");
    assert_eq!(push(http, url, WAKE, Some(&good)).await, 204, "a valid token is accepted");
    let short_issuer =
        sign(&with(|c| drop(c.insert("iss".into(), json!("accounts.google.com")))), TEST_KEY, "baton-test-key-1");
    assert_eq!(push(http, url, WAKE, Some(&short_issuer)).await, 204, "Google's short issuer is accepted");
    assert_eq!(jwks.fetches(), 1, "keys are cached by kid");

    let rejected = [
        (
            "wrong audience",
            sign(&with(|c| drop(c.insert("aud".into(), json!("https://other.run.app")))), TEST_KEY, "baton-test-key-1"),
        ),
        (
            "wrong issuer",
            sign(
                &with(|c| drop(c.insert("iss".into(), json!("https://evil.example.com")))),
                TEST_KEY,
                "baton-test-key-1",
            ),
        ),
        (
            "wrong email",
            sign(
                &with(|c| drop(c.insert("email".into(), json!("someone@evil.example.com")))),
                TEST_KEY,
                "baton-test-key-1",
            ),
        ),
        ("no email", sign(&with(|c| drop(c.remove("email"))), TEST_KEY, "baton-test-key-1")),
        (
            "unverified email",
            sign(&with(|c| drop(c.insert("email_verified".into(), json!(false)))), TEST_KEY, "baton-test-key-1"),
        ),
        ("expired", sign(&with(|c| drop(c.insert("exp".into(), json!(now() - 600)))), TEST_KEY, "baton-test-key-1")),
        ("no expiry", sign(&with(|c| drop(c.remove("exp"))), TEST_KEY, "baton-test-key-1")),
        ("bad signature", sign(&claims(), OTHER_KEY, "baton-test-key-1")),
        ("unknown key", sign(&claims(), OTHER_KEY, "baton-test-key-9")),
        ("tampered", {
            let t = sign(&claims(), TEST_KEY, "baton-test-key-1");
            let mut parts: Vec<String> = t.split('.').map(String::from).collect();
            let forged = with(|c| drop(c.insert("email".into(), json!("x@evil.example.com"))));
            use base64::Engine as _;
            parts[1] = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(forged.to_string());
            parts.join(".")
        }),
        ("HS256", {
            let mut h = Header::new(Algorithm::HS256);
            h.kid = Some("baton-test-key-1".into());
            jsonwebtoken::encode(&h, &claims(), &EncodingKey::from_secret(b"guess")).expect("hs256")
        }),
        ("garbage", "not.a.token".to_string()),
    ];
    for (what, token) in &rejected {
        assert_eq!(push(http, url, WAKE, Some(token)).await, 401, "{what} must be rejected");
    }
    assert_eq!(push(http, url, WAKE, None).await, 401, "missing header");
    let basic = http.post(url.as_str()).header("authorization", "Basic YTpi").body("{}").send().await.expect("post");
    assert_eq!(basic.status(), 401, "not a bearer token");
    assert_eq!(basic.headers().get("www-authenticate").and_then(|v| v.to_str().ok()), Some("Bearer"));
    // healthz stays open (Cloud Run probes it without a token)
    assert_eq!(http.get(format!("{url}healthz")).send().await.expect("healthz").status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_signing_key_is_fetched_when_its_kid_shows_up() {
    let jwks = Jwks::start(JWKS).await;
    let cluster =
        Cluster::start(ClusterOptions { auth: PushAuth::Oidc(jwks.verifier()), ..ClusterOptions::default() }).await;
    let (http, url) = (&cluster.http, &cluster.executor.url);
    let old = sign(&claims(), TEST_KEY, "baton-test-key-1");
    let new = sign(&claims(), OTHER_KEY, "baton-test-key-2");
    assert_eq!(push(http, url, WAKE, Some(&old)).await, 204);
    assert_eq!(push(http, url, WAKE, Some(&new)).await, 401, "not published yet");
    jwks.set(Some(ROTATED_JWKS));
    assert_eq!(push(http, url, WAKE, Some(&new)).await, 204, "Google rotated its keys: refetched on the unknown kid");
    assert_eq!(push(http, url, WAKE, Some(&old)).await, 204, "the old key stays valid while published");
    let fetched = jwks.fetches();
    assert_eq!(push(http, url, WAKE, Some(&new)).await, 204);
    assert_eq!(jwks.fetches(), fetched, "no refetch for a known kid");
    // keys unreachable and not cached: a failure on our side, so Pub/Sub retries (503), not 401
    jwks.set(None);
    let unknown = sign(&claims(), OTHER_KEY, "baton-test-key-3");
    assert_eq!(push(http, url, WAKE, Some(&unknown)).await, 503);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_execution_runs_with_verified_push_tokens_on_every_hop() {
    let jwks = Jwks::start(JWKS).await;
    let effects = Effects::start().await;
    let token = sign(&claims(), TEST_KEY, "baton-test-key-1");
    let flow = "id: hop\nnamespace: test.functions\ninputs:\n  - id: server\n    type: STRING\ntasks:\n  - id: one\n    type: io.kestra.plugin.core.http.Request\n    uri: \"{{ inputs.server }}/hit/one\"\n  - id: two\n    type: io.kestra.plugin.core.log.Log\n    message: done\n";
    let cluster = Cluster::start(ClusterOptions {
        auth: PushAuth::Oidc(jwks.verifier()),
        relay: RelayOptions { bearer: Some(token), ..RelayOptions::default() },
        flows: vec![("hop.yaml".into(), flow.into())],
        ..ClusterOptions::default()
    })
    .await;
    let id = cluster.launch("test.functions", "hop", json!({"server": effects.url})).await;
    let exec = cluster.wait(&id).await;
    assert_eq!(exec.state.current, StateType::Success);
    assert_eq!(effects.count("hit/one"), 1);
    let stats = cluster.relay.stats();
    assert_eq!(stats.nacked, 0, "every push was accepted: {stats:?}");
}
