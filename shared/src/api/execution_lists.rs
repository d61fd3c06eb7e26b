//! Execution listings Kestra's clients call besides the search: `GET
//! /executions?namespace=&flowId=` (a flow's executions, paged, newest
//! first), `POST /executions/latest` (the newest execution of each flow of
//! a `[{namespace, id}]` body), `GET /executions/namespaces` (the
//! namespaces holding flows that can be executed) and `GET
//! /executions/namespaces/{namespace}/flows` (those flows); `GET
//! /flows/distinct-namespaces` (the flows' namespaces, `q` in them).
//!
//! Bound: `POST /executions/latest` takes at most [`MAX_LATEST`] flows.

use axum::extract::{Path, RawQuery, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::ApiState;
use super::error::{ApiError, ApiResult};
use super::executions::execution_json;
use super::query::Params;
use super::search::paged;
use crate::backend::ExecutionFilter;

/// The most flows one `POST /executions/latest` asks about.
pub const MAX_LATEST: usize = 1_000;

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/executions", get(flow_executions))
        .route("/executions/latest", post(latest))
        .route("/executions/namespaces", get(namespaces))
        .route("/executions/namespaces/{namespace}/flows", get(namespace_flows))
        .route("/flows/distinct-namespaces", get(distinct_namespaces))
}

/// `GET /flows/distinct-namespaces`: the flows' namespaces, sorted (`q`:
/// those containing it, case-insensitively).
async fn distinct_namespaces(State(s): State<ApiState>, RawQuery(raw): RawQuery) -> ApiResult<Json<Value>> {
    let p = Params::parse(raw.as_deref(), "GET /flows/distinct-namespaces", &["q"])?;
    let q = p.get("q").map(str::to_lowercase);
    let mut out: Vec<String> = s
        .host
        .flows()
        .await?
        .iter()
        .map(|f| f.namespace.clone())
        .filter(|n| q.as_ref().is_none_or(|q| n.to_lowercase().contains(q)))
        .collect();
    out.sort();
    out.dedup();
    Ok(Json(json!(out)))
}

/// `GET /executions`: Kestra's `searchExecutionsByFlowId` (both required).
async fn flow_executions(State(s): State<ApiState>, RawQuery(raw): RawQuery) -> ApiResult<Json<Value>> {
    let p = Params::parse(raw.as_deref(), "GET /executions", &["namespace", "flowId", "page", "size"])?;
    let paging = p.paging()?;
    let (Some(namespace), Some(flow_id)) = (p.get("namespace"), p.get("flowId")) else {
        return Err(ApiError::bad_request(
            "GET /executions needs both namespace and flowId (GET /executions/search searches every execution)",
        ));
    };
    let filter =
        ExecutionFilter { namespace: Some(namespace.into()), flow_id: Some(flow_id.into()), ..Default::default() };
    let mut found = s.engine.state.list_executions(&filter).await?;
    found.sort_by_key(|e| std::cmp::Reverse(e.start_date));
    let total = found.len();
    let mut results = Vec::new();
    for e in paging.slice(found) {
        if let Some(x) = s.engine.state.load_execution(&e.id).await? {
            results.push(execution_json(&x));
        }
    }
    Ok(Json(paged(total, results)))
}

/// One flow of `POST /executions/latest`'s body.
#[derive(Debug, Deserialize)]
struct FlowFilter {
    namespace: String,
    id: String,
}

/// `POST /executions/latest`: Kestra's `LastExecutionResponse` (id, flowId,
/// namespace, startDate, status) of each flow that has run, in the body's
/// order; a flow that never ran is left out, as Kestra does.
async fn latest(
    State(s): State<ApiState>,
    RawQuery(raw): RawQuery,
    body: Result<Json<Vec<FlowFilter>>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Json<Value>> {
    Params::parse(raw.as_deref(), "POST /executions/latest", &[])?;
    let Json(flows) = body.map_err(|e| {
        ApiError::bad_request(format!("the body must be a JSON list of {{namespace, id}}: {}", e.body_text()))
    })?;
    if flows.len() > MAX_LATEST {
        return Err(ApiError::bad_request(format!(
            "{} flows asked: POST /executions/latest takes at most {MAX_LATEST}",
            flows.len()
        )));
    }
    let mut out = Vec::new();
    for f in flows {
        let filter =
            ExecutionFilter { namespace: Some(f.namespace), flow_id: Some(f.id), ..ExecutionFilter::default() };
        let newest = s.engine.state.list_executions(&filter).await?.into_iter().max_by_key(|e| e.start_date);
        if let Some(e) = newest {
            out.push(json!({
                "id": e.id,
                "flowId": e.flow_id,
                "namespace": e.namespace,
                "startDate": e.start_date,
                "status": e.state.as_str(),
            }));
        }
    }
    Ok(Json(Value::Array(out)))
}

/// `GET /executions/namespaces`: the namespaces of the flows, sorted.
async fn namespaces(State(s): State<ApiState>, RawQuery(raw): RawQuery) -> ApiResult<Json<Value>> {
    Params::parse(raw.as_deref(), "GET /executions/namespaces", &[])?;
    let mut out: Vec<String> = s.host.flows().await?.iter().map(|f| f.namespace.clone()).collect();
    out.sort();
    out.dedup();
    Ok(Json(json!(out)))
}

/// `GET /executions/namespaces/{namespace}/flows`: the namespace's flows
/// (Kestra's `FlowForExecution`: the flow without its source).
async fn namespace_flows(
    State(s): State<ApiState>,
    Path(namespace): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    Params::parse(raw.as_deref(), "GET /executions/namespaces/{namespace}/flows", &[])?;
    let mut out = Vec::new();
    for flow in s.host.flows().await?.into_iter().filter(|f| f.namespace == namespace) {
        let mut v = super::flows::flow_json(&s, &flow, false).await?;
        // Kestra 2.0's field: Baton has no draft revisions
        v["draft"] = json!(false);
        out.push(v);
    }
    Ok(Json(Value::Array(out)))
}
