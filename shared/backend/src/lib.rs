//! The backend contracts: the small traits the engine talks to, so that the
//! same launcher, executor and worker run on the embedded runtime (SQLite, a
//! folder, in-process channels) and on GCP (Firestore, GCS, Pub/Sub).
//!
//! Layer: above the flow model and the executor (whose partial-step state a
//! store keeps); below the plugins and the runtime. The implementations
//! live in their own crates (`baton-local`, `baton-gcp`); the contract
//! suites every implementation runs, and the in-memory doubles, are built
//! only for tests (`cfg(test)` or the `testing` feature), never into a
//! release binary.

mod causes;
#[cfg(any(test, feature = "testing"))]
pub mod contract;
#[cfg(any(test, feature = "testing"))]
pub mod contract_flow_files;
#[cfg(any(test, feature = "testing"))]
mod contract_labels;
pub mod flow_files;
pub mod io_trace;
#[cfg(any(test, feature = "testing"))]
pub mod memory;
pub mod metrics;
#[cfg(any(test, feature = "testing"))]
pub mod metrics_contract;
pub mod metrics_query;
pub use causes::causes;
pub mod nsfiles;
pub mod partial;
#[cfg(any(test, feature = "testing"))]
pub mod partial_contract;
pub mod purge;
#[cfg(any(test, feature = "testing"))]
pub mod purge_contract;
pub mod schedule;
#[cfg(any(test, feature = "testing"))]
pub mod schedule_contract;
pub mod seal;
#[cfg(any(test, feature = "testing"))]
pub mod test_http;
pub use baton_model::storage::scope;

use std::pin::Pin;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::io::AsyncRead;

use baton_model::{Execution, Label, StateType};

/// A failure of a backend: what was attempted and why.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// A compare-and-swap lost: someone else changed the record first.
    #[error("concurrent update of {what}: expected version {expected}, found {found}")]
    Conflict { what: String, expected: u64, found: u64 },
    #[error("{what} not found")]
    NotFound { what: String },
    #[error("{0}")]
    Invalid(String),
    #[error("storage error on {what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("database error during {what}: {message}")]
    Database { what: String, message: String },
    #[error("queue error: {0}")]
    Queue(String),
}

pub type Result<T> = std::result::Result<T, BackendError>;

impl From<baton_model::storage::StorageUriError> for BackendError {
    fn from(e: baton_model::storage::StorageUriError) -> BackendError {
        BackendError::Invalid(e.0)
    }
}

/// A boxed byte stream read from or written to internal storage.
pub type ByteStream = Pin<Box<dyn AsyncRead + Send>>;

// ---------------------------------------------------------------- state ---

/// A short view of an execution for listings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionSummary {
    pub id: String,
    pub namespace: String,
    pub flow_id: String,
    pub state: StateType,
    pub start_date: Option<DateTime<Utc>>,
    pub end_date: Option<DateTime<Utc>>,
    /// The execution's labels (listings filter and show them).
    #[serde(default)]
    pub labels: Vec<Label>,
}

/// Filters for listing executions.
#[derive(Debug, Clone, Default)]
pub struct ExecutionFilter {
    pub namespace: Option<String>,
    pub flow_id: Option<String>,
    pub state: Option<StateType>,
    /// Labels the execution must all carry (exact key and value).
    pub labels: Vec<Label>,
    pub limit: Option<usize>,
}

/// One log line of a task run (Kestra's `LogEntry`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogEntry {
    pub namespace: String,
    pub flow_id: String,
    pub execution_id: String,
    #[serde(default)]
    pub task_id: Option<String>,
    #[serde(default)]
    pub task_run_id: Option<String>,
    #[serde(default)]
    pub attempt_number: Option<u32>,
    #[serde(serialize_with = "baton_model::date_text::write")]
    pub timestamp: DateTime<Utc>,
    /// TRACE, DEBUG, INFO, WARN or ERROR.
    pub level: String,
    pub message: String,
}

/// The result of a worker's attempt to claim a task run attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This worker owns the attempt until the lease expires.
    Acquired,
    /// Another worker holds a live lease (a duplicate delivery): do nothing.
    HeldElsewhere { worker_id: String, until: DateTime<Utc> },
    /// This worker now owns the attempt, taken over from `worker_id` whose
    /// lease expired at `until` before it finished: that worker is presumed
    /// dead, so the attempt is lost (the worker reports it failed and the
    /// task's retry policy decides). A store that cannot tell may answer
    /// `Acquired` instead (the attempt then simply runs again).
    TakenOver { worker_id: String, until: DateTime<Utc> },
    /// The attempt already finished: do nothing.
    Done,
}

/// An attempt whose result a save applies (see
/// [`StateStore::save_execution_ending`]): its claim and its metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptEnd {
    pub task_run_id: String,
    pub attempt: u32,
    pub metrics: Vec<metrics::MetricEntry>,
    /// Whether the claim is closed here: its worker left it to the
    /// executor (an in-process worker); a worker fed over Pub/Sub closes
    /// its own, and writing it again would be a paid write for nothing.
    pub close_claim: bool,
}

/// A claim a save opens for an attempt it dispatches to an in-process
/// worker (see [`StateStore::save_execution_claiming`]): `worker_id` holds
/// it until `until`, and the job names that holder (`WorkerJob::claimed_by`).
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptClaim {
    pub task_run_id: String,
    pub attempt: u32,
    pub worker_id: String,
    pub until: DateTime<Utc>,
}

/// Executions, task runs (inside the execution record for the embedded
/// runtime; one document per task run on Firestore), logs, claims, flows.
#[async_trait]
pub trait StateStore: Send + Sync {
    /// Stores a new execution (version 1). Fails if the id exists.
    async fn create_execution(&self, execution: &Execution) -> Result<()>;
    /// Loads an execution with its task runs.
    async fn load_execution(&self, id: &str) -> Result<Option<Execution>>;
    /// Loads an execution's head: every field but its task runs
    /// (`task_run_list` may be empty; a store that keeps them apart leaves
    /// them unread, so what only needs the state, the error or the dates
    /// of a 100,000-task-run execution does not decode them). This default
    /// loads the whole execution.
    async fn load_execution_head(&self, id: &str) -> Result<Option<Execution>> {
        self.load_execution(id).await
    }
    /// Saves `execution` if the stored version is still `execution.version`;
    /// on success the stored (and returned) version is one higher.
    async fn save_execution(&self, execution: &Execution, changed_task_runs: &[String]) -> Result<u64>;
    /// [`StateStore::save_execution`] with the changed task runs given by
    /// their positions in `execution.task_run_list` (the executor's index
    /// knows them): a store that overrides it never searches the list, so a
    /// save costs what changed, not the execution.
    async fn save_execution_at(&self, execution: &Execution, changed: &[usize]) -> Result<u64> {
        let ids: Vec<String> =
            changed.iter().filter_map(|&i| execution.task_run_list.get(i)).map(|t| t.id.clone()).collect();
        self.save_execution(execution, &ids).await
    }
    /// [`StateStore::save_execution_at`] of a decision that applied the
    /// results of the attempts `ended`: their claims are closed (a later
    /// duplicate of their job finds [`Claim::Done`]) and their metrics
    /// stored in the same commit where the store can, so a claim is done
    /// exactly when its result is stored. This default writes them after
    /// the save, which stands whatever happens to them (a failure is logged).
    async fn save_execution_ending(
        &self,
        execution: &Execution,
        changed: &[usize],
        ended: &[AttemptEnd],
    ) -> Result<u64> {
        let version = self.save_execution_at(execution, changed).await?;
        if let Err(e) = self.end_attempts(ended).await {
            tracing::warn!(execution_id = %execution.id, error = %e, "cannot close the claims or store the metrics of ended attempts");
        }
        Ok(version)
    }
    /// [`StateStore::save_execution_ending`] of a decision that also
    /// dispatches attempts to in-process workers: where the store can, the
    /// same commit opens their claims (`opened`; a claim already there is
    /// left as it is), so a worker confirms its claim with
    /// [`StateStore::confirm_claim`] (a read) instead of writing one.
    /// This default opens none: its `confirm_claim` claims.
    async fn save_execution_claiming(
        &self,
        execution: &Execution,
        changed: &[usize],
        ended: &[AttemptEnd],
        opened: &[AttemptClaim],
    ) -> Result<u64> {
        let _ = opened;
        self.save_execution_ending(execution, changed, ended).await
    }
    /// For a worker given a job whose claim a save opened for `worker_id`
    /// ([`StateStore::save_execution_claiming`]): `Acquired` when that
    /// claim still stands (its lease may be renewed to `until`), `Done`
    /// when it was closed (a kill), and otherwise what
    /// [`StateStore::claim`] by `worker_id` answers. This default claims.
    async fn confirm_claim(
        &self,
        task_run_id: &str,
        attempt: u32,
        worker_id: &str,
        until: DateTime<Utc>,
    ) -> Result<Claim> {
        self.claim(task_run_id, attempt, worker_id, until).await
    }
    /// The ends of attempts whose results changed nothing (a duplicate, a
    /// late result): their claims closed and metrics stored, without a save.
    async fn end_attempts(&self, ended: &[AttemptEnd]) -> Result<()> {
        for a in ended {
            if !a.metrics.is_empty() {
                self.metrics().save_metrics(&a.task_run_id, a.attempt, &a.metrics).await?;
            }
            if a.close_claim {
                self.finish_claim(&a.task_run_id, a.attempt).await?;
            }
        }
        Ok(())
    }
    /// Lists executions, newest first.
    async fn list_executions(&self, filter: &ExecutionFilter) -> Result<Vec<ExecutionSummary>>;
    /// Deletes an execution with its task runs and claims, and its logs when
    /// `logs`; true if it existed. Its internal-storage files are the
    /// caller's (see [`Storage::delete_prefix`]).
    async fn delete_execution(&self, id: &str, logs: bool) -> Result<bool>;

    /// Appends log lines (append-only, never contended).
    async fn append_logs(&self, logs: &[LogEntry]) -> Result<()>;
    /// The logs of an execution, in order.
    async fn logs(&self, execution_id: &str) -> Result<Vec<LogEntry>>;
    /// How many log lines of execution `execution_id` are stored, and the
    /// bytes of their messages: where the execution's log volume bounds
    /// start counting in a process that has not seen it yet. `None` when
    /// the store cannot tell without reading every line (counting starts
    /// at zero then).
    async fn log_volume(&self, _execution_id: &str) -> Result<Option<(u64, u64)>> {
        Ok(None)
    }
    /// The lines of execution `execution_id` at `level` (`ERROR` for
    /// `errorLogs()`), in order, without holding its other lines: at most
    /// `max_lines` lines and `max_bytes` bytes of messages, plus the line
    /// that passed either (so the caller sees a bound passed, having read
    /// one line more than it keeps). See [`within_level_bounds`].
    async fn logs_at_level(
        &self,
        execution_id: &str,
        level: &str,
        max_lines: usize,
        max_bytes: u64,
    ) -> Result<Vec<LogEntry>> {
        let all = self.logs(execution_id).await?.into_iter().filter(|l| l.level == level);
        within_level_bounds(all.map(Ok), max_lines, max_bytes)
    }
    /// Deletes the log lines `query` matches, at most `query.limit` of them
    /// (`log.PurgeLogs`, `execution.PurgeExecutions`).
    async fn purge_logs(&self, query: &purge::LogPurge) -> Result<purge::Purged>;
    /// Ended executions `query` matches after its cursor, in `(end date,
    /// id)` order, at most `query.limit` (`execution.PurgeExecutions`).
    async fn ended_executions(&self, query: &purge::EndedExecutions) -> Result<Vec<ExecutionSummary>>;

    /// Claims attempt `attempt` of a task run for `worker_id` until `until`.
    async fn claim(&self, task_run_id: &str, attempt: u32, worker_id: &str, until: DateTime<Utc>) -> Result<Claim>;
    /// Extends a live lease (heartbeat).
    async fn heartbeat(&self, task_run_id: &str, attempt: u32, worker_id: &str, until: DateTime<Utc>) -> Result<()>;
    /// Marks a claimed attempt as finished so later duplicates see `Claim::Done`.
    async fn finish_claim(&self, task_run_id: &str, attempt: u32) -> Result<()>;
    /// [`StateStore::finish_claim`], keeping `result` (the attempt's
    /// `TaskResult` as JSON) with the claim: a worker fed over Pub/Sub
    /// closes its claim after publishing its result, and should that
    /// message never reach the execution, the sweep publishes the result
    /// again from here (`functions::sweep`).
    async fn finish_claim_with(&self, task_run_id: &str, attempt: u32, result: &str) -> Result<()>;
    /// The result kept with a finished claim ([`StateStore::finish_claim_with`]);
    /// `None` when the attempt is not finished or its claim kept none.
    async fn kept_result(&self, task_run_id: &str, attempt: u32) -> Result<Option<String>>;

    /// A small JSON record of `kind` (`concurrency`, `leases`…) changed
    /// only by compare-and-swap, with its version (absent: `None`).
    async fn load_record(&self, kind: &str, key: &str) -> Result<Option<(u64, Value)>>;
    /// Writes a record if its stored version is still `expected` (0: it
    /// must not exist); returns the new version. A lost race is
    /// [`BackendError::Conflict`].
    async fn save_record(&self, kind: &str, key: &str, expected: u64, value: &Value) -> Result<u64>;

    /// Stores a flow's source as a new revision if it changed; returns the revision.
    async fn save_flow(&self, namespace: &str, id: &str, source: &str) -> Result<u32>;
    /// The source of a flow at `revision` (latest if `None`), with its revision.
    async fn load_flow(&self, namespace: &str, id: &str, revision: Option<u32>) -> Result<Option<(u32, String)>>;
    /// The newest `limit` revisions of a flow (source and when each was
    /// recorded), oldest first, as Kestra's revisions listing orders them;
    /// empty for an unknown flow.
    async fn list_flow_revisions(&self, namespace: &str, id: &str, limit: usize) -> Result<Vec<FlowRevision>>;
    /// Deletes these revisions of a flow, never its latest (what
    /// `load_flow(None)` reads); returns how many it deleted.
    async fn delete_flow_revisions(&self, namespace: &str, id: &str, revisions: &[u32]) -> Result<usize>;

    /// Where this store keeps task metrics (the same database).
    fn metrics(&self) -> &dyn metrics::MetricStore;

    /// What seals the executions' SECRET inputs in this store (`seal.rs`),
    /// so that a worker job leaving the process carries them sealed the
    /// same way; `None` for a store that keeps nothing at rest.
    fn sealer(&self) -> Option<std::sync::Arc<seal::Sealer>> {
        None
    }

    /// Loading part of an execution, where this store can (`partial`).
    fn partial(&self) -> Option<&dyn partial::PartialStore> {
        None
    }
}

/// One stored revision of a flow's source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowRevision {
    pub revision: u32,
    pub source: String,
    /// When the revision was recorded (absent when the store cannot tell).
    pub created: Option<DateTime<Utc>>,
}

// ------------------------------------------------------------------- kv ---

/// Kestra's KV types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum KvType {
    String,
    Number,
    Boolean,
    Datetime,
    Date,
    Duration,
    Json,
}

/// A stored KV value with its type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KvValue {
    #[serde(rename = "type")]
    pub kind: KvType,
    pub value: Value,
}

/// A KV listing entry (Kestra's `KVEntry`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KvEntry {
    pub key: String,
    pub kind: KvType,
    pub creation_date: DateTime<Utc>,
    pub update_date: DateTime<Utc>,
    pub expiration_date: Option<DateTime<Utc>>,
}

/// A live key with its revision and last update: what Kestra 2.0's API
/// returns for one key (`KvDetail`: `type`, `value`, `revision`, `updated`).
/// The revision is 1 when the key is created (or set again after it
/// expired or was deleted) and grows by one with each overwrite.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KvDetail {
    #[serde(rename = "type")]
    pub kind: KvType,
    pub value: Value,
    pub revision: u64,
    pub updated: DateTime<Utc>,
}

/// What reading a key found.
#[derive(Debug, Clone, PartialEq)]
pub enum KvLookup {
    Found(KvValue),
    Missing,
    /// The key existed but its TTL passed; it has been deleted.
    Expired,
}

/// Namespaced, typed key-value store with TTL.
#[async_trait]
pub trait KvStore: Send + Sync {
    async fn get(&self, namespace: &str, key: &str, now: DateTime<Utc>) -> Result<KvLookup>;
    /// Stores a value; with `overwrite == false` an existing live key is an error.
    async fn set(
        &self,
        namespace: &str,
        key: &str,
        value: &KvValue,
        expires: Option<DateTime<Utc>>,
        overwrite: bool,
        now: DateTime<Utc>,
    ) -> Result<()>;
    /// Deletes a key; true if it existed.
    async fn delete(&self, namespace: &str, key: &str) -> Result<bool>;
    /// Live keys of a namespace, sorted by key.
    async fn list(&self, namespace: &str, now: DateTime<Utc>) -> Result<Vec<KvEntry>>;
    /// Every key of a namespace, expired ones included (what `PurgeKV`
    /// looks at), sorted by key.
    async fn list_all(&self, namespace: &str) -> Result<Vec<KvEntry>>;
    /// The namespaces holding at least one key (expired or not), sorted.
    async fn namespaces(&self) -> Result<Vec<String>>;
    /// A live key with its revision and update time; `None` when missing or
    /// expired (an expired key is deleted, as [`KvStore::get`] does).
    async fn detail(&self, namespace: &str, key: &str, now: DateTime<Utc>) -> Result<Option<KvDetail>>;
}

// -------------------------------------------------------------- storage ---

/// Internal storage addressed by `kestra:///…` URIs (the path after
/// `kestra://`, starting with `/`). Streams both ways.
#[async_trait]
pub trait Storage: Send + Sync {
    /// Writes a stream to `path`, replacing any file there; returns bytes written.
    async fn put(&self, path: &str, data: ByteStream) -> Result<u64>;
    /// Writes a stream to `path` only if no file is there, atomically (GCS:
    /// the `ifGenerationMatch=0` precondition; a folder: a hard link, which
    /// fails on an existing name): of concurrent creators exactly one wins.
    /// `Ok(None)`, nothing written, when a file is there.
    async fn put_new(&self, path: &str, data: ByteStream) -> Result<Option<u64>>;
    /// Opens `path` for reading.
    async fn get(&self, path: &str) -> Result<ByteStream>;
    /// Size in bytes, or `None` if absent.
    async fn size(&self, path: &str) -> Result<Option<u64>>;
    /// Deletes every file under `prefix`; returns the deleted paths.
    async fn delete_prefix(&self, prefix: &str) -> Result<Vec<String>>;
    /// Lists files under `prefix`.
    async fn list(&self, prefix: &str) -> Result<Vec<String>>;
    /// Lists files under `prefix` with their last-modified time (what
    /// `PurgeStorage` filters on), sorted by path.
    async fn list_modified(&self, prefix: &str) -> Result<Vec<(String, DateTime<Utc>)>>;
    /// A local filesystem path for `path`, when the storage is a local folder
    /// (lets script tasks link instead of copy). `None` for remote storage.
    fn local_path(&self, _path: &str) -> Option<std::path::PathBuf> {
        None
    }
}

/// The lines of `lines` up to `max_lines` lines and `max_bytes` bytes of
/// messages, and the one that passed either: [`StateStore::logs_at_level`]
/// over a store's rows, read no further.
pub fn within_level_bounds<E>(
    lines: impl Iterator<Item = std::result::Result<LogEntry, E>>,
    max_lines: usize,
    max_bytes: u64,
) -> std::result::Result<Vec<LogEntry>, E> {
    let mut out = Vec::new();
    let mut bytes = 0u64;
    for l in lines {
        let l = l?;
        bytes = bytes.saturating_add(l.message.len() as u64);
        out.push(l);
        if out.len() > max_lines || bytes > max_bytes {
            break;
        }
    }
    Ok(out)
}

/// Converts `kestra:///a/b` to `/a/b`; rejects other schemes and `..`
/// (`baton_model::storage::storage_path`, as a backend error).
pub fn storage_path(uri: &str) -> Result<String> {
    Ok(baton_model::storage::storage_path(uri)?)
}

// ---------------------------------------------------------------- queue ---

/// The topics the engine publishes on. Each worker group has its own.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Topic {
    /// Events for the executor.
    Executions,
    /// Jobs for the workers of a group (`core`, `scripts`, `jdbc`, `gcp`…).
    Tasks(String),
    /// Ticks, backfill requests and sweeps for the scheduler function.
    Scheduler,
}

impl Topic {
    /// The topic's name, e.g. `baton-tasks-core`.
    pub fn name(&self) -> String {
        match self {
            Topic::Executions => "baton-executions".to_string(),
            Topic::Tasks(group) => format!("baton-tasks-{group}"),
            Topic::Scheduler => "baton-scheduler".to_string(),
        }
    }
}

/// Publishing side of the message bus. Delivery is the runtime's business:
/// in-process loops locally, Pub/Sub push to Cloud Run on GCP.
#[async_trait]
pub trait Queue: Send + Sync {
    async fn publish(&self, topic: &Topic, payload: Vec<u8>) -> Result<()>;

    /// The in-process queue itself, to which the runtime hands its events
    /// and jobs as values ([`LocalPublish`]); `None` for every other queue
    /// (and for wrappers), which get their JSON.
    fn local(&self) -> Option<&dyn LocalPublish> {
        None
    }
}

/// An in-process queue: takes a message as the value it is, not as JSON
/// (the embedded runtime's `LocalQueue`).
pub trait LocalPublish: Send + Sync {
    /// Hands `value` to the receivers of `topic` as it is.
    fn publish_any(&self, topic: &Topic, value: Box<dyn std::any::Any + Send>) -> Result<()>;

    /// Messages published and not yet handled by their consumers (the
    /// in-process backlog).
    fn waiting(&self) -> usize;
}
