//! Task logs in both runtimes.
//!
//! Writing: task log lines go through a channel to a writer that appends
//! them to the store in batches, and are echoed to the terminal when asked.
//! `flush` waits until all are written. Each line keeps the `tracing` span
//! it was emitted in, and is stored inside it, so a store that echoes lines
//! to Cloud Logging can name the request's trace.
//!
//! Reading: [`query_logs`] answers Kestra's `GET /api/v1/logs/{executionId}`
//! (`minLevel`, `taskId`, `taskRunId`, `attempt`) in Kestra's `LogEntry`
//! shape; the local server and the `api` function both serve it from here.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Map, Value};
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

use crate::backend::{BackendError, LogEntry, StateStore};
use crate::plugins::context::LogSink;

/// Where echoed lines go instead of the default `HH:MM:SS LEVEL [task] message`
/// on stderr: a terminal front end (`baton run`) that interleaves them with
/// its state lines. Set once per process.
pub type EchoHook = Box<dyn Fn(&LogEntry) + Send + Sync>;
static ECHO_HOOK: std::sync::OnceLock<EchoHook> = std::sync::OnceLock::new();

/// Installs the process's echo hook (the first call wins).
pub fn set_echo_hook(hook: EchoHook) {
    let _ = ECHO_HOOK.set(hook);
}

/// One echoed line in the default format.
pub fn echo_line(l: &LogEntry) -> String {
    format!(
        "{} {:<5} [{}] {}",
        l.timestamp.format("%H:%M:%S%.3f"),
        l.level,
        l.task_id.as_deref().unwrap_or("-"),
        l.message
    )
}

#[expect(clippy::large_enum_variant, reason = "nearly every message is a line; boxing it would only add an allocation")]
enum Msg {
    Line(LogEntry, tracing::Span),
    Flush(oneshot::Sender<()>),
}

/// A `LogSink` writing to the state store in the background.
#[derive(Clone)]
pub struct StoreLogSink {
    tx: mpsc::UnboundedSender<Msg>,
    /// What the lines sent and not yet stored hold in memory ([`entry_cost`]).
    backlog: Arc<AtomicUsize>,
}

impl StoreLogSink {
    /// Starts the writer. With `echo`, lines are also printed on stderr.
    pub fn start(store: Arc<dyn StateStore>, echo: bool) -> StoreLogSink {
        let (tx, mut rx) = mpsc::unbounded_channel::<Msg>();
        let backlog = Arc::new(AtomicUsize::new(0));
        let pending = backlog.clone();
        tokio::spawn(async move {
            let mut batch = Vec::new();
            let mut spans = Vec::new();
            while let Some(first) = rx.recv().await {
                let mut flushes = Vec::new();
                let mut push = |m: Msg, batch: &mut Vec<LogEntry>, spans: &mut Vec<tracing::Span>| match m {
                    Msg::Line(l, span) => {
                        batch.push(l);
                        spans.push(span);
                    }
                    Msg::Flush(done) => flushes.push(done),
                };
                push(first, &mut batch, &mut spans);
                while let Ok(m) = rx.try_recv() {
                    push(m, &mut batch, &mut spans);
                    if batch.len() >= 500 {
                        break;
                    }
                }
                if echo {
                    match ECHO_HOOK.get() {
                        Some(hook) => batch.iter().for_each(hook),
                        None => {
                            let mut err = std::io::stderr().lock();
                            for l in &batch {
                                let _ = writeln!(err, "{}", echo_line(l));
                            }
                        }
                    }
                }
                // one append per run of lines emitted in the same span
                let mut start = 0;
                while start < batch.len() {
                    let span = &spans[start];
                    let end =
                        spans[start..].iter().position(|s| s.id() != span.id()).map_or(batch.len(), |n| start + n);
                    let lines = &batch[start..end];
                    if let Err(e) = store.append_logs(lines).instrument(span.clone()).await {
                        tracing::error!(error = %e, lines = lines.len(), "cannot store log lines");
                    }
                    start = end;
                }
                let stored = batch.iter().map(entry_cost).sum::<usize>();
                pending.fetch_sub(stored, Ordering::SeqCst);
                batch.clear();
                spans.clear();
                for f in flushes {
                    let _ = f.send(());
                }
            }
        });
        StoreLogSink { tx, backlog }
    }

    /// Waits until every line emitted so far is stored.
    pub async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Msg::Flush(tx)).is_ok() {
            let _ = rx.await;
        }
    }
}

/// What a line waiting for the store holds in memory: its strings and the
/// entry itself (a one-byte line costs about 300 bytes, not one).
pub fn entry_cost(l: &LogEntry) -> usize {
    let ids = l.namespace.len()
        + l.flow_id.len()
        + l.execution_id.len()
        + l.task_id.as_ref().map_or(0, String::len)
        + l.task_run_id.as_ref().map_or(0, String::len);
    l.message.len() + ids + l.level.len() + std::mem::size_of::<Msg>() + std::mem::size_of::<tracing::Span>()
}

impl LogSink for StoreLogSink {
    fn emit(&self, entry: LogEntry) {
        let len = entry_cost(&entry);
        self.backlog.fetch_add(len, Ordering::SeqCst);
        if self.tx.send(Msg::Line(entry, tracing::Span::current())).is_err() {
            self.backlog.fetch_sub(len, Ordering::SeqCst);
        }
    }
    fn backlog_bytes(&self) -> usize {
        self.backlog.load(Ordering::SeqCst)
    }
}

/// The sink of one task's lines: `sink` itself, or, with Kestra's task
/// `logLevel`, a filter that drops the lines below it.
pub fn task_sink(sink: Arc<dyn LogSink>, log_level: Option<&str>) -> Arc<dyn LogSink> {
    match log_level.and_then(LogLevel::parse) {
        Some(min) => Arc::new(MinLevelSink { inner: sink, min }),
        None => sink,
    }
}

/// Drops log lines below `min` (a line whose level is not Kestra's passes).
struct MinLevelSink {
    inner: Arc<dyn LogSink>,
    min: LogLevel,
}

impl LogSink for MinLevelSink {
    fn emit(&self, entry: LogEntry) {
        if LogLevel::parse(&entry.level).is_none_or(|l| l >= self.min) {
            self.inner.emit(entry);
        }
    }
    fn backlog_bytes(&self) -> usize {
        self.inner.backlog_bytes()
    }
}

// ------------------------------------------------------------- reading ---

pub use crate::model::log_level::LogLevel;

/// The filters of `GET /api/v1/logs/{executionId}`, applied as Kestra's
/// `ExecutionLogService` does: `taskId` wins over `taskRunId`, and
/// `attempt` only narrows a `taskRunId`; `minLevel` always applies.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogQuery {
    pub min_level: Option<LogLevel>,
    pub task_id: Option<String>,
    pub task_run_id: Option<String>,
    pub attempt: Option<u32>,
}

/// Why logs could not be listed.
#[derive(Debug, thiserror::Error)]
pub enum LogQueryError {
    /// A query parameter that does not parse (a 400).
    #[error("{0}")]
    BadParameter(String),
    /// No such execution (a 404).
    #[error("execution {0} not found")]
    NotFound(String),
    #[error(transparent)]
    Backend(#[from] BackendError),
}

impl LogQuery {
    /// Reads the decoded query pairs; empty values count as absent and
    /// other keys are ignored (the last value of a repeated key wins).
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Result<LogQuery, LogQueryError> {
        let mut q = LogQuery::default();
        for (k, v) in pairs {
            if v.is_empty() {
                continue;
            }
            match k.as_str() {
                "minLevel" => {
                    q.min_level = Some(LogLevel::parse(&v).ok_or_else(|| {
                        LogQueryError::BadParameter(format!(
                            "minLevel '{v}' is not a log level (TRACE, DEBUG, INFO, WARN, ERROR)"
                        ))
                    })?);
                }
                "taskId" => q.task_id = Some(v),
                "taskRunId" => q.task_run_id = Some(v),
                "attempt" => {
                    q.attempt = Some(v.trim().parse().map_err(|_| {
                        LogQueryError::BadParameter(format!("attempt '{v}' is not a non-negative number"))
                    })?);
                }
                _ => {}
            }
        }
        Ok(q)
    }

    /// True when `entry` passes the filters. A stored level Baton does not
    /// know ranks as INFO.
    pub fn matches(&self, entry: &LogEntry) -> bool {
        let level = LogLevel::parse(&entry.level).unwrap_or(LogLevel::Info);
        if self.min_level.is_some_and(|min| level < min) {
            return false;
        }
        if let Some(task_id) = &self.task_id {
            return entry.task_id.as_ref() == Some(task_id);
        }
        if let Some(task_run_id) = &self.task_run_id {
            return entry.task_run_id.as_ref() == Some(task_run_id)
                && self.attempt.is_none_or(|a| entry.attempt_number == Some(a));
        }
        true
    }
}

/// The logs of execution `execution_id` that pass `query`, in order. An
/// execution with no log line at all is looked up, so that an unknown id
/// is [`LogQueryError::NotFound`] rather than an empty list.
pub async fn execution_logs(
    store: &dyn StateStore,
    execution_id: &str,
    query: &LogQuery,
) -> Result<Vec<LogEntry>, LogQueryError> {
    let logs = store.logs(execution_id).await?;
    if logs.is_empty() && store.load_execution(execution_id).await?.is_none() {
        return Err(LogQueryError::NotFound(execution_id.to_string()));
    }
    Ok(logs.into_iter().filter(|l| query.matches(l)).collect())
}

/// Kestra's `LogEntry` JSON: absent ids are left out, as Kestra's
/// serializer does, except `attemptNumber`, which Kestra always writes.
pub fn kestra_json(entry: &LogEntry) -> Value {
    let mut m = Map::new();
    m.insert("namespace".into(), entry.namespace.clone().into());
    m.insert("flowId".into(), entry.flow_id.clone().into());
    if let Some(t) = &entry.task_id {
        m.insert("taskId".into(), t.clone().into());
    }
    m.insert("executionId".into(), entry.execution_id.clone().into());
    if let Some(t) = &entry.task_run_id {
        m.insert("taskRunId".into(), t.clone().into());
    }
    m.insert("attemptNumber".into(), entry.attempt_number.map_or(Value::Null, Value::from));
    m.insert("timestamp".into(), serde_json::to_value(entry.timestamp).unwrap_or(Value::Null));
    m.insert("level".into(), entry.level.clone().into());
    m.insert("message".into(), entry.message.clone().into());
    Value::Object(m)
}

/// `GET /api/v1/logs/{executionId}` with its decoded query pairs: a JSON
/// array of Kestra `LogEntry` objects. Each HTTP API maps the error to its
/// status (400, 404, or its backend-failure status).
pub async fn query_logs(
    store: &dyn StateStore,
    execution_id: &str,
    pairs: impl IntoIterator<Item = (String, String)>,
) -> Result<Value, LogQueryError> {
    let query = LogQuery::from_pairs(pairs)?;
    let logs = execution_logs(store, execution_id, &query).await?;
    Ok(Value::Array(logs.iter().map(kestra_json).collect()))
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use serde_json::json;

    use super::*;
    use crate::backend::local::SqliteStore;

    fn line(task: Option<&str>, run: Option<&str>, attempt: Option<u32>, level: &str, message: &str) -> LogEntry {
        LogEntry {
            namespace: "company.team".into(),
            flow_id: "f".into(),
            execution_id: "e1".into(),
            task_id: task.map(str::to_string),
            task_run_id: run.map(str::to_string),
            attempt_number: attempt,
            timestamp: Utc.with_ymd_and_hms(2024, 5, 6, 7, 8, 9).single().expect("date"),
            level: level.into(),
            message: message.into(),
        }
    }

    fn pairs(q: &[(&str, &str)]) -> Vec<(String, String)> {
        q.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn a_task_log_level_drops_the_lines_below_it() {
        struct Keep(std::sync::Mutex<Vec<String>>);
        impl LogSink for Keep {
            fn emit(&self, e: LogEntry) {
                self.0.lock().expect("lock").push(e.message);
            }
        }
        let keep = Arc::new(Keep(std::sync::Mutex::new(Vec::new())));
        let sink = task_sink(keep.clone(), Some("info"));
        for (level, msg) in [("TRACE", "t"), ("DEBUG", "d"), ("INFO", "i"), ("WARN", "w"), ("ERROR", "e")] {
            sink.emit(line(Some("a"), Some("tr"), Some(1), level, msg));
        }
        assert_eq!(*keep.0.lock().expect("lock"), ["i", "w", "e"]);
        let all = task_sink(keep.clone(), None);
        all.emit(line(None, None, None, "TRACE", "kept"));
        assert_eq!(keep.0.lock().expect("lock").last().map(String::as_str), Some("kept"));
    }

    #[test]
    fn filters_follow_kestra() {
        let logs = [
            line(Some("a"), Some("tr-a"), Some(1), "DEBUG", "a debug"),
            line(Some("a"), Some("tr-a"), Some(1), "INFO", "a info"),
            line(Some("a"), Some("tr-a"), Some(2), "WARN", "a retry"),
            line(Some("b"), Some("tr-b"), Some(1), "ERROR", "b error"),
            line(None, None, None, "WARN", "executor"),
        ];
        let run = |q: &[(&str, &str)]| -> Vec<String> {
            let q = LogQuery::from_pairs(pairs(q)).expect("query");
            logs.iter().filter(|l| q.matches(l)).map(|l| l.message.clone()).collect()
        };
        assert_eq!(run(&[]).len(), 5);
        assert_eq!(run(&[("minLevel", "warn")]), ["a retry", "b error", "executor"]);
        assert_eq!(run(&[("minLevel", "INFO"), ("taskId", "a")]), ["a info", "a retry"]);
        assert_eq!(run(&[("taskRunId", "tr-a"), ("attempt", "2")]), ["a retry"]);
        // taskId wins over taskRunId; attempt alone filters nothing
        assert_eq!(run(&[("taskId", "b"), ("taskRunId", "tr-a")]), ["b error"]);
        assert_eq!(run(&[("attempt", "2")]).len(), 5);
        assert_eq!(run(&[("minLevel", ""), ("other", "x")]).len(), 5);
        for bad in [("minLevel", "LOUD"), ("attempt", "first")] {
            let e = LogQuery::from_pairs(pairs(&[bad])).expect_err("rejected");
            assert!(matches!(e, LogQueryError::BadParameter(ref m) if m.contains(bad.1)), "{e}");
        }
    }

    #[test]
    fn entries_have_kestras_shape() {
        let v = kestra_json(&line(Some("a"), Some("tr-a"), Some(1), "INFO", "hello"));
        assert_eq!(
            v,
            json!({"namespace": "company.team", "flowId": "f", "taskId": "a", "executionId": "e1",
                "taskRunId": "tr-a", "attemptNumber": 1, "timestamp": "2024-05-06T07:08:09Z",
                "level": "INFO", "message": "hello"})
        );
        let v = kestra_json(&line(None, None, None, "WARN", "executor"));
        assert_eq!(v["attemptNumber"], Value::Null);
        assert!(v.get("taskId").is_none() && v.get("taskRunId").is_none(), "{v}");
    }

    #[tokio::test]
    async fn an_unknown_execution_is_not_found() {
        let store = SqliteStore::open_in_memory().expect("store");
        store.append_logs(&[line(Some("a"), Some("tr-a"), Some(1), "INFO", "hello")]).await.expect("append");
        let got = query_logs(&store, "e1", pairs(&[("taskId", "a")])).await.expect("logs");
        assert_eq!(got.as_array().map(Vec::len), Some(1));
        let e = query_logs(&store, "nope", Vec::new()).await.expect_err("unknown");
        assert!(matches!(e, LogQueryError::NotFound(ref id) if id == "nope"), "{e}");
    }
}
