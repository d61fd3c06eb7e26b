//! `baton server local` load benchmark (not a test): starts the server
//! binary on a fresh home with one 3-task flow (trivial `Return` tasks),
//! POSTs executions at rising open-loop rates and reports, per rate, the
//! API latency (p50/p99 of `POST /api/v1/executions/{ns}/{id}`) and the
//! executions completed per second (first POST to the drain's poll, every
//! 10 ms, that counts the last SUCCESS); then an
//! RSS soak: the server's RSS idle, after `BATON_BENCH_SOAK` executions
//! (27,000 by default) and after a quiet minute.
//!
//! `cargo bench -p shared --bench server_load` (release: build `baton` first
//! with `cargo build --release`; `BATON_BIN` names another binary).
//! `BATON_BENCH_RATES=250,500,1000,2000` and `BATON_BENCH_SECONDS=10` set
//! the steps; `BATON_BENCH_SOAK=0` skips the soak; `BATON_BENCH_SERVER_LOG`
//! names a file for the server's stderr (with `BATON_LOG=…`, its log).

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const FLOW: &str = "id: three\nnamespace: bench\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ execution.id }}\"\n  - id: b\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ outputs.a.value }}\"\n  - id: c\n    type: io.kestra.plugin.core.debug.Return\n    format: c\n";

/// At most this many requests in flight: beyond it the generator waits, and
/// says how many it had to delay (an overloaded server, not a fast one).
const MAX_IN_FLIGHT: usize = 4096;

struct Server {
    child: Child,
    url: String,
    home: std::path::PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.home);
    }
}

fn env_list(name: &str, default: &str) -> Vec<u64> {
    std::env::var(name)
        .unwrap_or_else(|_| default.to_string())
        .split(',')
        .filter_map(|x| x.trim().replace('_', "").parse().ok())
        .collect()
}

fn baton_bin() -> std::path::PathBuf {
    match std::env::var_os("BATON_BIN") {
        Some(p) => p.into(),
        None => std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/baton"),
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("port")
}

async fn start() -> Server {
    let home = std::env::temp_dir().join(format!("baton-load-{}", uuid::Uuid::new_v4()));
    let flows = home.join("flows");
    std::fs::create_dir_all(&flows).expect("flows dir");
    std::fs::write(flows.join("three.yml"), FLOW).expect("flow");
    let port = free_port();
    let mut child = Command::new(baton_bin())
        .args(["--home", home.to_str().expect("home"), "server", "local", "--port", &port.to_string()])
        .arg("--flows")
        .arg(&flows)
        .stdout(Stdio::null())
        .stderr(match std::env::var_os("BATON_BENCH_SERVER_LOG") {
            Some(path) => Stdio::from(std::fs::File::create(path).expect("server log file")),
            None => Stdio::null(),
        })
        .spawn()
        .expect("spawn baton (build it first, or set BATON_BIN)");
    let url = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    for _ in 0..200 {
        if http.get(format!("{url}/api/v1/flows/bench/three")).send().await.is_ok_and(|r| r.status().is_success()) {
            return Server { child, url, home };
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("server did not answer within 10 s");
}

fn rss_mib(pid: u32) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

async fn successes(http: &reqwest::Client, url: &str) -> u64 {
    let q = format!("{url}/api/v1/executions/search?filters[state][EQUALS]=SUCCESS&size=1");
    match http.get(q).send().await {
        Ok(r) => r.json::<serde_json::Value>().await.ok().and_then(|v| v["total"].as_u64()).unwrap_or(0),
        Err(_) => 0,
    }
}

/// POSTs `rate` executions a second for `seconds`; returns (latencies in
/// ms, errors, requests delayed by the in-flight cap).
async fn load(http: &reqwest::Client, url: &str, rate: u64, seconds: u64) -> (Vec<f64>, usize, usize) {
    let lat = Arc::new(Mutex::new(Vec::with_capacity((rate * seconds) as usize)));
    let errors = Arc::new(Mutex::new(0usize));
    let sem = Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT));
    let mut delayed = 0;
    let start = tokio::time::Instant::now();
    let total = rate * seconds;
    let mut tasks = Vec::with_capacity(total as usize);
    for i in 0..total {
        tokio::time::sleep_until(start + Duration::from_secs_f64(i as f64 / rate as f64)).await;
        let permit = match sem.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                delayed += 1;
                sem.clone().acquire_owned().await.expect("semaphore")
            }
        };
        let (http, lat, errors) = (http.clone(), lat.clone(), errors.clone());
        let post = format!("{url}/api/v1/executions/bench/three");
        tasks.push(tokio::spawn(async move {
            let t = Instant::now();
            let ok = http.post(post).send().await.is_ok_and(|r| r.status().is_success());
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            if ok {
                lat.lock().expect("lat").push(ms);
            } else {
                *errors.lock().expect("errors") += 1;
            }
            drop(permit);
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let mut lat = std::mem::take(&mut *lat.lock().expect("lat"));
    lat.sort_by(f64::total_cmp);
    let errors = *errors.lock().expect("errors");
    (lat, errors, delayed)
}

/// Waits until `want` executions succeeded (or 120 s without progress).
async fn drain(http: &reqwest::Client, url: &str, want: u64) -> u64 {
    let (mut last, mut since) = (0, Instant::now());
    loop {
        let n = successes(http, url).await;
        if n >= want {
            return n;
        }
        if n > last {
            (last, since) = (n, Instant::now());
        } else if since.elapsed() > Duration::from_secs(120) {
            return n;
        }
        // the count is cheap and the load is over: a coarse poll would add
        // up to its interval to the time measured
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let rates = env_list("BATON_BENCH_RATES", "250,500,1000,1500,2000,3000");
        let seconds = env_list("BATON_BENCH_SECONDS", "10").first().copied().unwrap_or(10);
        let soak = env_list("BATON_BENCH_SOAK", "27000").first().copied().unwrap_or(0);
        let http = reqwest::Client::builder().pool_max_idle_per_host(MAX_IN_FLIGHT).build().expect("http");
        println!("binary: {}", baton_bin().display());
        println!("| offered rate /s | executions | API p50 | API p99 | errors | delayed | completed /s | load |");
        println!("|---|---|---|---|---|---|---|---|");
        for rate in rates {
            let server = start().await;
            let loadavg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
            let t = Instant::now();
            let (lat, errors, delayed) = load(&http, &server.url, rate, seconds).await;
            let done = drain(&http, &server.url, lat.len() as u64).await;
            let secs = t.elapsed().as_secs_f64();
            println!(
                "| {rate} | {done}/{} | {:.1} ms | {:.1} ms | {errors} | {delayed} | {:.0} | {} |",
                rate * seconds,
                percentile(&lat, 0.5),
                percentile(&lat, 0.99),
                done as f64 / secs,
                loadavg.split(' ').next().unwrap_or("?"),
            );
        }
        if soak > 0 {
            let server = start().await;
            let pid = server.child.id();
            tokio::time::sleep(Duration::from_secs(2)).await;
            let idle = rss_mib(pid);
            let rate = 1000;
            let (lat, _, _) = load(&http, &server.url, rate, soak / rate).await;
            let done = drain(&http, &server.url, lat.len() as u64).await;
            let after = rss_mib(pid);
            tokio::time::sleep(Duration::from_secs(60)).await;
            let quiet = rss_mib(pid);
            println!(
                "RSS soak: idle {idle:.1} MiB → after {done} executions {after:.1} MiB → after a quiet minute {quiet:.1} MiB"
            );
        }
    });
}
