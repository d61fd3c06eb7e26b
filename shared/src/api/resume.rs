//! Resuming paused executions, as Kestra's `ExecutionController`:
//!
//! - `POST /executions/{id}/resume`: the `onResume` inputs of the paused
//!   Pause task as Kestra's multipart form (one field per input, FILE
//!   inputs as file parts streamed to the execution's storage), or as a
//!   JSON object or urlencoded form; 204 when the resume is sent, 409 with
//!   Kestra's message ("Execution '…' is not paused, can't resume it")
//!   when it is not PAUSED, 422 naming each input that does not fit.
//! - `POST /executions/{id}/actions/resume` (Kestra 2.0's path): the same,
//!   answering the execution as it is once the resume is recorded (200),
//!   which Kestra 2.0's clients read (kestrapy's `resume_execution`).
//! - `POST /executions/{id}/resume/validate` (and 2.0's
//!   `/actions/resume/validate`): the same check without
//!   resuming; answers Kestra's `ApiValidateExecutionInputsResponse`
//!   (`{id, namespace, inputs: [{input, value, enabled, isDefault,
//!   errors}]}`).
//! - `POST /executions/resume/by-ids` (JSON array of ids) and
//!   `POST /executions/resume/by-query` (the search's filters): every one
//!   must be PAUSED, else nothing is done and 400 names the others
//!   (Kestra's `BulkErrorResponse`); resumed without inputs.
//!
//! Who resumed goes to the Pause's `resumed.by` output: the user the
//! request was authenticated as (basic auth), none for an anonymous one —
//! Kestra's open-source controller records no user (`Pause.Resumed.now()`),
//! its Enterprise edition the authenticated one.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Map, Value, json};

use super::bulk::{bulk_ok, ids_by_query, ids_of, load_all};
use super::error::{ApiError, ApiResult};
use super::inputs::{ReadInputs, discard_uploads, read_declared};
use super::query::Params;
use super::{ApiState, AuthenticatedUser};
use crate::executor::{ResumeError, on_resume, paused_task, resume_inputs};
use crate::inputs::InputError;
use crate::model::flow::Input;
use crate::model::{Execution, Flow, StateType};
use crate::plugins::context::execution_prefix;
use crate::runtime::resume::{ResumeFailure, load, resume};

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/executions/{id}/resume", post(resume_one).layer(super::limits::streamed()))
        .route("/executions/{id}/resume/validate", post(validate).layer(super::limits::streamed()))
        .route("/executions/{id}/actions/resume", post(resume_action).layer(super::limits::streamed()))
        .route("/executions/{id}/actions/resume/validate", post(validate).layer(super::limits::streamed()))
        .route("/executions/resume/by-ids", post(resume_by_ids))
        .route("/executions/resume/by-query", post(resume_by_query))
}

impl From<ResumeFailure> for ApiError {
    fn from(e: ResumeFailure) -> ApiError {
        match e {
            ResumeFailure::NotFound(_) => ApiError::not_found(e.to_string()),
            ResumeFailure::Flow(f) => ApiError::not_found(f.to_string()),
            ResumeFailure::Refused(ResumeError::NotPaused(_)) => ApiError::conflict(e.to_string()),
            ResumeFailure::Refused(r) => ApiError::unprocessable(r.to_string()),
            ResumeFailure::Backend(b) => b.into(),
        }
    }
}

/// The paused execution, its flow and the `onResume` inputs it takes.
async fn paused(s: &ApiState, id: &str) -> ApiResult<(Execution, std::sync::Arc<Flow>, Vec<Input>, String)> {
    let (exec, flow) = load(&s.engine, id).await?;
    let (_, task) = paused_task(&flow, &exec).map_err(ResumeFailure::from)?;
    let defs = on_resume(task).map_err(|message| {
        ApiError::unprocessable(ResumeError::Definition { task: task.id.clone(), message }.to_string())
    })?;
    let what = format!("task '{}' (onResume) of flow {}.{}", task.id, flow.namespace, flow.id);
    Ok((exec, flow, defs, what))
}

/// Reads the request's inputs; FILE parts go under the execution's inputs.
async fn read(s: &ApiState, exec: &Execution, defs: &[Input], what: &str, request: Request) -> ApiResult<ReadInputs> {
    let prefix = execution_prefix(&exec.namespace, &exec.flow_id, &exec.id);
    let path_of = move |input: &str, file: &str| {
        let file = std::path::Path::new(file).file_name().and_then(|f| f.to_str()).unwrap_or("file");
        format!("{prefix}/inputs/{input}/{file}")
    };
    read_declared(s.engine.storage.as_ref(), defs, what, &path_of, request).await
}

async fn resume_one(
    State(s): State<ApiState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    request: Request,
) -> ApiResult<StatusCode> {
    Params::parse(raw.as_deref(), "POST /executions/{id}/resume", &[])?;
    let by = request.extensions().get::<AuthenticatedUser>().map(|u| u.0.clone());
    let (exec, _, defs, what) = paused(&s, &id).await?;
    let given = read(&s, &exec, &defs, &what, request).await?;
    match resume(&s.engine, &id, &given.inputs, by.as_deref()).await {
        Ok(_) => Ok(StatusCode::NO_CONTENT),
        Err(e) => {
            discard_uploads(s.engine.storage.as_ref(), &given.uploaded).await;
            Err(e.into())
        }
    }
}

/// Kestra 2.0's `POST /executions/{id}/actions/resume`: [`resume_one`],
/// answering the execution (its state as stored after the resume).
async fn resume_action(
    State(s): State<ApiState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    request: Request,
) -> ApiResult<Json<Value>> {
    resume_one(State(s.clone()), Path(id.clone()), RawQuery(raw), request).await?;
    let (exec, _) = load(&s.engine, &id).await?;
    Ok(Json(super::executions::execution_json(&exec)))
}

async fn validate(
    State(s): State<ApiState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    request: Request,
) -> ApiResult<Response> {
    Params::parse(raw.as_deref(), "POST /executions/{id}/resume/validate", &[])?;
    let (exec, flow, defs, what) = paused(&s, &id).await?;
    let given = read(&s, &exec, &defs, &what, request).await?;
    // nothing is resumed: what was uploaded to be checked goes away
    discard_uploads(s.engine.storage.as_ref(), &given.uploaded).await;
    let (values, errors) = match resume_inputs(&flow, &exec, &given.inputs, chrono::Utc::now()) {
        Ok((_, typed)) => (typed, Vec::new()),
        Err(ResumeError::Inputs(errors)) => (given.inputs.clone(), errors),
        Err(other) => return Err(ResumeFailure::from(other).into()),
    };
    Ok(Json(validation_json(&exec, &defs, &given.inputs, &values, &errors)).into_response())
}

/// Kestra's `ApiValidateExecutionInputsResponse`.
fn validation_json(
    exec: &Execution,
    defs: &[Input],
    given: &Map<String, Value>,
    values: &Map<String, Value>,
    errors: &[InputError],
) -> Value {
    let inputs: Vec<Value> = defs
        .iter()
        .map(|d| {
            let errs: Vec<Value> =
                errors.iter().filter(|e| e.id() == d.id).map(|e| json!({"message": e.to_string()})).collect();
            json!({
                "input": serde_json::to_value(d).unwrap_or(Value::Null),
                "value": values.get(&d.id).cloned().unwrap_or(Value::Null),
                "enabled": true,
                "isDefault": !given.contains_key(&d.id),
                "errors": errs,
            })
        })
        .collect();
    json!({"id": exec.flow_id, "namespace": exec.namespace, "inputs": inputs})
}

async fn resume_ids(s: &ApiState, ids: &[String], by: Option<&str>) -> ApiResult<Response> {
    let not_paused = |e: &Execution| {
        (e.state.current != StateType::Paused).then(|| format!("execution not in state PAUSED ({})", e.state.current))
    };
    let found = match load_all(s, "resume", ids, not_paused).await? {
        Ok(found) => found,
        Err(refused) => return Ok(refused),
    };
    for e in &found {
        resume(&s.engine, &e.id, &Map::new(), by).await?;
    }
    Ok(bulk_ok(found.len()))
}

async fn resume_by_ids(
    State(s): State<ApiState>,
    user: Option<Extension<AuthenticatedUser>>,
    RawQuery(raw): RawQuery,
    body: Result<Json<Value>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Response> {
    Params::parse(raw.as_deref(), "POST /executions/resume/by-ids", &[])?;
    resume_ids(&s, &ids_of(body)?, user.as_ref().map(|u| u.0.0.as_str())).await
}

async fn resume_by_query(
    State(s): State<ApiState>,
    user: Option<Extension<AuthenticatedUser>>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> ApiResult<Response> {
    let (_, ids) = ids_by_query(&s, raw.as_deref(), &body, "POST /executions/resume/by-query", &[]).await?;
    resume_ids(&s, &ids, user.as_ref().map(|u| u.0.0.as_str())).await
}
