//! The blocking side of a SQLite task (run on `spawn_blocking`): opens the
//! database, runs the statements one at a time (so an error names the
//! statement) and sends result rows to the async side through a bounded
//! channel, so STORE never holds more than the channel's worth of rows.
//!
//! Cells convert as Kestra's `SqliteCellConverter`: by the column's
//! declared type, DATE and TIME text stays text, DATETIME/TIMESTAMP text
//! (ISO, with or without an offset; without one it is in `timeZoneId`) is
//! an instant (ISO text in UTC, Baton's Ion holding timestamps as text);
//! otherwise by the stored class: integer, real, text; a blob is base64
//! text (Baton's Ion holds no blobs).

use std::path::PathBuf;

use base64::Engine as _;
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use rusqlite::types::{Value as Db, ValueRef};
use rusqlite::{Connection, InterruptHandle, OpenFlags, params_from_iter};
use serde_json::{Map, Number, Value};
use tokio::sync::mpsc::Sender;

use crate::TaskError;
use crate::jdbc::fetch::{FetchType, Row};
use crate::jdbc::split::bind_named;

/// What the blocking side tells the async side.
pub enum Msg {
    /// The connection is open; the handle interrupts it.
    Ready(InterruptHandle),
    /// A result the task outputs starts.
    Begin,
    Row(Row),
    /// The result ended.
    End,
}

/// Everything the blocking side needs.
pub struct Job {
    /// `None`: an in-memory database.
    pub db_path: Option<PathBuf>,
    pub statements: Vec<String>,
    pub after_sql: Vec<String>,
    pub parameters: Map<String, Value>,
    pub fetch: FetchType,
    /// Every result is output (`Queries`), not only the last (`Query`).
    pub multi: bool,
    pub transaction: bool,
    pub time_zone: Tz,
}

/// Why a statement stopped: SQLite's error, or the receiver went away
/// (the task was cancelled or failed on its side).
enum StmtError {
    Db(rusqlite::Error),
    Gone,
}

impl From<rusqlite::Error> for StmtError {
    fn from(e: rusqlite::Error) -> Self {
        StmtError::Db(e)
    }
}

fn send(tx: &Sender<Msg>, msg: Msg) -> Result<(), StmtError> {
    tx.blocking_send(msg).map_err(|_| StmtError::Gone)
}

fn cancelled() -> TaskError {
    TaskError::failed("the SQLite query was cancelled")
}

/// Runs the job; the error is for humans (SQLite's message and the statement).
pub fn run(job: Job, tx: Sender<Msg>) -> Result<(), TaskError> {
    let conn = match &job.db_path {
        Some(p) => Connection::open_with_flags(p, OpenFlags::default()),
        None => Connection::open_in_memory(),
    }
    .map_err(|e| {
        let what = job.db_path.as_ref().map_or("an in-memory SQLite database".to_string(), |p| p.display().to_string());
        TaskError::failed(format!("cannot open SQLite database {what}: {e}"))
    })?;
    if tx.blocking_send(Msg::Ready(conn.get_interrupt_handle())).is_err() {
        return Err(cancelled());
    }
    if job.transaction {
        conn.execute_batch("BEGIN")
            .map_err(|e| TaskError::failed(format!("cannot begin a SQLite transaction: {e}")))?;
    }
    let outcome = run_statements(&conn, &job, &tx);
    if job.transaction {
        let end = if outcome.is_ok() { "COMMIT" } else { "ROLLBACK" };
        let ended = conn.execute_batch(end);
        if let (Ok(()), Err(e)) = (&outcome, ended) {
            return Err(TaskError::failed(format!("SQLite could not commit the transaction: {e}")));
        }
    }
    outcome?;
    conn.close().map_err(|(_, e)| TaskError::failed(format!("cannot close the SQLite database: {e}")))
}

fn statement_error(i: usize, n: usize, sql: &str, e: &rusqlite::Error) -> TaskError {
    let head: String = sql.chars().take(200).collect();
    let more = if head.len() < sql.len() { "…" } else { "" };
    TaskError::failed(format!("{e} (in statement {} of {n}: {head}{more})", i + 1))
}

fn run_statements(conn: &Connection, job: &Job, tx: &Sender<Msg>) -> Result<(), TaskError> {
    let n = job.statements.len();
    for (i, sql) in job.statements.iter().enumerate() {
        if tx.is_closed() {
            return Err(cancelled());
        }
        // `Query` outputs the result of its last statement
        let wanted = job.multi || i + 1 == n;
        run_one(conn, sql, job, wanted.then_some(tx)).map_err(|e| match e {
            StmtError::Gone => cancelled(),
            StmtError::Db(e) => statement_error(i, n, sql, &e),
        })?;
    }
    let m = job.after_sql.len();
    for (i, sql) in job.after_sql.iter().enumerate() {
        run_one(conn, sql, job, None).map_err(|e| match e {
            StmtError::Gone => cancelled(),
            StmtError::Db(e) => TaskError::failed(format!("afterSQL: {}", statement_error(i, m, sql, &e))),
        })?;
    }
    Ok(())
}

/// `sql` with its known `:name` parameters as `?n`, and their values.
fn bind(sql: &str, job: &Job) -> (String, Vec<Db>) {
    let known: Vec<&str> = job.parameters.keys().map(String::as_str).collect();
    if known.is_empty() {
        return (sql.to_string(), Vec::new());
    }
    let (sql, names) = bind_named(sql, &known, |n| format!("?{n}"));
    (sql, names.iter().map(|n| to_db(job.parameters.get(n).unwrap_or(&Value::Null))).collect())
}

/// Runs one statement; with `out`, sends its rows when it returns some.
fn run_one(conn: &Connection, sql: &str, job: &Job, out: Option<&Sender<Msg>>) -> Result<(), StmtError> {
    let (sql, params) = bind(sql, job);
    let mut stmt = conn.prepare(&sql)?;
    let columns: Vec<(String, Option<String>)> =
        stmt.columns().map(|c| (c.name().to_string(), c.decl_type().map(str::to_ascii_lowercase))).collect();
    let tx = match out {
        Some(tx) if !columns.is_empty() => tx,
        _ => {
            // rows of a statement not output are stepped through (and dropped)
            let mut rows = stmt.query(params_from_iter(params))?;
            while rows.next()?.is_some() {}
            return Ok(());
        }
    };
    let mut rows = stmt.query(params_from_iter(params))?;
    send(tx, Msg::Begin)?;
    let mut left: u64 = match job.fetch {
        FetchType::None => 0,
        FetchType::FetchOne => 1,
        FetchType::Fetch | FetchType::Store => u64::MAX,
    };
    while left > 0 {
        let Some(row) = rows.next()? else { break };
        let mut r = Row::new();
        for (i, (name, decl)) in columns.iter().enumerate() {
            r.insert(name.clone(), to_json(row.get_ref(i)?, decl.as_deref(), job.time_zone));
        }
        send(tx, Msg::Row(r))?;
        left -= 1;
    }
    send(tx, Msg::End)?;
    Ok(())
}

/// A parameter value as SQLite binds it.
fn to_db(v: &Value) -> Db {
    match v {
        Value::Null => Db::Null,
        Value::Bool(b) => Db::Integer(i64::from(*b)),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Db::Integer(i),
            (None, Some(f)) => Db::Real(f),
            _ => Db::Text(n.to_string()),
        },
        Value::String(s) => Db::Text(s.clone()),
        other => Db::Text(other.to_string()),
    }
}

/// One cell as an Ion value, by the column's declared type (lowercase).
pub fn to_json(v: ValueRef<'_>, decl: Option<&str>, tz: Tz) -> Value {
    if let (Some("datetime" | "timestamp"), ValueRef::Text(t)) = (decl, v)
        && let Some(instant) = std::str::from_utf8(t).ok().and_then(|s| parse_instant(s.trim(), tz))
    {
        return Value::String(instant.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true));
    }
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::from(i),
        ValueRef::Real(f) => Number::from_f64(f).map_or_else(|| Value::String(f.to_string()), Value::Number),
        ValueRef::Text(t) => Value::String(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::String(base64::engine::general_purpose::STANDARD.encode(b)),
    }
}

/// ISO date-time text (`T` or a space; an offset, `Z`, or none: then in
/// `tz`), or a date (its start of day in `tz`).
fn parse_instant(s: &str, tz: Tz) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    let spaced = s.replacen(' ', "T", 1);
    if let Ok(t) = DateTime::parse_from_rfc3339(&spaced) {
        return Some(t.with_timezone(&Utc));
    }
    let local = NaiveDateTime::parse_from_str(&spaced, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(&spaced, "%Y-%m-%dT%H:%M"))
        .ok()
        .or_else(|| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0)))?;
    tz.from_local_datetime(&local).earliest().map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_follow_the_declared_type() {
        let utc = Tz::UTC;
        assert_eq!(to_json(ValueRef::Integer(7), Some("integer"), utc), Value::from(7));
        assert_eq!(to_json(ValueRef::Real(1.5), None, utc), Value::from(1.5));
        assert_eq!(to_json(ValueRef::Text(b"2024-01-02"), Some("date"), utc), Value::from("2024-01-02"));
        assert_eq!(
            to_json(ValueRef::Text(b"2024-01-01 12:00:00"), Some("datetime"), Tz::Europe__Paris),
            Value::from("2024-01-01T11:00:00Z")
        );
        assert_eq!(
            to_json(ValueRef::Text(b"2024-01-01T12:00:00+02:00"), Some("timestamp"), utc),
            Value::from("2024-01-01T10:00:00Z")
        );
        assert_eq!(to_json(ValueRef::Text(b"soon"), Some("datetime"), utc), Value::from("soon"));
        assert_eq!(to_json(ValueRef::Blob(b"hi"), Some("blob"), utc), Value::from("aGk="));
        assert_eq!(to_json(ValueRef::Null, Some("text"), utc), Value::Null);
    }
}
