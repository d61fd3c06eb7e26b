//! Logs, task-run claims (worker leases) and flow revisions of
//! [`SqliteStore`]; the [`baton_backend::StateStore`] impl in `sqlite.rs`
//! calls these.
//!
//! A claim row `(task_run_id, attempt)` records the worker holding the
//! attempt and its lease expiry (µs); `done = 1` once finished, with the
//! attempt's `result` (JSON) when its worker kept it. Claiming
//! compares the lease with the wall clock (`Utc::now()`).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::sqlite::{SqliteStore, db, from_micros, json, micros};
use baton_backend::{BackendError, Claim, LogEntry, Result};

impl SqliteStore {
    pub(super) async fn append_logs_queued(&self, logs: &[LogEntry]) -> Result<()> {
        let rows = logs
            .iter()
            .map(|log| {
                Ok((log.execution_id.clone(), serde_json::to_string(log).map_err(json("append_logs (encode)"))?))
            })
            .collect::<Result<Vec<(String, String)>>>()?;
        self.group()
            .run("append_logs", move |conn| {
                let mut stmt = conn
                    .prepare_cached("INSERT INTO logs (execution_id, body) VALUES (?1, ?2)")
                    .map_err(db("append_logs"))?;
                for (execution_id, body) in &rows {
                    stmt.execute(params![execution_id, body]).map_err(db("append_logs"))?;
                }
                Ok(())
            })
            .await
    }

    pub(super) fn logs_sync(&self, execution_id: &str) -> Result<Vec<LogEntry>> {
        let conn = self.lock();
        let mut stmt =
            conn.prepare_cached("SELECT body FROM logs WHERE execution_id = ?1 ORDER BY seq").map_err(db("logs"))?;
        let rows = stmt.query_map([execution_id], |r| r.get::<_, String>(0)).map_err(db("logs"))?;
        let mut out = Vec::new();
        for body in rows {
            out.push(serde_json::from_str(&body.map_err(db("logs"))?).map_err(json("logs (decode)"))?);
        }
        Ok(out)
    }

    pub(super) fn logs_at_level_sync(
        &self,
        execution_id: &str,
        level: &str,
        max_lines: usize,
        max_bytes: u64,
    ) -> Result<Vec<LogEntry>> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(
                "SELECT body FROM logs WHERE execution_id = ?1 AND json_extract(body, '$.level') = ?2 ORDER BY seq",
            )
            .map_err(db("logs_at_level"))?;
        let rows = stmt.query_map([execution_id, level], |r| r.get::<_, String>(0)).map_err(db("logs_at_level"))?;
        // the rows are read as they come, and no further than the bounds
        let lines = rows.map(|body| {
            serde_json::from_str::<LogEntry>(&body.map_err(db("logs_at_level"))?).map_err(json("logs (decode)"))
        });
        baton_backend::within_level_bounds(lines, max_lines, max_bytes)
    }

    pub(super) fn log_volume_sync(&self, execution_id: &str) -> Result<(u64, u64)> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(
                "SELECT count(*), coalesce(sum(length(CAST(json_extract(body, '$.message') AS BLOB))), 0) \
                 FROM logs WHERE execution_id = ?1",
            )
            .map_err(db("log_volume"))?;
        let (lines, bytes): (i64, i64) =
            stmt.query_row([execution_id], |r| Ok((r.get(0)?, r.get(1)?))).map_err(db("log_volume"))?;
        Ok((lines.max(0) as u64, bytes.max(0) as u64))
    }

    pub(super) async fn claim_queued(
        &self,
        task_run_id: &str,
        attempt: u32,
        worker_id: &str,
        until: DateTime<Utc>,
    ) -> Result<Claim> {
        let (task_run_id, worker_id) = (task_run_id.to_string(), worker_id.to_string());
        self.group()
            .run("claim", move |conn| {
                let now = micros(Utc::now());
                let row: Option<(String, i64, bool)> = conn
                    .prepare_cached(
                        "SELECT worker_id, lease_until, done FROM claims WHERE task_run_id = ?1 AND attempt = ?2",
                    )
                    .and_then(|mut s| {
                        s.query_row(params![task_run_id, attempt], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).optional()
                    })
                    .map_err(db("claim (read)"))?;
                Ok(match row {
                    Some((_, _, true)) => Claim::Done,
                    Some((holder, lease, false)) if holder != worker_id && lease > now => {
                        Claim::HeldElsewhere { worker_id: holder, until: from_micros(lease)? }
                    }
                    row => {
                        let taken_over = match row {
                            Some((holder, lease, false)) if holder != worker_id && !holder.is_empty() => {
                                Some(Claim::TakenOver { worker_id: holder, until: from_micros(lease)? })
                            }
                            _ => None,
                        };
                        conn.prepare_cached(
                            "INSERT INTO claims (task_run_id, attempt, worker_id, lease_until, done)
                             VALUES (?1, ?2, ?3, ?4, 0)
                             ON CONFLICT (task_run_id, attempt)
                             DO UPDATE SET worker_id = excluded.worker_id, lease_until = excluded.lease_until",
                        )
                        .and_then(|mut s| s.execute(params![task_run_id, attempt, worker_id, micros(until)]))
                        .map_err(db("claim (write)"))?;
                        taken_over.unwrap_or(Claim::Acquired)
                    }
                })
            })
            .await
    }

    /// A read when the claim opened for `worker_id` stands (`Acquired`) or
    /// was closed (`Done`); otherwise (no row, or another holder) a claim.
    pub(super) async fn confirm_claim_queued(
        &self,
        task_run_id: &str,
        attempt: u32,
        worker_id: &str,
        until: DateTime<Utc>,
    ) -> Result<Claim> {
        let (tr, holder) = (task_run_id.to_string(), worker_id.to_string());
        let found = self
            .group()
            .read("confirm_claim", move |conn| {
                conn.prepare_cached("SELECT worker_id = ?3, done FROM claims WHERE task_run_id = ?1 AND attempt = ?2")
                    .and_then(|mut s| {
                        s.query_row(params![tr, attempt, holder], |r| Ok((r.get(0)?, r.get(1)?))).optional()
                    })
                    .map_err(db("confirm_claim"))
            })
            .await?;
        match found {
            Some((_, true)) => Ok(Claim::Done),
            Some((true, false)) => Ok(Claim::Acquired),
            _ => self.claim_queued(task_run_id, attempt, worker_id, until).await,
        }
    }

    pub(super) async fn heartbeat_queued(
        &self,
        task_run_id: &str,
        attempt: u32,
        worker_id: &str,
        until: DateTime<Utc>,
    ) -> Result<()> {
        let (task_run_id, worker_id) = (task_run_id.to_string(), worker_id.to_string());
        self.group()
            .run("heartbeat", move |conn| {
                let n = conn
                    .prepare_cached(
                        "UPDATE claims SET lease_until = ?4
                         WHERE task_run_id = ?1 AND attempt = ?2 AND worker_id = ?3 AND done = 0",
                    )
                    .and_then(|mut s| s.execute(params![task_run_id, attempt, worker_id, micros(until)]))
                    .map_err(db("heartbeat"))?;
                if n == 0 {
                    return Err(BackendError::NotFound {
                        what: format!("live claim of task run {task_run_id} attempt {attempt} by worker {worker_id}"),
                    });
                }
                Ok(())
            })
            .await
    }

    pub(super) async fn finish_claim_queued(&self, task_run_id: &str, attempt: u32) -> Result<()> {
        let task_run_id = task_run_id.to_string();
        self.group().run("finish_claim", move |conn| finish_claim_row(conn, &task_run_id, attempt)).await
    }

    pub(super) async fn finish_claim_with_queued(&self, task_run_id: &str, attempt: u32, result: &str) -> Result<()> {
        let (task_run_id, result) = (task_run_id.to_string(), result.to_string());
        self.group()
            .run("finish_claim (with its result)", move |conn| {
                finish_claim_keeping(conn, &task_run_id, attempt, Some(&result))
            })
            .await
    }

    pub(super) async fn kept_result_queued(&self, task_run_id: &str, attempt: u32) -> Result<Option<String>> {
        let task_run_id = task_run_id.to_string();
        self.group()
            .read("kept result", move |conn| {
                conn.prepare_cached("SELECT result FROM claims WHERE task_run_id = ?1 AND attempt = ?2 AND done = 1")
                    .and_then(|mut s| s.query_row(params![task_run_id, attempt], |r| r.get(0)).optional())
                    .map(Option::flatten)
                    .map_err(db("kept result"))
            })
            .await
    }

    /// The launcher calls it for every execution: an unchanged flow is
    /// answered from the memo (`SqliteStore::flow_revisions`), any other by
    /// [`SqliteStore::save_flow_stored`].
    pub(super) async fn save_flow_queued(&self, namespace: &str, id: &str, source: &str) -> Result<u32> {
        if let Some(rev) = self.flow_revisions.get(namespace, id, source) {
            return Ok(rev);
        }
        let rev = self.save_flow_stored(namespace, id, source).await?;
        self.flow_revisions.put(namespace, id, source, rev);
        Ok(rev)
    }

    /// Writes only when the source changed: the latest revision is compared
    /// on a read connection first (the latest revision is never deleted, so
    /// one equal to `source` stays valid), and only a change queues a write
    /// job, which compares again.
    async fn save_flow_stored(&self, namespace: &str, id: &str, source: &str) -> Result<u32> {
        let (namespace, id, source) = (namespace.to_string(), id.to_string(), source.to_string());
        let key = (namespace.clone(), id.clone(), source.clone());
        let seen =
            self.group().read("save_flow (read latest)", move |conn| latest_flow(conn, &key.0, &key.1, &key.2)).await?;
        if let Some((rev, true)) = seen {
            return Ok(rev);
        }
        self.group()
            .run("save_flow", move |conn| {
                let revision = match latest_flow(conn, &namespace, &id, &source)? {
                    Some((rev, true)) => return Ok(rev),
                    Some((rev, false)) => rev + 1,
                    None => 1,
                };
                conn.prepare_cached(
                    "INSERT INTO flows (namespace, id, revision, source, created) VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .and_then(|mut s| s.execute(params![namespace, id, revision, source, micros(Utc::now())]))
                .map_err(db("save_flow (insert)"))?;
                Ok(revision)
            })
            .await
    }

    pub(super) async fn load_flow_queued(
        &self,
        namespace: &str,
        id: &str,
        revision: Option<u32>,
    ) -> Result<Option<(u32, String)>> {
        let (namespace, id) = (namespace.to_string(), id.to_string());
        self.group()
            .read("load_flow", move |conn| {
                conn.prepare_cached(
                    "SELECT revision, source FROM flows WHERE namespace = ?1 AND id = ?2
                     AND (?3 IS NULL OR revision = ?3) ORDER BY revision DESC LIMIT 1",
                )
                .and_then(|mut s| {
                    s.query_row(params![namespace, id, revision], |r| Ok((r.get(0)?, r.get(1)?))).optional()
                })
                .map_err(db("load_flow"))
            })
            .await
    }

    pub(super) fn delete_flow_revisions_sync(&self, namespace: &str, id: &str, revisions: &[u32]) -> Result<usize> {
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db("delete_flow_revisions (begin)"))?;
        let latest: Option<u32> = tx
            .prepare_cached("SELECT MAX(revision) FROM flows WHERE namespace = ?1 AND id = ?2")
            .and_then(|mut s| s.query_row([namespace, id], |r| r.get(0)))
            .map_err(db("delete_flow_revisions (latest)"))?;
        let mut deleted = 0;
        for r in revisions.iter().filter(|r| Some(**r) != latest) {
            deleted += tx
                .prepare_cached("DELETE FROM flows WHERE namespace = ?1 AND id = ?2 AND revision = ?3")
                .and_then(|mut s| s.execute(params![namespace, id, r]))
                .map_err(db("delete_flow_revisions"))?;
        }
        tx.commit().map_err(db("delete_flow_revisions (commit)"))?;
        // after the commit: a save meanwhile could not remember a deleted revision
        self.flow_revisions.forget(namespace, id);
        Ok(deleted)
    }

    pub(super) fn list_flow_revisions_sync(
        &self,
        namespace: &str,
        id: &str,
        limit: usize,
    ) -> Result<Vec<baton_backend::FlowRevision>> {
        let conn = self.lock();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = conn
            .prepare_cached(
                "SELECT revision, source, created FROM flows WHERE namespace = ?1 AND id = ?2
                 ORDER BY revision DESC LIMIT ?3",
            )
            .and_then(|mut s| {
                s.query_map(params![namespace, id, limit], |r| {
                    Ok((r.get::<_, u32>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(db("list_flow_revisions"))?;
        let mut out = Vec::with_capacity(rows.len());
        for (revision, source, created) in rows.into_iter().rev() {
            out.push(baton_backend::FlowRevision { revision, source, created: Some(from_micros(created)?) });
        }
        Ok(out)
    }
}

/// The revision last saved or found per flow, with its source (see
/// `SqliteStore::flow_revisions`). Bounded: past [`FLOW_REVISIONS_KEPT`]
/// flows it starts over.
#[derive(Default)]
pub(super) struct FlowRevisions(std::sync::Mutex<RevisionMap>);

/// (namespace, flow id) → (revision, its source).
type RevisionMap = HashMap<(String, String), (u32, String)>;

/// How many flows [`FlowRevisions`] remembers.
const FLOW_REVISIONS_KEPT: usize = 4096;

impl FlowRevisions {
    fn lock(&self) -> std::sync::MutexGuard<'_, RevisionMap> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn get(&self, namespace: &str, id: &str, source: &str) -> Option<u32> {
        let map = self.lock();
        let (rev, src) = map.get(&(namespace.to_string(), id.to_string()))?;
        (src == source).then_some(*rev)
    }

    fn put(&self, namespace: &str, id: &str, source: &str, revision: u32) {
        let mut map = self.lock();
        if map.len() >= FLOW_REVISIONS_KEPT {
            map.clear();
        }
        map.insert((namespace.to_string(), id.to_string()), (revision, source.to_string()));
    }

    fn forget(&self, namespace: &str, id: &str) {
        self.lock().remove(&(namespace.to_string(), id.to_string()));
    }
}

/// The latest revision of a flow, and whether its source is `source`.
fn latest_flow(conn: &rusqlite::Connection, namespace: &str, id: &str, source: &str) -> Result<Option<(u32, bool)>> {
    conn.prepare_cached(
        "SELECT revision, source = ?3 FROM flows WHERE namespace = ?1 AND id = ?2 ORDER BY revision DESC LIMIT 1",
    )
    .and_then(|mut s| s.query_row(params![namespace, id, source], |r| Ok((r.get(0)?, r.get(1)?))).optional())
    .map_err(db("save_flow (read latest)"))
}

/// Opens a claim for `worker_id` until `until` (µs) unless the attempt has one.
pub(super) fn open_claim_row(
    conn: &rusqlite::Connection,
    task_run_id: &str,
    attempt: u32,
    worker_id: &str,
    until: i64,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO claims (task_run_id, attempt, worker_id, lease_until, done) VALUES (?1, ?2, ?3, ?4, 0)
         ON CONFLICT (task_run_id, attempt) DO NOTHING",
    )
    .and_then(|mut s| s.execute(params![task_run_id, attempt, worker_id, until]))
    .map_err(db("open_claim"))?;
    Ok(())
}

/// Marks attempt `attempt` of `task_run_id` done (a claim row made if none).
pub(super) fn finish_claim_row(conn: &rusqlite::Connection, task_run_id: &str, attempt: u32) -> Result<()> {
    finish_claim_keeping(conn, task_run_id, attempt, None)
}

/// [`finish_claim_row`], keeping `result` with the claim when there is one
/// (a result kept before stays when there is none).
fn finish_claim_keeping(
    conn: &rusqlite::Connection,
    task_run_id: &str,
    attempt: u32,
    result: Option<&str>,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO claims (task_run_id, attempt, worker_id, lease_until, done, result) VALUES (?1, ?2, '', 0, 1, ?3)
         ON CONFLICT (task_run_id, attempt) DO UPDATE SET done = 1, result = coalesce(excluded.result, result)",
    )
    .and_then(|mut s| s.execute(params![task_run_id, attempt, result]))
    .map_err(db("finish_claim"))?;
    Ok(())
}
