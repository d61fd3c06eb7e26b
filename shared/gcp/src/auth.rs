//! Credentials for Google APIs, from what a task says: a `serviceAccount`
//! key with `scopes`, optionally `impersonatedServiceAccount`, or — with no
//! key — Application Default Credentials (`GOOGLE_APPLICATION_CREDENTIALS`,
//! the gcloud ADC file, or the metadata server on Cloud Run). Emulators get
//! anonymous credentials. Tokens are cached and refreshed by the credential
//! objects themselves; [`super::ClientCache`] keeps one per [`AuthSpec`].

use google_cloud_auth::credentials::service_account::AccessSpecifier;
use google_cloud_auth::credentials::{AccessTokenCredentials, Credentials};
use sha2::{Digest, Sha256};

use super::impersonate::Impersonated;
use super::key::{KeyError, ServiceAccountKey};

/// Why credentials could not be made or used. Messages never contain keys or tokens.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("invalid serviceAccount: {0}")]
    Key(#[from] KeyError),
    #[error("cannot set up Google credentials: {0}")]
    Build(String),
    #[error("cannot get a Google access token {who}: {message}")]
    Token { who: String, message: String },
}

/// What credentials a task asks for.
#[derive(Debug, Clone, Default)]
pub struct AuthSpec {
    /// The service-account key; `None`: Application Default Credentials.
    pub key: Option<ServiceAccountKey>,
    /// OAuth scopes (Kestra's default: cloud-platform).
    pub scopes: Vec<String>,
    /// A service account to impersonate through the IAM Credentials API.
    pub impersonate: Option<String>,
}

impl AuthSpec {
    /// The scopes, or cloud-platform when none are given.
    pub fn effective_scopes(&self) -> Vec<String> {
        if self.scopes.is_empty() { vec![super::CLOUD_PLATFORM_SCOPE.to_string()] } else { self.scopes.clone() }
    }

    /// A stable key for caches: a hash of the key, the scopes and the
    /// impersonated account (never the key itself).
    pub fn cache_key(&self) -> String {
        let mut h = Sha256::new();
        h.update(self.key.as_ref().map(ServiceAccountKey::fingerprint).unwrap_or("adc"));
        for s in self.effective_scopes() {
            h.update(b"\0scope:");
            h.update(s.as_bytes());
        }
        if let Some(t) = &self.impersonate {
            h.update(b"\0as:");
            h.update(t.as_bytes());
        }
        format!("{:x}", h.finalize())
    }

    /// Who the credentials act as, for messages.
    pub fn describe(&self) -> String {
        let base = match &self.key {
            Some(k) => format!("for service account {}", k.client_email()),
            None => "from Application Default Credentials".to_string(),
        };
        match &self.impersonate {
            Some(t) => format!("{base} impersonating {t}"),
            None => base,
        }
    }
}

#[derive(Clone, Debug)]
enum Kind {
    Anonymous,
    Token { creds: AccessTokenCredentials, who: String },
}

/// Credentials for one [`AuthSpec`] (or anonymous ones for an emulator).
#[derive(Clone, Debug)]
pub struct GcpCredentials {
    kind: Kind,
}

impl GcpCredentials {
    /// No credentials: requests carry no `Authorization` header (emulators).
    pub fn anonymous() -> GcpCredentials {
        GcpCredentials { kind: Kind::Anonymous }
    }

    /// Builds credentials for `spec`. Nothing is fetched yet: a missing
    /// metadata server or a refused key shows on the first [`bearer`](Self::bearer).
    pub fn build(spec: &AuthSpec, iam_endpoint: &str, http: reqwest::Client) -> Result<GcpCredentials, AuthError> {
        let scopes = spec.effective_scopes();
        // Impersonation needs the source to be allowed to call the IAM API.
        let source_scopes =
            if spec.impersonate.is_some() { vec![super::CLOUD_PLATFORM_SCOPE.to_string()] } else { scopes.clone() };
        let source = match &spec.key {
            Some(key) => google_cloud_auth::credentials::service_account::Builder::new(key.json().clone())
                .with_access_specifier(AccessSpecifier::from_scopes(source_scopes))
                .build_access_token_credentials()
                .map_err(|e| {
                    AuthError::Build(format!("the service account key of {} was refused: {e}", key.client_email()))
                })?,
            None => google_cloud_auth::credentials::Builder::default()
                .with_scopes(source_scopes)
                .build_access_token_credentials()
                .map_err(|e| {
                    AuthError::Build(format!(
                        "no serviceAccount is set and Application Default Credentials are not usable: {e} \
                         (set serviceAccount, or GOOGLE_APPLICATION_CREDENTIALS, or run on Google Cloud)"
                    ))
                })?,
        };
        let creds = match &spec.impersonate {
            Some(target) => AccessTokenCredentials::from(Impersonated::new(source, target, scopes, iam_endpoint, http)),
            None => source,
        };
        Ok(GcpCredentials { kind: Kind::Token { creds, who: spec.describe() } })
    }

    /// True for anonymous (emulator) credentials.
    pub fn is_anonymous(&self) -> bool {
        matches!(self.kind, Kind::Anonymous)
    }

    /// The OAuth access token to send as `Authorization: Bearer …`, or
    /// `None` for anonymous credentials.
    pub async fn bearer(&self) -> Result<Option<String>, AuthError> {
        match &self.kind {
            Kind::Anonymous => Ok(None),
            Kind::Token { creds, who } => creds
                .access_token()
                .await
                .map(|t| Some(t.token))
                .map_err(|e| AuthError::Token { who: who.clone(), message: e.to_string() }),
        }
    }

    /// Adds the `Authorization` header (if any) to a request.
    pub async fn authorize(&self, rb: reqwest::RequestBuilder) -> Result<reqwest::RequestBuilder, AuthError> {
        Ok(match self.bearer().await? {
            Some(token) => rb.bearer_auth(token),
            None => rb,
        })
    }

    /// The same credentials for Google's client libraries (GCS data plane).
    pub fn for_client_libraries(&self) -> Credentials {
        match &self.kind {
            Kind::Anonymous => google_cloud_auth::credentials::anonymous::Builder::new().build(),
            Kind::Token { creds, .. } => Credentials::from(creds.clone()),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use base64::Engine;
    use serde_json::json;

    use super::*;

    #[test]
    fn cache_keys_follow_key_scopes_and_impersonation() {
        let a = AuthSpec::default();
        let mut b = AuthSpec { scopes: vec![crate::CLOUD_PLATFORM_SCOPE.to_string()], ..AuthSpec::default() };
        assert_eq!(a.cache_key(), b.cache_key(), "the default scope is cloud-platform");
        b.scopes = vec!["https://www.googleapis.com/auth/bigquery".into()];
        assert_ne!(a.cache_key(), b.cache_key());
        let c = AuthSpec { impersonate: Some("x@p.iam.gserviceaccount.com".into()), ..AuthSpec::default() };
        assert_ne!(a.cache_key(), c.cache_key());
        assert!(c.describe().contains("impersonating x@p"));
    }

    /// A real RSA key, made by `openssl` for this test only.
    pub(crate) fn test_key() -> Option<ServiceAccountKey> {
        let out = std::process::Command::new("openssl")
            .args(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"])
            .output()
            .ok()?;
        let pem = String::from_utf8(out.stdout).ok()?;
        if !pem.contains("BEGIN PRIVATE KEY") {
            return None;
        }
        ServiceAccountKey::from_value(json!({
            "type": "service_account", "project_id": "p1", "private_key_id": "kid1", "private_key": pem,
            "client_email": "baton@p1.iam.gserviceaccount.com", "token_uri": "http://127.0.0.1:9/token"
        }))
        .ok()
    }

    #[tokio::test]
    async fn a_service_account_key_signs_its_own_token_offline() {
        let Some(key) = test_key() else {
            panic!("openssl is needed to make a test RSA key");
        };
        let spec = AuthSpec { key: Some(key), scopes: vec![], impersonate: None };
        let creds = GcpCredentials::build(&spec, "http://127.0.0.1:9", reqwest::Client::new()).unwrap();
        let token = creds.bearer().await.unwrap().unwrap();
        // A self-signed JWT: header.claims.signature, claims naming the account and scope.
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3, "{token}");
        let claims = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(parts[1]).unwrap();
        let claims: serde_json::Value = serde_json::from_slice(&claims).unwrap();
        assert_eq!(claims["iss"], "baton@p1.iam.gserviceaccount.com");
        assert_eq!(claims["scope"], crate::CLOUD_PLATFORM_SCOPE);
        // The same credentials hand out the cached token.
        assert_eq!(creds.bearer().await.unwrap().unwrap(), token);
        assert!(GcpCredentials::anonymous().bearer().await.unwrap().is_none());
    }
}
