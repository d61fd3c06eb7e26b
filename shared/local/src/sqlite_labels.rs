//! Execution labels and deletion on [`SqliteStore`].
//!
//! Labels live twice: as a JSON array in `executions.labels` (what a
//! listing shows, read with the row) and as one `execution_labels` row per
//! label, indexed on `(key, value)`, so a label filter is a query on the
//! index rather than a scan of every execution. Both are written with the
//! execution in its transaction; a save rewrites the rows only when the
//! labels changed.
//!
//! A database made before labels had their own rows (no `labels` column)
//! is upgraded on open: the column is added and both are filled from the
//! stored executions ([`upgrade`]).

use rusqlite::{Connection, params};

use super::sqlite::{SqliteStore, db, json};
use baton_backend::Result;
use baton_model::Label;

/// The labels' JSON as stored in `executions.labels`.
pub(super) fn labels_json(labels: &[Label]) -> Result<String> {
    serde_json::to_string(labels).map_err(json("encode labels"))
}

/// Decodes `executions.labels`.
pub(super) fn labels_from_json(s: &str) -> Result<Vec<Label>> {
    serde_json::from_str(s).map_err(json("decode labels"))
}

/// Replaces the label rows of execution `id`.
pub(super) fn write_label_rows(tx: &Connection, id: &str, labels: &[Label], replace: bool) -> Result<()> {
    if replace {
        tx.prepare_cached("DELETE FROM execution_labels WHERE execution_id = ?1")
            .and_then(|mut s| s.execute([id]))
            .map_err(db("save execution labels (clear)"))?;
    }
    let mut stmt = tx
        .prepare_cached("INSERT OR IGNORE INTO execution_labels (execution_id, key, value) VALUES (?1, ?2, ?3)")
        .map_err(db("save execution labels"))?;
    for l in labels {
        stmt.execute(params![id, l.key, l.value]).map_err(db("save execution labels"))?;
    }
    Ok(())
}

/// Whether the `executions` table exists without its `labels` column (a
/// database written by an older Baton).
pub(super) fn needs_upgrade(conn: &Connection) -> Result<bool> {
    let table: i64 = conn
        .query_row("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'executions'", [], |r| r.get(0))
        .map_err(db("inspect schema"))?;
    if table == 0 {
        return Ok(false);
    }
    let column: i64 = conn
        .query_row("SELECT COUNT(*) FROM pragma_table_info('executions') WHERE name = 'labels'", [], |r| r.get(0))
        .map_err(db("inspect schema"))?;
    Ok(column == 0)
}

/// Adds the `labels` column (before the schema's indexes are created).
pub(super) fn add_column(conn: &Connection) -> Result<()> {
    conn.execute_batch("ALTER TABLE executions ADD COLUMN labels TEXT NOT NULL DEFAULT '[]'")
        .map_err(db("upgrade schema (add executions.labels)"))
}

/// Fills the column and the label rows from the stored executions' JSON
/// (after the schema created `execution_labels`).
pub(super) fn fill(conn: &Connection) -> Result<()> {
    conn.execute_batch(
        "BEGIN IMMEDIATE;
         UPDATE executions SET labels = COALESCE(json_extract(body, '$.labels'), '[]');
         INSERT OR IGNORE INTO execution_labels (execution_id, key, value)
           SELECT e.id, json_extract(l.value, '$.key'), json_extract(l.value, '$.value')
           FROM executions e, json_each(e.body, '$.labels') l;
         COMMIT;",
    )
    .map_err(db("upgrade schema (fill execution labels)"))
}

impl SqliteStore {
    pub(super) fn delete_execution_sync(&self, id: &str, logs: bool) -> Result<bool> {
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db("delete_execution (begin)"))?;
        let run = |sql: &str, what: &'static str| tx.execute(sql, [id]).map_err(db(what));
        run(
            "DELETE FROM claims WHERE task_run_id IN (SELECT id FROM task_runs WHERE execution_id = ?1)",
            "delete_execution (claims)",
        )?;
        run("DELETE FROM task_runs WHERE execution_id = ?1", "delete_execution (task runs)")?;
        run("DELETE FROM execution_labels WHERE execution_id = ?1", "delete_execution (labels)")?;
        if logs {
            run("DELETE FROM logs WHERE execution_id = ?1", "delete_execution (logs)")?;
        }
        let n = run("DELETE FROM executions WHERE id = ?1", "delete_execution")?;
        tx.commit().map_err(db("delete_execution (commit)"))?;
        Ok(n > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_backend::{ExecutionFilter, StateStore};
    use baton_model::Execution;

    /// A database from before label rows: upgraded on open, its
    /// executions' labels become searchable.
    #[tokio::test]
    async fn an_older_database_is_upgraded_with_its_labels() {
        let dir = std::env::temp_dir().join(format!("baton-sqlite-labels-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let path = dir.join("baton.db");
        {
            let conn = Connection::open(&path).expect("open");
            conn.execute_batch(
                "CREATE TABLE executions (
                    id TEXT PRIMARY KEY NOT NULL, namespace TEXT NOT NULL, flow_id TEXT NOT NULL,
                    state TEXT NOT NULL, start_date INTEGER, end_date INTEGER,
                    version INTEGER NOT NULL, body TEXT NOT NULL);
                 PRAGMA user_version = 1;",
            )
            .expect("old schema");
            let labels = vec![Label { key: "team".into(), value: "data".into() }];
            let e = Execution::new("old1".into(), "ns", "f", 1, Default::default(), labels, chrono::Utc::now());
            conn.execute(
                "INSERT INTO executions VALUES ('old1', 'ns', 'f', 'CREATED', 1, NULL, 1, ?1)",
                [serde_json::to_string(&e).expect("json")],
            )
            .expect("old row");
        }
        let store = SqliteStore::open(&path).expect("upgrade");
        let filter = ExecutionFilter {
            labels: vec![Label { key: "team".into(), value: "data".into() }],
            ..ExecutionFilter::default()
        };
        let found = store.list_executions(&filter).await.expect("list");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].labels, filter.labels);
        drop(store);
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
