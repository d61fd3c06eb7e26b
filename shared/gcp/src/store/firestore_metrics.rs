//! [`MetricStore`] on [`FirestoreStore`]: the top-level `metrics`
//! collection, one document per metric of a task run attempt, with the id
//! `{taskRunId}-{attempt}-{seq}` (a redelivered attempt rewrites its own
//! documents and deletes the ones it no longer has). Fields: `namespace`,
//! `flowId`, `taskId`, `executionId`, `taskRunId`, `attempt`, `type`, `name`,
//! `value` (double), `timestamp`, `tags` (JSON text, not indexed).
//!
//! An execution's metrics are one equality query on `executionId` (sorted
//! here); a flow's are an equality on `namespace` and `flowId` with a range
//! on `timestamp`, newest first — the composite index
//! `(namespace, flowId, timestamp desc)` in [`super::REQUIRED_INDEXES`]; task
//! and name are filtered here, within [`MAX_READ`] entries.

use async_trait::async_trait;
use firestore::gcloud_sdk::google::firestore::v1::{self as pb, Document, structured_query, value};

use super::firestore::FirestoreStore;
use super::fs_client::{
    all, delete, doc_id, document, eq, field, get_str, get_time, int, select, set, string, time, to_json,
};
use baton_backend::metrics::{FlowMetricQuery, MAX_READ, MetricEntry, MetricRead, MetricStore, MetricType};
use baton_backend::{BackendError, Result};

/// Collection of metrics.
pub const METRICS: &str = "metrics";
/// Writes per commit (Firestore allows 500).
const BATCH: usize = 400;

fn double(v: f64) -> pb::Value {
    pb::Value { value_type: Some(value::ValueType::DoubleValue(v)) }
}

fn opt_string(s: &Option<String>) -> pb::Value {
    s.clone().map_or_else(super::fs_client::null, string)
}

fn opt_str(doc: &Document, name: &str) -> Option<String> {
    match field(doc, name) {
        Some(value::ValueType::StringValue(s)) => Some(s.clone()),
        _ => None,
    }
}

fn filter(field_name: &str, op: structured_query::field_filter::Operator, v: pb::Value) -> structured_query::Filter {
    structured_query::Filter {
        filter_type: Some(structured_query::filter::FilterType::FieldFilter(structured_query::FieldFilter {
            field: Some(structured_query::FieldReference { field_path: field_name.to_string() }),
            op: op as i32,
            value: Some(v),
        })),
    }
}

pub(super) fn entry(doc: &Document) -> Result<MetricEntry> {
    const WHAT: &str = "read metrics";
    let kind = get_str(doc, "type", WHAT)?;
    let value = match field(doc, "value") {
        Some(value::ValueType::DoubleValue(v)) => *v,
        Some(value::ValueType::IntegerValue(v)) => *v as f64,
        _ => {
            return Err(BackendError::Database {
                what: WHAT.into(),
                message: format!("{}: no numeric value", doc.name),
            });
        }
    };
    Ok(MetricEntry {
        namespace: get_str(doc, "namespace", WHAT)?.to_string(),
        flow_id: get_str(doc, "flowId", WHAT)?.to_string(),
        task_id: opt_str(doc, "taskId"),
        execution_id: opt_str(doc, "executionId"),
        task_run_id: opt_str(doc, "taskRunId"),
        kind: MetricType::parse(kind).ok_or_else(|| BackendError::Database {
            what: WHAT.into(),
            message: format!("{}: unknown metric type '{kind}'", doc.name),
        })?,
        name: get_str(doc, "name", WHAT)?.to_string(),
        value,
        timestamp: get_time(doc, "timestamp", WHAT)?.ok_or_else(|| BackendError::Database {
            what: WHAT.into(),
            message: format!("{}: no timestamp", doc.name),
        })?,
        tags: serde_json::from_str(get_str(doc, "tags", WHAT)?)
            .map_err(|e| BackendError::Database { what: WHAT.into(), message: format!("{}: tags: {e}", doc.name) })?,
    })
}

/// The first [`MAX_READ`] of `docs` as entries.
fn read(docs: &[Document]) -> Result<MetricRead> {
    Ok(MetricRead {
        entries: docs.iter().take(MAX_READ).map(entry).collect::<Result<_>>()?,
        truncated: docs.len() > MAX_READ,
    })
}

impl FirestoreStore {
    /// One `set` per metric of an attempt, and the documents' names.
    pub(super) fn metric_writes(
        &self,
        task_run_id: &str,
        attempt: u32,
        metrics: &[MetricEntry],
    ) -> Result<(Vec<pb::Write>, std::collections::HashSet<String>)> {
        let mut writes = Vec::with_capacity(metrics.len());
        let mut kept = std::collections::HashSet::new();
        for (seq, m) in metrics.iter().enumerate() {
            let name = self.fs.name(&format!("{METRICS}/{}", doc_id(&format!("{task_run_id}-{attempt}-{seq:04}"))));
            kept.insert(name.clone());
            writes.push(set(document(
                name,
                vec![
                    ("namespace", string(m.namespace.clone())),
                    ("flowId", string(m.flow_id.clone())),
                    ("taskId", opt_string(&m.task_id)),
                    ("executionId", opt_string(&m.execution_id)),
                    ("taskRunId", string(task_run_id)),
                    ("attempt", int(i64::from(attempt))),
                    ("type", string(m.kind.as_str())),
                    ("name", string(m.name.clone())),
                    ("value", double(m.value)),
                    ("timestamp", time(Some(m.timestamp))),
                    ("tags", string(to_json(&m.tags, "save metrics")?)),
                ],
            )));
        }
        Ok((writes, kept))
    }

    async fn metric_names(&self, what: &str, filters: Vec<structured_query::Filter>) -> Result<Vec<String>> {
        let mut query = select(METRICS, all(filters), vec![], None);
        query.select = Some(structured_query::Projection {
            fields: vec![structured_query::FieldReference { field_path: "__name__".into() }],
        });
        Ok(self.fs.query(what, "", query, &[]).await?.into_iter().map(|d| d.name).collect())
    }
}

#[async_trait]
impl MetricStore for FirestoreStore {
    async fn save_metrics(&self, task_run_id: &str, attempt: u32, metrics: &[MetricEntry]) -> Result<()> {
        let (mut writes, kept) = self.metric_writes(task_run_id, attempt, metrics)?;
        // what an earlier delivery of this attempt wrote and this one has not
        let earlier = self
            .metric_names(
                "save metrics (earlier)",
                vec![eq("taskRunId", string(task_run_id)), eq("attempt", int(i64::from(attempt)))],
            )
            .await?;
        writes.extend(earlier.into_iter().filter(|n| !kept.contains(n)).map(delete));
        for chunk in writes.chunks(BATCH) {
            self.fs.commit("save metrics", chunk.to_vec()).await?;
        }
        Ok(())
    }

    async fn execution_metrics(&self, execution_id: &str) -> Result<MetricRead> {
        let query = select(METRICS, Some(eq("executionId", string(execution_id))), vec![], Some(MAX_READ + 1));
        let docs = self.fs.query("read execution metrics", "", query, &[]).await?;
        let mut out = read(&docs)?;
        let key = |m: &MetricEntry| (m.timestamp, m.task_run_id.clone());
        // the document id orders one attempt's metrics (`…-{attempt}-{seq}`)
        let mut keyed: Vec<_> = out.entries.drain(..).zip(docs.iter().map(|d| d.name.clone())).collect();
        keyed.sort_by(|(a, an), (b, bn)| key(a).cmp(&key(b)).then_with(|| an.cmp(bn)));
        out.entries = keyed.into_iter().map(|(m, _)| m).collect();
        Ok(out)
    }

    async fn flow_metrics(&self, q: &FlowMetricQuery) -> Result<MetricRead> {
        use structured_query::field_filter::Operator;
        let mut filters = vec![eq("namespace", string(q.namespace.clone())), eq("flowId", string(q.flow_id.clone()))];
        if let Some(from) = q.from {
            filters.push(filter("timestamp", Operator::GreaterThanOrEqual, time(Some(from))));
        }
        if let Some(to) = q.to {
            filters.push(filter("timestamp", Operator::LessThanOrEqual, time(Some(to))));
        }
        // task and name are filtered here: one composite index serves every
        // query; past MAX_READ documents the read is truncated (an
        // aggregation then asks for a narrower range)
        let query = select(METRICS, all(filters), vec![("timestamp", true)], Some(MAX_READ + 1));
        let docs = self.fs.query("read flow metrics", "", query, &[]).await?;
        let mut entries = Vec::new();
        for d in docs.iter().take(MAX_READ) {
            let m = entry(d)?;
            if q.matches(&m) {
                entries.push(m);
            }
        }
        Ok(MetricRead { entries, truncated: docs.len() > MAX_READ })
    }

    async fn delete_metrics(&self, execution_id: &str) -> Result<usize> {
        let names = self.metric_names("delete metrics", vec![eq("executionId", string(execution_id))]).await?;
        for chunk in names.chunks(BATCH) {
            self.fs.commit("delete metrics", chunk.iter().cloned().map(delete).collect()).await?;
        }
        Ok(names.len())
    }

    async fn purge_metrics(&self, query: &baton_backend::purge::MetricPurge) -> Result<baton_backend::purge::Purged> {
        self.purge_metrics_impl(query).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_metric_document_reads_back() {
        let doc = document(
            "projects/p/databases/d/documents/metrics/x".into(),
            vec![
                ("namespace", string("ns")),
                ("flowId", string("f")),
                ("taskId", string("t")),
                ("executionId", super::super::fs_client::null()),
                ("type", string("timer")),
                ("name", string("n")),
                ("value", int(3)),
                ("timestamp", time(Some(chrono::DateTime::UNIX_EPOCH))),
                ("tags", string(r#"{"a":"b"}"#)),
            ],
        );
        let m = entry(&doc).expect("entry");
        assert_eq!((m.kind, m.value, m.execution_id, m.tags["a"].as_str()), (MetricType::Timer, 3.0, None, "b"));
    }
}
