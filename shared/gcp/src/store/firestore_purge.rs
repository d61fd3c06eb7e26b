//! The purge queries of [`FirestoreStore`] (see [`baton_backend::purge`]).
//! Each reads [`PURGE_PAGE`] documents at a time in a stable order, checks
//! them with the shared `matches` and deletes the matching ones in one
//! commit, then goes on after the last document read (a query cursor), so
//! nothing is read twice and a page is all it holds. Only single-field
//! ranges are queried — no composite index is needed; the rest is checked
//! here.
//!
//! - Logs of one execution: its `logs` sub-collection by name. Logs across
//!   executions: the `logs` collection group by `timestamp` (a field lines
//!   carry since the purge tasks came; lines written before have none and
//!   are purged only with their execution). Production needs the
//!   collection-group single-field index on `logs.timestamp`
//!   ([`super::COLLECTION_GROUP_FIELDS`]).
//! - Ended executions: `executions` by `endDate` (a running execution's is
//!   null, which no range matches), after the `(endDate, name)` cursor.
//! - Metrics: `metrics` by `timestamp`.

use chrono::{DateTime, Utc};
use firestore::gcloud_sdk::google::firestore::v1::{self as pb, Document, StructuredQuery, structured_query, value};

use super::firestore::{EXECUTIONS, FirestoreStore, execution_path, summary};
use super::firestore_claims::LOGS;
use super::firestore_metrics::{METRICS, entry};
use super::fs_client::{all, delete, get_json, select, time};
use baton_backend::purge::{EndedExecutions, LogPurge, MetricPurge, PURGE_PAGE, Purged};
use baton_backend::{ExecutionSummary, LogEntry, Result};

/// Writes per commit (Firestore allows 500).
const DELETE_BATCH: usize = 400;

fn range(field: &str, op: structured_query::field_filter::Operator, at: DateTime<Utc>) -> structured_query::Filter {
    structured_query::Filter {
        filter_type: Some(structured_query::filter::FilterType::FieldFilter(structured_query::FieldFilter {
            field: Some(structured_query::FieldReference { field_path: field.to_string() }),
            op: op as i32,
            value: Some(time(Some(at))),
        })),
    }
}

/// `field` within `[start, end]` (either open).
fn window(field: &str, start: Option<DateTime<Utc>>, end: Option<DateTime<Utc>>) -> Vec<structured_query::Filter> {
    use structured_query::field_filter::Operator;
    let mut out = Vec::new();
    if let Some(s) = start {
        out.push(range(field, Operator::GreaterThanOrEqual, s));
    }
    if let Some(e) = end {
        out.push(range(field, Operator::LessThanOrEqual, e));
    }
    out
}

fn reference(name: &str) -> pb::Value {
    pb::Value { value_type: Some(value::ValueType::ReferenceValue(name.to_string())) }
}

/// A page query ordered by `field` (if any) then by name, after `cursor`.
fn page(
    collection: &str,
    group: bool,
    filters: Vec<structured_query::Filter>,
    field: Option<&str>,
    cursor: Option<Vec<pb::Value>>,
) -> StructuredQuery {
    let mut order: Vec<(&str, bool)> = field.map(|f| vec![(f, false)]).unwrap_or_default();
    order.push(("__name__", false));
    let mut q = select(collection, all(filters), order, Some(PURGE_PAGE));
    q.from[0].all_descendants = group;
    q.start_at = cursor.map(|values| pb::Cursor { values, before: false });
    q
}

/// The cursor after `doc` for a query ordered by `field` then name.
fn cursor_after(doc: &Document, field: Option<&str>) -> Vec<pb::Value> {
    let mut values = Vec::new();
    if let Some(f) = field {
        values.push(doc.fields.get(f).cloned().unwrap_or_else(super::fs_client::null));
    }
    values.push(reference(&doc.name));
    values
}

impl FirestoreStore {
    /// Deletes `names` by commits of at most `batch` (and [`DELETE_BATCH`])
    /// documents; returns (deleted, commits).
    async fn delete_names(&self, what: &str, names: Vec<String>, batch: usize) -> Result<(usize, usize)> {
        let mut commits = 0;
        for chunk in names.chunks(batch.clamp(1, DELETE_BATCH)) {
            self.fs.commit(what, chunk.iter().cloned().map(delete).collect()).await?;
            commits += 1;
        }
        Ok((names.len(), commits))
    }

    pub(super) async fn purge_logs_impl(&self, q: &LogPurge) -> Result<Purged> {
        const WHAT: &str = "purge logs";
        let (parent, group, field, filters) = match &q.execution_id {
            Some(id) => (execution_path(id), false, None, vec![]),
            None => (String::new(), true, Some("timestamp"), window("timestamp", q.start, q.end)),
        };
        let mut out = Purged::default();
        let mut cursor = None;
        loop {
            let query = page(LOGS, group, filters.clone(), field, cursor.take());
            let docs = self.fs.query(WHAT, &parent, query, &[]).await?;
            let full = docs.len() == PURGE_PAGE;
            let mut doomed = Vec::new();
            for d in &docs {
                let line: LogEntry = get_json(d, "body", WHAT)?;
                if q.matches(&line) {
                    if out.deleted + doomed.len() == q.limit {
                        out.more = true;
                        break;
                    }
                    doomed.push(d.name.clone());
                }
            }
            let (deleted, commits) = self.delete_names(WHAT, doomed, q.batch).await?;
            out.deleted += deleted;
            out.batches += commits;
            match docs.last() {
                Some(last) if full && !out.more => cursor = Some(cursor_after(last, field)),
                _ => return Ok(out),
            }
        }
    }

    pub(super) async fn ended_executions_impl(&self, q: &EndedExecutions) -> Result<Vec<ExecutionSummary>> {
        const WHAT: &str = "list ended executions";
        let filters = window("endDate", None, Some(q.end));
        let mut cursor =
            q.after.as_ref().map(|(at, id)| vec![time(Some(*at)), reference(&self.fs.name(&execution_path(id)))]);
        let mut out = Vec::new();
        loop {
            let query = page(EXECUTIONS, false, filters.clone(), Some("endDate"), cursor.take());
            let docs = self.fs.query(WHAT, "", query, &[]).await?;
            for d in &docs {
                let s = summary(d)?;
                if q.matches(&s) {
                    out.push(s);
                    if out.len() == q.limit {
                        return Ok(out);
                    }
                }
            }
            match docs.last() {
                Some(last) if docs.len() == PURGE_PAGE => cursor = Some(cursor_after(last, Some("endDate"))),
                _ => return Ok(out),
            }
        }
    }

    pub(super) async fn purge_metrics_impl(&self, q: &MetricPurge) -> Result<Purged> {
        const WHAT: &str = "purge metrics";
        let filters = window("timestamp", q.start, Some(q.end));
        let mut out = Purged::default();
        let mut cursor = None;
        loop {
            let query = page(METRICS, false, filters.clone(), Some("timestamp"), cursor.take());
            let docs = self.fs.query(WHAT, "", query, &[]).await?;
            let full = docs.len() == PURGE_PAGE;
            let mut doomed = Vec::new();
            for d in &docs {
                if q.matches(&entry(d)?) {
                    if out.deleted + doomed.len() == q.limit {
                        out.more = true;
                        break;
                    }
                    doomed.push(d.name.clone());
                }
            }
            let (deleted, commits) = self.delete_names(WHAT, doomed, DELETE_BATCH).await?;
            out.deleted += deleted;
            out.batches += commits;
            match docs.last() {
                Some(last) if full && !out.more => cursor = Some(cursor_after(last, Some("timestamp"))),
                _ => return Ok(out),
            }
        }
    }
}
