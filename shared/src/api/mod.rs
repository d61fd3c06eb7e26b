//! Kestra's REST API, one implementation served by `baton server local` and
//! by the GCP `api` function, under `/api/v1/…` and the tenant form
//! `/api/v1/main/…`. What differs between the two runtimes (where flows
//! live, how a backfill is driven) is behind [`ApiHost`]; everything else
//! goes through the engine's backends.
//!
//! - [`flows`]: list, search, get (`?source=`), create/update
//!   (`application/x-yaml`), delete, validate, import (`fileUpload`);
//!   [`flow_namespace`]: a namespace's flows updated from one multi-document
//!   YAML; [`graph`]: the flow graph of a flow, a YAML source or an
//!   execution, and an execution's flow; [`flow_revisions`]: a flow's
//!   revisions (and `?revision=N`); [`flow_dependencies`]: the flows it
//!   calls or triggers and those that call or trigger it.
//! - [`executions`] and [`inputs`]: start (JSON, urlencoded or multipart
//!   with streamed FILE parts; `labels`, `wait`), get, search (paged, full
//!   executions, `filters[…]` and the older parameters), kill, replay,
//!   labels, follow (SSE); [`files`]: output file download and preview.
//! - [`execution_lists`]: a flow's executions (`GET /executions`), the
//!   latest of some flows, the namespaces and flows that can be executed;
//!   [`eval`]: an expression rendered in an execution's or a task run's
//!   context; [`taskruns`]: the task run search; [`flow_export`]: flows
//!   exported as a ZIP (by query, by ids).
//! - [`bulk`]: delete an execution (one, by ids, by query), kill and
//!   restart by ids or by query (Kestra's `BulkResponse`).
//! - [`stats`]: executions per day by state, with durations (the home page).
//! - [`logs`]: by execution (`minLevel`, `taskId`…), download, follow, search
//!   ([`log_search`]: its parameters and `filters[…]`).
//! - [`metrics`]: an execution's task metrics (paged), a flow's metric
//!   names and tasks, a metric aggregated over time.
//! - [`kv`]: list, get, put (Kestra's type inference, `ttl`), delete, bulk
//!   delete, the keys inherited from parent namespaces.
//! - [`triggers`]: search, get, enable/disable, backfills (`PUT /triggers`,
//!   `PUT /triggers/backfill/{create,pause,unpause}`, `POST …/delete`) and
//!   Baton's `/backfills`.
//! - [`namespaces`]: search, get; [`nsfiles`]: namespace files (folder
//!   listing, read, write, delete, stats, search).
//! - [`webhook`]: `Webhook` triggers (`GET|POST|PUT
//!   /executions/webhook/{namespace}/{flowId}/{key}`), exempt from basic
//!   auth as in Kestra (the key is the credential).
//! - [`plugins`]: the plugin catalogue (`/plugins`, `/plugins/{cls}`) and
//!   the JSON Schemas of a flow, a task, a trigger and a test file (`/plugins/schemas/…`).
//! - [`blueprints`]: the blueprints embedded in the binary, as Kestra's
//!   community blueprints (`/blueprints/community/{kind}…`).
//! - [`test_suites`]: flow unit tests (Kestra's `/tests` routes: create,
//!   search, get, update, delete, validate, run a suite or some cases, the
//!   last results), run isolated from the executions ([`test_runs`]), each
//!   run kept in the suite's history ([`test_history`]).
//! - [`ui`]: the web UI at `/` (embedded static files).
//!
//! An unknown route or method, and a query parameter a route does not
//! support, answer with a JSON `{"message": …}` saying so ([`error`],
//! [`query`]).

pub mod actions;
pub mod backfills;
pub mod backlog;
pub mod blueprints;
pub mod bulk;
pub mod error;
pub mod eval;
pub mod execution_lists;
pub mod executions;
pub mod files;
pub mod flow_dependencies;
pub mod flow_export;
pub mod flow_namespace;
pub mod flow_revisions;
pub mod flow_search;
pub mod flows;
pub mod graph;
pub mod host;
pub mod inputs;
pub mod kv;
pub mod kv_search;
pub mod limits;
pub mod log_search;
pub mod logs;
pub mod metrics;
pub mod namespaces;
pub mod nsfiles;
pub mod outputs;
pub mod plugins;
pub mod query;
pub mod resume;
pub mod route_table;
pub mod search;
pub mod sse;
pub mod stats;
pub mod taskruns;
mod test_bulk;
pub mod test_history;
pub mod test_runs;
pub mod test_suites;
pub mod timeouts;
pub mod triggers;
pub mod ui;
pub mod webhook;
pub mod webhook_payload;

use std::sync::Arc;

use axum::extract::{OriginalUri, Request};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

pub use error::{ApiError, ApiResult};
pub use host::{ApiHost, BackfillBody, BackfillCreated};

use crate::runtime::engine::Engine;

/// The user a request was authenticated as (basic auth on `baton server
/// local`), put in the request's extensions by the server's guard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatedUser(pub String);

/// What the handlers share.
#[derive(Clone)]
pub struct ApiState {
    pub engine: Arc<Engine>,
    pub host: Arc<dyn ApiHost>,
}

/// The routes, under `/api/v1` and `/api/v1/main`, with `/healthz` (the
/// list: [`route_table::ROUTES`]).
pub fn router(state: ApiState) -> Router {
    let api = api_routes()
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(unknown_route)
        // bodies read whole are bounded; the routes that stream uploads to
        // storage say so themselves (`limits`)
        .layer(limits::default())
        .layer(axum::middleware::from_fn(limits::json_413))
        // a handler answers within its route class's bound (`timeouts`)
        .layer(axum::middleware::from_fn_with_state(timeouts::RequestTimeouts::default(), timeouts::request_timeout));
    root_routes().nest("/api/v1/main", api.clone()).nest("/api/v1", api).fallback(unknown_route).with_state(state)
}

/// Every route of the API, without fallbacks or layers (under `/api/v1`).
fn api_routes() -> Router<ApiState> {
    Router::new()
        .merge(flows::routes())
        .merge(graph::routes())
        .merge(flow_revisions::routes())
        .merge(flow_dependencies::routes())
        .merge(executions::routes())
        .merge(actions::routes())
        .merge(execution_lists::routes())
        .merge(eval::routes())
        .merge(taskruns::routes())
        .merge(flow_export::routes())
        .merge(bulk::routes())
        .merge(stats::routes())
        .merge(resume::routes())
        .merge(files::routes())
        .merge(logs::routes())
        .merge(metrics::routes())
        .merge(kv::routes())
        .merge(kv_search::routes())
        .merge(triggers::routes())
        .merge(namespaces::routes())
        .merge(nsfiles::routes())
        .merge(outputs::routes())
        .merge(plugins::routes())
        .merge(blueprints::routes())
        .merge(webhook::routes())
        .merge(test_suites::routes())
}

/// The routes at the root: the health checks and the UI.
fn root_routes() -> Router<ApiState> {
    Router::new()
        .route("/healthz", get(healthz))
        // Cloud Run's front end answers paths ending in `z` itself: outside
        // callers (deploy.sh) ask `/health`
        .route("/health", get(healthz))
        .merge(crate::prometheus::routes())
        .merge(ui::routes())
}

/// Only the webhook routes (under `/api/v1` and `/api/v1/main`) and
/// `/healthz`: what a service open to anyone serves, so that exposing a
/// webhook exposes nothing else (`BATON_API_ROUTES=webhooks`).
pub fn webhooks_router(state: ApiState) -> Router {
    let api = webhook::routes()
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(webhooks_only)
        .layer(axum::middleware::from_fn_with_state(timeouts::RequestTimeouts::default(), timeouts::request_timeout));
    Router::new()
        .route("/healthz", get(healthz))
        // Cloud Run's front end answers paths ending in `z` itself: outside
        // callers (deploy.sh) ask `/health`
        .route("/health", get(healthz))
        .nest("/api/v1/main", api.clone())
        .nest("/api/v1", api)
        .fallback(webhooks_only)
        .with_state(state)
}

async fn webhooks_only(OriginalUri(uri): OriginalUri, req: Request) -> ApiError {
    ApiError::not_found(format!(
        "no route {} {}: this service serves only webhooks (/api/v1/executions/webhook/{{namespace}}/{{flowId}}/{{key}})",
        req.method(),
        uri.path()
    ))
}

async fn healthz() -> Json<Value> {
    Json(json!({"status": "UP"}))
}

async fn unknown_route(OriginalUri(uri): OriginalUri, req: Request) -> ApiError {
    let path = uri.path();
    let message = if path == "/" || !path.starts_with("/api/") {
        format!(
            "no route {} {path}: Baton serves Kestra's REST API under /api/v1/ (and /api/v1/main/) and its web UI at /",
            req.method()
        )
    } else {
        format!("no route {} {path} in Baton's Kestra API", req.method())
    };
    ApiError::new(StatusCode::NOT_FOUND, message)
}

async fn method_not_allowed(OriginalUri(uri): OriginalUri, req: Request) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("{} is not supported on {} in Baton's Kestra API", req.method(), uri.path()),
    )
}
