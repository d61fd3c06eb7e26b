//! `GET /stats/executions/daily`: what the home page charts — per day
//! (UTC), how many executions started in each state, and their durations
//! (`count`, `min`, `max`, `avg`, `sum` in milliseconds, ended ones only).
//! It takes the executions search's filters ([`super::search`]:
//! `namespace`, `flowId`, `state`, `labels`, `filters[…]`) and `days` (the
//! last N days up to today, 1 to [`MAX_DAYS`], 30 by default). Only the
//! summaries are read, never whole executions. Kestra's own statistics
//! route is a POST in its enterprise dashboards; this one is Baton's.

use std::collections::BTreeMap;

use axum::extract::{RawQuery, State};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{Duration, NaiveDate, Utc};
use serde_json::{Map, Value, json};

use super::ApiState;
use super::error::{ApiError, ApiResult};
use super::query::Params;
use super::search::{SEARCH_PARAMS, Search};
use crate::backend::ExecutionSummary;

/// The longest span one request covers, in days.
pub const MAX_DAYS: usize = 366;

pub fn routes() -> Router<ApiState> {
    Router::new().route("/stats/executions/daily", get(daily))
}

/// The per-day buckets of `found` for the `days` days ending `today`.
pub fn buckets(found: &[ExecutionSummary], today: NaiveDate, days: usize) -> Vec<Value> {
    let first = today - Duration::days(i64::try_from(days).unwrap_or(1) - 1);
    let mut per_day: BTreeMap<NaiveDate, (Map<String, Value>, Vec<i64>)> = BTreeMap::new();
    for d in first.iter_days().take(days) {
        per_day.insert(d, Default::default());
    }
    for e in found {
        let Some(start) = e.start_date else { continue };
        let Some((counts, durations)) = per_day.get_mut(&start.date_naive()) else { continue };
        let n = counts.get(e.state.as_str()).and_then(Value::as_u64).unwrap_or(0);
        counts.insert(e.state.as_str().to_string(), json!(n + 1));
        if let Some(end) = e.end_date {
            durations.push((end - start).num_milliseconds().max(0));
        }
    }
    per_day
        .into_iter()
        .map(|(day, (counts, d))| {
            let sum: i64 = d.iter().sum();
            let count = d.len();
            let avg = if count == 0 { 0 } else { sum / i64::try_from(count).unwrap_or(1) };
            json!({
                "startDate": day.to_string(),
                "executionCounts": counts,
                "duration": {"count": count, "sum": sum, "avg": avg,
                    "min": d.iter().min().copied().unwrap_or(0), "max": d.iter().max().copied().unwrap_or(0)},
            })
        })
        .collect()
}

async fn daily(State(s): State<ApiState>, RawQuery(raw): RawQuery) -> ApiResult<Json<Value>> {
    let supported: Vec<&str> =
        SEARCH_PARAMS.iter().copied().filter(|p| !["page", "size", "sort"].contains(p)).chain(["days"]).collect();
    let p = Params::parse(raw.as_deref(), "GET /stats/executions/daily", &supported)?;
    let days = p.number("days", 30)?;
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(ApiError::bad_request(format!("days={days}: between 1 and {MAX_DAYS}")));
    }
    let found = Search::from_params(&p)?.summaries(s.engine.state.as_ref()).await?;
    Ok(Json(Value::Array(buckets(&found, Utc::now().date_naive(), days))))
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, TimeZone};

    use super::*;
    use crate::model::StateType;

    fn summary(state: StateType, start: DateTime<Utc>, ms: Option<i64>) -> ExecutionSummary {
        ExecutionSummary {
            id: "x".into(),
            namespace: "n".into(),
            flow_id: "f".into(),
            state,
            start_date: Some(start),
            end_date: ms.map(|m| start + Duration::milliseconds(m)),
            labels: vec![],
        }
    }

    #[test]
    fn each_day_counts_its_states_and_durations_and_empty_days_are_listed() {
        let day = |d: u32, h: u32| Utc.with_ymd_and_hms(2026, 3, d, h, 0, 0).single().expect("date");
        let found = [
            summary(StateType::Success, day(9, 1), Some(1000)),
            summary(StateType::Success, day(9, 23), Some(3000)),
            summary(StateType::Failed, day(9, 5), Some(2000)),
            summary(StateType::Running, day(10, 5), None),
            summary(StateType::Success, day(1, 5), Some(1)), // before the span
        ];
        let out = buckets(&found, day(10, 0).date_naive(), 3);
        assert_eq!(out.len(), 3);
        assert_eq!(out[0]["startDate"], "2026-03-08");
        assert_eq!(out[0]["executionCounts"], json!({}));
        assert_eq!(out[1]["executionCounts"], json!({"SUCCESS": 2, "FAILED": 1}));
        assert_eq!(out[1]["duration"], json!({"count": 3, "sum": 6000, "avg": 2000, "min": 1000, "max": 3000}));
        assert_eq!(out[2]["executionCounts"], json!({"RUNNING": 1}));
        assert_eq!(out[2]["duration"]["count"], 0, "a running execution has no duration yet");
    }
}
