//! `GET /prometheus`: the process's metrics in Prometheus's text format,
//! at Kestra's path (Kestra serves Micrometer's registry there on its
//! management port; `/api/v1/metrics/…` stays Kestra's task-metrics API).
//! Served by `baton server local`, the `api` function (through
//! [`crate::api::router`]) and every push function (executor, worker,
//! scheduler: `functions::server::push_router`).
//!
//! Built on the `metrics` facade and `metrics-exporter-prometheus`, render
//! only (no listener of its own: the route is ours, behind the same guard,
//! bounds and port as the API). Chosen over `prometheus-client` because the
//! facade's macros need no registry handed down through the engine: the
//! recording points in `baton-runtime` are one line each
//! (`runtime::metrics`), free until [`install`] turns them on, which the
//! long-running processes do unless `BATON_METRICS=off` ([`start`]);
//! `baton run` records only with `BATON_METRICS=on`.
//!
//! Here too: the HTTP request latency by route template (axum's
//! `MatchedPath`, never the raw path; `unmatched` for the rest), and the
//! functions' Pub/Sub deliveries (outcome, lag since publish).

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::runtime::metrics::{self as m, Kind};

/// HTTP requests served, by method, route template and status.
pub const HTTP_REQUEST: &str = "baton_http_request_duration_seconds";
/// Pub/Sub push deliveries handled by a function, by function and outcome
/// (`ack`, `retry`: the message is redelivered, then dead-lettered).
pub const PUSH: &str = "baton_pubsub_push_total";
/// Time from a message's publication to its push delivery, by function.
pub const PUSH_LAG: &str = "baton_pubsub_delivery_lag_seconds";

/// The metrics recorded here (see `runtime::metrics::METRICS` for the rest).
pub const METRICS: &[(&str, Kind, &str)] = &[
    (HTTP_REQUEST, Kind::Histogram, "Duration of HTTP requests (method, route template, status)"),
    (PUSH, Kind::Counter, "Pub/Sub push deliveries handled by a function (function, outcome)"),
    (PUSH_LAG, Kind::Histogram, "Time from a message's publication to its push delivery (function)"),
];

/// Buckets of what takes milliseconds: a step, a commit, a request.
const FAST: &[f64] = &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
/// Buckets of what takes seconds to an hour: executions, task runs, queue lag.
const LONG: &[f64] = &[0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0];
/// How often histograms are drained when nobody scrapes (the exporter's
/// upkeep: without it their samples would pile up between scrapes).
const UPKEEP: Duration = Duration::from_secs(5);

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The variable turning recording on or off (`on`, `off`).
pub const SETTING: &str = "BATON_METRICS";

/// `BATON_METRICS` set to something other than `on` or `off`.
#[derive(Debug, thiserror::Error)]
#[error("{SETTING}={0:?}: expected `on` or `off`")]
pub struct SettingError(String);

/// Whether `BATON_METRICS` (read through `var`) turns recording on;
/// `default` when it is unset.
pub fn wanted(var: impl Fn(&str) -> Option<String>, default: bool) -> Result<bool, SettingError> {
    match var(SETTING) {
        None => Ok(default),
        Some(v) => match v.trim() {
            "on" => Ok(true),
            "off" => Ok(false),
            _ => Err(SettingError(v)),
        },
    }
}

/// Installs the recorder when `BATON_METRICS` asks for it (`default` when
/// unset): the processes' start. Whether metrics are recorded.
pub fn start(default: bool) -> Result<bool, SettingError> {
    let on = wanted(|k| std::env::var(k).ok(), default)?;
    Ok(on && install().is_some())
}

/// This process's metrics in Prometheus's text format, when recorded.
pub fn render() -> Option<String> {
    let handle = HANDLE.get()?.as_ref()?;
    handle.run_upkeep();
    Some(handle.render())
}

/// Installs the Prometheus recorder (once per process) and turns the
/// runtime's recording on. `None` when another recorder is installed.
pub fn install() -> Option<&'static PrometheusHandle> {
    HANDLE.get_or_init(build).as_ref()
}

fn build() -> Option<PrometheusHandle> {
    let mut builder = PrometheusBuilder::new();
    let all = m::METRICS.iter().chain(METRICS);
    for (name, kind, _) in all.clone() {
        if *kind == Kind::Histogram {
            let fast = [m::STEP_DURATION, m::STORE_COMMIT, m::MESSAGE_PROCESS, HTTP_REQUEST].contains(name);
            builder =
                builder.set_buckets_for_metric(Matcher::Full(name.to_string()), if fast { FAST } else { LONG }).ok()?;
        }
    }
    let handle = match builder.install_recorder() {
        Ok(h) => h,
        Err(e) => {
            tracing::warn!(error = %e, "Prometheus metrics are off: another metrics recorder is installed");
            return None;
        }
    };
    for (name, kind, help) in all {
        match kind {
            Kind::Counter => metrics::describe_counter!(*name, *help),
            Kind::Gauge => metrics::describe_gauge!(*name, *help),
            Kind::Histogram => metrics::describe_histogram!(*name, metrics::Unit::Seconds, *help),
        }
    }
    let upkeep = handle.clone();
    let spawned = std::thread::Builder::new().name("metrics-upkeep".into()).spawn(move || {
        loop {
            std::thread::sleep(UPKEEP);
            upkeep.run_upkeep();
        }
    });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "Prometheus metrics are off: cannot start their upkeep thread");
        return None;
    }
    m::enable();
    Some(handle)
}

/// `GET /prometheus`.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route("/prometheus", get(scrape))
}

async fn scrape() -> Response {
    let Some(text) = render() else {
        let why =
            format!("Prometheus metrics are off in this process ({SETTING}=off, or another recorder is installed)");
        return (StatusCode::NOT_FOUND, why).into_response();
    };
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
}

/// The middleware timing every request by route template.
pub async fn track(req: Request, next: Next) -> Response {
    if !m::enabled() {
        return next.run(req).await;
    }
    let route = req.extensions().get::<MatchedPath>().map_or("unmatched".to_string(), |p| kestra_route(p.as_str()));
    let method = method_label(req.method());
    let t = Instant::now();
    let res = next.run(req).await;
    let status = res.status();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        m::refused("request_body");
    }
    metrics::histogram!(HTTP_REQUEST, "method" => method, "route" => route, "status" => status.as_str().to_string())
        .record(t.elapsed().as_secs_f64());
    res
}

/// Parameters in the API modules' routes are axum's names (`{id}`); the
/// label is the route as the routes reference documents it, in Kestra's
/// names (`/api/v1/executions/{namespace}/{flowId}`), when one has the
/// same shape; else the route as registered.
fn kestra_route(matched: &str) -> String {
    static DOCUMENTED: OnceLock<HashMap<String, String>> = OnceLock::new();
    let documented = DOCUMENTED.get_or_init(|| {
        let mut map = HashMap::new();
        for r in crate::api::route_table::ROUTES {
            let prefixes: &[&str] = match r.scope {
                crate::api::route_table::Scope::Api => &["/api/v1", "/api/v1/main"],
                crate::api::route_table::Scope::Root => &[""],
            };
            for prefix in prefixes {
                let full = format!("{prefix}{}", r.path);
                map.entry(shape(&full)).or_insert(full);
            }
        }
        map
    });
    documented.get(&shape(matched)).cloned().unwrap_or_else(|| matched.to_string())
}

/// A route with each parameter segment written `{}` (`{*rest}` as `{*}`).
fn shape(route: &str) -> String {
    let segments: Vec<&str> = route
        .split('/')
        .map(|s| match s.strip_prefix('{') {
            Some(p) if p.starts_with('*') => "{*}",
            Some(_) => "{}",
            None => s,
        })
        .collect();
    segments.join("/")
}

/// `router` with every request timed ([`track`]).
pub fn tracked(router: Router) -> Router {
    router.layer(axum::middleware::from_fn(track))
}

/// A bounded method label: the standard methods, `other` for the rest.
fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// A push delivery handled by `function`: acked or not, published at `published`.
pub fn push_handled(function: &'static str, published: chrono::DateTime<chrono::Utc>, acked: bool) {
    if !m::enabled() {
        return;
    }
    let lag = (chrono::Utc::now() - published).num_milliseconds().max(0) as f64 / 1000.0;
    metrics::histogram!(PUSH_LAG, "function" => function).record(lag);
    metrics::counter!(PUSH, "function" => function, "outcome" => if acked { "ack" } else { "retry" }).increment(1);
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use tower_service::Service;

    use super::*;

    #[tokio::test]
    async fn the_scrape_is_prometheus_text_with_routes_by_template() {
        let app = tracked(routes().route("/flows/{namespace}", get(|| async { "ok" })));
        install().expect("the recorder installs in this test process");
        for path in ["/flows/a", "/flows/b", "/nowhere"] {
            let _ = app.clone().call(axum::http::Request::get(path).body(Body::empty()).unwrap()).await.unwrap();
        }
        let res = app.clone().call(axum::http::Request::get("/prometheus").body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(res.status(), 200);
        assert!(res.headers()[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
        let body = axum::body::to_bytes(res.into_body(), 1 << 20).await.unwrap();
        let text = String::from_utf8_lossy(&body);
        assert!(text.contains("# TYPE baton_http_request_duration_seconds histogram"), "{text}");
        assert!(
            text.contains(
                r#"baton_http_request_duration_seconds_count{method="GET",route="/flows/{namespace}",status="200"} 2"#
            ),
            "{text}"
        );
        assert!(text.contains(r#"route="unmatched",status="404""#), "{text}");
        assert!(!text.contains("/flows/a"), "never the raw path: {text}");
    }

    #[test]
    fn the_setting_is_on_or_off_and_nothing_else() {
        let set = |v: &'static str| move |_: &str| Some(v.to_string());
        assert!(!wanted(|_| None, false).unwrap());
        assert!(wanted(|_| None, true).unwrap());
        assert!(wanted(set("on"), false).unwrap());
        assert!(!wanted(set(" off"), true).unwrap());
        let e = wanted(set("yes"), true).unwrap_err().to_string();
        assert_eq!(e, r#"BATON_METRICS="yes": expected `on` or `off`"#);
    }

    #[test]
    fn routes_are_labelled_with_kestra_names() {
        assert_eq!(kestra_route("/api/v1/executions/{id}/{sub}"), "/api/v1/executions/{namespace}/{flowId}");
        assert_eq!(kestra_route("/api/v1/main/executions/{id}"), "/api/v1/main/executions/{executionId}");
        assert_eq!(kestra_route("/prometheus"), "/prometheus");
        assert_eq!(kestra_route("/not/documented/{x}"), "/not/documented/{x}");
    }
}
