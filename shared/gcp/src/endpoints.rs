//! Where the Google services are: production by default, or local
//! emulators. `STORAGE_EMULATOR_HOST` is the variable Google's own client
//! libraries read for GCS; `BIGQUERY_EMULATOR_HOST` follows the same form
//! for BigQuery; `PUBSUB_EMULATOR_HOST` is Google's for Pub/Sub (read by
//! the local Pub/Sub trigger poller); `FIRESTORE_EMULATOR_HOST` is Google's
//! for Firestore (read by the `firestore.*` tasks); `BIGQUERY_STORAGE_EMULATOR_HOST`
//! is the gRPC side of a BigQuery emulator (the Storage Write API of
//! `bigquery.StorageWrite`). All accept `host:port` or a full
//! `http://host:port` URL. A service on an emulator is called without
//! credentials.

/// GCS's production root.
pub const STORAGE_DEFAULT: &str = "https://storage.googleapis.com";
/// BigQuery's production root (the REST API is under `/bigquery/v2`).
pub const BIGQUERY_DEFAULT: &str = "https://bigquery.googleapis.com";
/// The IAM Credentials API (service-account impersonation).
pub const IAM_CREDENTIALS_DEFAULT: &str = "https://iamcredentials.googleapis.com";

/// The roots of the Google APIs Baton calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// GCS root, e.g. `https://storage.googleapis.com` or `http://127.0.0.1`.
    pub storage: String,
    /// True when `storage` is an emulator (anonymous calls).
    pub storage_emulator: bool,
    /// BigQuery root, e.g. `https://bigquery.googleapis.com` or `http://127.0.0.1:9050`.
    pub bigquery: String,
    /// True when `bigquery` is an emulator (anonymous calls).
    pub bigquery_emulator: bool,
    /// IAM Credentials root (impersonation).
    pub iam_credentials: String,
    /// `http://host:port` of a Pub/Sub emulator; `None` for Google's service.
    pub pubsub_emulator: Option<String>,
    /// `http://host:port` of a Firestore emulator; `None` for Google's service.
    pub firestore_emulator: Option<String>,
    /// `http://host:port` of a BigQuery emulator's gRPC API (the Storage
    /// Write API); `None` for Google's service.
    pub bigquery_storage_emulator: Option<String>,
    /// The metadata server (`GCE_METADATA_HOST`, as Google's libraries
    /// read it): ID tokens for `function.HttpFunction` without a key.
    pub metadata_host: String,
}

impl Default for Endpoints {
    fn default() -> Endpoints {
        Endpoints {
            storage: STORAGE_DEFAULT.to_string(),
            storage_emulator: false,
            bigquery: BIGQUERY_DEFAULT.to_string(),
            bigquery_emulator: false,
            iam_credentials: IAM_CREDENTIALS_DEFAULT.to_string(),
            pubsub_emulator: None,
            firestore_emulator: None,
            bigquery_storage_emulator: None,
            metadata_host: crate::oauth::METADATA_HOST_DEFAULT.to_string(),
        }
    }
}

/// `host:port` or a URL → a URL root without a trailing slash.
pub fn emulator_root(value: &str) -> String {
    let v = value.trim().trim_end_matches('/');
    if v.starts_with("http://") || v.starts_with("https://") { v.to_string() } else { format!("http://{v}") }
}

impl Endpoints {
    /// Production endpoints, overridden by `STORAGE_EMULATOR_HOST`,
    /// `BIGQUERY_EMULATOR_HOST`, `BIGQUERY_STORAGE_EMULATOR_HOST`,
    /// `PUBSUB_EMULATOR_HOST` and `FIRESTORE_EMULATOR_HOST` when set (and
    /// not empty).
    pub fn from_env() -> Endpoints {
        Endpoints::from_vars(|k| std::env::var(k).ok())
    }

    /// Like [`from_env`](Self::from_env), reading variables through `get`.
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Endpoints {
        let mut e = Endpoints::default();
        if let Some(v) = get("STORAGE_EMULATOR_HOST").filter(|v| !v.trim().is_empty()) {
            e = e.with_storage_emulator(&v);
        }
        if let Some(v) = get("BIGQUERY_EMULATOR_HOST").filter(|v| !v.trim().is_empty()) {
            e = e.with_bigquery_emulator(&v);
        }
        if let Some(v) = get("PUBSUB_EMULATOR_HOST").filter(|v| !v.trim().is_empty()) {
            e = e.with_pubsub_emulator(&v);
        }
        if let Some(v) = get("FIRESTORE_EMULATOR_HOST").filter(|v| !v.trim().is_empty()) {
            e = e.with_firestore_emulator(&v);
        }
        if let Some(v) = get("BIGQUERY_STORAGE_EMULATOR_HOST").filter(|v| !v.trim().is_empty()) {
            e = e.with_bigquery_storage_emulator(&v);
        }
        if let Some(v) = get("GCE_METADATA_HOST").filter(|v| !v.trim().is_empty()) {
            e.metadata_host = v.trim().to_string();
        }
        e
    }

    /// Pub/Sub on an emulator at `host` (`host:port` or URL).
    pub fn with_pubsub_emulator(mut self, host: &str) -> Endpoints {
        self.pubsub_emulator = Some(emulator_root(host));
        self
    }

    /// Firestore on an emulator at `host` (`host:port` or URL).
    pub fn with_firestore_emulator(mut self, host: &str) -> Endpoints {
        self.firestore_emulator = Some(emulator_root(host));
        self
    }

    /// The BigQuery Storage Write API on an emulator's gRPC port at `host`
    /// (`host:port` or URL).
    pub fn with_bigquery_storage_emulator(mut self, host: &str) -> Endpoints {
        self.bigquery_storage_emulator = Some(emulator_root(host));
        self
    }

    /// GCS on an emulator at `host` (`host:port` or URL).
    pub fn with_storage_emulator(mut self, host: &str) -> Endpoints {
        self.storage = emulator_root(host);
        self.storage_emulator = true;
        self
    }

    /// BigQuery on an emulator at `host` (`host:port` or URL).
    pub fn with_bigquery_emulator(mut self, host: &str) -> Endpoints {
        self.bigquery = emulator_root(host);
        self.bigquery_emulator = true;
        self
    }

    /// The BigQuery REST base, `{root}/bigquery/v2`.
    pub fn bigquery_v2(&self) -> String {
        format!("{}/bigquery/v2", self.bigquery)
    }

    /// The BigQuery media-upload base, `{root}/upload/bigquery/v2`.
    pub fn bigquery_upload_v2(&self) -> String {
        format!("{}/upload/bigquery/v2", self.bigquery)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emulator_variables_switch_endpoints() {
        let e = Endpoints::from_vars(|_| None);
        assert_eq!(e, Endpoints::default());
        let e = Endpoints::from_vars(|k| match k {
            "STORAGE_EMULATOR_HOST" => Some("127.0.0.5:80".into()),
            "BIGQUERY_EMULATOR_HOST" => Some("http://127.0.0.5:9050/".into()),
            "PUBSUB_EMULATOR_HOST" => Some("127.0.0.5:8085".into()),
            "FIRESTORE_EMULATOR_HOST" => Some("127.0.0.5:8086".into()),
            "BIGQUERY_STORAGE_EMULATOR_HOST" => Some("127.0.0.5:9060".into()),
            _ => None,
        });
        assert_eq!(e.storage, "http://127.0.0.5:80");
        assert!(e.storage_emulator && e.bigquery_emulator);
        assert_eq!(e.pubsub_emulator.as_deref(), Some("http://127.0.0.5:8085"));
        assert_eq!(e.firestore_emulator.as_deref(), Some("http://127.0.0.5:8086"));
        assert_eq!(e.bigquery_storage_emulator.as_deref(), Some("http://127.0.0.5:9060"));
        assert_eq!(e.bigquery_v2(), "http://127.0.0.5:9050/bigquery/v2");
        assert_eq!(e.bigquery_upload_v2(), "http://127.0.0.5:9050/upload/bigquery/v2");
        let e = Endpoints::from_vars(|k| (k == "STORAGE_EMULATOR_HOST").then(|| " ".to_string()));
        assert!(!e.storage_emulator);
    }
}
