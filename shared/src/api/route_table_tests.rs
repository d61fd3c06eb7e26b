//! [`ROUTES`] against the router, both ways: asked through a server whose
//! routes all answer 418 before their handler runs, each documented route
//! answers with each of its methods (under both API prefixes); and every
//! `.route("…")` of the API modules' sources is documented with each of
//! its methods.

use std::sync::Arc;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;

use super::{ROUTES, Scope};
use crate::api::{ApiHost, ApiResult, ApiState, BackfillBody, BackfillCreated};
use crate::model::Flow;

/// A host no request reaches (the routes answer before their handlers).
struct NoHost;

#[async_trait::async_trait]
impl ApiHost for NoHost {
    async fn flow(&self, _: &str, _: &str) -> ApiResult<Arc<Flow>> {
        unreachable!("routes answer before their handlers")
    }
    async fn flows(&self) -> ApiResult<Vec<Arc<Flow>>> {
        unreachable!()
    }
    async fn save_flow(&self, _: &Flow) -> ApiResult<()> {
        unreachable!()
    }
    async fn flow_problem(&self, _: &str, _: &str) -> ApiResult<Option<String>> {
        unreachable!()
    }
    async fn delete_flow(&self, _: &str, _: &str) -> ApiResult<bool> {
        unreachable!()
    }
    fn triggers(&self) -> Option<Arc<dyn crate::backend::schedule::TriggerStore>> {
        None
    }
    async fn create_backfill(&self, _: BackfillBody) -> ApiResult<BackfillCreated> {
        unreachable!()
    }
    async fn drive_backfill(&self, _: &str) -> ApiResult<()> {
        unreachable!()
    }
}

async fn routed(_: Request, _: Next) -> StatusCode {
    StatusCode::IM_A_TEAPOT
}

/// A concrete path of a pattern: each `{param}` becomes `p1`, `p2`…
fn concrete(pattern: &str) -> String {
    let mut n = 0;
    let parts: Vec<String> = pattern
        .split('/')
        .map(|seg| {
            if seg.starts_with('{') {
                n += 1;
                format!("p{n}")
            } else {
                seg.to_string()
            }
        })
        .collect();
    parts.join("/")
}

/// Whether two patterns can name the same path (segment by segment, a
/// parameter against anything).
fn overlap(a: &str, b: &str) -> bool {
    let (a, b): (Vec<&str>, Vec<&str>) = (a.split('/').collect(), b.split('/').collect());
    a.len() == b.len() && a.iter().zip(&b).all(|(x, y)| x == y || x.starts_with('{') || y.starts_with('{'))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_route_answers_with_its_methods() {
    let home = std::env::temp_dir().join(format!("baton-route-table-{}", std::process::id()));
    let engine = crate::runtime::engine::for_tests(&home);
    let state = ApiState { engine, host: Arc::new(NoHost) };
    let api = crate::api::api_routes().route_layer(axum::middleware::from_fn(routed));
    let app = crate::api::root_routes()
        .route_layer(axum::middleware::from_fn(routed))
        .nest("/api/v1/main", api.clone())
        .nest("/api/v1", api)
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    let client = reqwest::Client::new();
    let mut wrong = Vec::new();
    for r in ROUTES {
        let path = concrete(r.path);
        let prefixes: &[&str] = if r.scope == Scope::Api { &["/api/v1", "/api/v1/main"] } else { &[""] };
        for m in r.methods {
            for prefix in prefixes {
                let url = format!("http://{addr}{prefix}{path}");
                let method = reqwest::Method::from_bytes(m.as_bytes()).expect("method");
                let status = client.request(method, &url).send().await.expect("request").status();
                if status != StatusCode::IM_A_TEAPOT {
                    wrong.push(format!("{m} {prefix}{path}: {status}"));
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&home);
    assert!(wrong.is_empty(), "documented in api/route_table.rs but not served:\n{}", wrong.join("\n"));
}

#[test]
fn every_route_the_api_modules_register_is_documented_with_its_methods() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/api");
    let route = regex::Regex::new(r#"\.route\(\s*"([^"]+)""#).expect("regex");
    let method = regex::Regex::new(r"\b(get|post|put|delete|patch)\(").expect("regex");
    let mut missing = Vec::new();
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("src/api") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("source");
        // the module's own code, not its tests
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        let starts: Vec<(usize, &str)> = route
            .captures_iter(code)
            .map(|c| (c.get(0).map_or(0, |m| m.start()), c.get(1).map_or("", |m| m.as_str())))
            .collect();
        for (i, (at, pattern)) in starts.iter().enumerate() {
            seen += 1;
            let end = starts.get(i + 1).map_or(code.len(), |n| n.0);
            let body = &code[*at..end];
            let body = &body[..body.find("\n}").unwrap_or(body.len())];
            let scope = if *pattern == "/"
                || *pattern == "/ui"
                || pattern.starts_with("/ui/")
                || pattern.starts_with("/health")
            {
                Scope::Root
            } else {
                Scope::Api
            };
            for m in method.captures_iter(body).filter_map(|c| c.get(1)) {
                let m = m.as_str().to_uppercase();
                let documented = ROUTES
                    .iter()
                    .any(|r| r.scope == scope && r.methods.contains(&m.as_str()) && overlap(r.path, pattern));
                if !documented {
                    missing.push(format!("{m} {pattern} ({})", path.file_name().unwrap_or_default().to_string_lossy()));
                }
            }
        }
    }
    assert!(seen > 100, "found {seen} routes in src/api");
    assert!(missing.is_empty(), "add these to ROUTES in shared/src/api/route_table.rs: {missing:?}");
}
