//! Cost per task run on the GCP backends: the executor and worker functions
//! (in this process, so Firestore calls can be counted) fed by real push
//! subscriptions of Google's Pub/Sub emulator, state in the Firestore
//! emulator, files in fake-gcs-server. For a chain of tasks and for ForEach
//! loops of growing size it reports, per task run: Firestore document reads
//! and writes (as Firestore bills them: a query at least one read), Baton's
//! own handler time (the push handlers, Firestore round trips to the
//! emulator included), and the rest of the wall time (the emulator's push
//! delivery and the gaps between hops).
//!
//! `cargo bench -p e2e --bench gcp_path` (release), or
//! `cargo test -p e2e --bench gcp_path` (debug). Prints a table; asserts
//! nothing about speed. Needs the emulators (`scripts/setup/gcp.sh`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::middleware::Next;
use e2e::emulators::emulators;
use e2e::functions::serve;
use e2e::gcp_emulators::{fresh_project, gcp_emulators};
use serde_json::{Value, json};
use shared::backend::gcp::{DEFAULT_DATABASE, FirestoreStore, GcpBackends, GcpConfig, connect_firestore};
use shared::backend::{StateStore, Topic};
use shared::functions::flows::FlowSource;
use shared::functions::{FunctionOptions, Handler};
use shared::runtime::engine::{Engine, EngineConfig};

fn chain(n: usize) -> String {
    let mut y = String::from("id: flow\nnamespace: bench.gcp\ntasks:\n");
    for i in 0..n {
        y.push_str(&format!("  - id: t{i}\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{i}\"\n"));
    }
    y
}

fn for_each(n: usize) -> String {
    let values: Vec<String> = (0..n).map(|i| i.to_string()).collect();
    format!(
        "id: flow\nnamespace: bench.gcp\ntasks:\n  - id: each\n    type: io.kestra.plugin.core.flow.ForEach\n    \
         values: [{}]\n    tasks:\n      - id: body\n        type: io.kestra.plugin.core.debug.Return\n        \
         format: \"{{{{ taskrun.value }}}}\"\n",
        values.join(", ")
    )
}

fn engine(b: &GcpBackends) -> Arc<Engine> {
    Engine::new(EngineConfig {
        state: b.state.clone(),
        kv: b.state.clone(),
        storage: b.storage.clone(),
        queue: b.queue.clone(),
        registry: shared::plugins::Registry::builtin(),
        secrets: Default::default(),
        envs: Default::default(),
        work_root: std::env::temp_dir().join(format!("baton-bench-gcp-{}", b.config.project)),
        plugins: Default::default(),
        echo_logs: false,
        progress: None,
    })
}

async fn timed(State(total): State<Arc<AtomicU64>>, req: Request, next: Next) -> axum::response::Response {
    let start = Instant::now();
    let resp = next.run(req).await;
    total.fetch_add(start.elapsed().as_nanos() as u64, Ordering::Relaxed);
    resp
}

struct Row {
    name: String,
    task_runs: usize,
    reads: f64,
    writes: f64,
    handler_ms: f64,
    other_ms: f64,
}

async fn measure(name: &str, yaml: &str) -> Row {
    let gcp = gcp_emulators();
    let project = fresh_project("bench");
    let config = GcpConfig {
        bucket: format!("baton-{project}"),
        project: project.clone(),
        database: DEFAULT_DATABASE.to_string(),
        firestore_emulator: Some(gcp.firestore_host.clone()),
        pubsub_emulator: Some(gcp.pubsub_host.clone()),
        storage_emulator: Some(emulators().storage_host.clone()),
    };
    let backends = GcpBackends::from_config(config).await.expect("GCP backends on the emulators");
    backends.storage.ensure_bucket(&project).await.expect("bucket");
    let flows = std::env::temp_dir().join(format!("baton-bench-gcp-flows-{project}"));
    std::fs::create_dir_all(&flows).expect("flows");
    std::fs::write(flows.join("flow.yml"), yaml).expect("flow");
    let opts = FunctionOptions::unauthenticated(Some(FlowSource::Dir(flows.clone())));
    let handler_ns = Arc::new(AtomicU64::new(0));
    let layer = || axum::middleware::from_fn_with_state(handler_ns.clone(), timed);
    let executor =
        serve(shared::functions::router(Handler::Executor, engine(&backends), &opts).await.layer(layer())).await;
    let worker = serve(shared::functions::router(Handler::Worker, engine(&backends), &opts).await.layer(layer())).await;
    let api = serve(shared::functions::router(Handler::Api, engine(&backends), &opts).await).await;
    let http = reqwest::Client::new();
    for (topic, url) in [(Topic::Executions.name(), &executor.url), (Topic::Tasks("core".into()).name(), &worker.url)] {
        let base = format!("http://{}/v1/projects/{project}", gcp.pubsub_host);
        http.put(format!("{base}/topics/{topic}")).send().await.expect("topic");
        let sub = json!({"topic": format!("projects/{project}/topics/{topic}"), "pushConfig": {"pushEndpoint": url},
            "ackDeadlineSeconds": 600, "retryPolicy": {"minimumBackoff": "1s", "maximumBackoff": "60s"}});
        let r = http.put(format!("{base}/subscriptions/{topic}-push")).json(&sub).send().await.expect("subscribe");
        assert!(r.status().is_success(), "subscription: {}", r.text().await.unwrap_or_default());
    }
    let (r0, w0) = backends.state.client().operation_counts();
    handler_ns.store(0, Ordering::Relaxed);
    let start = Instant::now();
    let resp = http.post(format!("{}api/v1/executions/bench.gcp/flow", api.url)).json(&json!({})).send().await;
    let body: Value = resp.expect("start").json().await.expect("json");
    let id = body["id"].as_str().unwrap_or_else(|| panic!("not started: {body}")).to_string();
    // watched through another client, so the counts are the functions' alone
    let watcher = FirestoreStore::new(connect_firestore(&backends.config).await.expect("Firestore"));
    let exec = loop {
        let e = watcher.load_execution(&id).await.expect("load").expect("exists");
        if e.state.is_terminal() {
            break e;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let wall = start.elapsed();
    // the last deliveries (duplicates, late acks) settle
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (r1, w1) = backends.state.client().operation_counts();
    assert_eq!(exec.state.current.as_str(), "SUCCESS", "{:?}", exec.error);
    let n = exec.task_run_list.len();
    let handler = Duration::from_nanos(handler_ns.load(Ordering::Relaxed));
    let _ = std::fs::remove_dir_all(&flows);
    Row {
        name: name.to_string(),
        task_runs: n,
        reads: (r1 - r0) as f64 / n as f64,
        writes: (w1 - w0) as f64 / n as f64,
        handler_ms: handler.as_secs_f64() * 1000.0 / n as f64,
        other_ms: wall.saturating_sub(handler).as_secs_f64() * 1000.0 / n as f64,
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let sizes: Vec<usize> = std::env::var("BATON_BENCH_FOREACH")
        .ok()
        .map(|v| v.split(',').filter_map(|s| s.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![50, 100, 200]);
    let mut rows = Vec::new();
    rt.block_on(async {
        rows.push(measure("chain of 200", &chain(200)).await);
        for n in sizes {
            rows.push(measure(&format!("ForEach of {n}"), &for_each(n)).await);
        }
    });
    println!(
        "| flow | task runs | Firestore reads / task run | writes / task run | Baton handler ms / task run | delivery and gaps ms / task run |"
    );
    println!("|---|---|---|---|---|---|");
    for r in rows {
        println!(
            "| {} | {} | {:.1} | {:.1} | {:.1} | {:.1} |",
            r.name, r.task_runs, r.reads, r.writes, r.handler_ms, r.other_ms
        );
    }
}
