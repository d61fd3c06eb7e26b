//! Execution labels and deletion on [`FirestoreStore`].
//!
//! Labels: the head document's `labels` field is an array of
//! `"key:value"` strings (a `:` or `%` in the key escaped as `%3A`, `%25`,
//! so the first `:` always ends the key). A listing filters on one label
//! with `array-contains` — Firestore allows one array-contains per query —
//! and checks any other label on the summaries, which carry the labels
//! decoded from that field. The composite index `(labels CONTAINS,
//! startDate DESC)` serves it on production Firestore
//! ([`super::REQUIRED_INDEXES`]). A head written before this field existed
//! has no labels to filter on until its next save.
//!
//! Deletion: the task runs, their chunks (`firestore_chunks.rs`) and (when
//! asked) the log lines of an execution are sub-collections, which Firestore
//! does not delete with their parent: their documents are listed by name and
//! deleted in commits of at most [`DELETE_BATCH`] writes with the task runs'
//! claims, the head last, so an interrupted delete can be run again.

use firestore::gcloud_sdk::google::firestore::v1::{Document, structured_query};

use super::firestore::{FirestoreStore, TASK_RUNS, execution_path};
use super::firestore_chunks::CHUNKS;
use super::firestore_claims::{LOGS, claim_path};
use super::fs_client::{delete, field, select, string};
use baton_backend::{BackendError, Result};
use baton_model::Label;

/// Deletes per commit (Firestore allows 500 writes).
const DELETE_BATCH: usize = 400;

/// `key:value` with the key escaped (see the module documentation).
pub fn label_pair(l: &Label) -> String {
    format!("{}:{}", l.key.replace('%', "%25").replace(':', "%3A"), l.value)
}

/// The inverse of [`label_pair`].
fn label_from_pair(s: &str) -> Option<Label> {
    let (k, v) = s.split_once(':')?;
    Some(Label { key: k.replace("%3A", ":").replace("%25", "%"), value: v.to_string() })
}

/// The head's `labels` field.
pub(super) fn labels_value(labels: &[Label]) -> firestore::gcloud_sdk::google::firestore::v1::Value {
    use firestore::gcloud_sdk::google::firestore::v1::{ArrayValue, Value, value::ValueType};
    Value {
        value_type: Some(ValueType::ArrayValue(ArrayValue {
            values: labels.iter().map(|l| string(label_pair(l))).collect(),
        })),
    }
}

/// The labels stored on a head (none if the field is absent).
pub(super) fn labels_of(d: &Document) -> Result<Vec<Label>> {
    use firestore::gcloud_sdk::google::firestore::v1::value::ValueType;
    let Some(ValueType::ArrayValue(a)) = field(d, "labels") else { return Ok(Vec::new()) };
    a.values
        .iter()
        .map(|v| match &v.value_type {
            Some(ValueType::StringValue(s)) => label_from_pair(s),
            _ => None,
        })
        .map(|l| {
            l.ok_or_else(|| BackendError::Database {
                what: "Firestore list executions".into(),
                message: format!("{}: a label is not a \"key:value\" string", d.name),
            })
        })
        .collect()
}

/// `labels array-contains "key:value"`.
pub(super) fn has_label(l: &Label) -> structured_query::Filter {
    structured_query::Filter {
        filter_type: Some(structured_query::filter::FilterType::FieldFilter(structured_query::FieldFilter {
            field: Some(structured_query::FieldReference { field_path: "labels".into() }),
            op: structured_query::field_filter::Operator::ArrayContains as i32,
            value: Some(string(label_pair(l))),
        })),
    }
}

impl FirestoreStore {
    /// The names of the documents of sub-collection `collection` of execution `id`.
    async fn names(&self, id: &str, collection: &str) -> Result<Vec<String>> {
        let mut query = select(collection, None, vec![], None);
        query.select = Some(structured_query::Projection {
            fields: vec![structured_query::FieldReference { field_path: "__name__".into() }],
        });
        let docs = self.fs.query("delete execution (list)", &execution_path(id), query, &[]).await?;
        Ok(docs.into_iter().map(|d| d.name).collect())
    }

    pub(super) async fn delete_execution_impl(&self, id: &str, logs: bool) -> Result<bool> {
        let Some(exec) = self.load(id).await? else { return Ok(false) };
        let mut names = self.names(id, TASK_RUNS).await?;
        names.extend(self.names(id, CHUNKS).await?);
        // the claims too: an execution recreated with this id (a tick run
        // again) derives the same task run ids, which a claim left done
        // would skip as duplicates
        for tr in &exec.task_run_list {
            for attempt in 1..=(tr.attempts.len() as u32).max(1) {
                names.push(self.fs.name(&claim_path(&tr.id, attempt)));
            }
        }
        if logs {
            names.extend(self.names(id, LOGS).await?);
        }
        names.push(self.fs.name(&execution_path(id)));
        for chunk in names.chunks(DELETE_BATCH) {
            self.fs.commit("delete execution", chunk.iter().cloned().map(delete).collect()).await?;
        }
        self.forget_execution(id);
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_pairs_round_trip_whatever_the_key() {
        for (k, v) in [("env", "prod"), ("a:b", "c"), ("a", "b:c"), ("x%3A", "%"), ("", "")] {
            let l = Label { key: k.into(), value: v.into() };
            assert_eq!(label_from_pair(&label_pair(&l)), Some(l.clone()), "{k}={v}");
        }
        assert_ne!(
            label_pair(&Label { key: "a:b".into(), value: "c".into() }),
            label_pair(&Label { key: "a".into(), value: "b:c".into() })
        );
    }
}
