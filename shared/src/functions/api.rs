//! The `api` function: a small Kestra-compatible REST API over the same
//! engine (plain HTTP; on Cloud Run, IAM decides who may call it). Paths
//! are served both as `/api/v1/…` and with the tenant, `/api/v1/main/…`.
//!
//! - `POST /api/v1/executions/{namespace}/{flowId}` — start an execution;
//!   inputs as a JSON object or a form (`application/x-www-form-urlencoded`),
//!   labels as `?labels=key:value` (repeatable). 200 with the execution, 404
//!   unknown flow, 409 disabled flow, 422 invalid inputs.
//! - `GET /api/v1/executions/{id}` — the execution as Kestra shows it.
//! - `GET /api/v1/logs/{executionId}?minLevel=&taskId=&taskRunId=&attempt=`
//!   — the execution's task logs as Kestra's `LogEntry` list (the local
//!   server's code, [`crate::runtime::logs::query_logs`]); 404 unknown
//!   execution, 400 a bad `minLevel` or `attempt`.
//! - `GET|PUT|DELETE /api/v1/namespaces/{namespace}/kv/{key}`, `GET …/kv` —
//!   the KV store (PUT body parsed as JSON, else a string; `ttl` header).
//! - `POST /api/v1/backfills` (a backfill request, as on the scheduler
//!   topic) and Kestra's `PUT /api/v1/triggers` with a `backfill` — start a
//!   backfill through the schedule engine.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::flows::{FlowError, FlowSource, ensure_flow};
use super::scheduler::{BackfillRequest, ScheduleFailure, Schedules};
use crate::backend::{BackendError, KvLookup, KvType, KvValue};
use crate::model::Label;
use crate::runtime::engine::Engine;
use crate::runtime::launcher::{self, LaunchError, LaunchRequest};
use crate::runtime::logs::{LogQueryError, query_logs};

struct Api {
    engine: Arc<Engine>,
    flows: Option<FlowSource>,
    schedules: Option<Arc<dyn Schedules>>,
}

type Shared = State<Arc<Api>>;

/// The API router (with `/healthz`).
pub fn router(engine: Arc<Engine>, flows: Option<FlowSource>, schedules: Option<Arc<dyn Schedules>>) -> Router {
    let state = Arc::new(Api { engine, flows, schedules });
    let v1 = Router::new()
        .route("/executions/{namespace}/{flow_id}", post(start_execution))
        .route("/executions/trigger/{namespace}/{flow_id}", post(start_execution))
        .route("/executions/{id}", get(show_execution))
        .route("/logs/{id}", get(show_logs))
        .route("/namespaces/{namespace}/kv", get(kv_list))
        .route("/namespaces/{namespace}/kv/{key}", get(kv_get).put(kv_put).delete(kv_delete))
        .route("/backfills", post(backfill))
        .route("/triggers", put(kestra_backfill))
        .with_state(state);
    Router::new().route("/healthz", get(super::server::healthz)).nest("/api/v1/main", v1.clone()).nest("/api/v1", v1)
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, axum::Json(json!({ "message": message.into() }))).into_response()
}

fn backend_error(e: &BackendError) -> Response {
    match e {
        BackendError::NotFound { .. } => error(StatusCode::NOT_FOUND, e.to_string()),
        BackendError::Invalid(m) => error(StatusCode::UNPROCESSABLE_ENTITY, m.clone()),
        _ => {
            tracing::error!(error = %e, "API backend failure");
            error(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
        }
    }
}

/// Decodes `%XX` and `+` in a query or form component.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"), 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `a=1&b=2` → pairs, decoded.
fn form_pairs(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(p), String::new()),
        })
        .collect()
}

async fn start_execution(
    State(api): Shared,
    Path((namespace, flow_id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut labels = Vec::new();
    for (k, v) in form_pairs(query.as_deref().unwrap_or("")) {
        if k == "labels" {
            match v.split_once(':') {
                Some((key, value)) => labels.push(Label { key: key.into(), value: value.into() }),
                None => return error(StatusCode::BAD_REQUEST, format!("label '{v}' is not key:value")),
            }
        }
    }
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let inputs: Map<String, Value> = if body.is_empty() {
        Map::new()
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        form_pairs(&String::from_utf8_lossy(&body)).into_iter().map(|(k, v)| (k, Value::String(v))).collect()
    } else {
        match serde_json::from_slice::<Value>(&body) {
            Ok(Value::Object(m)) => m,
            Ok(_) => return error(StatusCode::BAD_REQUEST, "inputs must be a JSON object"),
            Err(e) => return error(StatusCode::BAD_REQUEST, format!("inputs are not JSON: {e}")),
        }
    };
    let flow = match ensure_flow(&api.engine, api.flows.as_ref(), &namespace, &flow_id, None).await {
        Ok(f) => f,
        Err(e @ FlowError::NotFound { .. }) => return error(StatusCode::NOT_FOUND, e.to_string()),
        Err(e @ FlowError::Invalid { .. }) => return error(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()),
        Err(FlowError::Backend(e)) => return backend_error(&e),
    };
    let req = LaunchRequest { inputs, labels, ..LaunchRequest::default() };
    match launcher::launch(&api.engine, &flow, req).await {
        Ok(exec) => (StatusCode::OK, axum::Json(exec)).into_response(),
        Err(e @ LaunchError::Disabled { .. }) => error(StatusCode::CONFLICT, e.to_string()),
        Err(e @ LaunchError::Inputs { .. }) => error(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()),
        Err(e @ LaunchError::Exists(_)) => error(StatusCode::CONFLICT, e.to_string()),
        Err(LaunchError::Backend(e)) => backend_error(&e),
    }
}

async fn show_execution(State(api): Shared, Path(id): Path<String>) -> Response {
    match api.engine.state.load_execution(&id).await {
        Ok(Some(exec)) => axum::Json(exec).into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, format!("execution {id} not found")),
        Err(e) => backend_error(&e),
    }
}

async fn show_logs(State(api): Shared, Path(id): Path<String>, Query(q): Query<Vec<(String, String)>>) -> Response {
    match query_logs(api.engine.state.as_ref(), &id, q).await {
        Ok(logs) => axum::Json(logs).into_response(),
        Err(e @ LogQueryError::BadParameter(_)) => error(StatusCode::BAD_REQUEST, e.to_string()),
        Err(e @ LogQueryError::NotFound(_)) => error(StatusCode::NOT_FOUND, e.to_string()),
        Err(LogQueryError::Backend(e)) => backend_error(&e),
    }
}

async fn kv_list(State(api): Shared, Path(namespace): Path<String>) -> Response {
    match api.engine.kv.list(&namespace, Utc::now()).await {
        Ok(entries) => axum::Json(entries).into_response(),
        Err(e) => backend_error(&e),
    }
}

async fn kv_get(State(api): Shared, Path((namespace, key)): Path<(String, String)>) -> Response {
    match api.engine.kv.get(&namespace, &key, Utc::now()).await {
        Ok(KvLookup::Found(v)) => axum::Json(v).into_response(),
        Ok(KvLookup::Missing | KvLookup::Expired) => {
            error(StatusCode::NOT_FOUND, format!("no key '{key}' in namespace {namespace}"))
        }
        Err(e) => backend_error(&e),
    }
}

/// The KV type of a value sent to the API, as Kestra infers it.
fn kv_value(body: &[u8]) -> KvValue {
    match serde_json::from_slice::<Value>(body) {
        Ok(v @ Value::Number(_)) => KvValue { kind: KvType::Number, value: v },
        Ok(v @ Value::Bool(_)) => KvValue { kind: KvType::Boolean, value: v },
        Ok(v @ Value::String(_)) => KvValue { kind: KvType::String, value: v },
        Ok(v @ (Value::Object(_) | Value::Array(_) | Value::Null)) => KvValue { kind: KvType::Json, value: v },
        Err(_) => KvValue { kind: KvType::String, value: Value::String(String::from_utf8_lossy(body).into_owned()) },
    }
}

async fn kv_put(
    State(api): Shared,
    Path((namespace, key)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(e) = crate::plugins::core::kv::validate_key(&key) {
        return error(StatusCode::UNPROCESSABLE_ENTITY, e.to_string());
    }
    let now = Utc::now();
    let expires = match headers.get("ttl").and_then(|v| v.to_str().ok()) {
        None => None,
        Some(ttl) => match crate::model::duration::parse_iso(ttl) {
            Ok(d) if d > chrono::Duration::zero() => Some(now + d),
            _ => {
                return error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!("ttl '{ttl}' is not a positive ISO-8601 duration"),
                );
            }
        },
    };
    match api.engine.kv.set(&namespace, &key, &kv_value(&body), expires, true, now).await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => backend_error(&e),
    }
}

async fn kv_delete(State(api): Shared, Path((namespace, key)): Path<(String, String)>) -> Response {
    match api.engine.kv.delete(&namespace, &key).await {
        Ok(existed) => axum::Json(existed).into_response(),
        Err(e) => backend_error(&e),
    }
}

async fn start_backfill(api: &Api, req: BackfillRequest) -> Response {
    let Some(schedules) = &api.schedules else {
        return error(StatusCode::NOT_IMPLEMENTED, "this deployment has no schedule engine");
    };
    match schedules.backfill(&req).await {
        Ok(id) => {
            // started here; the scheduler's sweeps carry it on if this instance stops
            let schedules = schedules.clone();
            tokio::spawn(async move {
                if let Err(e) = schedules.run_backfills().await {
                    tracing::error!(error = %e, "backfills not driven");
                }
            });
            (StatusCode::ACCEPTED, axum::Json(json!({ "id": id }))).into_response()
        }
        Err(ScheduleFailure::Invalid(m)) => error(StatusCode::UNPROCESSABLE_ENTITY, m),
        Err(ScheduleFailure::Transient(m)) => error(StatusCode::SERVICE_UNAVAILABLE, m),
    }
}

async fn backfill(State(api): Shared, body: Bytes) -> Response {
    match serde_json::from_slice::<BackfillRequest>(&body) {
        Ok(req) => start_backfill(&api, req).await,
        Err(e) => error(StatusCode::BAD_REQUEST, format!("not a backfill request: {e}")),
    }
}

/// Kestra's `PUT /api/v1/triggers` body with a backfill.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct KestraTrigger {
    namespace: String,
    flow_id: String,
    trigger_id: String,
    backfill: KestraBackfill,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct KestraBackfill {
    start: String,
    #[serde(default)]
    end: Option<String>,
    #[serde(default)]
    inputs: Map<String, Value>,
    #[serde(default)]
    labels: Vec<Label>,
}

async fn kestra_backfill(State(api): Shared, body: Bytes) -> Response {
    let t: KestraTrigger = match serde_json::from_slice(&body) {
        Ok(t) => t,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("not a trigger with a backfill: {e}")),
    };
    let req = BackfillRequest {
        namespace: t.namespace,
        flow_id: t.flow_id,
        trigger_id: t.trigger_id,
        start: t.backfill.start,
        end: t.backfill.end,
        inputs: t.backfill.inputs,
        labels: t.backfill.labels,
        rerun_successful: true,
        id: None,
    };
    start_backfill(&api, req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_and_form_decoding() {
        assert_eq!(
            form_pairs("labels=env%3Aprod&labels=team:data&x=a+b&y"),
            vec![
                ("labels".to_string(), "env:prod".to_string()),
                ("labels".to_string(), "team:data".to_string()),
                ("x".to_string(), "a b".to_string()),
                ("y".to_string(), String::new()),
            ]
        );
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%41"), "%zzA");
    }

    #[test]
    fn kv_types_are_inferred_like_kestra() {
        assert_eq!(kv_value(b"42").kind, KvType::Number);
        assert_eq!(kv_value(b"true").kind, KvType::Boolean);
        assert_eq!(kv_value(br#"{"a":1}"#).kind, KvType::Json);
        assert_eq!(kv_value(br#""quoted""#).value, "quoted");
        assert_eq!(kv_value(b"plain text").value, "plain text");
    }
}
