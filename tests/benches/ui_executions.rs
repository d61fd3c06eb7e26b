//! The web UI's executions page with 10,000 executions stored: time to
//! first contentful paint and to the first rendered row in headless
//! Chromium (tests/ui/drive.mjs, scenario `bench`), the home page's time to
//! its drawn chart (scenario `benchhome`), and the latency of
//! `GET /api/v1/executions/search` (first page, a filtered page, the last
//! page, a sort by flow) and of `GET /api/v1/stats/executions/daily` on
//! `baton server local` at that size.
//!
//! `source scripts/setup/chromium.sh; cargo bench -p e2e --bench ui_executions`
//! (release build). Prints a table; it asserts nothing about speed.

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::Map;
use shared::backend::StateStore;
use shared::backend::local::LocalBackends;
use shared::model::{Execution, Label, StateType};
use shared::server::{LocalServer, ServerOptions};

const N: usize = 10_000;

/// Stores `N` ended executions (SUCCESS, some FAILED) over two namespaces.
async fn seed(home: &Path) {
    let backends = LocalBackends::open(home).expect("backends");
    let now = Utc::now();
    for i in 0..N {
        let start = now - chrono::Duration::seconds((N - i) as i64 * 30);
        let ns = if i % 2 == 0 { "bench.ui" } else { "bench.other" };
        let labels = vec![Label { key: "batch".into(), value: (i / 100).to_string() }];
        let mut e = Execution::new(format!("bench{i:06}"), ns, "hello", 1, Map::new(), labels, start);
        e.state.set(StateType::Running, start + chrono::Duration::milliseconds(20));
        let end = if i % 10 == 0 { StateType::Failed } else { StateType::Success };
        e.state.set(end, start + chrono::Duration::milliseconds(1500));
        backends.state.create_execution(&e).await.expect("store an execution");
    }
}

fn stats(mut ms: Vec<f64>) -> (f64, f64) {
    ms.sort_by(f64::total_cmp);
    (ms[ms.len() / 2], ms[(ms.len() * 95 / 100).min(ms.len() - 1)])
}

async fn search_latency(http: &reqwest::Client, url: &str, query: &str) -> (f64, f64, u64) {
    let path = if query.starts_with('/') { query.to_string() } else { format!("/executions/search?{query}") };
    let mut ms = Vec::new();
    let mut total = 0;
    for _ in 0..20 {
        let t = Instant::now();
        let r = http.get(format!("{url}/api/v1{path}")).send().await.expect("search");
        assert_eq!(r.status(), 200);
        let v: serde_json::Value = r.json().await.expect("json");
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
        total = v["total"].as_u64().unwrap_or(0);
    }
    let (p50, p95) = stats(ms);
    (p50, p95, total)
}

fn browser(url: &str, scenario: &str) -> serde_json::Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("ui/drive.mjs");
    let out = std::process::Command::new("node")
        .arg(script)
        .arg(url)
        .arg(scenario)
        .arg("")
        .output()
        .expect("node runs drive.mjs (source scripts/setup/chromium.sh)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_str(text.lines().next().unwrap_or("")).expect("the bench scenario's JSON line")
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let root = std::env::temp_dir().join(format!("baton-ui-bench-{}", uuid::Uuid::new_v4()));
    let flows = root.join("flows");
    std::fs::create_dir_all(&flows).expect("flows folder");
    std::fs::write(
        flows.join("hello.yml"),
        "id: hello\nnamespace: bench.ui\ntasks:\n  - id: hi\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n",
    )
    .expect("flow");
    let t = Instant::now();
    seed(&root.join("home")).await;
    println!("stored {N} executions in {:.1}s", t.elapsed().as_secs_f64());
    let mut opts = ServerOptions::new(root.join("home"));
    opts.flows_dir = flows;
    opts.port = 0;
    let server = LocalServer::start(opts).await.expect("server starts");
    let url = server.url();
    let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().expect("client");
    println!("\nGET /api/v1/executions/search with {N} executions stored (20 requests each)");
    println!("{:<58} {:>9} {:>9} {:>7}", "query", "p50 ms", "p95 ms", "total");
    for query in [
        "page=1&size=25&sort=state.startDate:desc",
        "page=1&size=25&namespace=bench.ui&state=FAILED",
        "page=400&size=25&sort=state.startDate:desc",
        "page=1&size=100&labels=batch:7",
        "page=1&size=25&sort=flowId:asc",
        "/stats/executions/daily?days=30",
    ] {
        let (p50, p95, total) = search_latency(&http, &url, query).await;
        println!("{query:<58} {p50:>9.1} {p95:>9.1} {total:>7}");
    }
    println!("\nexecutions page in headless Chromium (new browser each run)");
    println!("{:<8} {:>18} {:>18}", "run", "first paint ms", "first row ms");
    let mut paints = Vec::new();
    let mut rows = Vec::new();
    for run in 0..5 {
        let url = url.clone();
        let v = tokio::task::spawn_blocking(move || browser(&url, "bench")).await.expect("browser run");
        let paint = v["firstPaintMs"].as_f64().unwrap_or(f64::NAN);
        let row = v["firstRowMs"].as_f64().unwrap_or(f64::NAN);
        println!("{run:<8} {paint:>18.0} {row:>18.0}");
        paints.push(paint);
        rows.push(row);
    }
    let (paint, _) = stats(paints);
    let (row, _) = stats(rows);
    println!("median   {paint:>18.0} {row:>18.0}");
    println!("\nhome page in headless Chromium (new browser each run)");
    let mut charts = Vec::new();
    for run in 0..5 {
        let url = url.clone();
        let v = tokio::task::spawn_blocking(move || browser(&url, "benchhome")).await.expect("browser run");
        let chart = v["chartMs"].as_f64().unwrap_or(f64::NAN);
        println!("{run:<8} chart drawn {chart:>8.0} ms");
        charts.push(chart);
    }
    let (chart, _) = stats(charts);
    println!("median   chart drawn {chart:>8.0} ms");
    server.shutdown().await;
    let _ = std::fs::remove_dir_all(&root);
}
