//! OpenTelemetry traces, received as a collector receives them: an OTLP/HTTP
//! receiver in the test (`/v1/traces`, protobuf decoded with
//! `opentelemetry-proto`, or JSON) and `baton run` as a process with only
//! the standard `OTEL_*` variables set. The zoomcamp's Postgres taxi flow
//! against the test PostgreSQL is one trace: its execution's root span,
//! a span per task run attempt under it, and the PostgreSQL statements,
//! the COPY and the `extract` process under their task runs. Without the
//! variables nothing is sent. On the deployed shape (the functions as
//! separate processes on the emulators, every message delivered twice) one
//! execution is one trace too: the root span from the executor process, a
//! span per attempt from the worker process under it, once each.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use e2e::deployed::Deployment;
use e2e::taxi::{self, Kind};
use e2e::{http, pg, zoomcamp};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use prost::Message;

use crate::deployed::{push_shape, until, until_quiet};
use crate::support::baton_bin;

/// One received span, flattened.
#[derive(Debug, Clone)]
struct Got {
    service: String,
    trace_id: String,
    span_id: String,
    parent: String,
    name: String,
    attrs: HashMap<String, String>,
    status: i32,
}

type Spans = Arc<Mutex<Vec<Got>>>;

fn text(v: Option<&opentelemetry_proto::tonic::common::v1::AnyValue>) -> String {
    match v.and_then(|v| v.value.as_ref()) {
        Some(AnyValue::StringValue(s)) => s.clone(),
        Some(AnyValue::IntValue(i)) => i.to_string(),
        Some(AnyValue::BoolValue(b)) => b.to_string(),
        Some(AnyValue::DoubleValue(d)) => d.to_string(),
        _ => String::new(),
    }
}

async fn receive(State(spans): State<Spans>, headers: HeaderMap, body: Bytes) -> &'static str {
    let json = headers.get("content-type").and_then(|v| v.to_str().ok()).is_some_and(|c| c.contains("json"));
    let req: ExportTraceServiceRequest = if json {
        serde_json::from_slice(&body).unwrap_or_else(|e| panic!("OTLP JSON: {e}"))
    } else {
        ExportTraceServiceRequest::decode(body).unwrap_or_else(|e| panic!("OTLP protobuf: {e}"))
    };
    let mut out = spans.lock().unwrap();
    for rs in req.resource_spans {
        let service = rs
            .resource
            .as_ref()
            .and_then(|r| r.attributes.iter().find(|a| a.key == "service.name"))
            .map(|a| text(a.value.as_ref()))
            .unwrap_or_default();
        for ss in rs.scope_spans {
            for s in ss.spans {
                out.push(Got {
                    service: service.clone(),
                    trace_id: hex(&s.trace_id),
                    span_id: hex(&s.span_id),
                    parent: hex(&s.parent_span_id),
                    name: s.name.clone(),
                    attrs: s.attributes.iter().map(|a| (a.key.clone(), text(a.value.as_ref()))).collect(),
                    status: s.status.as_ref().map_or(0, |st| st.code),
                });
            }
        }
    }
    ""
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// An OTLP/HTTP receiver on a free loopback port: its base URL and what it got.
async fn receiver() -> (String, Spans) {
    let spans: Spans = Arc::default();
    let app = axum::Router::new()
        .route("/v1/traces", axum::routing::post(receive))
        .route("/ping", axum::routing::get(|| async { "pong" }))
        .with_state(spans.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, spans)
}

fn run_taxi(env: &[(&str, &str)], tag: &str) -> (String, std::process::Output) {
    let root = std::env::temp_dir().join(format!("baton-otel-{tag}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&root).unwrap();
    taxi::write_csv_gz(Kind::Green, 2019, 1, 50, &zoomcamp::asset_path(&root, Kind::Green, 2019, 1)).unwrap();
    let served = http::serve_dir(&root);
    let db = pg::shared().create_database("otel");
    let flow = root.join("taxi.yml");
    std::fs::write(&flow, zoomcamp::postgres_taxi_flow(&served, &pg::shared().jdbc_url(&db), pg::USER, pg::PASSWORD))
        .unwrap();
    let mut cmd = std::process::Command::new(baton_bin());
    cmd.args(["run", &flow.display().to_string(), "-i", "taxi=green", "-i", "year=2019", "-i", "month=01"])
        .env("BATON_HOME", root.join("home"))
        .env("NO_COLOR", "1");
    for k in ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_SERVICE_NAME"] {
        cmd.env_remove(k);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("baton run");
    let _ = std::fs::remove_dir_all(&root);
    (db, out)
}

fn out_text(o: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn check_tree(spans: &[Got], protocol: &str) {
    let roots: Vec<&Got> = spans.iter().filter(|s| s.parent.is_empty()).collect();
    assert_eq!(roots.len(), 1, "{protocol}: one root span (the execution): {spans:#?}");
    let root = roots[0];
    assert_eq!(root.name, "zoomcamp.02_postgres_taxi", "{protocol}");
    assert_eq!(root.attrs.get("baton.state").map(String::as_str), Some("SUCCESS"), "{protocol}: {root:?}");
    assert_eq!(root.status, 1, "{protocol}: status OK");
    assert_eq!(root.service, "baton", "{protocol}");
    let exec = root.attrs.get("baton.execution.id").cloned().unwrap_or_default();
    assert!(!exec.is_empty(), "{protocol}: {root:?}");
    assert!(spans.iter().all(|s| s.trace_id == root.trace_id), "{protocol}: one trace: {spans:#?}");
    let runs: Vec<&Got> = spans.iter().filter(|s| s.attrs.contains_key("baton.taskrun.id")).collect();
    for r in &runs {
        assert_eq!(r.parent, root.span_id, "{protocol}: a task run's parent is the execution: {r:?}");
        assert_eq!(r.attrs.get("baton.execution.id"), Some(&exec), "{protocol}");
    }
    let task_ids: Vec<&str> = runs.iter().filter_map(|r| r.attrs.get("baton.task.id").map(String::as_str)).collect();
    for t in ["extract", "green_create_table", "green_copy_in_to_staging_table", "green_merge_data"] {
        assert!(task_ids.contains(&t), "{protocol}: a span for task {t}: {task_ids:?}");
    }
    let run_of = |id: &str| runs.iter().find(|r| r.span_id == id).map(|r| r.attrs["baton.task.id"].clone());
    let under = |name: &str| -> Vec<String> {
        spans.iter().filter(|s| s.name == name).filter_map(|s| run_of(&s.parent)).collect::<Vec<_>>()
    };
    let queries = under("postgresql.query");
    assert!(queries.iter().any(|t| t == "green_merge_data"), "{protocol}: the MERGE under its task run: {queries:?}");
    assert!(
        spans.iter().filter(|s| s.name == "postgresql.query").all(|s| run_of(&s.parent).is_some()),
        "{protocol}: every statement under a task run"
    );
    assert_eq!(under("postgresql.copy"), vec!["green_copy_in_to_staging_table".to_string()], "{protocol}");
    assert!(under("process").contains(&"extract".to_string()), "{protocol}: wget | gunzip under extract");
    let merge = spans
        .iter()
        .find(|s| s.name == "postgresql.query" && run_of(&s.parent).as_deref() == Some("green_merge_data"))
        .unwrap();
    assert!(merge.attrs.get("db.statement").is_some_and(|q| q.contains("MERGE")), "{protocol}: {merge:?}");
    assert!(
        !spans.iter().any(|s| s.attrs.values().any(|v| v.contains(pg::PASSWORD))),
        "{protocol}: the password never in a span"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_taxi_flow_is_one_trace_execution_task_runs_then_their_queries() {
    for protocol in ["http/protobuf", "http/json"] {
        let (url, spans) = receiver().await;
        let (_db, out) = tokio::task::spawn_blocking(move || {
            run_taxi(&[("OTEL_EXPORTER_OTLP_ENDPOINT", url.as_str()), ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)], "on")
        })
        .await
        .unwrap();
        assert!(out.status.success(), "{protocol}: {}", out_text(&out));
        let got = spans.lock().unwrap().clone();
        check_tree(&got, protocol);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_sent_without_the_variables_and_grpc_is_refused_by_name() {
    let (url, spans) = receiver().await;
    let (_db, out) = tokio::task::spawn_blocking(|| run_taxi(&[], "off")).await.unwrap();
    assert!(out.status.success(), "{}", out_text(&out));
    assert!(spans.lock().unwrap().is_empty(), "no variables, no spans (receiver at {url})");
    let u = url.clone();
    let (_db, out) = tokio::task::spawn_blocking(move || {
        run_taxi(&[("OTEL_EXPORTER_OTLP_ENDPOINT", u.as_str()), ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")], "grpc")
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", out_text(&out));
    assert!(out_text(&out).contains("OTEL_EXPORTER_OTLP_PROTOCOL=grpc"), "{}", out_text(&out));
    assert!(spans.lock().unwrap().is_empty());
}

const TRACED: &str = "id: traced\nnamespace: gcp.traces\ntasks:\n  - id: hello\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n  - id: ping\n    type: io.kestra.plugin.core.http.Request\n    uri: URL/ping\n  - id: last\n    type: io.kestra.plugin.core.debug.Return\n    format: done\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_execution_on_the_deployed_shape_is_one_trace_across_the_function_processes() {
    let (url, spans) = receiver().await;
    let env = [("OTEL_EXPORTER_OTLP_ENDPOINT", url.as_str())];
    let d = Deployment::start_with(&push_shape(), 2, std::time::Duration::from_secs(1), &env).await;
    d.upload_flow("flows/gcp.traces/traced.yml", &TRACED.replace("URL", &url)).await;
    let start = format!("{}/api/v1/executions/gcp.traces/traced", d.function("api").url);
    let body: serde_json::Value = d.http.post(start).send().await.expect("start").json().await.expect("json");
    let id = body["id"].as_str().unwrap_or_else(|| panic!("no execution: {body}")).to_string();
    let done = until(&d, std::time::Duration::from_secs(90), "the execution to end", || async {
        let e = shared::backend::StateStore::load_execution(d.backends.state.as_ref(), &id).await.ok()??;
        e.state.is_terminal().then_some(e)
    })
    .await;
    assert_eq!(done.state.current, shared::model::StateType::Success, "{}", d.logs());
    // the root span is sent by the executor before it answers the push that ended it
    until(&d, std::time::Duration::from_secs(30), "the root span", || async {
        spans.lock().unwrap().iter().any(|s| s.parent.is_empty()).then_some(())
    })
    .await;
    // every message is delivered twice: the duplicates come and go
    until_quiet(&d, std::time::Duration::from_secs(2), std::time::Duration::from_secs(60)).await;
    let got = spans.lock().unwrap().clone();
    let roots: Vec<&Got> = got.iter().filter(|s| s.parent.is_empty()).collect();
    assert_eq!(roots.len(), 1, "one root span, written once: {got:#?}");
    let root = roots[0];
    assert_eq!(root.service, "baton-executor", "the root from the executor process");
    assert_eq!(root.attrs.get("baton.execution.id"), Some(&id));
    assert!(got.iter().all(|s| s.trace_id == root.trace_id), "one trace: {got:#?}");
    let runs: Vec<&Got> = got.iter().filter(|s| s.attrs.contains_key("baton.taskrun.id")).collect();
    let mut tasks: Vec<&str> = runs.iter().map(|r| r.attrs["baton.task.id"].as_str()).collect();
    tasks.sort_unstable();
    assert_eq!(tasks, ["hello", "last", "ping"], "a span per attempt, once each despite duplicate deliveries");
    for r in &runs {
        assert_eq!(r.parent, root.span_id, "{r:?}");
        assert_eq!(r.service, "baton-worker", "attempts from the worker process: {r:?}");
    }
    let ping = runs.iter().find(|r| r.attrs["baton.task.id"] == "ping").unwrap();
    let http: Vec<&Got> = got.iter().filter(|s| s.name == "HTTP GET").collect();
    assert_eq!(http.len(), 1, "{got:#?}");
    assert_eq!(http[0].parent, ping.span_id, "the HTTP call under its task run");
    assert_eq!(http[0].service, "baton-worker");
    assert_eq!(http[0].attrs.get("http.response.status_code").map(String::as_str), Some("200"));
    // the worker's log lines name the execution's trace and the attempt's span
    let trace_line = format!("traces/{}", root.trace_id);
    assert!(d.logs().contains(&trace_line), "log lines carry the execution's trace\n{}", d.logs());
}
