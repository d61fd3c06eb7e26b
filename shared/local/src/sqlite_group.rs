//! Group commit for [`super::SqliteStore`]: the one connection, and a queue
//! of jobs that whoever holds the connection runs together in one
//! transaction.
//!
//! SQLite allows one writer at a time, and in WAL mode most of a small
//! write transaction's cost is its commit (a WAL append, the WAL index,
//! the locks). A busy server makes thousands of small writes a second (a
//! claim, a task run's start, its result, the executor's save), so each
//! write is a *job* pushed on a queue, and the caller then tries to take
//! the connection:
//! - it gets it (the *leader*): it runs every queued job in one
//!   `BEGIN IMMEDIATE … COMMIT`, each inside its own `SAVEPOINT`, so a job
//!   that fails (a compare-and-swap that lost, a duplicate id) rolls back
//!   only its own statements; it hands every job its result once the commit
//!   is durable, releases the connection and looks at the queue again;
//! - it does not (a *follower*): the leader holding it sees the job when it
//!   looks again, and the follower awaits its result without blocking its
//!   thread.
//!
//! A job's result is never given out before the commit that holds its
//! writes: when the commit fails, every job of the batch fails with it. With
//! no contention a batch holds one job and costs what a plain transaction
//! costs (no savepoint). A job is a closure over owned data (encoded before
//! it is queued, so JSON encoding runs outside the connection's lock).
//!
//! Rarely used operations take the connection directly ([`Group::lock`]);
//! releasing it runs the jobs queued meanwhile.
//!
//! Reads ([`Group::read`]) do not queue behind the writer: on a database
//! file they run on one of [`READERS`] connections of their own (WAL lets
//! readers and the writer work at once; a read sees every commit whose
//! result was handed out before it began). An in-memory database has no
//! second connection, so there a read is a job like a write.
//!
//! Written here rather than taken from a crate: the pooling crates for
//! rusqlite (r2d2, deadpool) hand out connections, and several writers on
//! several connections would each commit on their own, which is the cost
//! this removes.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use rusqlite::Connection;
use tokio::sync::oneshot;

use baton_backend::{BackendError, Result};

/// At most this many jobs share one transaction (a bound on how long one
/// batch holds the connection, and on a follower's wait).
const MAX_BATCH: usize = 256;
/// A leader runs at most this many batches for others before it hands the
/// rest of the queue to a blocking thread and returns to its own caller.
const MAX_ROUNDS: usize = 8;
/// Read connections beside the writer, on a database file.
pub(super) const READERS: usize = 2;
/// How often the queue's activity is logged (at `debug`), while it runs.
const REPORT_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// One queued operation.
trait Job: Send {
    /// Runs the job's statements; false when it failed (its changes are then
    /// rolled back to its savepoint).
    fn run(&mut self, conn: &Connection) -> bool;
    /// The operation's name (errors, the `debug` log).
    fn what(&self) -> &'static str;
    /// Hands out the result: the job's own, or `commit`'s error when the
    /// transaction holding its writes did not commit.
    fn finish(self: Box<Self>, commit: Option<&str>);
}

struct Pending<R, F> {
    what: &'static str,
    f: Option<F>,
    out: Option<Result<R>>,
    tx: oneshot::Sender<Result<R>>,
}

impl<R, F> Job for Pending<R, F>
where
    R: Send,
    F: FnOnce(&Connection) -> Result<R> + Send,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let Some(f) = self.f.take() else { return false };
        let out = f(conn);
        let ok = out.is_ok();
        self.out = Some(out);
        ok
    }

    fn what(&self) -> &'static str {
        self.what
    }

    fn finish(self: Box<Self>, commit: Option<&str>) {
        let what = self.what;
        let out = match (self.out, commit) {
            (Some(Err(e)), _) => Err(e),
            (Some(Ok(_)), Some(err)) | (None, Some(err)) => {
                Err(BackendError::Database { what: format!("{what} (commit)"), message: err.to_string() })
            }
            (Some(Ok(r)), None) => Ok(r),
            (None, None) => {
                Err(BackendError::Database { what: what.to_string(), message: "the job did not run".into() })
            }
        };
        let _ = self.tx.send(out);
    }
}

/// The connection and the jobs waiting for it.
pub(super) struct Group {
    conn: Mutex<Connection>,
    /// Connections for reads (none on an in-memory database).
    readers: Vec<Mutex<Connection>>,
    /// How a batch's transaction begins: `BEGIN IMMEDIATE` (it writes), or a
    /// plain `BEGIN` on a database opened to read only.
    begin: &'static str,
    queue: Mutex<VecDeque<Box<dyn Job>>>,
    /// What the queue did, for tests and the `debug` log.
    stats: Mutex<Stats>,
}

/// Batches run, jobs in them, and the time the connection was held for
/// them, since the last report.
#[derive(Default)]
struct Stats {
    batches: usize,
    jobs: usize,
    held: std::time::Duration,
    /// Per operation (and `BEGIN`/`COMMIT`): how many ran and how long.
    by_what: std::collections::BTreeMap<&'static str, (usize, std::time::Duration)>,
    since: Option<std::time::Instant>,
    /// Every batch run (tests).
    #[cfg(test)]
    total: usize,
}

impl Stats {
    /// Counts one batch; every [`REPORT_EVERY`] logs the batch size and the
    /// share of time the connection was held (at `debug`: how busy SQLite is).
    fn count(&mut self, jobs: usize, held: std::time::Duration, timed: &[(&'static str, std::time::Duration)]) {
        let since = *self.since.get_or_insert_with(std::time::Instant::now);
        self.batches += 1;
        self.jobs += jobs;
        self.held += held;
        for (what, took) in timed {
            let e = self.by_what.entry(what).or_default();
            e.0 += 1;
            e.1 += *took;
        }
        #[cfg(test)]
        {
            self.total += 1;
        }
        let elapsed = since.elapsed();
        if elapsed >= REPORT_EVERY {
            tracing::debug!(
                batches = self.batches,
                jobs_per_batch = format!("{:.1}", self.jobs as f64 / self.batches as f64),
                held = format!("{:.0}%", 100.0 * self.held.as_secs_f64() / elapsed.as_secs_f64()),
                by_operation = self
                    .by_what
                    .iter()
                    .map(|(w, (n, d))| format!("{w}: {n} × {:.0} µs", d.as_secs_f64() * 1e6 / *n as f64))
                    .collect::<Vec<_>>()
                    .join(", "),
                "sqlite group commit"
            );
            *self = Stats {
                #[cfg(test)]
                total: self.total,
                ..Stats::default()
            };
        }
    }
}

/// The connection, held; releasing it runs what was queued meanwhile.
pub(crate) struct ConnGuard<'a> {
    group: &'a Arc<Group>,
    guard: Option<MutexGuard<'a, Connection>>,
}

impl std::ops::Deref for ConnGuard<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.guard.as_deref().expect("held until dropped")
    }
}

impl std::ops::DerefMut for ConnGuard<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        self.guard.as_deref_mut().expect("held until dropped")
    }
}

impl Drop for ConnGuard<'_> {
    fn drop(&mut self) {
        drop(self.guard.take());
        if self.group.has_queued() {
            self.group.drive();
        }
    }
}

/// Rolls back a batch's transaction left open (a job panicked).
struct OpenTx<'a>(&'a Connection);

impl Drop for OpenTx<'_> {
    fn drop(&mut self) {
        if !self.0.is_autocommit() {
            let _ = exec(self.0, "ROLLBACK");
        }
    }
}

impl Group {
    /// The writer `conn` and the read connections `readers` (may be none).
    pub(super) fn new(conn: Connection, readers: Vec<Connection>) -> Arc<Self> {
        Self::with_begin(conn, readers, "BEGIN IMMEDIATE")
    }

    /// A group on a connection opened read-only: its jobs can only read.
    pub(super) fn read_only(conn: Connection) -> Arc<Self> {
        Self::with_begin(conn, Vec::new(), "BEGIN")
    }

    fn with_begin(conn: Connection, readers: Vec<Connection>, begin: &'static str) -> Arc<Self> {
        Arc::new(Group {
            conn: Mutex::new(conn),
            readers: readers.into_iter().map(Mutex::new).collect(),
            begin,
            queue: Mutex::new(VecDeque::new()),
            stats: Mutex::default(),
        })
    }

    /// The connection for an operation run outside the queue. A panic
    /// elsewhere cannot leave a transaction open (rusqlite's transactions
    /// and [`OpenTx`] roll back on drop), so a poisoned lock is still usable.
    pub(super) fn lock(self: &Arc<Self>) -> ConnGuard<'_> {
        ConnGuard { group: self, guard: Some(self.conn.lock().unwrap_or_else(PoisonError::into_inner)) }
    }

    /// Runs `f` on the connection inside a transaction shared with the other
    /// jobs queued now; its result once that transaction committed. `what`
    /// names the operation in errors.
    pub(super) async fn run<R, F>(self: &Arc<Self>, what: &'static str, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        self.queue().push_back(Box::new(Pending { what, f: Some(f), out: None, tx }));
        self.drive();
        rx.await.unwrap_or_else(|_| {
            Err(BackendError::Database { what: what.to_string(), message: "the batch running it was abandoned".into() })
        })
    }

    /// Runs the read-only `f` on a read connection, inline (a free one, else
    /// waits for the first); a job of the queue where there is none.
    pub(super) async fn read<R, F>(self: &Arc<Self>, what: &'static str, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R> + Send + 'static,
    {
        let Some(first) = self.readers.first() else { return self.run(what, f).await };
        let free = self.readers.iter().find_map(|r| r.try_lock().ok());
        let conn = free.unwrap_or_else(|| first.lock().unwrap_or_else(PoisonError::into_inner));
        // one snapshot for all of `f`'s statements
        let db = |e: String| BackendError::Database { what: what.to_string(), message: e };
        exec(&conn, "BEGIN").map_err(db)?;
        // ended when dropped, even if `f` panics (a read: rollback is its end)
        let _open = OpenTx(&conn);
        f(&conn)
    }

    fn queue(&self) -> MutexGuard<'_, VecDeque<Box<dyn Job>>> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn has_queued(&self) -> bool {
        !self.queue().is_empty()
    }

    /// Runs queued batches while the connection is free and jobs wait. A
    /// job queued while another holds the connection is run by that holder
    /// when it releases it (it looks at the queue after releasing).
    fn drive(self: &Arc<Self>) {
        let mut rounds = 0;
        loop {
            let Ok(conn) = self.conn.try_lock().or_else(|e| match e {
                std::sync::TryLockError::Poisoned(p) => Ok(p.into_inner()),
                std::sync::TryLockError::WouldBlock => Err(()),
            }) else {
                return;
            };
            let mut jobs: Vec<Box<dyn Job>> = {
                let mut q = self.queue();
                let n = q.len().min(MAX_BATCH);
                q.drain(..n).collect()
            };
            if jobs.is_empty() {
                return;
            }
            let started = std::time::Instant::now();
            let mut timed = Vec::new();
            let commit = run_batch(&conn, self.begin, &mut jobs, &mut timed);
            drop(conn);
            self.stats.lock().unwrap_or_else(PoisonError::into_inner).count(jobs.len(), started.elapsed(), &timed);
            for job in jobs {
                job.finish(commit.as_ref().err().map(String::as_str));
            }
            if !self.has_queued() {
                return;
            }
            rounds += 1;
            if rounds >= MAX_ROUNDS {
                // others' work is still queued: a blocking thread leads from
                // here, and this caller returns to its own work
                if let Ok(rt) = tokio::runtime::Handle::try_current() {
                    let group = Arc::clone(self);
                    drop(rt.spawn_blocking(move || group.drive()));
                    return;
                }
            }
        }
    }
}

/// Runs `jobs` in one transaction (begun with `begin`), each in its own savepoint when
/// there are several; the commit's error when the transaction is lost. `timed`
/// gets each step's duration.
fn run_batch(
    conn: &Connection,
    begin: &str,
    jobs: &mut [Box<dyn Job>],
    timed: &mut Vec<(&'static str, std::time::Duration)>,
) -> std::result::Result<(), String> {
    let mut at = std::time::Instant::now();
    let mut lap = |what: &'static str, timed: &mut Vec<_>| {
        let now = std::time::Instant::now();
        timed.push((what, now - at));
        at = now;
    };
    exec(conn, begin)?;
    lap("BEGIN", timed);
    let open = OpenTx(conn);
    if let [job] = jobs {
        let ok = job.run(conn);
        lap(job.what(), timed);
        if !ok {
            // the job's own failure: nothing of it is kept
            drop(open);
            return Ok(());
        }
    } else {
        for job in jobs.iter_mut() {
            exec(conn, "SAVEPOINT job")?;
            lap("SAVEPOINT", timed);
            let ok = job.run(conn);
            lap(job.what(), timed);
            if conn.is_autocommit() {
                // SQLite rolled the whole transaction back (a full disk, an
                // I/O error): the jobs before this one lost their writes too
                return Err("the transaction was rolled back by an error of another write in it".into());
            }
            if !ok {
                exec(conn, "ROLLBACK TO job")?;
            }
            exec(conn, "RELEASE job")?;
            lap("RELEASE", timed);
        }
    }
    exec(conn, "COMMIT")?;
    lap("COMMIT", timed);
    std::mem::forget(open);
    Ok(())
}

/// Runs one statement of the batch's transaction control, prepared once.
fn exec(conn: &Connection, sql: &str) -> std::result::Result<(), String> {
    conn.prepare_cached(sql).and_then(|mut s| s.execute([])).map(|_| ()).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group() -> Arc<Group> {
        let conn = Connection::open_in_memory().expect("open");
        conn.execute_batch("CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER NOT NULL)").expect("schema");
        Group::new(conn, Vec::new())
    }

    fn insert(k: &'static str, v: i64) -> impl FnOnce(&Connection) -> Result<()> + Send + 'static {
        move |c| {
            c.execute("INSERT INTO t (k, v) VALUES (?1, ?2)", rusqlite::params![k, v])
                .map(|_| ())
                .map_err(|e| BackendError::Invalid(e.to_string()))
        }
    }

    fn rows(g: &Arc<Group>) -> Vec<(String, i64)> {
        let c = g.lock();
        let mut s = c.prepare("SELECT k, v FROM t ORDER BY k").expect("prepare");
        s.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).expect("query").map(|r| r.expect("row")).collect()
    }

    #[tokio::test]
    async fn a_failed_job_rolls_back_only_its_own_writes() {
        let g = group();
        // hold the connection so that the three jobs queue and run as one batch
        let held = g.lock();
        let a = tokio::spawn({
            let g = g.clone();
            async move { g.run("a", insert("a", 1)).await }
        });
        let b = tokio::spawn({
            let g = g.clone();
            async move {
                g.run("b", |c| {
                    insert("b", 2)(c)?;
                    insert("a", 3)(c) // a duplicate key: the whole job fails
                })
                .await
            }
        });
        let c = tokio::spawn({
            let g = g.clone();
            async move { g.run("c", insert("c", 4)).await }
        });
        while g.queue().len() < 3 {
            tokio::task::yield_now().await;
        }
        drop(held); // releasing runs the batch
        assert!(a.await.expect("a").is_ok());
        assert!(b.await.expect("b").is_err());
        assert!(c.await.expect("c").is_ok());
        assert_eq!(rows(&g), vec![("a".to_string(), 1), ("c".to_string(), 4)]);
    }

    #[tokio::test]
    async fn a_failed_commit_fails_every_job_of_its_batch() {
        let g = group();
        // a deferred foreign-key check fails at COMMIT, after every job succeeded
        g.lock()
            .execute_batch(
                "PRAGMA foreign_keys = ON;
                 CREATE TABLE p (k TEXT PRIMARY KEY);
                 CREATE TABLE ch (k TEXT REFERENCES p (k) DEFERRABLE INITIALLY DEFERRED);",
            )
            .expect("schema");
        let held = g.lock();
        let ok = tokio::spawn({
            let g = g.clone();
            async move { g.run("ok", insert("x", 1)).await }
        });
        let orphan = tokio::spawn({
            let g = g.clone();
            async move {
                g.run("orphan", |c| {
                    c.execute("INSERT INTO ch (k) VALUES ('nobody')", [])
                        .map(|_| ())
                        .map_err(|e| BackendError::Invalid(e.to_string()))
                })
                .await
            }
        });
        while g.queue().len() < 2 {
            tokio::task::yield_now().await;
        }
        drop(held);
        let ok = ok.await.expect("ok");
        let orphan = orphan.await.expect("orphan");
        assert!(matches!(ok, Err(BackendError::Database { ref what, .. }) if what == "ok (commit)"), "{ok:?}");
        assert!(orphan.is_err());
        assert!(rows(&g).is_empty(), "nothing of the failed batch is kept");
        // the connection is usable afterwards
        g.run("after", insert("y", 2)).await.expect("after");
        assert_eq!(rows(&g), vec![("y".to_string(), 2)]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn many_concurrent_writers_all_commit_and_are_batched() {
        let g = group();
        let held = g.lock();
        let tasks: Vec<_> = (0..2000)
            .map(|i| {
                let g = g.clone();
                tokio::spawn(async move {
                    g.run("insert", move |c| {
                        c.execute("INSERT INTO t (k, v) VALUES (?1, ?2)", rusqlite::params![format!("k{i:05}"), i])
                            .map(|_| ())
                            .map_err(|e| BackendError::Invalid(e.to_string()))
                    })
                    .await
                })
            })
            .collect();
        while g.queue().len() < 2000 {
            tokio::task::yield_now().await;
        }
        drop(held);
        for t in tasks {
            t.await.expect("join").expect("insert");
        }
        // 2,000 jobs queued behind a held connection: batches of MAX_BATCH
        assert_eq!(g.stats.lock().expect("stats").total, 2000usize.div_ceil(MAX_BATCH));
        let rows = rows(&g);
        assert_eq!(rows.len(), 2000);
        assert_eq!(rows[1999], ("k01999".to_string(), 1999));
        assert!(!g.has_queued());
        // alone, a job is its own transaction, run on the caller's thread
        g.run("alone", insert("z", 0)).await.expect("alone");
        assert_eq!(g.stats.lock().expect("stats").total, 2000usize.div_ceil(MAX_BATCH) + 1);
    }
}
