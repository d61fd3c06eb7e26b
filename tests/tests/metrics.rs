//! Task metrics end to end on `baton server local`: Kestra's Python
//! library (`kestra` 2.0.0, in the virtualenv `scripts/setup/kestra_client.sh`
//! makes) run in a python task — `Kestra.logger()`, `Kestra.outputs()`,
//! `Kestra.counter()`, `Kestra.timer()` and its `gauge` Kestra does not
//! keep — a shell script's protocol line on stderr, and a core task's
//! metrics (`Return`), read back through Kestra's metric routes; deleting
//! the execution deletes its metrics.

use std::time::Duration;

use serde_json::{Value, json};
use shared::server::{LocalServer, ServerOptions};

use crate::sched_support::temp_dir;

fn flow(python: &str) -> String {
    format!(
        r#"
id: measured
namespace: test.metrics
tasks:
  - id: py
    type: io.kestra.plugin.scripts.python.Commands
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    inputFiles:
      main.py: |
        from kestra import Kestra
        logger = Kestra.logger()
        logger.info("hello from the library")
        logger.warning("careful now")
        Kestra.outputs({{"rows": 3, "file": "a.csv"}})
        Kestra.counter("rows", 2, {{"file": "a.csv"}})
        Kestra.counter("rows", 1, {{"file": "a.csv"}})
        Kestra.counter("rows", 5, {{"file": "b.csv"}})
        Kestra.timer("load", 1.5)
        Kestra.gauge("level", 4)
    commands:
      - {python} main.py
  - id: sh
    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    commands:
      - echo '::{{"metrics":[{{"name":"bytes","type":"counter","value":42}}]}}::' >&2
  - id: ret
    type: io.kestra.plugin.core.debug.Return
    format: "héllo"
"#
    )
}

async fn start() -> LocalServer {
    let home = temp_dir("baton-metrics");
    let flows = home.join("flows");
    std::fs::create_dir_all(&flows).expect("flows");
    let python = std::env::var("BATON_KESTRA_PYTHON").unwrap_or_else(|_| {
        panic!("BATON_KESTRA_PYTHON is not set: source scripts/setup/kestra_client.sh (it installs kestra 2.0.0)")
    });
    std::fs::write(flows.join("measured.yml"), flow(&python)).expect("flow");
    let mut opts = ServerOptions::new(home.join("home"));
    opts.flows_dir = flows;
    opts.port = 0;
    opts.workers = 2;
    opts.tick = Duration::from_millis(200);
    LocalServer::start(opts).await.expect("server starts")
}

async fn get(http: &reqwest::Client, base: &str, path: &str) -> (u16, Value) {
    let r = http.get(format!("{base}{path}")).send().await.expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn by_name<'a>(results: &'a [Value], task: &str, name: &str) -> Vec<&'a Value> {
    results.iter().filter(|m| m["taskId"] == task && m["name"] == name).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kestra_python_library_and_core_task_metrics_are_kept_and_served() {
    let server = start().await;
    let base = format!("http://{}/api/v1", server.addr());
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{base}/executions/test.metrics/measured?wait=true"))
        .send()
        .await
        .expect("start the execution");
    let exec: Value = r.json().await.expect("execution JSON");
    let id = exec["id"].as_str().expect("id").to_string();
    assert_eq!(exec["state"]["current"], "SUCCESS", "{exec}");

    // the library's outputs and log lines, as before
    let py = exec["taskRunList"].as_array().expect("task runs").iter().find(|t| t["taskId"] == "py").expect("py");
    assert_eq!(py["outputs"]["vars"], json!({"rows": 3, "file": "a.csv"}));
    let (_, logs) = get(&http, &base, &format!("/logs/{id}?taskId=py&minLevel=DEBUG")).await;
    let lines: Vec<(String, String)> = logs
        .as_array()
        .expect("logs")
        .iter()
        .map(|l| (l["level"].as_str().unwrap_or("").to_string(), l["message"].as_str().unwrap_or("").to_string()))
        .collect();
    assert!(lines.iter().any(|(l, m)| l == "INFO" && m.ends_with(" - hello from the library")), "{lines:?}");
    assert!(lines.iter().any(|(l, m)| l == "WARN" && m.ends_with(" - careful now")), "{lines:?}");
    assert!(
        lines.iter().any(|(l, m)| l == "WARN" && m.contains("'level' not recorded: its type 'gauge'")),
        "a gauge is named, not silently dropped: {lines:?}"
    );
    assert!(!lines.iter().any(|(_, m)| m.contains("keeps no metrics")), "{lines:?}");

    // GET /metrics/{executionId}
    let (status, page) = get(&http, &base, &format!("/metrics/{id}?size=50")).await;
    assert_eq!(status, 200, "{page}");
    let results = page["results"].as_array().expect("results").clone();
    assert_eq!(page["total"], results.len(), "{page}");
    let rows = by_name(&results, "py", "rows");
    assert_eq!(rows.len(), 2, "same name and tags add up (Kestra's merge): {results:?}");
    let a = rows.iter().find(|m| m["tags"]["file"] == "a.csv").expect("a.csv");
    assert_eq!((a["type"].as_str(), a["value"].as_f64()), (Some("counter"), Some(3.0)), "{a}");
    assert_eq!(a["executionId"], id.as_str());
    assert_eq!(a["namespace"], "test.metrics");
    assert_eq!(a["flowId"], "measured");
    assert_eq!(a["taskRunId"], py["id"]);
    assert!(a["timestamp"].is_string(), "{a}");
    let load = by_name(&results, "py", "load");
    assert_eq!(load[0]["type"], "timer");
    assert_eq!(load[0]["value"].as_f64(), Some(1500.0), "the library's seconds kept as milliseconds: {load:?}");
    assert!(by_name(&results, "py", "level").is_empty(), "a gauge is not kept");
    let bytes = by_name(&results, "sh", "bytes");
    assert_eq!(bytes[0]["value"].as_f64(), Some(42.0), "the protocol on stderr: {results:?}");
    let length = by_name(&results, "ret", "length");
    assert_eq!(length[0]["value"].as_f64(), Some(5.0), "Return's length counter: {results:?}");
    assert_eq!(length[0]["tags"], json!({"format": "héllo"}));
    assert_eq!(by_name(&results, "ret", "duration")[0]["type"], "timer");

    // narrowed and paged
    let (_, page) = get(&http, &base, &format!("/metrics/{id}?taskId=py&sort=value:desc&size=2")).await;
    assert_eq!(page["total"], 3, "{page}");
    let values: Vec<f64> = page["results"].as_array().unwrap().iter().map(|m| m["value"].as_f64().unwrap()).collect();
    assert_eq!(values, [1500.0, 5.0]);
    let sh_run = exec["taskRunList"].as_array().unwrap().iter().find(|t| t["taskId"] == "sh").unwrap()["id"].clone();
    let (_, page) = get(&http, &base, &format!("/main/metrics/{id}?taskRunId={}", sh_run.as_str().unwrap())).await;
    assert_eq!(page["total"], 1, "the tenant path and taskRunId: {page}");
    let (status, bad) = get(&http, &base, &format!("/metrics/{id}?sort=colour")).await;
    assert_eq!(status, 400, "{bad}");

    // names, tasks, aggregates
    let (_, names) = get(&http, &base, "/metrics/names/test.metrics/measured").await;
    assert_eq!(names, json!(["bytes", "duration", "length", "load", "rows"]));
    let (_, names) = get(&http, &base, "/metrics/names/test.metrics/measured/py").await;
    assert_eq!(names, json!(["load", "rows"]));
    let (_, tasks) = get(&http, &base, "/metrics/tasks/test.metrics/measured").await;
    assert_eq!(tasks, json!(["py", "ret", "sh"]));
    let (status, agg) = get(&http, &base, "/metrics/aggregates/test.metrics/measured/rows").await;
    assert_eq!(status, 200, "{agg}");
    assert_eq!(agg["groupBy"], "day", "30 days by default: {agg}");
    let buckets = agg["aggregations"].as_array().expect("aggregations");
    assert!(buckets.len() >= 30, "every day of the range: {agg}");
    let sum: f64 = buckets.iter().map(|b| b["value"].as_f64().unwrap()).sum();
    assert_eq!(sum, 8.0, "{agg}");
    assert!(buckets.iter().any(|b| b["name"] == "rows"), "{agg}");
    let (_, agg) = get(&http, &base, "/metrics/aggregates/test.metrics/measured/py/rows?aggregation=max").await;
    let max = agg["aggregations"].as_array().unwrap().iter().map(|b| b["value"].as_f64().unwrap()).fold(0.0, f64::max);
    assert_eq!(max, 5.0, "{agg}");
    let (status, bad) = get(&http, &base, "/metrics/aggregates/test.metrics/measured/rows?aggregation=median").await;
    assert_eq!(status, 400, "{bad}");
    let (status, bad) = get(
        &http,
        &base,
        "/metrics/aggregates/test.metrics/measured/rows?startDate=2026-02-01T00:00&endDate=2026-01-01T00:00",
    )
    .await;
    assert_eq!((status, bad["message"].as_str()), (400, Some("Start date must be before End Date")));

    // deleting the execution deletes its metrics (deleteMetrics, true by default)
    let r = http.delete(format!("{base}/executions/{id}")).send().await.expect("delete");
    assert_eq!(r.status().as_u16(), 204);
    let (_, page) = get(&http, &base, &format!("/metrics/{id}")).await;
    assert_eq!(page["total"], 0, "{page}");
    let (_, names) = get(&http, &base, "/metrics/names/test.metrics/measured").await;
    assert_eq!(names, json!([]));
    server.shutdown().await;
}
