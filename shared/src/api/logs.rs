//! Log routes: `GET /logs/{executionId}` (`minLevel`, `taskId`,
//! `taskRunId`, `attempt`; Kestra's `LogEntry` list), `GET
//! /logs/{executionId}/download` (text/plain, with the attempts' log
//! files streamed after the stored lines), `GET
//! /logs/{executionId}/follow` (server-sent events, [`super::sse`]) and
//! `GET /logs/search` (paged, newest first; the older parameters and
//! Kestra's `filters[…]`, [`super::log_search`]).
//!
//! The search reads the logs of each matching execution: its cost grows
//! with the executions of the namespace or flow searched.

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures::StreamExt;
use serde_json::Value;

use super::ApiState;
use super::error::ApiResult;
use super::query::Params;
use super::search::paged;
use crate::backend::{LogEntry, storage_path};
use crate::runtime::attempt_logs::text_line;
use crate::runtime::logs::{LogQuery, execution_logs, kestra_json};

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

/// The stored lines as text, then each attempt's log file (its lines past
/// the log volume bound, or all of them with `logToFile`) streamed from
/// internal storage under a header naming it; `taskId`, `taskRunId` and
/// `attempt` choose the files as they choose the lines (`minLevel` applies
/// to the stored lines only).
async fn download(State(s): State<ApiState>, Path(id): Path<String>, RawQuery(raw): RawQuery) -> ApiResult<Response> {
    let route = "GET /logs/{executionId}/download";
    let logs = lines(&s, &id, raw.as_deref(), route).await?;
    let query = LogQuery::from_pairs(Params::parse(raw.as_deref(), route, BY_EXECUTION)?.pairs)?;
    let text: String = logs.iter().map(text_line).collect();
    let mut files = Vec::new();
    if let Some(e) = s.engine.state.load_execution(&id).await? {
        for tr in &e.task_run_list {
            for (i, a) in tr.attempts.iter().enumerate() {
                let Some(uri) = &a.log_file else { continue };
                let number = i as u32 + 1;
                let chosen = match (&query.task_id, &query.task_run_id) {
                    (Some(t), _) => t == &tr.task_id,
                    (None, Some(r)) => r == &tr.id && query.attempt.is_none_or(|n| n == number),
                    (None, None) => true,
                };
                if chosen {
                    files.push((format!("--- [{}] attempt {number}: {uri}\n", tr.task_id), uri.clone()));
                }
            }
        }
    }
    let storage = s.engine.storage.clone();
    let parts = futures::stream::iter(files).then(move |(header, uri)| {
        let storage = storage.clone();
        async move {
            let head = futures::stream::once(async move { Ok(bytes::Bytes::from(header)) });
            let body = match storage_path(&uri) {
                Ok(path) => match storage.get(&path).await {
                    Ok(reader) => tokio_util::io::ReaderStream::new(reader).boxed(),
                    Err(e) => futures::stream::once(async move { Ok(bytes::Bytes::from(format!("({e})\n"))) }).boxed(),
                },
                Err(e) => futures::stream::once(async move { Ok(bytes::Bytes::from(format!("({e})\n"))) }).boxed(),
            };
            head.chain(body)
        }
    });
    let first = futures::stream::once(async move { Ok::<_, std::io::Error>(bytes::Bytes::from(text)) });
    let body = Body::from_stream(first.chain(parts.flatten()));
    Ok((
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{id}.log\"")),
        ],
        body,
    )
        .into_response())
}

async fn search_logs(State(s): State<ApiState>, RawQuery(raw): RawQuery) -> ApiResult<Json<Value>> {
    let p = Params::parse(raw.as_deref(), "GET /logs/search", super::log_search::PARAMS)?;
    let paging = p.paging()?;
    let search = super::log_search::LogSearch::from_params(&p)?;
    s.engine.logs.flush().await;
    let mut found = Vec::new();
    for e in s.engine.state.list_executions(&search.store_filter()).await? {
        if search.matches_execution(&e) {
            found.extend(s.engine.state.logs(&e.id).await?.into_iter().filter(|l| search.matches_line(l)));
        }
    }
    let asc = search.ascending;
    found.sort_by(|a, b| if asc { a.timestamp.cmp(&b.timestamp) } else { b.timestamp.cmp(&a.timestamp) });
    let total = found.len();
    let mut page = paged(total, paging.slice(found).iter().map(log_json).collect());
    // Kestra 2.0's `CursorOrOffsetPagedResults`: this is an offset page
    page["type"] = Value::String("OFFSET".into());
    Ok(Json(page))
}
