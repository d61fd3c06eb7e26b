//! Verifies the caller of a push endpoint: Pub/Sub push carries a
//! Google-signed OIDC ID token in `Authorization: Bearer …`. Accepted only
//! if it is RS256-signed by a key of Google's JWKS (cached by `kid`,
//! refetched when an unknown `kid` shows up), its `aud` is the configured
//! audience, its `iss` is Google's, its `email` is the configured push
//! service account with `email_verified`, and it has not expired.
//! Anything else is rejected (the server answers 401).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::{Mutex, RwLock};

/// Google's signing keys for ID tokens.
pub const GOOGLE_JWKS_URL: &str = "https://www.googleapis.com/oauth2/v3/certs";
/// The issuers Google puts in ID tokens.
pub const GOOGLE_ISSUERS: [&str; 2] = ["https://accounts.google.com", "accounts.google.com"];

/// What a token must say.
#[derive(Debug, Clone)]
pub struct OidcConfig {
    /// The push subscription's `oidc_token.audience` (the service URL by default).
    pub audience: String,
    /// The push subscription's `oidc_token.service_account_email`.
    pub service_account: String,
    /// Where the signing keys are ([`GOOGLE_JWKS_URL`]; tests serve their own).
    pub jwks_url: String,
    /// The least time between two key fetches caused by unknown `kid`s, so
    /// that garbage tokens cannot make us hammer the JWKS endpoint.
    pub min_refresh: Duration,
    /// Clock skew tolerated on `exp`, in seconds.
    pub leeway: u64,
}

impl OidcConfig {
    /// Google's keys and issuers, for `audience` and `service_account`.
    pub fn google(audience: &str, service_account: &str) -> OidcConfig {
        OidcConfig {
            audience: audience.to_string(),
            service_account: service_account.to_string(),
            jwks_url: GOOGLE_JWKS_URL.to_string(),
            min_refresh: Duration::from_secs(5),
            leeway: 30,
        }
    }
}

/// Why a caller was rejected.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("no Authorization header")]
    Missing,
    #[error("the Authorization header is not `Bearer <token>`")]
    NotBearer,
    #[error("malformed token: {0}")]
    Malformed(String),
    #[error("token algorithm {0:?} is not RS256")]
    Algorithm(Algorithm),
    #[error("token has no `kid`")]
    NoKid,
    #[error("token signed with unknown key `{0}`")]
    UnknownKey(String),
    #[error("cannot fetch the signing keys from {url}: {message}")]
    Keys { url: String, message: String },
    #[error("token rejected: {0}")]
    Invalid(String),
    #[error("token email {found:?} is not the push service account {expected}")]
    WrongEmail { expected: String, found: Option<String> },
    #[error("token email {0} is not verified")]
    Unverified(String),
}

impl AuthError {
    /// A failure on our side (the keys could not be fetched), not the caller's.
    pub fn is_transient(&self) -> bool {
        matches!(self, AuthError::Keys { .. })
    }
}

/// The claims of a Google ID token that matter here.
#[derive(Debug, Clone, Deserialize)]
pub struct GoogleClaims {
    #[serde(default)]
    pub email: Option<String>,
    /// A boolean in Google's tokens; the string "true" is tolerated.
    #[serde(default)]
    pub email_verified: Option<Value>,
    #[serde(default)]
    pub sub: Option<String>,
    pub exp: u64,
}

#[derive(Deserialize)]
struct Jwks {
    keys: Vec<Jwk>,
}

#[derive(Deserialize)]
struct Jwk {
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    kty: String,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
}

/// Verifies push tokens, with the signing keys cached by `kid`.
pub struct OidcVerifier {
    cfg: OidcConfig,
    http: reqwest::Client,
    keys: RwLock<HashMap<String, DecodingKey>>,
    last_fetch: Mutex<Option<Instant>>,
}

impl OidcVerifier {
    pub fn new(cfg: OidcConfig, http: reqwest::Client) -> OidcVerifier {
        OidcVerifier { cfg, http, keys: RwLock::new(HashMap::new()), last_fetch: Mutex::new(None) }
    }

    pub fn config(&self) -> &OidcConfig {
        &self.cfg
    }

    /// Checks an `Authorization` header value; returns the token's claims.
    pub async fn verify(&self, authorization: Option<&str>) -> Result<GoogleClaims, AuthError> {
        let header = authorization.ok_or(AuthError::Missing)?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(AuthError::NotBearer)?;
        let head = jsonwebtoken::decode_header(token).map_err(|e| AuthError::Malformed(e.to_string()))?;
        if head.alg != Algorithm::RS256 {
            return Err(AuthError::Algorithm(head.alg));
        }
        let kid = head.kid.ok_or(AuthError::NoKid)?;
        let key = self.key(&kid).await?;
        let mut v = Validation::new(Algorithm::RS256);
        v.set_audience(&[&self.cfg.audience]);
        v.set_issuer(&GOOGLE_ISSUERS);
        v.set_required_spec_claims(&["exp", "aud", "iss"]);
        v.leeway = self.cfg.leeway;
        let data = jsonwebtoken::decode::<GoogleClaims>(token, &key, &v).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            match e.kind() {
                ErrorKind::InvalidToken | ErrorKind::Base64(_) | ErrorKind::Json(_) | ErrorKind::Utf8(_) => {
                    AuthError::Malformed(e.to_string())
                }
                ErrorKind::InvalidAudience => AuthError::Invalid(format!("audience is not {}", self.cfg.audience)),
                ErrorKind::InvalidIssuer => AuthError::Invalid("issuer is not Google's".into()),
                ErrorKind::ExpiredSignature => AuthError::Invalid("token expired".into()),
                ErrorKind::InvalidSignature => AuthError::Invalid("bad signature".into()),
                _ => AuthError::Invalid(e.to_string()),
            }
        })?;
        let claims = data.claims;
        if claims.email.as_deref() != Some(self.cfg.service_account.as_str()) {
            return Err(AuthError::WrongEmail { expected: self.cfg.service_account.clone(), found: claims.email });
        }
        let verified = match &claims.email_verified {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => s == "true",
            _ => false,
        };
        if !verified {
            return Err(AuthError::Unverified(self.cfg.service_account.clone()));
        }
        Ok(claims)
    }

    /// The key `kid`, fetching the key set when it is not cached.
    async fn key(&self, kid: &str) -> Result<DecodingKey, AuthError> {
        if let Some(k) = self.keys.read().await.get(kid) {
            return Ok(k.clone());
        }
        {
            let mut last = self.last_fetch.lock().await;
            // someone may have fetched while we waited
            if let Some(k) = self.keys.read().await.get(kid) {
                return Ok(k.clone());
            }
            if last.is_some_and(|t| t.elapsed() < self.cfg.min_refresh) {
                return Err(AuthError::UnknownKey(kid.to_string()));
            }
            let fresh = self.fetch().await?;
            *last = Some(Instant::now());
            *self.keys.write().await = fresh;
        }
        self.keys.read().await.get(kid).cloned().ok_or_else(|| AuthError::UnknownKey(kid.to_string()))
    }

    async fn fetch(&self) -> Result<HashMap<String, DecodingKey>, AuthError> {
        let url = &self.cfg.jwks_url;
        let err = |message: String| AuthError::Keys { url: url.clone(), message };
        let resp = self.http.get(url).send().await.map_err(|e| err(e.to_string()))?;
        if !resp.status().is_success() {
            return Err(err(format!("HTTP {}", resp.status())));
        }
        let set: Jwks = resp.json().await.map_err(|e| err(format!("not a JWKS: {e}")))?;
        let mut keys = HashMap::new();
        for k in set.keys {
            let (Some(kid), Some(n), Some(e)) = (k.kid, k.n, k.e) else { continue };
            if k.kty != "RSA" {
                continue;
            }
            match DecodingKey::from_rsa_components(&n, &e) {
                Ok(key) => {
                    keys.insert(kid, key);
                }
                Err(e) => tracing::warn!(kid, error = %e, "skipping an unusable JWKS key"),
            }
        }
        tracing::debug!(url, keys = keys.len(), "fetched push token signing keys");
        Ok(keys)
    }
}
