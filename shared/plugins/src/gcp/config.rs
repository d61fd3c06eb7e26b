//! Run-time settings of the gcp plugins (part of `PluginConfig`): where
//! GCS and BigQuery are (production, or emulators named by
//! `STORAGE_EMULATOR_HOST` / `BIGQUERY_EMULATOR_HOST`), where the REST APIs
//! without an emulator are (`BATON_GOOGLE_APIS_URL`), the project used
//! when a task and its key name none (`GOOGLE_CLOUD_PROJECT`), and the
//! per-credential client cache shared by every task of this engine.

use std::sync::Arc;

use baton_gcp::{ClientCache, Endpoints};

/// Settings of the gcp plugins.
#[derive(Debug, Clone, Default)]
pub struct GcpConfig {
    /// Service roots (emulators included).
    pub endpoints: Endpoints,
    /// The project when neither `projectId` nor the key gives one.
    pub default_project: Option<String>,
    /// Credentials and clients, one per credential and endpoint.
    pub cache: Arc<ClientCache>,
    /// `BATON_GOOGLE_APIS_URL`: one root for the REST APIs without an
    /// emulator ([`super::rest`]); `None`: each at its Google host.
    pub apis_url: Option<String>,
}

impl GcpConfig {
    /// Reads the settings from the environment.
    pub fn from_env() -> GcpConfig {
        let project = ["GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT"]
            .iter()
            .find_map(|k| std::env::var(k).ok().filter(|v| !v.trim().is_empty()));
        let apis_url = std::env::var("BATON_GOOGLE_APIS_URL").ok().filter(|v| !v.trim().is_empty());
        GcpConfig { endpoints: Endpoints::from_env(), default_project: project, cache: Arc::default(), apis_url }
    }

    /// Settings for emulators at these hosts (`host:port` or URLs), e.g. in tests.
    pub fn emulators(storage: Option<&str>, bigquery: Option<&str>) -> GcpConfig {
        let mut endpoints = Endpoints::default();
        if let Some(s) = storage {
            endpoints = endpoints.with_storage_emulator(s);
        }
        if let Some(b) = bigquery {
            endpoints = endpoints.with_bigquery_emulator(b);
        }
        GcpConfig { endpoints, default_project: None, cache: Arc::default(), apis_url: None }
    }
}
