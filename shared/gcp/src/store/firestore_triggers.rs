//! [`TriggerStore`] on [`FirestoreStore`]: schedule ticks, trigger states
//! and backfills.
//!
//! - `ticks/{namespace}:{flow}:{trigger}:{date}` → `executionId`: created
//!   with an exists=false precondition, so of concurrent claims of one tick
//!   exactly one commits (the exactly-once key of schedules and backfills);
//!   replaced only with an update-time precondition. `:` separates the parts
//!   because Kestra ids may contain dots but never a colon.
//! - `triggers/{namespace}:{flow}:{trigger}`: the state as JSON (`body`).
//! - `backfills/{id}`: the immutable spec as JSON (`spec`), with `state`,
//!   `progress` and `updated` in their own fields: a state transition writes
//!   only `state`/`updated` (conditional on the read update time), progress
//!   only `progress`/`updated`, so neither clobbers the other.

use async_trait::async_trait;
use chrono::Utc;
use firestore::gcloud_sdk::google::firestore::v1::Document;
use firestore::gcloud_sdk::google::firestore::v1::precondition::ConditionType;

use super::firestore::FirestoreStore;
use super::fs_client::{
    CommitOutcome, create, doc_id, document, from_timestamp, get_json, get_str, get_time, merge, replace_if, select,
    set, string, time, to_json, with_precondition,
};
use baton_backend::schedule::{
    Backfill, BackfillProgress, BackfillState, TickClaim, TickKey, TriggerKey, TriggerState, TriggerStore,
};
use baton_backend::{BackendError, Result};

/// Collection of claimed ticks.
pub const TICKS: &str = "ticks";
/// Collection of trigger states.
pub const TRIGGERS: &str = "triggers";
/// Collection of backfills.
pub const BACKFILLS: &str = "backfills";
/// Attempts of a read-then-conditional-write loop.
const CAS_ATTEMPTS: usize = 16;

fn tick_path(key: &TickKey) -> String {
    let date = key.date.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    format!("{TICKS}/{}", doc_id(&format!("{}:{}:{}:{date}", key.namespace, key.flow_id, key.trigger_id)))
}

fn trigger_path(key: &TriggerKey) -> String {
    format!("{TRIGGERS}/{}", doc_id(&format!("{}:{}:{}", key.namespace, key.flow_id, key.trigger_id)))
}

fn backfill_path(id: &str) -> String {
    format!("{BACKFILLS}/{}", doc_id(id))
}

fn contended(what: &str, key: &str) -> BackendError {
    BackendError::Database {
        what: format!("Firestore {what}"),
        message: format!("{key}: still contended after {CAS_ATTEMPTS} attempts"),
    }
}

/// Now, to the microsecond (what a Firestore timestamp keeps).
fn now_us() -> chrono::DateTime<Utc> {
    let now = Utc::now();
    chrono::DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}

fn decode_backfill(doc: &Document) -> Result<Backfill> {
    let what = "load backfill";
    let mut b: Backfill = get_json(doc, "spec", what)?;
    let state = get_str(doc, "state", what)?;
    b.state = BackfillState::parse(state).ok_or_else(|| BackendError::Database {
        what: format!("Firestore {what}"),
        message: format!("unknown backfill state '{state}' in {}", doc.name),
    })?;
    b.progress = get_json(doc, "progress", what)?;
    if let Some(updated) = get_time(doc, "updated", what)? {
        b.updated = updated;
    }
    Ok(b)
}

impl FirestoreStore {
    async fn claim_tick_impl(&self, key: &TickKey, execution_id: &str) -> Result<TickClaim> {
        let path = tick_path(key);
        for _ in 0..CAS_ATTEMPTS {
            let doc = document(
                self.fs.name(&path),
                vec![
                    ("namespace", string(key.namespace.clone())),
                    ("flowId", string(key.flow_id.clone())),
                    ("triggerId", string(key.trigger_id.clone())),
                    ("date", time(Some(key.date))),
                    ("executionId", string(execution_id)),
                    ("created", time(Some(Utc::now()))),
                ],
            );
            if let CommitOutcome::Done(_) = self.fs.commit("claim tick", vec![create(doc)]).await? {
                return Ok(TickClaim::Created);
            }
            if let Some(existing) = self.tick_impl(key).await? {
                return Ok(TickClaim::Existing { execution_id: existing });
            }
        }
        Err(contended("claim tick", &path))
    }

    async fn tick_impl(&self, key: &TickKey) -> Result<Option<String>> {
        let Some(doc) = self.fs.get("read tick", &tick_path(key)).await? else { return Ok(None) };
        Ok(Some(get_str(&doc, "executionId", "read tick")?.to_string()))
    }

    async fn replace_tick_impl(&self, key: &TickKey, expected: &str, execution_id: &str) -> Result<bool> {
        let path = tick_path(key);
        for _ in 0..CAS_ATTEMPTS {
            let Some(mut doc) = self.fs.get("replace tick", &path).await? else { return Ok(false) };
            if get_str(&doc, "executionId", "replace tick")? != expected {
                return Ok(false);
            }
            let Some(t) = doc.update_time.take() else { return Err(contended("replace tick", &path)) };
            doc.create_time = None;
            doc.fields.insert("executionId".into(), string(execution_id));
            if let CommitOutcome::Done(_) = self.fs.commit("replace tick", vec![replace_if(doc, t)]).await? {
                return Ok(true);
            }
        }
        Err(contended("replace tick", &path))
    }

    async fn load_trigger_state_impl(&self, key: &TriggerKey) -> Result<Option<TriggerState>> {
        let Some(doc) = self.fs.get("load trigger state", &trigger_path(key)).await? else { return Ok(None) };
        get_json(&doc, "body", "load trigger state").map(Some)
    }

    async fn save_trigger_state_impl(&self, state: &TriggerState) -> Result<()> {
        let k = &state.key;
        let doc = document(
            self.fs.name(&trigger_path(k)),
            vec![
                ("namespace", string(k.namespace.clone())),
                ("flowId", string(k.flow_id.clone())),
                ("triggerId", string(k.trigger_id.clone())),
                ("nextTick", time(state.next_tick)),
                ("body", string(to_json(state, "save trigger state")?)),
            ],
        );
        self.fs.commit("save trigger state", vec![set(doc)]).await?;
        Ok(())
    }

    async fn create_backfill_impl(&self, b: &Backfill) -> Result<()> {
        let doc = document(
            self.fs.name(&backfill_path(&b.id)),
            vec![
                ("id", string(b.id.clone())),
                ("namespace", string(b.namespace.clone())),
                ("flowId", string(b.flow_id.clone())),
                ("triggerId", string(b.trigger_id.clone())),
                ("state", string(b.state.as_str())),
                ("created", time(Some(b.created))),
                ("updated", time(Some(b.updated))),
                ("spec", string(to_json(b, "create backfill")?)),
                ("progress", string(to_json(&b.progress, "create backfill")?)),
            ],
        );
        match self.fs.commit("create backfill", vec![create(doc)]).await? {
            CommitOutcome::Done(_) => Ok(()),
            CommitOutcome::Precondition => Err(BackendError::Invalid(format!("backfill {} already exists", b.id))),
        }
    }

    async fn load_backfill_impl(&self, id: &str) -> Result<Option<Backfill>> {
        let Some(doc) = self.fs.get("load backfill", &backfill_path(id)).await? else { return Ok(None) };
        decode_backfill(&doc).map(Some)
    }

    async fn list_backfills_impl(&self, state: Option<BackfillState>) -> Result<Vec<Backfill>> {
        let filter = state.map(|s| super::fs_client::eq("state", string(s.as_str())));
        // few documents: sorted here, so no composite index is needed
        let docs = self.fs.query("list backfills", "", select(BACKFILLS, filter, vec![], None), &[]).await?;
        let mut found = Vec::with_capacity(docs.len());
        for doc in &docs {
            let created = get_time(doc, "created", "list backfills")?;
            let order = doc.create_time.as_ref().and_then(from_timestamp);
            found.push((created, order, decode_backfill(doc)?));
        }
        found.sort_by_key(|f| std::cmp::Reverse((f.0, f.1)));
        Ok(found.into_iter().map(|(_, _, b)| b).collect())
    }

    async fn save_backfill_progress_impl(&self, id: &str, progress: &BackfillProgress) -> Result<()> {
        let doc = document(
            self.fs.name(&backfill_path(id)),
            vec![("progress", string(to_json(progress, "save backfill progress")?)), ("updated", time(Some(now_us())))],
        );
        let write = with_precondition(merge(doc), ConditionType::Exists(true));
        match self.fs.commit("save backfill progress", vec![write]).await? {
            CommitOutcome::Done(_) => Ok(()),
            CommitOutcome::Precondition => Err(BackendError::NotFound { what: format!("backfill {id}") }),
        }
    }

    async fn transition_backfill_impl(
        &self,
        id: &str,
        from: &[BackfillState],
        to: BackfillState,
    ) -> Result<Option<Backfill>> {
        let path = backfill_path(id);
        for _ in 0..CAS_ATTEMPTS {
            let Some(doc) = self.fs.get("transition backfill", &path).await? else { return Ok(None) };
            let mut b = decode_backfill(&doc)?;
            if !from.contains(&b.state) {
                return Ok(Some(b));
            }
            let Some(t) = doc.update_time else { return Err(contended("transition backfill", &path)) };
            let now = now_us();
            let change =
                document(self.fs.name(&path), vec![("state", string(to.as_str())), ("updated", time(Some(now)))]);
            let write = with_precondition(merge(change), ConditionType::UpdateTime(t));
            if let CommitOutcome::Done(_) = self.fs.commit("transition backfill", vec![write]).await? {
                b.state = to;
                b.updated = now;
                return Ok(Some(b));
            }
        }
        Err(contended("transition backfill", &path))
    }
}

#[async_trait]
impl TriggerStore for FirestoreStore {
    async fn claim_tick(&self, key: &TickKey, execution_id: &str) -> Result<TickClaim> {
        self.claim_tick_impl(key, execution_id).await
    }
    async fn tick(&self, key: &TickKey) -> Result<Option<String>> {
        self.tick_impl(key).await
    }
    async fn replace_tick(&self, key: &TickKey, expected: &str, execution_id: &str) -> Result<bool> {
        self.replace_tick_impl(key, expected, execution_id).await
    }
    async fn load_trigger_state(&self, key: &TriggerKey) -> Result<Option<TriggerState>> {
        self.load_trigger_state_impl(key).await
    }
    async fn save_trigger_state(&self, state: &TriggerState) -> Result<()> {
        self.save_trigger_state_impl(state).await
    }
    async fn create_backfill(&self, backfill: &Backfill) -> Result<()> {
        self.create_backfill_impl(backfill).await
    }
    async fn load_backfill(&self, id: &str) -> Result<Option<Backfill>> {
        self.load_backfill_impl(id).await
    }
    async fn list_backfills(&self, state: Option<BackfillState>) -> Result<Vec<Backfill>> {
        self.list_backfills_impl(state).await
    }
    async fn save_backfill_progress(&self, id: &str, progress: &BackfillProgress) -> Result<()> {
        self.save_backfill_progress_impl(id, progress).await
    }
    async fn transition_backfill(
        &self,
        id: &str,
        from: &[BackfillState],
        to: BackfillState,
    ) -> Result<Option<Backfill>> {
        self.transition_backfill_impl(id, from, to).await
    }
}
