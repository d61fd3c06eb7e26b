//! Creating, loading and saving executions on [`SqliteStore`], through the
//! group-commit queue (`sqlite_group.rs`). Each operation encodes its rows
//! (the execution's head JSON, its labels, the changed task runs:
//! `sqlite_rows.rs`) before it
//! is queued and decodes what it read after, so the connection is held only
//! for the statements.

use std::collections::HashSet;

use rusqlite::{Connection, ErrorCode, OptionalExtension, params};

use super::sqlite::{SqliteStore, db, json, micros};
use super::sqlite_claims::{finish_claim_row, open_claim_row};
use super::sqlite_labels::{labels_json, write_label_rows};
use super::sqlite_metrics::MetricRows;
use super::sqlite_rows::Rows;
use baton_backend::{AttemptClaim, AttemptEnd, BackendError, Result};
use baton_model::{Execution, Label};

/// The columns of an `executions` row, encoded.
struct Head {
    id: String,
    state: &'static str,
    start: Option<i64>,
    end: Option<i64>,
    body: String,
    labels_json: String,
    labels: Vec<Label>,
    /// How many task runs the execution holds (`runs`).
    runs: i64,
    /// The executor's state kept with this version (`step`,
    /// `sqlite_partial.rs`): `None` for every save but the executor's.
    step: Option<Vec<u8>>,
}

impl Head {
    fn of(e: &Execution, sealer: &baton_backend::seal::Sealer) -> Result<Self> {
        // the task runs have their own rows: the head's JSON holds every
        // other field, the SECRET inputs sealed
        let mut head = e.head_clone();
        sealer.seal(&mut head)?;
        let body = serde_json::to_string(&head).map_err(json("encode execution"))?;
        Ok(Head {
            id: e.id.clone(),
            state: e.state.current.as_str(),
            start: e.state.start_date().map(micros),
            end: e.state.end_date().map(micros),
            body,
            labels_json: labels_json(&e.labels)?,
            labels: e.labels.clone(),
            runs: i64::try_from(e.task_run_list.len()).unwrap_or(i64::MAX),
            step: None,
        })
    }
}

/// Inserts or replaces one task run row.
fn upsert(conn: &Connection, execution_id: &str, (seq, id, body): (usize, &str, &str)) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO task_runs (execution_id, id, seq, body) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (execution_id, id) DO UPDATE SET seq = excluded.seq, body = excluded.body",
    )
    .and_then(|mut s| s.execute(params![execution_id, id, seq as i64, body]))
    .map_err(db("save task run"))?;
    Ok(())
}

impl SqliteStore {
    pub(super) async fn create_execution_queued(&self, e: &Execution) -> Result<()> {
        let head = Head::of(e, &self.sealer)?;
        let (namespace, flow_id) = (e.namespace.clone(), e.flow_id.clone());
        let task_runs = Rows::encode(e, 0..e.task_run_list.len())?;
        self.group()
            .run("create_execution", move |conn| {
                conn.prepare_cached(
                    "INSERT INTO executions (id, namespace, flow_id, state, start_date, end_date, version, body, labels, runs)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, ?7, ?8, ?9)",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        head.id,
                        namespace,
                        flow_id,
                        head.state,
                        head.start,
                        head.end,
                        head.body,
                        head.labels_json,
                        head.runs
                    ])
                })
                .map_err(|err| match err.sqlite_error_code() {
                    Some(ErrorCode::ConstraintViolation) => {
                        BackendError::Invalid(format!("execution {} already exists", head.id))
                    }
                    _ => db("create_execution (insert execution)")(err),
                })?;
                for row in task_runs.iter() {
                    upsert(conn, &head.id, row)?;
                }
                write_label_rows(conn, &head.id, &head.labels, false)
            })
            .await
    }

    /// The execution `id`, with its task runs when `task_runs` (else the
    /// head alone). Each task run is decoded as its row is read: the rows'
    /// JSON is never held all at once beside the decoded list.
    pub(super) async fn load_execution_queued(&self, id: &str, task_runs: bool) -> Result<Option<Execution>> {
        let key = id.to_string();
        let found = self
            .group()
            .read("load_execution", move |conn| {
                let row = conn
                    .prepare_cached("SELECT version, body FROM executions WHERE id = ?1")
                    .and_then(|mut s| {
                        s.query_row([&key], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))).optional()
                    })
                    .map_err(db("load_execution"))?;
                let Some((version, body)) = row else { return Ok(None) };
                let mut list = Vec::new();
                if task_runs {
                    let mut stmt = conn
                        .prepare_cached("SELECT body FROM task_runs WHERE execution_id = ?1 ORDER BY seq, rowid")
                        .map_err(db("load_execution (task runs)"))?;
                    let mut rows = stmt.query([&key]).map_err(db("load_execution (task runs)"))?;
                    while let Some(r) = rows.next().map_err(db("load_execution (task runs)"))? {
                        let value = r.get_ref(0).map_err(db("load_execution (task runs)"))?;
                        let text = value
                            .as_str()
                            .map_err(|e| BackendError::Invalid(format!("load_execution (task runs): {e}")))?;
                        list.push(serde_json::from_str(text).map_err(json("load_execution (decode task run)"))?);
                    }
                }
                Ok(Some((version, body, list)))
            })
            .await?;
        let Some((version, body, task_runs)) = found else { return Ok(None) };
        let mut execution: Execution = serde_json::from_str(&body).map_err(json("load_execution (decode body)"))?;
        execution.version = version as u64;
        self.sealer.open(&mut execution);
        execution.task_run_list = task_runs;
        Ok(Some(execution))
    }

    pub(super) async fn save_execution_queued(&self, e: &Execution, changed: &[String]) -> Result<u64> {
        let positions: Vec<usize> = if changed.len() <= 8 {
            // the changed task runs are usually the newest: search from the end
            changed.iter().filter_map(|id| e.task_run_list.iter().rposition(|tr| tr.id == *id)).collect()
        } else {
            let changed: HashSet<&str> = changed.iter().map(String::as_str).collect();
            e.task_run_list
                .iter()
                .enumerate()
                .filter(|(_, tr)| changed.contains(tr.id.as_str()))
                .map(|(i, _)| i)
                .collect()
        };
        self.save_execution_at_queued(e, &positions).await
    }

    pub(super) async fn save_execution_at_queued(&self, e: &Execution, changed: &[usize]) -> Result<u64> {
        self.save_execution_ending_queued(e, changed, &[]).await
    }

    pub(super) async fn save_execution_ending_queued(
        &self,
        e: &Execution,
        changed: &[usize],
        ended: &[AttemptEnd],
    ) -> Result<u64> {
        self.save_execution_claiming_queued(e, changed, ended, &[]).await
    }

    /// Saves (compare-and-swap) and, in the same job and so the same commit,
    /// closes the claims of the attempts `ended` and stores their metrics,
    /// and opens the claims `opened` (one already there stays as it is).
    pub(super) async fn save_execution_claiming_queued(
        &self,
        e: &Execution,
        changed: &[usize],
        ended: &[AttemptEnd],
        opened: &[AttemptClaim],
    ) -> Result<u64> {
        self.save_keeping(e, changed, ended, opened, None).await
    }

    /// [`Self::save_execution_claiming_queued`] keeping `step` (the
    /// executor's encoded state, `sqlite_partial.rs`) with the head; `None`
    /// clears a state kept before.
    pub(super) async fn save_keeping(
        &self,
        e: &Execution,
        changed: &[usize],
        ended: &[AttemptEnd],
        opened: &[AttemptClaim],
        step: Option<Vec<u8>>,
    ) -> Result<u64> {
        let opened: Vec<(String, u32, String, i64)> =
            opened.iter().map(|c| (c.task_run_id.clone(), c.attempt, c.worker_id.clone(), micros(c.until))).collect();
        let head = Head { step, ..Head::of(e, &self.sealer)? };
        let task_runs = Rows::encode(e, changed.iter().copied())?;
        let ends = ended
            .iter()
            .map(|a| {
                let metrics = (!a.metrics.is_empty())
                    .then(|| MetricRows::encode(&a.task_run_id, a.attempt, &a.metrics))
                    .transpose()?;
                Ok((a.task_run_id.clone(), a.attempt, metrics, a.close_claim))
            })
            .collect::<Result<Vec<_>>>()?;
        let expected = e.version;
        self.group()
            .run("save_execution", move |conn| {
                let version = save_rows(conn, &head, &task_runs, expected)?;
                for (task_run_id, attempt, metrics, close_claim) in &ends {
                    if let Some(m) = metrics {
                        m.write(conn)?;
                    }
                    if *close_claim {
                        finish_claim_row(conn, task_run_id, *attempt)?;
                    }
                }
                for (task_run_id, attempt, worker_id, until) in &opened {
                    open_claim_row(conn, task_run_id, *attempt, worker_id, *until)?;
                }
                Ok(version)
            })
            .await
    }
}

/// The compare-and-swap save of a head and its changed task runs; the new version.
fn save_rows(conn: &Connection, head: &Head, task_runs: &Rows, expected: u64) -> Result<u64> {
    let found: Option<(i64, String, String, Option<i64>)> = conn
        .prepare_cached("SELECT version, labels, state, start_date FROM executions WHERE id = ?1")
        .and_then(|mut s| s.query_row([&head.id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))).optional())
        .map_err(db("save_execution (read version)"))?;
    let (found, stored_labels, stored_state, stored_start) = match found {
        None => return Err(BackendError::NotFound { what: format!("execution {}", head.id) }),
        Some((v, labels, state, start)) => (v as u64, labels, state, start),
    };
    if found != expected {
        return Err(BackendError::Conflict { what: format!("execution {}", head.id), expected, found });
    }
    let new_version = found + 1;
    if head.labels_json != stored_labels {
        write_label_rows(conn, &head.id, &head.labels, true)?;
    }
    // SQLite rewrites the entry of every index over a column an UPDATE
    // sets, changed or not: `state` and `start_date` (two indexes) are set
    // only when they change, which most steps of a running execution do not
    let unchanged = stored_state == head.state && stored_start == head.start;
    if unchanged {
        conn.prepare_cached(
            "UPDATE executions SET end_date = ?2, version = ?3, body = ?4, labels = ?5, runs = ?6, step = ?7
             WHERE id = ?1",
        )
        .and_then(|mut s| {
            s.execute(params![head.id, head.end, new_version as i64, head.body, head.labels_json, head.runs, head.step])
        })
    } else {
        conn.prepare_cached(
            "UPDATE executions SET state = ?2, start_date = ?3, end_date = ?4, version = ?5, body = ?6,
             labels = ?7, runs = ?8, step = ?9 WHERE id = ?1",
        )
        .and_then(|mut s| {
            s.execute(params![
                head.id,
                head.state,
                head.start,
                head.end,
                new_version as i64,
                head.body,
                head.labels_json,
                head.runs,
                head.step
            ])
        })
    }
    .map_err(db("save_execution (update execution)"))?;
    for row in task_runs.iter() {
        upsert(conn, &head.id, row)?;
    }
    Ok(new_version)
}
