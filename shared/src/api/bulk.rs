//! Execution deletion and Kestra's bulk execution routes:
//!
//! - `DELETE /executions/{id}` (`deleteLogs`, `deleteMetrics`,
//!   `deleteStorage`, all true by default): 204; 404 if absent; an
//!   execution that has not ended is refused with 409 (kill it first).
//! - `DELETE /executions/by-ids` (JSON array of ids) and
//!   `DELETE /executions/by-query` (the search's filters,
//!   [`super::search`]), with `includeNonTerminated` (false by default).
//!   The by-query routes read the filters from the query string and from
//!   the JSON body Kestra's generated clients send (`{"filters": [{"field":
//!   "LABELS", "operation": "EQUALS", "value": {…}}]}`); a filter Baton
//!   cannot apply is refused, never dropped.
//! - `DELETE /executions/kill/by-ids`, `DELETE /executions/kill/by-query`:
//!   each kill is the single-execution kill route's
//!   ([`super::executions::kill_execution`], without cascade as in Kestra).
//! - `POST /executions/restart/by-ids`, `POST /executions/restart/by-query`:
//!   FAILED executions only, each through
//!   [`super::executions::restart_execution`].
//!
//! The bulk routes answer Kestra's `BulkResponse` `{"count": n}`, or, when
//! any id is not acceptable, nothing done and 400 with Kestra's
//! `BulkErrorResponse` `{"message": "invalid bulk …", "invalids": [{"message",
//! "invalidValue", "path"}]}`.
//!
//! Deleting removes the execution with its task runs from the state store,
//! its logs (`deleteLogs`), its task metrics (`deleteMetrics`) and every
//! internal-storage file under its prefix
//! (`/{namespace}/{flow}/executions/{id}/`: outputs and uploaded inputs,
//! `deleteStorage`).

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::ApiState;
use super::error::{ApiError, ApiResult};
use super::executions::{kill_execution, load, restart_execution};
use super::query::Params;
use super::search::{SEARCH_PARAMS, Search};
use crate::model::{Execution, StateType};
use crate::plugins::context::execution_prefix;

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/executions/{id}", delete(delete_one))
        .route("/executions/by-ids", delete(delete_by_ids))
        .route("/executions/by-query", delete(delete_by_query))
        .route("/executions/kill/by-ids", delete(kill_by_ids))
        .route("/executions/kill/by-query", delete(kill_by_query))
        .route("/executions/restart/by-ids", post(restart_by_ids))
        .route("/executions/restart/by-query", post(restart_by_query))
}

const DELETE_PARAMS: &[&str] = &["deleteLogs", "deleteMetrics", "deleteStorage"];

/// What a delete removes besides the execution.
struct DeleteOptions {
    logs: bool,
    metrics: bool,
    storage: bool,
}

impl DeleteOptions {
    fn from(p: &Params) -> ApiResult<DeleteOptions> {
        Ok(DeleteOptions {
            logs: p.flag("deleteLogs", true)?,
            metrics: p.flag("deleteMetrics", true)?,
            storage: p.flag("deleteStorage", true)?,
        })
    }
}

/// Deletes an execution already loaded (its state is the caller's check).
async fn remove(s: &ApiState, e: &Execution, o: &DeleteOptions) -> ApiResult<()> {
    if o.storage {
        s.engine.storage.delete_prefix(&format!("{}/", execution_prefix(&e.namespace, &e.flow_id, &e.id))).await?;
    }
    if o.metrics {
        s.engine.state.metrics().delete_metrics(&e.id).await?;
    }
    s.engine.state.delete_execution(&e.id, o.logs).await?;
    Ok(())
}

async fn delete_one(
    State(s): State<ApiState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<StatusCode> {
    let p = Params::parse(raw.as_deref(), "DELETE /executions/{id}", DELETE_PARAMS)?;
    let options = DeleteOptions::from(&p)?;
    let e = load(&s.engine, &id).await?;
    if !e.state.is_terminal() {
        return Err(ApiError::conflict(format!(
            "execution {id} is {} and cannot be deleted until it ends: kill it first (DELETE /api/v1/executions/{id}/kill)",
            e.state.current
        )));
    }
    remove(&s, &e, &options).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// One id a bulk operation refuses (Kestra's `ManualConstraintViolation`).
fn invalid(id: &str, message: String) -> Value {
    json!({"message": message, "invalidValue": id, "path": "execution"})
}

/// Kestra's `BulkErrorResponse`, answered 400.
fn bulk_error(action: &str, invalids: Vec<Value>) -> Response {
    let body = json!({"message": format!("invalid bulk {action}"), "invalids": invalids});
    (StatusCode::BAD_REQUEST, Json(body)).into_response()
}

/// Kestra's `BulkResponse`.
pub(super) fn bulk_ok(count: usize) -> Response {
    Json(json!({"count": count})).into_response()
}

/// The ids of a JSON array body.
pub(super) fn ids_of(body: Result<Json<Value>, axum::extract::rejection::JsonRejection>) -> ApiResult<Vec<String>> {
    let Json(body) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let list =
        body.as_array().ok_or_else(|| ApiError::bad_request("the body must be a JSON array of execution ids"))?;
    list.iter()
        .map(|v| {
            v.as_str().map(String::from).ok_or_else(|| ApiError::bad_request(format!("{v} is not an execution id")))
        })
        .collect()
}

/// Loads `ids`, each checked by `refuse` (a reason to refuse it, or none).
/// `Err` is the 400 naming every refused id.
pub(super) async fn load_all(
    s: &ApiState,
    action: &str,
    ids: &[String],
    refuse: impl Fn(&Execution) -> Option<String>,
) -> ApiResult<Result<Vec<Execution>, Response>> {
    let (mut found, mut invalids) = (Vec::new(), Vec::new());
    for id in ids {
        match s.engine.state.load_execution(id).await? {
            None => invalids.push(invalid(id, "execution not found".into())),
            Some(e) => match refuse(&e) {
                Some(why) => invalids.push(invalid(id, why)),
                None => found.push(e),
            },
        }
    }
    Ok(if invalids.is_empty() { Ok(found) } else { Err(bulk_error(action, invalids)) })
}

/// Kestra's `{"filters": [{"field", "operation", "value"}]}` body as the
/// `filters[…]` parameters the search reads.
fn body_filters(body: &[u8]) -> ApiResult<Vec<(String, String)>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("the body is not a JSON object with \"filters\": {e}")))?;
    let filters = match v.get("filters") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(list)) => list,
        Some(other) => return Err(ApiError::bad_request(format!("\"filters\" must be a list, not {other}"))),
    };
    let mut pairs = Vec::new();
    for f in filters {
        let (Some(field), Some(op)) = (f["field"].as_str(), f["operation"].as_str()) else {
            return Err(ApiError::bad_request(format!("filter {f} needs a \"field\" and an \"operation\"")));
        };
        let name = match field {
            "QUERY" => "q",
            "NAMESPACE" => "namespace",
            "FLOW_ID" => "flowId",
            "STATE" => "state",
            "LABELS" => "labels",
            "START_DATE" => "startDate",
            "END_DATE" => "endDate",
            "TIME_RANGE" => "timeRange",
            _ => {
                return Err(ApiError::bad_request(format!(
                    "filter field {field} is not supported by Baton (QUERY, NAMESPACE, FLOW_ID, STATE, LABELS, START_DATE, END_DATE, TIME_RANGE)"
                )));
            }
        };
        let text = |v: &Value| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(_) | Value::Bool(_) => Some(v.to_string()),
            _ => None,
        };
        match &f["value"] {
            Value::Object(labels) if name == "labels" => {
                for (k, v) in labels {
                    let v = text(v).ok_or_else(|| ApiError::bad_request(format!("label {k}: {v} is not a value")))?;
                    pairs.push((format!("filters[labels][{op}][{k}]"), v));
                }
            }
            Value::Array(list) => {
                let items: Option<Vec<String>> = list.iter().map(text).collect();
                let items = items.ok_or_else(|| ApiError::bad_request(format!("filter {f}: a value is not text")))?;
                pairs.push((format!("filters[{name}][{op}]"), items.join(",")));
            }
            v => {
                let v = text(v).ok_or_else(|| ApiError::bad_request(format!("filter {f}: the value is not text")))?;
                pairs.push((format!("filters[{name}][{op}]"), v));
            }
        }
    }
    Ok(pairs)
}

/// The ids the search parameters (and body filters) of a by-query route
/// select: every search parameter except paging and sort, plus `extra`.
pub(super) async fn ids_by_query(
    s: &ApiState,
    raw: Option<&str>,
    body: &[u8],
    route: &str,
    extra: &[&str],
) -> ApiResult<(Params, Vec<String>)> {
    let supported: Vec<&str> = SEARCH_PARAMS
        .iter()
        .copied()
        .filter(|p| !matches!(*p, "page" | "size" | "sort"))
        .chain(extra.iter().copied())
        .collect();
    let mut p = Params::parse(raw, route, &supported)?;
    p.pairs.extend(body_filters(body)?);
    let found = Search::from_params(&p)?.summaries(s.engine.state.as_ref()).await?;
    Ok((p, found.into_iter().map(|e| e.id).collect()))
}

fn not_ended(e: &Execution) -> Option<String> {
    (!e.state.is_terminal())
        .then(|| format!("execution is {}, not ended (includeNonTerminated=true deletes it anyway)", e.state.current))
}

async fn delete_ids(s: &ApiState, p: &Params, ids: &[String]) -> ApiResult<Response> {
    let options = DeleteOptions::from(p)?;
    let include_running = p.flag("includeNonTerminated", false)?;
    let found = match load_all(s, "delete", ids, |e| if include_running { None } else { not_ended(e) }).await? {
        Ok(found) => found,
        Err(refused) => return Ok(refused),
    };
    for e in &found {
        remove(s, e, &options).await?;
    }
    Ok(bulk_ok(found.len()))
}

const BULK_DELETE_PARAMS: &[&str] = &["includeNonTerminated", "deleteLogs", "deleteMetrics", "deleteStorage"];

async fn delete_by_ids(
    State(s): State<ApiState>,
    RawQuery(raw): RawQuery,
    body: Result<Json<Value>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Response> {
    let p = Params::parse(raw.as_deref(), "DELETE /executions/by-ids", BULK_DELETE_PARAMS)?;
    delete_ids(&s, &p, &ids_of(body)?).await
}

async fn delete_by_query(State(s): State<ApiState>, RawQuery(raw): RawQuery, body: Bytes) -> ApiResult<Response> {
    let route = "DELETE /executions/by-query";
    let (p, ids) = ids_by_query(&s, raw.as_deref(), &body, route, BULK_DELETE_PARAMS).await?;
    delete_ids(&s, &p, &ids).await
}

async fn kill_ids(s: ApiState, ids: &[String]) -> ApiResult<Response> {
    let ended =
        |e: &Execution| e.state.is_terminal().then(|| format!("execution already finished ({})", e.state.current));
    let found = match load_all(&s, "kill", ids, ended).await? {
        Ok(found) => found,
        Err(refused) => return Ok(refused),
    };
    for e in &found {
        // Kestra's bulk kill does not cascade to subflow executions
        kill_execution(State(s.clone()), Path(e.id.clone()), RawQuery(Some("isOnKillCascade=false".into()))).await?;
    }
    Ok(bulk_ok(found.len()))
}

async fn kill_by_ids(
    State(s): State<ApiState>,
    RawQuery(raw): RawQuery,
    body: Result<Json<Value>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Response> {
    Params::parse(raw.as_deref(), "DELETE /executions/kill/by-ids", &[])?;
    kill_ids(s, &ids_of(body)?).await
}

async fn kill_by_query(State(s): State<ApiState>, RawQuery(raw): RawQuery, body: Bytes) -> ApiResult<Response> {
    let (_, ids) = ids_by_query(&s, raw.as_deref(), &body, "DELETE /executions/kill/by-query", &[]).await?;
    kill_ids(s, &ids).await
}

async fn restart_ids(s: ApiState, ids: &[String]) -> ApiResult<Response> {
    let not_failed = |e: &Execution| {
        (e.state.current != StateType::Failed).then(|| format!("execution not in state FAILED ({})", e.state.current))
    };
    let found = match load_all(&s, "restart", ids, not_failed).await? {
        Ok(found) => found,
        Err(refused) => return Ok(refused),
    };
    for e in &found {
        let _restarted = restart_execution(State(s.clone()), Path(e.id.clone()), RawQuery(None)).await?;
    }
    Ok(bulk_ok(found.len()))
}

async fn restart_by_ids(
    State(s): State<ApiState>,
    RawQuery(raw): RawQuery,
    body: Result<Json<Value>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Response> {
    Params::parse(raw.as_deref(), "POST /executions/restart/by-ids", &[])?;
    restart_ids(s, &ids_of(body)?).await
}

async fn restart_by_query(State(s): State<ApiState>, RawQuery(raw): RawQuery, body: Bytes) -> ApiResult<Response> {
    let (_, ids) = ids_by_query(&s, raw.as_deref(), &body, "POST /executions/restart/by-query", &[]).await?;
    restart_ids(s, &ids).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kestra_body_filters_become_search_parameters() {
        let body = br#"{"filters": [
            {"field": "LABELS", "operation": "EQUALS", "value": {"env": "prod"}},
            {"field": "STATE", "operation": "IN", "value": ["FAILED", "SUCCESS"]},
            {"field": "NAMESPACE", "operation": "EQUALS", "value": "a.b"}]}"#;
        assert_eq!(
            body_filters(body).unwrap(),
            [
                ("filters[labels][EQUALS][env]".to_string(), "prod".to_string()),
                ("filters[state][IN]".to_string(), "FAILED,SUCCESS".to_string()),
                ("filters[namespace][EQUALS]".to_string(), "a.b".to_string()),
            ]
        );
        assert!(body_filters(b"").unwrap().is_empty());
        assert!(body_filters(b"{}").unwrap().is_empty());
        let e = body_filters(br#"{"filters": [{"field": "WORKER_ID", "operation": "EQUALS", "value": "w"}]}"#);
        assert!(e.unwrap_err().message.contains("WORKER_ID"), "an unsupported field is named");
        assert!(body_filters(b"nope").is_err());
    }
}
