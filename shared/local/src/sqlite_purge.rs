//! The purge queries of [`SqliteStore`] (see [`baton_backend::purge`]).
//!
//! - Logs: the `logs` table keeps a line as JSON beside its execution id, so
//!   namespace, flow and level are compared with `json_extract` and the
//!   timestamp is checked here (exactly, whatever its fraction digits); the
//!   table is walked by `seq` a page at a time and the matching lines of a
//!   page deleted by statements of at most the query's `batch` lines, each
//!   its own transaction. An execution's lines use its index.
//! - Executions: one indexed page of ended executions in `(end_date, id)`
//!   order after the cursor; namespaces are compared by prefix with
//!   `substr` (not `LIKE`, where `_` is a wildcard).
//! - Metrics: deleted a page of row ids at a time.

use chrono::{DateTime, Utc};
use rusqlite::types::Value as Sql;

use super::sqlite::{SqliteStore, db, json, micros};
use baton_backend::purge::{EndedExecutions, LogPurge, MetricPurge, PURGE_PAGE, Purged};
use baton_backend::{ExecutionSummary, LogEntry, Result};

fn sql_str(o: &Option<String>) -> Sql {
    o.clone().map_or(Sql::Null, Sql::Text)
}

impl SqliteStore {
    pub(super) fn purge_logs_sync(&self, q: &LogPurge) -> Result<Purged> {
        const WHAT: &str = "purge logs";
        let sql = "SELECT seq, body FROM logs WHERE seq > ?1 AND (?2 IS NULL OR execution_id = ?2)
             AND (?3 IS NULL OR json_extract(body, '$.namespace') = ?3)
             AND (?4 IS NULL OR json_extract(body, '$.flowId') = ?4)
             ORDER BY seq LIMIT ?5";
        let mut out = Purged::default();
        let mut cursor = 0i64;
        loop {
            let conn = self.lock();
            let page: Vec<(i64, String)> = {
                let mut stmt = conn.prepare_cached(sql).map_err(db(WHAT))?;
                let params = [
                    Sql::Integer(cursor),
                    sql_str(&q.execution_id),
                    sql_str(&q.namespace),
                    sql_str(&q.flow_id),
                    Sql::Integer(PURGE_PAGE as i64),
                ];
                let rows = stmt
                    .query_map(rusqlite::params_from_iter(params), |r| Ok((r.get(0)?, r.get(1)?)))
                    .map_err(db(WHAT))?;
                rows.collect::<rusqlite::Result<_>>().map_err(db(WHAT))?
            };
            let Some((last, _)) = page.last() else { return Ok(out) };
            cursor = *last;
            let full = page.len() == PURGE_PAGE;
            let mut doomed = Vec::new();
            for (seq, body) in page {
                let line: LogEntry = serde_json::from_str(&body).map_err(json(WHAT))?;
                if q.matches(&line) {
                    if out.deleted + doomed.len() == q.limit {
                        out.more = true;
                        break;
                    }
                    doomed.push(seq);
                }
            }
            // a batch per statement, each its own (autocommit) transaction
            for batch in doomed.chunks(q.batch.max(1)) {
                let marks = vec!["?"; batch.len()].join(",");
                let deleted = conn
                    .execute(&format!("DELETE FROM logs WHERE seq IN ({marks})"), rusqlite::params_from_iter(batch))
                    .map_err(db(WHAT))?;
                out.deleted += deleted;
                out.batches += 1;
            }
            if out.more || !full {
                return Ok(out);
            }
        }
    }

    pub(super) fn ended_executions_sync(&self, q: &EndedExecutions) -> Result<Vec<ExecutionSummary>> {
        const WHAT: &str = "list ended executions";
        let mut sql = String::from(
            "SELECT id, namespace, flow_id, state, start_date, end_date, labels FROM executions
             WHERE end_date IS NOT NULL AND end_date <= ?1 AND (?2 IS NULL OR start_date >= ?2)
             AND (?3 IS NULL OR flow_id = ?3)
             AND (?4 IS NULL OR namespace = ?4 OR (?3 IS NULL AND substr(namespace, 1, length(?4) + 1) = ?4 || '.'))
             AND (?5 IS NULL OR end_date > ?5 OR (end_date = ?5 AND id > ?6))",
        );
        let mut params = vec![
            Sql::Integer(micros(q.end)),
            q.start.map_or(Sql::Null, |s| Sql::Integer(micros(s))),
            sql_str(&q.flow_id),
            sql_str(&q.namespace),
            q.after.as_ref().map_or(Sql::Null, |(at, _)| Sql::Integer(micros(*at))),
            q.after.as_ref().map_or(Sql::Null, |(_, id)| Sql::Text(id.clone())),
        ];
        if !q.states.is_empty() {
            let first = params.len() + 1;
            let marks: Vec<String> = (0..q.states.len()).map(|i| format!("?{}", first + i)).collect();
            sql.push_str(&format!(" AND state IN ({})", marks.join(",")));
            params.extend(q.states.iter().map(|s| Sql::Text(s.as_str().to_string())));
        }
        sql.push_str(&format!(" ORDER BY end_date, id LIMIT {}", q.limit.min(i64::MAX as usize)));
        let found = super::sqlite::summaries(&self.lock(), &sql, params, WHAT)?;
        // the terminal-state rule is the shared one
        Ok(found.into_iter().filter(|s| q.matches(s)).collect())
    }

    pub(super) fn purge_metrics_sync(&self, q: &MetricPurge) -> Result<Purged> {
        const WHAT: &str = "purge metrics";
        let conn = self.lock();
        // the table is clustered on its key (no rowid): a page of keys, then their rows
        let sql = "DELETE FROM metrics WHERE (execution_id, task_run_id, attempt, seq) IN
             (SELECT execution_id, task_run_id, attempt, seq FROM metrics WHERE
             (?1 IS NULL OR namespace = ?1) AND (?2 IS NULL OR flow_id = ?2)
             AND (?3 IS NULL OR timestamp >= ?3) AND timestamp <= ?4 LIMIT ?5)";
        let mut out = Purged::default();
        loop {
            let room = q.limit - out.deleted;
            let page = room.min(PURGE_PAGE);
            if page == 0 {
                out.more = Self::any_metric(&conn, q)?;
                return Ok(out);
            }
            let params = [
                sql_str(&q.namespace),
                sql_str(&q.flow_id),
                q.start.map_or(Sql::Null, |s: DateTime<Utc>| Sql::Integer(micros(s))),
                Sql::Integer(micros(q.end)),
                Sql::Integer(page as i64),
            ];
            let n = conn
                .prepare_cached(sql)
                .and_then(|mut s| s.execute(rusqlite::params_from_iter(params)))
                .map_err(db(WHAT))?;
            out.deleted += n;
            if n < page {
                return Ok(out);
            }
        }
    }

    fn any_metric(conn: &rusqlite::Connection, q: &MetricPurge) -> Result<bool> {
        let params = [
            sql_str(&q.namespace),
            sql_str(&q.flow_id),
            q.start.map_or(Sql::Null, |s| Sql::Integer(micros(s))),
            Sql::Integer(micros(q.end)),
        ];
        conn.prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM metrics WHERE (?1 IS NULL OR namespace = ?1)
             AND (?2 IS NULL OR flow_id = ?2) AND (?3 IS NULL OR timestamp >= ?3) AND timestamp <= ?4)",
        )
        .and_then(|mut s| s.query_row(rusqlite::params_from_iter(params), |r| r.get(0)))
        .map_err(db("purge metrics"))
    }
}

#[cfg(test)]
mod tests {
    use crate::SqliteStore;

    #[tokio::test]
    async fn purge_contract_on_sqlite() {
        let store = SqliteStore::open_in_memory().expect("open");
        baton_backend::purge_contract::purge_contract(&store).await;
    }
}
