//! Kestra's metric routes (its `MetricController`), over the engine's
//! [`crate::backend::metrics::MetricStore`]:
//!
//! - `GET /metrics/{executionId}`: the execution's metrics (Kestra's
//!   `MetricEntry`), paged (`page`, `size`, `sort=field:asc|desc`), narrowed
//!   by `taskId` or else `taskRunId`: `{results, total}`;
//! - `GET /metrics/names/{namespace}/{flowId}` and
//!   `…/names/{namespace}/{flowId}/{taskId}`: the metric names of a flow,
//!   of one of its tasks;
//! - `GET /metrics/tasks/{namespace}/{flowId}`: the tasks that have metrics
//!   (deleted or renamed ones included);
//! - `GET /metrics/aggregates/{namespace}/{flowId}/{metric}` and
//!   `…/{flowId}/{taskId}/{metric}`: one metric aggregated (`aggregation`
//!   `sum` by default, `avg`, `min`, `max`) between `startDate` (30 days
//!   ago by default) and `endDate` (now), grouped per minute, hour, day,
//!   week or month by the range's length: `{groupBy, aggregations: [{name,
//!   value, date}]}`.
//!
//! Names and tasks come from a flow's newest 50,000 metrics; a listing or
//! an aggregation past that bound is refused with a message naming it.

use axum::extract::{Path, RawQuery, State};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use serde_json::{Value, json};

use super::ApiState;
use super::error::{ApiError, ApiResult};
use super::query::Params;
use super::search::paged;
use crate::backend::metrics::{FlowMetricQuery, MetricEntry};
use crate::backend::metrics_query::{self, AggregationKind};

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/metrics/{execution_id}", get(by_execution))
        .route("/metrics/names/{namespace}/{flow_id}", get(flow_names))
        .route("/metrics/names/{namespace}/{flow_id}/{task_id}", get(task_names))
        .route("/metrics/tasks/{namespace}/{flow_id}", get(tasks))
        .route("/metrics/aggregates/{namespace}/{flow_id}/{metric}", get(aggregate_flow))
        .route("/metrics/aggregates/{namespace}/{flow_id}/{task_id}/{metric}", get(aggregate_task))
}

/// A metric as Kestra's API writes it (with `deleted`).
pub fn metric_json(m: &MetricEntry) -> Value {
    let mut v = serde_json::to_value(m).unwrap_or(Value::Null);
    v["deleted"] = Value::Bool(false);
    v
}

async fn by_execution(
    State(s): State<ApiState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let p =
        Params::parse(raw.as_deref(), "GET /metrics/{executionId}", &["page", "size", "sort", "taskRunId", "taskId"])?;
    let paging = p.paging()?;
    let store = s.engine.state.metrics();
    let (page, total) = metrics_query::execution_page(
        store,
        &id,
        p.get("taskId"),
        p.get("taskRunId"),
        p.get("sort"),
        paging.page,
        paging.size,
    )
    .await
    .map_err(|e| match e {
        crate::backend::BackendError::Invalid(m) => ApiError::bad_request(m),
        e => e.into(),
    })?;
    Ok(Json(paged(total, page.iter().map(metric_json).collect())))
}

async fn flow_names(
    State(s): State<ApiState>,
    Path((namespace, flow_id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Vec<String>>> {
    Params::parse(raw.as_deref(), "GET /metrics/names/{namespace}/{flowId}", &[])?;
    Ok(Json(metrics_query::names(s.engine.state.metrics(), &namespace, &flow_id, None).await?))
}

async fn task_names(
    State(s): State<ApiState>,
    Path((namespace, flow_id, task_id)): Path<(String, String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Vec<String>>> {
    Params::parse(raw.as_deref(), "GET /metrics/names/{namespace}/{flowId}/{taskId}", &[])?;
    Ok(Json(metrics_query::names(s.engine.state.metrics(), &namespace, &flow_id, Some(&task_id)).await?))
}

async fn tasks(
    State(s): State<ApiState>,
    Path((namespace, flow_id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Vec<String>>> {
    Params::parse(raw.as_deref(), "GET /metrics/tasks/{namespace}/{flowId}", &[])?;
    Ok(Json(metrics_query::tasks(s.engine.state.metrics(), &namespace, &flow_id).await?))
}

async fn aggregate_flow(
    State(s): State<ApiState>,
    Path((namespace, flow_id, metric)): Path<(String, String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let route = "GET /metrics/aggregates/{namespace}/{flowId}/{metric}";
    aggregate(&s, namespace, flow_id, None, metric, raw.as_deref(), route).await
}

async fn aggregate_task(
    State(s): State<ApiState>,
    Path((namespace, flow_id, task_id, metric)): Path<(String, String, String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let route = "GET /metrics/aggregates/{namespace}/{flowId}/{taskId}/{metric}";
    aggregate(&s, namespace, flow_id, Some(task_id), metric, raw.as_deref(), route).await
}

async fn aggregate(
    s: &ApiState,
    namespace: String,
    flow_id: String,
    task_id: Option<String>,
    metric: String,
    raw: Option<&str>,
    route: &str,
) -> ApiResult<Json<Value>> {
    let p = Params::parse(raw, route, &["startDate", "endDate", "aggregation"])?;
    let now = Utc::now();
    let start = p.get("startDate").map(|v| date("startDate", v)).transpose()?;
    let end = p.get("endDate").map(|v| date("endDate", v)).transpose()?;
    if let (Some(a), Some(b)) = (start, end)
        && a > b
    {
        return Err(ApiError::bad_request("Start date must be before End Date"));
    }
    let aggregation = p.get("aggregation").unwrap_or("sum");
    let kind = AggregationKind::parse(aggregation)
        .ok_or_else(|| ApiError::bad_request(format!("Invalid aggregation: {aggregation} (avg, sum, min or max)")))?;
    let query = FlowMetricQuery {
        namespace,
        flow_id,
        task_id,
        name: Some(metric),
        from: Some(start.unwrap_or(now - Duration::days(30))),
        to: Some(end.unwrap_or(now)),
    };
    let out = metrics_query::aggregate(s.engine.state.metrics(), &query, kind).await.map_err(|e| match e {
        crate::backend::BackendError::Invalid(m) => ApiError::bad_request(m),
        e => e.into(),
    })?;
    Ok(Json(json!(out)))
}

/// Kestra's `yyyy-MM-dd'T'HH:mm[:ss][.SSS][XXX]` (no offset: UTC).
fn date(key: &str, v: &str) -> ApiResult<DateTime<Utc>> {
    if let Ok(d) = DateTime::parse_from_rfc3339(v) {
        return Ok(d.with_timezone(&Utc));
    }
    for f in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(d) = NaiveDateTime::parse_from_str(v, f) {
            return Ok(d.and_utc());
        }
    }
    Err(ApiError::bad_request(format!("{key} '{v}' is not a date-time (yyyy-MM-ddTHH:mm[:ss][.SSS][XXX])")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kestra_date_forms() {
        let want = DateTime::parse_from_rfc3339("2026-11-24T10:30:00Z").expect("date").with_timezone(&Utc);
        for v in ["2026-11-24T10:30", "2026-11-24T10:30:00", "2026-11-24T10:30:00.000", "2026-11-24T11:30:00+01:00"] {
            assert_eq!(date("startDate", v).expect(v), want, "{v}");
        }
        let err = date("endDate", "yesterday").expect_err("not a date");
        assert!(err.message.contains("endDate 'yesterday'"), "{}", err.message);
    }
}
