//! WAL checkpoints of [`super::SqliteStore`] on a thread of their own.
//!
//! In WAL mode every commit appends pages to `baton.db-wal`; a checkpoint
//! copies them back into the database file so the log can start over.
//! SQLite's default (`wal_autocheckpoint = 1000` pages) runs it inside the
//! commit that crossed the threshold, on the committing thread: one save in
//! a few hundred paid for copying a thousand pages, on the path of the
//! execution waiting for it (8 % of a long chain's CPU, 9.5 % of a busy
//! server's). Here the writer's WAL hook only signals this thread past
//! [`SIGNAL_PAGES`], which checkpoints `PASSIVE` on its own connection (it
//! waits for no reader or writer and copies what it can; the next commit
//! after a complete copy restarts the log).
//!
//! Bound: if this thread falls [`INLINE_PAGES`] behind (32 MiB of 4 KiB
//! pages: a slow disk, a busy machine), the committing thread checkpoints
//! itself, as SQLite would by default. As with SQLite's own checkpoints, a
//! reader holding an old snapshot keeps the log from restarting until it
//! ends (reads here are short). The thread ends with the writing connection
//! (the hook holds the only sender), and closes its own connection then.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, TrySendError, sync_channel};
use std::time::Duration;

use rusqlite::Connection;
use rusqlite::wal::CheckpointMode;

use super::sqlite::db;
use crate::backend::Result;

/// Pages in the log past which the thread is asked for a checkpoint
/// (SQLite's own default threshold).
pub(super) const SIGNAL_PAGES: i32 = 1000;
/// Pages in the log past which the committing thread checkpoints itself.
pub(super) const INLINE_PAGES: i32 = 8 * SIGNAL_PAGES;

/// Starts the checkpointing thread on its own connection to `path` and
/// installs the hook that signals it on `writer` (the store's one writing
/// connection); returns how many checkpoints the thread has run so far.
pub(super) fn start(path: &Path, writer: &mut Connection) -> Result<Arc<AtomicU64>> {
    let conn = Connection::open(path).map_err(db("open checkpoint connection"))?;
    conn.busy_timeout(Duration::from_secs(5)).map_err(db("set busy timeout"))?;
    // a connection learns that the file is in WAL mode on its first read;
    // until then a checkpoint there does nothing (and answers -1)
    let mode: String =
        conn.pragma_query_value(None, "journal_mode", |r| r.get(0)).map_err(db("read the journal mode"))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(crate::backend::BackendError::Database {
            what: "start the checkpoint thread".into(),
            message: format!("the database is in journal mode {mode}, not WAL"),
        });
    }
    let (signal, rx) = sync_channel::<()>(1);
    let done = Arc::new(AtomicU64::new(0));
    let counted = done.clone();
    let thread = std::thread::Builder::new().name("baton-sqlite-checkpoint".into());
    thread.spawn(move || run(conn, rx, &counted)).map_err(|e| crate::backend::BackendError::Database {
        what: "start the checkpoint thread".into(),
        message: e.to_string(),
    })?;
    writer
        .wal_hook(Some(move |wal: &mut rusqlite::hooks::Wal, pages: i32| {
            if pages >= INLINE_PAGES {
                // the thread is far behind: bound the log here
                if let Err(e) = wal.checkpoint_v2(CheckpointMode::PASSIVE) {
                    tracing::warn!(error = %e, pages, "inline WAL checkpoint failed");
                }
            } else if pages >= SIGNAL_PAGES {
                // one request pending is enough: a full channel means one is queued
                match signal.try_send(()) {
                    Ok(()) | Err(TrySendError::Full(())) | Err(TrySendError::Disconnected(())) => {}
                }
            }
            Ok(())
        }))
        .map_err(db("install the WAL hook"))?;
    Ok(done)
}

/// Checkpoints once per request until every sender is gone.
fn run(conn: Connection, rx: Receiver<()>, done: &AtomicU64) {
    while rx.recv().is_ok() {
        match conn.wal_checkpoint_v2(None::<&str>, CheckpointMode::PASSIVE) {
            Ok((log, copied)) => {
                done.fetch_add(1, Ordering::Relaxed);
                tracing::trace!(log, copied, "WAL checkpoint");
            }
            Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed (retried at the next request)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_thread_checkpoints_once_the_log_passes_the_threshold() {
        let dir = std::env::temp_dir().join(format!("baton-ckpt-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("t.db");
        let mut writer = Connection::open(&path).expect("open");
        writer.pragma_update(None, "journal_mode", "WAL").expect("wal");
        writer.execute_batch("CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB NOT NULL)").expect("schema");
        let done = start(&path, &mut writer).expect("start");
        // about three pages per row (12 KiB blobs on 4 KiB pages), one
        // commit each, to twice the signal threshold: far below the inline one
        let rows = 2 * SIGNAL_PAGES as i64 / 3;
        for k in 0..rows {
            writer.execute("INSERT INTO t VALUES (?1, zeroblob(12288))", [k]).expect("insert");
        }
        // only a checkpoint writes the database file itself, and the thread ran it
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::fs::metadata(&path).expect("db").len() < (SIGNAL_PAGES as u64) * 4096 {
            assert!(std::time::Instant::now() < deadline, "no checkpoint reached the database file");
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(done.load(Ordering::Relaxed) >= 1, "the thread ran no checkpoint");
        let n: i64 = writer.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).expect("count");
        assert_eq!(n, rows);
        drop(writer);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
