//! Flow graph routes (Kestra's `FlowGraph`, built by [`crate::graph`]):
//! - `GET /flows/{namespace}/{id}/graph` (`revision`, `subflows`: the
//!   uids of Subflow nodes to expand, repeated or comma-separated);
//! - `POST /flows/graph`: the graph of a YAML body (an invalid flow is
//!   Kestra's 422 `Invalid entity` with every violation);
//! - `GET /executions/{executionId}/graph`: the graph of the execution's
//!   flow revision, a node per task run carrying it (Kestra's
//!   `forExecution` shape);
//! - `GET /executions/{executionId}/flow` and
//!   `GET /executions/flows/{namespace}/{flowId}` (`revision`): Kestra's
//!   `FlowForExecution` (id, namespace, revision, inputs, tasks and
//!   triggers reduced to what an execution view needs).
//!
//! `GET /flows/graph` stays the flows of namespace `graph`, and a `POST`
//! to `/executions/{namespace}/graph|flow` still starts flow `graph` or
//! `flow`.

use std::collections::HashMap;

use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::ApiState;
use super::error::{ApiError, ApiResult, flow_violations, invalid_entity};
use super::query::Params;
use crate::graph::{GraphError, GraphInput, flow_graph, flow_key};
use crate::model::{Execution, Flow};

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route(
            "/flows/graph",
            post(source_graph)
                .get(|s: State<ApiState>, q: RawQuery| super::flows::namespace_flows(s, Path("graph".to_string()), q)),
        )
        .route("/flows/{namespace}/{id}/graph", get(stored_graph))
        // beside `POST /executions/{namespace}/{flowId}` (start): a static
        // `/graph` route would take that POST from a flow named `graph`
        .route("/executions/{id}/{sub}", get(execution_sub))
        .route("/executions/flows/{namespace}/{id}", get(flow_for_execution))
}

/// `subflows=a&subflows=b` or `subflows=a,b`.
fn expanded(p: &Params) -> Vec<String> {
    p.all("subflows")
        .iter()
        .flat_map(|v| v.split(','))
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect()
}

fn revision(p: &Params) -> ApiResult<Option<u32>> {
    p.get("revision")
        .map(|r| {
            r.trim().parse::<u32>().map_err(|_| ApiError::bad_request(format!("revision must be a number, got '{r}'")))
        })
        .transpose()
}

/// A stored flow source read back: structure only (a revision stored once
/// stays viewable even if it would no longer validate).
fn read_stored(namespace: &str, id: &str, revision: u32, source: &str) -> ApiResult<Flow> {
    let what = format!("flow {namespace}.{id} revision {revision}");
    let (v, _) = crate::yaml::parse(source).map_err(|e| ApiError::unprocessable(format!("{what}: {e}")))?;
    let (flow, problems) = Flow::from_value_with(&v, source, &crate::validate::type_names::current);
    let mut flow = flow.ok_or_else(|| {
        let list: Vec<String> = problems.iter().map(|p| format!("{}: {}", p.path, p.message)).collect();
        ApiError::unprocessable(format!("{what} cannot be read: {}", list.join("; ")))
    })?;
    flow.revision = revision;
    Ok(flow)
}

/// Flow `namespace.id` at `revision` (the current one when `None`). The
/// current flow's revision is recorded as the flow routes record it
/// ([`crate::runtime::flow_catalog::revision`]); an older one is read from the store
/// (it stays readable after the flow is deleted).
async fn flow_at(s: &ApiState, namespace: &str, id: &str, revision: Option<u32>) -> ApiResult<Flow> {
    let current = s.host.flow(namespace, id).await;
    let Some(rev) = revision else { return current_flow(s, &*current?).await };
    if let Ok(current) = current {
        let flow = current_flow(s, &current).await?;
        if flow.revision == rev {
            return Ok(flow);
        }
    }
    match s.engine.state.load_flow(namespace, id, Some(rev)).await? {
        Some((r, source)) => read_stored(namespace, id, r, &source),
        None => Err(ApiError::not_found(format!("Unable to find flow {namespace}.{id} revision {rev}"))),
    }
}

/// The current flow with its revision.
async fn current_flow(s: &ApiState, current: &Flow) -> ApiResult<Flow> {
    let mut flow = current.clone();
    flow.revision = crate::runtime::flow_catalog::revision(&s.engine, current).await?;
    Ok(flow)
}

/// Builds the graph, loading each expanded subflow's current flow as the
/// builder asks for it; trigger states from the trigger store.
async fn build(s: &ApiState, flow: &Flow, expand: Vec<String>, execution: Option<&Execution>) -> ApiResult<Value> {
    let mut input = GraphInput { execution, expand, for_execution: execution.is_some(), ..GraphInput::default() };
    if s.host.triggers().is_some() {
        let mut states = HashMap::new();
        for t in &flow.triggers {
            if let Ok(v) = super::triggers::trigger_json(s, &flow.namespace, &flow.id, &t.id).await {
                states.insert(t.id.clone(), v);
            }
        }
        input.trigger_states = states;
    }
    loop {
        match flow_graph(flow, &input) {
            Ok(g) => return Ok(g),
            Err(GraphError::SubflowMissing { namespace, flow_id, task }) => {
                let key = flow_key(&namespace, &flow_id);
                if input.subflows.contains_key(&key) {
                    return Err(ApiError::internal(format!("subflow {key} loaded but not found")));
                }
                let called = s.host.flow(&namespace, &flow_id).await.map_err(|_| {
                    ApiError::not_found(format!("Unable to find subflow {namespace}.{flow_id} for task {task}"))
                })?;
                input.subflows.insert(key, (*called).clone());
            }
            Err(e @ GraphError::DynamicSubflow { .. }) => return Err(ApiError::unprocessable(e.to_string())),
        }
    }
}

async fn stored_graph(
    State(s): State<ApiState>,
    Path((namespace, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let p = Params::parse(raw.as_deref(), "GET /flows/{namespace}/{id}/graph", &["revision", "subflows"])?;
    let flow = flow_at(&s, &namespace, &id, revision(&p)?).await?;
    Ok(Json(build(&s, &flow, expanded(&p), None).await?))
}

async fn source_graph(
    State(s): State<ApiState>,
    OriginalUri(uri): OriginalUri,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let p = Params::parse(raw.as_deref(), "POST /flows/graph", &["subflows"])?;
    let source = super::flows::yaml_body(&headers, &body)?;
    let flow = match crate::runtime::flows::parse_flow("request body", &source, &s.engine.registry, &s.engine.renderer)
    {
        Ok(f) => f,
        Err(diags) => return Ok(invalid_entity(uri.path(), &flow_violations(&diags))),
    };
    Ok(Json(build(&s, &flow, expanded(&p), None).await?).into_response())
}

/// The flow revision execution `id` runs.
async fn execution_and_flow(s: &ApiState, id: &str) -> ApiResult<(Execution, Flow)> {
    let e = super::executions::load(&s.engine, id).await?;
    let flow = match s.engine.state.load_flow(&e.namespace, &e.flow_id, Some(e.flow_revision)).await? {
        Some((r, source)) => read_stored(&e.namespace, &e.flow_id, r, &source)?,
        None => {
            return Err(ApiError::not_found(format!(
                "the flow of execution {id} ({}.{} revision {}) is not stored",
                e.namespace, e.flow_id, e.flow_revision
            )));
        }
    };
    Ok((e, flow))
}

async fn execution_graph(s: ApiState, id: String, raw: Option<String>) -> ApiResult<Json<Value>> {
    let p = Params::parse(raw.as_deref(), "GET /executions/{executionId}/graph", &["subflows"])?;
    let (e, flow) = execution_and_flow(&s, &id).await?;
    Ok(Json(build(&s, &flow, expanded(&p), Some(&e)).await?))
}

/// Kestra's `FlowForExecution`.
fn flow_for_execution_json(flow: &Flow) -> Value {
    let raw = crate::yaml::parse(&flow.source).map(|(v, _)| v).unwrap_or(Value::Null);
    let list = |k: &str| raw.get(k).and_then(Value::as_array).cloned().unwrap_or_default();
    let tasks: Vec<Value> = list("tasks").iter().map(crate::graph::task_for_execution).collect();
    let triggers: Vec<Value> =
        list("triggers").iter().map(|t| json!({"id": t.get("id"), "type": t.get("type")})).collect();
    json!({
        "id": flow.id,
        "namespace": flow.namespace,
        "revision": flow.revision.max(1),
        "inputs": serde_json::to_value(&flow.inputs).unwrap_or(Value::Null),
        "tasks": tasks,
        "triggers": triggers,
        "disabled": flow.disabled,
        "deleted": false,
    })
}

async fn execution_flow(s: ApiState, id: String, raw: Option<String>) -> ApiResult<Json<Value>> {
    Params::parse(raw.as_deref(), "GET /executions/{executionId}/flow", &[])?;
    let (_, flow) = execution_and_flow(&s, &id).await?;
    Ok(Json(flow_for_execution_json(&flow)))
}

async fn flow_for_execution(
    State(s): State<ApiState>,
    Path((namespace, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let p = Params::parse(raw.as_deref(), "GET /executions/flows/{namespace}/{flowId}", &["revision"])?;
    let flow = flow_at(&s, &namespace, &id, revision(&p)?).await?;
    Ok(Json(flow_for_execution_json(&flow)))
}

/// `GET /executions/{executionId}/graph|flow`.
async fn execution_sub(
    State(s): State<ApiState>,
    Path((id, sub)): Path<(String, String)>,
    OriginalUri(uri): OriginalUri,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    match sub.as_str() {
        "graph" => execution_graph(s, id, raw).await,
        "flow" => execution_flow(s, id, raw).await,
        _ => Err(ApiError::not_found(format!("no route GET {} in Baton's Kestra API", uri.path()))),
    }
}
