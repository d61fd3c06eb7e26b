//! Task logs on GCP: the api function's `GET /api/v1/logs/{executionId}`
//! (Kestra's `LogEntry` list and filters, the local server's code), and
//! every task log line as a Cloud Logging entry on a function's stdout.
//! The functions run in-process here, so the executor and worker below
//! write their entries to a buffer through the same [`TaskLogEcho`] the
//! function runtime puts on stdout (`functions/tests/binaries.rs` reads a
//! real worker process's stdout).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use e2e::functions::{Cluster, ClusterOptions, Served, SharedBackends, serve};
use serde_json::{Map, Value, json};
use shared::backend::{StateStore, Topic};
use shared::functions::logging::TaskLogEcho;
use shared::functions::{FunctionOptions, Handler};
use shared::model::StateType;
use shared::runtime::engine::{Engine, EngineConfig};
use shared::runtime::secrets::Secrets;

const NS: &str = "test.functions";
const SECRET: &str = "hunter2-very-secret";

/// Lines at every level from the worker, and an ERROR from the executor
/// (a subflow that does not exist).
const LOGS: &str = r#"
id: logs
namespace: test.functions
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: "hello {{ secret('PASSWORD') }} from baton"
  - id: careful
    type: io.kestra.plugin.core.log.Log
    level: WARN
    message: ["careful", "very careful"]
  - id: detail
    type: io.kestra.plugin.core.log.Log
    level: DEBUG
    message: "detail"
  - id: missing
    type: io.kestra.plugin.core.flow.Subflow
    namespace: test.functions
    flowId: nope
"#;

/// What the functions wrote on "stdout".
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Buffer {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().map_err(|_| std::io::Error::other("poisoned"))?.extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buffer {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().expect("lock").clone()).expect("utf8")
    }
}

/// A cluster whose executor and worker know the secret and echo task logs into `out`.
struct Echoing {
    cluster: Cluster,
    out: Buffer,
    _functions: Vec<Served>,
}

fn echo_engine(b: &SharedBackends, out: &Buffer) -> Arc<Engine> {
    let out = out.clone();
    let secret = base64::engine::general_purpose::STANDARD.encode(SECRET);
    let storage: Arc<dyn shared::backend::Storage> = b.storage.clone();
    Engine::new(EngineConfig {
        state: Arc::new(TaskLogEcho::new(b.state.clone(), move || out.clone(), Some("test-proj".into()))),
        kv: b.state.clone(),
        storage: b.storage.clone(),
        queue: Arc::new(b.relay.clone()),
        registry: shared::plugins::Registry::builtin(),
        secrets: Secrets::from_vars([("SECRET_PASSWORD".to_string(), secret)]),
        envs: Map::new(),
        work_root: b.work_root.clone(),
        plugins: Default::default(),
        echo_logs: false,
        progress: None,
        wiring: shared::functions::function_wiring(b.flows.as_ref(), Some(b.state.clone()), &storage),
    })
}

impl Echoing {
    async fn start() -> Echoing {
        let cluster = Cluster::start(ClusterOptions {
            flows: vec![("logs.yaml".into(), LOGS.into())],
            ..ClusterOptions::default()
        })
        .await;
        let out = Buffer::default();
        let opts = FunctionOptions::unauthenticated();
        let mut functions = Vec::new();
        for (handler, topic) in [(Handler::Executor, Topic::Executions), (Handler::Worker, Topic::Tasks("core".into()))]
        {
            let router = shared::functions::router(handler, echo_engine(&cluster.backends, &out), &opts).await;
            let served = serve(router).await;
            cluster.relay.route(&topic.name(), &served.url);
            functions.push(served);
        }
        Echoing { cluster, out, _functions: functions }
    }

    /// Runs the flow to its end; returns the execution id.
    async fn run(&self) -> String {
        let id = self.cluster.launch("test.functions", "logs", json!({})).await;
        let exec = self.cluster.wait(&id).await;
        assert_eq!(exec.state.current, StateType::Failed, "the subflow does not exist");
        self.cluster.relay.idle().await;
        id
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let resp = self.cluster.http.get(format!("{}{path}", self.cluster.api.url)).send().await.expect("GET");
        let status = resp.status().as_u16();
        (status, resp.json().await.expect("a JSON body"))
    }
}

fn messages(logs: &Value) -> Vec<&str> {
    logs.as_array().expect("a JSON array").iter().map(|l| l["message"].as_str().expect("message")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_function_lists_an_executions_logs_like_kestra() {
    let fx = Echoing::start().await;
    let id = fx.run().await;

    let (status, all) = fx.get(&format!("api/v1/logs/{id}")).await;
    assert_eq!(status, 200, "{all}");
    let lines = all.as_array().expect("array");
    let hello = lines.iter().find(|l| l["taskId"] == "hello").expect("the hello line");
    assert_eq!(hello["message"], "hello ****** from baton");
    assert_eq!(
        (&hello["namespace"], &hello["flowId"], &hello["executionId"]),
        (&json!(NS), &json!("logs"), &json!(id))
    );
    assert_eq!((&hello["level"], &hello["attemptNumber"]), (&json!("INFO"), &json!(1)));
    assert!(hello["taskRunId"].is_string() && hello["timestamp"].is_string(), "{hello}");
    let levels: Vec<&str> = lines.iter().filter_map(|l| l["level"].as_str()).collect();
    for level in ["DEBUG", "INFO", "WARN", "ERROR"] {
        assert!(levels.contains(&level), "a {level} line: {all}");
    }
    let error = lines.iter().find(|l| l["level"] == "ERROR").expect("the executor's line");
    assert!(error["message"].as_str().is_some_and(|m| m.contains("nope")), "{error}");
    assert!(!all.to_string().contains(SECRET));

    // Kestra's filters, under both path styles
    let (_, warn) = fx.get(&format!("api/v1/logs/{id}?minLevel=WARN")).await;
    assert!(warn.as_array().expect("array").iter().all(|l| l["level"] == "WARN" || l["level"] == "ERROR"), "{warn}");
    assert_eq!(warn.as_array().map(Vec::len), Some(3), "{warn}");
    let (_, main) = fx.get(&format!("api/v1/main/logs/{id}?minLevel=warn")).await;
    assert_eq!(main, warn);
    let (_, careful) = fx.get(&format!("api/v1/main/logs/{id}?taskId=careful")).await;
    assert_eq!(messages(&careful), ["careful", "very careful"]);
    let (_, none) = fx.get(&format!("api/v1/logs/{id}?taskId=careful&minLevel=ERROR")).await;
    assert_eq!(none, json!([]));
    let run = hello["taskRunId"].as_str().expect("task run id");
    let (_, by_run) = fx.get(&format!("api/v1/logs/{id}?taskRunId={run}&attempt=1")).await;
    assert_eq!(messages(&by_run), ["hello ****** from baton"]);

    // errors are JSON
    let (status, body) = fx.get("api/v1/logs/nope").await;
    assert_eq!((status, body["message"].as_str()), (404, Some("execution nope not found")));
    let (status, body) = fx.get(&format!("api/v1/logs/{id}?minLevel=LOUD")).await;
    assert_eq!(status, 400);
    assert!(body["message"].as_str().is_some_and(|m| m.contains("LOUD")), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_task_log_line_is_a_cloud_logging_entry_on_stdout() {
    let fx = Echoing::start().await;
    let id = fx.run().await;
    let text = fx.out.text();
    assert!(!text.contains(SECRET), "a clear secret on stdout: {text}");
    let entries: Vec<Value> =
        text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))).collect();
    let ours: Vec<&Value> =
        entries.iter().filter(|e| e["logging.googleapis.com/labels"]["executionId"] == id.as_str()).collect();

    // every stored line printed once, as stored (masked the same way)
    let stored = fx.cluster.backends.state.logs(&id).await.expect("logs");
    let mut printed: Vec<&str> = ours.iter().map(|e| e["message"].as_str().expect("message")).collect();
    let mut kept: Vec<&str> = stored.iter().map(|l| l.message.as_str()).collect();
    printed.sort_unstable();
    kept.sort_unstable();
    assert_eq!(printed, kept);

    let hello = stored.iter().find(|l| l.task_id.as_deref() == Some("hello")).expect("stored hello");
    let entry = ours.iter().find(|e| e["message"] == "hello ****** from baton").expect("hello on stdout");
    assert_eq!(entry["severity"], "INFO");
    let time = chrono::DateTime::parse_from_rfc3339(entry["time"].as_str().expect("time")).expect("RFC 3339");
    assert_eq!(time, hello.timestamp, "the line's own time");
    assert_eq!(
        entry["logging.googleapis.com/labels"],
        json!({"executionId": id, "namespace": NS, "flowId": "logs", "taskId": "hello",
            "taskRunId": hello.task_run_id, "attemptNumber": "1"})
    );
    let severities: HashMap<&str, &str> =
        ours.iter().filter_map(|e| Some((e["message"].as_str()?, e["severity"].as_str()?))).collect();
    assert_eq!((severities["detail"], severities["careful"]), ("DEBUG", "WARNING"));
    let error = ours.iter().find(|e| e["severity"] == "ERROR").expect("the executor's ERROR line on stdout");
    assert!(error["message"].as_str().is_some_and(|m| m.contains("nope")), "{error}");
}
