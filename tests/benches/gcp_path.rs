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
use e2e::functions::serve;
use e2e::gcp_emulators::{gcp_backends, gcp_engine, push_subscriptions};
use serde_json::{Value, json};
use shared::backend::gcp::{FirestoreStore, connect_firestore};
use shared::backend::{StateStore, Topic};
use shared::functions::flows::FlowSource;
use shared::functions::{FunctionOptions, Handler};

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
    let backends = gcp_backends("bench").await;
    let project = backends.config.project.clone();
    let flows = std::env::temp_dir().join(format!("baton-bench-gcp-flows-{project}"));
    std::fs::create_dir_all(&flows).expect("flows");
    std::fs::write(flows.join("flow.yml"), yaml).expect("flow");
    let opts = FunctionOptions::unauthenticated(Some(FlowSource::Dir(flows.clone())));
    let handler_ns = Arc::new(AtomicU64::new(0));
    let layer = || axum::middleware::from_fn_with_state(handler_ns.clone(), timed);
    let executor =
        serve(shared::functions::router(Handler::Executor, gcp_engine(&backends), &opts).await.layer(layer())).await;
    let worker =
        serve(shared::functions::router(Handler::Worker, gcp_engine(&backends), &opts).await.layer(layer())).await;
    let api = serve(shared::functions::router(Handler::Api, gcp_engine(&backends), &opts).await).await;
    let http = reqwest::Client::new();
    for (topic, url) in [(Topic::Executions.name(), &executor.url), (Topic::Tasks("core".into()).name(), &worker.url)] {
        push_subscriptions(&http, &project, &topic, url, 1).await;
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
