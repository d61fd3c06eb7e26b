//! A full disk under the Baton home fails the executions it stops, with a
//! message naming the home, instead of leaving them RUNNING while
//! `baton run` waits forever.
//!
//! Opening a home sets aside [`RESERVE_BYTES`] in a file ([`RESERVE_FILE`]).
//! When a state write fails because the disk is full (SQLite's "database or
//! disk is full", `ENOSPC`, `EFBIG`), [`DiskGuard::trip`] deletes that file,
//! so there is room again to record the failure, and tells every waiter
//! (`Embedded::wait_settled`); [`fail_execution`] then ends the execution
//! FAILED with the message. The reserve is set aside again by the next
//! `baton` that opens the home with room for it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::Utc;
use tokio::sync::watch;

use super::engine::{Engine, ExecutionUpdate};
use crate::backend::BackendError;
use crate::model::{Execution, StateType};

/// The file holding the reserve, in the home folder.
pub const RESERVE_FILE: &str = "disk-reserve";
/// Bytes set aside to record failures once the disk is full (4 MiB: a few
/// hundred execution saves and log lines in SQLite's WAL).
pub const RESERVE_BYTES: usize = 4 * 1024 * 1024;

/// True when an error's text says the disk (or a file size limit) is full.
pub fn looks_full(error: &str) -> bool {
    const SIGNS: [&str; 5] =
        ["database or disk is full", "No space left on device", "os error 28", "File too large", "os error 27"];
    SIGNS.iter().any(|s| error.contains(s))
}

/// Watches for a full disk under one home.
pub struct DiskGuard {
    home: PathBuf,
    tripped: watch::Sender<Option<String>>,
    /// Why the reserve could not be set aside when the home was opened.
    short: Option<String>,
}

impl DiskGuard {
    /// The guard of `home`; sets the reserve aside if it is missing and
    /// there is room for it (a partial reserve is removed).
    pub fn open(home: &Path) -> Arc<DiskGuard> {
        let reserve = home.join(RESERVE_FILE);
        let mut short = None;
        if std::fs::metadata(&reserve).map(|m| m.len()).unwrap_or(0) < RESERVE_BYTES as u64
            && let Err(e) = set_aside(&reserve)
        {
            let _ = std::fs::remove_file(&reserve);
            tracing::warn!(path = %reserve.display(), error = %e, "cannot set aside the disk reserve");
            short = looks_full(&e.to_string()).then(|| {
                format!(
                    "the disk holding the Baton home {} is full: there is not even room for the {} MiB Baton sets \
                 aside to record failures (RESERVE_BYTES; {e}); free space there, then run the flow again",
                    home.display(),
                    RESERVE_BYTES >> 20
                )
            });
        }
        Arc::new(DiskGuard { home: home.to_path_buf(), tripped: watch::channel(None).0, short })
    }

    /// When the reserve could not be set aside as the home was opened (the
    /// disk is full, or nearly): why, naming the home. `baton run` starts
    /// no execution then — it would stop at its first write, at a point
    /// that depends on what else frees or takes space meanwhile.
    pub fn short_of_room(&self) -> Option<&str> {
        self.short.as_deref()
    }

    /// When `error` says the disk is full: frees the reserve, tells the
    /// waiters, and returns the message for humans (naming the home).
    pub fn trip(&self, error: &str) -> Option<String> {
        if !looks_full(error) {
            return None;
        }
        let message = format!(
            "the disk holding the Baton home {} is full ({error}); free space there, then run the flow again",
            self.home.display()
        );
        if self.tripped.borrow().is_none() {
            let _ = std::fs::remove_file(self.home.join(RESERVE_FILE));
            tracing::error!(home = %self.home.display(), %error, "the disk is full");
        }
        self.tripped.send_replace(Some(message.clone()));
        Some(message)
    }

    /// Ends with the message once the disk was found full.
    pub fn watch(&self) -> watch::Receiver<Option<String>> {
        self.tripped.subscribe()
    }
}

/// Sets [`RESERVE_BYTES`] aside in `path`: allocated by `fallocate` (the
/// blocks are the file's without writing them: a fresh home opens
/// milliseconds sooner), or written where the file system cannot allocate.
fn set_aside(path: &Path) -> std::io::Result<()> {
    let file = std::fs::File::create(path)?;
    match rustix::fs::fallocate(&file, rustix::fs::FallocateFlags::empty(), 0, RESERVE_BYTES as u64) {
        Ok(()) => Ok(()),
        Err(e) if e == rustix::io::Errno::NOSPC || e == rustix::io::Errno::FBIG => Err(e.into()),
        Err(_) => std::fs::write(path, vec![0u8; RESERVE_BYTES]),
    }
}

/// On a disk-full `error` while handling execution `id`: trips the
/// engine's guard (when it has one) and fails the execution with the
/// message. Any other error is left to its caller.
pub async fn on_error(engine: &Engine, id: &str, error: &str) {
    let Some(message) = engine.disk_guard.as_ref().and_then(|g| g.trip(error)) else { return };
    if let Err(e) = fail_execution(engine, id, &message).await {
        tracing::error!(execution_id = %id, error = %e, "cannot record the failure of the execution");
    }
}

/// Ends execution `id` FAILED with `message` (its unfinished task runs
/// FAILED too), unless it already ended; a lost CAS is tried again.
pub async fn fail_execution(engine: &Engine, id: &str, message: &str) -> Result<Option<Execution>, BackendError> {
    let mut tries = 0;
    for _ in 0..10 {
        let Some(mut exec) = engine.state.load_execution(id).await? else { return Ok(None) };
        if exec.state.is_terminal() {
            return Ok(Some(exec));
        }
        let now = Utc::now();
        let mut changed = Vec::new();
        for tr in exec.task_run_list.iter_mut().filter(|tr| !tr.state.is_terminal()) {
            if let Some(a) = tr.attempts.last_mut().filter(|a| !a.state.is_terminal()) {
                a.state.set(StateType::Failed, now);
            }
            tr.state.set(StateType::Failed, now);
            tr.next_retry_date = None;
            tr.error.get_or_insert_with(|| message.to_string());
            changed.push(tr.id.clone());
        }
        exec.state.set(StateType::Failed, now);
        exec.error = Some(message.to_string());
        match engine.state.save_execution(&exec, &changed).await {
            Ok(version) => {
                exec.version = version;
                let changed_runs = exec.task_run_list.iter().filter(|t| changed.contains(&t.id)).cloned().collect();
                engine.announce(
                    ExecutionUpdate {
                        execution_id: exec.id.clone(),
                        namespace: exec.namespace.clone(),
                        flow_id: exec.flow_id.clone(),
                        state: StateType::Failed,
                        done: exec.is_done(),
                        changed: changed_runs,
                    },
                    true,
                );
                return Ok(Some(exec));
            }
            Err(BackendError::Conflict { .. }) => continue,
            // the freed reserve may be held a moment by a concurrent write
            // that is failing too (its WAL frames): the next try reuses them
            Err(e) if looks_full(&e.to_string()) && tries < 4 => {
                tries += 1;
                tokio::time::sleep(std::time::Duration::from_millis(25)).await;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_disks_are_told_apart_and_the_reserve_is_freed_once() {
        assert!(looks_full("database error during save_execution (commit): database or disk is full"));
        assert!(looks_full("storage error on write x: No space left on device (os error 28)"));
        assert!(!looks_full("database error during save_execution: disk I/O error (locked)"));
        let home = std::env::temp_dir().join(format!("baton-diskfull-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&home).expect("home");
        let guard = DiskGuard::open(&home);
        let reserve = home.join(RESERVE_FILE);
        assert_eq!(std::fs::metadata(&reserve).expect("reserve").len(), RESERVE_BYTES as u64);
        let w = guard.watch();
        assert!(guard.trip("constraint failed").is_none());
        assert!(w.borrow().is_none() && reserve.exists());
        let msg = guard.trip("database or disk is full").expect("tripped");
        assert!(msg.contains(&home.display().to_string()) && msg.contains("is full"), "{msg}");
        assert!(!reserve.exists());
        assert_eq!(w.borrow().as_deref(), Some(msg.as_str()));
        let _ = std::fs::remove_dir_all(&home);
    }
}
