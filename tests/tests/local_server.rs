//! `baton server local` as a process for the tests that need the real
//! binary (crash consistency, process hygiene, the secrets sweep, path
//! traversal): started on a free port over a folder's `home` and `flows`,
//! killed with `kill -9` or ended with SIGTERM, and the `/proc` helpers
//! that find a test's processes by a marker in their command line.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::baton_bin;

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// A running `baton server local`.
pub struct LocalServer {
    pub child: Child,
    pub port: u16,
    /// Its stderr (tracing's log), `dir/server-<port>.log`.
    pub log: PathBuf,
}

impl LocalServer {
    /// Starts it over `dir/home` and `dir/flows` with `workers` workers and
    /// the extra environment `env`, and waits until `/healthz` answers.
    pub async fn start(dir: &Path, workers: usize, env: &[(&str, &str)]) -> LocalServer {
        let port = free_port();
        let log = dir.join(format!("server-{port}.log"));
        let stderr = std::fs::File::create(&log).expect("server log file");
        let mut cmd = Command::new(baton_bin());
        cmd.args(["server", "local", "--port", &port.to_string(), "--workers", &workers.to_string(), "--flows"])
            .arg(dir.join("flows"))
            .arg("--home")
            .arg(dir.join("home"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn baton server local");
        let deadline = Instant::now() + Duration::from_secs(60);
        let url = format!("http://127.0.0.1:{port}/healthz");
        while Instant::now() < deadline {
            if reqwest::get(&url).await.is_ok_and(|r| r.status().is_success()) {
                return LocalServer { child, port, log };
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("the server did not answer /healthz within 60 s");
    }

    /// `http://127.0.0.1:<port>/api/v1<path>`.
    pub fn api(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/api/v1{path}", self.port)
    }

    /// `kill -9`, then reaps it.
    pub fn kill_9(mut self) {
        self.child.kill().expect("kill -9");
        let _ = self.child.wait();
    }
}

/// A fresh folder under the temporary directory with `flows/` in it.
pub fn test_dir(prefix: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("{prefix}-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(dir.join("flows")).expect("flows folder");
    dir
}

/// A live process: its pid and start time (`/proc/<pid>/stat` field 22),
/// so a recycled pid is never taken for it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Proc {
    pub pid: u32,
    pub start: String,
    pub cmdline: String,
}

fn start_time(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit_once(')')?.1;
    // a zombie has ended: only its exit status is left for its parent
    if rest.trim_start().starts_with('Z') {
        return None;
    }
    rest.split_whitespace().nth(19).map(str::to_string)
}

/// The live processes whose command line holds `marker`.
pub fn procs_with(marker: &str) -> Vec<Proc> {
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    let mut out: Vec<Proc> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&raw).replace('\0', " ");
            if !cmdline.contains(marker) {
                return None;
            }
            Some(Proc { pid, start: start_time(pid)?, cmdline })
        })
        .collect();
    out.sort();
    out
}

/// True while this very process (same pid, same start time) runs.
pub fn alive(p: &Proc) -> bool {
    start_time(p.pid).as_deref() == Some(p.start.as_str())
}

/// Waits until `check` holds, polling every 50 ms for at most `within`.
pub async fn wait_for(within: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if check() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Kills whatever still holds `marker` when dropped: a failing test leaves
/// no `sleep 300` behind on the machine.
pub struct KillOnDrop(pub String);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        for p in procs_with(&self.0) {
            if let Some(pid) = i32::try_from(p.pid).ok().and_then(rustix::process::Pid::from_raw) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            }
        }
    }
}
