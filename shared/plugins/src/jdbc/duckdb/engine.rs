//! The blocking side of a DuckDB task (run on `spawn_blocking`): opens the
//! database, runs the statements one at a time (so an error names the
//! statement), and sends result rows to the async side through a bounded
//! channel, so STORE never holds more than the channel's worth of rows.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono_tz::Tz;
use duckdb::arrow::datatypes::DataType;
use duckdb::types::Value as Db;
use duckdb::{Connection, InterruptHandle, params_from_iter};
use serde_json::{Map, Value};
use tokio::sync::mpsc::Sender;

use super::value::{Shape, to_json};
use crate::TaskError;
use crate::jdbc::fetch::{FetchType, Row};
use crate::jdbc::split::bind_named;

/// What the blocking side tells the async side.
pub enum Msg {
    /// The connection is open; the stopper stops the job.
    Ready(Stopper),
    /// A log line (level, message).
    Log(&'static str, String),
    /// A result the task outputs starts.
    Begin,
    Row(Row),
    /// The result ended.
    End,
}

/// Everything the blocking side needs (owned: it outlives no borrow).
pub struct Job {
    /// `None`: an in-memory database.
    pub db_path: Option<PathBuf>,
    pub working_dir: PathBuf,
    pub statements: Vec<String>,
    pub after_sql: Vec<String>,
    pub parameters: Map<String, Value>,
    pub fetch: FetchType,
    /// Every result is output (`Queries`), not only the last (`Query`).
    pub multi: bool,
    pub transaction: bool,
    pub extensions: Vec<String>,
    pub time_zone: Option<Tz>,
}

/// Stops a running job: interrupts DuckDB until the job's thread is done
/// (an interrupt that lands between two statements is lost, so once is not
/// enough), from a thread of its own.
pub struct Stopper {
    handle: Arc<InterruptHandle>,
    done: Arc<AtomicBool>,
}

impl Stopper {
    pub fn stop(self) {
        std::thread::spawn(move || {
            let give_up = Instant::now() + Duration::from_secs(600);
            while !self.done.load(Ordering::Acquire) && Instant::now() < give_up {
                self.handle.interrupt();
                std::thread::sleep(Duration::from_millis(10));
            }
        });
    }
}

/// Marks the job done when its thread leaves [`run`], however it leaves.
struct Done(Arc<AtomicBool>);

impl Drop for Done {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

/// The receiver went away (the task was cancelled or failed on its side).
struct Gone;

fn send(tx: &Sender<Msg>, msg: Msg) -> Result<(), Gone> {
    tx.blocking_send(msg).map_err(|_| Gone)
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Runs the job; the error is for humans (DuckDB's message and the statement).
pub fn run(job: Job, tx: Sender<Msg>) -> Result<(), TaskError> {
    let done = Done(Arc::new(AtomicBool::new(false)));
    let conn = match &job.db_path {
        Some(p) => Connection::open(p),
        None => Connection::open_in_memory(),
    }
    .map_err(|e| {
        let what = job.db_path.as_ref().map_or("an in-memory DuckDB database".to_string(), |p| p.display().to_string());
        TaskError::failed(format!("cannot open DuckDB database {what}: {e}"))
    })?;
    let stopper = Stopper { handle: conn.interrupt_handle(), done: done.0.clone() };
    if send(&tx, Msg::Ready(stopper)).is_err() {
        return Err(cancelled());
    }
    let dir = job.working_dir.display().to_string();
    let tmp = job.working_dir.join(".duckdb_tmp").display().to_string();
    conn.execute_batch(&format!("SET file_search_path = {}; SET temp_directory = {};", quote(&dir), quote(&tmp)))
        .map_err(|e| TaskError::failed(format!("cannot set up the DuckDB session: {e}")))?;
    for ext in &job.extensions {
        let loaded = conn
            .execute_batch(&format!("LOAD {ext};"))
            .or_else(|_| conn.execute_batch(&format!("INSTALL {ext} FROM community; LOAD {ext};")));
        if let Err(e) = loaded {
            let msg = format!(
                "DuckDB community extension '{ext}' could not be installed or loaded, continuing without it: {e}"
            );
            send(&tx, Msg::Log("WARN", msg)).map_err(|_| cancelled())?;
        }
    }

    if job.transaction {
        conn.execute_batch("BEGIN TRANSACTION;")
            .map_err(|e| TaskError::failed(format!("cannot begin a DuckDB transaction: {e}")))?;
    }
    let outcome = run_statements(&conn, &job, &tx);
    if job.transaction {
        let end = if outcome.is_ok() { "COMMIT;" } else { "ROLLBACK;" };
        let ended = conn.execute_batch(end);
        if let (Ok(()), Err(e)) = (&outcome, ended) {
            return Err(TaskError::failed(format!("DuckDB could not commit the transaction: {e}")));
        }
    }
    outcome?;
    // Closing checkpoints a file database; report a failure rather than lose data quietly.
    conn.close().map_err(|(_, e)| TaskError::failed(format!("cannot close the DuckDB database: {e}")))
}

fn cancelled() -> TaskError {
    TaskError::failed("the DuckDB query was cancelled")
}

fn run_statements(conn: &Connection, job: &Job, tx: &Sender<Msg>) -> Result<(), TaskError> {
    let rows: Vec<bool> = job.statements.iter().map(|s| returns_rows(s)).collect();
    let last = rows.iter().rposition(|r| *r);
    let n = job.statements.len();
    for (i, sql) in job.statements.iter().enumerate() {
        // the task is gone (timeout, kill): an interrupt between statements is lost
        if tx.is_closed() {
            return Err(cancelled());
        }
        let fetch = rows[i] && (job.multi || Some(i) == last);
        run_one(conn, sql, job, fetch.then_some(tx)).map_err(|e| match e {
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

enum StmtError {
    Db(duckdb::Error),
    Gone,
}

impl From<duckdb::Error> for StmtError {
    fn from(e: duckdb::Error) -> Self {
        StmtError::Db(e)
    }
}

impl From<Gone> for StmtError {
    fn from(_: Gone) -> Self {
        StmtError::Gone
    }
}

/// Runs one statement; with `out`, sends its rows (as many as the fetch
/// type wants).
fn run_one(conn: &Connection, sql: &str, job: &Job, out: Option<&Sender<Msg>>) -> Result<(), StmtError> {
    let known: Vec<&str> = job.parameters.keys().map(String::as_str).collect();
    let (sql, names) =
        if known.is_empty() { (sql.to_string(), Vec::new()) } else { bind_named(sql, &known, |n| format!("${n}")) };
    let params: Vec<Db> = names.iter().map(|n| to_db(job.parameters.get(n).unwrap_or(&Value::Null))).collect();
    if let Some(ext) = install_target(&sql)
        && already_loaded(conn, &ext)?
    {
        // `INSTALL json` of an extension built into the library would go to
        // the network (and fail offline) for nothing: Kestra's flows do it.
        return Ok(());
    }
    let mut stmt = conn.prepare(&sql)?;
    let Some(tx) = out else {
        stmt.execute(params_from_iter(params))?;
        return Ok(());
    };
    let mut rows = stmt.query(params_from_iter(params))?;
    let (columns, shapes): (Vec<String>, Vec<Shape>) = match rows.as_ref() {
        Some(s) => (0..s.column_count())
            .map(|i| {
                let name = s.column_name(i).cloned().unwrap_or_else(|_| format!("column{i}"));
                (name, Shape { zoned: matches!(s.column_type(i), DataType::Timestamp(_, Some(_))) })
            })
            .unzip(),
        None => (Vec::new(), Vec::new()),
    };
    send(tx, Msg::Begin)?;
    let mut left: u64 = match job.fetch {
        FetchType::None => 0,
        FetchType::FetchOne => 1,
        FetchType::Fetch | FetchType::Store => u64::MAX,
    };
    while left > 0 {
        let Some(row) = rows.next()? else { break };
        let mut r = Row::new();
        for (i, name) in columns.iter().enumerate() {
            let v = row.get_ref(i)?;
            r.insert(name.clone(), to_json(v, shapes[i], job.time_zone));
        }
        send(tx, Msg::Row(r))?;
        left -= 1;
    }
    send(tx, Msg::End)?;
    Ok(())
}

/// `x` for a plain `INSTALL x` (not `FORCE`, no `FROM` repository).
fn install_target(sql: &str) -> Option<String> {
    let mut words = sql.split_whitespace();
    let (first, name) = (words.next()?, words.next()?);
    if !first.eq_ignore_ascii_case("INSTALL") || words.next().is_some() {
        return None;
    }
    let name = name.trim_matches(|c| c == '\'' || c == '"').to_ascii_lowercase();
    (!name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')).then_some(name)
}

fn already_loaded(conn: &Connection, ext: &str) -> duckdb::Result<bool> {
    let sql = "SELECT count(*) FROM duckdb_extensions() WHERE extension_name = ? AND loaded";
    conn.query_row(sql, [ext], |r| r.get::<_, i64>(0)).map(|n| n > 0)
}

/// A parameter value as DuckDB binds it.
fn to_db(v: &Value) -> Db {
    match v {
        Value::Null => Db::Null,
        Value::Bool(b) => Db::Boolean(*b),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => Db::BigInt(i),
            (None, Some(u), _) => Db::UBigInt(u),
            (_, _, Some(f)) => Db::Double(f),
            _ => Db::Text(n.to_string()),
        },
        Value::String(s) => Db::Text(s.clone()),
        other => Db::Text(other.to_string()),
    }
}

/// DuckDB's message, then which statement failed.
fn statement_error(i: usize, n: usize, sql: &str, e: &duckdb::Error) -> TaskError {
    const MAX: usize = 600;
    let shown = if sql.chars().count() > MAX {
        format!("{}…", sql.chars().take(MAX).collect::<String>())
    } else {
        sql.to_string()
    };
    let msg = e.to_string();
    if n == 1 {
        TaskError::failed(format!("{msg}\nin SQL: {shown}"))
    } else {
        TaskError::failed(format!("{msg}\nin statement {} of {n}: {shown}", i + 1))
    }
}

/// The statement's first keyword, upper-cased, past comments and `(`.
fn first_keyword(sql: &str) -> String {
    let mut s = sql;
    loop {
        s = s.trim_start_matches(|c: char| c.is_whitespace() || c == '(');
        if let Some(rest) = s.strip_prefix("--") {
            s = rest.split_once('\n').map_or("", |(_, r)| r);
        } else if let Some(rest) = s.strip_prefix("/*") {
            s = rest.split_once("*/").map_or("", |(_, r)| r);
        } else {
            break;
        }
    }
    s.chars().take_while(|c| c.is_ascii_alphabetic() || *c == '_').collect::<String>().to_ascii_uppercase()
}

/// Whether a statement produces a result set (as JDBC's `execute()` says),
/// rather than a count or nothing.
fn returns_rows(sql: &str) -> bool {
    const QUERIES: [&str; 13] = [
        "SELECT",
        "WITH",
        "FROM",
        "VALUES",
        "TABLE",
        "SHOW",
        "DESCRIBE",
        "DESC",
        "SUMMARIZE",
        "EXPLAIN",
        "PIVOT",
        "UNPIVOT",
        "CALL",
    ];
    let kw = first_keyword(sql);
    if QUERIES.contains(&kw.as_str()) {
        return true;
    }
    matches!(kw.as_str(), "INSERT" | "UPDATE" | "DELETE" | "MERGE")
        && sql.to_ascii_uppercase().split(|c: char| !c.is_ascii_alphanumeric() && c != '_').any(|w| w == "RETURNING")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_statements() {
        assert!(returns_rows("SELECT 1"));
        assert!(returns_rows("-- hi\n/* x */ ( select 1 ) UNION (select 2)"));
        assert!(returns_rows("with t as (select 1) select * from t"));
        assert!(returns_rows("FROM 'x.csv'"));
        assert!(returns_rows("INSERT INTO t VALUES (1) RETURNING id"));
        assert!(!returns_rows("INSERT INTO t SELECT 1"));
        assert!(!returns_rows("CREATE TABLE t AS SELECT 1"));
        assert!(!returns_rows("COPY t TO 'x.parquet' (FORMAT parquet)"));
        assert!(!returns_rows("INSTALL json"));
        assert!(!returns_rows("SET threads = 1"));
    }

    fn job(sql: &str, fetch: FetchType) -> Job {
        Job {
            db_path: None,
            working_dir: std::env::temp_dir(),
            statements: crate::jdbc::split::split_statements(sql),
            after_sql: Vec::new(),
            parameters: Map::new(),
            fetch,
            multi: false,
            transaction: false,
            extensions: Vec::new(),
            time_zone: None,
        }
    }

    #[test]
    fn an_interrupt_stops_a_running_statement() {
        let (tx, mut rx) = tokio::sync::mpsc::channel(8);
        let sql = "SELECT sum(hash(a.range + b.range)) FROM range(100000000) a, range(1000000) b";
        let worker = std::thread::spawn(move || run(job(sql, FetchType::FetchOne), tx));
        let Some(Msg::Ready(stopper)) = rx.blocking_recv() else { panic!("the connection opens first") };
        stopper.stop();
        let e = worker.join().unwrap().unwrap_err().to_string();
        assert!(e.contains("INTERRUPT"), "{e}");
    }

    #[test]
    fn fetch_one_sends_one_row_and_query_fetches_only_the_last_result() {
        let (tx, mut rx) = tokio::sync::mpsc::channel(64);
        let sql = "SELECT 1 AS a; SELECT range AS b FROM range(5); CREATE TABLE t (x INT)";
        let worker = std::thread::spawn(move || run(job(sql, FetchType::FetchOne), tx));
        let mut seen = Vec::new();
        while let Some(m) = rx.blocking_recv() {
            match m {
                Msg::Begin => seen.push("begin".to_string()),
                Msg::Row(r) => seen.push(Value::Object(r).to_string()),
                Msg::End => seen.push("end".to_string()),
                Msg::Ready(_) | Msg::Log(..) => {}
            }
        }
        worker.join().unwrap().unwrap();
        assert_eq!(seen, ["begin", r#"{"b":0}"#, "end"]);
    }

    #[test]
    fn plain_installs() {
        assert_eq!(install_target("INSTALL json"), Some("json".to_string()));
        assert_eq!(install_target("install 'Parquet'"), Some("parquet".to_string()));
        assert_eq!(install_target("INSTALL httpfs FROM core_nightly"), None);
        assert_eq!(install_target("FORCE INSTALL json"), None);
        assert_eq!(install_target("SELECT 1"), None);
    }

    #[test]
    fn built_in_extensions_are_not_installed_again() {
        let conn = Connection::open_in_memory().unwrap();
        assert!(already_loaded(&conn, "json").unwrap(), "json is built into the library");
        assert!(already_loaded(&conn, "parquet").unwrap());
        assert!(!already_loaded(&conn, "spatial").unwrap());
    }
}
