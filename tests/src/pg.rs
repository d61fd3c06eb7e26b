//! A throwaway PostgreSQL cluster for tests and benchmarks: `initdb` into a
//! temp dir, `postgres` on a free loopback port with `fsync=off`, password
//! (SCRAM) authentication for [`USER`]/[`PASSWORD`]. Run as the `postgres`
//! user when the process is root. A watchdog shell owns the server: when
//! the process that started it is gone it stops the server and deletes the
//! directory, so no cluster outlives its test binary. [`shared()`] starts
//! one per process; each test creates its own database.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The superuser the cluster is created with.
pub const USER: &str = "baton";
/// Its password.
pub const PASSWORD: &str = "baton-pg-secret";

/// A running cluster.
#[derive(Debug)]
pub struct PgCluster {
    port: u16,
    dir: PathBuf,
}

static SHARED: OnceLock<PgCluster> = OnceLock::new();
static DB_COUNTER: AtomicU32 = AtomicU32::new(0);

/// The cluster shared by this process (started on first use).
pub fn shared() -> &'static PgCluster {
    SHARED.get_or_init(|| PgCluster::start(&[]).unwrap_or_else(|e| panic!("cannot start PostgreSQL: {e}")))
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false)
}

/// `cmd args…`, as the `postgres` user when we are root.
fn as_db_user(program: &str) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", program]);
        c
    } else {
        Command::new(program)
    }
}

fn free_port() -> Result<u16, String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

impl PgCluster {
    /// Starts a new cluster with extra `postgres -c name=value` settings.
    pub fn start(settings: &[(&str, &str)]) -> Result<PgCluster, String> {
        let id = format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple());
        let dir = std::env::temp_dir().join(format!("baton-pg-{id}"));
        std::fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
        let pwfile = dir.join("pw");
        std::fs::write(&pwfile, PASSWORD).map_err(|e| e.to_string())?;
        if is_root() {
            let st = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&dir)
                .status()
                .map_err(|e| format!("chown: {e}"))?;
            if !st.success() {
                return Err(format!("chown postgres {} failed", dir.display()));
            }
        }
        let data = dir.join("data");
        let out = as_db_user("initdb")
            .arg("-D")
            .arg(&data)
            .args(["-U", USER, "--auth=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync"])
            .arg(format!("--pwfile={}", pwfile.display()))
            .output()
            .map_err(|e| format!("initdb not runnable ({e}); source scripts/setup/postgres.sh"))?;
        if !out.status.success() {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(format!("initdb failed: {}", String::from_utf8_lossy(&out.stderr)));
        }
        let port = free_port()?;
        let mut args = vec![
            "-D".to_string(),
            data.display().to_string(),
            "-p".into(),
            port.to_string(),
            "-k".into(),
            dir.display().to_string(),
            "-h".into(),
            "127.0.0.1".into(),
        ];
        let mut all: Vec<(&str, &str)> = vec![
            ("fsync", "off"),
            ("synchronous_commit", "off"),
            ("full_page_writes", "off"),
            ("max_connections", "200"),
        ];
        all.extend_from_slice(settings);
        for (k, v) in all {
            args.push("-c".into());
            args.push(format!("{k}={v}"));
        }
        let quoted: Vec<String> = args.iter().map(|a| format!("'{}'", a.replace('\'', "'\\''"))).collect();
        // The watchdog: stop the server and delete its files once the
        // process that started it has exited.
        let script = format!(
            "postgres {} >'{}/server.log' 2>&1 &\n\
             pg=$!\n\
             while [ -d /proc/$BATON_PG_PARENT ] && kill -0 $pg 2>/dev/null; do sleep 0.5; done\n\
             kill -INT $pg 2>/dev/null; wait $pg\n\
             rm -rf '{}'\n",
            quoted.join(" "),
            dir.display(),
            dir.display()
        );
        as_db_user("sh")
            .arg("-c")
            .arg(script)
            .env("BATON_PG_PARENT", std::process::id().to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start postgres: {e}"))?;
        let cluster = PgCluster { port, dir };
        cluster.wait_ready()?;
        Ok(cluster)
    }

    fn wait_ready(&self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if self.psql("postgres", "SELECT 1").is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
                return Err(format!("PostgreSQL did not start on port {}:\n{log}", self.port));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The cluster's directory (data, socket, server.log).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `jdbc:postgresql://127.0.0.1:{port}/{db}`.
    pub fn jdbc_url(&self, db: &str) -> String {
        format!("jdbc:postgresql://127.0.0.1:{}/{db}", self.port)
    }

    /// A new empty database named `{prefix}_{n}`.
    pub fn create_database(&self, prefix: &str) -> String {
        let n = DB_COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("{prefix}_{}_{n}", std::process::id());
        self.psql("postgres", &format!("CREATE DATABASE {name}")).unwrap_or_else(|e| panic!("{e}"));
        name
    }

    /// A `psql` command for database `db` (password in the environment).
    pub fn psql_command(&self, db: &str) -> Command {
        let mut c = Command::new("psql");
        c.args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-U", USER, "-d", db])
            .arg("-p")
            .arg(self.port.to_string())
            .env("PGPASSWORD", PASSWORD)
            .env("PGCONNECT_TIMEOUT", "5");
        c
    }

    /// Runs `sql` with psql; the unaligned, tuples-only output.
    pub fn psql(&self, db: &str, sql: &str) -> Result<String, String> {
        let out = self
            .psql_command(db)
            .args(["-A", "-t", "-c", sql])
            .output()
            .map_err(|e| format!("psql not runnable: {e}"))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_string())
        } else {
            Err(format!("psql -c {sql:?} failed: {}", String::from_utf8_lossy(&out.stderr)))
        }
    }

    /// A single number from `sql` (panics otherwise: for test assertions).
    pub fn count(&self, db: &str, sql: &str) -> i64 {
        let s = self.psql(db, sql).unwrap_or_else(|e| panic!("{e}"));
        s.trim().parse().unwrap_or_else(|_| panic!("{sql:?} returned {s:?}, not a number"))
    }
}
