//! WAL checkpoints of [`super::SqliteStore`] on a thread of their own.
//!
//! In WAL mode every commit appends pages to `baton.db-wal`; a checkpoint
//! copies them back into the database file (and syncs it) so the log can
//! start over. SQLite's default (`wal_autocheckpoint = 1000` pages) runs it
//! inside the commit that crossed the threshold, on the committing thread:
//! one save in a few hundred paid for copying a thousand pages and a sync,
//! on the path of the execution waiting for it (8 % of a long chain's CPU,
//! 9.5 % of a busy server's, more of its wall time). Here the writer's WAL
//! hook only signals this thread each time the log has grown by
//! [`Limits::signal`] pages, and the thread checkpoints `PASSIVE` on its
//! own connection: it waits for no reader or writer and copies what is
//! committed.
//!
//! Bound: under continuous writes a passive checkpoint never lets the log
//! restart: that happens only at a transaction that begins with every
//! frame copied, and the writer begins its next one while the thread is
//! still copying (and syncing). So once the log holds [`Limits::restart`]
//! pages (32 MiB of 4 KiB pages) the thread is no longer asked, and the
//! writer checkpoints the frames left (at most one batch of
//! [`Limits::signal`] pages: the thread copied the rest) itself, right
//! after its commit, as SQLite would by default; its next transaction
//! starts the log over. (Asking the thread at every commit of that last
//! batch, to leave the writer less, made it checkpoint about once per
//! commit there, two `fsync`s each: 656 checkpoints and 1,419 `fsync`s in
//! a chain of 10,000 tasks, against one batch's copy, a few milliseconds,
//! once per restart.) A checkpoint the thread is still
//! running makes that one fail busy, and the next commit tries again. As
//! with SQLite's own checkpoints, a reader holding an old snapshot keeps
//! the log from restarting until it ends (reads here are short). The thread
//! ends with the writing connection (its hook holds the only sender), and
//! closes its own connection then.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, sync_channel};
use std::time::Duration;

use rusqlite::Connection;
use rusqlite::wal::CheckpointMode;

use super::sqlite::db;
use baton_backend::{BackendError, Result};

/// When the thread checkpoints, in pages of the log.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    /// Each time the log has grown by this many pages a commit asks for a
    /// passive checkpoint (SQLite's own default threshold).
    pub signal: i32,
    /// A commit leaving this many pages in the log checkpoints the rest
    /// itself, so that the next transaction restarts the log.
    pub restart: i32,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { signal: 1000, restart: 8000 }
    }
}

/// Checkpoints run so far: by the thread, and by the writer past the
/// restart threshold.
#[derive(Debug, Default)]
pub(super) struct Counts {
    pub thread: AtomicU64,
    pub writer: AtomicU64,
}

/// Starts the checkpointing thread on its own connection to `path` and
/// installs the hook that signals it on `writer` (the store's one writing
/// connection).
pub(super) fn start(path: &Path, writer: &mut Connection, limits: Limits) -> Result<Arc<Counts>> {
    let conn = Connection::open(path).map_err(db("open checkpoint connection"))?;
    conn.busy_timeout(Duration::from_secs(5)).map_err(db("set busy timeout"))?;
    // a connection learns that the file is in WAL mode on its first read;
    // until then a checkpoint there does nothing (and answers -1)
    let mode: String =
        conn.pragma_query_value(None, "journal_mode", |r| r.get(0)).map_err(db("read the journal mode"))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(BackendError::Database {
            what: "start the checkpoint thread".into(),
            message: format!("{} is in journal mode {mode}, not WAL", path.display()),
        });
    }
    let (signal, rx) = sync_channel::<()>(1);
    let counts = Arc::new(Counts::default());
    let counted = counts.clone();
    let thread = std::thread::Builder::new().name("baton-sqlite-checkpoint".into());
    thread
        .spawn(move || run(conn, rx, &counted))
        .map_err(|e| BackendError::Database { what: "start the checkpoint thread".into(), message: e.to_string() })?;
    let by_writer = counts.clone();
    let mut next = limits.signal;
    writer
        .wal_hook(Some(move |wal: &mut rusqlite::hooks::Wal, pages: i32| {
            // the log restarted: ask again from the first threshold
            if pages < next - limits.signal {
                next = limits.signal;
            }
            if pages >= limits.restart {
                // the thread's passive checkpoints did not let the log restart
                match wal.checkpoint_v2(CheckpointMode::PASSIVE) {
                    Ok(_) => {
                        by_writer.writer.fetch_add(1, Ordering::Relaxed);
                    }
                    // the thread is still copying: the next commit tries again
                    Err(e) => tracing::debug!(error = %e, pages, "WAL checkpoint by the writer not run"),
                }
            } else if pages >= next {
                // once per `signal` pages added, as SQLite's own checkpoints
                // (a hot page is copied once per batch, not once per commit);
                // one request pending is enough (a full channel has one),
                // and a thread gone leaves the log to the writer
                let _ = signal.try_send(());
                next = pages + limits.signal;
            }
            Ok(())
        }))
        .map_err(db("install the WAL hook"))?;
    Ok(counts)
}

/// Checkpoints once per request until every sender is gone.
fn run(conn: Connection, rx: Receiver<()>, counts: &Counts) {
    while rx.recv().is_ok() {
        match conn.wal_checkpoint_v2(None::<&str>, CheckpointMode::PASSIVE) {
            Ok((log, copied)) => {
                counts.thread.fetch_add(1, Ordering::Relaxed);
                tracing::trace!(log, copied, "WAL checkpoint");
            }
            // the writer is checkpointing: the next request retries
            Err(e) => tracing::debug!(error = %e, "WAL checkpoint not run"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pages the log file holds (it is reused from its start after a
    /// restart, so its length is the most it ever held).
    fn wal_pages(path: &Path) -> u64 {
        std::fs::metadata(path.with_extension("db-wal")).map(|m| m.len()).unwrap_or(0) / (4096 + 24)
    }

    #[test]
    fn the_thread_copies_the_log_and_restarts_it_under_continuous_writes() {
        let dir = std::env::temp_dir().join(format!("baton-ckpt-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("t.db");
        let mut writer = Connection::open(&path).expect("open");
        writer.pragma_update(None, "journal_mode", "WAL").expect("wal");
        writer.busy_timeout(Duration::from_secs(5)).expect("busy timeout");
        writer.execute_batch("CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB NOT NULL)").expect("schema");
        let limits = Limits { signal: 100, restart: 400 };
        let counts = start(&path, &mut writer, limits).expect("start");
        // about four pages a commit (12 KiB rows on 4 KiB pages), without a
        // pause, to ten times the restart threshold
        let rows = 10 * limits.restart as i64 / 4;
        for k in 0..rows {
            writer.execute("INSERT INTO t VALUES (?1, zeroblob(12288))", [k]).expect("insert");
        }
        // only a checkpoint writes the database file itself, and the thread ran it
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::fs::metadata(&path).expect("db").len() < (limits.restart as u64) * 4096 {
            assert!(std::time::Instant::now() < deadline, "no checkpoint reached the database file");
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(counts.thread.load(Ordering::Relaxed) >= 1, "the thread ran no checkpoint");
        assert!(counts.writer.load(Ordering::Relaxed) >= 1, "the writer never checkpointed the rest");
        // the log restarted instead of growing to hold all of it
        let held = wal_pages(&path);
        assert!(held < 4 * limits.restart as u64, "the log grew to {held} pages");
        let n: i64 = writer.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).expect("count");
        assert_eq!(n, rows);
        drop(writer);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
