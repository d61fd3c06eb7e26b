//! Per-task overhead of the function path on local backends: each task run
//! goes publish → HTTP push (envelope, base64) → executor function (load,
//! step, compare-and-swap save in SQLite) → publish job → HTTP push → worker
//! function (claim, TaskStarted, run, TaskResult) → … with every function on
//! its own engine, as separate Cloud Run services would be. The embedded
//! runtime (in-process queues, one engine, a cached execution) on the same
//! chain is the reference.
//!
//! `cargo bench -p e2e --bench function_path` (release build). Prints a
//! table; it asserts nothing about speed.

use std::time::Instant;

use e2e::functions::{Cluster, ClusterOptions};
use serde_json::{Map, json};
use shared::functions::relay::RelayOptions;
use shared::runtime::embedded::{Embedded, LocalOptions};
use shared::runtime::launcher::LaunchRequest;

fn chain(n: usize) -> String {
    let mut y = String::from("id: chain\nnamespace: bench.functions\ntasks:\n");
    for i in 0..n {
        y.push_str(&format!(
            "  - id: t{i}\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{{{ taskrun.id }}}}\"\n"
        ));
    }
    y
}

async fn function_path(n: usize, relay: RelayOptions) -> (f64, u64) {
    let cluster = Cluster::start(ClusterOptions {
        relay,
        flows: vec![("chain.yaml".into(), chain(n))],
        ..ClusterOptions::default()
    })
    .await;
    let start = Instant::now();
    let id = cluster.launch("bench.functions", "chain", json!({})).await;
    let exec = cluster.wait(&id).await;
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(exec.task_run_list.len(), n, "every task ran");
    assert!(exec.state.current.as_str() == "SUCCESS", "{:?}", exec.error);
    cluster.relay.idle().await;
    (secs, cluster.relay.stats().pushed)
}

async fn embedded(n: usize) -> f64 {
    let home = std::env::temp_dir().join(format!("baton-bench-embedded-{}", uuid::Uuid::new_v4()));
    let embedded = Embedded::open_local(LocalOptions {
        home: home.clone(),
        workers: 4,
        echo_logs: false,
        secrets: Default::default(),
        envs: Map::new(),
        progress: None,
        plugins: Default::default(),
        sweep_in_background: false,
    })
    .expect("embedded");
    let registry = shared::plugins::Registry::builtin();
    let renderer = shared::template::Renderer::new();
    let (flow, diags) = shared::validate::validate_source("chain.yaml", &chain(n), &registry, &renderer);
    assert!(diags.is_empty(), "{diags:?}");
    let flow = embedded.engine.flows.insert(flow.expect("flow"));
    let start = Instant::now();
    let updates = embedded.updates();
    let exec = embedded.launch(&flow, LaunchRequest::default()).await.expect("launch");
    let done = embedded.wait(&exec.id, updates, |_| {}).await.expect("wait");
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(done.task_run_list.len(), n);
    embedded.shutdown();
    let _ = std::fs::remove_dir_all(&home);
    secs
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build().expect("runtime");
    rt.block_on(async {
        println!("| path | task runs | wall | per task run | push requests |");
        println!("|---|---|---|---|---|");
        for n in [40, 200] {
            let secs = embedded(n).await;
            println!("| embedded (in-process queues) | {n} | {secs:.3} s | {:.2} ms | – |", secs * 1000.0 / n as f64);
            let (secs, pushed) = function_path(n, RelayOptions::default()).await;
            println!(
                "| functions over HTTP push | {n} | {secs:.3} s | {:.2} ms | {pushed} |",
                secs * 1000.0 / n as f64
            );
            let dup = RelayOptions { duplicate: true, shuffle_seed: Some(7), ..RelayOptions::default() };
            let (secs, pushed) = function_path(n, dup).await;
            println!(
                "| functions, every message twice, shuffled | {n} | {secs:.3} s | {:.2} ms | {pushed} |",
                secs * 1000.0 / n as f64
            );
        }
    });
}
