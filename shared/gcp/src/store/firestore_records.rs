//! Compare-and-swap records on [`FirestoreStore`]: `{kind}/{key}` with
//! `version` and `body` (JSON). A first write is a create with an
//! exists=false precondition; a later one replaces the document on the
//! update time read with the expected version, so of two writers that read
//! one version exactly one commits. One small document per record
//! (a flow's concurrency slots, a backfill's owner), far below Firestore's
//! one-write-per-second-per-document guidance at a flow's execution rate.

use serde_json::Value;

use super::firestore::FirestoreStore;
use super::fs_client::{CommitOutcome, create, doc_id, document, get_int, get_str, int, replace_if, string};
use baton_backend::{BackendError, Result};

/// The kinds of record the runtime keeps (one collection each): what a
/// sweep of the store reads (the sealing test). Any kind made of lower-case
/// letters, digits, `-` and `_` is stored ([`record_path`]), so a kind the
/// runtime adds works before it is listed here.
pub const RECORD_KINDS: &[&str] = &[
    "concurrency",
    "leases",
    "sweep",
    "flow_trigger_windows",
    "batches",
    "fanout",
    "task-cache",
    "gcs-trigger",
    "s3-trigger",
    "pubsub-trigger",
];

/// The longest record kind (a Firestore collection id).
const MAX_KIND: usize = 64;

fn record_path(kind: &str, key: &str) -> Result<String> {
    let safe = !kind.is_empty()
        && kind.len() <= MAX_KIND
        && kind.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if !safe {
        return Err(BackendError::Invalid(format!(
            "record kind '{kind}': must be 1 to {MAX_KIND} lower-case letters, digits, '-' or '_'"
        )));
    }
    Ok(format!("{kind}/{}", doc_id(key)))
}

impl FirestoreStore {
    pub(super) async fn load_record_impl(&self, kind: &str, key: &str) -> Result<Option<(u64, Value)>> {
        let what = "load record";
        let Some(doc) = self.fs.get(what, &record_path(kind, key)?).await? else { return Ok(None) };
        let version = get_int(&doc, "version", what)? as u64;
        let body = serde_json::from_str(get_str(&doc, "body", what)?)
            .map_err(|e| BackendError::Database { what: format!("Firestore {what}"), message: e.to_string() })?;
        Ok(Some((version, body)))
    }

    pub(super) async fn save_record_impl(&self, kind: &str, key: &str, expected: u64, value: &Value) -> Result<u64> {
        let what = "save record";
        let path = record_path(kind, key)?;
        let conflict = |found: u64| BackendError::Conflict { what: format!("{kind} record {key}"), expected, found };
        let doc = document(
            self.fs.name(&path),
            vec![("version", int(expected as i64 + 1)), ("body", string(value.to_string()))],
        );
        let write = if expected == 0 {
            create(doc)
        } else {
            let Some(current) = self.fs.get(what, &path).await? else { return Err(conflict(0)) };
            let found = get_int(&current, "version", what)? as u64;
            let Some(t) = current.update_time.filter(|_| found == expected) else { return Err(conflict(found)) };
            replace_if(doc, t)
        };
        match self.fs.commit(what, vec![write]).await? {
            CommitOutcome::Done(_) => Ok(expected + 1),
            CommitOutcome::Precondition => Err(conflict(expected + 1)),
        }
    }
}

#[cfg(test)]
mod kind_tests {
    use super::*;

    /// Subflows count against their root in `fanout/…`; Firestore refused
    /// that kind (an allow-list that missed it) and failed every Subflow.
    #[test]
    fn every_kind_the_runtime_keeps_is_a_path_and_an_unsafe_one_is_refused() {
        for kind in RECORD_KINDS {
            assert!(record_path(kind, "root-1").is_ok(), "{kind}");
        }
        assert_eq!(record_path("fanout", "x").expect("fanout"), format!("fanout/{}", doc_id("x")));
        for bad in ["", "a/b", "Upper", "x".repeat(65).as_str()] {
            let e = record_path(bad, "k").expect_err(bad);
            assert!(e.to_string().contains("record kind"), "{e}");
        }
    }
}
