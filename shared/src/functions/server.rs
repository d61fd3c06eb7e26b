//! The HTTP side of a function: the axum router serving Pub/Sub push on
//! `POST /` (caller verification, envelope decoding, the handler on its own
//! task, outcome → status) and `GET /healthz`, and serving with graceful
//! shutdown on SIGTERM (in-flight requests finish; Cloud Run allows 10 s).

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::Utc;
use tracing::Instrument;

use super::envelope::PushEnvelope;
use super::logging;
use super::oidc::OidcVerifier;
use super::push::{Outcome, PushHandler};

pub use crate::serve::{MAX_FUNCTION_CONNECTIONS, MAX_PUSH_BODY};

/// How push callers are checked.
#[derive(Clone)]
pub enum PushAuth {
    /// No verification: only by explicit configuration (`BATON_PUSH_AUTH=off`,
    /// for the Pub/Sub emulator, which sends no token).
    Off,
    /// Google-signed OIDC tokens of the push service account.
    Oidc(Arc<OidcVerifier>),
}

struct PushState {
    handler: Arc<dyn PushHandler>,
    auth: PushAuth,
}

/// `POST /` (push) and `GET /healthz` for `handler`.
pub fn push_router(handler: Arc<dyn PushHandler>, auth: PushAuth) -> Router {
    let state = Arc::new(PushState { handler, auth });
    Router::new()
        .route("/", post(push))
        .route("/healthz", get(healthz))
        .merge(crate::prometheus::routes())
        .layer(DefaultBodyLimit::max(MAX_PUSH_BODY))
        .with_state(state)
}

/// Liveness: the process serves requests.
pub async fn healthz() -> &'static str {
    "ok"
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The request's trace id, for log correlation.
pub fn request_trace(headers: &HeaderMap) -> String {
    logging::trace_id(header_str(headers, "x-cloud-trace-context"), header_str(headers, "traceparent"))
        .unwrap_or_default()
}

async fn push(State(s): State<Arc<PushState>>, headers: HeaderMap, body: Bytes) -> Response {
    let span = tracing::info_span!(
        "push",
        function = s.handler.name(),
        trace = tracing::field::Empty,
        message_id = tracing::field::Empty,
        delivery_attempt = tracing::field::Empty,
    );
    let trace = request_trace(&headers);
    if !trace.is_empty() {
        span.record(logging::TRACE_FIELD, trace.as_str());
    }
    async move {
        if let PushAuth::Oidc(verifier) = &s.auth
            && let Err(e) = verifier.verify(header_str(&headers, "authorization")).await
        {
            if e.is_transient() {
                tracing::error!(error = %e, "cannot verify the push caller");
                return StatusCode::SERVICE_UNAVAILABLE.into_response();
            }
            tracing::warn!(error = %e, "push request rejected");
            return (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Bearer")], "unauthorized").into_response();
        }
        let delivery = match PushEnvelope::parse(&body).and_then(|env| env.into_delivery(Utc::now())) {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "malformed push request acked");
                return StatusCode::NO_CONTENT.into_response();
            }
        };
        let span = tracing::Span::current();
        span.record("message_id", delivery.message_id.as_str());
        span.record("delivery_attempt", delivery.delivery_attempt);
        let published = delivery.publish_time;
        // on its own task: a caller hanging up must not cancel the handler halfway
        let handler = s.handler.clone();
        let outcome = match tokio::spawn(async move { handler.handle(delivery).await }.in_current_span()).await {
            Ok(o) => o,
            Err(e) => Outcome::Retry(format!("the handler panicked or was cancelled: {e}")),
        };
        // the spans of what this request ran go out before the CPU may freeze
        crate::telemetry::flush_before_answering().await;
        match &outcome {
            Outcome::Done => tracing::debug!("processed"),
            Outcome::Duplicate(why) => tracing::info!(reason = %why, "duplicate delivery acked"),
            Outcome::Ignored(why) => tracing::warn!(reason = %why, "message ignored and acked"),
            Outcome::Retry(why) => tracing::error!(reason = %why, "message not processed; Pub/Sub will redeliver it"),
            Outcome::Later(why) => tracing::info!(reason = %why, "message asked again later"),
        }
        crate::prometheus::push_handled(s.handler.name(), published, outcome.acks());
        if outcome.acks() {
            StatusCode::NO_CONTENT.into_response()
        } else {
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
    .instrument(span)
    .await
}

/// Serves `router` on `listener` until `shutdown` resolves, then stops
/// accepting and waits for in-flight requests. Cloud Run sends at most the
/// service's `concurrency` requests at once (Terraform's, under 1,000); the
/// bounds are for what reaches the port otherwise. Every request reaches a
/// function from Cloud Run's front end, so the per-client cap is the total
/// one; the minimum body rate and the eviction of waiting connections are
/// the local server's.
/// The `BATON_HTTP_*` settings change them ([`crate::serve::SETTINGS`]).
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: crate::serve::ServeLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    crate::serve::serve(listener, router, limits, shutdown).await
}

/// A function's bounds before the settings: [`MAX_FUNCTION_CONNECTIONS`]
/// in all and from one client.
pub fn function_limits() -> crate::serve::ServeLimits {
    crate::serve::ServeLimits {
        max_connections: MAX_FUNCTION_CONNECTIONS,
        max_per_client: MAX_FUNCTION_CONNECTIONS,
        ..Default::default()
    }
}

/// Resolves on SIGTERM (Cloud Run stopping the instance) or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
