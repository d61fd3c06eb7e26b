//! What every GCP task shares: the properties `projectId`,
//! `serviceAccount`, `scopes` and `impersonatedServiceAccount` (usually
//! filled by `pluginDefaults` on `io.kestra.plugin.gcp`), their resolution
//! into an [`AuthSpec`] and a project (the key is checked, then masked in
//! logs), the clients for them (GCS, BigQuery, Pub/Sub, Firestore), `gs://` URIs and Kestra's `ifExists`.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;

use crate::{Declare, RunContext, TaskError, de};
use baton_gcp::bigquery::{BigQueryClient, BqError};
use baton_gcp::documents::{DocsError, Documents};
use baton_gcp::gcs::{GcsClient, GcsError};
use baton_gcp::pubsub::PubSubClient;
use baton_gcp::{AuthError, AuthSpec, ServiceAccountKey};

/// The common properties, `#[serde(flatten)]`ed into each task's.
#[derive(Debug, Default, Clone, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
pub struct GcpProps {
    /// The Google Cloud project; the runtime's when absent.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    pub project_id: Option<String>,
    /// A service account key (JSON); the runtime's credentials when absent.
    // The key's JSON text, or a map (a `JSON` KV value).
    #[serde(default)]
    pub service_account: Option<Value>,
    /// OAuth scopes.
    #[serde(default, deserialize_with = "de::string_or_list")]
    #[prop(kind = "StringOrList", default = "[\"https://www.googleapis.com/auth/cloud-platform\"]")]
    pub scopes: Vec<String>,
    /// Act as this service account.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    pub impersonated_service_account: Option<String>,
}

/// Credentials and project of one task.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub spec: AuthSpec,
    pub project: Option<String>,
}

fn blank(s: &Option<String>) -> Option<String> {
    s.as_ref().map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

impl GcpProps {
    /// Checks the key (a bad one fails here, naming what is wrong) and
    /// masks it in this task's logs.
    pub fn resolve(&self, cx: &RunContext) -> Result<Resolved, TaskError> {
        let key = match &self.service_account {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.trim().is_empty() => None,
            Some(v) => {
                let key = ServiceAccountKey::from_value(v.clone())
                    .map_err(|e| TaskError::property("serviceAccount", e.to_string()))?;
                Some(key)
            }
        };
        let project = blank(&self.project_id)
            .or_else(|| key.as_ref().and_then(|k| k.project_id().map(str::to_string)))
            .or_else(|| cx.services.config.gcp.default_project.clone());
        let scopes = self.scopes.iter().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
        Ok(Resolved { spec: AuthSpec { key, scopes, impersonate: blank(&self.impersonated_service_account) }, project })
    }
}

impl Resolved {
    /// The project, or an error saying how to give one.
    pub fn project(&self) -> Result<&str, TaskError> {
        self.project.as_deref().ok_or_else(|| {
            TaskError::property(
                "projectId",
                "no project: set projectId (e.g. in pluginDefaults for io.kestra.plugin.gcp), \
                 or use a key that has project_id",
            )
        })
    }

    /// The GCS client for these credentials.
    pub fn gcs(&self, cx: &RunContext) -> Result<Arc<GcsClient>, TaskError> {
        let cfg = &cx.services.config.gcp;
        cfg.cache.gcs(&self.spec, &cfg.endpoints, &cx.services.http).map_err(auth_error)
    }

    /// The Pub/Sub client for these credentials in the task's project
    /// (anonymous on the emulator `PUBSUB_EMULATOR_HOST` names).
    pub fn pubsub(&self, cx: &RunContext) -> Result<PubSubClient, TaskError> {
        let cfg = &cx.services.config.gcp;
        let emulator = cfg.endpoints.pubsub_emulator.as_deref();
        let creds = cfg
            .cache
            .credentials(&self.spec, emulator.is_some(), &cfg.endpoints, &cx.services.http)
            .map_err(auth_error)?;
        Ok(PubSubClient::new(self.project()?, emulator, &creds, cx.services.http.client()))
    }

    /// Firestore database `database` of the task's project, with these
    /// credentials (anonymous on the emulator `FIRESTORE_EMULATOR_HOST` names).
    pub async fn firestore(&self, cx: &RunContext, database: &str) -> Result<Documents, TaskError> {
        let cfg = &cx.services.config.gcp;
        let emulator = cfg.endpoints.firestore_emulator.as_deref();
        let creds = cfg
            .cache
            .credentials(&self.spec, emulator.is_some(), &cfg.endpoints, &cx.services.http)
            .map_err(auth_error)?;
        Documents::connect(self.project()?, database, &creds, emulator).await.map_err(docs_error)
    }

    /// The BigQuery client for these credentials.
    pub async fn bigquery(&self, cx: &RunContext) -> Result<Arc<BigQueryClient>, TaskError> {
        let cfg = &cx.services.config.gcp;
        cfg.cache.bigquery(&self.spec, &cfg.endpoints, &cx.services.http).await.map_err(bq_error)
    }
}

/// A credentials problem as a task error (`serviceAccount` when it is the key's fault).
pub fn auth_error(e: AuthError) -> TaskError {
    match e {
        AuthError::Key(k) => TaskError::property("serviceAccount", k.to_string()),
        other => TaskError::failed(other.to_string()),
    }
}

/// A GCS failure as a task error.
pub fn gcs_error(e: GcsError) -> TaskError {
    match e {
        GcsError::Auth(a) => auth_error(a),
        other => TaskError::failed(other.to_string()),
    }
}

/// A Firestore failure as a task error.
pub fn docs_error(e: DocsError) -> TaskError {
    match e {
        DocsError::Auth(a) => auth_error(a),
        other => TaskError::failed(other.to_string()),
    }
}

/// A BigQuery failure as a task error.
pub fn bq_error(e: BqError) -> TaskError {
    match e {
        BqError::Auth(a) => auth_error(a),
        other => TaskError::failed(other.to_string()),
    }
}

/// `gs://bucket/path/to/object` → (`bucket`, `path/to/object`); the path may be empty.
pub fn parse_gs(property: &str, uri: &str) -> Result<(String, String), TaskError> {
    let u = uri.trim();
    let rest = u
        .strip_prefix("gs://")
        .ok_or_else(|| TaskError::property(property, format!("'{u}' is not a GCS URI: expected gs://bucket/path")))?;
    let (bucket, path) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(TaskError::property(property, format!("'{u}' has no bucket: expected gs://bucket/path")));
    }
    Ok((bucket.to_string(), path.to_string()))
}

/// Kestra's `ifExists` for CreateBucket and CreateDataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IfExists {
    #[default]
    Error,
    Update,
    Skip,
}

impl IfExists {
    pub fn parse(s: Option<&str>) -> Result<IfExists, TaskError> {
        match s.map(|v| v.trim().to_ascii_uppercase()).as_deref() {
            None | Some("") | Some("ERROR") => Ok(IfExists::Error),
            Some("UPDATE") => Ok(IfExists::Update),
            Some("SKIP") => Ok(IfExists::Skip),
            Some(other) => Err(TaskError::property("ifExists", format!("'{other}' is not one of ERROR, UPDATE, SKIP"))),
        }
    }
}

/// An optional enum-like string property, upper-cased and checked against `allowed`.
pub fn one_of(property: &str, v: &Option<String>, allowed: &[&str]) -> Result<Option<String>, TaskError> {
    match blank(v) {
        None => Ok(None),
        Some(s) => {
            let up = s.to_ascii_uppercase();
            if allowed.contains(&up.as_str()) {
                Ok(Some(up))
            } else {
                Err(TaskError::property(property, format!("'{s}' is not one of {}", allowed.join(", "))))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::core::test_support::Env;

    #[test]
    fn gs_uris() {
        assert_eq!(parse_gs("to", "gs://b/a/c.csv").unwrap(), ("b".into(), "a/c.csv".into()));
        assert_eq!(parse_gs("to", "gs://b").unwrap(), ("b".into(), "".into()));
        assert!(parse_gs("to", "s3://b/x").unwrap_err().to_string().contains("not a GCS URI"));
        assert!(parse_gs("to", "gs:///x").is_err());
    }

    #[test]
    fn resolves_project_and_checks_the_key() {
        let env = Env::new();
        let cx = env.cx(&json!({}));
        let p: GcpProps = serde_json::from_value(json!({"serviceAccount": "{\"type\":\"service_account\"}"})).unwrap();
        let e = p.resolve(&cx).unwrap_err().to_string();
        assert_eq!(
            e,
            "invalid property 'serviceAccount': the service account key has no 'client_email' (or it is empty)"
        );
        let p: GcpProps = serde_json::from_value(json!({"serviceAccount": "", "projectId": " p1 "})).unwrap();
        let r = p.resolve(&cx).unwrap();
        assert!(r.spec.key.is_none());
        assert_eq!(r.project().unwrap(), "p1");
        let p: GcpProps = serde_json::from_value(json!({})).unwrap();
        assert!(p.resolve(&cx).unwrap().project().unwrap_err().to_string().contains("set projectId"));
    }
}
