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
//! For each ForEach it also splits the process's CPU time (user + system,
//! `/proc/self/stat`, the functions' handlers and their clients; the
//! emulators are other processes) and the Firestore operations over the
//! first and the last tenth of the loop's task runs (worker deliveries):
//! flat means a delivery costs the same whatever the size of the
//! execution. `BATON_BENCH_FOREACH=1000` runs a ForEach of 1,000 (and the
//! largest size again with `concurrencyLimit: 0`: every iteration created
//! at once). Last, the execution is loaded by a store that kept nothing (a
//! cold instance: head, chunks and recent task runs) half-way through the
//! loop and once ended, against reading every task-run document.
//!
//! `cargo bench -p e2e --bench gcp_path` (release), or
//! `cargo test -p e2e --bench gcp_path` (debug). Prints a table; asserts
//! nothing about speed. Needs the emulators (`scripts/setup/gcp.sh`).

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::middleware::Next;
use e2e::functions::serve;
use e2e::gcp_emulators::{gcp_backends, gcp_engine_with, push_subscriptions};
use serde_json::{Value, json};
use shared::backend::gcp::fs_client::{get_json, select};
use shared::backend::gcp::{FirestoreStore, TASK_RUNS, connect_firestore, execution_path};
use shared::backend::{StateStore, Topic};
use shared::functions::flows::FlowSource;
use shared::functions::{FunctionOptions, Handler};
use shared::model::TaskRun;

fn chain(n: usize) -> String {
    let mut y = String::from("id: flow\nnamespace: bench.gcp\ntasks:\n");
    for i in 0..n {
        y.push_str(&format!("  - id: t{i}\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{i}\"\n"));
    }
    y
}

/// A ForEach of `n` values, at `limit` iterations at once (Kestra's default 1; 0: all).
fn for_each(n: usize, limit: usize) -> String {
    let values: Vec<String> = (0..n).map(|i| i.to_string()).collect();
    format!(
        "id: flow\nnamespace: bench.gcp\ntasks:\n  - id: each\n    type: io.kestra.plugin.core.flow.ForEach\n    \
         concurrencyLimit: {limit}\n    values: [{}]\n    tasks:\n      - id: body\n        \
         type: io.kestra.plugin.core.debug.Return\n        format: \"{{{{ taskrun.value }}}}\"\n",
        values.join(", ")
    )
}

/// This process's CPU time (user + system, all threads) in ms, at the
/// kernel's tick (10 ms): summed over a hundred deliveries, that is fine.
fn cpu_ms() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // the fields after the command name (which may hold spaces), from field 3
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<u64> = rest.split_whitespace().map(|x| x.parse().unwrap_or(0)).collect();
    // utime and stime are fields 14 and 15, here at 11 and 12
    let ticks = f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0);
    ticks as f64 * 10.0
}

/// What the handlers measure: their total time, deliveries to the
/// executor, and a mark at the end of each worker delivery (one task run).
#[derive(Default)]
struct Probe {
    handler_ns: AtomicU64,
    executor_deliveries: AtomicU64,
    /// (CPU ms, Firestore reads, writes, executor deliveries so far)
    marks: Mutex<Vec<(f64, u64, u64, u64)>>,
    counts: Mutex<Option<shared::backend::gcp::GcpBackends>>,
}

async fn timed(
    State((probe, worker)): State<(Arc<Probe>, bool)>,
    req: Request,
    next: Next,
) -> axum::response::Response {
    let start = Instant::now();
    let resp = next.run(req).await;
    probe.handler_ns.fetch_add(start.elapsed().as_nanos() as u64, Ordering::Relaxed);
    if worker {
        let (r, w) = match &*probe.counts.lock().expect("counts") {
            Some(b) => b.state.client().operation_counts(),
            None => (0, 0),
        };
        let ex = probe.executor_deliveries.load(Ordering::Relaxed);
        probe.marks.lock().expect("marks").push((cpu_ms(), r, w, ex));
    } else {
        probe.executor_deliveries.fetch_add(1, Ordering::Relaxed);
    }
    resp
}

/// CPU ms and Firestore operations per task run (and CPU per executor
/// delivery) between marks `a` and `b`.
fn window(marks: &[(f64, u64, u64, u64)], a: usize, b: usize) -> (f64, f64, f64) {
    let (x, y) = (marks[a], marks[b]);
    let n = (b - a) as f64;
    let deliveries = (y.3 - x.3).max(1) as f64;
    ((y.0 - x.0) / n, ((y.1 - x.1) + (y.2 - x.2)) as f64 / n, (y.0 - x.0) / deliveries)
}

/// One tenth of a ForEach (`window`): CPU ms and Firestore operations per task run, CPU per delivery.
type Tenth = (f64, f64, f64);

struct Row {
    name: String,
    task_runs: usize,
    reads: f64,
    writes: f64,
    handler_ms: f64,
    other_ms: f64,
    /// first and last tenth: (CPU ms / task run, Firestore ops / task run, CPU ms / executor delivery)
    split: Option<(Tenth, Tenth)>,
    /// the ended execution loaded cold: (documents read, ms), and reading
    /// its head and every task-run document: (documents, ms)
    cold: Cold,
    /// the same half-way through the loop (ForEach only)
    half: Option<Cold>,
}

/// A cold load: (documents read, ms), then reading the head and every
/// task-run document: (documents, ms).
type Cold = (u64, f64, u64, f64);

/// Execution `id` loaded by a store that kept nothing, against reading and
/// parsing every task-run document.
async fn cold_load(config: &shared::backend::gcp::GcpConfig, id: &str) -> (Cold, shared::model::Execution) {
    let cold = FirestoreStore::new(connect_firestore(config).await.expect("Firestore"));
    let (c0, _) = cold.client().operation_counts();
    let start = Instant::now();
    let exec = cold.load_execution(id).await.expect("load").expect("exists");
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    let (c1, _) = cold.client().operation_counts();
    let all_start = Instant::now();
    let q = select(TASK_RUNS, None, vec![], None);
    let docs = cold.client().query("read all", &execution_path(id), q, &[]).await.expect("query");
    let parsed: Vec<TaskRun> = docs.iter().map(|d| get_json(d, "body", "parse").expect("a task run")).collect();
    let all_ms = all_start.elapsed().as_secs_f64() * 1000.0;
    assert_eq!(parsed.len(), docs.len());
    ((c1 - c0, ms, docs.len() as u64 + 1, all_ms), exec)
}

/// Runs flow `yaml` (`iterations` of a ForEach, 0 for none) through the functions.
async fn measure(name: &str, yaml: &str, iterations: usize) -> Row {
    let backends = gcp_backends("bench").await;
    let project = backends.config.project.clone();
    let flows = std::env::temp_dir().join(format!("baton-bench-gcp-flows-{project}"));
    std::fs::create_dir_all(&flows).expect("flows");
    std::fs::write(flows.join("flow.yml"), yaml).expect("flow");
    let opts = FunctionOptions::unauthenticated();
    let probe = Arc::new(Probe::default());
    let layer = |worker: bool| axum::middleware::from_fn_with_state((probe.clone(), worker), timed);
    let executor = serve(
        shared::functions::router(
            Handler::Executor,
            gcp_engine_with(&backends, Some(FlowSource::Dir(flows.clone()))),
            &opts,
        )
        .await
        .layer(layer(false)),
    )
    .await;
    let worker = serve(
        shared::functions::router(
            Handler::Worker,
            gcp_engine_with(&backends, Some(FlowSource::Dir(flows.clone()))),
            &opts,
        )
        .await
        .layer(layer(true)),
    )
    .await;
    let api = serve(
        shared::functions::router(
            Handler::Api,
            gcp_engine_with(&backends, Some(FlowSource::Dir(flows.clone()))),
            &opts,
        )
        .await,
    )
    .await;
    let http = reqwest::Client::new();
    for (topic, url) in [(Topic::Executions.name(), &executor.url), (Topic::Tasks("core".into()).name(), &worker.url)] {
        push_subscriptions(&http, &project, &topic, url, 1).await;
    }
    let (r0, w0) = backends.state.client().operation_counts();
    *probe.counts.lock().expect("counts") = Some(backends.clone());
    let start = Instant::now();
    let resp = http.post(format!("{}api/v1/executions/bench.gcp/flow", api.url)).json(&json!({})).send().await;
    let body: Value = resp.expect("start").json().await.expect("json");
    let id = body["id"].as_str().unwrap_or_else(|| panic!("not started: {body}")).to_string();
    // watched through another client, so the counts are the functions' alone
    let watcher = FirestoreStore::new(connect_firestore(&backends.config).await.expect("Firestore"));
    // (the execution's head only while it runs: loading all its task runs
    // on every poll would add CPU that grows with the execution)
    let filter = shared::backend::ExecutionFilter::default();
    let mut half = None;
    loop {
        let list = watcher.list_executions(&filter).await.expect("list");
        if list.iter().any(|e| e.id == id && e.state.is_terminal()) {
            break;
        }
        let delivered = probe.marks.lock().expect("marks").len();
        if half.is_none() && iterations > 0 && delivered >= iterations / 2 {
            half = Some(cold_load(&backends.config, &id).await.0);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let wall = start.elapsed();
    let (cold, exec) = cold_load(&backends.config, &id).await;
    // the last deliveries (duplicates, late acks) settle
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (r1, w1) = backends.state.client().operation_counts();
    assert_eq!(exec.state.current.as_str(), "SUCCESS", "{:?}", exec.error);
    let n = exec.task_run_list.len();
    let handler = Duration::from_nanos(probe.handler_ns.load(Ordering::Relaxed));
    let marks = probe.marks.lock().expect("marks").clone();
    let tenth = marks.len() / 10;
    let split = (name.starts_with("ForEach") && tenth > 0)
        .then(|| (window(&marks, 0, tenth), window(&marks, marks.len() - 1 - tenth, marks.len() - 1)));
    let _ = std::fs::remove_dir_all(&flows);
    Row {
        name: name.to_string(),
        task_runs: n,
        reads: (r1 - r0) as f64 / n as f64,
        writes: (w1 - w0) as f64 / n as f64,
        handler_ms: handler.as_secs_f64() * 1000.0 / n as f64,
        other_ms: wall.saturating_sub(handler).as_secs_f64() * 1000.0 / n as f64,
        split,
        cold,
        half,
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
        rows.push(measure("chain of 200", &chain(200), 0).await);
        for &n in &sizes {
            rows.push(measure(&format!("ForEach of {n}"), &for_each(n, 1), n).await);
        }
        if let Some(&n) = sizes.iter().max() {
            rows.push(measure(&format!("ForEach of {n}, concurrencyLimit 0"), &for_each(n, 0), n).await);
        }
    });
    println!(
        "| flow | task runs | Firestore reads / task run | writes / task run | Baton handler ms / task run | delivery and gaps ms / task run |"
    );
    println!("|---|---|---|---|---|---|");
    for r in &rows {
        println!(
            "| {} | {} | {:.1} | {:.1} | {:.1} | {:.1} |",
            r.name, r.task_runs, r.reads, r.writes, r.handler_ms, r.other_ms
        );
    }
    println!();
    println!(
        "| flow | CPU ms / task run, first tenth | last tenth | CPU ms / executor delivery, first | last | Firestore ops / task run, first | last |"
    );
    println!("|---|---|---|---|---|---|---|");
    for r in &rows {
        if let Some((a, b)) = r.split {
            println!(
                "| {} | {:.2} | {:.2} ({:+.0} %) | {:.2} | {:.2} | {:.1} | {:.1} |",
                r.name,
                a.0,
                b.0,
                (b.0 / a.0 - 1.0) * 100.0,
                a.2,
                b.2,
                a.1,
                b.1
            );
        }
    }
    println!();
    println!(
        "| flow | when | cold load: documents read | ms | every task-run document: reads | ms (read and parsed) |"
    );
    println!("|---|---|---|---|---|---|");
    for r in &rows {
        for (when, c) in [("half-way", r.half), ("ended", Some(r.cold))] {
            if let Some((reads, ms, all, all_ms)) = c {
                println!("| {} | {when} | {reads} | {ms:.0} | {all} | {all_ms:.0} |", r.name);
            }
        }
    }
}
