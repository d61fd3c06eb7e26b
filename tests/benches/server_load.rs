//! `baton server local` under an offered load (issue 23): a 3-task flow
//! started through `POST /api/v1/executions/{namespace}/{id}` at a fixed
//! rate for a few seconds per step, the server in this process on a free
//! port. Per step: the rate offered and the rate the API accepted, API
//! latency p50/p99, executions ended per second (first start to last end),
//! and the process's RSS after the step and after 10 s idle (the soak: does
//! it go back down?).
//!
//! `cargo bench -p e2e --bench server_load` (release). `BATON_LOAD_RATES`
//! (`200,500,1000,2000`) and `BATON_LOAD_SECONDS` (5) change the steps.
//! Prints a table; it asserts nothing about speed.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use shared::model::StateType;
use shared::server::{LocalServer, ServerOptions};
use tokio::sync::Semaphore;

const FLOW: &str = "id: three\nnamespace: bench.load\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.debug.Return\n    format: one\n  - id: b\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ outputs.a.value }} two\"\n  - id: c\n    type: io.kestra.plugin.core.log.Log\n    message: \"{{ outputs.b.value }}\"\n";

/// At most this many requests in flight (the rest count as refused).
const IN_FLIGHT: usize = 512;

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn pct(sorted: &[f64], p: usize) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

struct Step {
    accepted: usize,
    refused: usize,
    latencies: Vec<f64>,
    ids: Vec<String>,
    elapsed: f64,
}

async fn offer(http: &reqwest::Client, url: &str, rate: f64, seconds: f64) -> Step {
    let gate = Arc::new(Semaphore::new(IN_FLIGHT));
    let refused = Arc::new(AtomicUsize::new(0));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(f64, String)>();
    let start = Instant::now();
    let total = (rate * seconds) as usize;
    let period = Duration::from_secs_f64(1.0 / rate);
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut handles = Vec::with_capacity(total);
    for _ in 0..total {
        tick.tick().await;
        let Ok(permit) = gate.clone().try_acquire_owned() else {
            refused.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        let (http, url, tx, refused) = (http.clone(), url.to_string(), tx.clone(), refused.clone());
        handles.push(tokio::spawn(async move {
            let t = Instant::now();
            let r = http.post(format!("{url}/api/v1/executions/bench.load/three")).send().await;
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            match r {
                Ok(r) if r.status().is_success() => {
                    let v: serde_json::Value = r.json().await.unwrap_or_default();
                    let _ = tx.send((ms, v["id"].as_str().unwrap_or_default().to_string()));
                }
                _ => {
                    refused.fetch_add(1, Ordering::Relaxed);
                }
            }
            drop(permit);
        }));
    }
    for h in handles {
        let _ = h.await;
    }
    drop(tx);
    let mut latencies = Vec::new();
    let mut ids = Vec::new();
    while let Some((ms, id)) = rx.recv().await {
        latencies.push(ms);
        ids.push(id);
    }
    latencies.sort_by(f64::total_cmp);
    Step {
        accepted: ids.len(),
        refused: refused.load(Ordering::Relaxed),
        latencies,
        ids,
        elapsed: start.elapsed().as_secs_f64(),
    }
}

/// Waits until every execution in `ids` ended; returns when the last did.
async fn ended(server: &LocalServer, ids: &[String], started: Instant) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut pending: Vec<&String> = ids.iter().collect();
    while !pending.is_empty() && Instant::now() < deadline {
        let mut still = Vec::new();
        for id in pending {
            match server.engine.state.load_execution(id).await {
                Ok(Some(e)) if e.state.is_terminal() => {
                    assert_eq!(e.state.current, StateType::Success, "execution {id} ended {}", e.state.current);
                }
                _ => still.push(id),
            }
        }
        pending = still;
        if !pending.is_empty() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    assert!(pending.is_empty(), "{} executions never ended", pending.len());
    started.elapsed().as_secs_f64()
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let rates: Vec<f64> = std::env::var("BATON_LOAD_RATES")
        .unwrap_or_else(|_| "200,500,1000,2000".into())
        .split(',')
        .filter_map(|r| r.trim().parse().ok())
        .collect();
    let seconds: f64 = std::env::var("BATON_LOAD_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(5.0);
    let root = std::env::temp_dir().join(format!("baton-load-bench-{}", uuid::Uuid::new_v4()));
    let flows = root.join("flows");
    std::fs::create_dir_all(&flows).expect("flows folder");
    std::fs::write(flows.join("three.yml"), FLOW).expect("flow");
    let mut opts = ServerOptions::new(root.join("home"));
    opts.flows_dir = flows;
    opts.port = 0;
    let server = LocalServer::start(opts).await.expect("server starts");
    let url = server.url();
    let http = reqwest::Client::builder().pool_max_idle_per_host(IN_FLIGHT).build().expect("client");
    println!("idle RSS {:.0} MiB; {seconds} s per step, at most {IN_FLIGHT} requests in flight", rss_mib());
    println!(
        "{:>8} {:>9} {:>8} {:>8} {:>8} {:>10} {:>9} {:>11}",
        "offered", "accepted", "refused", "p50 ms", "p99 ms", "ended/s", "RSS MiB", "idle 10s"
    );
    for rate in rates {
        let started = Instant::now();
        let step = offer(&http, &url, rate, seconds).await;
        let last_end = ended(&server, &step.ids, started).await;
        let rss = rss_mib();
        tokio::time::sleep(Duration::from_secs(10)).await;
        println!(
            "{:>8.0} {:>9.0} {:>8} {:>8.1} {:>8.1} {:>10.0} {:>9.0} {:>11.0}",
            rate,
            step.accepted as f64 / step.elapsed,
            step.refused,
            pct(&step.latencies, 50),
            pct(&step.latencies, 99),
            step.accepted as f64 / last_end,
            rss,
            rss_mib()
        );
    }
    server.shutdown().await;
    let _ = std::fs::remove_dir_all(&root);
}
