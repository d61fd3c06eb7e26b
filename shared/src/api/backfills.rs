//! Backfills: Baton's `POST|GET /backfills`, `GET /backfills/{id}`,
//! `POST /backfills/{id}/{pause|resume|cancel}`, and Kestra's bodies for
//! `PUT /triggers` with a `backfill` (1.x), `PUT /triggers/backfill/create`
//! (2.0), `PUT|POST /triggers/backfill/{pause|unpause|delete}`.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::ApiState;
use super::error::{ApiError, ApiResult};
use super::host::{BackfillBody, BackfillCreated};
use super::query::Params;
use crate::backend::schedule::{Backfill, BackfillState, TriggerStore};
use crate::runtime::backfill::{cancel_backfill, pause_backfill, resume_backfill};

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/backfills", post(post_backfill).get(list_backfills))
        .route("/backfills/{id}", get(get_backfill))
        .route("/backfills/{id}/{action}", post(act_on_backfill))
        .route("/triggers/backfill/create", put(kestra_create).post(kestra_create))
        .route("/triggers/backfill/{action}", put(kestra_action).post(kestra_action))
}

pub fn store(s: &ApiState) -> ApiResult<Arc<dyn TriggerStore>> {
    s.host.triggers().ok_or_else(|| ApiError::unsupported("this deployment has no trigger store: no backfills here"))
}

/// Kestra's `Trigger` body (`PUT /triggers`, the backfill routes).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KestraTrigger {
    pub namespace: String,
    pub flow_id: String,
    pub trigger_id: String,
    #[serde(default)]
    pub backfill: Option<KestraBackfill>,
    #[serde(default)]
    pub disabled: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KestraBackfill {
    pub start: String,
    #[serde(default)]
    pub end: Option<String>,
    #[serde(default)]
    pub inputs: Option<Map<String, Value>>,
    #[serde(default)]
    pub labels: Value,
    #[serde(default)]
    pub paused: bool,
}

/// Reads a JSON body, with a 400 naming what was expected.
pub fn body<T: serde::de::DeserializeOwned>(bytes: &[u8], what: &str) -> ApiResult<T> {
    serde_json::from_slice(bytes).map_err(|e| ApiError::bad_request(format!("not {what}: {e}")))
}

/// A backfill as Kestra shows it inside a trigger context.
pub fn kestra_backfill_json(b: &Backfill) -> Value {
    json!({
        "start": b.start,
        "end": b.end,
        "currentDate": b.progress.cursor,
        "paused": b.state == BackfillState::Paused,
        "inputs": b.inputs,
        "labels": b.labels,
        "id": b.id,
        "state": b.state,
        "progress": {"total": b.progress.total, "launched": b.progress.launched, "skipped": b.progress.skipped,
            "conditionsFalse": b.progress.conditions_false, "succeeded": b.progress.succeeded, "failed": b.progress.failed},
        "error": b.progress.error,
    })
}

/// Creates a backfill from Kestra's trigger body; paused at once when asked.
pub async fn create_from_trigger(s: &ApiState, t: KestraTrigger) -> ApiResult<Response> {
    let Some(b) = t.backfill else {
        return Err(ApiError::unprocessable("the trigger has no 'backfill' to create"));
    };
    let paused = b.paused;
    let req = BackfillBody {
        namespace: t.namespace,
        flow_id: t.flow_id,
        trigger_id: t.trigger_id,
        start: b.start,
        end: b.end,
        inputs: b.inputs.unwrap_or_default(),
        labels: b.labels,
        // Kestra's backfill replays every tick of the window
        rerun_successful: true,
    };
    match s.host.create_backfill(req).await? {
        BackfillCreated::Accepted(id) => Ok((StatusCode::ACCEPTED, Json(json!({"id": id}))).into_response()),
        BackfillCreated::Created(mut b) => {
            if paused {
                *b = pause_backfill(store(s)?.as_ref(), &b.id).await?;
            }
            let v = super::triggers::trigger_json(s, &b.namespace, &b.flow_id, &b.trigger_id).await?;
            Ok(Json(v).into_response())
        }
    }
}

async fn kestra_create(
    State(s): State<ApiState>,
    RawQuery(raw): RawQuery,
    bytes: axum::body::Bytes,
) -> ApiResult<Response> {
    Params::parse(raw.as_deref(), "PUT /triggers/backfill/create", &[])?;
    create_from_trigger(&s, body(&bytes, "a trigger with a backfill")?).await
}

async fn post_backfill(
    State(s): State<ApiState>,
    RawQuery(raw): RawQuery,
    bytes: axum::body::Bytes,
) -> ApiResult<Response> {
    Params::parse(raw.as_deref(), "POST /backfills", &[])?;
    let req: BackfillBody = body(&bytes, "a backfill request")?;
    match s.host.create_backfill(req).await? {
        BackfillCreated::Accepted(id) => Ok((StatusCode::ACCEPTED, Json(json!({"id": id}))).into_response()),
        BackfillCreated::Created(b) => Ok((StatusCode::CREATED, Json(b)).into_response()),
    }
}

async fn list_backfills(State(s): State<ApiState>, RawQuery(raw): RawQuery) -> ApiResult<Json<Vec<Backfill>>> {
    let p = Params::parse(raw.as_deref(), "GET /backfills", &["state"])?;
    let state = match p.get("state") {
        None => None,
        Some(st) => Some(BackfillState::parse(st).ok_or_else(|| {
            ApiError::bad_request(format!("unknown backfill state '{st}' (RUNNING, PAUSED, CANCELLED, SUCCESS)"))
        })?),
    };
    Ok(Json(store(&s)?.list_backfills(state).await?))
}

async fn get_backfill(State(s): State<ApiState>, Path(id): Path<String>) -> ApiResult<Json<Backfill>> {
    let b = store(&s)?.load_backfill(&id).await?;
    Ok(Json(b.ok_or_else(|| ApiError::not_found(format!("backfill {id} not found")))?))
}

async fn act(s: &ApiState, id: &str, action: &str) -> ApiResult<Backfill> {
    let store = store(s)?;
    Ok(match action {
        "pause" => pause_backfill(store.as_ref(), id).await?,
        "resume" | "unpause" => {
            let b = resume_backfill(store.as_ref(), id).await?;
            s.host.drive_backfill(id).await?;
            b
        }
        "cancel" | "delete" => cancel_backfill(store.as_ref(), id).await?,
        other => {
            return Err(ApiError::not_found(format!(
                "unknown backfill action '{other}' (pause, resume/unpause, cancel/delete)"
            )));
        }
    })
}

async fn act_on_backfill(
    State(s): State<ApiState>,
    Path((id, action)): Path<(String, String)>,
) -> ApiResult<Json<Backfill>> {
    Ok(Json(act(&s, &id, &action).await?))
}

async fn kestra_action(
    State(s): State<ApiState>,
    Path(action): Path<String>,
    RawQuery(raw): RawQuery,
    bytes: axum::body::Bytes,
) -> ApiResult<Json<Value>> {
    Params::parse(raw.as_deref(), "PUT /triggers/backfill/{action}", &[])?;
    if !matches!(action.as_str(), "pause" | "unpause" | "delete") {
        return Err(ApiError::not_found(format!("no backfill action '{action}' (create, pause, unpause, delete)")));
    }
    let t: KestraTrigger = body(&bytes, "a trigger (namespace, flowId, triggerId)")?;
    let mut acted = 0;
    for b in store(&s)?.list_backfills(None).await? {
        if b.namespace == t.namespace
            && b.flow_id == t.flow_id
            && b.trigger_id == t.trigger_id
            && !b.state.is_terminal()
        {
            act(&s, &b.id, &action).await?;
            acted += 1;
        }
    }
    if acted == 0 {
        return Err(ApiError::not_found(format!(
            "no running or paused backfill for trigger '{}' of {}.{}",
            t.trigger_id, t.namespace, t.flow_id
        )));
    }
    Ok(Json(super::triggers::trigger_json(&s, &t.namespace, &t.flow_id, &t.trigger_id).await?))
}
