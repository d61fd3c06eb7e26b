//! Kestra 2.0's outputs routes (2.0 no longer inlines outputs in the
//! execution; Baton still does, for 1.x clients): `GET
//! /outputs/executions/{id}` (the flow's outputs), `GET
//! /outputs/tasks/{id}` (which task runs have outputs, Kestra's
//! `TaskOutputInformation`) and `GET /outputs/tasks/{id}/{taskRunId}`;
//! the 2.0 migration guide's `GET /outputs/{id}` and `GET
//! /outputs/{id}/{taskRunId}` answer the same.
//! Outputs are stored masked, so nothing here shows a secret.

use axum::extract::{Path, RawQuery, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::ApiState;
use super::error::{ApiError, ApiResult};
use super::executions::load;
use super::query::Params;

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/outputs/executions/{id}", get(flow_outputs))
        .route("/outputs/tasks/{id}", get(task_outputs))
        .route("/outputs/tasks/{id}/{task_run_id}", get(task_run_outputs))
        // the 2.0 migration guide's spelling of the two routes above
        .route("/outputs/{id}", get(task_outputs))
        .route("/outputs/{id}/{task_run_id}", get(task_run_outputs))
}

async fn flow_outputs(
    State(s): State<ApiState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    Params::parse(raw.as_deref(), "GET /outputs/executions/{id}", &[])?;
    let exec = load(&s.engine, &id).await?;
    Ok(Json(Value::Object(exec.outputs.unwrap_or_default())))
}

async fn task_outputs(
    State(s): State<ApiState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    Params::parse(raw.as_deref(), "GET /outputs/tasks/{id}", &[])?;
    let exec = load(&s.engine, &id).await?;
    let list = exec
        .task_run_list
        .iter()
        .filter(|tr| tr.outputs.as_ref().is_some_and(|o| !o.is_empty()))
        .map(|tr| {
            json!({
                "taskId": tr.task_id,
                "taskRunId": tr.id,
                "value": tr.value,
                "iteration": tr.iteration,
                "inline": true,
            })
        })
        .collect();
    Ok(Json(Value::Array(list)))
}

async fn task_run_outputs(
    State(s): State<ApiState>,
    Path((id, task_run_id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    Params::parse(raw.as_deref(), "GET /outputs/tasks/{id}/{taskRunId}", &[])?;
    let exec = load(&s.engine, &id).await?;
    let tr = exec
        .task_run(&task_run_id)
        .ok_or_else(|| ApiError::not_found(format!("execution {id} has no task run '{task_run_id}'")))?;
    Ok(Json(Value::Object(tr.outputs.as_deref().cloned().unwrap_or_default())))
}
