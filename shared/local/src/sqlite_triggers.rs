//! [`TriggerStore`] on [`SqliteStore`]: the `ticks` table (primary key
//! `(namespace, flow_id, trigger_id, date)`, so a second claim of a tick is
//! a constraint no-op), `triggers` (one JSON row per trigger) and
//! `backfills` (the immutable spec as JSON, the state and the progress in
//! their own columns so a pause never overwrites progress, nor the reverse).

use async_trait::async_trait;
use chrono::Utc;
use rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::sqlite::{SqliteStore, db, json, micros};
use baton_backend::schedule::{
    Backfill, BackfillProgress, BackfillState, TickClaim, TickKey, TriggerKey, TriggerState, TriggerStore,
};
use baton_backend::{BackendError, Result};

impl SqliteStore {
    fn claim_tick_sync(&self, key: &TickKey, execution_id: &str) -> Result<TickClaim> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db("claim_tick (begin)"))?;
        let inserted = tx
            .prepare_cached(
                "INSERT INTO ticks (namespace, flow_id, trigger_id, date, execution_id, created)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
            )
            .and_then(|mut s| {
                s.execute(params![
                    key.namespace,
                    key.flow_id,
                    key.trigger_id,
                    micros(key.date),
                    execution_id,
                    micros(Utc::now())
                ])
            })
            .map_err(db("claim_tick (insert)"))?;
        let claim = if inserted == 1 {
            TickClaim::Created
        } else {
            let existing = tick_in(&tx, key)?.ok_or_else(|| BackendError::Database {
                what: "claim_tick".into(),
                message: format!("tick {} neither inserted nor found", key.id()),
            })?;
            TickClaim::Existing { execution_id: existing }
        };
        tx.commit().map_err(db("claim_tick (commit)"))?;
        Ok(claim)
    }

    fn replace_tick_sync(&self, key: &TickKey, expected: &str, execution_id: &str) -> Result<bool> {
        let conn = self.lock();
        let n = conn
            .prepare_cached(
                "UPDATE ticks SET execution_id = ?6
                 WHERE namespace = ?1 AND flow_id = ?2 AND trigger_id = ?3 AND date = ?4 AND execution_id = ?5",
            )
            .and_then(|mut s| {
                s.execute(params![key.namespace, key.flow_id, key.trigger_id, micros(key.date), expected, execution_id])
            })
            .map_err(db("replace_tick"))?;
        Ok(n == 1)
    }

    fn load_trigger_state_sync(&self, key: &TriggerKey) -> Result<Option<TriggerState>> {
        let conn = self.lock();
        let body: Option<String> = conn
            .prepare_cached("SELECT body FROM triggers WHERE namespace = ?1 AND flow_id = ?2 AND trigger_id = ?3")
            .and_then(|mut s| s.query_row(params![key.namespace, key.flow_id, key.trigger_id], |r| r.get(0)).optional())
            .map_err(db("load_trigger_state"))?;
        body.map(|b| serde_json::from_str(&b).map_err(json("load_trigger_state (decode)"))).transpose()
    }

    fn save_trigger_state_sync(&self, state: &TriggerState) -> Result<()> {
        let body = serde_json::to_string(state).map_err(json("save_trigger_state (encode)"))?;
        let k = &state.key;
        self.lock()
            .prepare_cached(
                "INSERT INTO triggers (namespace, flow_id, trigger_id, body) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (namespace, flow_id, trigger_id) DO UPDATE SET body = excluded.body",
            )
            .and_then(|mut s| s.execute(params![k.namespace, k.flow_id, k.trigger_id, body]))
            .map_err(db("save_trigger_state"))?;
        Ok(())
    }

    fn create_backfill_sync(&self, b: &Backfill) -> Result<()> {
        let spec = serde_json::to_string(b).map_err(json("create_backfill (encode)"))?;
        let progress = serde_json::to_string(&b.progress).map_err(json("create_backfill (encode progress)"))?;
        let conn = self.lock();
        conn.prepare_cached(
            "INSERT INTO backfills (id, state, created, updated, spec, progress) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .and_then(|mut s| {
            s.execute(params![b.id, b.state.as_str(), micros(b.created), micros(b.updated), spec, progress])
        })
        .map_err(|e| match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::ConstraintViolation) => {
                BackendError::Invalid(format!("backfill {} already exists", b.id))
            }
            _ => db("create_backfill")(e),
        })?;
        Ok(())
    }

    fn load_backfill_sync(&self, id: &str) -> Result<Option<Backfill>> {
        let conn = self.lock();
        conn.prepare_cached("SELECT state, updated, spec, progress FROM backfills WHERE id = ?1")
            .and_then(|mut s| s.query_row([id], row_parts).optional())
            .map_err(db("load_backfill"))?
            .map(decode_backfill)
            .transpose()
    }

    fn list_backfills_sync(&self, state: Option<BackfillState>) -> Result<Vec<Backfill>> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(
                "SELECT state, updated, spec, progress FROM backfills WHERE (?1 IS NULL OR state = ?1)
                 ORDER BY created DESC, rowid DESC",
            )
            .map_err(db("list_backfills"))?;
        let rows = stmt.query_map([state.map(BackfillState::as_str)], row_parts).map_err(db("list_backfills"))?;
        let mut out = Vec::new();
        for row in rows {
            out.push(decode_backfill(row.map_err(db("list_backfills"))?)?);
        }
        Ok(out)
    }

    fn save_backfill_progress_sync(&self, id: &str, progress: &BackfillProgress) -> Result<()> {
        let body = serde_json::to_string(progress).map_err(json("save_backfill_progress (encode)"))?;
        let n = self
            .lock()
            .prepare_cached("UPDATE backfills SET progress = ?2, updated = ?3 WHERE id = ?1")
            .and_then(|mut s| s.execute(params![id, body, micros(Utc::now())]))
            .map_err(db("save_backfill_progress"))?;
        if n == 0 {
            return Err(BackendError::NotFound { what: format!("backfill {id}") });
        }
        Ok(())
    }

    fn transition_backfill_sync(
        &self,
        id: &str,
        from: &[BackfillState],
        to: BackfillState,
    ) -> Result<Option<Backfill>> {
        let names: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
        let names = serde_json::to_string(&names).map_err(json("transition_backfill"))?;
        {
            let conn = self.lock();
            conn.prepare_cached(
                "UPDATE backfills SET state = ?2, updated = ?3
                 WHERE id = ?1 AND state IN (SELECT value FROM json_each(?4))",
            )
            .and_then(|mut s| s.execute(params![id, to.as_str(), micros(Utc::now()), names]))
            .map_err(db("transition_backfill"))?;
        }
        self.load_backfill_sync(id)
    }
}

fn tick_in(conn: &rusqlite::Connection, key: &TickKey) -> Result<Option<String>> {
    conn.prepare_cached(
        "SELECT execution_id FROM ticks WHERE namespace = ?1 AND flow_id = ?2 AND trigger_id = ?3 AND date = ?4",
    )
    .and_then(|mut s| {
        s.query_row(params![key.namespace, key.flow_id, key.trigger_id, micros(key.date)], |r| r.get(0)).optional()
    })
    .map_err(db("tick"))
}

type BackfillRow = (String, i64, String, String);

fn row_parts(r: &rusqlite::Row<'_>) -> rusqlite::Result<BackfillRow> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
}

fn decode_backfill((state, updated, spec, progress): BackfillRow) -> Result<Backfill> {
    let mut b: Backfill = serde_json::from_str(&spec).map_err(json("load backfill (decode spec)"))?;
    b.state = BackfillState::parse(&state).ok_or_else(|| BackendError::Database {
        what: "load backfill".into(),
        message: format!("unknown backfill state '{state}' stored for {}", b.id),
    })?;
    b.progress = serde_json::from_str(&progress).map_err(json("load backfill (decode progress)"))?;
    b.updated = super::sqlite::from_micros(updated)?;
    Ok(b)
}

#[async_trait]
impl TriggerStore for SqliteStore {
    async fn claim_tick(&self, key: &TickKey, execution_id: &str) -> Result<TickClaim> {
        self.claim_tick_sync(key, execution_id)
    }
    async fn tick(&self, key: &TickKey) -> Result<Option<String>> {
        tick_in(&self.lock(), key)
    }
    async fn replace_tick(&self, key: &TickKey, expected: &str, execution_id: &str) -> Result<bool> {
        self.replace_tick_sync(key, expected, execution_id)
    }
    async fn load_trigger_state(&self, key: &TriggerKey) -> Result<Option<TriggerState>> {
        self.load_trigger_state_sync(key)
    }
    async fn save_trigger_state(&self, state: &TriggerState) -> Result<()> {
        self.save_trigger_state_sync(state)
    }
    async fn create_backfill(&self, backfill: &Backfill) -> Result<()> {
        self.create_backfill_sync(backfill)
    }
    async fn load_backfill(&self, id: &str) -> Result<Option<Backfill>> {
        self.load_backfill_sync(id)
    }
    async fn list_backfills(&self, state: Option<BackfillState>) -> Result<Vec<Backfill>> {
        self.list_backfills_sync(state)
    }
    async fn save_backfill_progress(&self, id: &str, progress: &BackfillProgress) -> Result<()> {
        self.save_backfill_progress_sync(id, progress)
    }
    async fn transition_backfill(
        &self,
        id: &str,
        from: &[BackfillState],
        to: BackfillState,
    ) -> Result<Option<Backfill>> {
        self.transition_backfill_sync(id, from, to)
    }
}

#[cfg(test)]
mod tests {
    use crate::SqliteStore;
    use baton_backend::schedule_contract::trigger_store_contract;

    #[tokio::test]
    async fn trigger_store_contract_in_memory() {
        trigger_store_contract(&SqliteStore::open_in_memory().expect("open")).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn trigger_store_contract_on_a_file_shared_by_two_connections() {
        let dir = std::env::temp_dir().join(format!("baton-ticks-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let a = SqliteStore::open(&dir.join("baton.db")).expect("open");
        trigger_store_contract(&a).await;
        // two processes' connections on one file still claim a tick once
        let b = SqliteStore::open(&dir.join("baton.db")).expect("open twice");
        let key = baton_backend::schedule::TickKey {
            namespace: "ns".into(),
            flow_id: "f".into(),
            trigger_id: "t".into(),
            date: chrono::DateTime::from_timestamp(1_700_000_000, 0).expect("date"),
        };
        use baton_backend::schedule::{TickClaim, TriggerStore};
        assert_eq!(a.claim_tick(&key, "from-a").await.expect("claim"), TickClaim::Created);
        assert_eq!(
            b.claim_tick(&key, "from-b").await.expect("claim"),
            TickClaim::Existing { execution_id: "from-a".into() }
        );
        drop((a, b));
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
