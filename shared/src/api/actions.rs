//! Kestra's execution actions that change what an execution says or replay
//! it with other inputs, each at Kestra 1.x's path and Kestra 2.0's
//! `/actions/` path:
//!
//! - `POST /executions/{id}/change-status?status=S` (2.0:
//!   `…/actions/change-status`): an ended execution, not KILLED, takes the
//!   ended state `S` (SUCCESS, WARNING, FAILED, CANCELLED…); its task runs
//!   are left as they are, as in Kestra, and the `Flow` triggers listening
//!   for `S` start. Answers the execution; 400 for a
//!   state that is not an end, 409 for an execution still running or
//!   killed, 404 for an unknown one.
//! - `POST /executions/change-status/by-ids?newStatus=S` (a JSON array of
//!   ids) and `…/by-query?newStatus=S` (the search's filters): every one
//!   must be acceptable, else nothing is changed and 400 names the others
//!   (Kestra's `BulkErrorResponse`); Kestra's `{"count": n}` otherwise.
//! - `POST /executions/{id}/replay-with-inputs` (2.0:
//!   `…/actions/replay-with-inputs`): a replay
//!   ([`super::executions::ReplayTarget`]: `taskRunId`, `revision`) whose
//!   inputs are the ones sent (Kestra's multipart form, as an execution is
//!   started, FILE inputs as file parts) in place of the original's; 422
//!   naming each input that does not fit.
//! - `POST /executions/replay/by-ids` (a JSON array of ids) and
//!   `…/replay/by-query` (the search's filters): each replayed from the
//!   start at the revision it ran, or the flow's newest with
//!   `latestRevision=true`; `{"count": n}`, or 400 naming the unknown ids.
//! - `POST /executions/labels/by-ids` (`{"executionsId": […],
//!   "executionLabels": [{key, value}…]}`) and `…/labels/by-query` (the
//!   labels as the body, the search's filters in the query): as Kestra,
//!   the labels merged into each ended execution's by key, the value sent
//!   winning, none removed (only the one-execution route replaces the
//!   list); 400 naming the executions still running or unknown; a system
//!   label sent with a value other than the execution's, or an empty key
//!   or value, refused (422) naming the execution, and nothing changed.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, Request, State};
use axum::response::Response;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::Value;

use super::ApiState;
use super::bulk::{bulk_ok, ids_by_query, ids_of, load_all};
use super::error::{ApiError, ApiResult};
use super::executions::{ReplayTarget, execution_json, load, merged_labels};
use super::inputs::{discard_uploads, read_inputs};
use super::query::{Params, labels_from_json};
use crate::model::{Execution, StateType, ids};
use crate::runtime::launcher::publish_event;
use crate::runtime::messages::ExecutionEvent;

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/executions/{id}/change-status", post(change_status))
        .route("/executions/{id}/actions/change-status", post(change_status))
        .route("/executions/change-status/by-ids", post(change_status_by_ids))
        .route("/executions/change-status/by-query", post(change_status_by_query))
        .route("/executions/{id}/replay-with-inputs", post(replay_with_inputs).layer(super::limits::streamed()))
        .route("/executions/{id}/actions/replay-with-inputs", post(replay_with_inputs).layer(super::limits::streamed()))
        .route("/executions/replay/by-ids", post(replay_by_ids))
        .route("/executions/replay/by-query", post(replay_by_query))
        .route("/executions/labels/by-ids", post(labels_by_ids))
        .route("/executions/labels/by-query", post(labels_by_query))
}

/// The ended state named by parameter `name`: an execution can only be
/// said to have ended otherwise, never to run again.
fn ended_state(p: &Params, name: &str) -> ApiResult<StateType> {
    let text = p.get(name).ok_or_else(|| ApiError::bad_request(format!("`{name}` is required (the new state)")))?;
    let state: StateType = serde_json::from_value(Value::String(text.to_ascii_uppercase()))
        .map_err(|_| ApiError::bad_request(format!("`{name}`: '{text}' is not a state")))?;
    if !state.is_terminal() {
        return Err(ApiError::bad_request(format!(
            "`{name}` {state}: an execution's state can only be changed to an end state \
             (SUCCESS, WARNING, FAILED, KILLED, CANCELLED, SKIPPED)"
        )));
    }
    Ok(state)
}

/// Why `e`'s state cannot be changed (Kestra: ended, and not killed).
fn unchangeable(e: &Execution) -> Option<String> {
    match e.state.current {
        StateType::Killed => Some("execution was KILLED: its state cannot be changed".into()),
        s if !s.is_terminal() => Some(format!("execution is {s}: its state can be changed once it has ended")),
        _ => None,
    }
}

/// Moves `e` to `state` now and saves it (compare-and-swap on the version
/// loaded: a concurrent change answers 409), then wakes the executor, which
/// starts the `Flow` triggers listening for the new state, as Kestra's
/// executor does with the changed execution.
async fn set_state(s: &ApiState, mut e: Execution, state: StateType) -> ApiResult<Execution> {
    e.state.set(state, chrono::Utc::now());
    s.engine.state.save_execution(&e, &[]).await?;
    publish_event(&s.engine, &ExecutionEvent::Wake { execution_id: e.id.clone(), redispatch: false }).await?;
    load(&s.engine, &e.id).await
}

async fn change_status(
    State(s): State<ApiState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let p = Params::parse(raw.as_deref(), "POST /executions/{id}/change-status", &["status"])?;
    let state = ended_state(&p, "status")?;
    let e = load(&s.engine, &id).await?;
    if let Some(why) = unchangeable(&e) {
        return Err(ApiError::conflict(format!("execution {id}: {why}")));
    }
    Ok(Json(execution_json(&set_state(&s, e, state).await?)))
}

async fn change_ids(s: &ApiState, p: &Params, ids: &[String]) -> ApiResult<Response> {
    let state = ended_state(p, "newStatus")?;
    let found = match load_all(s, "change executions state", ids, unchangeable).await? {
        Ok(found) => found,
        Err(refused) => return Ok(refused),
    };
    let n = found.len();
    for e in found {
        set_state(s, e, state).await?;
    }
    Ok(bulk_ok(n))
}

async fn change_status_by_ids(
    State(s): State<ApiState>,
    RawQuery(raw): RawQuery,
    body: Result<Json<Value>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Response> {
    let p = Params::parse(raw.as_deref(), "POST /executions/change-status/by-ids", &["newStatus"])?;
    change_ids(&s, &p, &ids_of(body)?).await
}

async fn change_status_by_query(
    State(s): State<ApiState>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> ApiResult<Response> {
    let route = "POST /executions/change-status/by-query";
    let (p, ids) = ids_by_query(&s, raw.as_deref(), &body, route, &["newStatus"]).await?;
    change_ids(&s, &p, &ids).await
}

async fn replay_with_inputs(
    State(s): State<ApiState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    request: Request,
) -> ApiResult<Json<Value>> {
    let target = ReplayTarget::load(&s, &id, raw.as_deref(), "POST /executions/{id}/replay-with-inputs").await?;
    let new_id = ids::new_id();
    let read = read_inputs(s.engine.storage.as_ref(), &target.flow, &new_id, request).await?;
    match target.replay(&s, Some((new_id, read.inputs))).await {
        Ok(exec) => Ok(Json(execution_json(&exec))),
        Err(e) => {
            discard_uploads(s.engine.storage.as_ref(), &read.uploaded).await;
            Err(e)
        }
    }
}

async fn replay_ids(s: &ApiState, p: &Params, ids: &[String]) -> ApiResult<Response> {
    let latest = p.flag("latestRevision", false)?;
    let found = match load_all(s, "replay", ids, |_| None).await? {
        Ok(found) => found,
        Err(refused) => return Ok(refused),
    };
    let n = found.len();
    for old in found {
        let revision = if latest {
            let flow = s.host.flow(&old.namespace, &old.flow_id).await?;
            Some(crate::runtime::flow_catalog::revision(&s.engine, &flow).await?)
        } else {
            None
        };
        ReplayTarget::of(s, old, revision).await?.replay(s, None).await?;
    }
    Ok(bulk_ok(n))
}

async fn replay_by_ids(
    State(s): State<ApiState>,
    RawQuery(raw): RawQuery,
    body: Result<Json<Value>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Response> {
    let p = Params::parse(raw.as_deref(), "POST /executions/replay/by-ids", &["latestRevision"])?;
    replay_ids(&s, &p, &ids_of(body)?).await
}

async fn replay_by_query(State(s): State<ApiState>, RawQuery(raw): RawQuery, body: Bytes) -> ApiResult<Response> {
    let route = "POST /executions/replay/by-query";
    let (p, ids) = ids_by_query(&s, raw.as_deref(), &body, route, &["latestRevision"]).await?;
    replay_ids(&s, &p, &ids).await
}

async fn label_ids(s: &ApiState, ids: &[String], labels: &Value) -> ApiResult<Response> {
    let labels = labels_from_json(labels).map_err(ApiError::unprocessable)?;
    let running =
        |e: &Execution| (!e.state.is_terminal()).then(|| format!("execution is {}, not ended", e.state.current));
    let mut found = match load_all(s, "set labels", ids, running).await? {
        Ok(found) => found,
        Err(refused) => return Ok(refused),
    };
    // every execution's labels merged before any is saved: one refused, none changed
    for e in &mut found {
        e.labels = merged_labels(&e.labels, &labels)
            .map_err(|why| ApiError::unprocessable(format!("execution {}: {why}", e.id)))?;
    }
    let n = found.len();
    for e in found {
        s.engine.state.save_execution(&e, &[]).await?;
    }
    Ok(bulk_ok(n))
}

async fn labels_by_ids(
    State(s): State<ApiState>,
    RawQuery(raw): RawQuery,
    body: Result<Json<Value>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Response> {
    Params::parse(raw.as_deref(), "POST /executions/labels/by-ids", &[])?;
    let Json(body) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let ids = ids_of(Ok(Json(body.get("executionsId").cloned().unwrap_or(Value::Null))))
        .map_err(|e| ApiError::bad_request(format!("\"executionsId\": {}", e.message)))?;
    label_ids(&s, &ids, body.get("executionLabels").unwrap_or(&Value::Null)).await
}

async fn labels_by_query(State(s): State<ApiState>, RawQuery(raw): RawQuery, body: Bytes) -> ApiResult<Response> {
    let labels: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("the body is not a JSON list of labels: {e}")))?;
    // the labels are the body: the filters come from the query alone
    let (_, ids) = ids_by_query(&s, raw.as_deref(), b"", "POST /executions/labels/by-query", &[]).await?;
    label_ids(&s, &ids, &labels).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(q: &str) -> Params {
        Params::parse(Some(q), "test", &["status"]).expect("params")
    }

    #[test]
    fn only_an_end_state_is_accepted_as_the_new_state() {
        assert_eq!(ended_state(&params("status=FAILED"), "status").ok(), Some(StateType::Failed));
        assert_eq!(ended_state(&params("status=success"), "status").ok(), Some(StateType::Success));
        for bad in ["status=RUNNING", "status=PAUSED", "status=nope", ""] {
            let e = ended_state(&params(bad), "status").expect_err(bad);
            assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST, "{bad}");
        }
    }
}
