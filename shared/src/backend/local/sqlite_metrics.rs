//! [`MetricStore`] on [`SqliteStore`]: the `metrics` table, one row per
//! metric of a task run attempt (primary key `(task_run_id, attempt, seq)`,
//! so a redelivered attempt rewrites its own rows), indexed by execution and
//! by `(namespace, flow_id, timestamp)` for a flow's listings and
//! aggregations. The table is created with the rest of the schema (an older
//! database gains it when opened).

use async_trait::async_trait;
use rusqlite::params;

use super::sqlite::{SqliteStore, db, from_micros, json, micros};
use crate::backend::Result;
use crate::backend::metrics::{FlowMetricQuery, MAX_READ, MetricEntry, MetricRead, MetricStore, MetricType};

/// The table and its indexes.
pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS metrics (
    task_run_id TEXT NOT NULL, attempt INTEGER NOT NULL, seq INTEGER NOT NULL,
    execution_id TEXT NOT NULL, namespace TEXT NOT NULL, flow_id TEXT NOT NULL, task_id TEXT,
    type TEXT NOT NULL, name TEXT NOT NULL, value REAL NOT NULL, timestamp INTEGER NOT NULL,
    tags TEXT NOT NULL,
    PRIMARY KEY (task_run_id, attempt, seq));
CREATE INDEX IF NOT EXISTS metrics_execution ON metrics (execution_id, timestamp);
CREATE INDEX IF NOT EXISTS metrics_flow ON metrics (namespace, flow_id, timestamp);
";

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

    /// Replaces the attempt's rows with these.
    pub(super) fn write(&self, conn: &rusqlite::Connection) -> Result<()> {
        let (task_run_id, attempt) = (&self.task_run_id, self.attempt);
        conn.prepare_cached("DELETE FROM metrics WHERE task_run_id = ?1 AND attempt = ?2")
            .and_then(|mut s| s.execute(params![task_run_id, attempt]))
            .map_err(db("save_metrics (replace)"))?;
        if self.rows.is_empty() {
            return Ok(());
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
            m.kind = MetricType::parse(&kind).ok_or_else(|| crate::backend::BackendError::Database {
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

    async fn purge_metrics(&self, query: &crate::backend::purge::MetricPurge) -> Result<crate::backend::purge::Purged> {
        self.purge_metrics_sync(query)
    }
}

#[cfg(test)]
mod tests {
    use crate::backend::local::SqliteStore;
    use crate::backend::metrics_contract::metric_store_contract;

    #[tokio::test]
    async fn metric_store_contract_in_memory() {
        metric_store_contract(&SqliteStore::open_in_memory().expect("open")).await;
    }
}
