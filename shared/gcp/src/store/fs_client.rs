//! `FsClient`: the few Firestore RPCs the GCP state store needs, on the
//! gRPC client of the `firestore` crate — batch get, run query, commit with
//! preconditions — plus builders for values, writes and filters, and the
//! mapping of gRPC statuses to [`BackendError`]s. Every write the store makes
//! goes through [`FsClient::commit`]: one atomic batch, conditional on a
//! precondition where it changes contended state.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use firestore::FirestoreDb;
use firestore::gcloud_sdk::google::firestore::v1::{
    self as pb, BatchGetDocumentsRequest, CommitRequest, Document, Precondition, RunQueryRequest, StructuredQuery,
    Write, batch_get_documents_request, batch_get_documents_response, document_transform, precondition,
    run_query_request, structured_query, transaction_options, value, write,
};
use firestore::gcloud_sdk::prost_types::Timestamp;
use firestore::gcloud_sdk::tonic::{Code, Status};
use futures::StreamExt;

use baton_backend::{BackendError, Result};

/// A Firestore database: its resource paths and a gRPC client.
#[derive(Clone)]
pub struct FsClient {
    db: FirestoreDb,
    /// `projects/{p}/databases/{d}`.
    database: String,
    /// `projects/{p}/databases/{d}/documents`.
    documents: String,
    /// `(reads, writes)` sent through this client (and its clones).
    counts: std::sync::Arc<(AtomicU64, AtomicU64)>,
}

impl std::fmt::Debug for FsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FsClient").field("database", &self.database).finish_non_exhaustive()
    }
}

/// Escapes a user-chosen string for use as one document id: `/` is not
/// allowed in an id, `.`/`..` and `__x__` are reserved; `%` introduces the
/// escapes so the mapping stays one-to-one.
pub fn doc_id(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '%' => out.push_str("%25"),
            '/' => out.push_str("%2F"),
            _ => out.push(c),
        }
    }
    if out.is_empty() || out == "." || out == ".." || (out.starts_with("__") && out.ends_with("__")) {
        out = format!("%{out}");
    }
    out
}

/// What a failed RPC was doing, for the error message.
pub fn rpc_error(what: &str, status: &Status) -> BackendError {
    BackendError::Database {
        what: format!("Firestore {what}"),
        message: format!("{:?}: {}", status.code(), status.message()),
    }
}

/// True when a status means the RPC may succeed if simply retried.
fn transient(status: &Status) -> bool {
    matches!(status.code(), Code::Unavailable | Code::DeadlineExceeded | Code::ResourceExhausted | Code::Internal)
}

/// How many times an idempotent read is tried.
const READ_ATTEMPTS: u32 = 4;

async fn backoff(attempt: u32) {
    tokio::time::sleep(std::time::Duration::from_millis(50 << attempt.min(5))).await;
}

/// How a batch of writes ended.
#[derive(Debug)]
pub enum CommitOutcome {
    /// Committed; the update time of each write, in order.
    Done(Vec<Option<Timestamp>>),
    /// A precondition failed (`exists` or `update_time`), nothing was written.
    Precondition,
}

impl FsClient {
    /// Document reads (a query counts its documents, at least one, as
    /// Firestore bills it) and writes sent through this client so far:
    /// what the benchmarks report per task run.
    pub fn operation_counts(&self) -> (u64, u64) {
        (self.counts.0.load(Ordering::Relaxed), self.counts.1.load(Ordering::Relaxed))
    }

    /// Wraps a connected database.
    pub fn new(db: FirestoreDb) -> FsClient {
        let database = db.get_database_path().clone();
        let documents = db.get_documents_path().clone();
        FsClient { db, database, documents, counts: Default::default() }
    }

    /// The full resource name of a document, from a path like `executions/abc`.
    pub fn name(&self, path: &str) -> String {
        format!("{}/{path}", self.documents)
    }

    /// The parent resource for queries on a collection under `parent_path`
    /// (`""` for a root collection).
    pub fn parent(&self, parent_path: &str) -> String {
        if parent_path.is_empty() { self.documents.clone() } else { self.name(parent_path) }
    }

    /// Reads documents by full name; absent ones are `None`. With
    /// `read_only_tx`, the read opens a read-only transaction whose id is
    /// returned, so later reads see the same snapshot.
    pub async fn get_many(
        &self,
        what: &str,
        names: &[String],
        read_only_tx: bool,
    ) -> Result<(HashMap<String, Document>, Vec<u8>)> {
        let mut attempt = 0;
        loop {
            match self.try_get_many(names, read_only_tx).await {
                Ok(found) => return Ok(found),
                Err(s) if transient(&s) && attempt + 1 < READ_ATTEMPTS => {
                    attempt += 1;
                    backoff(attempt).await;
                }
                Err(s) => return Err(rpc_error(what, &s)),
            }
        }
    }

    async fn try_get_many(
        &self,
        names: &[String],
        read_only_tx: bool,
    ) -> std::result::Result<(HashMap<String, Document>, Vec<u8>), Status> {
        let consistency = read_only_tx.then_some(batch_get_documents_request::ConsistencySelector::NewTransaction(
            pb::TransactionOptions {
                mode: Some(transaction_options::Mode::ReadOnly(transaction_options::ReadOnly {
                    consistency_selector: None,
                })),
            },
        ));
        let req = BatchGetDocumentsRequest {
            database: self.database.clone(),
            documents: names.to_vec(),
            mask: None,
            request_options: None,
            consistency_selector: consistency,
        };
        self.counts.0.fetch_add(names.len() as u64, Ordering::Relaxed);
        let mut stream = self.db.client().get().batch_get_documents(req).await?.into_inner();
        let mut found = HashMap::new();
        let mut tx = Vec::new();
        while let Some(resp) = stream.next().await {
            let resp = resp?;
            if !resp.transaction.is_empty() {
                tx = resp.transaction;
            }
            if let Some(batch_get_documents_response::Result::Found(doc)) = resp.result {
                found.insert(doc.name.clone(), doc);
            }
        }
        Ok((found, tx))
    }

    /// Reads one document by path (`collection/id/...`).
    pub async fn get(&self, what: &str, path: &str) -> Result<Option<Document>> {
        let name = self.name(path);
        let (mut found, _) = self.get_many(what, std::slice::from_ref(&name), false).await?;
        Ok(found.remove(&name))
    }

    /// Runs a query on the collection `collection` under `parent_path`,
    /// inside transaction `tx` when it is not empty.
    pub async fn query(
        &self,
        what: &str,
        parent_path: &str,
        query: StructuredQuery,
        tx: &[u8],
    ) -> Result<Vec<Document>> {
        let mut attempt = 0;
        loop {
            match self.try_query(parent_path, query.clone(), tx).await {
                Ok(docs) => return Ok(docs),
                Err(s) if transient(&s) && attempt + 1 < READ_ATTEMPTS => {
                    attempt += 1;
                    backoff(attempt).await;
                }
                Err(s) => return Err(rpc_error(what, &s)),
            }
        }
    }

    async fn try_query(
        &self,
        parent_path: &str,
        query: StructuredQuery,
        tx: &[u8],
    ) -> std::result::Result<Vec<Document>, Status> {
        let req = RunQueryRequest {
            parent: self.parent(parent_path),
            explain_options: None,
            request_options: None,
            query_type: Some(run_query_request::QueryType::StructuredQuery(query)),
            consistency_selector: (!tx.is_empty())
                .then(|| run_query_request::ConsistencySelector::Transaction(tx.to_vec())),
        };
        let mut stream = self.db.client().get().run_query(req).await?.into_inner();
        let mut docs = Vec::new();
        while let Some(resp) = stream.next().await {
            if let Some(doc) = resp?.document {
                docs.push(doc);
            }
        }
        // Firestore bills a query at least one read
        self.counts.0.fetch_add(docs.len().max(1) as u64, Ordering::Relaxed);
        Ok(docs)
    }

    /// Commits `writes` atomically. A failed precondition is an outcome, not
    /// an error; nothing is retried (a commit is not idempotent).
    pub async fn commit(&self, what: &str, writes: Vec<Write>) -> Result<CommitOutcome> {
        self.counts.1.fetch_add(writes.len() as u64, Ordering::Relaxed);
        let req =
            CommitRequest { database: self.database.clone(), writes, transaction: Vec::new(), request_options: None };
        match self.db.client().get().commit(req).await {
            Ok(resp) => {
                Ok(CommitOutcome::Done(resp.into_inner().write_results.into_iter().map(|r| r.update_time).collect()))
            }
            Err(s) if matches!(s.code(), Code::FailedPrecondition | Code::AlreadyExists | Code::NotFound) => {
                Ok(CommitOutcome::Precondition)
            }
            Err(s) => Err(rpc_error(what, &s)),
        }
    }
}

// ------------------------------------------------------------- values ---

/// A string value.
pub fn string(s: impl Into<String>) -> pb::Value {
    pb::Value { value_type: Some(value::ValueType::StringValue(s.into())) }
}

/// An integer value.
pub fn int(i: i64) -> pb::Value {
    pb::Value { value_type: Some(value::ValueType::IntegerValue(i)) }
}

/// A boolean value.
pub fn boolean(b: bool) -> pb::Value {
    pb::Value { value_type: Some(value::ValueType::BooleanValue(b)) }
}

/// A bytes value.
pub fn bytes(b: Vec<u8>) -> pb::Value {
    pb::Value { value_type: Some(value::ValueType::BytesValue(b)) }
}

/// The null value.
pub fn null() -> pb::Value {
    pb::Value { value_type: Some(value::ValueType::NullValue(0)) }
}

/// A protobuf timestamp of a date.
pub fn timestamp(d: DateTime<Utc>) -> Timestamp {
    Timestamp { seconds: d.timestamp(), nanos: d.timestamp_subsec_nanos() as i32 }
}

/// A timestamp value, or null.
pub fn time(d: Option<DateTime<Utc>>) -> pb::Value {
    match d {
        Some(d) => pb::Value { value_type: Some(value::ValueType::TimestampValue(timestamp(d))) },
        None => null(),
    }
}

/// The date of a protobuf timestamp.
pub fn from_timestamp(t: &Timestamp) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).ok()?)
}

/// A field of a document, by name.
pub fn field<'a>(doc: &'a Document, name: &str) -> Option<&'a value::ValueType> {
    doc.fields.get(name).and_then(|v| v.value_type.as_ref())
}

/// A string field; `what` names the read for the error.
pub fn get_str<'a>(doc: &'a Document, name: &str, what: &str) -> Result<&'a str> {
    match field(doc, name) {
        Some(value::ValueType::StringValue(s)) => Ok(s),
        _ => Err(malformed(doc, name, what)),
    }
}

/// An integer field.
pub fn get_int(doc: &Document, name: &str, what: &str) -> Result<i64> {
    get_int_opt(doc, name).ok_or_else(|| malformed(doc, name, what))
}

/// A bytes field.
pub fn get_bytes<'a>(doc: &'a Document, name: &str, what: &str) -> Result<&'a [u8]> {
    match field(doc, name) {
        Some(value::ValueType::BytesValue(b)) => Ok(b),
        _ => Err(malformed(doc, name, what)),
    }
}

/// An integer field that older documents may lack (absent: `None`).
pub fn get_int_opt(doc: &Document, name: &str) -> Option<i64> {
    match field(doc, name) {
        Some(value::ValueType::IntegerValue(i)) => Some(*i),
        _ => None,
    }
}

/// A boolean field (absent: false).
pub fn get_bool(doc: &Document, name: &str) -> bool {
    matches!(field(doc, name), Some(value::ValueType::BooleanValue(true)))
}

/// A timestamp field; null or absent is `None`.
pub fn get_time(doc: &Document, name: &str, what: &str) -> Result<Option<DateTime<Utc>>> {
    match field(doc, name) {
        Some(value::ValueType::TimestampValue(t)) => {
            from_timestamp(t).map(Some).ok_or_else(|| malformed(doc, name, what))
        }
        None | Some(value::ValueType::NullValue(_)) => Ok(None),
        _ => Err(malformed(doc, name, what)),
    }
}

fn malformed(doc: &Document, name: &str, what: &str) -> BackendError {
    BackendError::Database {
        what: format!("Firestore {what}"),
        message: format!("document {} has no valid field '{name}'", doc.name),
    }
}

/// Decodes a JSON body field.
pub fn get_json<T: serde::de::DeserializeOwned>(doc: &Document, name: &str, what: &str) -> Result<T> {
    let text = get_str(doc, name, what)?;
    serde_json::from_str(text).map_err(|e| BackendError::Database {
        what: format!("Firestore {what}"),
        message: format!("document {} field '{name}': {e}", doc.name),
    })
}

/// Encodes a value as JSON text for a body field.
pub fn to_json<T: serde::Serialize>(v: &T, what: &str) -> Result<String> {
    serde_json::to_string(v)
        .map_err(|e| BackendError::Database { what: format!("Firestore {what}"), message: format!("encode: {e}") })
}

// ------------------------------------------------------------- writes ---

/// A document with `fields` at full name `name`.
pub fn document(name: String, fields: Vec<(&str, pb::Value)>) -> Document {
    Document {
        name,
        fields: fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        create_time: None,
        update_time: None,
    }
}

/// Replaces (or creates) a whole document.
pub fn set(doc: Document) -> Write {
    Write {
        update_mask: None,
        update_transforms: Vec::new(),
        current_document: None,
        operation: Some(write::Operation::Update(doc)),
    }
}

/// Creates a document that must not exist yet.
pub fn create(doc: Document) -> Write {
    with_precondition(set(doc), precondition::ConditionType::Exists(false))
}

/// Replaces a document only if it was last written at `update_time`.
pub fn replace_if(doc: Document, update_time: Timestamp) -> Write {
    with_precondition(set(doc), precondition::ConditionType::UpdateTime(update_time))
}

/// Writes only the fields named in `doc` (creating the document if needed).
pub fn merge(doc: Document) -> Write {
    let mask = pb::DocumentMask { field_paths: doc.fields.keys().cloned().collect() };
    Write { update_mask: Some(mask), ..set(doc) }
}

/// Deletes a document (absent is fine).
pub fn delete(name: String) -> Write {
    Write {
        update_mask: None,
        update_transforms: Vec::new(),
        current_document: None,
        operation: Some(write::Operation::Delete(name)),
    }
}

/// Deletes a document only if it was last written at `update_time`.
pub fn delete_if(name: String, update_time: Timestamp) -> Write {
    with_precondition(delete(name), precondition::ConditionType::UpdateTime(update_time))
}

/// Adds a precondition to a write.
pub fn with_precondition(mut w: Write, c: precondition::ConditionType) -> Write {
    w.current_document = Some(Precondition { condition_type: Some(c) });
    w
}

/// Sets `field` to the commit time on the server.
pub fn with_server_time(mut w: Write, field: &str) -> Write {
    w.update_transforms.push(document_transform::FieldTransform {
        field_path: field.to_string(),
        transform_type: Some(document_transform::field_transform::TransformType::SetToServerValue(
            document_transform::field_transform::ServerValue::RequestTime as i32,
        )),
    });
    w
}

// ------------------------------------------------------------ queries ---

/// A query on collection `collection` with a filter, an order and a limit.
pub fn select(
    collection: &str,
    filter: Option<structured_query::Filter>,
    order_by: Vec<(&str, bool)>,
    limit: Option<usize>,
) -> StructuredQuery {
    StructuredQuery {
        select: None,
        from: vec![structured_query::CollectionSelector {
            collection_id: collection.to_string(),
            all_descendants: false,
        }],
        r#where: filter,
        order_by: order_by
            .into_iter()
            .map(|(f, descending)| structured_query::Order {
                field: Some(structured_query::FieldReference { field_path: f.to_string() }),
                direction: if descending {
                    structured_query::Direction::Descending as i32
                } else {
                    structured_query::Direction::Ascending as i32
                },
            })
            .collect(),
        start_at: None,
        end_at: None,
        offset: 0,
        limit: limit.map(|l| i32::try_from(l).unwrap_or(i32::MAX)),
        find_nearest: None,
    }
}

/// `field == value`.
pub fn eq(field: &str, v: pb::Value) -> structured_query::Filter {
    field_filter(field, structured_query::field_filter::Operator::Equal, v)
}

/// `field > v`.
pub fn gt(field: &str, v: pb::Value) -> structured_query::Filter {
    field_filter(field, structured_query::field_filter::Operator::GreaterThan, v)
}

/// `field in values` (at most 30 values, Firestore's bound).
pub fn any_of(field: &str, values: Vec<pb::Value>) -> structured_query::Filter {
    let list = pb::Value { value_type: Some(value::ValueType::ArrayValue(pb::ArrayValue { values })) };
    field_filter(field, structured_query::field_filter::Operator::In, list)
}

fn field_filter(field: &str, op: structured_query::field_filter::Operator, v: pb::Value) -> structured_query::Filter {
    structured_query::Filter {
        filter_type: Some(structured_query::filter::FilterType::FieldFilter(structured_query::FieldFilter {
            field: Some(structured_query::FieldReference { field_path: field.to_string() }),
            op: op as i32,
            value: Some(v),
        })),
    }
}

/// All of `filters` (`None` when empty; the filter itself when alone).
pub fn all(mut filters: Vec<structured_query::Filter>) -> Option<structured_query::Filter> {
    match filters.len() {
        0 => None,
        1 => filters.pop(),
        _ => Some(structured_query::Filter {
            filter_type: Some(structured_query::filter::FilterType::CompositeFilter(
                structured_query::CompositeFilter {
                    op: structured_query::composite_filter::Operator::And as i32,
                    filters,
                },
            )),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_ids_are_escaped_one_to_one() {
        assert_eq!(doc_id("abc-1_x.y"), "abc-1_x.y");
        assert_eq!(doc_id("a/b"), "a%2Fb");
        assert_eq!(doc_id("a%2Fb"), "a%252Fb");
        assert_eq!(doc_id(""), "%");
        assert_eq!(doc_id(".."), "%..");
        assert_eq!(doc_id("__x__"), "%__x__");
        assert_ne!(doc_id("%"), doc_id(""));
    }

    #[test]
    fn timestamps_round_trip_to_the_microsecond() {
        let d = DateTime::from_timestamp_micros(1_700_000_000_123_456).expect("date");
        assert_eq!(from_timestamp(&timestamp(d)), Some(d));
    }
}
