//! A throwaway MariaDB server for the MySQL task tests: Debian's
//! `mariadb-server` (`scripts/setup/mariadb.sh`), `mariadb-install-db` into
//! a temp dir, `mariadbd` on a free loopback port with a password user
//! [`USER`]/[`PASSWORD`] that may do everything. A watchdog shell owns the
//! server: once the process that started it is gone it stops the server
//! and deletes the directory. [`shared()`] starts one per process; each
//! test creates its own database.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The user the tests connect as.
pub const USER: &str = "baton";
/// Its password.
pub const PASSWORD: &str = "baton-my-secret";

/// A running server.
#[derive(Debug)]
pub struct MariaDb {
    port: u16,
    dir: PathBuf,
}

static SHARED: OnceLock<MariaDb> = OnceLock::new();
static DB_COUNTER: AtomicU32 = AtomicU32::new(0);

/// The server shared by this process (started on first use).
pub fn shared() -> &'static MariaDb {
    SHARED.get_or_init(|| MariaDb::start().unwrap_or_else(|e| panic!("cannot start MariaDB: {e}")))
}

fn free_port() -> Result<u16, String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

impl MariaDb {
    /// Creates the data directory and starts the server.
    pub fn start() -> Result<MariaDb, String> {
        let dir = std::env::temp_dir().join(format!(
            "baton-mariadb-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        let data = dir.join("data");
        std::fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
        let out = Command::new("mariadb-install-db")
            .args(["--no-defaults", "--user=root", "--auth-root-authentication-method=normal", "--skip-test-db"])
            .arg(format!("--datadir={}", data.display()))
            .output()
            .map_err(|e| format!("mariadb-install-db not runnable ({e}); source scripts/setup/mariadb.sh"))?;
        if !out.status.success() {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(format!("mariadb-install-db failed: {}", String::from_utf8_lossy(&out.stderr)));
        }
        let init = dir.join("init.sql");
        std::fs::write(
            &init,
            format!(
                "CREATE USER IF NOT EXISTS '{USER}'@'%' IDENTIFIED BY '{PASSWORD}';\n\
                 GRANT ALL PRIVILEGES ON *.* TO '{USER}'@'%' WITH GRANT OPTION;\n"
            ),
        )
        .map_err(|e| e.to_string())?;
        let port = free_port()?;
        let d = dir.display();
        let args = format!(
            "--no-defaults --user=root --datadir='{d}/data' --port={port} --bind-address=127.0.0.1 \
             --socket='{d}/sock' --pid-file='{d}/pid' --skip-name-resolve --skip-log-bin \
             --innodb-buffer-pool-size=32M --innodb-flush-log-at-trx-commit=0 --max-connections=200 \
             --init-file='{d}/init.sql'"
        );
        let script = format!(
            "mariadbd {args} >'{d}/server.log' 2>&1 &\n\
             db=$!\n\
             while [ -d /proc/$BATON_MARIADB_PARENT ] && kill -0 $db 2>/dev/null; do sleep 0.5; done\n\
             kill $db 2>/dev/null; wait $db\n\
             rm -rf '{d}'\n"
        );
        Command::new("sh")
            .arg("-c")
            .arg(script)
            .env("BATON_MARIADB_PARENT", std::process::id().to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start mariadbd: {e}"))?;
        let server = MariaDb { port, dir };
        let deadline = Instant::now() + Duration::from_secs(60);
        while server.sql("", "SELECT 1").is_err() {
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(server.dir.join("server.log")).unwrap_or_default();
                return Err(format!("MariaDB did not start on port {port}:\n{log}"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(server)
    }

    /// The TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `jdbc:mysql://127.0.0.1:{port}/{db}`.
    pub fn jdbc_url(&self, db: &str) -> String {
        format!("jdbc:mysql://127.0.0.1:{}/{db}", self.port)
    }

    /// A new empty database named `{prefix}_{n}`.
    pub fn create_database(&self, prefix: &str) -> String {
        let n = DB_COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("{prefix}_{}_{n}", std::process::id());
        self.sql("", &format!("CREATE DATABASE {name}")).unwrap_or_else(|e| panic!("{e}"));
        name
    }

    /// Runs `sql` with the `mariadb` client in database `db` ("" for
    /// none): the tab-separated rows, without column names.
    pub fn sql(&self, db: &str, sql: &str) -> Result<String, String> {
        let mut c = Command::new("mariadb");
        c.args(["--protocol=TCP", "-h", "127.0.0.1", "-u", USER, "--batch", "--skip-column-names"])
            .arg(format!("-P{}", self.port))
            .arg("--connect-timeout=5")
            .env("MYSQL_PWD", PASSWORD);
        if !db.is_empty() {
            c.arg(db);
        }
        let out = c.args(["-e", sql]).output().map_err(|e| format!("mariadb not runnable: {e}"))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_string())
        } else {
            Err(format!("mariadb -e {sql:?} failed: {}", String::from_utf8_lossy(&out.stderr)))
        }
    }
}
