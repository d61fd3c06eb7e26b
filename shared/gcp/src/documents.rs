//! Firestore documents as the `io.kestra.plugin.gcp.firestore.*` tasks see
//! them: one database of one project (Google's service with the task's
//! credentials, or the emulator `FIRESTORE_EMULATOR_HOST` names, without
//! any), documents read and written as JSON maps, queries streamed.
//!
//! The mapping between JSON and Firestore values follows what Kestra's Java
//! client does with a map: whole numbers are integers, other numbers
//! doubles, strings stay strings; read back, a timestamp is its RFC 3339
//! text, bytes their base64, a reference its document name and a geo point
//! `{latitude, longitude}`.

use base64::Engine as _;
use chrono::{DateTime, SecondsFormat, Utc};
use firestore::gcloud_sdk::google::firestore::v1::{
    self as pb, CommitRequest, Document, GetDocumentRequest, RunQueryRequest, Write, run_query_request, value, write,
};
use firestore::gcloud_sdk::prost_types::Timestamp;
use firestore::gcloud_sdk::tonic::{Code, Status};
use firestore::{FirestoreDb, FirestoreDbOptions};
use futures::{Stream, StreamExt};
use serde_json::{Map, Number, Value};

use crate::{AuthError, GcpCredentials};

/// The query types the tasks build (from Google's generated API).
pub use firestore::gcloud_sdk::google::firestore::v1::{StructuredQuery, structured_query};

/// Why a Firestore call failed. Messages name the database or document.
#[derive(Debug, thiserror::Error)]
pub enum DocsError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("cannot connect to Firestore database '{database}' of project '{project}': {message}")]
    Connect { project: String, database: String, message: String },
    #[error("Firestore {what} failed: {code:?}: {message}")]
    Rpc { what: String, code: Code, message: String },
}

fn rpc(what: impl Into<String>, s: Status) -> DocsError {
    DocsError::Rpc { what: what.into(), code: s.code(), message: s.message().to_string() }
}

/// One Firestore database.
#[derive(Clone)]
pub struct Documents {
    db: FirestoreDb,
    /// `projects/{p}/databases/{d}/documents`.
    root: String,
    database: String,
}

impl std::fmt::Debug for Documents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Documents").field("root", &self.root).finish_non_exhaustive()
    }
}

impl Documents {
    /// Connects to database `database` of `project`: on the emulator at
    /// `emulator` (a URL) without credentials, else with `creds`.
    pub async fn connect(
        project: &str,
        database: &str,
        creds: &GcpCredentials,
        emulator: Option<&str>,
    ) -> Result<Documents, DocsError> {
        let options = FirestoreDbOptions::new(project.to_string()).with_database_id(database.to_string());
        let failed = |e: firestore::errors::FirestoreError| DocsError::Connect {
            project: project.to_string(),
            database: database.to_string(),
            message: e.to_string(),
        };
        let db = match emulator {
            Some(url) => {
                let anonymous = GcpCredentials::anonymous().for_client_libraries();
                FirestoreDb::with_options_auth(options.with_firebase_api_url(url.to_string()), anonymous)
                    .await
                    .map_err(failed)?
            }
            None => FirestoreDb::with_options_auth(options, creds.for_client_libraries()).await.map_err(failed)?,
        };
        let root = db.get_documents_path().clone();
        let database = db.get_database_path().clone();
        Ok(Documents { db, root, database })
    }

    /// The full resource name of the document at `path` (`users/alice`).
    pub fn name(&self, path: &str) -> String {
        format!("{}/{path}", self.root)
    }

    /// Replaces (or creates) the document at `path` with `fields`; its update time.
    pub async fn set(&self, path: &str, fields: &Map<String, Value>) -> Result<DateTime<Utc>, DocsError> {
        let doc = Document {
            name: self.name(path),
            fields: fields.iter().map(|(k, v)| (k.clone(), to_value(v))).collect(),
            create_time: None,
            update_time: None,
        };
        let w = Write {
            update_mask: None,
            update_transforms: Vec::new(),
            current_document: None,
            operation: Some(write::Operation::Update(doc)),
        };
        let (mut results, commit) = self.commit(&format!("set of {path}"), w).await?;
        Ok(results.pop().flatten().or(commit).as_ref().and_then(time).unwrap_or_else(Utc::now))
    }

    /// Deletes the document at `path` (absent is fine); the commit time.
    pub async fn delete(&self, path: &str) -> Result<DateTime<Utc>, DocsError> {
        let w = Write {
            update_mask: None,
            update_transforms: Vec::new(),
            current_document: None,
            operation: Some(write::Operation::Delete(self.name(path))),
        };
        let (_, commit) = self.commit(&format!("delete of {path}"), w).await?;
        Ok(commit.as_ref().and_then(time).unwrap_or_else(Utc::now))
    }

    async fn commit(&self, what: &str, w: Write) -> Result<(Vec<Option<Timestamp>>, Option<Timestamp>), DocsError> {
        let req = CommitRequest {
            database: self.database.clone(),
            writes: vec![w],
            transaction: Vec::new(),
            request_options: None,
        };
        let resp = self.db.client().get().commit(req).await.map_err(|s| rpc(what, s))?.into_inner();
        Ok((resp.write_results.into_iter().map(|r| r.update_time).collect(), resp.commit_time))
    }

    /// The fields of the document at `path`, `None` when it does not exist.
    pub async fn get(&self, path: &str) -> Result<Option<Map<String, Value>>, DocsError> {
        let req =
            GetDocumentRequest { name: self.name(path), mask: None, consistency_selector: None, request_options: None };
        match self.db.client().get().get_document(req).await {
            Ok(doc) => Ok(Some(fields(&doc.into_inner()))),
            Err(s) if s.code() == Code::NotFound => Ok(None),
            Err(s) => Err(rpc(format!("get of {path}"), s)),
        }
    }

    /// Runs `query` under `parent` (a document path, `""` for the root
    /// collections); the documents' fields, streamed as they come.
    pub async fn query(
        &self,
        parent: &str,
        query: StructuredQuery,
    ) -> Result<impl Stream<Item = Result<Map<String, Value>, DocsError>> + Send + 'static, DocsError> {
        let parent_name = if parent.is_empty() { self.root.clone() } else { self.name(parent) };
        let req = RunQueryRequest {
            parent: parent_name,
            explain_options: None,
            request_options: None,
            query_type: Some(run_query_request::QueryType::StructuredQuery(query)),
            consistency_selector: None,
        };
        let stream = self.db.client().get().run_query(req).await.map_err(|s| rpc("query", s))?.into_inner();
        Ok(stream.filter_map(|resp| async move {
            match resp {
                Ok(r) => r.document.map(|d| Ok(fields(&d))),
                Err(s) => Some(Err(rpc("query", s))),
            }
        }))
    }
}

fn time(t: &Timestamp) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).unwrap_or(0))
}

/// A JSON value as a Firestore value.
pub fn to_value(v: &Value) -> pb::Value {
    use value::ValueType as T;
    let t = match v {
        Value::Null => T::NullValue(0),
        Value::Bool(b) => T::BooleanValue(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => T::IntegerValue(i),
            None => T::DoubleValue(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => T::StringValue(s.clone()),
        Value::Array(items) => T::ArrayValue(pb::ArrayValue { values: items.iter().map(to_value).collect() }),
        Value::Object(m) => {
            T::MapValue(pb::MapValue { fields: m.iter().map(|(k, v)| (k.clone(), to_value(v))).collect() })
        }
    };
    pb::Value { value_type: Some(t) }
}

/// A document's fields as a JSON map, in name order.
pub fn fields(doc: &Document) -> Map<String, Value> {
    let mut names: Vec<&String> = doc.fields.keys().collect();
    names.sort();
    names.into_iter().map(|k| (k.clone(), from_value(&doc.fields[k]))).collect()
}

/// A Firestore value as JSON.
pub fn from_value(v: &pb::Value) -> Value {
    use value::ValueType as T;
    match &v.value_type {
        None | Some(T::NullValue(_)) => Value::Null,
        Some(T::BooleanValue(b)) => Value::Bool(*b),
        Some(T::IntegerValue(i)) => Value::from(*i),
        Some(T::DoubleValue(d)) => Number::from_f64(*d).map_or_else(|| Value::String(d.to_string()), Value::Number),
        Some(T::TimestampValue(t)) => {
            time(t).map(|d| Value::String(d.to_rfc3339_opts(SecondsFormat::AutoSi, true))).unwrap_or(Value::Null)
        }
        Some(T::StringValue(s)) => Value::String(s.clone()),
        Some(T::BytesValue(b)) => Value::String(base64::engine::general_purpose::STANDARD.encode(b)),
        Some(T::ReferenceValue(r)) => Value::String(r.clone()),
        Some(T::GeoPointValue(g)) => serde_json::json!({"latitude": g.latitude, "longitude": g.longitude}),
        Some(T::ArrayValue(a)) => Value::Array(a.values.iter().map(from_value).collect()),
        Some(T::MapValue(m)) => {
            let mut names: Vec<&String> = m.fields.keys().collect();
            names.sort();
            Value::Object(names.into_iter().map(|k| (k.clone(), from_value(&m.fields[k]))).collect())
        }
        Some(T::FieldReferenceValue(s)) | Some(T::VariableReferenceValue(s)) => Value::String(s.clone()),
        Some(T::FunctionValue(_)) | Some(T::PipelineValue(_)) => Value::Null,
    }
}

/// A document id as Google's client libraries make one: 20 letters and digits, random.
pub fn auto_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let bytes = [uuid::Uuid::new_v4().into_bytes(), uuid::Uuid::new_v4().into_bytes()].concat();
    // 256 = 4 * 62 + 8: a byte below 248 picks uniformly
    bytes.iter().filter(|b| **b < 248).take(20).map(|b| ALPHABET[(*b % 62) as usize] as char).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn json_round_trips_through_firestore_values() {
        let v = json!({"a": 1, "b": 2.5, "c": "x", "d": null, "e": [true, {"f": -3}], "g": {}});
        assert_eq!(from_value(&to_value(&v)), v);
        let t = pb::Value {
            value_type: Some(value::ValueType::TimestampValue(Timestamp { seconds: 1_700_000_000, nanos: 5_000_000 })),
        };
        assert_eq!(from_value(&t), json!("2023-11-14T22:13:20.005Z"));
        let b = pb::Value { value_type: Some(value::ValueType::BytesValue(b"hi".to_vec())) };
        assert_eq!(from_value(&b), json!("aGk="));
    }

    #[test]
    fn auto_ids_are_twenty_letters_or_digits() {
        let (a, b) = (auto_id(), auto_id());
        assert_eq!(a.len(), 20);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()), "{a}");
        assert_ne!(a, b);
    }
}
