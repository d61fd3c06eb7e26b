//! Issue 50, the judged count: one execution of the zoomcamp's Postgres
//! taxi flow (`examples/postgres_taxi.yaml`, its `extract` downloading a
//! generated month from a local HTTP server into the test PostgreSQL) on
//! `baton server local` moves the counters the Operate chapter documents
//! by exactly what it did, scrape before and after. And `BATON_METRICS`:
//! `off` installs no recorder (`/prometheus` answers 404), `on` makes
//! `baton run` write its metrics to `BATON_HOME/metrics.prom`, anything
//! else is refused by name.

use std::process::Command;
use std::time::{Duration, Instant};

use e2e::taxi::{self, Kind};
use e2e::{http, pg, zoomcamp};
use serde_json::Value;

use crate::local_server::LocalServer;
use crate::prometheus::{Killed, Samples, delta, parse, promtool_passes, scrape, series};
use crate::support::baton_bin;

const NS: &str = "zoomcamp";
const FLOW: &str = "02_postgres_taxi";
const ROWS: usize = 200;

/// The task runs one yellow month makes, by task type: each of these tasks
/// once (`If` is decided by the executor, no worker job: not counted).
const TASK_RUNS: &[(&str, f64)] = &[
    ("io.kestra.plugin.core.execution.Labels", 1.0),
    ("io.kestra.plugin.scripts.shell.Commands", 1.0),
    // create table, create staging, truncate staging, add ids, MERGE
    ("io.kestra.plugin.jdbc.postgresql.Queries", 5.0),
    ("io.kestra.plugin.jdbc.postgresql.CopyIn", 1.0),
    ("io.kestra.plugin.core.storage.PurgeCurrentExecutionFiles", 1.0),
];

fn temp_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("baton-promtaxi-{tag}-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(dir.join("flows")).expect("temp dir");
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_taxi_execution_moves_the_documented_counters_by_exactly_its_work() {
    let dir = temp_dir("server");
    let assets = dir.join("assets");
    taxi::write_csv_gz(Kind::Yellow, 2019, 1, ROWS, &zoomcamp::asset_path(&assets, Kind::Yellow, 2019, 1))
        .expect("the month's file");
    let base = http::serve_dir(&assets);
    let db = pg::shared().create_database("promtaxi");
    let flow = zoomcamp::postgres_taxi_flow(&base, &pg::shared().jdbc_url(&db), pg::USER, pg::PASSWORD);
    std::fs::write(dir.join("flows/taxi.yaml"), flow).expect("flow");
    let LocalServer { child, port, log } = LocalServer::start(&dir, 2, &[]).await;
    let server = Killed(child);
    let client = reqwest::Client::new();
    let before = parse(&scrape(&client, port).await);

    // the inputs' defaults: yellow, 2019, 01
    let api = format!("http://127.0.0.1:{port}/api/v1");
    let started: Value =
        client.post(format!("{api}/executions/{NS}/{FLOW}")).send().await.expect("start").json().await.expect("JSON");
    let id = started["id"].as_str().unwrap_or_else(|| panic!("an execution id: {started}")).to_string();
    let deadline = Instant::now() + Duration::from_secs(120);
    let exec = loop {
        let e: Value =
            client.get(format!("{api}/executions/{id}")).send().await.expect("get").json().await.expect("JSON");
        if e["state"]["current"] == "SUCCESS" || e["state"]["current"] == "FAILED" {
            break e;
        }
        assert!(Instant::now() < deadline, "execution did not end: {e}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let server_log = || std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(exec["state"]["current"], "SUCCESS", "{exec}\n{}", server_log());
    assert_eq!(pg::shared().count(&db, "SELECT count(*) FROM yellow_tripdata"), ROWS as i64);

    let text = scrape(&client, port).await;
    let after = parse(&text);
    let flow = [("namespace_id", NS), ("flow_id", FLOW)];
    let with = |extra: &[(&'static str, &'static str)]| -> Vec<(&'static str, &'static str)> {
        flow.iter().chain(extra).copied().collect()
    };
    let d = |name: &str, labels: &[(&str, &str)]| delta(&before, &after, &series(name, labels));
    // the execution: started once, ended once in SUCCESS, its duration observed once
    assert_eq!(d("kestra_executor_execution_started_count_total", &flow), 1.0, "{text}");
    for (state, n) in [("SUCCESS", 1.0), ("FAILED", 0.0), ("KILLED", 0.0), ("WARNING", 0.0)] {
        assert_eq!(d("kestra_executor_execution_end_count_total", &with(&[("state", state)])), n, "{state}: {text}");
    }
    assert_eq!(d("kestra_executor_execution_duration_seconds_count", &with(&[("state", "SUCCESS")])), 1.0, "{text}");
    // its task runs, by type: started and ended in SUCCESS exactly once each
    for &(ty, n) in TASK_RUNS {
        assert_eq!(d("kestra_worker_started_count_total", &with(&[("task_type", ty)])), n, "{ty}: {text}");
        let ended = |state| d("kestra_worker_ended_count_total", &with(&[("task_type", ty), ("state", state)]));
        assert_eq!((ended("SUCCESS"), ended("FAILED")), (n, 0.0), "{ty}: {text}");
        let timed = series("kestra_worker_ended_duration_seconds_count", &[("task_type", ty), ("state", "SUCCESS")]);
        assert_eq!(delta(&before, &after, &timed), n, "{ty}: {text}");
    }
    // and nothing else: no other task type, no other state
    let total = |prefix: &str, s: &Samples| -> f64 {
        s.iter()
            .filter(|(k, _)| k.starts_with(prefix) && k.contains(&format!("flow_id=\"{FLOW}\"")))
            .map(|(_, v)| v)
            .sum()
    };
    let all_ended =
        total("kestra_worker_ended_count_total{", &after) - total("kestra_worker_ended_count_total{", &before);
    assert_eq!(all_ended, TASK_RUNS.iter().map(|(_, n)| n).sum::<f64>(), "{text}");
    // nothing left running, nothing in flight; no admission (no concurrency
    // limit), no trigger, no refusal at a bound
    assert_eq!(after.get("kestra_worker_job_running").copied().unwrap_or(0.0), 0.0, "{text}");
    assert_eq!(after.get(&series("baton_executions_in_flight", &flow)).copied().unwrap_or(0.0), 0.0, "{text}");
    for prefix in [
        "baton_concurrency_admissions_total{",
        "kestra_scheduler_evaluate_count_total{",
        "kestra_scheduler_trigger_count_total{",
    ] {
        assert_eq!(total(prefix, &after), total(prefix, &before), "{prefix}: {text}");
    }
    let refusals = |s: &Samples| {
        s.iter().filter(|(k, _)| k.starts_with("baton_bound_refusals_total")).map(|(_, v)| v).sum::<f64>()
    };
    assert_eq!(refusals(&after), refusals(&before), "{text}");
    // the one start request, by its route template
    let route = "/api/v1/executions/{namespace}/{flowId}";
    let posts =
        d("baton_http_request_duration_seconds_count", &[("method", "POST"), ("route", route), ("status", "200")]);
    assert_eq!(posts, 1.0, "{text}");
    // the executor stepped and committed (how often depends on batching: at least once per task run)
    assert!(delta(&before, &after, "baton_executor_step_duration_seconds_count") >= 1.0, "{text}");
    assert!(d("baton_store_commit_duration_seconds_count", &[("outcome", "ok")]) >= 9.0, "{text}");
    promtool_passes(&text, "baton server local after the taxi flow");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

const OK: &str = "id: ok\nnamespace: metrics.demo\ntasks:\n  - id: hello\n    type: io.kestra.plugin.core.log.Log\n    \
                  message: hello\n  - id: answer\n    type: io.kestra.plugin.core.debug.Return\n    format: \"42\"\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baton_metrics_off_installs_nothing_and_on_makes_baton_run_write_them() {
    let dir = temp_dir("setting");
    std::fs::write(dir.join("flows/ok.yaml"), OK).expect("flow");
    let LocalServer { child, port, .. } = LocalServer::start(&dir, 1, &[("BATON_METRICS", "off")]).await;
    let server = Killed(child);
    let r = reqwest::get(format!("http://127.0.0.1:{port}/prometheus")).await.expect("scrape");
    assert_eq!(r.status(), 404);
    assert!(r.text().await.expect("text").contains("BATON_METRICS=off"));
    drop(server);

    let run = |home: &str, value: Option<&str>| {
        let mut cmd = Command::new(baton_bin());
        cmd.args(["run", "-q"]).arg(dir.join("flows/ok.yaml")).env("BATON_HOME", dir.join(home));
        match value {
            Some(v) => cmd.env("BATON_METRICS", v),
            None => cmd.env_remove("BATON_METRICS"),
        };
        cmd.output().expect("baton run")
    };
    let out = run("on", Some("on"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(dir.join("on/metrics.prom")).expect("the run's metrics");
    let samples = parse(&text);
    let ended = |ty| {
        let labels = [("namespace_id", "metrics.demo"), ("flow_id", "ok"), ("task_type", ty), ("state", "SUCCESS")];
        samples.get(&series("kestra_worker_ended_count_total", &labels)).copied()
    };
    assert_eq!(ended("io.kestra.plugin.core.log.Log"), Some(1.0), "{text}");
    assert_eq!(ended("io.kestra.plugin.core.debug.Return"), Some(1.0), "{text}");
    promtool_passes(&text, "baton run's metrics.prom");

    let out = run("default", None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!dir.join("default/metrics.prom").exists(), "off by default in baton run");
    let out = run("bad", Some("yes"));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(r#"BATON_METRICS="yes": expected `on` or `off`"#), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
