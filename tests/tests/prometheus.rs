//! Issue 50, metrics: `GET /prometheus` of `baton server local` and of the
//! functions, tried with the real tools (scripts/setup/prometheus.sh):
//! flows with a succeeding and a failing task move the documented counters
//! by exactly what they did, `promtool check metrics` passes on every
//! scrape, and a real `prometheus` process scrapes the server and the
//! functions (executor, worker, api as separate processes relaying their
//! messages) and answers queries on what it scraped.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const NS: &str = "metrics.demo";
/// Two tasks that succeed.
const OK: &str = "id: ok\nnamespace: metrics.demo\ntasks:\n  - id: hello\n    type: io.kestra.plugin.core.log.Log\n    \
                  message: hello\n  - id: answer\n    type: io.kestra.plugin.core.debug.Return\n    format: \"42\"\n";
/// A task that succeeds, then one that fails.
const KO: &str = "id: ko\nnamespace: metrics.demo\ntasks:\n  - id: hello\n    type: io.kestra.plugin.core.log.Log\n    \
                  message: hello\n  - id: boom\n    type: io.kestra.plugin.core.execution.Fail\n    \
                  errorMessage: boom\n";
const LOG: &str = "io.kestra.plugin.core.log.Log";
const RETURN: &str = "io.kestra.plugin.core.debug.Return";
const FAIL: &str = "io.kestra.plugin.core.execution.Fail";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("baton-prom-{tag}-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(dir.join("flows")).expect("temp dir");
    std::fs::write(dir.join("flows/ok.yaml"), OK).expect("flow");
    std::fs::write(dir.join("flows/ko.yaml"), KO).expect("flow");
    dir
}

/// A child process killed (and reaped) when dropped.
pub(crate) struct Killed(pub(crate) Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn healthy(http: &reqwest::Client, port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let url = format!("http://127.0.0.1:{port}/healthz");
    while Instant::now() < deadline {
        if http.get(&url).send().await.is_ok_and(|r| r.status().is_success()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what} did not answer /healthz within 60 s");
}

/// One sample's name with its labels sorted: `name{a="x",b="y"}`.
pub(crate) type Samples = BTreeMap<String, f64>;

/// The samples of a scrape in Prometheus's text format, keyed with sorted labels.
pub(crate) fn parse(text: &str) -> Samples {
    let mut out = Samples::new();
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let (series, value) = line.rsplit_once(' ').expect("a sample line");
        let key = match series.split_once('{') {
            None => series.to_string(),
            Some((name, labels)) => {
                let mut labels: Vec<&str> = labels.trim_end_matches('}').split("\",").collect();
                for l in labels.iter_mut() {
                    *l = l.trim_end_matches('"');
                }
                labels.sort_unstable();
                let labels: Vec<String> = labels.iter().map(|l| format!("{l}\"")).collect();
                format!("{name}{{{}}}", labels.join(","))
            }
        };
        out.insert(key, value.parse().expect("a sample value"));
    }
    out
}

/// `name{labels}` with labels given in any order, as [`parse`] keys it.
pub(crate) fn series(name: &str, labels: &[(&str, &str)]) -> String {
    let mut labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    labels.sort_unstable();
    format!("{name}{{{}}}", labels.join(","))
}

pub(crate) async fn scrape(http: &reqwest::Client, port: u16) -> String {
    let r = http.get(format!("http://127.0.0.1:{port}/prometheus")).send().await.expect("scrape");
    assert_eq!(r.status(), 200);
    let ct = r.headers()["content-type"].to_str().expect("content type").to_string();
    assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
    r.text().await.expect("text")
}

/// `promtool check metrics` on a scrape: its names, types and labels pass
/// Prometheus's own lint.
pub(crate) fn promtool_passes(text: &str, what: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (scripts/setup/prometheus.sh installs it)");
    child.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("write the scrape");
    let out = child.wait_with_output().expect("promtool");
    assert!(
        out.status.success(),
        "promtool check metrics on {what}: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// How much each series grew between two scrapes (absent counts as 0).
pub(crate) fn delta(before: &Samples, after: &Samples, key: &str) -> f64 {
    after.get(key).copied().unwrap_or(0.0) - before.get(key).copied().unwrap_or(0.0)
}

async fn run_to_end(http: &reqwest::Client, api: &str, flow: &str) -> Value {
    let started: Value =
        http.post(format!("{api}/executions/{NS}/{flow}")).send().await.expect("start").json().await.expect("JSON");
    let id = started["id"].as_str().unwrap_or_else(|| panic!("an execution id: {started}")).to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let e: Value =
            http.get(format!("{api}/executions/{id}")).send().await.expect("get").json().await.expect("JSON");
        if e["state"]["current"] == "SUCCESS" || e["state"]["current"] == "FAILED" {
            return e;
        }
        assert!(Instant::now() < deadline, "execution did not end: {e}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A real `prometheus` scraping `targets` (`/prometheus` of each, every
/// second), its storage in `dir`.
fn start_prometheus(dir: &Path, targets: &[u16]) -> (Killed, u16) {
    let port = free_port();
    let targets: Vec<String> = targets.iter().map(|p| format!("'127.0.0.1:{p}'")).collect();
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: baton\n    \
         metrics_path: /prometheus\n    static_configs:\n      - targets: [{}]\n",
        targets.join(", ")
    );
    std::fs::write(dir.join("prometheus.yml"), config).expect("config");
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", dir.join("prometheus.yml").display()))
        .arg(format!("--storage.tsdb.path={}", dir.join("tsdb").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus (scripts/setup/prometheus.sh installs it)");
    (Killed(child), port)
}

/// Asks Prometheus `query` until its answer satisfies `ok` (a minute at most).
async fn until_prometheus_says(http: &reqwest::Client, port: u16, query: &str, ok: impl Fn(&[Value]) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = Value::Null;
    while Instant::now() < deadline {
        if let Ok(r) = http.get(format!("http://127.0.0.1:{port}/api/v1/query")).query(&[("query", query)]).send().await
            && let Ok(v) = r.json::<Value>().await
        {
            if v["status"] == "success" && ok(v["data"]["result"].as_array().map_or(&[][..], |a| a.as_slice())) {
                return;
            }
            last = v;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("Prometheus never answered {query} as expected; last answer: {last}");
}

fn value_of(sample: &Value) -> f64 {
    sample["value"][1].as_str().and_then(|s| s.parse().ok()).unwrap_or(f64::NAN)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_server_counts_executions_exactly_and_prometheus_scrapes_it() {
    let dir = temp_dir("server");
    let crate::local_server::LocalServer { child, port, .. } =
        crate::local_server::LocalServer::start(&dir, 4, &[]).await;
    let server = Killed(child);
    let http = reqwest::Client::new();
    let api = format!("http://127.0.0.1:{port}/api/v1");
    let before = parse(&scrape(&http, port).await);
    for flow in ["ok", "ok", "ko"] {
        run_to_end(&http, &api, flow).await;
    }
    let text = scrape(&http, port).await;
    let after = parse(&text);
    let ns = ("namespace_id", NS);
    let d = |name: &str, labels: &[(&str, &str)]| delta(&before, &after, &series(name, labels));
    // executions: two started and ended SUCCESS, one started and ended FAILED
    assert_eq!(d("kestra_executor_execution_started_count_total", &[ns, ("flow_id", "ok")]), 2.0, "{text}");
    assert_eq!(d("kestra_executor_execution_started_count_total", &[ns, ("flow_id", "ko")]), 1.0, "{text}");
    let ended =
        |flow, state| d("kestra_executor_execution_end_count_total", &[ns, ("flow_id", flow), ("state", state)]);
    assert_eq!((ended("ok", "SUCCESS"), ended("ok", "FAILED"), ended("ko", "FAILED")), (2.0, 0.0, 1.0), "{text}");
    let duration =
        |flow, state| d("kestra_executor_execution_duration_seconds_count", &[ns, ("flow_id", flow), ("state", state)]);
    assert_eq!((duration("ok", "SUCCESS"), duration("ko", "FAILED")), (2.0, 1.0), "{text}");
    // task runs by type and state: each task once per execution
    let task = |flow, ty, state| {
        d("kestra_worker_ended_count_total", &[ns, ("flow_id", flow), ("task_type", ty), ("state", state)])
    };
    assert_eq!(task("ok", LOG, "SUCCESS"), 2.0, "{text}");
    assert_eq!(task("ok", RETURN, "SUCCESS"), 2.0, "{text}");
    assert_eq!(task("ko", LOG, "SUCCESS"), 1.0, "{text}");
    assert_eq!(task("ko", FAIL, "FAILED"), 1.0, "{text}");
    let started = |flow, ty| d("kestra_worker_started_count_total", &[ns, ("flow_id", flow), ("task_type", ty)]);
    assert_eq!((started("ok", LOG), started("ok", RETURN), started("ko", FAIL)), (2.0, 2.0, 1.0), "{text}");
    // nothing left running or in flight
    assert_eq!(after.get("kestra_worker_job_running").copied().unwrap_or(0.0), 0.0, "{text}");
    for flow in ["ok", "ko"] {
        let key = series("baton_executions_in_flight", &[ns, ("flow_id", flow)]);
        assert_eq!(after.get(&key).copied().unwrap_or(0.0), 0.0, "{key}: {text}");
    }
    // Baton's own: the step and the commits were timed; requests by route template
    assert!(after.get("baton_executor_step_duration_seconds_count").is_some_and(|n| *n >= 3.0), "{text}");
    assert!(d("baton_store_commit_duration_seconds_count", &[("outcome", "ok")]) >= 6.0, "{text}");
    let route = "/api/v1/executions/{namespace}/{flowId}";
    let created =
        d("baton_http_request_duration_seconds_count", &[("method", "POST"), ("route", route), ("status", "200")]);
    assert_eq!(created, 3.0, "{text}");
    assert!(!text.contains("executions/metrics.demo"), "never a raw path as a label: {text}");
    promtool_passes(&text, "baton server local");

    // a real Prometheus scrapes it and answers on what it scraped
    let (prom, prom_port) = start_prometheus(&dir, &[port]);
    until_prometheus_says(&http, prom_port, "up{job=\"baton\"}", |r| r.len() == 1 && value_of(&r[0]) == 1.0).await;
    let query =
        format!("kestra_executor_execution_end_count_total{{namespace_id=\"{NS}\",flow_id=\"ok\",state=\"SUCCESS\"}}");
    until_prometheus_says(&http, prom_port, &query, |r| r.len() == 1 && value_of(&r[0]) == 2.0).await;
    // every query of the dashboard is PromQL this Prometheus runs
    for q in dashboard_queries() {
        until_prometheus_says(&http, prom_port, &q, |_| true).await;
    }
    drop(prom);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The functions' environment for the local backends, messages relayed
/// between the processes (as functions/tests/binaries.rs runs them).
fn function_env(dir: &Path, exec_port: u16, worker_port: u16) -> Vec<(&'static str, String)> {
    vec![
        ("BATON_BACKEND", "local".into()),
        ("BATON_HOME", dir.join("state").display().to_string()),
        ("BATON_PUSH_AUTH", "off".into()),
        ("BATON_WORK_DIR", dir.join("work").display().to_string()),
        ("BATON_FLOWS", dir.join("flows").display().to_string()),
        (
            "BATON_RELAY",
            format!("baton-executions=http://127.0.0.1:{exec_port}/,baton-tasks-core=http://127.0.0.1:{worker_port}/"),
        ),
        ("RUST_LOG", "warn".into()),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_function_serves_prometheus_and_prometheus_scrapes_them() {
    let dir = temp_dir("functions");
    let (api_port, exec_port, worker_port) = (free_port(), free_port(), free_port());
    let env = function_env(&dir, exec_port, worker_port);
    let bins = e2e::deployed::bin_dir();
    let start = |bin: &str, port: u16| {
        let mut cmd = Command::new(bins.join(bin));
        cmd.env_clear()
            .envs(std::env::var("PATH").ok().map(|p| ("PATH", p)))
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .env("PORT", port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        Killed(cmd.spawn().unwrap_or_else(|e| panic!("start the {bin} function ({}): {e}", bins.display())))
    };
    let procs = [start("executor", exec_port), start("worker", worker_port), start("api", api_port)];
    let http = reqwest::Client::new();
    for (port, what) in [(exec_port, "executor"), (worker_port, "worker"), (api_port, "api")] {
        healthy(&http, port, what).await;
    }
    let api = format!("http://127.0.0.1:{api_port}/api/v1");
    let before_exec = parse(&scrape(&http, exec_port).await);
    let before_worker = parse(&scrape(&http, worker_port).await);
    run_to_end(&http, &api, "ok").await;
    run_to_end(&http, &api, "ko").await;
    let exec_text = scrape(&http, exec_port).await;
    let worker_text = scrape(&http, worker_port).await;
    let api_text = scrape(&http, api_port).await;
    let (exec, worker) = (parse(&exec_text), parse(&worker_text));
    let ns = ("namespace_id", NS);
    // the executor function ended the executions, the worker function ran the tasks
    let ended = |flow, state| {
        delta(
            &before_exec,
            &exec,
            &series("kestra_executor_execution_end_count_total", &[ns, ("flow_id", flow), ("state", state)]),
        )
    };
    assert_eq!((ended("ok", "SUCCESS"), ended("ko", "FAILED")), (1.0, 1.0), "{exec_text}");
    let task = |flow, ty, state| {
        let key =
            series("kestra_worker_ended_count_total", &[ns, ("flow_id", flow), ("task_type", ty), ("state", state)]);
        delta(&before_worker, &worker, &key)
    };
    assert_eq!(
        (task("ok", LOG, "SUCCESS"), task("ok", RETURN, "SUCCESS"), task("ko", FAIL, "FAILED")),
        (1.0, 1.0, 1.0)
    );
    // every push was acked, with its delivery lag
    let pushes = |samples: &Samples, function| {
        samples.get(&series("baton_pubsub_push_total", &[("function", function), ("outcome", "ack")])).copied()
    };
    // one job per task run: 2 + 2
    assert_eq!(pushes(&worker, "worker"), Some(4.0), "{worker_text}");
    assert!(pushes(&exec, "executor").is_some_and(|n| n >= 4.0), "{exec_text}");
    assert!(!worker_text.contains(r#"outcome="retry""#), "{worker_text}");
    assert!(worker.keys().any(|k| k.starts_with("baton_pubsub_delivery_lag_seconds_bucket")), "{worker_text}");
    for (text, what) in [(&exec_text, "the executor"), (&worker_text, "the worker"), (&api_text, "the api")] {
        promtool_passes(text, what);
    }
    // one Prometheus scrapes the three functions
    let (prom, prom_port) = start_prometheus(&dir, &[exec_port, worker_port, api_port]);
    until_prometheus_says(&http, prom_port, "up{job=\"baton\"}", |r| {
        r.len() == 3 && r.iter().all(|s| value_of(s) == 1.0)
    })
    .await;
    until_prometheus_says(
        &http,
        prom_port,
        "sum(kestra_worker_ended_count_total{namespace_id=\"metrics.demo\"})",
        |r| r.len() == 1 && value_of(&r[0]) == 4.0,
    )
    .await;
    drop(prom);
    drop(procs);
    let _ = std::fs::remove_dir_all(&dir);
}

const OPERATE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/src/guides/operate");

/// The metric names a PromQL text uses (`kestra_…`, `baton_…`), without a
/// histogram's `_bucket`, `_count` or `_sum`.
fn metric_names(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
        // `baton_…` in prose is a prefix, not a name
        if (word.starts_with("kestra_") || word.starts_with("baton_")) && !word.ends_with('_') {
            let base = ["_bucket", "_count", "_sum"].iter().find_map(|s| word.strip_suffix(s)).unwrap_or(word);
            out.push(base.to_string());
        }
    }
    out
}

fn documented() -> Vec<&'static str> {
    shared::runtime::metrics::METRICS.iter().chain(shared::prometheus::METRICS).map(|(n, _, _)| *n).collect()
}

/// The dashboard's queries, with Grafana's variables replaced so Prometheus can run them.
fn dashboard_queries() -> Vec<String> {
    let text = std::fs::read_to_string(format!("{OPERATE}/baton-grafana.json")).expect("the dashboard");
    let dash: Value = serde_json::from_str(&text).expect("the dashboard is JSON");
    let mut out = Vec::new();
    for panel in dash["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().expect("targets") {
            let expr = target["expr"].as_str().expect("expr");
            out.push(expr.replace("$__rate_interval", "1m").replace("$namespace", ".*").replace("$flow", ".*"));
        }
    }
    out
}

#[test]
fn the_alert_rules_pass_promtool_and_the_dashboard_and_rules_use_documented_metrics() {
    let rules = format!("{OPERATE}/baton-alerts.yml");
    let out = Command::new("promtool").args(["check", "rules", &rules]).output().expect("promtool");
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let known = documented();
    let page = std::fs::read_to_string(format!("{OPERATE}/prometheus.md")).expect("the guide");
    let texts = [std::fs::read_to_string(&rules).expect("rules"), dashboard_queries().join("\n"), page.clone()];
    for text in &texts {
        for name in metric_names(text) {
            assert!(known.contains(&name.as_str()), "{name} is used but not recorded");
        }
    }
    for name in known {
        assert!(page.contains(&format!("| `{name}` |")), "{name} is recorded but not in the guide's table");
    }
}
