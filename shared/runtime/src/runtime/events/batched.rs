//! The polling loop the stateful file triggers share (`s3.Trigger`, a
//! local folder's `fs.local.Trigger`): each source lists what it watches
//! and fires a batch; this loop keeps the state between.
//!
//! A poll loads the state store record `{kind}/{stateKey}`. A batch chosen
//! by an earlier poll and not yet fired (`pending`) is fired first. Else
//! the source lists; what is gone from the listing is forgotten (moved,
//! deleted), and so is what was seen longer than `stateTtl` ago; each item
//! whose version differs from the one remembered under its key fires per
//! `on`, at most `maxFiles` of them (the rest at the next poll), and
//! becomes the pending batch with its execution id — compare-and-swap on
//! the record, so of two polls at once (a duplicate tick, two servers) one
//! chooses the batch. The next round fires it: the source creates the
//! execution under that id (the launcher creates an id once) and does its
//! action, then the batch is cleared. A process killed mid-way fires the
//! same batch, under the same id, at the next poll.

use std::collections::{BTreeMap, HashSet};
use std::future::Future;

use chrono::Utc;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{EventError, Seen, bound_seen};
use crate::model::Flow;
use crate::triggers::Stateful;

/// Compare-and-swap attempts on the state before giving up (retried at the next poll).
const CAS_ATTEMPTS: usize = 8;

/// One item of a listing: its key in the state (what identifies it across
/// polls), its version (what changes when it changes) and what the source
/// keeps of it for its batch.
#[derive(Debug, Clone)]
pub(super) struct Listed<I> {
    pub key: String,
    pub version: String,
    pub item: I,
}

/// An item of a batch, and whether it was new (else changed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Detected<I> {
    #[serde(flatten)]
    pub item: I,
    pub is_new: bool,
}

/// A batch chosen, not yet fired.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Pending<I> {
    pub execution_id: String,
    #[serde(alias = "files", alias = "objects")]
    pub items: Vec<Detected<I>>,
}

/// The polling state of one trigger: the items seen, by key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound(deserialize = "I: Deserialize<'de>"))]
pub(super) struct PollState<I> {
    #[serde(default)]
    pub seen: BTreeMap<String, Seen>,
    #[serde(default = "Option::default", skip_serializing_if = "Option::is_none")]
    pub pending: Option<Pending<I>>,
}

impl<I> Default for PollState<I> {
    fn default() -> Self {
        PollState { seen: BTreeMap::new(), pending: None }
    }
}

/// What a poll did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fired {
    pub execution_id: String,
    /// False when the execution already existed (a duplicate).
    pub created: bool,
}

/// What one stateful trigger watches.
pub(super) trait Source {
    /// What a batch keeps of an item (stored in the state while pending).
    type Item: Clone + PartialEq + Serialize + DeserializeOwned + Send + Sync;

    /// The state store record kind (`s3-trigger`, `local-trigger`).
    const RECORD_KIND: &'static str;
    /// The trigger type, for the messages.
    const TYPE: &'static str;

    /// Lists what the trigger watches now.
    fn list(&self) -> impl Future<Output = Result<Vec<Listed<Self::Item>>, EventError>> + Send;

    /// Creates the batch's execution (under its id) unless it exists, then
    /// does the trigger's action.
    fn fire(&self, batch: &Pending<Self::Item>) -> impl Future<Output = Result<Fired, EventError>> + Send;

    /// What names an item in its batch's execution id (with its version).
    fn seed(item: &Self::Item) -> String;
}

/// One evaluation of the trigger `trigger_id` of `flow` (see the module
/// documentation), its state under `state_key`; `None` when nothing new
/// was found.
pub(super) async fn poll<S: Source>(
    engine: &crate::runtime::engine::Engine,
    flow: &Flow,
    trigger_id: &str,
    state_key: &str,
    stateful: &Stateful,
    source: &S,
) -> Result<Option<Fired>, EventError> {
    // what this poll fired, kept when another poll saved the state first
    let mut fired: Option<Fired> = None;
    for _ in 0..CAS_ATTEMPTS {
        let (ver, mut state): (u64, PollState<S::Item>) = super::load_state(engine, S::RECORD_KIND, state_key).await?;
        if let Some(batch) = state.pending.take() {
            let f = source.fire(&batch).await?;
            if fired.as_ref().is_none_or(|p| !p.created) {
                fired = Some(f);
            }
            if super::save_state(engine, S::RECORD_KIND, state_key, ver, &state).await? {
                return Ok(fired);
            }
            continue;
        }
        let listed = source.list().await?;
        let now = Utc::now();
        let before = state.clone();
        // items gone from the listing are forgotten (moved, deleted)
        let present: HashSet<&str> = listed.iter().map(|l| l.key.as_str()).collect();
        state.seen.retain(|k, _| present.contains(k.as_str()));
        if let Some(ttl) = stateful.state_ttl.and_then(|t| chrono::Duration::from_std(t).ok()) {
            state.seen.retain(|_, s| now - s.at <= ttl);
        }
        let mut batch = Vec::new();
        for l in listed {
            let prev = state.seen.get(&l.key).map(|s| s.version.as_str());
            if prev == Some(l.version.as_str()) {
                continue;
            }
            let is_new = prev.is_none();
            if stateful.on.fires(is_new) {
                if batch.len() == stateful.max_files {
                    // the next poll takes it
                    continue;
                }
                batch.push(Detected { item: l.item, is_new });
            }
            state.seen.insert(l.key, Seen { version: l.version, at: now });
        }
        bound_seen(&mut state.seen, state_key, S::TYPE);
        if batch.is_empty() {
            if state != before && !super::save_state(engine, S::RECORD_KIND, state_key, ver, &state).await? {
                continue;
            }
            return Ok(fired);
        }
        let execution_id = execution_id::<S>(flow, trigger_id, state_key, ver, &batch);
        state.pending = Some(Pending { execution_id, items: batch });
        // the next round fires the batch just recorded
        let _ = super::save_state(engine, S::RECORD_KIND, state_key, ver, &state).await?;
    }
    Err(EventError::Contention { key: state_key.to_string() })
}

/// The id of a batch's execution: the trigger, its state's version when the
/// batch was chosen (each batch is chosen at another) and the items.
fn execution_id<S: Source>(
    flow: &Flow,
    trigger_id: &str,
    state_key: &str,
    version: u64,
    batch: &[Detected<S::Item>],
) -> String {
    let mut seed = format!("{}\n{}\n{}\n{trigger_id}\n{state_key}\n{version}", S::TYPE, flow.namespace, flow.id);
    for d in batch {
        seed.push('\n');
        seed.push_str(&S::seed(&d.item));
    }
    crate::model::ids::derived_id(&seed)
}

#[cfg(test)]
mod tests {
    use super::super::MAX_SEEN;
    use super::*;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Item {
        path: String,
    }

    #[test]
    fn state_round_trips_and_reads_the_older_field_names() {
        let s = PollState {
            seen: [("a".to_string(), Seen { version: "1".into(), at: Utc::now() })].into(),
            pending: Some(Pending {
                execution_id: "x".into(),
                items: vec![Detected { item: Item { path: "/in/a".into() }, is_new: true }],
            }),
        };
        let back: PollState<Item> = serde_json::from_value(serde_json::to_value(&s).expect("json")).expect("state");
        assert_eq!(back, s);
        // a batch recorded as `files` (or `objects`) reads the same
        let old = serde_json::json!({"seen": {}, "pending": {"executionId": "x", "files": [{"path": "/in/a", "isNew": false}]}});
        let back: PollState<Item> = serde_json::from_value(old).expect("older state");
        assert_eq!(back.pending.expect("pending").items[0].item.path, "/in/a");
        let empty: PollState<Item> = serde_json::from_value(serde_json::json!({})).expect("empty");
        assert!(empty.seen.is_empty() && empty.pending.is_none());
    }

    #[test]
    fn the_seen_set_stays_bounded() {
        let mut seen = BTreeMap::new();
        let t0 = Utc::now();
        for i in 0..MAX_SEEN + 2 {
            seen.insert(format!("k{i}"), Seen { version: "v".into(), at: t0 + chrono::Duration::seconds(i as i64) });
        }
        bound_seen(&mut seen, "k", "test");
        assert_eq!(seen.len(), MAX_SEEN);
        assert!(!seen.contains_key("k0"));
    }
}
