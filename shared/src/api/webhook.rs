//! Kestra's webhook routes: `GET|POST|PUT
//! /executions/webhook/{namespace}/{flowId}/{key}` (and the
//! `/{key}/{path…}` form, which a core `Webhook` answers 404 as Kestra
//! does). The flow's enabled `Webhook` trigger whose key — rendered like
//! Kestra renders it (`{{ flow.id }}`, `{{ secret('…') }}`, `vars`) —
//! equals the key in the URL (compared in constant time) starts one
//! execution with the request as `trigger.body`, `trigger.headers` and
//! `trigger.parameters` ([`crate::triggers::webhook`]); a stored body
//! (`fetchType: STORE`) or a multipart form's files go to internal storage
//! first ([`super::webhook_payload`]).
//!
//! Answers, as Kestra's: 200 with the execution (`WebhookResponse`: id,
//! namespace, flowId, flowRevision, trigger, outputs, labels, state, url);
//! 404 for an unknown flow ("Flow not found"), a wrong key or a disabled
//! trigger ("Webhook not found"); 409 for a disabled flow; 204 when the
//! trigger's `conditions` ([`crate::conditions`]) are not met; 422 when its
//! `inputs` or conditions cannot be rendered, or its inputs are invalid. With `wait: true` it answers when the execution
//! ends (500 if it FAILED, or the trigger's rendered `responseCode`), with the flow's outputs under
//! `returnOutputs: true` (as text under `responseContentType: text/plain`).
//!
//! Bounds: a body over [`MAX_BODY`] is refused with 413; a `wait` lasts at
//! most [`WAIT_LIMIT`] (then 504 naming the execution, which runs on).
//!
//! One request creates at most one execution: its id is minted once, before
//! anything is stored, and every (internal) retry of the launch reuses it,
//! so a retry finds the execution already there instead of making another.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Map, Value, json};

use super::ApiState;
use super::error::{ApiError, ApiResult};
use super::executions::{execution_json, load, wait_end};
use super::query::query_pairs;
use super::webhook_payload as payload;
use crate::conditions;
use crate::model::{Execution, Flow, Label, StateType, Trigger, TriggerContext, ids};
use crate::runtime::engine::Engine;
use crate::runtime::launcher::{LaunchError, LaunchRequest, launch};
use crate::triggers::webhook::{self as hook, Settings};

/// The largest request body a webhook takes (Kestra's default request
/// size limit, 10 MiB); a larger one is refused with 413.
pub const MAX_BODY: usize = 10 * 1024 * 1024;

/// How long a `wait: true` webhook holds the request: a little under the
/// api service's 300 s Cloud Run request timeout, so the caller hears
/// Baton's 504 (naming the execution) rather than a cut connection.
pub const WAIT_LIMIT: Duration = Duration::from_secs(280);

/// How many times one request tries to store its execution when the store
/// fails (always under the same id).
const LAUNCH_ATTEMPTS: usize = 3;

/// The webhook routes (merged under `/api/v1` and `/api/v1/main`).
pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/executions/webhook/{namespace}/{id}/{key}", get(on_key).post(on_key).put(on_key))
        .route("/executions/webhook/{namespace}/{id}/{key}/{*path}", get(on_path).post(on_path).put(on_path))
}

/// Whether `path` (as requested) is a webhook route: it needs no basic auth
/// (the key is the credential, as in Kestra) and may come from any site.
pub fn is_webhook_path(path: &str) -> bool {
    let rest = path.strip_prefix("/api/v1/main/").or_else(|| path.strip_prefix("/api/v1/"));
    rest.is_some_and(|r| r.starts_with("executions/webhook/"))
}

/// The request, as the handler reads it.
struct Call {
    namespace: String,
    flow_id: String,
    key: String,
    has_path: bool,
    query: Option<String>,
    headers: HeaderMap,
    body: Body,
}

async fn on_key(
    State(s): State<ApiState>,
    Path((namespace, flow_id, key)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let call = Call { namespace, flow_id, key, has_path: false, query, headers, body };
    answer(handle(&s, call).await)
}

async fn on_path(
    State(s): State<ApiState>,
    Path((namespace, flow_id, key, _path)): Path<(String, String, String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let call = Call { namespace, flow_id, key, has_path: true, query, headers, body };
    answer(handle(&s, call).await)
}

fn answer(r: ApiResult<Response>) -> Response {
    r.unwrap_or_else(IntoResponse::into_response)
}

async fn handle(s: &ApiState, call: Call) -> ApiResult<Response> {
    let engine = &s.engine;
    let flow = s.host.flow(&call.namespace, &call.flow_id).await.map_err(|e| {
        if e.status == StatusCode::NOT_FOUND {
            ApiError::not_found(format!("Flow not found: {}.{}", call.namespace, call.flow_id))
        } else {
            e
        }
    })?;
    if flow.disabled {
        return Err(ApiError::conflict(format!(
            "Cannot execute flow {}.{}: flow is disabled.",
            flow.namespace, flow.id
        )));
    }
    let Some(trigger) = matching_trigger(engine, &flow, &call.key) else {
        return Err(webhook_not_found(&flow));
    };
    if call.has_path {
        // Kestra's core Webhook takes no path after its key
        return Err(webhook_not_found(&flow));
    }
    super::backlog::admit(engine)?;
    if crate::runtime::stop_after::is_stopped(engine, &flow, trigger).await? {
        // stopped by `stopAfter`: as a disabled trigger
        return Err(webhook_not_found(&flow));
    }
    let bytes = read_body(call.body).await?;
    let content_type = call.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let settings = Settings::of(trigger);
    let execution_id = ids::new_id();
    let storage = engine.storage.as_ref();
    let target = payload::Target { flow: &flow, execution_id: &execution_id, trigger_id: &trigger.id };
    let mut payload = payload::read(storage, &target, content_type, bytes, settings.store_body).await?;
    let headers = call.headers.iter().map(|(k, v)| (k.as_str(), String::from_utf8_lossy(v.as_bytes()).into_owned()));
    let variables = hook::variables(
        std::mem::take(&mut payload.variables),
        hook::multimap(headers),
        hook::multimap(call.query.as_deref().map(query_pairs).unwrap_or_default()),
    );
    let context = TriggerContext { id: trigger.id.clone(), type_: hook::TYPE.to_string(), variables };
    let labels = vec![Label { key: "system.from".into(), value: "trigger".into() }];
    let ctx = execution_context(engine, &flow, &execution_id, &context, &labels);
    // the files stored for the request go when it starts no execution
    let started = async {
        if !conditions_hold(engine, &flow, trigger, &ctx)? {
            return Ok(None);
        }
        let inputs = render_inputs(engine, &flow, trigger, &ctx)?;
        let req = LaunchRequest {
            inputs,
            labels,
            trigger: Some(context),
            execution_id: Some(execution_id.clone()),
            ..LaunchRequest::default()
        };
        launch_once(engine, &flow, req).await.map(Some)
    };
    let updates = engine.notable.subscribe();
    let exec = match started.await {
        Ok(Some(exec)) => exec,
        Ok(None) => {
            payload.discard(storage).await;
            return Ok(StatusCode::NO_CONTENT.into_response());
        }
        Err(e) => {
            payload.discard(storage).await;
            return Err(e);
        }
    };
    crate::runtime::stop_after::record(engine, &flow, trigger, &exec.id).await?;
    tracing::info!(execution_id = %exec.id, namespace = %flow.namespace, flow_id = %flow.id,
        trigger_id = %trigger.id, "webhook started an execution");
    if !settings.wait {
        return Ok(Json(webhook_response(&exec, &call.headers)).into_response());
    }
    let ended = match tokio::time::timeout(WAIT_LIMIT, wait_end(engine, &exec.id, updates)).await {
        Ok(r) => r?,
        Err(_) => {
            return Err(ApiError::new(
                StatusCode::GATEWAY_TIMEOUT,
                format!(
                    "execution {} did not end within the webhook's wait limit of {} s; it runs on (GET /api/v1/executions/{})",
                    exec.id,
                    WAIT_LIMIT.as_secs(),
                    exec.id
                ),
            ));
        }
    };
    let status = answer_status(engine, &flow, &ended, settings.response_code.as_ref()).await;
    if !settings.return_outputs {
        return Ok((status, Json(webhook_response(&ended, &call.headers))).into_response());
    }
    let outputs = Value::Object(ended.outputs.clone().unwrap_or_default());
    if settings.text_response {
        let text = hook::text_response(&outputs);
        return Ok((status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response());
    }
    Ok((status, Json(outputs)).into_response())
}

/// The status of a `wait` answer: the trigger's `responseCode` rendered
/// against the ended execution (its outputs, inputs, labels…), as Kestra
/// renders it; without one 200, or 500 when the execution FAILED. A code
/// that does not render to a status from 100 to 599 answers 500, as
/// Kestra's error fallback.
async fn answer_status(engine: &Engine, flow: &Flow, ended: &Execution, code: Option<&Value>) -> StatusCode {
    let Some(raw) = code else {
        return if ended.state.current == StateType::Failed {
            StatusCode::INTERNAL_SERVER_ERROR
        } else {
            StatusCode::OK
        };
    };
    let pinned =
        crate::runtime::flows::at_revision(engine, &ended.namespace, &ended.flow_id, ended.flow_revision).await;
    let flow = pinned.as_deref().unwrap_or(flow);
    let by_id = crate::executor::context::runs_by_id(ended);
    let mut ctx = crate::executor::context::build(flow, ended, None, &|id| by_id.get(id).copied(), true);
    ctx["envs"] = Value::Object(engine.envs.clone());
    let rendered = engine.renderer.render_typed(raw, &ctx, engine.host.as_ref());
    match rendered.as_ref().ok().and_then(hook::status_code).and_then(|c| StatusCode::from_u16(c).ok()) {
        Some(s) => s,
        None => {
            tracing::warn!(execution_id = %ended.id, namespace = %flow.namespace, flow_id = %flow.id,
                rendered = ?rendered, "webhook responseCode is not an HTTP status code: answering 500");
            StatusCode::INTERNAL_SERVER_ERROR
        }
    }
}

fn webhook_not_found(flow: &Flow) -> ApiError {
    ApiError::not_found(format!(
        "Webhook not found: no enabled Webhook trigger of flow {}.{} has this key",
        flow.namespace, flow.id
    ))
}

/// The context a trigger's key is rendered in: the flow, its variables, the
/// `ENV_` variables and the trigger's id and type (Kestra renders it
/// before any request data is known).
fn flow_context(engine: &Engine, flow: &Flow, trigger: &Trigger) -> Value {
    let mut ctx = crate::runtime::events::trigger_vars(engine, flow, &trigger.id);
    ctx["trigger"]["type"] = Value::String(hook::TYPE.to_string());
    ctx
}

/// The first enabled Webhook trigger of `flow` whose rendered key is `key`.
/// A key that cannot be rendered (a missing secret…) matches nothing, as in Kestra.
fn matching_trigger<'f>(engine: &Engine, flow: &'f Flow, key: &str) -> Option<&'f Trigger> {
    flow.triggers.iter().filter(|t| is_webhook(t) && !t.disabled).find(|t| {
        let Some(Value::String(template)) = t.props.get("key") else { return false };
        match engine.renderer.render_str(template, &flow_context(engine, flow, t), engine.host.as_ref()) {
            Ok(rendered) => hook::key_matches(rendered.trim(), key),
            Err(e) => {
                tracing::warn!(namespace = %flow.namespace, flow_id = %flow.id, trigger_id = %t.id, error = %e,
                    "cannot render the webhook key; this trigger is skipped");
                false
            }
        }
    })
}

fn is_webhook(t: &Trigger) -> bool {
    crate::triggers::find(&t.type_).is_some_and(|d| d.type_name == hook::TYPE)
}

/// Reads the body, refusing one over [`MAX_BODY`].
async fn read_body(body: Body) -> ApiResult<Bytes> {
    axum::body::to_bytes(body, MAX_BODY).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the webhook request body is over Baton's limit of {MAX_BODY} bytes (10 MiB)"),
        )
    })
}

/// The context the trigger's `inputs` and `conditions` are rendered in:
/// the execution about to be created, with the request's trigger variables.
fn execution_context(
    engine: &Engine,
    flow: &Flow,
    execution_id: &str,
    context: &TriggerContext,
    labels: &[Label],
) -> Value {
    let mut trigger = context.variables.clone();
    trigger.insert("id".into(), Value::String(context.id.clone()));
    trigger.insert("type".into(), Value::String(context.type_.clone()));
    let mut all_labels: Map<String, Value> =
        flow.labels.iter().map(|l| (l.key.clone(), Value::String(l.value.clone()))).collect();
    for l in labels {
        all_labels.insert(l.key.clone(), Value::String(l.value.clone()));
    }
    json!({
        "flow": {"id": flow.id, "namespace": flow.namespace, "revision": flow.revision},
        "execution": {"id": execution_id},
        "vars": flow.variables,
        "envs": engine.envs,
        "labels": all_labels,
        "trigger": trigger,
    })
}

/// Whether the trigger's `conditions` ([`crate::conditions`]) all hold for
/// this request, tested against the execution about to be created (so an
/// `Expression` reads `trigger.body`). One that cannot be evaluated is a
/// 422 naming it.
fn conditions_hold(engine: &Engine, flow: &Flow, trigger: &Trigger, ctx: &Value) -> ApiResult<bool> {
    let raw = trigger.props.get("conditions").filter(|v| !v.is_null());
    let when = crate::triggers::when_condition(trigger);
    if raw.is_none() && when.is_none() {
        return Ok(true);
    }
    let unusable = |message: String| {
        ApiError::unprocessable(format!(
            "trigger '{}' of flow {}.{}: conditions: {message}",
            trigger.id, flow.namespace, flow.id
        ))
    };
    let mut conditions = match raw {
        Some(raw) => conditions::parse_list(raw).map_err(|problems| {
            unusable(problems.iter().map(|p| format!("{}: {}", p.path, p.message)).collect::<Vec<_>>().join("; "))
        })?,
        None => Vec::new(),
    };
    conditions.extend(when);
    let cx = conditions::ConditionContext {
        namespace: &flow.namespace,
        flow_id: &flow.id,
        execution: None,
        variables: ctx,
        renderer: &engine.renderer,
        host: engine.host.as_ref(),
        now: chrono::Utc::now(),
    };
    match conditions::first_false(&conditions, &cx) {
        Ok(None) => Ok(true),
        Ok(Some(c)) => {
            tracing::info!(namespace = %flow.namespace, flow_id = %flow.id, trigger_id = %trigger.id,
                condition = c.short_name(), "webhook conditions not met: no execution");
            Ok(false)
        }
        Err(e) => Err(unusable(e.to_string())),
    }
}

/// The trigger's `inputs`, rendered against the request (422 naming the input).
fn render_inputs(engine: &Engine, flow: &Flow, trigger: &Trigger, ctx: &Value) -> ApiResult<Map<String, Value>> {
    let mut inputs = Map::new();
    let Some(Value::Object(raw)) = trigger.props.get("inputs") else { return Ok(inputs) };
    for (k, v) in raw {
        let value = engine.renderer.render_typed(v, ctx, engine.host.as_ref()).map_err(|e| {
            ApiError::unprocessable(format!(
                "trigger '{}' of flow {}.{}: cannot render input '{k}': {e}",
                trigger.id, flow.namespace, flow.id
            ))
        })?;
        inputs.insert(k.clone(), value);
    }
    Ok(inputs)
}

/// Launches the request's execution, retrying a failed store under the same
/// id: a retry that finds it there finds the first attempt's execution.
async fn launch_once(engine: &std::sync::Arc<Engine>, flow: &Flow, req: LaunchRequest) -> ApiResult<Execution> {
    let mut attempt = 1;
    loop {
        match launch(engine, flow, req.clone()).await {
            Ok(e) => return Ok(e),
            Err(LaunchError::Exists(id)) if attempt > 1 => return load(engine, &id).await,
            Err(LaunchError::Backend(e)) if attempt < LAUNCH_ATTEMPTS => {
                tracing::warn!(error = %e, attempt, "webhook: storing the execution failed; retrying under the same id");
                tokio::time::sleep(Duration::from_millis(100 * attempt as u64)).await;
                attempt += 1;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Kestra's `WebhookResponse`: the execution's id, flow, trigger, outputs,
/// labels and state, and `url`, the execution's page in Baton's UI.
pub fn webhook_response(e: &Execution, headers: &HeaderMap) -> Value {
    let full = execution_json(e);
    let mut out = Map::new();
    out.insert("tenantId".into(), json!("main"));
    for k in ["id", "namespace", "flowId", "flowRevision", "trigger", "outputs", "labels", "state"] {
        out.insert(k.into(), full.get(k).cloned().unwrap_or(Value::Null));
    }
    out.insert("url".into(), Value::String(execution_url(e, headers)));
    Value::Object(out)
}

/// The execution's page at Kestra's path (`/ui/main/executions/{namespace}/{flowId}/{id}`,
/// which Baton's UI opens), absolute when the request says where it came
/// in (`Host`, `X-Forwarded-Proto` behind Cloud Run's front end).
/// (Namespaces, flow ids and execution ids need no escaping in a path.)
pub fn execution_url(e: &Execution, headers: &HeaderMap) -> String {
    let page = format!("/ui/main/executions/{}/{}/{}", e.namespace, e.flow_id, e.id);
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).filter(|h| !h.is_empty());
    let proto = headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()).unwrap_or("http");
    match host {
        Some(h) => format!("{proto}://{h}{page}"),
        None => page,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_paths_are_recognised_under_both_prefixes() {
        assert!(is_webhook_path("/api/v1/executions/webhook/ns/f/k"));
        assert!(is_webhook_path("/api/v1/main/executions/webhook/ns/f/k/more"));
        assert!(!is_webhook_path("/api/v1/executions/ns/f"));
        assert!(!is_webhook_path("/api/v1/flows/executions/webhook/x"));
        assert!(!is_webhook_path("/executions/webhook/ns/f/k"));
    }

    #[test]
    fn urls_are_kestra_s_page_and_follow_the_request_host() {
        let e: Execution = serde_json::from_value(json!({
            "id": "X1", "namespace": "company.team", "flowId": "hello", "flowRevision": 1, "originalId": "X1",
            "state": {"current": "SUCCESS", "histories": []}
        }))
        .expect("an execution");
        let mut h = HeaderMap::new();
        assert_eq!(execution_url(&e, &h), "/ui/main/executions/company.team/hello/X1");
        h.insert(header::HOST, "baton.example".parse().unwrap());
        h.insert("x-forwarded-proto", "https".parse().unwrap());
        assert_eq!(execution_url(&e, &h), "https://baton.example/ui/main/executions/company.team/hello/X1");
    }
}
