//! Google's own Firestore and Pub/Sub emulators (from the Cloud SDK on the
//! machine) for the GCP backend tests, started once per test process on
//! free local ports: `gcloud emulators firestore start` and `gcloud beta
//! emulators pubsub start`, each in its own session (`setsid`), polled until
//! they answer `Ok`, and killed with their process group by a watchdog once
//! the test process exits (test binaries never run static destructors).
//! GCS comes from [`crate::emulators`] (fake-gcs-server on port 80).
//!
//! Tests isolate themselves by project: both emulators keep one database /
//! one set of topics per project id, so each test uses its own.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The running emulators.
#[derive(Debug)]
pub struct GcpEmulators {
    /// `127.0.0.1:PORT` (`FIRESTORE_EMULATOR_HOST`).
    pub firestore_host: String,
    /// `127.0.0.1:PORT` (`PUBSUB_EMULATOR_HOST`).
    pub pubsub_host: String,
    /// Logs and data.
    pub dir: PathBuf,
}

static GCP_EMULATORS: OnceLock<GcpEmulators> = OnceLock::new();

/// The Firestore and Pub/Sub emulators, started on first use. Panics with
/// the emulator's log when one cannot start.
pub fn gcp_emulators() -> &'static GcpEmulators {
    GCP_EMULATORS
        .get_or_init(|| start().unwrap_or_else(|e| panic!("cannot start the Firestore/Pub/Sub emulators: {e}")))
}

/// A configuration on the emulators (fake-gcs-server for GCS), with a
/// fresh project and bucket name.
pub fn gcp_config(prefix: &str) -> shared::backend::gcp::GcpConfig {
    let gcp = gcp_emulators();
    let project = fresh_project(prefix);
    shared::backend::gcp::GcpConfig {
        bucket: format!("baton-{project}"),
        project,
        database: shared::backend::gcp::DEFAULT_DATABASE.to_string(),
        firestore_emulator: Some(gcp.firestore_host.clone()),
        pubsub_emulator: Some(gcp.pubsub_host.clone()),
        storage_emulator: Some(crate::emulators::emulators().storage_host.clone()),
        seal_key: Some(test_seal_key()),
        previous_seal_keys: Vec::new(),
    }
}

/// The `BATON_SEAL_KEY` of the tests' deployments (32 fixed bytes).
pub fn test_seal_key() -> shared::backend::seal::SealKey {
    shared::backend::seal::SealKey::parse("c2VhbGVkLWluLWZpcmVzdG9yZS1mb3ItdGhlLXRlc3Q=").expect("a 32-byte key")
}

/// The backends of a fresh project, with its bucket created.
pub async fn gcp_backends(prefix: &str) -> shared::backend::gcp::GcpBackends {
    let b = shared::backend::gcp::GcpBackends::from_config(gcp_config(prefix)).await.expect("connect the GCP backends");
    b.storage.ensure_bucket(&b.config.project).await.expect("create the bucket");
    b
}

/// An engine on `b` with the built-in plugins, as a function builds one.
pub fn gcp_engine(b: &shared::backend::gcp::GcpBackends) -> std::sync::Arc<shared::runtime::engine::Engine> {
    gcp_engine_with(b, None)
}

/// The router of function `handler` on a fresh engine over `b` reading its
/// flows from `flows` (verification off, the `core` group).
pub async fn function_router(
    b: &shared::backend::gcp::GcpBackends,
    handler: shared::functions::Handler,
    flows: &shared::functions::flows::FlowSource,
) -> axum::Router {
    let opts = shared::functions::FunctionOptions::unauthenticated();
    shared::functions::router(handler, gcp_engine_with(b, Some(flows.clone())), &opts).await
}

/// An engine on `b` reading its flows from `flows`, as a function builds one.
pub fn gcp_engine_with(
    b: &shared::backend::gcp::GcpBackends,
    flows: Option<shared::functions::flows::FlowSource>,
) -> std::sync::Arc<shared::runtime::engine::Engine> {
    let storage: std::sync::Arc<dyn shared::backend::Storage> = b.storage.clone();
    let wiring = shared::functions::function_wiring(flows.as_ref(), None, &storage);
    shared::runtime::engine::Engine::new(shared::runtime::engine::EngineConfig {
        state: b.state.clone(),
        kv: b.state.clone(),
        storage: b.storage.clone(),
        queue: b.queue.clone(),
        registry: shared::plugins::Registry::builtin(),
        secrets: Default::default(),
        envs: Default::default(),
        work_root: std::env::temp_dir().join(format!("baton-fn-gcp-{}", b.config.project)),
        plugins: Default::default(),
        echo_logs: false,
        progress: None,
        wiring,
    })
}

/// Creates topic `topic` of `project` (if absent) and `copies` push
/// subscriptions on it to `endpoint`, through the Pub/Sub emulator's REST API.
pub async fn push_subscriptions(http: &reqwest::Client, project: &str, topic: &str, endpoint: &str, copies: usize) {
    let base = format!("http://{}/v1/projects/{project}", gcp_emulators().pubsub_host);
    let r = http.put(format!("{base}/topics/{topic}")).send().await.expect("create topic");
    assert!(r.status().is_success() || r.status() == 409, "topic {topic}: {}", r.status());
    for n in 0..copies {
        let sub = serde_json::json!({
            "topic": format!("projects/{project}/topics/{topic}"),
            "pushConfig": {"pushEndpoint": endpoint},
            "ackDeadlineSeconds": 60,
            "retryPolicy": {"minimumBackoff": "0.2s", "maximumBackoff": "2s"},
        });
        let r = http.put(format!("{base}/subscriptions/{topic}-push-{n}")).json(&sub).send().await.expect("subscribe");
        assert!(r.status().is_success(), "push subscription on {topic}: {}", r.text().await.unwrap_or_default());
    }
}

/// A fresh project id: the emulators keep each project's data apart.
pub fn fresh_project(prefix: &str) -> String {
    format!("{prefix}-{}", &uuid::Uuid::new_v4().simple().to_string()[..10])
}

fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("cannot bind 127.0.0.1:0: {e}"))?;
    l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

/// True when `GET /` on `addr` answers 200 `Ok` (both emulators do when ready).
fn answers_ok(addr: &str) -> bool {
    let Ok(sock) = addr.parse::<SocketAddr>() else { return false };
    let Ok(mut s) = TcpStream::connect_timeout(&sock, Duration::from_millis(300)) else { return false };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let req = format!("GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if s.write_all(req.as_bytes()).is_err() {
        return false;
    }
    let mut resp = String::new();
    let _ = s.read_to_string(&mut resp);
    resp.starts_with("HTTP/1.1 200") && resp.trim_end().ends_with("Ok")
}

fn spawn(args: &[&str], log: &Path) -> Result<Child, String> {
    let out = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    Command::new("setsid")
        .args(args)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("cannot start {args:?}: {e}"))
}

fn wait_ready(what: &str, child: &mut Child, addr: &str, log: &Path, timeout: Duration) -> Result<(), String> {
    let start = Instant::now();
    loop {
        if answers_ok(addr) {
            return Ok(());
        }
        let log_text = || std::fs::read_to_string(log).unwrap_or_default();
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("{what} exited ({status}) before it was ready:\n{}", log_text()));
        }
        if start.elapsed() > timeout {
            return Err(format!("{what} was not ready on {addr} after {timeout:?}:\n{}", log_text()));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Kills the emulators' process groups once this process is gone, then
/// removes `dir`.
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

fn start() -> Result<GcpEmulators, String> {
    let dir = std::env::temp_dir().join(format!("baton-gcp-backends-{}", std::process::id()));
    let pubsub_data = dir.join("pubsub");
    std::fs::create_dir_all(&pubsub_data).map_err(|e| format!("{}: {e}", pubsub_data.display()))?;
    let mut pids = Vec::new();
    let result = start_in(&dir, &pubsub_data, &mut pids);
    // whatever happened, nothing outlives this process
    watchdog(&pids, &dir)?;
    result
}

fn start_in(dir: &Path, pubsub_data: &Path, pids: &mut Vec<u32>) -> Result<GcpEmulators, String> {
    // both start at once (Firestore ~5 s, Pub/Sub ~2.5 s), then are polled
    let fs_log = dir.join("firestore.log");
    let fs_args = |host: &str| {
        vec![
            "gcloud".into(),
            "emulators".into(),
            "firestore".into(),
            "start".into(),
            format!("--host-port={host}"),
            "--quiet".into(),
        ]
    };
    let mut firestore = Starting::spawn("the Firestore emulator", &fs_log, fs_args, pids)?;
    let ps_log = dir.join("pubsub.log");
    let data_arg = format!("--data-dir={}", pubsub_data.display());
    let ps_args = |host: &str| {
        let mut a: Vec<String> = ["gcloud", "beta", "emulators", "pubsub", "start"].map(String::from).to_vec();
        a.extend([format!("--host-port={host}"), data_arg.clone(), "--quiet".into()]);
        a
    };
    let mut pubsub = Starting::spawn("the Pub/Sub emulator", &ps_log, ps_args, pids)?;
    let firestore_host = firestore.ready(fs_args, pids)?;
    let pubsub_host = pubsub.ready(ps_args, pids)?;
    Ok(GcpEmulators { firestore_host, pubsub_host, dir: dir.to_path_buf() })
}

/// How many times an emulator is started on a fresh port when it exits
/// before it is ready: a free port picked here can be taken by another
/// process (another test binary, the emulator's own WebSocket port) before
/// the emulator binds it (`java.net.BindException: Address already in use`).
const START_ATTEMPTS: usize = 4;

/// An emulator being started on a free port.
struct Starting {
    what: &'static str,
    log: PathBuf,
    child: Child,
    host: String,
}

impl Starting {
    fn spawn(
        what: &'static str,
        log: &Path,
        args: impl Fn(&str) -> Vec<String>,
        pids: &mut Vec<u32>,
    ) -> Result<Self, String> {
        let host = format!("127.0.0.1:{}", free_port()?);
        let argv = args(&host);
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        let child = spawn(&argv, log)?;
        pids.push(child.id());
        Ok(Starting { what, log: log.to_path_buf(), child, host })
    }

    /// Waits until it answers, starting it again on a fresh port when it
    /// exits first; returns its `host:port`.
    fn ready(&mut self, args: impl Fn(&str) -> Vec<String>, pids: &mut Vec<u32>) -> Result<String, String> {
        let mut attempt = 1;
        loop {
            match wait_ready(self.what, &mut self.child, &self.host, &self.log, Duration::from_secs(90)) {
                Ok(()) => return Ok(self.host.clone()),
                Err(e) if attempt < START_ATTEMPTS && matches!(self.child.try_wait(), Ok(Some(_))) => {
                    eprintln!("{e}\n(starting it again on another port, attempt {} of {START_ATTEMPTS})", attempt + 1);
                    attempt += 1;
                    *self = Starting::spawn(self.what, &self.log, &args, pids)?;
                }
                Err(e) => return Err(e),
            }
        }
    }
}
