//! [`PartialStore`] on SQLite: the head with the executor's state (the
//! `step` column, written by the executor's saves only, cleared by any
//! other) and the task-run count (`runs`), task runs by id (the primary
//! key) and by slot, task or state (a scan of the execution's rows in
//! SQLite, bounded by the caller's limit: such needs are rare, and a scan
//! in the database costs less than decoding every row here).
//!
//! A home made before schema version 6 gets the two columns; its
//! executions have no count until their next save, and are loaded whole
//! until then.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params_from_iter, types::Value as Sql};

use super::sqlite::{SqliteStore, db, json};
use baton_backend::partial::{PartialStore, StoredHead, decode_state, encode_state};
use baton_backend::{AttemptClaim, AttemptEnd, BackendError, Result};
use baton_executor::partial::{Need, StepState, is_placeholder};
use baton_model::{Execution, TaskRun};

/// Adds `runs` and `step` to an older home's `executions`.
pub(super) fn add_columns(conn: &Connection) -> Result<()> {
    for (column, kind) in [("runs", "INTEGER"), ("step", "BLOB")] {
        let found: i64 = conn
            .query_row("SELECT COUNT(*) FROM pragma_table_info('executions') WHERE name = ?1", [column], |r| r.get(0))
            .map_err(db("inspect schema"))?;
        if found == 0 {
            conn.execute_batch(&format!("ALTER TABLE executions ADD COLUMN {column} {kind}"))
                .map_err(db("upgrade schema (add executions.runs, executions.step)"))?;
        }
    }
    Ok(())
}

/// The query answering one need (never [`Need::All`]), with its values.
fn need_query(id: &str, need: &Need) -> Result<(String, Vec<Sql>)> {
    const RUNS: &str = "SELECT seq, body FROM task_runs WHERE execution_id = ?1";
    let mut values = vec![Sql::Text(id.to_string())];
    let sql = match need {
        Need::Id(task_run) => {
            values.push(Sql::Text(task_run.clone()));
            format!("{RUNS} AND id = ?2")
        }
        Need::Slot { task_id, parent, value } => {
            values.push(Sql::Text(task_id.clone()));
            values.push(parent.clone().map_or(Sql::Null, Sql::Text));
            values.push(value.clone().map_or(Sql::Null, Sql::Text));
            format!(
                "{RUNS} AND json_extract(body, '$.taskId') = ?2 AND json_extract(body, '$.parentTaskRunId') IS ?3
                 AND json_extract(body, '$.value') IS ?4"
            )
        }
        Need::Task(task_id) => {
            values.push(Sql::Text(task_id.clone()));
            format!("{RUNS} AND json_extract(body, '$.taskId') = ?2")
        }
        Need::States(states) => {
            let marks: Vec<String> = (0..states.len()).map(|i| format!("?{}", i + 2)).collect();
            values.extend(states.iter().map(|s| Sql::Text(s.as_str().to_string())));
            format!("{RUNS} AND json_extract(body, '$.state.current') IN ({})", marks.join(", "))
        }
        Need::All => return Err(BackendError::Invalid("a partial load of every task run".into())),
    };
    Ok((sql, values))
}

/// The rows `needs` name, each once, as (position, JSON); `None` past `limit`.
fn read_runs(conn: &Connection, id: &str, needs: &[Need], limit: usize) -> Result<Option<Vec<(usize, String)>>> {
    let what = "load task runs";
    let mut seen = std::collections::HashSet::new();
    let mut found = Vec::new();
    for need in needs {
        let (sql, values) = need_query(id, need)?;
        // one more than allowed tells it is too many
        let room = limit.saturating_add(1).saturating_sub(found.len());
        let sql = format!("{sql} LIMIT {}", i64::try_from(room).unwrap_or(i64::MAX));
        let mut stmt = conn.prepare_cached(&sql).map_err(db(what))?;
        let mut rows = stmt.query(params_from_iter(values)).map_err(db(what))?;
        while let Some(r) = rows.next().map_err(db(what))? {
            let seq: i64 = r.get(0).map_err(db(what))?;
            let seq = usize::try_from(seq)
                .map_err(|_| BackendError::Invalid(format!("{what}: execution {id} has a negative position")))?;
            if seen.insert(seq) {
                found.push((seq, r.get::<_, String>(1).map_err(db(what))?));
            }
            if found.len() > limit {
                return Ok(None);
            }
        }
    }
    Ok(Some(found))
}

#[async_trait]
impl PartialStore for SqliteStore {
    async fn load_head(&self, id: &str) -> Result<Option<StoredHead>> {
        let key = id.to_string();
        let found = self
            .group()
            .read("load execution head", move |conn| {
                conn.prepare_cached("SELECT version, body, runs, step FROM executions WHERE id = ?1")
                    .and_then(|mut s| {
                        s.query_row([&key], |r| {
                            Ok((
                                r.get::<_, i64>(0)?,
                                r.get::<_, String>(1)?,
                                r.get::<_, Option<i64>>(2)?,
                                r.get::<_, Option<Vec<u8>>>(3)?,
                            ))
                        })
                        .optional()
                    })
                    .map_err(db("load execution head"))
            })
            .await?;
        let Some((version, body, runs, step)) = found else { return Ok(None) };
        let mut exec: Execution = serde_json::from_str(&body).map_err(json("load execution head (decode body)"))?;
        exec.version = version as u64;
        self.sealer.open(&mut exec);
        let Some(count) = runs.and_then(|c| usize::try_from(c).ok()) else {
            return Ok(Some(StoredHead { exec, count: 0, state: None }));
        };
        Ok(Some(StoredHead { exec, count, state: step.as_deref().and_then(decode_state) }))
    }

    async fn load_runs(&self, id: &str, needs: &[Need], limit: usize) -> Result<Option<Vec<(usize, TaskRun)>>> {
        let (key, needs) = (id.to_string(), needs.to_vec());
        let rows = self.group().read("load task runs", move |conn| read_runs(conn, &key, &needs, limit)).await?;
        let Some(rows) = rows else { return Ok(None) };
        rows.into_iter()
            .map(|(seq, body)| Ok((seq, serde_json::from_str(&body).map_err(json("load task runs (decode)"))?)))
            .collect::<Result<Vec<_>>>()
            .map(Some)
    }

    async fn save_stepped(
        &self,
        execution: &Execution,
        changed: &[usize],
        ended: &[AttemptEnd],
        opened: &[AttemptClaim],
        state: Option<&StepState>,
        sparse: bool,
    ) -> Result<u64> {
        if sparse
            && let Some(&at) = changed.iter().find(|&&i| execution.task_run_list.get(i).is_some_and(is_placeholder))
        {
            return Err(BackendError::Invalid(format!(
                "save of execution {}: task run {at} is not loaded, it cannot be written",
                execution.id
            )));
        }
        self.save_keeping(execution, changed, ended, opened, state.and_then(encode_state)).await
    }
}
