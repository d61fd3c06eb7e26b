//! `baton server local` load benchmark (not a test): starts the server
//! binary on a fresh home with one 3-task flow (trivial `Return` tasks),
//! POSTs executions at rising open-loop rates (the generator is this
//! process, the server another) and reports, per rate:
//! - accepted/s (POSTs answered 2xx) and refused (429, the server's
//!   back-pressure), the API latency p50/p99 of those POSTs;
//! - ended/s: executions that reached SUCCESS while the load ran, per
//!   second of load, and the backlog left when it stopped (accepted, not
//!   ended), then how long the server took to drain it;
//! - end-to-end p50/p99: creation to SUCCESS, from each execution's own
//!   state dates (read back through the search API once the load is over);
//! - errors: POSTs that failed otherwise, requests the generator had to
//!   delay (its in-flight cap: then the rate was not open-loop), and
//!   accepted executions that never ended.
//!
//! Then an RSS soak: the server's RSS idle, after `BATON_BENCH_SOAK`
//! executions (27,000 by default) and after a quiet minute.
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

/// What one load step saw from the client side.
struct Load {
    /// Latencies of the accepted POSTs, in ms, sorted.
    lat: Vec<f64>,
    /// POSTs answered 429 (back-pressure).
    refused: usize,
    /// Any other failure.
    errors: usize,
    /// Requests delayed by the generator's in-flight cap.
    delayed: usize,
}

/// POSTs `rate` executions a second for `seconds`.
async fn load(http: &reqwest::Client, url: &str, rate: u64, seconds: u64) -> Load {
    let lat = Arc::new(Mutex::new(Vec::with_capacity((rate * seconds) as usize)));
    let errors = Arc::new(Mutex::new(0usize));
    let refused = Arc::new(std::sync::atomic::AtomicUsize::new(0));
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
        let (http, lat, errors, refused) = (http.clone(), lat.clone(), errors.clone(), refused.clone());
        let post = format!("{url}/api/v1/executions/bench/three");
        tasks.push(tokio::spawn(async move {
            let t = Instant::now();
            let status = http.post(post).send().await.map(|r| r.status());
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            match status {
                Ok(s) if s.is_success() => lat.lock().expect("lat").push(ms),
                Ok(s) if s.as_u16() == 429 => {
                    refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                _ => *errors.lock().expect("errors") += 1,
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
    Load { lat, refused: refused.load(std::sync::atomic::Ordering::Relaxed), errors, delayed }
}

/// Every execution's (start, end) in ms since the epoch, read back through
/// the search API (pages of 1,000) once the load is over.
async fn dates(http: &reqwest::Client, url: &str) -> Vec<(i64, i64)> {
    let mut out = Vec::new();
    for page in 1.. {
        let q = format!("{url}/api/v1/executions/search?filters[state][EQUALS]=SUCCESS&size=1000&page={page}");
        let Ok(r) = http.get(q).send().await else { break };
        let Ok(v) = r.json::<serde_json::Value>().await else { break };
        let results = v["results"].as_array().cloned().unwrap_or_default();
        if results.is_empty() {
            break;
        }
        for e in results {
            let ms = |k: &str| {
                e["state"][k]
                    .as_str()
                    .and_then(|d| chrono::DateTime::parse_from_rfc3339(d).ok())
                    .map(|d| d.timestamp_millis())
            };
            if let (Some(s), Some(t)) = (ms("startDate"), ms("endDate")) {
                out.push((s, t));
            }
        }
    }
    out
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
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
        println!(
            "| offered /s | accepted /s | refused (429) | API p50 | API p99 | ended /s during load | backlog at end | drain | end-to-end p50 | end-to-end p99 | errors | load |"
        );
        println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
        for rate in rates {
            let server = start().await;
            let loadavg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
            let begun = now_ms();
            let l = load(&http, &server.url, rate, seconds).await;
            let stopped = now_ms();
            let accepted = l.lat.len() as u64;
            let done = drain(&http, &server.url, accepted).await;
            let drained = now_ms();
            let dates = dates(&http, &server.url).await;
            let ended_in_load = dates.iter().filter(|(_, end)| *end <= stopped).count() as u64;
            let mut e2e: Vec<f64> = dates.iter().map(|(s, t)| (t - s) as f64).collect();
            e2e.sort_by(f64::total_cmp);
            let load_secs = (stopped - begun) as f64 / 1000.0;
            println!(
                "| {rate} | {:.0} | {} | {:.1} ms | {:.1} ms | {:.0} | {} | {:.1} s | {:.0} ms | {:.0} ms | {} | {} |",
                accepted as f64 / load_secs,
                l.refused,
                percentile(&l.lat, 0.5),
                percentile(&l.lat, 0.99),
                ended_in_load as f64 / load_secs,
                accepted.saturating_sub(ended_in_load),
                (drained - stopped) as f64 / 1000.0,
                percentile(&e2e, 0.5),
                percentile(&e2e, 0.99),
                l.errors + l.delayed + (accepted.saturating_sub(done)) as usize,
                loadavg.split(' ').next().unwrap_or("?"),
            );
        }
        if soak > 0 {
            let server = start().await;
            let pid = server.child.id();
            tokio::time::sleep(Duration::from_secs(2)).await;
            let idle = rss_mib(pid);
            let rate = 1000;
            let l = load(&http, &server.url, rate, soak / rate).await;
            let done = drain(&http, &server.url, l.lat.len() as u64).await;
            let after = rss_mib(pid);
            tokio::time::sleep(Duration::from_secs(60)).await;
            let quiet = rss_mib(pid);
            println!(
                "RSS soak: idle {idle:.1} MiB → after {done} executions {after:.1} MiB → after a quiet minute {quiet:.1} MiB"
            );
        }
    });
}
