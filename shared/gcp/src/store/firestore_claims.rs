//! Logs, task-run claims (worker leases) and flow revisions of
//! [`FirestoreStore`]; the [`baton_backend::StateStore`] impl in
//! `firestore.rs` calls these.
//!
//! - `executions/{id}/logs/{µs}-{batch}-{n}`: one document per line
//!   (`level`, `taskRunId`, `timestamp`, `body`),
//!   append-only (never contended). `appendedAt` is the commit time set by
//!   the server; lines are read ordered by it, then by id (the writer's clock
//!   and the line's index in its batch), so they come back in append order.
//! - `claims/{taskRunId}-{attempt}`: `workerId`, `leaseUntil`, `done`, and
//!   the attempt's `result` (JSON) when its worker kept it on finishing.
//!   Created with an exists=false precondition; taken over or extended only
//!   with an update-time precondition; the lease is compared with the wall
//!   clock, and taking over an expired lease reports [`Claim::TakenOver`]. Each attempt is its own document, so parallel task runs never
//!   contend.
//! - `flows/{namespace}:{id}`: the latest `revision` and its `source`;
//!   `flows/{namespace}:{id}/revisions/{n}`: every revision's `source`.

use chrono::{DateTime, Utc};
use firestore::gcloud_sdk::google::firestore::v1 as pb;

use super::firestore::{FirestoreStore, execution_path};
use super::fs_client::{
    CommitOutcome, create, doc_id, document, eq, get_bool, get_int, get_json, get_str, get_time, int, merge,
    replace_if, select, string, time, to_json, with_server_time,
};
use baton_backend::{BackendError, Claim, LogEntry, Result};

/// Sub-collection of an execution's log lines.
pub const LOGS: &str = "logs";
/// Collection of task-run attempt claims.
pub const CLAIMS: &str = "claims";
/// Collection of flows (latest revision).
pub const FLOWS: &str = "flows";
/// Sub-collection of a flow's revisions.
pub const REVISIONS: &str = "revisions";

/// Writes per commit for logs (Firestore allows 500).
const LOG_BATCH: usize = 400;
/// Lines one query of `logs_at_level` reads.
const LEVEL_PAGE: usize = 500;
/// Attempts of a read-then-conditional-write loop before giving up.
const CAS_ATTEMPTS: usize = 16;

pub(super) fn claim_path(task_run_id: &str, attempt: u32) -> String {
    format!("{CLAIMS}/{}-{attempt}", doc_id(task_run_id))
}

fn flow_path(namespace: &str, id: &str) -> String {
    format!("{FLOWS}/{}", doc_id(&format!("{namespace}:{id}")))
}

fn contended(what: &str, key: &str) -> BackendError {
    BackendError::Database {
        what: format!("Firestore {what}"),
        message: format!("{key}: still contended after {CAS_ATTEMPTS} attempts"),
    }
}

impl FirestoreStore {
    pub(super) async fn append_logs_impl(&self, logs: &[LogEntry]) -> Result<()> {
        let batch = uuid::Uuid::new_v4().simple().to_string();
        let micros = Utc::now().timestamp_micros();
        for (chunk_no, chunk) in logs.chunks(LOG_BATCH).enumerate() {
            let mut writes = Vec::with_capacity(chunk.len());
            for (i, log) in chunk.iter().enumerate() {
                let n = chunk_no * LOG_BATCH + i;
                let path = format!("{}/{LOGS}/{micros:017}-{}-{n:07}", execution_path(&log.execution_id), &batch[..12]);
                let doc = document(
                    self.fs.name(&path),
                    vec![
                        ("level", string(log.level.clone())),
                        ("taskRunId", log.task_run_id.clone().map_or_else(super::fs_client::null, string)),
                        // what the purge queries by (firestore_purge.rs)
                        ("timestamp", time(Some(log.timestamp))),
                        ("body", string(to_json(log, "append logs")?)),
                    ],
                );
                writes.push(with_server_time(create(doc), "appendedAt"));
            }
            if let CommitOutcome::Precondition = self.fs.commit("append logs", writes).await? {
                return Err(BackendError::Database {
                    what: "Firestore append logs".into(),
                    message: "a log line with the same id already exists".into(),
                });
            }
        }
        Ok(())
    }

    pub(super) async fn logs_impl(&self, execution_id: &str) -> Result<Vec<LogEntry>> {
        let query = select(LOGS, None, vec![("appendedAt", false)], None);
        let docs = self.fs.query("read logs", &execution_path(execution_id), query, &[]).await?;
        docs.iter().map(|d| get_json(d, "body", "read logs")).collect()
    }

    /// `errorLogs()`'s lines: the execution's lines at `level`, by pages of
    /// [`LEVEL_PAGE`] in the order of their names (their append time: an
    /// equality filter and the name need no composite index), after a
    /// cursor, read no further than the bounds.
    pub(super) async fn logs_at_level_impl(
        &self,
        execution_id: &str,
        level: &str,
        max_lines: usize,
        max_bytes: u64,
    ) -> Result<Vec<LogEntry>> {
        let mut out = Vec::new();
        let mut bytes = 0u64;
        let mut after: Option<String> = None;
        loop {
            let mut query = select(LOGS, Some(eq("level", string(level))), vec![("__name__", false)], Some(LEVEL_PAGE));
            query.start_at = after.take().map(|name| pb::Cursor {
                values: vec![pb::Value { value_type: Some(pb::value::ValueType::ReferenceValue(name)) }],
                before: false,
            });
            let docs = self.fs.query("read logs at a level", &execution_path(execution_id), query, &[]).await?;
            for d in &docs {
                let line: LogEntry = get_json(d, "body", "read logs")?;
                bytes = bytes.saturating_add(line.message.len() as u64);
                out.push(line);
                if out.len() > max_lines || bytes > max_bytes {
                    return Ok(out);
                }
            }
            match docs.last() {
                Some(last) if docs.len() == LEVEL_PAGE => after = Some(last.name.clone()),
                _ => return Ok(out),
            }
        }
    }

    pub(super) async fn claim_impl(
        &self,
        task_run_id: &str,
        attempt: u32,
        worker_id: &str,
        until: DateTime<Utc>,
    ) -> Result<Claim> {
        let path = claim_path(task_run_id, attempt);
        let fields = || {
            vec![
                ("taskRunId", string(task_run_id)),
                ("attempt", int(i64::from(attempt))),
                ("workerId", string(worker_id)),
                ("leaseUntil", time(Some(until))),
                ("done", super::fs_client::boolean(false)),
            ]
        };
        // the usual case, a first delivery: one RPC
        if let CommitOutcome::Done(_) =
            self.fs.commit("claim", vec![create(document(self.fs.name(&path), fields()))]).await?
        {
            return Ok(Claim::Acquired);
        }
        for _ in 0..CAS_ATTEMPTS {
            let mut outcome = Claim::Acquired;
            let write = match self.fs.get("claim", &path).await? {
                None => create(document(self.fs.name(&path), fields())),
                Some(doc) => {
                    if get_bool(&doc, "done") {
                        return Ok(Claim::Done);
                    }
                    let holder = match super::fs_client::field(&doc, "workerId") {
                        Some(_) => get_str(&doc, "workerId", "claim")?.to_string(),
                        None => String::new(),
                    };
                    let lease = get_time(&doc, "leaseUntil", "claim")?;
                    if let Some(lease) = lease
                        && holder != worker_id
                        && lease > Utc::now()
                    {
                        return Ok(Claim::HeldElsewhere { worker_id: holder, until: lease });
                    }
                    if let Some(lease) = lease
                        && holder != worker_id
                        && !holder.is_empty()
                    {
                        // the holder's lease ran out before it finished: presumed dead
                        outcome = Claim::TakenOver { worker_id: holder, until: lease };
                    }
                    match doc.update_time {
                        Some(t) => replace_if(document(self.fs.name(&path), fields()), t),
                        None => return Err(contended("claim", &path)),
                    }
                }
            };
            if let CommitOutcome::Done(_) = self.fs.commit("claim", vec![write]).await? {
                return Ok(outcome);
            }
        }
        Err(contended("claim", &path))
    }

    pub(super) async fn heartbeat_impl(
        &self,
        task_run_id: &str,
        attempt: u32,
        worker_id: &str,
        until: DateTime<Utc>,
    ) -> Result<()> {
        let path = claim_path(task_run_id, attempt);
        let lost = || BackendError::NotFound {
            what: format!("live claim of task run {task_run_id} attempt {attempt} by worker {worker_id}"),
        };
        for _ in 0..CAS_ATTEMPTS {
            let Some(mut doc) = self.fs.get("heartbeat", &path).await? else { return Err(lost()) };
            let holder = get_str(&doc, "workerId", "heartbeat").unwrap_or_default();
            if get_bool(&doc, "done") || holder != worker_id {
                return Err(lost());
            }
            let Some(t) = doc.update_time.take() else { return Err(lost()) };
            doc.create_time = None;
            doc.fields.insert("leaseUntil".into(), time(Some(until)));
            if let CommitOutcome::Done(_) = self.fs.commit("heartbeat", vec![replace_if(doc, t)]).await? {
                return Ok(());
            }
        }
        Err(contended("heartbeat", &path))
    }

    /// The write that marks a claim done (made if absent), keeping `result`.
    pub(super) fn finish_claim_write(
        &self,
        task_run_id: &str,
        attempt: u32,
        result: Option<&str>,
    ) -> firestore::gcloud_sdk::google::firestore::v1::Write {
        let mut fields = vec![
            ("taskRunId", string(task_run_id)),
            ("attempt", int(i64::from(attempt))),
            ("done", super::fs_client::boolean(true)),
        ];
        if let Some(r) = result {
            fields.push(("result", string(r)));
        }
        merge(document(self.fs.name(&claim_path(task_run_id, attempt)), fields))
    }

    pub(super) async fn finish_claim_impl(&self, task_run_id: &str, attempt: u32, result: Option<&str>) -> Result<()> {
        let path = claim_path(task_run_id, attempt);
        match self.fs.commit("finish claim", vec![self.finish_claim_write(task_run_id, attempt, result)]).await? {
            CommitOutcome::Done(_) => Ok(()),
            CommitOutcome::Precondition => Err(contended("finish claim", &path)),
        }
    }

    /// The `result` of a done claim (one read; the sweep's rare path).
    pub(super) async fn kept_result_impl(&self, task_run_id: &str, attempt: u32) -> Result<Option<String>> {
        let Some(doc) = self.fs.get("kept result", &claim_path(task_run_id, attempt)).await? else { return Ok(None) };
        if !get_bool(&doc, "done") || super::fs_client::field(&doc, "result").is_none() {
            return Ok(None);
        }
        Ok(Some(get_str(&doc, "result", "kept result")?.to_string()))
    }

    pub(super) async fn save_flow_impl(&self, namespace: &str, id: &str, source: &str) -> Result<u32> {
        let path = flow_path(namespace, id);
        for _ in 0..CAS_ATTEMPTS {
            let latest = self.fs.get("save flow", &path).await?;
            let (revision, previous) = match &latest {
                Some(doc) => {
                    let rev = u32::try_from(get_int(doc, "revision", "save flow")?).unwrap_or(u32::MAX);
                    if get_str(doc, "source", "save flow")? == source {
                        return Ok(rev);
                    }
                    let Some(t) = doc.update_time else { return Err(contended("save flow", &path)) };
                    (rev + 1, Some(t))
                }
                None => (1, None),
            };
            let head = document(
                self.fs.name(&path),
                vec![
                    ("namespace", string(namespace)),
                    ("id", string(id)),
                    ("revision", int(i64::from(revision))),
                    ("source", string(source)),
                ],
            );
            let rev = document(
                self.fs.name(&format!("{path}/{REVISIONS}/{revision}")),
                vec![
                    ("revision", int(i64::from(revision))),
                    ("source", string(source)),
                    ("created", time(Some(Utc::now()))),
                ],
            );
            let head = match previous {
                Some(t) => replace_if(head, t),
                None => create(head),
            };
            if let CommitOutcome::Done(_) = self.fs.commit("save flow", vec![head, create(rev)]).await? {
                return Ok(revision);
            }
        }
        Err(contended("save flow", &path))
    }

    pub(super) async fn load_flow_impl(
        &self,
        namespace: &str,
        id: &str,
        revision: Option<u32>,
    ) -> Result<Option<(u32, String)>> {
        let path = match revision {
            None => flow_path(namespace, id),
            Some(r) => format!("{}/{REVISIONS}/{r}", flow_path(namespace, id)),
        };
        let Some(doc) = self.fs.get("load flow", &path).await? else { return Ok(None) };
        let rev = u32::try_from(get_int(&doc, "revision", "load flow")?).unwrap_or(u32::MAX);
        Ok(Some((rev, get_str(&doc, "source", "load flow")?.to_string())))
    }

    pub(super) async fn delete_flow_revisions_impl(
        &self,
        namespace: &str,
        id: &str,
        revisions: &[u32],
    ) -> Result<usize> {
        let path = flow_path(namespace, id);
        let Some(head) = self.fs.get("delete flow revisions", &path).await? else { return Ok(0) };
        let latest = u32::try_from(get_int(&head, "revision", "delete flow revisions")?).unwrap_or(u32::MAX);
        let mut deleted = 0;
        // a commit holds at most 500 writes
        let wanted: Vec<u32> = revisions.iter().copied().filter(|r| *r != latest).collect();
        for chunk in wanted.chunks(400) {
            let mut writes = Vec::with_capacity(chunk.len());
            for r in chunk {
                let rev = format!("{path}/{REVISIONS}/{r}");
                if self.fs.get("delete flow revisions", &rev).await?.is_some() {
                    writes.push(crate::store::fs_client::delete(self.fs.name(&rev)));
                    deleted += 1;
                }
            }
            if !writes.is_empty() {
                self.fs.commit("delete flow revisions", writes).await?;
            }
        }
        Ok(deleted)
    }

    pub(super) async fn list_flow_revisions_impl(
        &self,
        namespace: &str,
        id: &str,
        limit: usize,
    ) -> Result<Vec<baton_backend::FlowRevision>> {
        let query = select(REVISIONS, None, vec![("revision", true)], Some(limit));
        let docs = self.fs.query("list flow revisions", &flow_path(namespace, id), query, &[]).await?;
        let mut out = Vec::with_capacity(docs.len());
        for doc in docs.iter().rev() {
            out.push(baton_backend::FlowRevision {
                revision: u32::try_from(get_int(doc, "revision", "list flow revisions")?).unwrap_or(u32::MAX),
                source: get_str(doc, "source", "list flow revisions")?.to_string(),
                created: get_time(doc, "created", "list flow revisions")?,
            });
        }
        Ok(out)
    }
}
