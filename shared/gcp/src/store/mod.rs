//! The GCP runtime's backends: state, KV and schedule state (ticks,
//! triggers, backfills) on Firestore ([`FirestoreStore`]), internal storage in a GCS bucket ([`GcsStorage`]),
//! topics on Pub/Sub ([`PubSubQueue`]), bundled by [`GcpBackends`] from the
//! environment of a Cloud Run function ([`GcpBackends::from_env`]) or from an
//! explicit [`GcpConfig`] (tests).
//!
//! Environment: `GOOGLE_CLOUD_PROJECT` (required), `BATON_INTERNAL_BUCKET`
//! (required), `BATON_FIRESTORE_DATABASE` (default `(default)`),
//! `BATON_SEAL_KEY` (the key SECRET inputs are sealed under in Firestore
//! and in worker jobs: `baton_backend::seal`; without it an execution with
//! a SECRET input is refused, naming it), and the
//! emulator switches `FIRESTORE_EMULATOR_HOST`, `PUBSUB_EMULATOR_HOST`,
//! `STORAGE_EMULATOR_HOST` (`host:port` or a URL). A service on an emulator
//! is called without credentials; otherwise Application Default Credentials
//! are used (the service account of the Cloud Run service).
//!
//! Production Firestore needs what the emulator does not check: the
//! composite indexes in [`REQUIRED_INDEXES`], the index exemptions in
//! [`UNINDEXED_FIELDS`] and a TTL policy on [`TTL_FIELD`].

mod firestore;
mod firestore_chunks;
mod firestore_claims;
mod firestore_kv;
mod firestore_labels;
mod firestore_metrics;
mod firestore_partial;
mod firestore_purge;
mod firestore_records;
mod firestore_state;
mod firestore_triggers;
pub mod fs_client;
mod gcs;
pub mod pubsub;

use std::sync::Arc;

pub use firestore::{EXECUTIONS, FirestoreStore, REQUIRED_INDEXES, TASK_RUNS, execution_path, task_run_path};
pub use firestore_chunks::CHUNKS;
pub use firestore_claims::{CLAIMS, FLOWS, LOGS, REVISIONS};
pub use firestore_kv::{KEYS, KV};
pub use firestore_metrics::METRICS;
pub use firestore_records::RECORD_KINDS;
pub use firestore_triggers::{BACKFILLS, TICKS, TRIGGERS};
pub use gcs::{GcsStorage, SINGLE_SHOT, application_default};
pub use pubsub::{PubSubAdmin, PubSubPull, PubSubQueue, PubSubTarget};

use baton_backend::seal::{SealKey, keys_from_settings};
use baton_backend::{BackendError, Result};

/// Single-field indexes a collection-group query needs (Firestore indexes
/// a field for collection queries only by default): `(collection group,
/// field)` — the purge of logs across executions (`firestore_purge.rs`).
/// Terraform `google_firestore_field` with a `COLLECTION_GROUP` index.
pub const COLLECTION_GROUP_FIELDS: &[(&str, &str)] = &[(LOGS, "timestamp")];

/// Fields never queried, holding JSON or sources that may pass Firestore's
/// 1,500-byte indexed-value size: `(collection group, field)` pairs to exempt
/// from single-field indexing (Terraform `google_firestore_field` with an
/// empty `index_config`) — cheaper writes, no index-entry size trouble.
pub const UNINDEXED_FIELDS: &[(&str, &str)] = &[
    (EXECUTIONS, "body"),
    (EXECUTIONS, firestore::STEP_FIELD),
    (TASK_RUNS, "body"),
    (CHUNKS, "runs"),
    (CHUNKS, "seqs"),
    (LOGS, "body"),
    (FLOWS, "source"),
    (REVISIONS, "source"),
    (KEYS, "value"),
    (TRIGGERS, "body"),
    (BACKFILLS, "spec"),
    (BACKFILLS, "progress"),
    (METRICS, "tags"),
    // compare-and-swap records (firestore_records.rs): a long queue of one flow
    ("concurrency", "body"),
    ("leases", "body"),
    ("sweep", "body"),
];

/// The `(collection group, field)` a Firestore TTL policy should watch so
/// expired KV keys are also deleted in the background (reads already treat
/// them as absent).
pub const TTL_FIELD: (&str, &str) = (KEYS, "expires");

/// GCS's production root.
pub const STORAGE_DEFAULT: &str = "https://storage.googleapis.com";
/// Firestore's default database id.
pub const DEFAULT_DATABASE: &str = "(default)";

/// Where the GCP backends live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GcpConfig {
    /// The Google Cloud project.
    pub project: String,
    /// The internal-storage bucket (`kestra:///x` is `gs://bucket/x`).
    pub bucket: String,
    /// The Firestore database id.
    pub database: String,
    /// Firestore emulator `host:port` or URL.
    pub firestore_emulator: Option<String>,
    /// Pub/Sub emulator `host:port` or URL.
    pub pubsub_emulator: Option<String>,
    /// GCS emulator `host:port` or URL (fake-gcs-server must listen on port 80).
    pub storage_emulator: Option<String>,
    /// The key SECRET inputs are sealed under (`BATON_SEAL_KEY`).
    pub seal_key: Option<SealKey>,
    /// Keys of before a rotation (`BATON_SEAL_KEY_PREVIOUS`): they open
    /// values sealed under them, never seal one.
    pub previous_seal_keys: Vec<SealKey>,
}

/// `host:port` or a URL → a URL without a trailing slash.
fn url_of(value: &str) -> String {
    let v = value.trim().trim_end_matches('/');
    if v.contains("://") { v.to_string() } else { format!("http://{v}") }
}

impl GcpConfig {
    /// The configuration from the process environment.
    pub fn from_env() -> Result<GcpConfig> {
        GcpConfig::from_vars(|k| std::env::var(k).ok())
    }

    /// The configuration from variables read through `get`.
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<GcpConfig> {
        let var = |k: &str| get(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let required = |k: &str, what: &str| {
            var(k).ok_or_else(|| BackendError::Invalid(format!("{k} is not set: it names {what}")))
        };
        let (seal_key, previous_seal_keys) =
            keys_from_settings(&get).map_err(|e| BackendError::Invalid(e.to_string()))?;
        Ok(GcpConfig {
            project: required("GOOGLE_CLOUD_PROJECT", "the Google Cloud project")?,
            bucket: required("BATON_INTERNAL_BUCKET", "the internal-storage bucket")?,
            database: var("BATON_FIRESTORE_DATABASE").unwrap_or_else(|| DEFAULT_DATABASE.to_string()),
            firestore_emulator: var("FIRESTORE_EMULATOR_HOST"),
            pubsub_emulator: var("PUBSUB_EMULATOR_HOST"),
            storage_emulator: var("STORAGE_EMULATOR_HOST"),
            seal_key,
            previous_seal_keys,
        })
    }

    /// Where Pub/Sub is.
    pub fn pubsub_target(&self) -> PubSubTarget {
        PubSubTarget { project: self.project.clone(), emulator: self.pubsub_emulator.as_deref().map(url_of) }
    }

    /// The GCS root URL.
    pub fn storage_root(&self) -> String {
        self.storage_emulator.as_deref().map_or_else(|| STORAGE_DEFAULT.to_string(), url_of)
    }
}

/// The GCP backends of one process.
#[derive(Debug, Clone)]
pub struct GcpBackends {
    /// Executions, task runs, logs, claims, flows — and the KV store.
    pub state: Arc<FirestoreStore>,
    /// Internal storage.
    pub storage: Arc<GcsStorage>,
    /// Pub/Sub publishing.
    pub queue: Arc<PubSubQueue>,
    pub config: GcpConfig,
}

impl GcpBackends {
    /// Namespace files, in the internal bucket (`{ns}/_files/…`).
    pub fn namespace_files(&self) -> Arc<dyn baton_backend::nsfiles::NamespaceFiles> {
        baton_backend::nsfiles::namespace_files(self.storage.clone())
    }

    /// Connects the backends named by the environment (see the module doc).
    pub async fn from_env() -> Result<GcpBackends> {
        GcpBackends::from_config(GcpConfig::from_env()?).await
    }

    /// Connects the backends of `config`. Nothing is read or written yet;
    /// production credentials are looked up here.
    pub async fn from_config(config: GcpConfig) -> Result<GcpBackends> {
        let store = FirestoreStore::new(connect_firestore(&config).await?)
            .with_seal_keys(config.seal_key.as_ref(), &config.previous_seal_keys);
        let state = Arc::new(store);
        let creds =
            if config.storage_emulator.is_some() { crate::GcpCredentials::anonymous() } else { application_default()? };
        let storage = Arc::new(GcsStorage::connect(&config.storage_root(), &config.bucket, creds));
        let queue = Arc::new(PubSubQueue::connect(config.pubsub_target()).await?);
        Ok(GcpBackends { state, storage, queue, config })
    }
}

/// The Firestore client of `config`: on the emulator without credentials,
/// else with Application Default Credentials.
pub async fn connect_firestore(config: &GcpConfig) -> Result<fs_client::FsClient> {
    let options =
        ::firestore::FirestoreDbOptions::new(config.project.clone()).with_database_id(config.database.clone());
    let failed = |e: ::firestore::errors::FirestoreError| BackendError::Database {
        what: format!("connect to Firestore database {}", config.database),
        message: e.to_string(),
    };
    let db = match &config.firestore_emulator {
        Some(host) => {
            let options = options.with_firebase_api_url(url_of(host));
            let anonymous = google_cloud_auth::credentials::anonymous::Builder::new().build();
            ::firestore::FirestoreDb::with_options_auth(options, anonymous).await.map_err(failed)?
        }
        None => ::firestore::FirestoreDb::with_options(options).await.map_err(failed)?,
    };
    Ok(fs_client::FsClient::new(db))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_from_variables() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
        };
        let err = GcpConfig::from_vars(vars(&[("BATON_INTERNAL_BUCKET", "b")])).expect_err("no project");
        assert!(err.to_string().contains("GOOGLE_CLOUD_PROJECT"), "{err}");
        let c = GcpConfig::from_vars(vars(&[("GOOGLE_CLOUD_PROJECT", "p"), ("BATON_INTERNAL_BUCKET", "b")]))
            .expect("config");
        assert_eq!((c.database.as_str(), c.storage_root().as_str()), (DEFAULT_DATABASE, STORAGE_DEFAULT));
        assert_eq!(c.pubsub_target().emulator, None);
        let c = GcpConfig::from_vars(vars(&[
            ("GOOGLE_CLOUD_PROJECT", "p"),
            ("BATON_INTERNAL_BUCKET", "b"),
            ("BATON_FIRESTORE_DATABASE", "baton"),
            ("PUBSUB_EMULATOR_HOST", "127.0.0.1:8085"),
            ("STORAGE_EMULATOR_HOST", "http://127.0.0.1/"),
            ("FIRESTORE_EMULATOR_HOST", " "),
        ]))
        .expect("config");
        assert_eq!(c.database, "baton");
        assert_eq!(c.pubsub_target().emulator.as_deref(), Some("http://127.0.0.1:8085"));
        assert_eq!(c.storage_root(), "http://127.0.0.1");
        assert_eq!(c.firestore_emulator, None, "an empty variable is unset");
        assert_eq!(c.seal_key, None);
        let c = GcpConfig::from_vars(vars(&[
            ("GOOGLE_CLOUD_PROJECT", "p"),
            ("BATON_INTERNAL_BUCKET", "b"),
            ("BATON_SEAL_KEY", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="),
        ]))
        .expect("config");
        assert_eq!(c.seal_key, SealKey::parse("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=").ok());
        let err = GcpConfig::from_vars(vars(&[
            ("GOOGLE_CLOUD_PROJECT", "p"),
            ("BATON_INTERNAL_BUCKET", "b"),
            ("BATON_SEAL_KEY", "hunter2"),
        ]))
        .expect_err("a bad key");
        assert!(err.to_string().contains("BATON_SEAL_KEY is not a usable key"), "{err}");
        const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
        let rotated = GcpConfig::from_vars(vars(&[
            ("GOOGLE_CLOUD_PROJECT", "p"),
            ("BATON_INTERNAL_BUCKET", "b"),
            ("BATON_SEAL_KEY", KEY),
            (
                "BATON_SEAL_KEY_PREVIOUS",
                " AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=, AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
            ),
        ]))
        .expect("config");
        assert_eq!(rotated.previous_seal_keys.len(), 2);
        let err = GcpConfig::from_vars(vars(&[
            ("GOOGLE_CLOUD_PROJECT", "p"),
            ("BATON_INTERNAL_BUCKET", "b"),
            ("BATON_SEAL_KEY_PREVIOUS", KEY),
        ]))
        .expect_err("previous keys alone");
        assert!(err.to_string().contains("BATON_SEAL_KEY_PREVIOUS is set but BATON_SEAL_KEY is not"), "{err}");
        assert_eq!(c.pubsub_target().topic_path("baton-executions"), "projects/p/topics/baton-executions");
    }
}
