//! `GET /taskruns/search`: Kestra's task run search (paged `TaskRun`s,
//! newest first). The execution conditions are those of `GET
//! /executions/search` ([`super::search`]: namespace, flowId, labels, q,
//! startDate/endDate and timeRange on the execution); a state condition
//! (`state=`, `filters[state][…]`) selects the task runs by their own
//! state, as Kestra's does.
//!
//! Bound: the task runs of at most [`MAX_EXECUTIONS`] matching executions
//! are read; a search matching more is refused, naming the bound, so that
//! it is narrowed (a namespace, a flow, a time range) rather than answered
//! from a part.

use axum::extract::{RawQuery, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::Value;

use super::ApiState;
use super::error::{ApiError, ApiResult};
use super::query::{Params, filter_parts};
use super::search::{SEARCH_PARAMS, Search, paged};
use crate::model::StateType;

/// The most executions whose task runs one search reads.
pub const MAX_EXECUTIONS: usize = 5_000;

pub fn routes() -> Router<ApiState> {
    Router::new().route("/taskruns/search", get(search))
}

/// The state conditions, taken out of the parameters: (is-in, states).
fn state_conditions(p: &mut Params) -> ApiResult<Vec<(bool, Vec<StateType>)>> {
    let mut out = Vec::new();
    let mut rest = Vec::new();
    for (k, v) in std::mem::take(&mut p.pairs) {
        let op = if k == "state" {
            Some("IN")
        } else if k.starts_with("filters[") && filter_parts(&k).first() == Some(&"state") {
            filter_parts(&k).get(1).copied()
        } else {
            None
        };
        let Some(op) = op else {
            rest.push((k, v));
            continue;
        };
        if v.is_empty() {
            continue;
        }
        let is = match op {
            "EQUALS" | "IN" => true,
            "NOT_EQUALS" | "NOT_IN" => false,
            _ => {
                return Err(super::search::unsupported("state", op, "EQUALS, NOT_EQUALS, IN, NOT_IN"));
            }
        };
        let states = v
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| StateType::parse(s).ok_or_else(|| ApiError::bad_request(format!("unknown state '{s}'"))))
            .collect::<ApiResult<Vec<_>>>()?;
        out.push((is, states));
    }
    p.pairs = rest;
    Ok(out)
}

async fn search(State(s): State<ApiState>, RawQuery(raw): RawQuery) -> ApiResult<Json<Value>> {
    let mut p = Params::parse(raw.as_deref(), "GET /taskruns/search", SEARCH_PARAMS)?;
    let paging = p.paging()?;
    let states = state_conditions(&mut p)?;
    let search = Search::from_params(&p)?;
    let found = search.summaries(s.engine.state.as_ref()).await?;
    if found.len() > MAX_EXECUTIONS {
        return Err(ApiError::bad_request(format!(
            "the search matches {} executions: GET /taskruns/search reads the task runs of at most {MAX_EXECUTIONS}; \
             narrow it (filters[namespace], filters[flowId], filters[timeRange])",
            found.len()
        )));
    }
    let mut runs = Vec::new();
    for e in found {
        let Some(x) = s.engine.state.load_execution(&e.id).await? else { continue };
        for tr in x.task_run_list {
            if states.iter().all(|(is, set)| set.contains(&tr.state.current) == *is) {
                runs.push(tr);
            }
        }
    }
    // newest first, as the executions are
    runs.sort_by_key(|tr| std::cmp::Reverse(tr.state.start_date()));
    let total = runs.len();
    let page = paging.slice(runs).into_iter().map(|tr| serde_json::to_value(tr).unwrap_or(Value::Null)).collect();
    Ok(Json(paged(total, page)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_conditions_are_taken_out_and_the_rest_kept() {
        let mut p = Params::parse(
            Some("filters[state][IN]=FAILED,WARNING&state=SUCCESS&filters[namespace][EQUALS]=a"),
            "t",
            SEARCH_PARAMS,
        )
        .unwrap();
        let s = state_conditions(&mut p).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0], (true, vec![StateType::Failed, StateType::Warning]));
        assert_eq!(p.pairs, vec![("filters[namespace][EQUALS]".to_string(), "a".to_string())]);
        let mut p = Params::parse(Some("filters[state][REGEX]=F.*"), "t", SEARCH_PARAMS).unwrap();
        assert!(state_conditions(&mut p).unwrap_err().message.contains("REGEX"));
    }
}
