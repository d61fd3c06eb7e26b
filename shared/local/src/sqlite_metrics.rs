//! [`MetricStore`] on [`SqliteStore`]: the `metrics` table, one row per
//! metric of a task run attempt, and its upgrade from older homes.
//!
//! The table is kept in the order of its key `(execution_id, task_run_id,
//! attempt, seq)` (`WITHOUT ROWID`): a redelivered attempt rewrites its own
//! rows, an execution's metrics are one range of it, and a second B-tree,
//! `(namespace, flow_id, timestamp)`, serves a flow's listings and
//! aggregations. Why clustered: every attempt that ends writes its metrics
//! in the commit that saves its execution, and every B-tree a row enters is
//! a page, so a WAL frame, at each commit. Before schema version 5 the
//! table was a rowid table with its key and two indexes (four pages per
//! commit, the key's on a random leaf); now it is two, and with execution
//! ids and task-run ids in time order (`model::ids`, `executor::ids`) both
//! land on their rightmost leaves.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::sqlite::{SqliteStore, db, from_micros, json, micros};
use super::sqlite_upgrade::is_clustered;
use baton_backend::Result;
use baton_backend::metrics::{FlowMetricQuery, MAX_READ, MetricEntry, MetricRead, MetricStore, MetricType};

/// The table and its index.
const CREATE: &str = "
CREATE TABLE metrics (
    execution_id TEXT NOT NULL, task_run_id TEXT NOT NULL, attempt INTEGER NOT NULL, seq INTEGER NOT NULL,
    namespace TEXT NOT NULL, flow_id TEXT NOT NULL, task_id TEXT,
    type TEXT NOT NULL, name TEXT NOT NULL, value REAL NOT NULL, timestamp INTEGER NOT NULL,
    tags TEXT NOT NULL,
    PRIMARY KEY (execution_id, task_run_id, attempt, seq)) WITHOUT ROWID;
CREATE INDEX metrics_flow ON metrics (namespace, flow_id, timestamp);
";

/// The columns an older table and this one share, in the copy's order.
const COPIED: &str = "execution_id, task_run_id, attempt, seq, namespace, flow_id, task_id, type, name, value, \
                      timestamp, tags";

/// Creates `metrics` clustered, or rebuilds an older home's rowid table in
/// one transaction (rows kept); a home already upgraded is only read. As
/// for `claims`, several processes may open one home at once: the change is
/// decided again inside an IMMEDIATE transaction.
pub(super) fn clustered_metrics(conn: &Connection) -> Result<()> {
    if table_sql(conn)?.as_deref().is_some_and(is_clustered) {
        return Ok(());
    }
    let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)
        .map_err(db("upgrade metrics (begin)"))?;
    match table_sql(&tx)? {
        Some(sql) if is_clustered(&sql) => {}
        // the old indexes go first: their names are the new table's
        Some(_) => tx
            .execute_batch(&format!(
                "DROP INDEX IF EXISTS metrics_execution;
                 DROP INDEX IF EXISTS metrics_flow;
                 ALTER TABLE metrics RENAME TO metrics_rowid;
                 {CREATE}
                 INSERT OR REPLACE INTO metrics ({COPIED}) SELECT {COPIED} FROM metrics_rowid;
                 DROP TABLE metrics_rowid;"
            ))
            .map_err(db("upgrade metrics (rebuild clustered on its key)"))?,
        None => tx.execute_batch(CREATE).map_err(db("create the metrics table"))?,
    }
    tx.commit().map_err(db("upgrade metrics (commit)"))
}

fn table_sql(conn: &Connection) -> Result<Option<String>> {
    conn.prepare_cached("SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'metrics'")
        .and_then(|mut s| s.query_row([], |r| r.get(0)).optional())
        .map_err(db("upgrade metrics (read schema)"))
}

const COLUMNS: &str = "namespace, flow_id, task_id, execution_id, task_run_id, type, name, value, timestamp, tags";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(MetricEntry, i64, String, String)> {
    Ok((
        MetricEntry {
            namespace: r.get(0)?,
            flow_id: r.get(1)?,
            task_id: r.get(2)?,
            execution_id: r.get(3)?,
            task_run_id: r.get(4)?,
            kind: MetricType::Counter,
            name: r.get(6)?,
            value: r.get(7)?,
            timestamp: chrono::DateTime::UNIX_EPOCH,
            tags: Default::default(),
        },
        r.get(8)?,
        r.get(5)?,
        r.get(9)?,
    ))
}

/// An attempt's metrics encoded for their rows (tags as JSON), ready to
/// write inside a queued job.
pub(super) struct MetricRows {
    task_run_id: String,
    attempt: u32,
    rows: Vec<(MetricEntry, String)>,
}

impl MetricRows {
    pub(super) fn encode(task_run_id: &str, attempt: u32, metrics: &[MetricEntry]) -> Result<MetricRows> {
        let rows = metrics
            .iter()
            .map(|m| {
                let tags = serde_json::to_string(&m.tags).map_err(json("save_metrics (tags)"))?;
                Ok((m.clone(), tags))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(MetricRows { task_run_id: task_run_id.to_string(), attempt, rows })
    }

    /// Replaces the attempt's rows with these: those of the attempt in
    /// each execution the metrics name (one, in practice; the key begins
    /// with it). An empty list names no execution, so it deletes the
    /// attempt's rows by reading the whole table: no caller of the engine
    /// saves one (they skip attempts without metrics); the trait's rule
    /// holds for any other.
    pub(super) fn write(&self, conn: &rusqlite::Connection) -> Result<()> {
        let (task_run_id, attempt) = (&self.task_run_id, self.attempt);
        if self.rows.is_empty() {
            conn.prepare_cached("DELETE FROM metrics WHERE task_run_id = ?1 AND attempt = ?2")
                .and_then(|mut s| s.execute(params![task_run_id, attempt]))
                .map_err(db("save_metrics (replace with none)"))?;
            return Ok(());
        }
        let mut executions: Vec<&str> =
            self.rows.iter().map(|(m, _)| m.execution_id.as_deref().unwrap_or_default()).collect();
        executions.sort_unstable();
        executions.dedup();
        for execution_id in &executions {
            conn.prepare_cached("DELETE FROM metrics WHERE execution_id = ?1 AND task_run_id = ?2 AND attempt = ?3")
                .and_then(|mut s| s.execute(params![execution_id, task_run_id, attempt]))
                .map_err(db("save_metrics (replace)"))?;
        }
        let mut stmt = conn
            .prepare_cached(
                "INSERT INTO metrics (task_run_id, attempt, seq, execution_id, namespace, flow_id, task_id,
                 type, name, value, timestamp, tags) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )
            .map_err(db("save_metrics"))?;
        for (seq, (m, tags)) in self.rows.iter().enumerate() {
            stmt.execute(params![
                task_run_id,
                attempt,
                seq as i64,
                m.execution_id.as_deref().unwrap_or_default(),
                m.namespace,
                m.flow_id,
                m.task_id,
                m.kind.as_str(),
                m.name,
                m.value,
                micros(m.timestamp),
                tags
            ])
            .map_err(db("save_metrics"))?;
        }
        Ok(())
    }
}

impl SqliteStore {
    async fn save_metrics_queued(&self, task_run_id: &str, attempt: u32, metrics: &[MetricEntry]) -> Result<()> {
        let rows = MetricRows::encode(task_run_id, attempt, metrics)?;
        self.group().run("save_metrics", move |conn| rows.write(conn)).await
    }

    fn read_metrics(&self, sql: &str, args: &[&dyn rusqlite::ToSql]) -> Result<MetricRead> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(sql).map_err(db("read metrics"))?;
        let rows = stmt.query_map(args, row).map_err(db("read metrics"))?;
        let mut out = MetricRead::default();
        for r in rows {
            let (mut m, ts, kind, tags) = r.map_err(db("read metrics"))?;
            if out.entries.len() == MAX_READ {
                out.truncated = true;
                break;
            }
            m.timestamp = from_micros(ts)?;
            m.kind = MetricType::parse(&kind).ok_or_else(|| baton_backend::BackendError::Database {
                what: "read metrics".into(),
                message: format!("unknown metric type '{kind}'"),
            })?;
            m.tags = serde_json::from_str(&tags).map_err(json("read metrics (tags)"))?;
            out.entries.push(m);
        }
        Ok(out)
    }
}

#[async_trait]
impl MetricStore for SqliteStore {
    async fn save_metrics(&self, task_run_id: &str, attempt: u32, metrics: &[MetricEntry]) -> Result<()> {
        self.save_metrics_queued(task_run_id, attempt, metrics).await
    }

    async fn execution_metrics(&self, execution_id: &str) -> Result<MetricRead> {
        let sql = format!(
            "SELECT {COLUMNS} FROM metrics WHERE execution_id = ?1 ORDER BY timestamp, task_run_id, attempt, seq \
             LIMIT ?2"
        );
        self.read_metrics(&sql, &[&execution_id, &(MAX_READ as i64 + 1)])
    }

    async fn flow_metrics(&self, q: &FlowMetricQuery) -> Result<MetricRead> {
        let sql = format!(
            "SELECT {COLUMNS} FROM metrics WHERE namespace = ?1 AND flow_id = ?2
             AND (?3 IS NULL OR task_id = ?3) AND (?4 IS NULL OR name = ?4)
             AND (?5 IS NULL OR timestamp >= ?5) AND (?6 IS NULL OR timestamp <= ?6)
             ORDER BY timestamp DESC, task_run_id DESC, attempt DESC, seq DESC LIMIT ?7"
        );
        let (from, to) = (q.from.map(micros), q.to.map(micros));
        self.read_metrics(&sql, &[&q.namespace, &q.flow_id, &q.task_id, &q.name, &from, &to, &(MAX_READ as i64 + 1)])
    }

    async fn delete_metrics(&self, execution_id: &str) -> Result<usize> {
        let conn = self.lock();
        conn.prepare_cached("DELETE FROM metrics WHERE execution_id = ?1")
            .and_then(|mut s| s.execute([execution_id]))
            .map_err(db("delete_metrics"))
    }

    async fn purge_metrics(&self, query: &baton_backend::purge::MetricPurge) -> Result<baton_backend::purge::Purged> {
        self.purge_metrics_sync(query)
    }
}

#[cfg(test)]
mod tests {
    use crate::SqliteStore;
    use baton_backend::metrics_contract::metric_store_contract;

    #[tokio::test]
    async fn metric_store_contract_in_memory() {
        metric_store_contract(&SqliteStore::open_in_memory().expect("open")).await;
    }

    /// Processes opening one version-4 home at once: each open succeeds,
    /// one of them rebuilds the table, the rows are kept once.
    #[test]
    fn an_older_home_opened_by_several_processes_at_once_is_upgraded_once() {
        let dir = std::env::temp_dir().join(format!("baton-metrics-race-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("v4.db");
        let conn = rusqlite::Connection::open(&path).expect("open");
        conn.execute_batch(&format!("PRAGMA journal_mode = WAL; {VERSION_4}")).expect("version 4 metrics");
        drop(conn);
        super::super::sqlite_upgrade::race(
            |p| {
                let conn = rusqlite::Connection::open(p).map_err(super::db("open"))?;
                conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(super::db("busy timeout"))?;
                super::clustered_metrics(&conn)
            },
            path.clone(),
        );
        let conn = rusqlite::Connection::open(&path).expect("open");
        assert!(super::table_sql(&conn).expect("sql").as_deref().is_some_and(super::is_clustered));
        assert_eq!(conn.query_row("SELECT count(*) FROM metrics", [], |r| r.get::<_, i64>(0)).expect("n"), 3);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// `metrics` as versions 1–4 made it, with three rows.
    const VERSION_4: &str = "CREATE TABLE metrics (
            task_run_id TEXT NOT NULL, attempt INTEGER NOT NULL, seq INTEGER NOT NULL,
            execution_id TEXT NOT NULL, namespace TEXT NOT NULL, flow_id TEXT NOT NULL, task_id TEXT,
            type TEXT NOT NULL, name TEXT NOT NULL, value REAL NOT NULL, timestamp INTEGER NOT NULL,
            tags TEXT NOT NULL,
            PRIMARY KEY (task_run_id, attempt, seq));
         CREATE INDEX metrics_execution ON metrics (execution_id, timestamp);
         CREATE INDEX metrics_flow ON metrics (namespace, flow_id, timestamp);
         INSERT INTO metrics VALUES ('tr1', 1, 0, 'e1', 'ns', 'f', 't', 'counter', 'length', 3, 10, '{}'),
                                    ('tr1', 1, 1, 'e1', 'ns', 'f', 't', 'timer', 'duration', 0.5, 11, '{}'),
                                    ('tr2', 1, 0, 'e2', 'ns', 'g', NULL, 'counter', 'rows', 7, 12, '{\"a\":\"b\"}');";

    /// A home from before version 5: its rowid table and three B-trees
    /// become the clustered table and one index, every row kept.
    #[test]
    fn an_older_home_gets_clustered_metrics_with_its_rows() {
        use super::{clustered_metrics, is_clustered, table_sql};
        let conn = rusqlite::Connection::open_in_memory().expect("open");
        conn.execute_batch(VERSION_4).expect("version 4 schema");
        clustered_metrics(&conn).expect("upgrade");
        assert!(table_sql(&conn).expect("sql").as_deref().is_some_and(is_clustered), "rebuilt");
        let names: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_schema WHERE tbl_name LIKE 'metrics%' ORDER BY name")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .expect("names");
        assert_eq!(names, ["metrics", "metrics_flow"], "one index, nothing left aside");
        let rows: Vec<(String, String, i64, f64, Option<String>, String)> = conn
            .prepare("SELECT execution_id, task_run_id, seq, value, task_id, tags FROM metrics ORDER BY timestamp")
            .and_then(|mut s| {
                s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))?.collect()
            })
            .expect("rows");
        assert_eq!(
            rows,
            vec![
                ("e1".into(), "tr1".into(), 0, 3.0, Some("t".into()), "{}".into()),
                ("e1".into(), "tr1".into(), 1, 0.5, Some("t".into()), "{}".into()),
                ("e2".into(), "tr2".into(), 0, 7.0, None, "{\"a\":\"b\"}".into()),
            ]
        );
        // the key refuses a second row for one metric; opening again changes nothing
        assert!(
            conn.execute("INSERT INTO metrics VALUES ('e1','tr1',1,0,'ns','f','t','counter','x',1,1,'{}')", [])
                .is_err()
        );
        clustered_metrics(&conn).expect("again");
        assert_eq!(conn.query_row("SELECT count(*) FROM metrics", [], |r| r.get::<_, i64>(0)).expect("n"), 3);
    }
}
