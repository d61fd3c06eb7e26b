//! The API's bound on how long a request's handler may take to answer, on
//! `baton server local` and the GCP `api` function alike.
//!
//! Two classes of routes:
//! - an ordinary request (reads, flow saves, validation, kills, KV…) has
//!   [`REQUEST_TIMEOUT`] (60 s) to answer;
//! - a request that uploads files (a `multipart/form-data` body: an
//!   execution's or a resume's FILE inputs, namespace files, a flow
//!   import) or waits for an execution to end (`?wait=true`, a test
//!   suite's run `POST /tests/{namespace}/{id}/run`) has
//!   [`LONG_REQUEST_TIMEOUT`] (60 min, Cloud Run's longest request).
//!
//! The bound covers the handler until it answers: a response body that
//! streams (a file or logs download, a `/follow` event stream) is not cut
//! by it. A handler still working at the bound is stopped (dropped at its
//! next `.await`, as when a client goes away) and the request answered 503
//! with the API's JSON error naming the bound.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;

/// An ordinary API request: 60 s to answer.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// A request uploading files or waiting for an execution: 60 min.
pub const LONG_REQUEST_TIMEOUT: Duration = Duration::from_secs(3600);

/// The two bounds (the constants in production; shorter in tests).
#[derive(Debug, Clone, Copy)]
pub struct RequestTimeouts {
    pub request: Duration,
    pub long: Duration,
}

impl Default for RequestTimeouts {
    fn default() -> RequestTimeouts {
        RequestTimeouts { request: REQUEST_TIMEOUT, long: LONG_REQUEST_TIMEOUT }
    }
}

/// True for a request of the long class: a multipart upload, a flow
/// import, or `wait=true`.
pub fn is_long(req: &Request) -> bool {
    let multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("multipart/"));
    let waits = req.uri().query().is_some_and(|q| {
        q.split('&').any(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            k == "wait" && v.eq_ignore_ascii_case("true")
        })
    });
    let path = req.uri().path();
    let test_run = path.contains("/tests/") && path.ends_with("/run");
    multipart || waits || test_run || path.ends_with("/flows/import")
}

fn describe(d: Duration) -> String {
    match d.as_secs() {
        0 => format!("{} ms", d.as_millis()),
        s if s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

/// The middleware: runs the handler under its class's bound.
pub async fn request_timeout(State(bounds): State<RequestTimeouts>, req: Request, next: Next) -> Response {
    let (bound, name, what) = if is_long(&req) {
        (bounds.long, "LONG_REQUEST_TIMEOUT", "a request uploading files, waiting for an execution or running tests")
    } else {
        (bounds.request, "REQUEST_TIMEOUT", "an API request")
    };
    let route = format!("{} {}", req.method(), req.uri().path());
    match tokio::time::timeout(bound, next.run(req)).await {
        Ok(res) => res,
        Err(_) => {
            crate::runtime::metrics::refused("request_timeout");
            tracing::warn!(%route, bound = %describe(bound), "request stopped at its time bound");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "{route} did not answer within Baton's bound of {} for {what} ({name}) and was stopped",
                    describe(bound)
                ),
            )
            .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::routing::{get, post};

    use super::*;

    fn req(method: &str, uri: &str, content_type: Option<&str>) -> Request {
        let mut b = axum::http::Request::builder().method(method).uri(uri);
        if let Some(ct) = content_type {
            b = b.header(header::CONTENT_TYPE, ct);
        }
        b.body(Body::empty()).expect("request")
    }

    #[test]
    fn uploads_imports_and_waits_are_the_long_class() {
        assert!(is_long(&req("POST", "/executions/n/f", Some("multipart/form-data; boundary=x"))));
        assert!(is_long(&req("POST", "/executions/n/f?labels=a:b&wait=true", None)));
        assert!(is_long(&req("POST", "/flows/import", Some("application/octet-stream"))));
        assert!(is_long(&req("POST", "/api/v1/tests/company.team/t/run", Some("application/json"))));
        assert!(!is_long(&req("POST", "/executions/n/f?wait=false", Some("application/json"))));
        assert!(!is_long(&req("GET", "/logs/e?nowait=true", None)));
        assert!(!is_long(&req("POST", "/flows", Some("application/x-yaml"))));
    }

    /// A router whose handlers never answer, served over TCP as the
    /// server serves the API.
    async fn stuck_server(bounds: RequestTimeouts) -> std::net::SocketAddr {
        let app = Router::new()
            .route("/stuck", get(std::future::pending::<&'static str>))
            .route("/upload", post(std::future::pending::<&'static str>))
            .route("/quick", get(|| async { "ok" }))
            .layer(axum::middleware::from_fn_with_state(bounds, request_timeout));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(crate::serve::serve(listener, app, Default::default(), std::future::pending()));
        addr
    }

    async fn call(addr: std::net::SocketAddr, head: &str) -> (u16, String, Duration) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let started = std::time::Instant::now();
        let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
        s.write_all(format!("{head}host: x\r\nconnection: close\r\ncontent-length: 0\r\n\r\n").as_bytes())
            .await
            .expect("send");
        let mut out = String::new();
        s.read_to_string(&mut out).await.expect("read");
        let status = out.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
        (status, out, started.elapsed())
    }

    #[tokio::test]
    async fn a_stuck_handler_is_answered_503_naming_its_bound() {
        let bounds = RequestTimeouts { request: Duration::from_millis(200), long: Duration::from_millis(1500) };
        let addr = stuck_server(bounds).await;
        let (status, body, took) = call(addr, "GET /stuck HTTP/1.1\r\n").await;
        assert_eq!(status, 503, "{body}");
        assert!(body.contains("GET /stuck did not answer within Baton's bound of 200 ms"), "{body}");
        assert!(body.contains("(REQUEST_TIMEOUT)") && body.contains("application/json"), "{body}");
        assert!(took >= Duration::from_millis(200) && took < Duration::from_secs(10), "{took:?}");
        // an upload has the long bound: not cut at the short one
        let (status, body, took) =
            call(addr, "POST /upload HTTP/1.1\r\ncontent-type: multipart/form-data; boundary=b\r\n").await;
        assert_eq!(status, 503, "{body}");
        assert!(body.contains("(LONG_REQUEST_TIMEOUT)"), "{body}");
        assert!(took >= Duration::from_millis(1500), "{took:?}");
        // a handler that answers is untouched
        let (status, body, _) = call(addr, "GET /quick HTTP/1.1\r\n").await;
        assert_eq!(status, 200, "{body}");
    }
}
