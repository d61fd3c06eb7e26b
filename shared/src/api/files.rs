//! Output files of an execution: `GET /executions/{id}/file?path=kestra:///…`
//! streams the file (never read whole), `GET /executions/{id}/file/metas`
//! gives its size, `GET /executions/{id}/file/preview` its first lines as
//! text (at most `maxRows`, default 1,000, and 1 MB). Only files under the
//! execution's own prefix in internal storage can be read this way, and
//! those a replay kept from the execution it replays (same `originalId`).

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt};

use super::ApiState;
use super::error::{ApiError, ApiResult};
use super::executions::load;
use super::query::Params;
use crate::backend::storage_path;
use crate::plugins::context::execution_prefix;

const PREVIEW_BYTES: u64 = 1024 * 1024;

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/executions/{id}/file", get(download))
        .route("/executions/{id}/file/metas", get(metas))
        .route("/executions/{id}/file/preview", get(preview))
}

/// The storage path of `?path=`, checked to be execution `id`'s.
async fn checked_path(s: &ApiState, id: &str, p: &Params) -> ApiResult<String> {
    let uri = p.get("path").ok_or_else(|| ApiError::bad_request("the 'path' parameter (kestra:///…) is required"))?;
    let path = storage_path(uri)?;
    let e = load(&s.engine, id).await?;
    let prefix = execution_prefix(&e.namespace, &e.flow_id, &e.id);
    if !path.starts_with(&format!("{prefix}/")) && !of_a_replayed_run(s, &e, &path).await? {
        return Err(ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            format!("{uri} is not a file of execution {id} (its files are under kestra://{prefix}/)"),
        ));
    }
    if s.engine.storage.size(&path).await?.is_none() {
        return Err(ApiError::not_found(format!("file {uri} not found")));
    }
    Ok(path)
}

/// Whether `path` is a file of another execution of the same flow with the
/// same `originalId`: a replay from a task run keeps the outputs (and
/// their files) of the task runs before it, stored under the execution
/// that made them.
async fn of_a_replayed_run(s: &ApiState, e: &crate::model::Execution, path: &str) -> ApiResult<bool> {
    let flow_base = execution_prefix(&e.namespace, &e.flow_id, "");
    let Some(other) = path.strip_prefix(&flow_base).and_then(|rest| rest.split('/').next()) else {
        return Ok(false);
    };
    if other.is_empty() || other == e.id || !path.contains(&format!("{flow_base}{other}/")) {
        return Ok(false);
    }
    Ok(s.engine.state.load_execution(other).await?.is_some_and(|o| o.original_id == e.original_id))
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or("file")
}

async fn download(State(s): State<ApiState>, Path(id): Path<String>, RawQuery(raw): RawQuery) -> ApiResult<Response> {
    let p = Params::parse(raw.as_deref(), "GET /executions/{id}/file", &["path"])?;
    let path = checked_path(&s, &id, &p).await?;
    let size = s.engine.storage.size(&path).await?.unwrap_or(0);
    let reader = s.engine.storage.get(&path).await?;
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(reader));
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (header::CONTENT_LENGTH, size.to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{}\"", file_name(&path))),
        ],
        body,
    )
        .into_response())
}

async fn metas(State(s): State<ApiState>, Path(id): Path<String>, RawQuery(raw): RawQuery) -> ApiResult<Json<Value>> {
    let p = Params::parse(raw.as_deref(), "GET /executions/{id}/file/metas", &["path"])?;
    let path = checked_path(&s, &id, &p).await?;
    Ok(Json(json!({"size": s.engine.storage.size(&path).await?.unwrap_or(0)})))
}

async fn preview(State(s): State<ApiState>, Path(id): Path<String>, RawQuery(raw): RawQuery) -> ApiResult<Json<Value>> {
    let p = Params::parse(raw.as_deref(), "GET /executions/{id}/file/preview", &["path", "maxRows", "encoding"])?;
    if let Some(enc) = p.get("encoding").filter(|e| !e.eq_ignore_ascii_case("utf-8")) {
        return Err(ApiError::bad_request(format!("encoding '{enc}' is not supported: Baton previews UTF-8")));
    }
    let max_rows = p.number("maxRows", 1000)?;
    let path = checked_path(&s, &id, &p).await?;
    let reader = s.engine.storage.get(&path).await?;
    let mut lines = tokio::io::BufReader::new(reader.take(PREVIEW_BYTES)).lines();
    let mut content = String::new();
    let mut rows = 0;
    let mut truncated = false;
    while let Some(line) = lines.next_line().await.map_err(|e| ApiError::unprocessable(format!("not text: {e}")))? {
        if rows == max_rows {
            truncated = true;
            break;
        }
        content.push_str(&line);
        content.push('\n');
        rows += 1;
    }
    let size = s.engine.storage.size(&path).await?.unwrap_or(0);
    let extension = file_name(&path).rsplit_once('.').map(|(_, e)| e.to_string()).unwrap_or_default();
    Ok(Json(json!({
        "extension": extension,
        "type": "TEXT",
        "content": content,
        "truncated": truncated || size > PREVIEW_BYTES,
    })))
}
