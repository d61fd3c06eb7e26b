//! The log volume bounds: how many lines and bytes of messages one task
//! attempt and one execution store with the execution's logs, and how
//! large an attempt's log file — and one execution's log files together —
//! may grow.
//!
//! A line costs the store a row and an index entry whatever its length
//! (a one-byte line `y` is a row of about 300 bytes), so the bounds count
//! lines as well as bytes. The attempt's sink (`attempt_logs`) counts every
//! line the attempt emits — a script's stdout and stderr as its pipe reader
//! reads them, the `::{…}::` protocol's log lines, the plugin's own — and
//! sends the lines past the first bound reached to the attempt's log file,
//! with a WARN naming the bound. The execution's counters are shared by its
//! attempts in this process ([`Volumes`]) and start from what the store
//! already holds ([`crate::backend::StateStore::log_volume`]), so a retry,
//! a ForEach of many iterations or a restarted process keeps counting where
//! the execution is. Parallel attempts of one execution that start in
//! different processes may each pass the execution's bound by what they
//! store before they see each other's lines. The bytes of the execution's
//! log files are counted in this process only (a file is written by the
//! process running its attempt): a restarted process or another Cloud Run
//! instance starts that count at zero, so the disk one execution's log
//! files take is at most [`LogBounds::execution_file_bytes`] per process
//! that ran its attempts.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::backend::StateStore;

/// Lines one task attempt stores with the execution's logs (100,000).
pub const MAX_TASK_LOG_LINES: u64 = 100_000;
/// Bytes of messages one task attempt stores (64 MiB).
pub const MAX_TASK_LOG_BYTES: u64 = 64 * 1024 * 1024;
/// Lines one execution stores, all its task attempts together (500,000).
pub const MAX_EXECUTION_LOG_LINES: u64 = 500_000;
/// Bytes of messages one execution stores (256 MiB).
pub const MAX_EXECUTION_LOG_BYTES: u64 = 256 * 1024 * 1024;
/// Bytes one attempt's log file holds (1 GiB); later lines are dropped
/// and counted.
pub const MAX_TASK_LOG_FILE_BYTES: u64 = 1024 * 1024 * 1024;
/// Bytes the log files of one execution's attempts hold together (4 GiB):
/// a ForEach of many flooding tasks stops there, not at 1 GiB a task run.
pub const MAX_EXECUTION_LOG_FILE_BYTES: u64 = 4 * 1024 * 1024 * 1024;

/// The variables overriding the constants above.
pub const ENV_TASK_LINES: &str = "BATON_MAX_TASK_LOG_LINES";
pub const ENV_TASK_BYTES: &str = "BATON_MAX_TASK_LOG_BYTES";
pub const ENV_EXECUTION_LINES: &str = "BATON_MAX_EXECUTION_LOG_LINES";
pub const ENV_EXECUTION_BYTES: &str = "BATON_MAX_EXECUTION_LOG_BYTES";
pub const ENV_FILE_BYTES: &str = "BATON_MAX_TASK_LOG_FILE_BYTES";
pub const ENV_EXECUTION_FILE_BYTES: &str = "BATON_MAX_EXECUTION_LOG_FILE_BYTES";

/// How many executions' counters a process keeps after their last
/// attempt ended (the oldest are dropped and re-read from the store).
const KEPT_EXECUTIONS: usize = 1024;

/// The bounds one process applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogBounds {
    pub task_lines: u64,
    pub task_bytes: u64,
    pub execution_lines: u64,
    pub execution_bytes: u64,
    pub file_bytes: u64,
    pub execution_file_bytes: u64,
}

impl Default for LogBounds {
    fn default() -> LogBounds {
        LogBounds {
            task_lines: MAX_TASK_LOG_LINES,
            task_bytes: MAX_TASK_LOG_BYTES,
            execution_lines: MAX_EXECUTION_LOG_LINES,
            execution_bytes: MAX_EXECUTION_LOG_BYTES,
            file_bytes: MAX_TASK_LOG_FILE_BYTES,
            execution_file_bytes: MAX_EXECUTION_LOG_FILE_BYTES,
        }
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok()).unwrap_or(default)
}

impl LogBounds {
    /// The defaults, each overridden by its `BATON_MAX_…` variable.
    pub fn configured() -> LogBounds {
        let d = LogBounds::default();
        LogBounds {
            task_lines: env_u64(ENV_TASK_LINES, d.task_lines),
            task_bytes: env_u64(ENV_TASK_BYTES, d.task_bytes),
            execution_lines: env_u64(ENV_EXECUTION_LINES, d.execution_lines),
            execution_bytes: env_u64(ENV_EXECUTION_BYTES, d.execution_bytes),
            file_bytes: env_u64(ENV_FILE_BYTES, d.file_bytes),
            execution_file_bytes: env_u64(ENV_EXECUTION_FILE_BYTES, d.execution_file_bytes),
        }
    }
}

/// A size for messages: `4 GiB`, `12 MiB`, `3 KiB` or `100 bytes`.
pub fn describe_bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 30 && n.is_multiple_of(1 << 30) => format!("{} GiB", n >> 30),
        n if n >= 1 << 20 && n.is_multiple_of(1 << 20) => format!("{} MiB", n >> 20),
        n if n >= 1 << 10 && n.is_multiple_of(1 << 10) => format!("{} KiB", n >> 10),
        n => format!("{n} bytes"),
    }
}

/// Which bound sent an attempt's lines to its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reached {
    TaskLines,
    TaskBytes,
    ExecutionLines,
    ExecutionBytes,
}

impl Reached {
    /// The bound as the WARN names it.
    pub fn describe(self, b: &LogBounds) -> String {
        match self {
            Reached::TaskLines => {
                format!("the task's log line bound (MAX_TASK_LOG_LINES, {} lines; {ENV_TASK_LINES})", b.task_lines)
            }
            Reached::TaskBytes => format!(
                "the task's log volume bound (MAX_TASK_LOG_BYTES, {}; {ENV_TASK_BYTES})",
                describe_bytes(b.task_bytes)
            ),
            Reached::ExecutionLines => format!(
                "the execution's log line bound (MAX_EXECUTION_LOG_LINES, {} lines; {ENV_EXECUTION_LINES})",
                b.execution_lines
            ),
            Reached::ExecutionBytes => format!(
                "the execution's log volume bound (MAX_EXECUTION_LOG_BYTES, {}; {ENV_EXECUTION_BYTES})",
                describe_bytes(b.execution_bytes)
            ),
        }
    }
}

/// Which bound stopped an attempt's log file (its next lines dropped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFull {
    /// The attempt's own file, [`LogBounds::file_bytes`].
    Task,
    /// The execution's files together, [`LogBounds::execution_file_bytes`].
    Execution,
}

impl FileFull {
    /// The bound as the WARNs name it.
    pub fn describe(self, b: &LogBounds) -> String {
        match self {
            FileFull::Task => format!(
                "the log file's bound (MAX_TASK_LOG_FILE_BYTES, {}; {ENV_FILE_BYTES})",
                describe_bytes(b.file_bytes)
            ),
            FileFull::Execution => format!(
                "the execution's log files bound (MAX_EXECUTION_LOG_FILE_BYTES, {}; {ENV_EXECUTION_FILE_BYTES})",
                describe_bytes(b.execution_file_bytes)
            ),
        }
    }
}

/// The lines and bytes of messages one execution has stored, and the
/// bytes its attempts wrote to their log files in this process.
#[derive(Debug, Default)]
pub struct ExecutionVolume {
    lines: AtomicU64,
    bytes: AtomicU64,
    file_bytes: AtomicU64,
}

impl ExecutionVolume {
    /// Counts one line of `len` bytes if it fits both execution bounds;
    /// otherwise counts nothing and says which bound it would pass.
    pub fn take(&self, len: u64, b: &LogBounds) -> Result<(), Reached> {
        self.lines
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| (n < b.execution_lines).then_some(n + 1))
            .map_err(|_| Reached::ExecutionLines)?;
        let fits = self
            .bytes
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                n.checked_add(len).filter(|t| *t <= b.execution_bytes)
            })
            .is_ok();
        if fits {
            Ok(())
        } else {
            self.lines.fetch_sub(1, Ordering::SeqCst);
            Err(Reached::ExecutionBytes)
        }
    }

    /// Counts `len` bytes written to one of the execution's log files if
    /// they fit [`LogBounds::execution_file_bytes`]; `false` (nothing
    /// counted) if not.
    pub fn take_file(&self, len: u64, b: &LogBounds) -> bool {
        self.file_bytes
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                n.checked_add(len).filter(|t| *t <= b.execution_file_bytes)
            })
            .is_ok()
    }

    /// Counts a line stored past the bounds (the notices naming them).
    pub fn add(&self, len: u64) {
        self.lines.fetch_add(1, Ordering::SeqCst);
        self.bytes.fetch_add(len, Ordering::SeqCst);
    }

    /// `(lines, bytes)` so far.
    pub fn get(&self) -> (u64, u64) {
        (self.lines.load(Ordering::SeqCst), self.bytes.load(Ordering::SeqCst))
    }
}

/// The executions' counters of one process: the last [`KEPT_EXECUTIONS`]
/// executions with an attempt here.
#[derive(Default)]
pub struct Volumes {
    kept: Mutex<Kept>,
}

#[derive(Default)]
struct Kept {
    by_id: HashMap<String, Arc<ExecutionVolume>>,
    order: VecDeque<String>,
}

impl Volumes {
    /// The counters of `execution_id`, read from `store` the first time.
    /// A store that cannot answer starts them at zero (logged).
    pub async fn of(&self, store: &dyn StateStore, execution_id: &str) -> Arc<ExecutionVolume> {
        if let Some(v) = self.kept.lock().ok().and_then(|k| k.by_id.get(execution_id).cloned()) {
            return v;
        }
        let seed = match store.log_volume(execution_id).await {
            Ok(v) => v.unwrap_or_default(),
            Err(e) => {
                tracing::warn!(execution_id, error = %e, "cannot count the execution's stored logs; counting from zero");
                (0, 0)
            }
        };
        let fresh = Arc::new(ExecutionVolume {
            lines: AtomicU64::new(seed.0),
            bytes: AtomicU64::new(seed.1),
            file_bytes: AtomicU64::new(0),
        });
        let Ok(mut k) = self.kept.lock() else { return fresh };
        if let Some(v) = k.by_id.get(execution_id) {
            return v.clone();
        }
        k.by_id.insert(execution_id.to_string(), fresh.clone());
        k.order.push_back(execution_id.to_string());
        while k.order.len() > KEPT_EXECUTIONS {
            if let Some(old) = k.order.pop_front() {
                k.by_id.remove(&old);
            }
        }
        fresh
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::LogEntry;
    use crate::backend::local::SqliteStore;

    fn bounds(lines: u64, bytes: u64) -> LogBounds {
        LogBounds { execution_lines: lines, execution_bytes: bytes, ..LogBounds::default() }
    }

    #[test]
    fn the_execution_counts_refuse_past_either_bound() {
        let v = ExecutionVolume::default();
        let b = bounds(3, 10);
        assert_eq!(v.take(4, &b), Ok(()));
        assert_eq!(v.take(7, &b), Err(Reached::ExecutionBytes));
        assert_eq!(v.take(6, &b), Ok(()));
        assert_eq!(v.take(0, &b), Ok(()));
        assert_eq!(v.take(0, &b), Err(Reached::ExecutionLines));
        assert_eq!(v.get(), (3, 10));
        assert!(Reached::ExecutionLines.describe(&b).contains("MAX_EXECUTION_LOG_LINES, 3 lines"));
        assert!(Reached::TaskBytes.describe(&LogBounds::default()).contains("MAX_TASK_LOG_BYTES, 64 MiB"));
    }

    #[test]
    fn the_execution_file_count_refuses_past_its_bound() {
        let v = ExecutionVolume::default();
        let b = LogBounds { execution_file_bytes: 10, ..LogBounds::default() };
        assert!(v.take_file(6, &b));
        assert!(!v.take_file(5, &b));
        assert!(v.take_file(4, &b));
        assert!(!v.take_file(1, &b));
        assert!(FileFull::Execution.describe(&b).contains("MAX_EXECUTION_LOG_FILE_BYTES, 10 bytes"));
        assert!(FileFull::Task.describe(&LogBounds::default()).contains("MAX_TASK_LOG_FILE_BYTES, 1 GiB"));
    }

    #[tokio::test]
    async fn the_counters_start_from_what_the_store_holds() {
        let store = SqliteStore::open_in_memory().expect("store");
        let line = |message: &str| LogEntry {
            namespace: "n".into(),
            flow_id: "f".into(),
            execution_id: "e1".into(),
            task_id: Some("t".into()),
            task_run_id: Some("tr".into()),
            attempt_number: Some(1),
            timestamp: chrono::Utc::now(),
            level: "INFO".into(),
            message: message.into(),
        };
        let mut error = line("bad");
        error.level = "ERROR".into();
        store.append_logs(&[line("héllo"), line("y")]).await.expect("append");
        // errorLogs() reads the ERROR lines alone
        store.append_logs(std::slice::from_ref(&error)).await.expect("append");
        assert_eq!(store.logs_at_level("e1", "ERROR", 10, 100).await.expect("errors"), [error.clone()]);
        // read no further than a line past either bound
        store.append_logs(&[error.clone(), error.clone()]).await.expect("append");
        assert_eq!(store.logs_at_level("e1", "ERROR", 1, 100).await.expect("errors").len(), 2);
        assert_eq!(store.logs_at_level("e1", "ERROR", 10, 4).await.expect("errors").len(), 2);
        assert_eq!(store.logs_at_level("e1", "ERROR", 10, 100).await.expect("errors").len(), 3);
        let volumes = Volumes::default();
        let v = volumes.of(&store, "e1").await;
        assert_eq!(v.get(), (5, 16));
        v.add(1);
        // kept: not read again
        assert_eq!(volumes.of(&store, "e1").await.get(), (6, 17));
        assert_eq!(volumes.of(&store, "other").await.get(), (0, 0));
    }
}
