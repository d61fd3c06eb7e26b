//! Test helpers: a fresh embedded engine in a temp home, flows from YAML
//! strings, and a tiny local HTTP server (no test reaches the internet).

use std::path::PathBuf;

use serde_json::{Map, Value};
use shared::model::{Execution, Flow};
use shared::runtime::embedded::{Embedded, LocalOptions};
use shared::runtime::launcher::LaunchRequest;
use shared::runtime::secrets::Secrets;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A test's temporary folder, removed when dropped (as a struct's last
/// field: after the engine using it is gone).
pub struct TempHome(pub PathBuf);

impl Drop for TempHome {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub struct Harness {
    pub embedded: Embedded,
    pub home: PathBuf,
    _removed: TempHome,
}

pub fn harness_with(secrets: Secrets) -> Harness {
    harness_with_secrets_and_plugins(secrets, Default::default())
}

pub fn harness() -> Harness {
    harness_with(Secrets::default())
}

impl Harness {
    /// Parses, validates and registers a flow.
    pub fn flow(&self, yaml: &str) -> std::sync::Arc<Flow> {
        let registry = shared::plugins::Registry::builtin();
        let renderer = shared::template::Renderer::new();
        let (flow, diags) = shared::validate::validate_source("test.yaml", yaml, &registry, &renderer);
        assert!(diags.is_empty(), "invalid test flow: {diags:?}");
        self.embedded.engine.flows.insert(flow.expect("flow"))
    }

    /// Runs a flow to the end.
    pub async fn run(&self, yaml: &str, inputs: Value) -> Execution {
        let flow = self.flow(yaml);
        self.run_flow(&flow, inputs).await
    }

    pub async fn run_flow(&self, flow: &Flow, inputs: Value) -> Execution {
        let req = LaunchRequest { inputs: inputs.as_object().cloned().unwrap_or_default(), ..LaunchRequest::default() };
        self.launch_and_wait(flow, req).await
    }

    /// Runs a flow as its trigger `trigger_id` (of type `trigger_type`)
    /// starts it, `variables` being what `{{ trigger.* }}` reads (a
    /// webhook's `body`, `headers`…).
    pub async fn run_triggered(&self, yaml: &str, trigger_id: &str, trigger_type: &str, variables: Value) -> Execution {
        let flow = self.flow(yaml);
        let trigger = shared::model::TriggerContext {
            id: trigger_id.to_string(),
            type_: trigger_type.to_string(),
            variables: variables.as_object().cloned().unwrap_or_default(),
        };
        self.launch_and_wait(&flow, LaunchRequest { trigger: Some(trigger), ..LaunchRequest::default() }).await
    }

    async fn launch_and_wait(&self, flow: &Flow, req: LaunchRequest) -> Execution {
        let updates = self.embedded.updates();
        let exec = self.embedded.launch(flow, req).await.expect("launch");
        let wait = self.embedded.wait(&exec.id, updates, |_| {});
        // a hang guard: dbt and container flows take over a minute on a
        // loaded 2-core machine
        tokio::time::timeout(std::time::Duration::from_secs(240), wait)
            .await
            .expect("execution timed out")
            .expect("wait")
    }

    /// Runs `yaml` with no inputs; a test failure (with the error and the
    /// logs) unless it succeeds.
    pub async fn run_ok(&self, yaml: &str) -> Execution {
        let e = self.run(yaml, serde_json::json!({})).await;
        assert_eq!(e.state.current, shared::model::StateType::Success, "{:?}\n{:?}", e.error, self.logs(&e.id).await);
        e
    }

    pub async fn logs(&self, id: &str) -> Vec<String> {
        self.embedded.engine.state.logs(id).await.expect("logs").into_iter().map(|l| l.message).collect()
    }
}

/// The task runs of `task_id`.
pub fn runs<'a>(e: &'a Execution, task_id: &str) -> Vec<&'a shared::model::TaskRun> {
    e.task_run_list.iter().filter(|t| t.task_id == task_id).collect()
}

/// The outputs of `task`'s first run (a test failure when it has none).
pub fn outputs<'a>(e: &'a Execution, task: &str) -> &'a serde_json::Map<String, Value> {
    runs(e, task).first().and_then(|t| t.outputs.as_ref()).unwrap_or_else(|| panic!("no outputs of {task}"))
}

/// A secret as Baton reads it from the environment (`SECRET_{name}`, its
/// value base64-encoded), for `Secrets::from_vars`.
pub fn secret(name: &str, value: &str) -> (String, String) {
    use base64::Engine as _;
    (format!("SECRET_{name}"), base64::engine::general_purpose::STANDARD.encode(value))
}

/// Serves `app` on a random local port; its base URL (`http://127.0.0.1:{port}`).
pub async fn serve_app(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

/// Serves `body` for any GET on a random local port; returns the base URL.
pub async fn serve(body: Vec<u8>, status: u16) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else { break };
            let body = body.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let _ = sock.read(&mut buf).await;
                let head = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: {}\r\ncontent-type: text/csv\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = sock.write_all(head.as_bytes()).await;
                let _ = sock.write_all(&body).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    format!("http://{addr}")
}

/// A harness whose plugins get `plugins` (script runners, caches…).
pub fn harness_with_plugins(plugins: shared::plugins::PluginConfig) -> Harness {
    harness_with_secrets_and_plugins(Secrets::default(), plugins)
}

/// A harness with `secrets` whose plugins get `plugins`.
pub fn harness_with_secrets_and_plugins(secrets: Secrets, plugins: shared::plugins::PluginConfig) -> Harness {
    let home = std::env::temp_dir().join(format!("baton-e2e-{}", uuid::Uuid::new_v4()));
    let embedded = Embedded::open_local(LocalOptions {
        home: home.clone(),
        workers: 8,
        echo_logs: false,
        secrets,
        envs: Map::new(),
        progress: None,
        plugins,
        sweep_in_background: false,
    })
    .expect("open embedded engine");
    Harness { embedded, _removed: TempHome(home.clone()), home }
}

impl Harness {
    /// The bytes of a `kestra://` file in internal storage.
    pub async fn read_storage(&self, uri: &str) -> Vec<u8> {
        let path = shared::backend::storage_path(uri).expect("kestra:// URI");
        let mut r = self.embedded.engine.storage.get(&path).await.expect("stored file");
        let mut buf = Vec::new();
        r.read_to_end(&mut buf).await.expect("read stored file");
        buf
    }

    /// The logs of an execution with their levels.
    pub async fn leveled_logs(&self, id: &str) -> Vec<(String, String)> {
        self.embedded.engine.state.logs(id).await.expect("logs").into_iter().map(|l| (l.level, l.message)).collect()
    }
}

/// `baton` next to this test binary's `deps/` folder (`scripts/test.sh` builds it with `cargo build --workspace --bins`).
pub fn baton_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("BATON_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("test binary path");
    let p = exe.parent().and_then(|d| d.parent()).expect("target dir").join("baton");
    assert!(p.exists(), "{} is missing: build it with `cargo build -p shared --bin baton`", p.display());
    p
}
