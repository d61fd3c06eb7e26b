//! One task attempt's log lines on their way to the store, under the
//! log volume bounds (`log_bounds`).
//!
//! An attempt stores at most [`LogBounds::task_lines`] lines and
//! [`LogBounds::task_bytes`] bytes of messages with the execution's logs,
//! and only while its execution is under its own line and byte bounds. The
//! lines past the first bound reached — and every line of a task with
//! Kestra's `logToFile: true` — go to a text file in internal storage at
//! `{execution}/tasks/{task}/{taskRunId}/log-{5 chars}.txt` (where Kestra's
//! `RunContext.logFileURI` puts it), one line per entry as the logs
//! download writes them (`{timestamp} {LEVEL} [{task}] {message}`). The
//! file is streamed to storage as the lines come (never held whole): its
//! pending bytes count in [`LogSink::backlog_bytes`], so a script printing
//! without end waits on its pipe while the upload catches up. When a bound
//! is reached, one stored WARN names it and the file at once, and another
//! at the end says how many lines and bytes the file holds; the attempt
//! records the file as its `logFile` (Kestra's `TaskRunAttempt.logFile`).
//! The file itself stops at [`LogBounds::file_bytes`], and every file of
//! the execution at [`LogBounds::execution_file_bytes`] together: the
//! lines past the first reached are dropped (all of them, so the file is
//! what the task printed up to there), counted, and the closing WARN says
//! how many and names the bound.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use chrono::Utc;
use tokio::io::{AsyncRead, ReadBuf};
use tokio::task::JoinHandle;

use super::log_bounds::{ExecutionVolume, FileFull, LogBounds, Reached};
use crate::backend::{BackendError, LogEntry, Storage};
use crate::plugins::context::{LogSink, execution_prefix};

pub use super::log_bounds::MAX_TASK_LOG_BYTES;

/// The sink of one attempt: the store up to the bounds, then the log file.
pub struct AttemptLogs {
    inner: Arc<dyn LogSink>,
    storage: Arc<dyn Storage>,
    /// The storage path of the log file (`/ns/flow/executions/…/log-x.txt`).
    path: String,
    /// Kestra's `logToFile`: every line goes to the file.
    to_file: bool,
    bounds: LogBounds,
    execution: Arc<ExecutionVolume>,
    state: Mutex<Spill>,
}

/// The file's pipe and the task streaming it to storage.
type Upload = (Arc<Pipe>, JoinHandle<Result<u64, BackendError>>);

#[derive(Default)]
struct Spill {
    /// Lines and bytes of messages stored.
    stored_lines: u64,
    stored: u64,
    /// The bound that sent the lines to the file.
    reached: Option<Reached>,
    /// Lines and bytes of messages in the file.
    lines: u64,
    bytes: u64,
    /// Bytes of text written to the file.
    file_bytes: u64,
    /// The bound that stopped the file, and the lines and bytes of
    /// messages past it, dropped.
    full: Option<FileFull>,
    dropped_lines: u64,
    dropped_bytes: u64,
    upload: Option<Upload>,
    /// The last entry seen, for the closing WARN's identity.
    last: Option<LogEntry>,
}

/// The storage path of an attempt's log file.
pub fn log_file_path(namespace: &str, flow_id: &str, execution_id: &str, task_id: &str, task_run_id: &str) -> String {
    let suffix: String = uuid::Uuid::new_v4().simple().to_string().chars().take(5).collect();
    format!(
        "{}/tasks/{}/{task_run_id}/log-{suffix}.txt",
        execution_prefix(namespace, flow_id, execution_id),
        crate::model::ids::slugify(task_id)
    )
}

/// One log line as the file and the logs download write it.
pub fn text_line(l: &LogEntry) -> String {
    let task = l.task_id.as_deref().map(|t| format!(" [{t}]")).unwrap_or_default();
    format!("{} {}{task} {}\n", l.timestamp.to_rfc3339(), l.level, l.message)
}

impl AttemptLogs {
    /// The sink of an attempt under `bounds`, counting against its
    /// execution's `execution` counters.
    pub fn new(
        inner: Arc<dyn LogSink>,
        storage: Arc<dyn Storage>,
        path: String,
        to_file: bool,
        bounds: LogBounds,
        execution: Arc<ExecutionVolume>,
    ) -> AttemptLogs {
        AttemptLogs { inner, storage, path, to_file, bounds, execution, state: Mutex::new(Spill::default()) }
    }

    fn uri(&self) -> String {
        format!("kestra://{}", self.path)
    }

    /// Stores a notice naming a bound (counted in the execution's volume,
    /// never refused: a reader must learn where the lines went).
    fn notice(&self, like: &LogEntry, level: &str, message: String) {
        let mut l = like.clone();
        l.level = level.into();
        l.timestamp = Utc::now();
        self.execution.add(message.len() as u64);
        l.message = message;
        self.inner.emit(l);
    }

    /// Ends the file: waits until it is written and returns its
    /// `kestra://` URI, `None` when no line went to it. A failed write is
    /// logged (stored) and gives `None`.
    pub async fn finish(&self) -> Option<String> {
        let (upload, last, counts) = {
            let mut s = self.state.lock().ok()?;
            let counts = (s.lines, s.bytes, s.dropped_lines, s.dropped_bytes, s.reached, s.full);
            (s.upload.take(), s.last.take(), counts)
        };
        let (lines, bytes, dropped_lines, dropped_bytes, reached, full) = counts;
        let Some((pipe, handle)) = upload else {
            // the execution's files were full before this attempt wrote a line
            if let (Some(full), Some(last)) = (full.filter(|_| dropped_lines > 0), last) {
                self.notice(
                    &last,
                    "WARN",
                    format!(
                        "{dropped_lines} lines ({dropped_bytes} bytes) {} were dropped, none written: {} was reached",
                        self.spilled_past(reached),
                        full.describe(&self.bounds)
                    ),
                );
            }
            return None;
        };
        pipe.close();
        let written = match handle.await {
            Ok(r) => r,
            Err(e) => Err(BackendError::Invalid(format!("the upload stopped: {e}"))),
        };
        let dropped = match full {
            Some(full) if dropped_lines > 0 => format!(
                "; {dropped_lines} more lines ({dropped_bytes} bytes) past {} were dropped",
                full.describe(&self.bounds)
            ),
            _ => String::new(),
        };
        let last = last?;
        match written {
            Ok(_) if self.to_file => {
                if dropped_lines > 0 {
                    self.notice(&last, "WARN", format!("the attempt's log file {}{dropped}", self.uri()));
                }
                Some(self.uri())
            }
            Ok(_) => {
                let bound = reached.map(|r| r.describe(&self.bounds)).unwrap_or_default();
                self.notice(
                    &last,
                    "WARN",
                    format!(
                        "{lines} lines ({bytes} bytes) past {bound} are in the attempt's log file {}{dropped}",
                        self.uri()
                    ),
                );
                Some(self.uri())
            }
            Err(e) => {
                self.notice(
                    &last,
                    "ERROR",
                    format!("{lines} lines ({bytes} bytes) of logs were lost: cannot write {}: {e}", self.uri()),
                );
                None
            }
        }
    }

    /// Which of the attempt's lines go to its file: those past the bound
    /// reached, or all of them with `logToFile`.
    fn spilled_past(&self, reached: Option<Reached>) -> String {
        match reached {
            Some(r) => format!("past {}", r.describe(&self.bounds)),
            None => "(all of them, with `logToFile`)".into(),
        }
    }

    /// Appends `entry` to the file, starting its upload on the first line;
    /// past the file's bound the line is dropped and counted.
    fn spill(&self, s: &mut Spill, entry: &LogEntry) {
        s.last = Some(entry.clone());
        let line = text_line(entry);
        let len = line.len() as u64;
        if s.full.is_none() {
            if s.file_bytes + len > self.bounds.file_bytes {
                s.full = Some(FileFull::Task);
            } else if !self.execution.take_file(len, &self.bounds) {
                s.full = Some(FileFull::Execution);
            }
            if let Some(full) = s.full {
                let message = if s.upload.is_some() {
                    format!("the attempt's log file {} reached {}", self.uri(), full.describe(&self.bounds))
                } else {
                    format!("{} was reached before this attempt wrote its log file", full.describe(&self.bounds))
                };
                self.notice(entry, "WARN", format!("{message}: the task's next lines are dropped"));
            }
        }
        if s.full.is_some() {
            s.dropped_lines += 1;
            s.dropped_bytes += entry.message.len() as u64;
            return;
        }
        s.lines += 1;
        s.bytes += entry.message.len() as u64;
        s.file_bytes += len;
        if s.upload.is_none() {
            let Ok(rt) = tokio::runtime::Handle::try_current() else { return };
            if let Some(reached) = s.reached.filter(|_| !self.to_file) {
                self.notice(
                    entry,
                    "WARN",
                    format!(
                        "{} was reached: the task's next lines go to {}",
                        reached.describe(&self.bounds),
                        self.uri()
                    ),
                );
            }
            let pipe = Arc::new(Pipe::default());
            let (storage, path, reader) = (self.storage.clone(), self.path.clone(), PipeReader(pipe.clone()));
            let handle = rt.spawn(async move { storage.put(&path, Box::pin(reader)).await });
            s.upload = Some((pipe, handle));
        }
        if let Some((pipe, _)) = &s.upload {
            pipe.push(line.as_bytes());
        }
    }

    /// Whether one more line of `len` bytes may be stored; counts it if so.
    fn admit(&self, s: &mut Spill, len: u64) -> bool {
        if self.to_file || s.reached.is_some() {
            return false;
        }
        let reached = if s.stored_lines >= self.bounds.task_lines {
            Err(Reached::TaskLines)
        } else if s.stored + len > self.bounds.task_bytes {
            Err(Reached::TaskBytes)
        } else {
            self.execution.take(len, &self.bounds)
        };
        match reached {
            Ok(()) => {
                s.stored_lines += 1;
                s.stored += len;
                true
            }
            Err(r) => {
                s.reached = Some(r);
                false
            }
        }
    }
}

impl LogSink for AttemptLogs {
    fn emit(&self, entry: LogEntry) {
        let Ok(mut s) = self.state.lock() else { return };
        if self.admit(&mut s, entry.message.len() as u64) {
            drop(s);
            self.inner.emit(entry);
        } else {
            self.spill(&mut s, &entry);
        }
    }

    fn backlog_bytes(&self) -> usize {
        let pending = self.state.lock().ok().and_then(|s| s.upload.as_ref().map(|(p, _)| p.pending())).unwrap_or(0);
        self.inner.backlog_bytes() + pending
    }
}

impl Drop for AttemptLogs {
    /// An attempt dropped before `finish` (its process stopping) still ends
    /// its file: the upload reads to the end of what was written.
    fn drop(&mut self) {
        if let Ok(s) = self.state.get_mut()
            && let Some((pipe, _)) = &s.upload
        {
            pipe.close();
        }
    }
}

/// Bytes on their way to storage: written by a synchronous sink, read by
/// the upload as an `AsyncRead` that ends when the pipe is closed.
#[derive(Default)]
struct Pipe {
    state: Mutex<PipeState>,
}

#[derive(Default)]
struct PipeState {
    buf: Vec<u8>,
    /// Read position in `buf`.
    at: usize,
    closed: bool,
    waker: Option<Waker>,
}

impl Pipe {
    fn push(&self, bytes: &[u8]) {
        if let Ok(mut s) = self.state.lock() {
            s.buf.extend_from_slice(bytes);
            if let Some(w) = s.waker.take() {
                w.wake();
            }
        }
    }

    fn close(&self) {
        if let Ok(mut s) = self.state.lock() {
            s.closed = true;
            if let Some(w) = s.waker.take() {
                w.wake();
            }
        }
    }

    fn pending(&self) -> usize {
        self.state.lock().map(|s| s.buf.len() - s.at).unwrap_or(0)
    }
}

struct PipeReader(Arc<Pipe>);

impl AsyncRead for PipeReader {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, out: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let Ok(mut s) = self.0.state.lock() else {
            return Poll::Ready(Err(std::io::Error::other("the log pipe's lock is poisoned")));
        };
        let available = s.buf.len() - s.at;
        if available == 0 {
            if s.closed {
                return Poll::Ready(Ok(()));
            }
            s.waker = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let n = available.min(out.remaining());
        let at = s.at;
        out.put_slice(&s.buf[at..at + n]);
        s.at += n;
        if s.at == s.buf.len() {
            s.buf.clear();
            s.at = 0;
        } else if s.at > 1024 * 1024 {
            // keep the buffer from growing with what was already read
            s.buf.drain(..at + n);
            s.at = 0;
        }
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncReadExt;

    use super::*;
    use crate::backend::memory::MemoryStorage;

    #[derive(Default)]
    struct Keep(Mutex<Vec<LogEntry>>);
    impl LogSink for Keep {
        fn emit(&self, e: LogEntry) {
            if let Ok(mut v) = self.0.lock() {
                v.push(e);
            }
        }
    }

    fn line(message: &str) -> LogEntry {
        LogEntry {
            namespace: "n".into(),
            flow_id: "f".into(),
            execution_id: "e".into(),
            task_id: Some("t".into()),
            task_run_id: Some("tr".into()),
            attempt_number: Some(1),
            timestamp: Utc::now(),
            level: "INFO".into(),
            message: message.into(),
        }
    }

    fn sink(keep: &Arc<Keep>, storage: &Arc<MemoryStorage>, to_file: bool, bounds: LogBounds) -> AttemptLogs {
        let path = log_file_path("n", "f", "e", "t", "tr");
        AttemptLogs::new(keep.clone(), storage.clone(), path, to_file, bounds, Default::default())
    }

    fn stored(keep: &Keep) -> Vec<String> {
        keep.0.lock().expect("lock").iter().map(|l| l.message.clone()).collect()
    }

    async fn read(storage: &MemoryStorage, uri: &str) -> String {
        let mut s = String::new();
        let path = uri.strip_prefix("kestra://").unwrap_or(uri);
        storage.get(path).await.expect("file").read_to_string(&mut s).await.expect("read");
        s
    }

    #[tokio::test]
    async fn lines_past_the_bound_go_to_the_file_named_in_the_stored_logs() {
        let keep = Arc::new(Keep::default());
        let storage = Arc::new(MemoryStorage::default());
        let path = log_file_path("n", "f", "e", "t", "tr");
        assert!(path.starts_with("/n/f/executions/e/tasks/t/tr/log-") && path.ends_with(".txt"), "{path}");
        let bounds = LogBounds { task_bytes: 10, ..LogBounds::default() };
        let logs = AttemptLogs::new(keep.clone(), storage.clone(), path, false, bounds, Default::default());
        for m in ["12345", "67890", "x", "yy", "zzz"] {
            logs.emit(line(m));
        }
        let uri = logs.finish().await.expect("a file");
        let stored: Vec<String> = keep.0.lock().expect("lock").iter().map(|l| l.message.clone()).collect();
        assert_eq!(stored[..2], ["12345", "67890"]);
        assert!(stored[2].contains("MAX_TASK_LOG_BYTES") && stored[2].contains(&uri), "{stored:?}");
        assert!(stored[3].contains("3 lines (6 bytes)") && stored[3].contains(&uri), "{stored:?}");
        assert_eq!(stored.len(), 4);
        let text = read(&storage, &uri).await;
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[0].ends_with(" INFO [t] x") && lines[2].ends_with(" [t] zzz"), "{text}");
    }

    #[tokio::test]
    async fn log_to_file_keeps_every_line_in_the_file_and_none_in_the_store() {
        let keep = Arc::new(Keep::default());
        let storage = Arc::new(MemoryStorage::default());
        let logs = sink(&keep, &storage, true, LogBounds::default());
        logs.emit(line("Hello World!"));
        let uri = logs.finish().await.expect("a file");
        assert!(keep.0.lock().expect("lock").is_empty());
        let text = read(&storage, &uri).await;
        assert!(text.contains("INFO") && text.contains("Hello World!") && text.lines().count() == 1, "{text}");
    }

    #[tokio::test]
    async fn the_line_bound_counts_short_lines_and_the_file_drops_past_its_own() {
        let keep = Arc::new(Keep::default());
        let storage = Arc::new(MemoryStorage::default());
        // one text line of the file is about 45 bytes: room for two
        let bounds = LogBounds { task_lines: 3, file_bytes: 100, ..LogBounds::default() };
        let logs = sink(&keep, &storage, false, bounds);
        for _ in 0..10 {
            logs.emit(line("y"));
        }
        let uri = logs.finish().await.expect("a file");
        let stored = stored(&keep);
        assert_eq!(stored[..3], ["y", "y", "y"]);
        assert!(
            stored[3].contains("MAX_TASK_LOG_LINES, 3 lines; BATON_MAX_TASK_LOG_LINES") && stored[3].contains(&uri)
        );
        assert!(stored[4].contains("MAX_TASK_LOG_FILE_BYTES, 100 bytes"), "{stored:?}");
        let end = &stored[5];
        assert!(end.contains("2 lines (2 bytes) past the task's log line bound"), "{end}");
        assert!(end.contains("5 more lines (5 bytes) past the log file's bound"), "{end}");
        assert_eq!(stored.len(), 6);
        assert_eq!(read(&storage, &uri).await.lines().count(), 2);
    }

    #[tokio::test]
    async fn attempts_share_their_executions_bounds() {
        let keep = Arc::new(Keep::default());
        let storage = Arc::new(MemoryStorage::default());
        let bounds = LogBounds { execution_lines: 4, ..LogBounds::default() };
        let execution = Arc::new(ExecutionVolume::default());
        let attempt = |n: &str| {
            let path = log_file_path("n", "f", "e", "t", n);
            AttemptLogs::new(keep.clone(), storage.clone(), path, false, bounds, execution.clone())
        };
        let (first, second) = (attempt("a"), attempt("b"));
        for _ in 0..3 {
            first.emit(line("a"));
            second.emit(line("b"));
        }
        assert!(first.finish().await.is_some() && second.finish().await.is_some());
        let stored = stored(&keep);
        assert_eq!(stored.iter().filter(|m| m.len() == 1).count(), 4, "{stored:?}");
        assert!(stored.iter().any(|m| m.contains("MAX_EXECUTION_LOG_LINES, 4 lines")), "{stored:?}");
    }

    #[tokio::test]
    async fn the_executions_log_files_stop_together_at_their_bound() {
        let keep = Arc::new(Keep::default());
        let storage = Arc::new(MemoryStorage::default());
        // every line goes to a file; one text line is about 45 bytes: the
        // execution's files hold three together, whichever attempt wrote them
        let bounds = LogBounds { task_lines: 0, execution_file_bytes: 150, ..LogBounds::default() };
        let execution = Arc::new(ExecutionVolume::default());
        let attempt = |n: &str| {
            let path = log_file_path("n", "f", "e", "t", n);
            AttemptLogs::new(keep.clone(), storage.clone(), path, false, bounds, execution.clone())
        };
        let (first, second) = (attempt("a"), attempt("b"));
        first.emit(line("a"));
        first.emit(line("a"));
        second.emit(line("b"));
        second.emit(line("b"));
        // the first attempt's next line finds the execution's files full too
        first.emit(line(""));
        let (a, b) = (first.finish().await.expect("a file"), second.finish().await.expect("a file"));
        assert_eq!(read(&storage, &a).await.lines().count(), 2);
        assert_eq!(read(&storage, &b).await.lines().count(), 1);
        let before = stored(&keep);
        let named = "the execution's log files bound (MAX_EXECUTION_LOG_FILE_BYTES, 150 bytes; \
                     BATON_MAX_EXECUTION_LOG_FILE_BYTES)";
        assert!(before.iter().any(|m| m.contains(&b) && m.contains(&format!("reached {named}"))), "{before:?}");
        assert!(before.iter().any(|m| m.contains(&format!("1 more lines (1 bytes) past {named}"))), "{before:?}");
        assert!(before.iter().any(|m| m.contains(&a) && m.contains("1 more lines (0 bytes)")), "{before:?}");
        // an attempt that finds the files full writes none, and says so
        let third = attempt("c");
        third.emit(line("ccc"));
        assert_eq!(third.finish().await, None);
        let after = stored(&keep);
        let end = after.last().expect("a WARN");
        assert!(
            end.contains("1 lines (3 bytes) past the task's log line bound") && end.contains("none written"),
            "{end}"
        );
        assert!(end.contains(named), "{end}");
        assert_eq!(storage.list("/n/f/executions/e/tasks/t/c").await.expect("list"), Vec::<String>::new());
    }

    #[tokio::test]
    async fn no_file_when_everything_fits() {
        let keep = Arc::new(Keep::default());
        let storage = Arc::new(MemoryStorage::default());
        let logs = sink(&keep, &storage, false, LogBounds::default());
        logs.emit(line("small"));
        assert_eq!(logs.finish().await, None);
        assert!(storage.list("/").await.expect("list").is_empty());
    }

    #[tokio::test]
    async fn the_pipe_streams_and_counts_what_is_pending() {
        let pipe = Arc::new(Pipe::default());
        let mut r = PipeReader(pipe.clone());
        pipe.push(b"abc");
        assert_eq!(pipe.pending(), 3);
        let mut buf = [0u8; 2];
        assert_eq!(r.read(&mut buf).await.expect("read"), 2);
        assert_eq!(pipe.pending(), 1);
        let reader = tokio::spawn(async move {
            let mut s = Vec::new();
            r.read_to_end(&mut s).await.map(|_| s)
        });
        pipe.push(b"def");
        pipe.close();
        assert_eq!(reader.await.expect("join").expect("read"), b"cdef");
    }
}
