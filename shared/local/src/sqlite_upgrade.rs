//! The `claims` table kept in its primary key's order (`WITHOUT ROWID`),
//! and the upgrade of a home made before schema version 3, whose claims
//! were a rowid table, or before version 4, whose claims had no `result`
//! (the result a worker keeps with its finished claim, which the sweep
//! publishes again if its message was lost).
//!
//! Why: a worker writes a claim each time it takes a task run, in a commit
//! of its own. A rowid table with a primary key is two B-trees, the rows and
//! the key's index, so each claim dirtied two pages, and every dirty page is
//! a WAL frame at each commit; clustered on the key it is one. Claims are
//! small rows, so random keys split few pages. Nothing reads claims by
//! rowid. (`metrics` are clustered too since version 5, on a key that
//! begins with the execution: `sqlite_metrics.rs`.)

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use super::sqlite::db;
use baton_backend::Result;

/// The columns, in the copy's order.
const COLUMNS: &str = "task_run_id, attempt, worker_id, lease_until, done";

const CREATE: &str = "CREATE TABLE claims (
    task_run_id TEXT NOT NULL, attempt INTEGER NOT NULL, worker_id TEXT NOT NULL,
    lease_until INTEGER NOT NULL, done INTEGER NOT NULL DEFAULT 0, result TEXT,
    PRIMARY KEY (task_run_id, attempt)) WITHOUT ROWID;";

/// Creates `claims` clustered, or rebuilds an older home's rowid table in
/// one transaction (rows kept); a home already upgraded is only read.
/// Several processes may open one fresh home at once (the functions on a
/// local backend): the change is decided again inside an IMMEDIATE
/// transaction, so one of them makes it and the others find it made.
pub(super) fn clustered_claims(conn: &Connection) -> Result<()> {
    if shape(conn)? == Shape::Current {
        return Ok(());
    }
    let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)
        .map_err(db("upgrade claims (begin)"))?;
    match shape(&tx)? {
        Shape::Current => {}
        Shape::WithoutResult => {
            tx.execute_batch("ALTER TABLE claims ADD COLUMN result TEXT").map_err(db("upgrade claims (add result)"))?
        }
        Shape::Rowid => rebuild(&tx)?,
        Shape::Absent => tx.execute_batch(CREATE).map_err(db("create the claims table"))?,
    }
    tx.commit().map_err(db("upgrade claims (commit)"))
}

/// What a home's `claims` table is.
#[derive(Debug, PartialEq, Eq)]
enum Shape {
    Absent,
    /// Before schema version 3.
    Rowid,
    /// Schema version 3.
    WithoutResult,
    Current,
}

fn shape(conn: &Connection) -> Result<Shape> {
    let found: Option<String> = conn
        .prepare_cached("SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'claims'")
        .and_then(|mut s| s.query_row([], |r| r.get(0)).optional())
        .map_err(db("upgrade claims (read schema)"))?;
    let Some(sql) = found else { return Ok(Shape::Absent) };
    if !is_clustered(&sql) {
        return Ok(Shape::Rowid);
    }
    let has_result: bool = conn
        .prepare_cached("SELECT count(*) > 0 FROM pragma_table_info('claims') WHERE name = 'result'")
        .and_then(|mut s| s.query_row([], |r| r.get(0)))
        .map_err(db("upgrade claims (read columns)"))?;
    Ok(if has_result { Shape::Current } else { Shape::WithoutResult })
}

/// Whether a table's `CREATE` statement makes it `WITHOUT ROWID`.
pub(super) fn is_clustered(sql: &str) -> bool {
    sql.to_ascii_uppercase().split_whitespace().collect::<Vec<_>>().windows(2).any(|w| w == ["WITHOUT", "ROWID"])
}

/// Renames the rowid table aside, creates the clustered one, copies the
/// rows and drops the old table (in the caller's transaction: all or nothing).
fn rebuild(tx: &Connection) -> Result<()> {
    tx.execute_batch(&format!(
        "ALTER TABLE claims RENAME TO claims_rowid;
         {CREATE}
         INSERT INTO claims ({COLUMNS}) SELECT {COLUMNS} FROM claims_rowid;
         DROP TABLE claims_rowid;"
    ))
    .map_err(db("upgrade claims (rebuild clustered on its key)"))
}

/// Six threads open `path` with `open` at once; each must succeed.
#[cfg(test)]
pub(super) fn race(open: fn(&std::path::Path) -> Result<()>, path: std::path::PathBuf) {
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(6));
    let opens: Vec<_> = (0..6)
        .map(|_| {
            let (barrier, path) = (barrier.clone(), path.clone());
            std::thread::spawn(move || {
                barrier.wait();
                open(&path)
            })
        })
        .collect();
    for o in opens {
        o.join().expect("thread").expect("every open succeeds");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `claims` as schema version 3 made it (clustered, no `result`).
    const VERSION_3: &str = "CREATE TABLE claims (
        task_run_id TEXT NOT NULL, attempt INTEGER NOT NULL, worker_id TEXT NOT NULL,
        lease_until INTEGER NOT NULL, done INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (task_run_id, attempt)) WITHOUT ROWID;";

    fn shape(conn: &Connection, name: &str) -> String {
        conn.query_row("SELECT sql FROM sqlite_schema WHERE name = ?1", [name], |r| r.get(0)).expect("schema")
    }

    /// A home from before version 3: its claims are rebuilt clustered,
    /// every row kept, nothing left aside.
    #[test]
    fn an_older_home_gets_clustered_claims_with_its_rows() {
        let conn = Connection::open_in_memory().expect("open");
        conn.execute_batch(
            "CREATE TABLE claims (
                task_run_id TEXT NOT NULL, attempt INTEGER NOT NULL, worker_id TEXT NOT NULL,
                lease_until INTEGER NOT NULL, done INTEGER NOT NULL DEFAULT 0,
                PRIMARY KEY (task_run_id, attempt));
             INSERT INTO claims VALUES ('tr1', 0, 'w', 5, 1), ('tr2', 1, 'w', 6, 0);",
        )
        .expect("old schema");
        assert!(!is_clustered(&shape(&conn, "claims")));
        clustered_claims(&conn).expect("upgrade");
        assert!(is_clustered(&shape(&conn, "claims")), "rebuilt");
        let claims: Vec<(String, i64, String, i64, i64)> = conn
            .prepare("SELECT task_run_id, attempt, worker_id, lease_until, done FROM claims ORDER BY task_run_id")
            .and_then(|mut s| {
                s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?.collect()
            })
            .expect("claims");
        assert_eq!(claims, vec![("tr1".into(), 0, "w".into(), 5, 1), ("tr2".into(), 1, "w".into(), 6, 0)]);
        let left: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_schema WHERE name LIKE 'claims_rowid%'", [], |r| r.get(0))
            .expect("count");
        assert_eq!(left, 0);
        // the key still refuses a second row for one attempt
        assert!(conn.execute("INSERT INTO claims VALUES ('tr1', 0, 'x', 1, 0)", []).is_err());
        // opening again reads the schema and changes nothing
        clustered_claims(&conn).expect("again");
        assert_eq!(conn.query_row("SELECT count(*) FROM claims", [], |r| r.get::<_, i64>(0)).expect("n"), 2);
    }

    /// A home of version 3 (clustered, no `result`) gains the column, rows kept.
    #[test]
    fn a_version_3_home_gets_the_result_column() {
        let conn = Connection::open_in_memory().expect("open");
        conn.execute_batch(&format!("{VERSION_3} INSERT INTO claims VALUES ('tr1', 1, 'w', 5, 1);"))
            .expect("version 3 schema");
        clustered_claims(&conn).expect("upgrade");
        clustered_claims(&conn).expect("again: nothing to do");
        let row: (i64, Option<String>) = conn
            .query_row("SELECT done, result FROM claims WHERE task_run_id = 'tr1'", [], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("row");
        assert_eq!(row, (1, None));
        conn.execute("UPDATE claims SET result = '{}' WHERE task_run_id = 'tr1'", []).expect("result column");
    }

    /// Functions on a local backend open one home at once: each open
    /// succeeds, whether the home is fresh or of version 3 (one of them
    /// makes the change, the others find it made).
    #[test]
    fn homes_opened_by_several_processes_at_once_are_made_and_upgraded_once() {
        let dir = std::env::temp_dir().join(format!("baton-claims-race-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("dir");
        race(|p| super::super::sqlite::SqliteStore::open(p).map(drop), dir.join("fresh.db"));

        let v3 = dir.join("v3.db");
        let conn = Connection::open(&v3).expect("open");
        conn.execute_batch(&format!("PRAGMA journal_mode = WAL; {VERSION_3}")).expect("version 3 claims");
        drop(conn);
        race(
            |p| {
                let conn = Connection::open(p).map_err(db("open"))?;
                conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(db("busy timeout"))?;
                clustered_claims(&conn)
            },
            v3.clone(),
        );
        let conn = Connection::open(&v3).expect("open");
        assert_eq!(super::shape(&conn).expect("shape"), Shape::Current);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_fresh_home_creates_claims_clustered() {
        let conn = Connection::open_in_memory().expect("open");
        clustered_claims(&conn).expect("create");
        assert!(is_clustered(&shape(&conn, "claims")));
        assert!(is_clustered("CREATE TABLE x (a PRIMARY KEY) without\n rowid"));
        assert!(!is_clustered("CREATE TABLE x (without_rowid TEXT)"));
    }
}
