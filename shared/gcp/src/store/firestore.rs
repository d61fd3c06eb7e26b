//! `FirestoreStore`: the GCP runtime's [`StateStore`] on Firestore —
//! executions and their task runs here; logs, claims and flows in
//! `firestore_claims.rs`; the [`baton_backend::KvStore`] half in
//! `firestore_kv.rs`.
//!
//! Layout (collection paths; ids escaped with [`doc_id`]):
//! - `executions/{id}`: `namespace`, `flowId`, `state`, `startDate`,
//!   `endDate`, `version` (the compare-and-swap counter), `chunkedTo` and
//!   `taskRunCount` (see below), `body` (the execution's JSON without its
//!   task runs, its SECRET inputs sealed under `BATON_SEAL_KEY`:
//!   `baton_backend::seal`), `labels` (`"key:value"` strings, see `firestore_labels.rs`,
//!   which also deletes executions).
//! - `executions/{id}/taskRuns/{taskRunId}`: `seq` (position in the
//!   execution's list), `taskId`, `state`, `version` (the head version that
//!   wrote it), `body` (the task run's JSON). One document per task run: a
//!   state change rewrites one small document, and a ForEach of 100
//!   iterations writes 100 different documents.
//! - `executions/{id}/taskRunChunks/{version}-{part}`: up to 500 task runs
//!   each, compressed, for cold loads (`firestore_chunks.rs`).
//!
//! Loading reads what changed, not the whole execution: the store keeps the
//! executions it loaded or saved, keyed by version (a version never
//! changes, so the copy cannot be stale). A load reads the head; if its
//! version is the one kept, nothing more; if it is newer, only the task runs
//! written since (`version > kept`), in the same read-only transaction.
//! A store that kept nothing (a cold instance) reads the chunks and the
//! task runs written since the last chunking (`firestore_chunks.rs`); a
//! ForEach of 4,000 iterations, running or ended, is a few dozen documents
//! instead of 4,001.
//!
//! Compare-and-swap: a save is one atomic commit of the head (conditional on
//! the head's `update_time` at the version the caller read) and the changed
//! task runs. The store remembers the update time of each version it read or
//! wrote, so a save after a load is a single RPC; otherwise it reads the
//! head first. A failed precondition re-reads the head and reports
//! [`BackendError::Conflict`] with the version found.
//!
//! Queries and the composite indexes production needs (the emulator needs
//! none): listings filter on `namespace`/`flowId`/`state` with equality and
//! order by `startDate` descending — see [`REQUIRED_INDEXES`].

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use firestore::gcloud_sdk::google::firestore::v1::{Document, Write};
use firestore::gcloud_sdk::prost::Message;
use firestore::gcloud_sdk::prost_types::Timestamp;

use super::firestore_chunks::{COMMIT_BYTES, Chunking, load_chunked, part_writes, plan};
use super::firestore_labels::{has_label, labels_of, labels_value};
use super::fs_client::{
    CommitOutcome, FsClient, all, bytes, doc_id, document, eq, get_int, get_int_opt, get_json, get_str, get_time, gt,
    int, replace_if, select, set, string, time, to_json,
};
use baton_backend::seal::{SEAL_KEY_PREVIOUS_SETTING, SEAL_KEY_SETTING, SealKey, Sealer};
use baton_backend::{AttemptEnd, BackendError, ExecutionFilter, ExecutionSummary, Result};
use baton_model::{Execution, StateType, TaskRun};

/// Collection of executions.
pub const EXECUTIONS: &str = "executions";
/// Sub-collection of an execution's task runs.
pub const TASK_RUNS: &str = "taskRuns";

/// Composite indexes the listings need on production Firestore, as
/// `(collection group, [(field, order)])` — for Terraform's
/// `google_firestore_index`. Equality filters are merged by Firestore, so
/// one index per filtered field with `startDate` is enough.
pub const REQUIRED_INDEXES: &[(&str, &[(&str, &str)])] = &[
    (EXECUTIONS, &[("namespace", "ASCENDING"), ("startDate", "DESCENDING")]),
    (EXECUTIONS, &[("flowId", "ASCENDING"), ("startDate", "DESCENDING")]),
    (EXECUTIONS, &[("state", "ASCENDING"), ("startDate", "DESCENDING")]),
    (EXECUTIONS, &[("labels", "CONTAINS"), ("startDate", "DESCENDING")]),
    // a flow's metrics by time (firestore_metrics.rs)
    ("metrics", &[("namespace", "ASCENDING"), ("flowId", "ASCENDING"), ("timestamp", "DESCENDING")]),
];

/// The head's field holding the executor's state (`backend::partial`),
/// written by the executor's saves only: any other write of the head
/// (`replace_if` sets the whole document) drops it.
pub const STEP_FIELD: &str = "step";

/// The head's count of task-run writes since the last chunking (repeats
/// counted; approximate where a save did not know them): a save on part
/// of an execution chunks once it reaches [`super::firestore_chunks::CHUNK_RUNS`]
/// (`firestore_partial.rs`).
pub const UNCHUNKED_FIELD: &str = "unchunked";

/// How many versions' update times are remembered before the memo is reset.
const VERSION_MEMO: usize = 10_000;
/// How many executions in flight are kept (see the module documentation).
const KEPT_EXECUTIONS: usize = 256;

/// The kept task runs with the changed ones (by `seq`) applied; `None` if
/// the result is not a list with positions `0..n` (then read everything).
fn merge_task_runs(kept: Vec<TaskRun>, changed: Vec<(i64, TaskRun)>) -> Option<Vec<TaskRun>> {
    let mut list: Vec<Option<TaskRun>> = kept.into_iter().map(Some).collect();
    for (seq, tr) in changed {
        let seq = usize::try_from(seq).ok()?;
        if seq >= list.len() {
            list.resize(seq + 1, None);
        } else if list[seq].as_ref().is_some_and(|old| old.id != tr.id) {
            return None;
        }
        list[seq] = Some(tr);
    }
    list.into_iter().collect()
}

/// State and KV on one Firestore database.
pub struct FirestoreStore {
    pub(super) fs: FsClient,
    /// Execution id → the head at one version: (version, update time,
    /// `chunkedTo`).
    versions: Mutex<HashMap<String, Head>>,
    /// Executions as stored at their `version` (see the module documentation).
    kept: Mutex<HashMap<String, Kept>>,
    /// Seals the executions' SECRET inputs in what is stored (`seal.rs`,
    /// key `BATON_SEAL_KEY`): the copies kept above hold them open.
    pub(super) sealer: Arc<Sealer>,
}

/// What a store remembers of an execution's head at one version.
#[derive(Clone, Copy)]
struct Head {
    version: u64,
    update_time: Timestamp,
    chunked_to: u64,
    /// Its [`UNCHUNKED_FIELD`], when known.
    unchunked: Option<u64>,
}

/// An execution as stored at its `version`, with its chunking there.
struct Kept {
    exec: Execution,
    chunking: Chunking,
}

impl std::fmt::Debug for FirestoreStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FirestoreStore").field("fs", &self.fs).finish_non_exhaustive()
    }
}

/// `executions/{id}`.
pub fn execution_path(id: &str) -> String {
    format!("{EXECUTIONS}/{}", doc_id(id))
}

/// `executions/{id}/taskRuns/{taskRunId}`.
pub fn task_run_path(execution_id: &str, task_run_id: &str) -> String {
    format!("{}/{TASK_RUNS}/{}", execution_path(execution_id), doc_id(task_run_id))
}

/// Writes beyond the save's own that may share its commit (Firestore's
/// documented bound on a commit's writes was 500).
const MAX_WRITES: usize = 500;

impl FirestoreStore {
    /// A store on a connected database.
    pub fn new(fs: FsClient) -> FirestoreStore {
        FirestoreStore {
            fs,
            versions: Mutex::new(HashMap::new()),
            kept: Mutex::new(HashMap::new()),
            sealer: Arc::new(Sealer::from_setting(None, SEAL_KEY_SETTING)),
        }
    }

    /// The store sealing SECRET inputs under `key` (`None`: an execution
    /// with one is refused, naming `BATON_SEAL_KEY`) and opening them under
    /// it or one of the `previous` keys (`BATON_SEAL_KEY_PREVIOUS`).
    pub fn with_seal_keys(mut self, key: Option<&SealKey>, previous: &[SealKey]) -> FirestoreStore {
        let sealer = Sealer::from_setting(key, SEAL_KEY_SETTING).with_previous(previous, SEAL_KEY_PREVIOUS_SETTING);
        self.sealer = Arc::new(sealer);
        self
    }

    /// The Firestore client (tests and the trigger store use it).
    pub fn client(&self) -> &FsClient {
        &self.fs
    }

    pub(super) fn remember(
        &self,
        id: &str,
        version: u64,
        update_time: Option<Timestamp>,
        chunked_to: u64,
        unchunked: Option<u64>,
    ) {
        let mut memo = self.versions.lock().unwrap_or_else(PoisonError::into_inner);
        match update_time {
            Some(update_time) => {
                if memo.len() >= VERSION_MEMO {
                    memo.clear();
                }
                memo.insert(id.to_string(), Head { version, update_time, chunked_to, unchunked });
            }
            None => {
                memo.remove(id);
            }
        }
    }

    /// The head's update time and `chunkedTo` at `version`, if remembered.
    fn remembered(&self, id: &str, version: u64) -> Option<(Timestamp, u64)> {
        let memo = self.versions.lock().unwrap_or_else(PoisonError::into_inner);
        memo.get(id).filter(|h| h.version == version).map(|h| (h.update_time, h.chunked_to))
    }

    /// The head's [`UNCHUNKED_FIELD`] at `version`, if remembered.
    pub(super) fn unchunked_at(&self, id: &str, version: u64) -> Option<u64> {
        let memo = self.versions.lock().unwrap_or_else(PoisonError::into_inner);
        memo.get(id).filter(|h| h.version == version).and_then(|h| h.unchunked)
    }

    /// The execution a head document holds (without its task runs), and
    /// its `chunkedTo`; remembered, so the save after this read is one
    /// commit.
    pub(super) fn read_head_doc(&self, id: &str, head: &Document, what: &str) -> Result<(Execution, u64)> {
        let mut e: Execution = get_json(head, "body", what)?;
        self.sealer.open(&mut e);
        e.version = get_int(head, "version", what)? as u64;
        let chunked_to = chunked_to(head);
        let unchunked = get_int_opt(head, UNCHUNKED_FIELD).and_then(|n| u64::try_from(n).ok());
        self.remember(id, e.version, head.update_time, chunked_to, unchunked);
        Ok((e, chunked_to))
    }

    fn forget(&self, id: &str) {
        self.versions.lock().unwrap_or_else(PoisonError::into_inner).remove(id);
    }

    /// Forgets everything remembered of execution `id` (it was deleted).
    pub(super) fn forget_execution(&self, id: &str) {
        self.forget(id);
        self.kept.lock().unwrap_or_else(PoisonError::into_inner).remove(id);
    }

    pub(super) fn head_doc(&self, e: &Execution, version: u64, chunked_to: u64) -> Result<Document> {
        Ok(document(
            self.fs.name(&execution_path(&e.id)),
            vec![
                ("id", string(e.id.clone())),
                ("namespace", string(e.namespace.clone())),
                ("flowId", string(e.flow_id.clone())),
                ("state", string(e.state.current.as_str())),
                ("startDate", time(e.state.start_date())),
                ("endDate", time(e.state.end_date())),
                ("version", int(i64::try_from(version).unwrap_or(i64::MAX))),
                ("chunkedTo", int(i64::try_from(chunked_to).unwrap_or(i64::MAX))),
                ("taskRunCount", int(e.task_run_list.len() as i64)),
                ("body", string(head_json(e, &self.sealer)?)),
                ("labels", labels_value(&e.labels)),
            ],
        ))
    }

    pub(super) fn task_run_write(&self, execution_id: &str, seq: usize, tr: &TaskRun, version: u64) -> Result<Write> {
        Ok(set(document(
            self.fs.name(&task_run_path(execution_id, &tr.id)),
            vec![
                ("seq", int(seq as i64)),
                ("version", int(i64::try_from(version).unwrap_or(i64::MAX))),
                ("taskId", string(tr.task_id.clone())),
                ("state", string(tr.state.current.as_str())),
                ("body", string(to_json(tr, "save task run")?)),
            ],
        )))
    }

    /// The head's version, update time and `chunkedTo`, or `None` if absent.
    async fn read_head(&self, id: &str) -> Result<Option<(u64, Timestamp, u64)>> {
        let Some(doc) = self.fs.get("read execution version", &execution_path(id)).await? else { return Ok(None) };
        let version = get_int(&doc, "version", "read execution version")? as u64;
        let t = doc.update_time.ok_or_else(|| BackendError::Database {
            what: "Firestore read execution version".into(),
            message: format!("execution {id} has no update time"),
        })?;
        Ok(Some((version, t, chunked_to(&doc))))
    }

    /// The chunking of the copy kept of `id` at `version`, if it is the
    /// one with `chunked_to`; otherwise unknown (no chunking).
    fn chunking_at(&self, id: &str, version: u64, chunked_to: u64) -> Chunking {
        let kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        match kept.get(id) {
            Some(k) if k.exec.version == version && k.chunking.chunked_to == chunked_to => k.chunking.clone(),
            _ => Chunking { chunked_to, unchunked: None },
        }
    }

    pub(super) async fn save(&self, e: &Execution, changed: &[String]) -> Result<u64> {
        let positions: Vec<usize> =
            changed.iter().filter_map(|id| e.task_run_list.iter().rposition(|tr| tr.id == *id)).collect();
        self.save_at(e, &positions).await
    }

    /// Saves with the changed task runs given by position (no search).
    pub(super) async fn save_at(&self, e: &Execution, changed: &[usize]) -> Result<u64> {
        self.save_ending(e, changed, &[]).await
    }

    /// [`FirestoreStore::save_at`], the ended attempts' metrics and claims in
    /// the same commit (their writes follow in commits of their own when
    /// the save alone nearly fills one).
    pub(super) async fn save_ending(&self, e: &Execution, changed: &[usize], ended: &[AttemptEnd]) -> Result<u64> {
        self.save_with(e, changed, ended, None, false).await
    }

    /// [`FirestoreStore::save_ending`] with the executor's state (`step`,
    /// encoded) on the head; `sparse`: `e`'s task runs not loaded are
    /// placeholders (`firestore_partial.rs`): no copy is kept, and the
    /// chunking reads what it needs first (`plan_sparse`).
    pub(super) async fn save_with(
        &self,
        e: &Execution,
        changed: &[usize],
        ended: &[AttemptEnd],
        step: Option<Vec<u8>>,
        sparse: bool,
    ) -> Result<u64> {
        let mut extra = Vec::new();
        for a in ended {
            extra.extend(self.metric_writes(&a.task_run_id, a.attempt, &a.metrics)?.0);
            if a.close_claim {
                extra.push(self.finish_claim_write(&a.task_run_id, a.attempt, None));
            }
        }
        let new_version = e.version + 1;
        let mut task_runs = Vec::new();
        let mut seen = HashSet::new();
        for &seq in changed {
            if !seen.insert(seq) {
                continue;
            }
            if let Some(tr) = e.task_run_list.get(seq) {
                task_runs.push(self.task_run_write(&e.id, seq, tr, new_version)?);
            }
        }
        let conflict =
            |found: u64| BackendError::Conflict { what: format!("execution {}", e.id), expected: e.version, found };
        for _ in 0..3 {
            let (update_time, chunked_to) = match self.remembered(&e.id, e.version) {
                Some(at) => at,
                None => match self.read_head(&e.id).await? {
                    None => return Err(BackendError::NotFound { what: format!("execution {}", e.id) }),
                    Some((found, ..)) if found != e.version => return Err(conflict(found)),
                    Some((_, t, c)) => (t, c),
                },
            };
            // the chunks go with the head they are recorded in (firestore_chunks.rs)
            let before = self.chunking_at(&e.id, e.version, chunked_to);
            let mut head = self.head_doc(e, new_version, chunked_to)?;
            if let Some(step) = &step {
                head.fields.insert(STEP_FIELD.into(), bytes(step.clone()));
            }
            let room = || {
                let own = task_runs.iter().chain(&extra).map(Message::encoded_len).sum::<usize>();
                COMMIT_BYTES.saturating_sub(own + head.encoded_len() + 1_024)
            };
            let (parts, after) = if sparse {
                self.plan_sparse(e, new_version, chunked_to, changed, room).await?
            } else {
                plan(e, new_version, before, changed, room)?
            };
            let pending = match &after.unchunked {
                Some(u) => u.len() as u64,
                None => self.unchunked_at(&e.id, e.version).unwrap_or(0) + changed.len() as u64,
            };
            head.fields.insert(UNCHUNKED_FIELD.into(), int(i64::try_from(pending).unwrap_or(i64::MAX)));
            if after.chunked_to != chunked_to {
                head.fields.insert("chunkedTo".into(), int(i64::try_from(after.chunked_to).unwrap_or(i64::MAX)));
            }
            let mut writes = Vec::with_capacity(task_runs.len() + 1 + parts.len() + extra.len());
            writes.push(replace_if(head, update_time));
            writes.extend(task_runs.iter().cloned());
            writes.extend(part_writes(&self.fs, &e.id, new_version, parts));
            let together = writes.len() + extra.len() <= MAX_WRITES;
            if together {
                writes.extend(extra.iter().cloned());
            }
            match self.fs.commit("save execution", writes).await? {
                CommitOutcome::Done(times) => {
                    let time = times.into_iter().next().flatten();
                    self.remember(&e.id, new_version, time, after.chunked_to, Some(pending));
                    if sparse {
                        // never kept as the whole execution
                        self.kept.lock().unwrap_or_else(PoisonError::into_inner).remove(&e.id);
                    } else {
                        self.keep_changed(e, new_version, changed, after);
                    }
                    // the save stands whatever happens to these (as the
                    // trait's default): failing it now would leave its
                    // decision's jobs unsent
                    if !together {
                        for chunk in extra.chunks(MAX_WRITES) {
                            if let Err(err) = self.fs.commit("save execution (ended attempts)", chunk.to_vec()).await {
                                tracing::warn!(execution_id = %e.id, error = %err, "cannot close the claims or store the metrics of ended attempts");
                            }
                        }
                    }
                    return Ok(new_version);
                }
                CommitOutcome::Precondition => {
                    self.forget(&e.id);
                    match self.read_head(&e.id).await? {
                        None => return Err(BackendError::NotFound { what: format!("execution {}", e.id) }),
                        Some((found, ..)) if found != e.version => return Err(conflict(found)),
                        // same version, other update time (recreated): try again with the fresh time
                        Some(_) => continue,
                    }
                }
            }
        }
        Err(BackendError::Database {
            what: "Firestore save execution".into(),
            message: format!("execution {}: the precondition kept failing at the same version", e.id),
        })
    }

    pub(super) async fn load(&self, id: &str) -> Result<Option<Execution>> {
        let name = self.fs.name(&execution_path(id));
        // one read-only transaction: the head and its task runs are one snapshot
        let (mut found, tx) = self.fs.get_many("load execution", std::slice::from_ref(&name), true).await?;
        let Some(head) = found.remove(&name) else {
            self.kept.lock().unwrap_or_else(PoisonError::into_inner).remove(id);
            return Ok(None);
        };
        let (mut e, chunked_to) = self.read_head_doc(id, &head, "load execution")?;
        let mut base = {
            let kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
            kept.get(id)
                .filter(|k| k.exec.version <= e.version && k.exec.version > 0)
                .map(|k| Kept { exec: k.exec.clone(), chunking: k.chunking.clone() })
        };
        if base.as_ref().is_some_and(|k| k.exec.version == e.version) {
            e.task_run_list = base.map(|k| k.exec.task_run_list).unwrap_or_default();
            return Ok(Some(e));
        }
        let count = get_int_opt(&head, "taskRunCount").and_then(|c| usize::try_from(c).ok());
        if let (None, true, Some(count)) = (&base, chunked_to > 0, count) {
            match load_chunked(&self.fs, id, &tx, chunked_to, count).await? {
                Some((list, unchunked)) => {
                    e.task_run_list = list;
                    self.keep(&e, e.version, Chunking::loaded(None, chunked_to, unchunked));
                    return Ok(Some(e));
                }
                None => {
                    tracing::warn!(execution_id = id, "the chunks of the execution do not fit: reading each task run")
                }
            }
        }
        let filter = base.as_ref().map(|k| gt("version", int(i64::try_from(k.exec.version).unwrap_or(i64::MAX))));
        let query = select(TASK_RUNS, filter, vec![], None);
        let docs = self.fs.query("load task runs", &execution_path(id), query, &tx).await?;
        let mut runs: Vec<(i64, TaskRun)> = Vec::new();
        // the positions written after `chunked_to`, when all are among `docs`
        let mut since = Vec::new();
        for d in &docs {
            let seq = get_int(d, "seq", "load task run")?;
            if get_int(d, "version", "load task run")? > i64::try_from(chunked_to).unwrap_or(i64::MAX) {
                since.push(seq as u32);
            }
            runs.push((seq, get_json(d, "body", "load task run")?));
        }
        let chunking = Chunking::loaded(base.as_mut().map(|k| std::mem::take(&mut k.chunking)), chunked_to, since);
        e.task_run_list = match base {
            Some(k) => match merge_task_runs(k.exec.task_run_list, runs) {
                Some(list) => list,
                // not a plain extension of what was kept: read everything
                None => return self.load_all(id).await,
            },
            None => {
                runs.sort_by_key(|(seq, _)| *seq);
                runs.into_iter().map(|(_, tr)| tr).collect()
            }
        };
        self.keep(&e, e.version, chunking);
        Ok(Some(e))
    }

    /// Forgets what was kept of `id`, then loads it whole.
    async fn load_all(&self, id: &str) -> Result<Option<Execution>> {
        self.kept.lock().unwrap_or_else(PoisonError::into_inner).remove(id);
        Box::pin(self.load(id)).await
    }

    /// Keeps `e` as stored at `version` after a save of the task runs at
    /// `changed`, with the chunking there: when the copy kept is the one `e`
    /// was decided on, only the head and those task runs are copied into it
    /// (a save costs what changed, not the execution); otherwise the whole
    /// of `e`.
    fn keep_changed(&self, e: &Execution, version: u64, changed: &[usize], chunking: Chunking) {
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(k) = kept.get_mut(&e.id).filter(|k| k.exec.version == e.version) {
            let mut runs = std::mem::take(&mut k.exec.task_run_list);
            let mut seqs = changed.to_vec();
            seqs.sort_unstable();
            seqs.dedup();
            let mut whole = true;
            for seq in seqs {
                match e.task_run_list.get(seq) {
                    Some(tr) if seq < runs.len() => runs[seq] = tr.clone(),
                    Some(tr) if seq == runs.len() => runs.push(tr.clone()),
                    _ => whole = false,
                }
            }
            if whole && runs.len() == e.task_run_list.len() {
                k.exec = e.head_clone();
                k.exec.task_run_list = runs;
                k.exec.version = version;
                k.chunking = chunking;
                return;
            }
        }
        drop(kept);
        self.keep(e, version, chunking);
    }

    /// Keeps `e` as stored at `version` (bounded: all are dropped at the limit).
    pub(super) fn keep(&self, e: &Execution, version: u64, chunking: Chunking) {
        let mut copy = e.clone();
        copy.version = version;
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        if kept.len() >= KEPT_EXECUTIONS && !kept.contains_key(&e.id) {
            kept.clear();
        }
        kept.insert(e.id.clone(), Kept { exec: copy, chunking });
    }

    pub(super) async fn list(&self, f: &ExecutionFilter) -> Result<Vec<ExecutionSummary>> {
        let mut filters = Vec::new();
        if let Some(ns) = &f.namespace {
            filters.push(eq("namespace", string(ns.clone())));
        }
        if let Some(flow) = &f.flow_id {
            filters.push(eq("flowId", string(flow.clone())));
        }
        if let Some(state) = f.state {
            filters.push(eq("state", string(state.as_str())));
        }
        // one array-contains per query: the other labels are checked here
        let (first, rest) = match f.labels.split_first() {
            Some((l, rest)) => (Some(l), rest),
            None => (None, &[][..]),
        };
        filters.extend(first.map(has_label));
        let limit = if rest.is_empty() { f.limit } else { None };
        let query = select(EXECUTIONS, all(filters), vec![("startDate", true)], limit);
        let docs = self.fs.query("list executions", "", query, &[]).await?;
        let mut out = Vec::with_capacity(docs.len());
        for d in &docs {
            let s = summary(d)?;
            if rest.iter().all(|l| s.labels.contains(l)) {
                out.push(s);
            }
        }
        out.truncate(f.limit.unwrap_or(usize::MAX));
        Ok(out)
    }
}

pub(super) fn summary(d: &Document) -> Result<ExecutionSummary> {
    let what = "list executions";
    let state = get_str(d, "state", what)?;
    Ok(ExecutionSummary {
        id: get_str(d, "id", what)?.to_string(),
        namespace: get_str(d, "namespace", what)?.to_string(),
        flow_id: get_str(d, "flowId", what)?.to_string(),
        state: StateType::parse(state).ok_or_else(|| BackendError::Database {
            what: format!("Firestore {what}"),
            message: format!("unknown state '{state}' stored in {}", d.name),
        })?,
        start_date: get_time(d, "startDate", what)?,
        end_date: get_time(d, "endDate", what)?,
        labels: labels_of(d)?,
    })
}

/// The head's `chunkedTo` (0 in heads written before chunks existed).
fn chunked_to(head: &Document) -> u64 {
    get_int_opt(head, "chunkedTo").and_then(|c| u64::try_from(c).ok()).unwrap_or(0)
}

/// The execution's JSON without its task runs (they have their own
/// documents; [`Execution::head_clone`] copies every other field) and
/// without its version (a field of the document), its SECRET inputs
/// sealed.
fn head_json(e: &Execution, sealer: &Sealer) -> Result<String> {
    let mut head = e.head_clone();
    head.version = 0;
    sealer.seal(&mut head)?;
    to_json(&head, "encode execution")
}
