//! The HTTP API of `baton server local`, a Kestra-compatible subset, served
//! under `/api/v1/…` and under the tenant form `/api/v1/main/…`:
//! - `GET /healthz`
//! - `GET /api/v1/flows`, `GET /api/v1/flows/{namespace}/{id}`
//! - `POST /api/v1/executions/{namespace}/{id}` (also `…/executions/trigger/…`):
//!   inputs as a JSON object, a multipart form (FILE inputs as file parts)
//!   or a urlencoded form; `?labels=key:value` (repeatable), `?wait=true`
//! - `GET /api/v1/executions/{id}` (Kestra's execution JSON),
//!   `GET /api/v1/executions/search?namespace=&flowId=&state=&size=`,
//!   `GET /api/v1/logs/{executionId}?minLevel=&taskId=&taskRunId=&attempt=`
//!   (Kestra's `LogEntry` list, shared with the `api` function)
//! - backfills: `POST /api/v1/backfills`, `GET /api/v1/backfills[?state=]`,
//!   `GET /api/v1/backfills/{id}`, `POST /api/v1/backfills/{id}/{pause|resume|cancel}`,
//!   and Kestra's `PUT /api/v1/triggers` (body `{namespace, flowId,
//!   triggerId, backfill: {start, end, inputs, labels}}`),
//!   `PUT /api/v1/triggers/backfill/{pause|unpause}`, `POST /api/v1/triggers/backfill/delete`.
//!
//! Errors are `{"message": …}` with 404 (unknown flow, execution, backfill),
//! 409 (disabled flow or trigger, a state that forbids the change), 422
//! (invalid inputs, dates, cron) or 500.

use std::sync::Arc;

use axum::extract::{FromRequest, Multipart, Path, Query, RawQuery, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tokio::io::AsyncWriteExt;
use tokio::sync::broadcast::error::RecvError;

use super::supervisor::BackfillSupervisor;
use super::watch::FlowWatcher;
use crate::backend::schedule::{Backfill, BackfillState, TriggerKey, TriggerStore};
use crate::backend::{BackendError, ExecutionFilter};
use crate::model::{Execution, Flow, Label, StateType, ids};
use crate::runtime::backfill::{
    BackfillError, BackfillRequest, backfill_target, cancel_backfill, create_backfill, pause_backfill, resume_backfill,
};
use crate::runtime::engine::Engine;
use crate::runtime::launcher::{LaunchError, LaunchRequest, launch};
use crate::runtime::logs::{LogQueryError, query_logs};
use crate::schedule::ScheduleTrigger;
use crate::schedule::backfill::{Bound, parse_bound};

/// What the handlers share.
#[derive(Clone)]
pub struct ApiState {
    pub engine: Arc<Engine>,
    pub store: Arc<dyn TriggerStore>,
    pub supervisor: Arc<BackfillSupervisor>,
    pub watcher: Arc<FlowWatcher>,
}

/// An error response: a status and a message for humans.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError { status, message: message.into() }
    }
    fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }
    fn unprocessable(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({"message": self.message}))).into_response()
    }
}

impl From<BackendError> for ApiError {
    fn from(e: BackendError) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
    }
}

impl From<BackfillError> for ApiError {
    fn from(e: BackfillError) -> ApiError {
        let status = match &e {
            BackfillError::FlowNotFound(_) | BackfillError::TriggerNotFound { .. } | BackfillError::NotFound(_) => {
                StatusCode::NOT_FOUND
            }
            BackfillError::TriggerDisabled { .. } | BackfillError::FlowDisabled(_) | BackfillError::State { .. } => {
                StatusCode::CONFLICT
            }
            BackfillError::NotSchedule { .. } | BackfillError::Schedule(_) | BackfillError::Plan(_) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            BackfillError::Backend(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, e.to_string())
    }
}

type ApiResult<T> = Result<T, ApiError>;

/// The routes, under `/api/v1` and `/api/v1/main`.
pub fn router(state: ApiState) -> Router {
    let api = Router::new()
        .route("/flows", get(list_flows))
        .route("/flows/{namespace}/{id}", get(get_flow))
        .route("/executions/search", get(search_executions))
        .route("/executions/trigger/{namespace}/{id}", post(start_execution))
        .route("/executions/{namespace}/{id}", post(start_execution))
        .route("/executions/{id}", get(get_execution))
        .route("/logs/{id}", get(get_logs))
        .route("/backfills", post(post_backfill).get(list_backfills))
        .route("/backfills/{id}", get(get_backfill))
        .route("/backfills/{id}/{action}", post(act_on_backfill))
        .route("/triggers", put(put_trigger_backfill))
        .route("/triggers/backfill/{action}", put(kestra_backfill_action).post(kestra_backfill_action));
    Router::new()
        .route("/healthz", get(healthz))
        .nest("/api/v1/main", api.clone())
        .nest("/api/v1", api)
        .with_state(state)
}

async fn healthz() -> Json<Value> {
    Json(json!({"status": "UP"}))
}

// ---------------------------------------------------------------- flows ---

async fn flow_json(s: &ApiState, flow: &Flow, with_source: bool) -> ApiResult<Value> {
    let mut triggers = Vec::new();
    for t in &flow.triggers {
        let mut v = json!({"id": t.id, "type": t.type_, "disabled": t.disabled});
        match ScheduleTrigger::from_trigger(t) {
            Ok(Some(st)) => {
                v["cron"] = json!(st.cron.expr());
                v["timezone"] = json!(st.cron.timezone().name());
                let key = TriggerKey {
                    namespace: flow.namespace.clone(),
                    flow_id: flow.id.clone(),
                    trigger_id: t.id.clone(),
                };
                if let Some(state) = s.store.load_trigger_state(&key).await? {
                    v["nextExecutionDate"] = json!(state.next_tick.map(|d| st.cron.format(d)));
                    v["date"] = json!(state.last_tick.map(|d| st.cron.format(d)));
                    if let Some(stopped) = state.stopped {
                        v["stopped"] = json!(stopped.reason);
                    }
                }
            }
            Ok(None) => {}
            Err(e) => v["error"] = json!(e.to_string()),
        }
        triggers.push(v);
    }
    let mut v = json!({
        "id": flow.id,
        "namespace": flow.namespace,
        "description": flow.description,
        "disabled": flow.disabled,
        "labels": flow.labels,
        "inputs": serde_json::to_value(&flow.inputs).unwrap_or(Value::Null),
        "concurrency": flow.concurrency.as_ref().map(|c| json!({"limit": c.limit, "behavior": format!("{:?}", c.behavior).to_uppercase()})),
        "triggers": triggers,
    });
    if let Some((revision, _)) = s.engine.state.load_flow(&flow.namespace, &flow.id, None).await? {
        v["revision"] = json!(revision);
    }
    if with_source {
        v["source"] = json!(flow.source);
    }
    Ok(v)
}

async fn list_flows(State(s): State<ApiState>) -> ApiResult<Json<Value>> {
    let mut out = Vec::new();
    for flow in s.watcher.active() {
        out.push(flow_json(&s, &flow, false).await?);
    }
    Ok(Json(Value::Array(out)))
}

async fn get_flow(State(s): State<ApiState>, Path((namespace, id)): Path<(String, String)>) -> ApiResult<Json<Value>> {
    let flow = s
        .engine
        .flows
        .get(&namespace, &id)
        .ok_or_else(|| ApiError::not_found(format!("flow {namespace}.{id} not found")))?;
    Ok(Json(flow_json(&s, &flow, true).await?))
}

// ----------------------------------------------------------- executions ---

/// `key=value` pairs of a query string, percent-decoded, in order.
pub fn query_pairs(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Labels given as `key:value` strings (Kestra's `?labels=`).
fn labels_from_query(pairs: &[(String, String)]) -> ApiResult<Vec<Label>> {
    pairs
        .iter()
        .filter(|(k, _)| k == "labels")
        .map(|(_, v)| match v.split_once(':') {
            Some((key, value)) if !key.is_empty() => Ok(Label { key: key.to_string(), value: value.to_string() }),
            _ => Err(ApiError::unprocessable(format!("label '{v}' must be written key:value"))),
        })
        .collect()
}

/// Labels as a `{key: value}` map, a `[{key, value}]` list or `["key:value"]`.
pub fn labels_from_json(v: &Value) -> Result<Vec<Label>, String> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::Object(m) => Ok(m
            .iter()
            .map(|(k, v)| Label { key: k.clone(), value: v.as_str().map_or_else(|| v.to_string(), str::to_string) })
            .collect()),
        Value::Array(items) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => match s.split_once(':') {
                    Some((k, v)) if !k.is_empty() => Ok(Label { key: k.into(), value: v.into() }),
                    _ => Err(format!("label '{s}' must be written key:value")),
                },
                Value::Object(o) => match (o.get("key").and_then(Value::as_str), o.get("value")) {
                    (Some(k), Some(v)) => {
                        Ok(Label { key: k.into(), value: v.as_str().map_or_else(|| v.to_string(), str::to_string) })
                    }
                    _ => Err(format!("label {i} needs 'key' and 'value'")),
                },
                other => Err(format!("label {other} must be key:value or {{key, value}}")),
            })
            .collect(),
        other => Err(format!("labels must be a map or a list, got {other}")),
    }
}

async fn start_execution(
    State(s): State<ApiState>,
    Path((namespace, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    request: Request,
) -> ApiResult<Response> {
    let flow = s
        .engine
        .flows
        .get(&namespace, &id)
        .ok_or_else(|| ApiError::not_found(format!("flow {namespace}.{id} not found")))?;
    let pairs = query_pairs(raw.as_deref().unwrap_or(""));
    let labels = labels_from_query(&pairs)?;
    let wait = pairs.iter().any(|(k, v)| k == "wait" && v == "true");
    let execution_id = ids::new_id();
    let inputs = read_inputs(&s, &flow, &execution_id, request).await?;
    let updates = s.engine.updates.subscribe();
    let req = LaunchRequest { inputs, labels, execution_id: Some(execution_id), ..LaunchRequest::default() };
    let exec = launch(&s.engine, &flow, req).await.map_err(|e| match e {
        LaunchError::Disabled { .. } => ApiError::new(StatusCode::CONFLICT, e.to_string()),
        LaunchError::Inputs { .. } => ApiError::unprocessable(e.to_string()),
        LaunchError::Exists(_) => ApiError::new(StatusCode::CONFLICT, e.to_string()),
        LaunchError::Backend(b) => b.into(),
    })?;
    let exec = if wait { wait_end(&s.engine, &exec.id, updates).await? } else { exec };
    Ok(Json(execution_json(&exec)).into_response())
}

/// The inputs of a start request, by content type.
async fn read_inputs(s: &ApiState, flow: &Flow, execution_id: &str, request: Request) -> ApiResult<Map<String, Value>> {
    let content_type =
        request.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
    if content_type.starts_with("multipart/form-data") {
        let mut multipart = Multipart::from_request(request, &())
            .await
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.to_string()))?;
        let mut inputs = Map::new();
        while let Some(mut field) =
            multipart.next_field().await.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.to_string()))?
        {
            let Some(name) = field.name().map(str::to_string) else { continue };
            if let Some(file_name) = field.file_name().map(str::to_string) {
                if !flow.inputs.iter().any(|i| i.id == name && i.type_ == crate::model::InputType::File) {
                    return Err(ApiError::unprocessable(format!(
                        "file part '{name}' is not a FILE input of flow {}.{}",
                        flow.namespace, flow.id
                    )));
                }
                // a FILE input: streamed into the execution's internal storage
                let path = crate::runtime::launcher::input_file_path(flow, execution_id, &name, &file_name);
                let (mut w, r) = tokio::io::duplex(64 * 1024);
                let copy = async {
                    while let Some(chunk) =
                        field.chunk().await.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.to_string()))?
                    {
                        w.write_all(&chunk)
                            .await
                            .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
                    }
                    w.shutdown().await.map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
                    Ok::<(), ApiError>(())
                };
                let (stored, copied) = tokio::join!(s.engine.storage.put(&path, Box::pin(r)), copy);
                copied?;
                stored?;
                inputs.insert(name, Value::String(format!("kestra://{path}")));
            } else {
                let text = field.text().await.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.to_string()))?;
                inputs.insert(name, Value::String(text));
            }
        }
        return Ok(inputs);
    }
    let body = axum::body::to_bytes(request.into_body(), 16 * 1024 * 1024)
        .await
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.to_string()))?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    if content_type.starts_with("application/x-www-form-urlencoded") {
        let text = String::from_utf8_lossy(&body);
        return Ok(query_pairs(&text).into_iter().map(|(k, v)| (k, Value::String(v))).collect());
    }
    match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(other) => Err(ApiError::unprocessable(format!("inputs must be a JSON object, got {other}"))),
        Err(e) => Err(ApiError::new(StatusCode::BAD_REQUEST, format!("the body is not JSON: {e}"))),
    }
}

/// Waits until execution `id` ends.
async fn wait_end(
    engine: &Engine,
    id: &str,
    mut updates: tokio::sync::broadcast::Receiver<crate::runtime::engine::ExecutionUpdate>,
) -> ApiResult<Execution> {
    loop {
        let e = engine
            .state
            .load_execution(id)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("execution {id} not found")))?;
        if e.state.is_terminal() {
            engine.logs.flush().await;
            return Ok(e);
        }
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_millis(500);
        loop {
            match tokio::time::timeout_at(deadline, updates.recv()).await {
                Ok(Ok(u)) if u.execution_id == id && u.state.is_terminal() => break,
                Ok(Ok(_)) | Ok(Err(RecvError::Lagged(_))) => {}
                Ok(Err(RecvError::Closed)) | Err(_) => break,
            }
        }
    }
}

/// The execution as Kestra's API returns it (without Baton's CAS version).
fn execution_json(e: &Execution) -> Value {
    let mut v = serde_json::to_value(e).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.remove("version");
    }
    v
}

async fn get_execution(State(s): State<ApiState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let e = s
        .engine
        .state
        .load_execution(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("execution {id} not found")))?;
    Ok(Json(execution_json(&e)))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SearchQuery {
    namespace: Option<String>,
    flow_id: Option<String>,
    state: Option<String>,
    size: Option<usize>,
}

async fn search_executions(State(s): State<ApiState>, Query(q): Query<SearchQuery>) -> ApiResult<Json<Value>> {
    let state = match q.state.as_deref() {
        None | Some("") => None,
        Some(st) => Some(StateType::parse(st).ok_or_else(|| ApiError::unprocessable(format!("unknown state '{st}'")))?),
    };
    let filter =
        ExecutionFilter { namespace: q.namespace, flow_id: q.flow_id, state, limit: Some(q.size.unwrap_or(100)) };
    let list = s.engine.state.list_executions(&filter).await?;
    Ok(Json(json!({"results": list, "total": list.len()})))
}

async fn get_logs(
    State(s): State<ApiState>,
    Path(id): Path<String>,
    Query(q): Query<Vec<(String, String)>>,
) -> ApiResult<Json<Value>> {
    let logs = query_logs(s.engine.state.as_ref(), &id, q).await.map_err(|e| match e {
        LogQueryError::BadParameter(m) => ApiError::new(StatusCode::BAD_REQUEST, m),
        e @ LogQueryError::NotFound(_) => ApiError::not_found(e.to_string()),
        LogQueryError::Backend(b) => b.into(),
    })?;
    Ok(Json(logs))
}

// ------------------------------------------------------------ backfills ---

/// The body of `POST /api/v1/backfills`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackfillBody {
    pub namespace: String,
    pub flow_id: String,
    pub trigger_id: String,
    pub start: String,
    #[serde(default)]
    pub end: Option<String>,
    #[serde(default)]
    pub inputs: Map<String, Value>,
    #[serde(default)]
    pub labels: Value,
    #[serde(default)]
    pub rerun_successful: bool,
}

/// Turns a body (dates read in the trigger's zone when they have no offset)
/// into a checked request.
pub fn backfill_request(engine: &Engine, body: BackfillBody) -> Result<BackfillRequest, ApiError> {
    let (_, trigger) = backfill_target(engine, &body.namespace, &body.flow_id, &body.trigger_id)?;
    let start =
        parse_bound(&body.start, &trigger.cron, Bound::Start).map_err(|e| ApiError::unprocessable(e.to_string()))?;
    let end = body
        .end
        .as_deref()
        .filter(|e| !e.is_empty())
        .map(|e| parse_bound(e, &trigger.cron, Bound::End))
        .transpose()
        .map_err(|e| ApiError::unprocessable(e.to_string()))?;
    let labels = labels_from_json(&body.labels).map_err(ApiError::unprocessable)?;
    Ok(BackfillRequest {
        namespace: body.namespace,
        flow_id: body.flow_id,
        trigger_id: body.trigger_id,
        start,
        end,
        inputs: body.inputs,
        labels,
        rerun_successful: body.rerun_successful,
        id: None,
    })
}

async fn start_backfill(s: &ApiState, body: BackfillBody) -> ApiResult<Backfill> {
    let req = backfill_request(&s.engine, body)?;
    let b = create_backfill(&s.engine, s.store.as_ref(), req).await?;
    s.supervisor.ensure(&b.id);
    Ok(b)
}

async fn post_backfill(
    State(s): State<ApiState>,
    body: Result<Json<BackfillBody>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Response> {
    let Json(body) = body.map_err(|e| ApiError::unprocessable(e.body_text()))?;
    let b = start_backfill(&s, body).await?;
    Ok((StatusCode::CREATED, Json(b)).into_response())
}

#[derive(Deserialize)]
struct BackfillListQuery {
    state: Option<String>,
}

async fn list_backfills(
    State(s): State<ApiState>,
    Query(q): Query<BackfillListQuery>,
) -> ApiResult<Json<Vec<Backfill>>> {
    let state = match q.state.as_deref() {
        None | Some("") => None,
        Some(st) => Some(BackfillState::parse(st).ok_or_else(|| {
            ApiError::unprocessable(format!("unknown backfill state '{st}' (RUNNING, PAUSED, CANCELLED, SUCCESS)"))
        })?),
    };
    Ok(Json(s.store.list_backfills(state).await?))
}

async fn get_backfill(State(s): State<ApiState>, Path(id): Path<String>) -> ApiResult<Json<Backfill>> {
    let b = s.store.load_backfill(&id).await?.ok_or_else(|| ApiError::not_found(format!("backfill {id} not found")))?;
    Ok(Json(b))
}

async fn act(s: &ApiState, id: &str, action: &str) -> ApiResult<Backfill> {
    let b = match action {
        "pause" => pause_backfill(s.store.as_ref(), id).await?,
        "resume" | "unpause" => {
            let b = resume_backfill(s.store.as_ref(), id).await?;
            s.supervisor.ensure(id);
            b
        }
        "cancel" | "delete" => cancel_backfill(s.store.as_ref(), id).await?,
        other => return Err(ApiError::not_found(format!("unknown backfill action '{other}' (pause, resume, cancel)"))),
    };
    Ok(b)
}

async fn act_on_backfill(
    State(s): State<ApiState>,
    Path((id, action)): Path<(String, String)>,
) -> ApiResult<Json<Backfill>> {
    Ok(Json(act(&s, &id, &action).await?))
}

/// Kestra's `PUT /api/v1/triggers` body with a `backfill`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct KestraTrigger {
    namespace: String,
    flow_id: String,
    trigger_id: String,
    #[serde(default)]
    backfill: Option<KestraBackfill>,
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
    labels: Value,
}

async fn put_trigger_backfill(State(s): State<ApiState>, Json(t): Json<KestraTrigger>) -> ApiResult<Response> {
    let Some(b) = t.backfill else {
        return Err(ApiError::unprocessable("only backfills can be set through PUT /api/v1/triggers"));
    };
    let body = BackfillBody {
        namespace: t.namespace,
        flow_id: t.flow_id,
        trigger_id: t.trigger_id,
        start: b.start,
        end: b.end,
        inputs: b.inputs,
        labels: b.labels,
        rerun_successful: false,
    };
    let b = start_backfill(&s, body).await?;
    Ok((StatusCode::OK, Json(b)).into_response())
}

async fn kestra_backfill_action(
    State(s): State<ApiState>,
    Path(action): Path<String>,
    Json(t): Json<KestraTrigger>,
) -> ApiResult<Json<Vec<Backfill>>> {
    let mut out = Vec::new();
    for b in s.store.list_backfills(None).await? {
        if b.namespace == t.namespace
            && b.flow_id == t.flow_id
            && b.trigger_id == t.trigger_id
            && !b.state.is_terminal()
        {
            out.push(act(&s, &b.id, &action).await?);
        }
    }
    if out.is_empty() {
        return Err(ApiError::not_found(format!(
            "no running or paused backfill for trigger '{}' of {}.{}",
            t.trigger_id, t.namespace, t.flow_id
        )));
    }
    Ok(Json(out))
}
