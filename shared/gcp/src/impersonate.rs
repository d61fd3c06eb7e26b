//! `impersonatedServiceAccount`: short-lived tokens for another service
//! account from the IAM Credentials API (`generateAccessToken`), obtained
//! with the source credentials and cached until five minutes before they
//! expire. The endpoint is configurable so tests can stand in for Google.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use google_cloud_auth::credentials::{
    AccessToken, AccessTokenCredentials, AccessTokenCredentialsProvider, CacheableResource, CredentialsProvider,
    EntityTag,
};
use google_cloud_auth::errors::CredentialsError;
use http::{Extensions, HeaderMap, HeaderValue};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::Mutex;

/// How long a token is asked for.
const LIFETIME: &str = "3600s";
/// Refresh this long before the token expires.
const MARGIN: Duration = Duration::from_secs(300);

#[derive(Debug)]
struct Cached {
    token: String,
    tag: EntityTag,
    refresh_at: Instant,
}

/// Tokens for `target`, minted with `source`.
#[derive(Debug)]
pub struct Impersonated {
    source: AccessTokenCredentials,
    target: String,
    scopes: Vec<String>,
    endpoint: String,
    http: reqwest::Client,
    cached: Mutex<Option<Cached>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GenerateResponse {
    access_token: String,
    expire_time: Option<String>,
}

impl Impersonated {
    pub fn new(
        source: AccessTokenCredentials,
        target: &str,
        scopes: Vec<String>,
        endpoint: &str,
        http: reqwest::Client,
    ) -> Impersonated {
        Impersonated {
            source,
            target: target.to_string(),
            scopes,
            endpoint: endpoint.trim_end_matches('/').to_string(),
            http,
            cached: Mutex::new(None),
        }
    }

    async fn fetch(&self) -> Result<(String, Instant), CredentialsError> {
        let source = self.source.access_token().await?;
        let url = format!(
            "{}/v1/projects/-/serviceAccounts/{}:generateAccessToken",
            self.endpoint,
            super::percent::encode(&self.target)
        );
        let resp = self
            .http
            .post(&url)
            .bearer_auth(source.token)
            .json(&json!({"scope": self.scopes, "lifetime": LIFETIME}))
            .send()
            .await
            .map_err(|e| CredentialsError::from_msg(true, format!("cannot reach {}: {e}", self.endpoint)))?;
        let status = resp.status();
        if !status.is_success() {
            let body = resp.text().await.unwrap_or_default();
            let message = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
                .unwrap_or_else(|| body.chars().take(300).collect());
            return Err(CredentialsError::from_msg(
                status.is_server_error() || status.as_u16() == 429,
                format!("impersonating {} was refused (HTTP {}): {message}", self.target, status.as_u16()),
            ));
        }
        let body: GenerateResponse = resp
            .json()
            .await
            .map_err(|e| CredentialsError::from_msg(false, format!("unexpected generateAccessToken response: {e}")))?;
        let lifetime = body
            .expire_time
            .as_deref()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .and_then(|t| (t.with_timezone(&Utc) - Utc::now()).to_std().ok())
            .unwrap_or(Duration::from_secs(3600));
        Ok((body.access_token, Instant::now() + lifetime.saturating_sub(MARGIN)))
    }

    /// The current token, fetched or refreshed when needed.
    async fn current(&self) -> Result<(String, EntityTag), CredentialsError> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref().filter(|c| Instant::now() < c.refresh_at) {
            return Ok((c.token.clone(), c.tag.clone()));
        }
        let (token, refresh_at) = self.fetch().await?;
        let tag = EntityTag::new();
        *cached = Some(Cached { token: token.clone(), tag: tag.clone(), refresh_at });
        Ok((token, tag))
    }
}

impl CredentialsProvider for Impersonated {
    async fn headers(&self, extensions: Extensions) -> Result<CacheableResource<HeaderMap>, CredentialsError> {
        let (token, tag) = self.current().await?;
        if extensions.get::<EntityTag>() == Some(&tag) {
            return Ok(CacheableResource::NotModified);
        }
        let mut value = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|e| CredentialsError::from_msg(false, format!("unusable token: {e}")))?;
        value.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert(http::header::AUTHORIZATION, value);
        Ok(CacheableResource::New { entity_tag: tag, data: headers })
    }

    async fn universe_domain(&self) -> Option<String> {
        Some("googleapis.com".to_string())
    }
}

impl AccessTokenCredentialsProvider for Impersonated {
    async fn access_token(&self) -> Result<AccessToken, CredentialsError> {
        Ok(AccessToken { token: self.current().await?.0 })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex as StdMutex;

    use super::*;
    use crate::auth::{AuthSpec, GcpCredentials};
    use baton_backend::test_http::{Req, Resp, serve};

    #[tokio::test]
    async fn mints_and_caches_a_token_for_the_target() {
        let Some(key) = crate::auth::tests::test_key() else {
            panic!("openssl is needed to make a test RSA key");
        };
        static SEEN: StdMutex<Vec<Req>> = StdMutex::new(Vec::new());
        fn iam(r: &Req) -> Resp {
            SEEN.lock().unwrap().push(r.clone());
            if r.path == "/v1/projects/-/serviceAccounts/target%40p1.iam.gserviceaccount.com:generateAccessToken" {
                Resp::new(200, r#"{"accessToken":"minted-1","expireTime":"2999-01-01T00:00:00Z"}"#)
            } else {
                Resp::new(
                    403,
                    r#"{"error":{"code":403,"message":"Permission 'iam.serviceAccounts.getAccessToken' denied"}}"#,
                )
            }
        }
        let base = serve(iam).await;
        let spec = AuthSpec {
            key: Some(key),
            scopes: vec!["https://www.googleapis.com/auth/bigquery".into()],
            impersonate: Some("target@p1.iam.gserviceaccount.com".into()),
        };
        let creds = GcpCredentials::build(&spec, &base, reqwest::Client::new()).unwrap();
        assert_eq!(creds.bearer().await.unwrap().as_deref(), Some("minted-1"));
        assert_eq!(creds.bearer().await.unwrap().as_deref(), Some("minted-1"));
        let reqs = SEEN.lock().unwrap().clone();
        assert_eq!(reqs.len(), 1, "the token is cached");
        let body: serde_json::Value = serde_json::from_slice(&reqs[0].body).unwrap();
        assert_eq!(body["scope"], json!(["https://www.googleapis.com/auth/bigquery"]));
        assert!(reqs[0].header("authorization").unwrap().starts_with("Bearer ey"), "source token is a signed JWT");

        let spec = AuthSpec { impersonate: Some("other@p1.iam.gserviceaccount.com".into()), ..spec };
        let creds = GcpCredentials::build(&spec, &base, reqwest::Client::new()).unwrap();
        let e = creds.bearer().await.unwrap_err().to_string();
        assert!(e.contains("impersonating other@p1.iam.gserviceaccount.com was refused (HTTP 403)"), "{e}");
        assert!(e.contains("Permission 'iam.serviceAccounts.getAccessToken' denied"), "{e}");
    }
}
