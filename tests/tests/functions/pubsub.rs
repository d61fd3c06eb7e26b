//! The functions on the GCP backends against Google's emulators, fed by
//! real push subscriptions: the Pub/Sub emulator POSTs each message to the
//! executor or worker function over HTTP. Every topic has two push
//! subscriptions to the same function, so every message is delivered twice,
//! concurrently and in no particular order. State is in the Firestore
//! emulator, files in fake-gcs-server; flows start through the API function.

use std::time::Duration;

use e2e::functions::{Effects, Served, serve};
use e2e::gcp_emulators::{function_router, gcp_backends, push_subscriptions};
use serde_json::{Value, json};
use shared::backend::gcp::GcpBackends;
use shared::backend::{StateStore, Topic};
use shared::functions::Handler;
use shared::functions::flows::FlowSource;
use shared::model::{Execution, StateType};
use shared::runtime::embedded::{Embedded, LocalOptions};
use shared::runtime::launcher::LaunchRequest;

use super::{AT_LEAST_ONCE, FAILING, runs_of};

struct GcpFunctions {
    backends: GcpBackends,
    api: Served,
    _executor: Served,
    _worker: Served,
    http: reqwest::Client,
}

async fn start(flows: &std::path::Path, copies: usize) -> GcpFunctions {
    let backends = gcp_backends("fn").await;
    let project = backends.config.project.clone();
    let flows = FlowSource::Dir(flows.to_path_buf());
    let executor = serve(function_router(&backends, Handler::Executor, &flows).await).await;
    let worker = serve(function_router(&backends, Handler::Worker, &flows).await).await;
    let api = serve(function_router(&backends, Handler::Api, &flows).await).await;
    let http = reqwest::Client::new();
    push_subscriptions(&http, &project, &Topic::Executions.name(), &executor.url, copies).await;
    let tasks = Topic::Tasks("core".into()).name();
    push_subscriptions(&http, &project, &tasks, &worker.url, copies).await;
    GcpFunctions { backends, api, _executor: executor, _worker: worker, http }
}

impl GcpFunctions {
    async fn launch(&self, namespace: &str, flow: &str, inputs: Value) -> String {
        let url = format!("{}api/v1/executions/{namespace}/{flow}", self.api.url);
        let resp = self.http.post(url).json(&inputs).send().await.expect("start");
        let status = resp.status();
        let body: Value = resp.json().await.expect("json");
        assert_eq!(status, 200, "{body}");
        body["id"].as_str().expect("id").to_string()
    }

    async fn wait(&self, id: &str) -> Execution {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
        loop {
            let e = self.backends.state.load_execution(id).await.expect("load").expect("exists");
            if e.state.is_terminal() {
                return e;
            }
            assert!(tokio::time::Instant::now() < deadline, "execution {id} did not end: {}", e.state.current);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// `(task id, value, state)` of every task run, sorted.
fn shape(e: &Execution) -> Vec<(String, String, StateType)> {
    let mut v: Vec<_> = e
        .task_run_list
        .iter()
        .map(|t| (t.task_id.clone(), t.value.clone().unwrap_or_default(), t.state.current))
        .collect();
    v.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    v
}

async fn embedded_run(yaml_path: &std::path::Path) -> Execution {
    let home = std::env::temp_dir().join(format!("baton-fn-embedded-{}", uuid::Uuid::new_v4()));
    let embedded = Embedded::open_local(LocalOptions {
        home: home.clone(),
        workers: 4,
        echo_logs: false,
        secrets: Default::default(),
        envs: Default::default(),
        progress: None,
        plugins: Default::default(),
        sweep_in_background: false,
    })
    .expect("embedded");
    let flow = shared::runtime::flows::FlowRepository::load_file(
        yaml_path,
        &embedded.engine.registry,
        &embedded.engine.renderer,
    )
    .expect("example flow");
    let flow = embedded.engine.flows.insert(flow);
    let updates = embedded.updates();
    let exec = embedded.launch(&flow, LaunchRequest::default()).await.expect("launch");
    let done = embedded.wait(&exec.id, updates, |_| {}).await.expect("wait");
    embedded.shutdown();
    let _ = std::fs::remove_dir_all(&home);
    done
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn flows_run_on_gcp_backends_through_push_subscriptions_delivering_twice() {
    let dir = std::env::temp_dir().join(format!("baton-fn-gcp-flows-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("flows dir");
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/hello_world.yaml");
    std::fs::copy(&example, dir.join("hello_world.yaml")).expect("copy the example");
    std::fs::write(dir.join("ok.yaml"), AT_LEAST_ONCE).expect("flow");
    std::fs::write(dir.join("failing.yaml"), FAILING).expect("flow");
    let effects = Effects::start().await;
    let fns = start(&dir, 2).await;

    let hello = fns.launch("company.team", "hello_world", json!({})).await;
    let ok = fns.launch("test.functions", "at_least_once", json!({"server": effects.url, "tag": "g0"})).await;
    let failing = fns.launch("test.functions", "failing", json!({"server": effects.url, "tag": "g1"})).await;

    let hello = fns.wait(&hello).await;
    let reference = embedded_run(&example).await;
    assert_eq!(hello.state.current, reference.state.current, "{:?}", hello.error);
    assert_eq!(hello.state.current, StateType::Success);
    assert_eq!(shape(&hello), shape(&reference), "the same task runs end the same way on both runtimes");
    let summary = |e: &Execution| {
        runs_of(e, "summary")[0].outputs.as_deref().cloned().unwrap_or_default()["values"]["files"].clone()
    };
    assert_eq!(summary(&hello), summary(&reference));
    let labels =
        |e: &Execution| e.labels.iter().filter(|l| l.key != "system.correlationId").cloned().collect::<Vec<_>>();
    assert_eq!(labels(&hello), labels(&reference), "labels set by the flow and its tasks");

    let ok = fns.wait(&ok).await;
    assert_eq!(ok.state.current, StateType::Success, "{:?}", ok.error);
    assert_eq!(runs_of(&ok, "item").len(), 5);
    for key in ["first", "item-a", "item-b", "item-c", "item-d", "item-e", "then"] {
        assert_eq!(effects.count(&format!("hit/g0/{key}")), 1, "{key} ran exactly once although delivered twice");
    }
    assert_eq!(effects.count("flaky/g0/flaky"), 2, "one request per attempt");
    let failing = fns.wait(&failing).await;
    assert_eq!(failing.state.current, StateType::Failed);
    assert_eq!((effects.count("fail/g1/boom"), effects.count("hit/g1/on_error")), (1, 1));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Per-task overhead of the GCP function path on the emulators: publish →
/// Pub/Sub emulator push → function → Firestore → publish, for a chain of
/// `Return` tasks; printed, not asserted. Run with
/// `cargo test -p e2e functions::pubsub::measure -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "a measurement, run by hand"]
async fn measure_gcp_push_path() {
    let n = 20;
    let mut yaml = String::from("id: chain\nnamespace: bench.functions\ntasks:\n");
    for i in 0..n {
        yaml.push_str(&format!("  - id: t{i}\n    type: io.kestra.plugin.core.debug.Return\n    format: x\n"));
    }
    for copies in [1, 2] {
        let dir = std::env::temp_dir().join(format!("baton-fn-gcp-bench-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("flows dir");
        std::fs::write(dir.join("chain.yaml"), &yaml).expect("flow");
        let fns = start(&dir, copies).await;
        // warm up the clients and the emulators' first-use paths
        let warm = fns.launch("bench.functions", "chain", json!({})).await;
        fns.wait(&warm).await;
        let t = std::time::Instant::now();
        let id = fns.launch("bench.functions", "chain", json!({})).await;
        let e = fns.wait(&id).await;
        let secs = t.elapsed().as_secs_f64();
        assert_eq!(e.state.current, StateType::Success);
        eprintln!(
            "GCP function path, {copies} push subscription(s) per topic: {n} tasks in {secs:.2} s = {:.0} ms per task run",
            secs * 1000.0 / n as f64
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
