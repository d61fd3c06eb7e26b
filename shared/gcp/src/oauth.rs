//! OAuth access tokens handed to a flow (`auth.OauthAccessToken`), and ID
//! tokens for `function.HttpFunction` ([`id_token`]), as
//! Kestra's `GoogleCredentials.refreshAccessToken()` makes them:
//!
//! - with a service-account key (and no impersonation): Google's OAuth 2.0
//!   JWT-bearer grant — an RS256 assertion (`iss` the account, `scope`,
//!   `aud` the token endpoint, one hour) signed with the key and posted to
//!   the key's `token_uri` (Google's `https://oauth2.googleapis.com/token`
//!   unless the key names another) — so the token is a real OAuth access
//!   token, not the self-signed JWT Google's client libraries send to
//!   Google APIs themselves;
//! - otherwise (Application Default Credentials, impersonation): the token
//!   those credentials hold, refreshed when due (its expiry is not known:
//!   Google's Rust credentials do not tell it).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use serde_json::{Value, json};

use super::auth::{AuthError, AuthSpec, GcpCredentials};

/// Google's OAuth 2.0 token endpoint.
pub const TOKEN_URI_DEFAULT: &str = "https://oauth2.googleapis.com/token";
/// How long an assertion is valid (Google's maximum).
const ASSERTION_TTL: Duration = Duration::from_secs(3600);

/// An access token with what Kestra outputs of it.
#[derive(Clone)]
pub struct OAuthToken {
    pub token: String,
    /// When it expires, if known.
    pub expires_at: Option<SystemTime>,
    pub scopes: Vec<String>,
}

impl std::fmt::Debug for OAuthToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthToken").field("expires_at", &self.expires_at).field("scopes", &self.scopes).finish()
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn token_error(spec: &AuthSpec, message: impl Into<String>) -> AuthError {
    AuthError::Token { who: spec.describe(), message: message.into() }
}

/// Google's OAuth 2.0 JWT-bearer grant for `key`: an RS256 assertion (`iss`
/// the account, `aud` the token endpoint, one hour, plus `claims`) posted
/// to the key's `token_uri`; the endpoint and its JSON answer.
async fn grant(
    spec: &AuthSpec,
    key: &super::ServiceAccountKey,
    claims: Value,
    http: &reqwest::Client,
) -> Result<(String, Value), AuthError> {
    let token_uri = key.json()["token_uri"].as_str().filter(|u| !u.trim().is_empty()).unwrap_or(TOKEN_URI_DEFAULT);
    let signer = google_cloud_auth::credentials::service_account::Builder::new(key.json().clone())
        .build_signer()
        .map_err(|e| AuthError::Build(format!("the service account key of {} was refused: {e}", key.client_email())))?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    let mut header = json!({"alg": "RS256", "typ": "JWT"});
    if let Some(kid) = key.json()["private_key_id"].as_str() {
        header["kid"] = json!(kid);
    }
    let mut all = json!({
        "iss": key.client_email(), "aud": token_uri, "iat": now, "exp": now + ASSERTION_TTL.as_secs(),
    });
    if let (Some(all), Value::Object(extra)) = (all.as_object_mut(), claims) {
        all.extend(extra);
    }
    let unsigned = format!("{}.{}", b64(header.to_string().as_bytes()), b64(all.to_string().as_bytes()));
    let signature = signer.sign(unsigned.as_bytes()).await.map_err(|e| token_error(spec, e.to_string()))?;
    let assertion = format!("{unsigned}.{}", b64(&signature));
    let resp = http
        .post(token_uri)
        .form(&[("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"), ("assertion", &assertion)])
        .send()
        .await
        .map_err(|e| token_error(spec, format!("cannot reach {token_uri}: {}", super::causes(&e))))?;
    let status = resp.status();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        let why = body["error_description"].as_str().or(body["error"].as_str()).unwrap_or("no details");
        return Err(token_error(spec, format!("{token_uri} answered HTTP {}: {why}", status.as_u16())));
    }
    Ok((token_uri.to_string(), body))
}

/// The metadata server's host (`GCE_METADATA_HOST`, as Google's libraries read it).
pub const METADATA_HOST_DEFAULT: &str = "metadata.google.internal";

/// A Google-signed ID token for `audience` (`function.HttpFunction`):
/// with a key, the JWT-bearer grant with `target_audience` (what Kestra's
/// `IdTokenCredentials` does); without one, the metadata server's
/// `identity` endpoint at `metadata_host` (Cloud Run, GCE). Impersonation
/// is refused, as Kestra's cast to a service-account credential refuses it.
pub async fn id_token(
    spec: &AuthSpec,
    audience: &str,
    metadata_host: &str,
    http: &reqwest::Client,
) -> Result<String, AuthError> {
    if spec.impersonate.is_some() {
        return Err(token_error(spec, "an ID token cannot be made for an impersonated service account"));
    }
    match &spec.key {
        Some(key) => {
            let (token_uri, body) = grant(spec, key, json!({"target_audience": audience}), http).await?;
            body["id_token"]
                .as_str()
                .filter(|t| !t.is_empty())
                .map(str::to_string)
                .ok_or_else(|| token_error(spec, format!("{token_uri} gave no id_token")))
        }
        None => {
            let host = super::endpoints::emulator_root(metadata_host);
            let url = format!("{host}/computeMetadata/v1/instance/service-accounts/default/identity");
            let resp = http
                .get(&url)
                .query(&[("audience", audience), ("format", "full")])
                .header("Metadata-Flavor", "Google")
                .send()
                .await
                .map_err(|e| {
                    token_error(
                        spec,
                        format!(
                            "no serviceAccount is set and the metadata server {url} cannot be reached: {} \
                             (set serviceAccount, or run on Google Cloud)",
                            super::causes(&e)
                        ),
                    )
                })?;
            let status = resp.status();
            let text = resp.text().await.unwrap_or_default();
            if !status.is_success() || text.trim().is_empty() {
                return Err(token_error(spec, format!("{url} answered HTTP {}: {}", status.as_u16(), text.trim())));
            }
            Ok(text.trim().to_string())
        }
    }
}

/// A fresh OAuth access token for `spec` (see the module documentation).
pub async fn access_token(
    spec: &AuthSpec,
    iam_endpoint: &str,
    http: &reqwest::Client,
) -> Result<OAuthToken, AuthError> {
    let scopes = spec.effective_scopes();
    match (&spec.key, &spec.impersonate) {
        (Some(key), None) => {
            let (token_uri, body) = grant(spec, key, json!({"scope": scopes.join(" ")}), http).await?;
            let token = body["access_token"]
                .as_str()
                .filter(|t| !t.is_empty())
                .ok_or_else(|| token_error(spec, format!("{token_uri} gave no access_token")))?;
            let expires_at = body["expires_in"].as_u64().map(|s| SystemTime::now() + Duration::from_secs(s));
            let scopes = match body["scope"].as_str() {
                Some(s) if !s.trim().is_empty() => s.split_whitespace().map(str::to_string).collect(),
                _ => scopes,
            };
            Ok(OAuthToken { token: token.to_string(), expires_at, scopes })
        }
        _ => {
            let creds = GcpCredentials::build(spec, iam_endpoint, http.clone())?;
            let token = creds.bearer().await?.ok_or_else(|| token_error(spec, "the credentials are anonymous"))?;
            // (Google's access-token credentials do not say when it expires)
            Ok(OAuthToken { token, expires_at: None, scopes })
        }
    }
}
