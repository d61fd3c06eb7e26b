//! `SqliteStore`: the embedded runtime's [`StateStore`] (executions, task
//! runs, logs, claims, flows) on one SQLite file. Its [`KvStore`] half lives
//! in `sqlite_kv.rs`; logs, claims and flows in `sqlite_claims.rs`.
//!
//! Layout: `executions` holds one row per execution whose JSON body has an
//! empty `taskRunList`; each task run is its own row in `task_runs` (ordered
//! by `seq`, its position in the execution's list), so a state change of one
//! task run rewrites one small row, not the whole execution. Timestamps used
//! for ordering or comparison are stored as microseconds since the epoch.
//!
//! Versions: [`StateStore::create_execution`] stores version 1 whatever the
//! caller's struct says (usually 0); [`StateStore::load_execution`] returns the
//! stored version, and [`StateStore::save_execution`] expects that version and
//! stores (and returns) the next one.
//!
//! Creating, loading and saving executions is in `sqlite_exec.rs`; labels
//! (a JSON column for listings, indexed rows for filters) and deletion are
//! in `sqlite_labels.rs`; the connection and its group commit in
//! `sqlite_group.rs`.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::Connection;

use super::sqlite_group::{ConnGuard, Group};
use super::sqlite_labels::{self, labels_from_json};
use baton_backend::{BackendError, Claim, ExecutionFilter, ExecutionSummary, LogEntry, Result, StateStore};
use baton_model::{Execution, StateType};

/// The schema version written to `PRAGMA user_version`.
const SCHEMA_VERSION: i64 = 6;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS flows (
    namespace TEXT NOT NULL, id TEXT NOT NULL, revision INTEGER NOT NULL,
    source TEXT NOT NULL, created INTEGER NOT NULL,
    PRIMARY KEY (namespace, id, revision));
CREATE TABLE IF NOT EXISTS executions (
    id TEXT PRIMARY KEY NOT NULL, namespace TEXT NOT NULL, flow_id TEXT NOT NULL,
    state TEXT NOT NULL, start_date INTEGER, end_date INTEGER,
    version INTEGER NOT NULL, body TEXT NOT NULL, labels TEXT NOT NULL DEFAULT '[]', runs INTEGER, step BLOB);
CREATE TABLE IF NOT EXISTS execution_labels (
    execution_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY (execution_id, key, value));
CREATE INDEX IF NOT EXISTS execution_labels_key_value ON execution_labels (key, value, execution_id);
CREATE INDEX IF NOT EXISTS executions_flow_state ON executions (namespace, flow_id, state);
CREATE INDEX IF NOT EXISTS executions_start ON executions (start_date);
CREATE TABLE IF NOT EXISTS task_runs (
    execution_id TEXT NOT NULL, id TEXT NOT NULL, seq INTEGER NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (execution_id, id));
CREATE TABLE IF NOT EXISTS logs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, execution_id TEXT NOT NULL, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS logs_execution ON logs (execution_id, seq);
CREATE TABLE IF NOT EXISTS kv (
    namespace TEXT NOT NULL, key TEXT NOT NULL, type TEXT NOT NULL, value TEXT NOT NULL,
    created INTEGER NOT NULL, updated INTEGER NOT NULL, expires INTEGER,
    revision INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (namespace, key));
CREATE TABLE IF NOT EXISTS ticks (
    namespace TEXT NOT NULL, flow_id TEXT NOT NULL, trigger_id TEXT NOT NULL, date INTEGER NOT NULL,
    execution_id TEXT NOT NULL, created INTEGER NOT NULL,
    PRIMARY KEY (namespace, flow_id, trigger_id, date));
CREATE TABLE IF NOT EXISTS triggers (
    namespace TEXT NOT NULL, flow_id TEXT NOT NULL, trigger_id TEXT NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (namespace, flow_id, trigger_id));
CREATE TABLE IF NOT EXISTS backfills (
    id TEXT PRIMARY KEY NOT NULL, state TEXT NOT NULL, created INTEGER NOT NULL, updated INTEGER NOT NULL,
    spec TEXT NOT NULL, progress TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS backfills_state ON backfills (state, created);
CREATE TABLE IF NOT EXISTS records (
    kind TEXT NOT NULL, key TEXT NOT NULL, version INTEGER NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (kind, key));
";

/// State and KV on one SQLite database (a file, or memory for tests).
///
/// One connection. The frequent operations (executions, claims, logs,
/// records) are jobs of the group-commit queue (`sqlite_group.rs`): under
/// load many share one transaction; alone, one runs inline on the caller's
/// thread with no hop. The others hold the connection for their own
/// short transaction.
pub struct SqliteStore {
    group: Arc<Group>,
    /// The revision this store last saved or found for each flow, with its
    /// source: a launch of an unchanged flow (every execution of `baton
    /// server local` does one) is answered here without a read
    /// (`save_flow`). Revisions are never rewritten, so a revision whose
    /// source is the launched one stays a true answer even if another
    /// process saves a newer one meanwhile.
    pub(super) flow_revisions: super::sqlite_claims::FlowRevisions,
    /// Seals the executions' SECRET inputs in what is stored (`seal.rs`).
    pub(super) sealer: Arc<baton_backend::seal::Sealer>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

/// Switches `conn` to WAL. The switch needs the database's exclusive lock,
/// and SQLite answers "database is locked" at once — without the busy
/// handler — while another connection opening the same new home holds a
/// shared lock; so a busy answer is retried for up to 5 s (several `baton`
/// processes started on one new home at once all open it).
fn enable_wal(conn: &Connection) -> Result<()> {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        match conn.pragma_update(None, "journal_mode", "WAL") {
            Ok(()) => return Ok(()),
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(db("enable WAL")(e)),
        }
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path`, in WAL mode with
    /// `synchronous=NORMAL` and a 5 s busy timeout, and creates the schema.
    /// Its WAL is checkpointed on a thread of its own (`sqlite_checkpoint.rs`).
    pub fn open(path: &Path) -> Result<Self> {
        let conn = Connection::open(path).map_err(db("open database"))?;
        enable_wal(&conn)?;
        let mut conn = Self::init(conn)?;
        // WAL checkpoints off the committing thread
        let _checkpoints = super::sqlite_checkpoint::start(path, &mut conn, Default::default())?;
        // reads beside the writer (after `init`: the schema exists)
        let readers = (0..super::sqlite_group::READERS)
            .map(|_| {
                let r = Connection::open(path).map_err(db("open read connection"))?;
                r.busy_timeout(Duration::from_secs(5)).map_err(db("set busy timeout"))?;
                r.pragma_update(None, "query_only", true).map_err(db("set query_only"))?;
                r.set_prepared_statement_cache_capacity(32);
                Ok(r)
            })
            .collect::<Result<Vec<_>>>()?;
        let sealer = Arc::new(baton_backend::seal::Sealer::for_database(path, true)?);
        Ok(SqliteStore { group: Group::new(conn, readers), flow_revisions: Default::default(), sealer })
    }

    /// Opens an existing database to read it only (listings, logs): nothing
    /// is written, so it works on a full disk. When even SQLite's WAL index
    /// cannot be made there, the file is read as `immutable` (what the last
    /// checkpoint holds).
    pub fn open_read_only(path: &Path) -> Result<Self> {
        use rusqlite::OpenFlags;
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let check = |conn: Connection| -> Result<Self> {
            conn.busy_timeout(Duration::from_secs(5)).map_err(db("set busy timeout"))?;
            let found: i64 =
                conn.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(db("read schema version"))?;
            if found != SCHEMA_VERSION {
                return Err(BackendError::Invalid(format!(
                    "the database has schema version {found}, this Baton reads {SCHEMA_VERSION}: open it once \
                     with room to write, or use the Baton that wrote it"
                )));
            }
            let sealer = Arc::new(baton_backend::seal::Sealer::for_database(path, false)?);
            Ok(SqliteStore { group: Group::read_only(conn), flow_revisions: Default::default(), sealer })
        };
        match Connection::open_with_flags(path, flags).map_err(db("open database")).and_then(check) {
            Ok(s) => Ok(s),
            Err(BackendError::Invalid(m)) => Err(BackendError::Invalid(m)),
            Err(first) => {
                let uri = format!("file:{}?immutable=1", path.display());
                Connection::open_with_flags(uri, flags).map_err(db("open database")).and_then(check).map_err(|_| first)
            }
        }
    }

    /// A private in-memory database (tests, dry runs).
    pub fn open_in_memory() -> Result<Self> {
        let conn = Self::init(Connection::open_in_memory().map_err(db("open in-memory database"))?)?;
        let sealer = Arc::new(baton_backend::seal::Sealer::ephemeral());
        Ok(SqliteStore { group: Group::new(conn, Vec::new()), flow_revisions: Default::default(), sealer })
    }

    /// Sets `conn` up and creates or upgrades the schema.
    fn init(conn: Connection) -> Result<Connection> {
        conn.busy_timeout(Duration::from_secs(5)).map_err(db("set busy timeout"))?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(db("set synchronous"))?;
        conn.set_prepared_statement_cache_capacity(64);
        let found: i64 =
            conn.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(db("read schema version"))?;
        if found > SCHEMA_VERSION {
            return Err(BackendError::Invalid(format!(
                "the database has schema version {found}, newer than this Baton's {SCHEMA_VERSION}; upgrade Baton"
            )));
        }
        if found == SCHEMA_VERSION {
            // written last by the open that made or upgraded the schema: an
            // up-to-date home needs nothing (parsing the schema's statements
            // again was a millisecond of every command's start). So a change
            // to SCHEMA comes with a new SCHEMA_VERSION and its upgrade below.
            return Ok(conn);
        }
        let upgrade = sqlite_labels::needs_upgrade(&conn)?;
        if upgrade {
            sqlite_labels::add_column(&conn)?;
        }
        // one transaction: a fresh home's tables cost one commit, not one each
        conn.execute_batch(&format!("BEGIN;\n{SCHEMA}\nCOMMIT;")).map_err(db("create schema"))?;
        super::sqlite_kv::add_revision_column(&conn)?;
        // the head's task-run count and the executor's state (version 6)
        super::sqlite_partial::add_columns(&conn)?;
        // `claims`, clustered on its key (an older home's rebuilt)
        super::sqlite_upgrade::clustered_claims(&conn)?;
        // `metrics`, clustered on their execution (an older home's rebuilt)
        super::sqlite_metrics::clustered_metrics(&conn)?;
        if upgrade {
            sqlite_labels::fill(&conn)?;
        }
        // written only when it changes: opening an up-to-date home writes nothing
        if found != SCHEMA_VERSION {
            conn.pragma_update(None, "user_version", SCHEMA_VERSION).map_err(db("write schema version"))?;
        }
        Ok(conn)
    }

    /// The connection, outside the group-commit queue (rarely used
    /// operations); releasing it runs the jobs queued meanwhile.
    pub(super) fn lock(&self) -> ConnGuard<'_> {
        self.group.lock()
    }

    /// The group-commit queue the frequent operations go through.
    pub(super) fn group(&self) -> &Arc<Group> {
        &self.group
    }

    async fn list_executions_queued(&self, f: &ExecutionFilter) -> Result<Vec<ExecutionSummary>> {
        let f = f.clone();
        self.group().read("list_executions", move |conn| list_executions(conn, &f)).await
    }
}

/// The executions `f` selects, newest first.
fn list_executions(conn: &Connection, f: &ExecutionFilter) -> Result<Vec<ExecutionSummary>> {
    // one indexed sub-query per label: `?5`, `?6` is the first, and so on
    let mut sql = String::from(
        "SELECT id, namespace, flow_id, state, start_date, end_date, labels FROM executions
         WHERE (?1 IS NULL OR namespace = ?1) AND (?2 IS NULL OR flow_id = ?2) AND (?3 IS NULL OR state = ?3)",
    );
    let mut values: Vec<rusqlite::types::Value> = Vec::new();
    for (i, l) in f.labels.iter().enumerate() {
        let (k, v) = (5 + 2 * i, 6 + 2 * i);
        sql.push_str(&format!(
            " AND id IN (SELECT execution_id FROM execution_labels WHERE key = ?{k} AND value = ?{v})"
        ));
        values.push(l.key.clone().into());
        values.push(l.value.clone().into());
    }
    sql.push_str(" ORDER BY start_date DESC, rowid DESC LIMIT ?4");
    let limit = f.limit.map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX));
    let mut params: Vec<rusqlite::types::Value> = vec![
        f.namespace.clone().into(),
        f.flow_id.clone().into(),
        f.state.map(|s| s.as_str().to_string()).into(),
        limit.into(),
    ];
    params.extend(values);
    summaries(conn, &sql, params, "list_executions")
}

/// Runs `sql`, which selects `id, namespace, flow_id, state, start_date,
/// end_date, labels` from `executions`, into summaries; `what` names the
/// operation in errors.
pub(super) fn summaries(
    conn: &Connection,
    sql: &str,
    params: Vec<rusqlite::types::Value>,
    what: &'static str,
) -> Result<Vec<ExecutionSummary>> {
    let mut stmt = conn.prepare_cached(sql).map_err(db(what))?;
    let rows = stmt
        .query_map(rusqlite::params_from_iter(params), |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Option<i64>>(4)?,
                r.get::<_, Option<i64>>(5)?,
                r.get::<_, String>(6)?,
            ))
        })
        .map_err(db(what))?;
    let mut out = Vec::new();
    for row in rows {
        let (id, namespace, flow_id, state, start, end, labels) = row.map_err(db(what))?;
        let state = StateType::parse(&state).ok_or_else(|| BackendError::Database {
            what: what.into(),
            message: format!("unknown state '{state}' stored for execution {id}"),
        })?;
        out.push(ExecutionSummary {
            id,
            namespace,
            flow_id,
            state,
            start_date: start.map(from_micros).transpose()?,
            end_date: end.map(from_micros).transpose()?,
            labels: labels_from_json(&labels)?,
        });
    }
    Ok(out)
}

/// Microseconds since the epoch (what the date columns hold).
pub(super) fn micros(d: DateTime<Utc>) -> i64 {
    d.timestamp_micros()
}

/// The inverse of [`micros`].
pub(super) fn from_micros(us: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_micros(us).ok_or_else(|| BackendError::Database {
        what: "decode timestamp".into(),
        message: format!("{us} µs is out of range"),
    })
}

/// Maps a rusqlite error to [`BackendError::Database`] naming the operation.
pub(super) fn db(what: &'static str) -> impl Fn(rusqlite::Error) -> BackendError {
    move |e| BackendError::Database { what: what.to_string(), message: e.to_string() }
}

/// Maps a JSON (de)serialisation error to [`BackendError::Database`].
pub(super) fn json(what: &'static str) -> impl Fn(serde_json::Error) -> BackendError {
    move |e| BackendError::Database { what: what.to_string(), message: e.to_string() }
}

#[async_trait]
impl StateStore for SqliteStore {
    async fn create_execution(&self, execution: &Execution) -> Result<()> {
        self.create_execution_queued(execution).await
    }
    async fn load_execution(&self, id: &str) -> Result<Option<Execution>> {
        self.load_execution_queued(id, true).await
    }
    async fn load_execution_head(&self, id: &str) -> Result<Option<Execution>> {
        self.load_execution_queued(id, false).await
    }
    /// Upserts the task runs named in `changed_task_runs` (ids absent from
    /// `execution.task_run_list` are ignored); other task runs keep their
    /// stored rows, so a new task run must be listed as changed.
    async fn save_execution(&self, execution: &Execution, changed_task_runs: &[String]) -> Result<u64> {
        self.save_execution_queued(execution, changed_task_runs).await
    }
    async fn save_execution_at(&self, execution: &Execution, changed: &[usize]) -> Result<u64> {
        self.save_execution_at_queued(execution, changed).await
    }
    /// One job, so one commit: the save, the claims closed, the metrics.
    async fn save_execution_ending(
        &self,
        execution: &Execution,
        changed: &[usize],
        ended: &[baton_backend::AttemptEnd],
    ) -> Result<u64> {
        self.save_execution_ending_queued(execution, changed, ended).await
    }
    /// One job, so one commit: the save, the claims closed and opened, the metrics.
    async fn save_execution_claiming(
        &self,
        execution: &Execution,
        changed: &[usize],
        ended: &[baton_backend::AttemptEnd],
        opened: &[baton_backend::AttemptClaim],
    ) -> Result<u64> {
        self.save_execution_claiming_queued(execution, changed, ended, opened).await
    }
    /// A read on a reader connection when the opened claim stands or was
    /// closed; a claim (a write) otherwise.
    async fn confirm_claim(
        &self,
        task_run_id: &str,
        attempt: u32,
        worker_id: &str,
        until: DateTime<Utc>,
    ) -> Result<Claim> {
        self.confirm_claim_queued(task_run_id, attempt, worker_id, until).await
    }
    async fn list_executions(&self, filter: &ExecutionFilter) -> Result<Vec<ExecutionSummary>> {
        self.list_executions_queued(filter).await
    }
    async fn delete_execution(&self, id: &str, logs: bool) -> Result<bool> {
        self.delete_execution_sync(id, logs)
    }
    async fn append_logs(&self, logs: &[LogEntry]) -> Result<()> {
        self.append_logs_queued(logs).await
    }
    async fn logs(&self, execution_id: &str) -> Result<Vec<LogEntry>> {
        self.logs_sync(execution_id)
    }
    async fn log_volume(&self, execution_id: &str) -> Result<Option<(u64, u64)>> {
        self.log_volume_sync(execution_id).map(Some)
    }
    async fn logs_at_level(
        &self,
        execution_id: &str,
        level: &str,
        max_lines: usize,
        max_bytes: u64,
    ) -> Result<Vec<LogEntry>> {
        self.logs_at_level_sync(execution_id, level, max_lines, max_bytes)
    }
    async fn purge_logs(&self, query: &baton_backend::purge::LogPurge) -> Result<baton_backend::purge::Purged> {
        self.purge_logs_sync(query)
    }
    async fn ended_executions(&self, query: &baton_backend::purge::EndedExecutions) -> Result<Vec<ExecutionSummary>> {
        self.ended_executions_sync(query)
    }
    async fn claim(&self, task_run_id: &str, attempt: u32, worker_id: &str, until: DateTime<Utc>) -> Result<Claim> {
        self.claim_queued(task_run_id, attempt, worker_id, until).await
    }
    /// Fails with [`BackendError::NotFound`] when `worker_id` no longer holds
    /// a live claim (taken over after expiry, or finished).
    async fn heartbeat(&self, task_run_id: &str, attempt: u32, worker_id: &str, until: DateTime<Utc>) -> Result<()> {
        self.heartbeat_queued(task_run_id, attempt, worker_id, until).await
    }
    async fn finish_claim(&self, task_run_id: &str, attempt: u32) -> Result<()> {
        self.finish_claim_queued(task_run_id, attempt).await
    }
    async fn finish_claim_with(&self, task_run_id: &str, attempt: u32, result: &str) -> Result<()> {
        self.finish_claim_with_queued(task_run_id, attempt, result).await
    }
    async fn kept_result(&self, task_run_id: &str, attempt: u32) -> Result<Option<String>> {
        self.kept_result_queued(task_run_id, attempt).await
    }
    async fn load_record(&self, kind: &str, key: &str) -> Result<Option<(u64, serde_json::Value)>> {
        self.load_record_queued(kind, key).await
    }
    async fn save_record(&self, kind: &str, key: &str, expected: u64, value: &serde_json::Value) -> Result<u64> {
        self.save_record_queued(kind, key, expected, value).await
    }
    async fn save_flow(&self, namespace: &str, id: &str, source: &str) -> Result<u32> {
        self.save_flow_queued(namespace, id, source).await
    }
    async fn load_flow(&self, namespace: &str, id: &str, revision: Option<u32>) -> Result<Option<(u32, String)>> {
        self.load_flow_queued(namespace, id, revision).await
    }
    async fn list_flow_revisions(
        &self,
        namespace: &str,
        id: &str,
        limit: usize,
    ) -> Result<Vec<baton_backend::FlowRevision>> {
        self.list_flow_revisions_sync(namespace, id, limit)
    }
    async fn delete_flow_revisions(&self, namespace: &str, id: &str, revisions: &[u32]) -> Result<usize> {
        self.delete_flow_revisions_sync(namespace, id, revisions)
    }
    fn metrics(&self) -> &dyn baton_backend::metrics::MetricStore {
        self
    }
    fn sealer(&self) -> Option<Arc<baton_backend::seal::Sealer>> {
        Some(self.sealer.clone())
    }
    fn partial(&self) -> Option<&dyn baton_backend::partial::PartialStore> {
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_backend::contract;
    use baton_model::{State, TaskRun};

    #[tokio::test]
    async fn state_store_contract() {
        let store = SqliteStore::open_in_memory().expect("open");
        contract::state_store_contract(&store).await;
    }

    /// On a file, reads run on their own connections beside the writer.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn state_store_contract_on_a_file_with_read_connections() {
        let dir = std::env::temp_dir().join(format!("baton-sqlite-contract-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let store = SqliteStore::open(&dir.join("baton.db")).expect("open");
        contract::state_store_contract(&store).await;
        drop(store);
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }

    #[tokio::test]
    async fn partial_store_contract() {
        let store = SqliteStore::open_in_memory().expect("open");
        baton_backend::partial_contract::partial_store_contract(&store).await;
    }

    #[tokio::test]
    async fn kv_contract() {
        let store = SqliteStore::open_in_memory().expect("open");
        contract::kv_contract(&store).await;
    }

    #[tokio::test]
    async fn file_database_reopens_with_data() {
        let dir = std::env::temp_dir().join(format!("baton-sqlite-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let path = dir.join("baton.db");
        {
            let store = SqliteStore::open(&path).expect("open");
            let mode: String =
                store.lock().pragma_query_value(None, "journal_mode", |r| r.get(0)).expect("journal_mode");
            assert_eq!(mode.to_lowercase(), "wal");
            assert_eq!(store.save_flow("ns", "f", "id: f").await.expect("save"), 1);
        }
        let store = SqliteStore::open(&path).expect("reopen");
        assert_eq!(store.load_flow("ns", "f", None).await.expect("load"), Some((1, "id: f".to_string())));
        drop(store);
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }

    /// Launches of an unchanged flow are answered from the store's memo
    /// (one per execution in a server), which stays true across processes:
    /// a revision is never rewritten, so the one holding the launched
    /// source is its revision even after another process saved a newer one;
    /// a changed source reads the file again.
    #[tokio::test]
    async fn an_unchanged_flow_keeps_its_revision_without_a_read_and_a_changed_one_reads_the_file() {
        let dir = std::env::temp_dir().join(format!("baton-sqlite-flows-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let path = dir.join("baton.db");
        let (a, b) = (SqliteStore::open(&path).expect("open a"), SqliteStore::open(&path).expect("open b"));
        assert_eq!(a.save_flow("ns", "f", "v1").await.expect("save"), 1);
        assert_eq!(b.save_flow("ns", "f", "v2").await.expect("save"), 2, "another process changes the flow");
        // from the memo: the file's latest (2) differs, so a read would have made revision 3
        assert_eq!(a.save_flow("ns", "f", "v1").await.expect("save"), 1, "revision 1 is still exactly v1");
        assert_eq!(a.save_flow("ns", "f", "v3").await.expect("save"), 3, "a change reads the latest");
        assert_eq!(a.save_flow("ns", "f", "v2").await.expect("save"), 4, "v2 is no longer the latest");
        assert_eq!(b.save_flow("ns", "f", "v2").await.expect("save"), 2, "b's memo: revision 2 is v2");
        // deleting revisions forgets the memo: the latest is read again
        assert_eq!(b.delete_flow_revisions("ns", "f", &[2]).await.expect("delete"), 1);
        assert_eq!(b.save_flow("ns", "f", "v2").await.expect("save"), 4, "revision 2 is gone: the latest, 4, is v2");
        drop((a, b));
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }

    /// A chain of 1000 task runs, one save per state change: each save must
    /// stay well under a millisecond (in-memory here; a debug build).
    #[tokio::test]
    async fn save_cost_stays_flat_with_many_task_runs() {
        let dir = std::env::temp_dir().join(format!("baton-sqlite-perf-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let store = SqliteStore::open(&dir.join("baton.db")).expect("open");
        let now = Utc::now();
        let mut e = Execution::new("perf".into(), "ns", "chain", 1, Default::default(), vec![], now);
        store.create_execution(&e).await.expect("create");
        e.version = 1;
        let started = std::time::Instant::now();
        let mut saves = 0u32;
        for i in 0..1000 {
            let tr: TaskRun = serde_json::from_value(serde_json::json!({
                "id": format!("tr{i}"), "executionId": e.id, "namespace": "ns", "flowId": "chain",
                "taskId": format!("t{i}"), "state": State::new(StateType::Created, now), "iteration": i,
            }))
            .expect("task run");
            e.task_run_list.push(tr);
            for state in [StateType::Running, StateType::Success] {
                let id = e.task_run_list[i].id.clone();
                e.task_run_list[i].state.set(state, now);
                e.version = store.save_execution(&e, &[id]).await.expect("save");
                saves += 1;
            }
        }
        let per_save = started.elapsed() / saves;
        eprintln!("save_execution with up to 1000 task runs: {per_save:?} per save ({saves} saves)");
        let loaded = store.load_execution("perf").await.expect("load").expect("exists");
        assert_eq!(loaded.task_run_list.len(), 1000);
        assert_eq!(loaded.task_run_list[999].id, "tr999");
        assert_eq!(loaded.version, e.version);
        // A debug build, maybe sharing the CPU with other tests: a generous bound that
        // still catches a save whose cost grows with the number of task runs.
        assert!(per_save < Duration::from_millis(5), "save too slow: {per_save:?}");
        drop(store);
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
