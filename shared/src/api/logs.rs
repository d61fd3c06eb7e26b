//! Log routes: `GET /logs/{executionId}` (`minLevel`, `taskId`,
//! `taskRunId`, `attempt`; Kestra's `LogEntry` list), `GET
//! /logs/{executionId}/download` (text/plain), `GET
//! /logs/{executionId}/follow` (server-sent events, [`super::sse`]) and
//! `GET /logs/search` (paged, newest first; `namespace` prefix, `flowId`,
//! `minLevel`, `q` in the message, `startDate`/`endDate`).
//!
//! The search reads the logs of each matching execution: its cost grows
//! with the executions of the namespace or flow searched.

use axum::extract::{Path, RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::ApiState;
use super::error::{ApiError, ApiResult};
use super::query::Params;
use super::search::paged;
use crate::backend::{ExecutionFilter, LogEntry};
use crate::runtime::logs::{LogLevel, LogQuery, execution_logs, kestra_json};

/// A log line as Kestra's API writes it: [`kestra_json`] with the fields
/// Kestra always adds (`thread`, `deleted`).
pub fn log_json(l: &LogEntry) -> Value {
    let mut v = kestra_json(l);
    v["thread"] = Value::String(l.task_id.as_deref().map_or("executor", |_| "worker").to_string());
    v["deleted"] = Value::Bool(false);
    v
}

const BY_EXECUTION: &[&str] = &["minLevel", "taskId", "taskRunId", "attempt"];

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/logs/search", get(search_logs))
        .route("/logs/{id}", get(execution_log))
        .route("/logs/{id}/download", get(download))
        .route("/logs/{id}/follow", get(super::sse::follow_logs))
}

async fn lines(s: &ApiState, id: &str, raw: Option<&str>, route: &str) -> ApiResult<Vec<LogEntry>> {
    let p = Params::parse(raw, route, BY_EXECUTION)?;
    let query = LogQuery::from_pairs(p.pairs)?;
    s.engine.logs.flush().await;
    Ok(execution_logs(s.engine.state.as_ref(), id, &query).await?)
}

async fn execution_log(
    State(s): State<ApiState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let logs = lines(&s, &id, raw.as_deref(), "GET /logs/{executionId}").await?;
    Ok(Json(Value::Array(logs.iter().map(log_json).collect())))
}

async fn download(State(s): State<ApiState>, Path(id): Path<String>, RawQuery(raw): RawQuery) -> ApiResult<Response> {
    let logs = lines(&s, &id, raw.as_deref(), "GET /logs/{executionId}/download").await?;
    let mut text = String::new();
    for l in &logs {
        let task = l.task_id.as_deref().map(|t| format!(" [{t}]")).unwrap_or_default();
        text.push_str(&format!("{} {}{task} {}\n", l.timestamp.to_rfc3339(), l.level, l.message));
    }
    Ok((
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{id}.log\"")),
        ],
        text,
    )
        .into_response())
}

fn date(key: &str, v: &str) -> ApiResult<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(v)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|e| ApiError::bad_request(format!("{key} '{v}' is not an ISO-8601 date-time: {e}")))
}

async fn search_logs(State(s): State<ApiState>, RawQuery(raw): RawQuery) -> ApiResult<Json<Value>> {
    let p = Params::parse(
        raw.as_deref(),
        "GET /logs/search",
        &["page", "size", "sort", "q", "namespace", "flowId", "minLevel", "startDate", "endDate"],
    )?;
    let paging = p.paging()?;
    if let Some(sort) = p.get("sort").filter(|s| !s.starts_with("timestamp")) {
        return Err(ApiError::bad_request(format!("sort '{sort}' is not supported (timestamp:asc or timestamp:desc)")));
    }
    let ascending = p.get("sort").is_some_and(|s| s.ends_with(":asc"));
    let min = match p.get("minLevel") {
        None => None,
        Some(l) => Some(LogLevel::parse(l).ok_or_else(|| {
            ApiError::bad_request(format!("minLevel '{l}' is not a log level (TRACE, DEBUG, INFO, WARN, ERROR)"))
        })?),
    };
    let after = p.get("startDate").map(|v| date("startDate", v)).transpose()?;
    let before = p.get("endDate").map(|v| date("endDate", v)).transpose()?;
    let q = p.get("q").map(str::to_lowercase);
    let namespace = p.get("namespace");
    let filter = ExecutionFilter { flow_id: p.get("flowId").map(String::from), ..ExecutionFilter::default() };
    s.engine.logs.flush().await;
    let mut found = Vec::new();
    for e in s.engine.state.list_executions(&filter).await? {
        if namespace.is_some_and(|ns| !super::query::in_namespace(&e.namespace, ns)) {
            continue;
        }
        found.extend(s.engine.state.logs(&e.id).await?.into_iter().filter(|l| {
            min.is_none_or(|m| LogLevel::parse(&l.level).unwrap_or(LogLevel::Info) >= m)
                && after.is_none_or(|a| l.timestamp >= a)
                && before.is_none_or(|b| l.timestamp <= b)
                && q.as_ref().is_none_or(|q| l.message.to_lowercase().contains(q))
        }));
    }
    found.sort_by(|a, b| if ascending { a.timestamp.cmp(&b.timestamp) } else { b.timestamp.cmp(&a.timestamp) });
    let total = found.len();
    Ok(Json(paged(total, paging.slice(found).iter().map(log_json).collect())))
}
