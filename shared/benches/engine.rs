//! Engine overhead benchmark (not a test): chains of trivial tasks and a
//! ForEach of 1,000 values, end to end on the embedded runtime with durable
//! SQLite state, reported as per-task overhead and task runs per second.
//! Run with `cargo bench -p shared --bench engine`;
//! `BATON_BENCH_ENGINE_LARGE=5000,10000` adds ForEach loops of those sizes.

use std::time::Instant;

use serde_json::Map;
use shared::runtime::embedded::{Embedded, LocalOptions};
use shared::runtime::launcher::LaunchRequest;
use shared::runtime::secrets::Secrets;

fn chain(n: usize) -> String {
    let mut y = format!("id: chain_{n}\nnamespace: bench\ntasks:\n");
    for i in 0..n {
        y.push_str(&format!(
            "  - id: t{i}\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{{{ taskrun.id }}}}\"\n"
        ));
    }
    y
}

fn for_each(n: usize, limit: usize) -> String {
    let values: Vec<String> = (0..n).map(|i| i.to_string()).collect();
    format!(
        "id: each_{n}_{limit}\nnamespace: bench\ntasks:\n  - id: each\n    type: io.kestra.plugin.core.flow.ForEach\n    values: [{}]\n    concurrencyLimit: {limit}\n    tasks:\n      - id: r\n        type: io.kestra.plugin.core.debug.Return\n        format: \"{{{{ taskrun.value }}}}\"\n",
        values.join(", ")
    )
}

async fn measure(name: &str, yaml: &str, task_runs: usize) {
    let home = std::env::temp_dir().join(format!("baton-bench-{}", uuid::Uuid::new_v4()));
    let embedded = Embedded::open_local(LocalOptions {
        home: home.clone(),
        workers: 8,
        echo_logs: false,
        secrets: Secrets::default(),
        envs: Map::new(),
        progress: None,
        plugins: Default::default(),
        sweep_in_background: false,
    })
    .expect("engine");
    let registry = shared::plugins::Registry::builtin();
    let renderer = shared::template::Renderer::new();
    let (flow, diags) = shared::validate::validate_source(name, yaml, &registry, &renderer);
    assert!(diags.is_empty(), "{diags:?}");
    let flow = embedded.engine.flows.insert(flow.expect("flow"));
    let updates = embedded.updates();
    let start = Instant::now();
    let exec = embedded.launch(&flow, LaunchRequest::default()).await.expect("launch");
    let done = embedded.wait(&exec.id, updates, |_| {}).await.expect("wait");
    let secs = start.elapsed().as_secs_f64();
    assert!(done.task_run_list.len() >= task_runs);
    println!(
        "| {name} | {} | {task_runs} | {:.3} s | {:.2} ms | {:.0} |",
        done.state.current,
        secs,
        secs * 1000.0 / task_runs as f64,
        task_runs as f64 / secs
    );
    embedded.shutdown();
    let _ = std::fs::remove_dir_all(home);
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        println!("| scenario | state | task runs | wall | per task run | task runs/s |");
        println!("|---|---|---|---|---|---|");
        measure("chain of 40", &chain(40), 40).await;
        measure("chain of 1,000", &chain(1000), 1000).await;
        measure("ForEach 1,000 values (concurrencyLimit 1, Kestra's default)", &for_each(1000, 1), 1001).await;
        measure("ForEach 1,000 values (concurrencyLimit 0, unlimited)", &for_each(1000, 0), 1001).await;
        let large = std::env::var("BATON_BENCH_ENGINE_LARGE").unwrap_or_default();
        for n in large.split(',').filter_map(|x| x.trim().replace('_', "").parse::<usize>().ok()) {
            measure(&format!("ForEach {n} values (concurrencyLimit 1)"), &for_each(n, 1), n + 1).await;
            measure(&format!("ForEach {n} values (concurrencyLimit 0)"), &for_each(n, 0), n + 1).await;
        }
    });
}
