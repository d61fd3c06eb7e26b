//! One credential object and one client per (credential, endpoint), shared
//! by every task that asks for the same key, scopes and impersonation —
//! so a flow's tasks reuse tokens and connections instead of minting a
//! token per task. Keys are hashes ([`AuthSpec::cache_key`]), never keys.
//! The cache is owned by the engine's plugin configuration, not global.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::auth::{AuthError, AuthSpec, GcpCredentials};
use super::bigquery::{BigQueryClient, BqError};
use super::endpoints::Endpoints;
use super::gcs::GcsClient;

/// Entries kept per map before it is emptied (a flow uses a handful).
const MAX_ENTRIES: usize = 64;

/// Cached credentials and clients.
#[derive(Default)]
pub struct ClientCache {
    creds: Mutex<HashMap<String, GcpCredentials>>,
    gcs: Mutex<HashMap<String, Arc<GcsClient>>>,
    bigquery: Mutex<HashMap<String, Arc<BigQueryClient>>>,
}

impl std::fmt::Debug for ClientCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = |m: &Mutex<HashMap<String, _>>| m.lock().map(|m| m.len()).unwrap_or(0);
        f.debug_struct("ClientCache")
            .field("credentials", &n(&self.creds))
            .field("gcs", &self.gcs.lock().map(|m| m.len()).unwrap_or(0))
            .field("bigquery", &self.bigquery.lock().map(|m| m.len()).unwrap_or(0))
            .finish()
    }
}

fn get<T: Clone>(map: &Mutex<HashMap<String, T>>, key: &str) -> Option<T> {
    map.lock().ok().and_then(|m| m.get(key).cloned())
}

fn put<T>(map: &Mutex<HashMap<String, T>>, key: String, value: T) {
    if let Ok(mut m) = map.lock() {
        if m.len() >= MAX_ENTRIES {
            m.clear();
        }
        m.insert(key, value);
    }
}

impl ClientCache {
    pub fn new() -> ClientCache {
        ClientCache::default()
    }

    /// Credentials for `spec`; anonymous when `emulator`.
    pub fn credentials(
        &self,
        spec: &AuthSpec,
        emulator: bool,
        endpoints: &Endpoints,
        http: &reqwest::Client,
    ) -> Result<GcpCredentials, AuthError> {
        if emulator {
            return Ok(GcpCredentials::anonymous());
        }
        let key = spec.cache_key();
        if let Some(c) = get(&self.creds, &key) {
            return Ok(c);
        }
        let c = GcpCredentials::build(spec, &endpoints.iam_credentials, http.clone())?;
        put(&self.creds, key, c.clone());
        Ok(c)
    }

    /// The GCS client for `spec` at `endpoints.storage`.
    pub fn gcs(
        &self,
        spec: &AuthSpec,
        endpoints: &Endpoints,
        http: &reqwest::Client,
    ) -> Result<Arc<GcsClient>, AuthError> {
        let key = format!(
            "{}|{}",
            endpoints.storage,
            if endpoints.storage_emulator { "anonymous".into() } else { spec.cache_key() }
        );
        if let Some(c) = get(&self.gcs, &key) {
            return Ok(c);
        }
        let creds = self.credentials(spec, endpoints.storage_emulator, endpoints, http)?;
        let c = Arc::new(GcsClient::new(&endpoints.storage, creds, http.clone()));
        put(&self.gcs, key, c.clone());
        Ok(c)
    }

    /// The BigQuery client for `spec` at `endpoints.bigquery`.
    pub async fn bigquery(
        &self,
        spec: &AuthSpec,
        endpoints: &Endpoints,
        http: &reqwest::Client,
    ) -> Result<Arc<BigQueryClient>, BqError> {
        let key = format!(
            "{}|{}",
            endpoints.bigquery,
            if endpoints.bigquery_emulator { "anonymous".into() } else { spec.cache_key() }
        );
        if let Some(c) = get(&self.bigquery, &key) {
            return Ok(c);
        }
        let creds = self.credentials(spec, endpoints.bigquery_emulator, endpoints, http)?;
        let c = Arc::new(BigQueryClient::new(endpoints, creds, http.clone()).await?);
        put(&self.bigquery, key, c.clone());
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn clients_are_shared_per_credential_and_endpoint() {
        let cache = ClientCache::new();
        let http = reqwest::Client::new();
        let emu = Endpoints::default().with_storage_emulator("127.0.0.1:1").with_bigquery_emulator("127.0.0.1:2");
        let spec = AuthSpec::default();
        let a = cache.gcs(&spec, &emu, &http).unwrap();
        let b = cache.gcs(&AuthSpec { scopes: vec!["x".into()], ..spec.clone() }, &emu, &http).unwrap();
        assert!(Arc::ptr_eq(&a, &b), "an emulator ignores credentials: one client");
        let q1 = cache.bigquery(&spec, &emu, &http).await.unwrap();
        let q2 = cache.bigquery(&spec, &emu, &http).await.unwrap();
        assert!(Arc::ptr_eq(&q1, &q2));
        let other = Endpoints::default().with_storage_emulator("127.0.0.1:3");
        let c = cache.gcs(&spec, &other, &http).unwrap();
        assert!(!Arc::ptr_eq(&a, &c));
    }
}
