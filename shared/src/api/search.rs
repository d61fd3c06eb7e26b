//! `GET /executions/search`: Kestra's `filters[field][OPERATION]=value`
//! parameters and the older ones (`namespace`, `flowId`, `state`, `labels`,
//! `startDate`, `endDate`, `q`), paged (`page`, `size`, real `total`),
//! sorted (`sort=state.startDate:desc`), answering full executions. A
//! field or operation Baton does not filter on is refused by name.
//!
//! The store's listing narrows by namespace, flow, state and labels (an
//! indexed query in both stores); dates and the rest are checked on the
//! summaries, and only the page's executions are loaded whole. The same
//! conditions select what `DELETE /executions/by-query` and the other
//! bulk routes act on ([`Search::summaries`]).

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::error::{ApiError, ApiResult};
use super::query::{Params, label_from_str};
use crate::backend::{ExecutionFilter, ExecutionSummary, StateStore};
use crate::model::{Execution, Label, StateType};

/// The parameters `GET /executions/search` accepts.
pub const SEARCH_PARAMS: &[&str] = &[
    "page",
    "size",
    "sort",
    "namespace",
    "flowId",
    "state",
    "labels",
    "startDate",
    "endDate",
    "q",
    "timeRange",
    "filters[",
];

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Text {
    Equals(String),
    NotEquals(String),
    StartsWith(String),
    Contains(String),
    In(Vec<String>),
}

impl Text {
    pub(super) fn matches(&self, v: &str) -> bool {
        match self {
            Text::Equals(x) => v == x,
            Text::NotEquals(x) => v != x,
            Text::StartsWith(x) => v.starts_with(x.as_str()),
            Text::Contains(x) => v.to_lowercase().contains(&x.to_lowercase()),
            Text::In(xs) => xs.iter().any(|x| x == v),
        }
    }
}

/// The conditions of one search.
#[derive(Debug, Default)]
pub struct Search {
    namespace: Vec<Text>,
    flow_id: Vec<Text>,
    states: Vec<(bool, Vec<StateType>)>,
    labels: Vec<Label>,
    after: Option<DateTime<Utc>>,
    before: Option<DateTime<Utc>>,
    ended_after: Option<DateTime<Utc>>,
    ended_before: Option<DateTime<Utc>>,
    q: Option<String>,
    ascending: bool,
    sort: SortKey,
}

/// What `sort=` orders by (Kestra's field names).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum SortKey {
    #[default]
    StartDate,
    EndDate,
    Duration,
    Id,
    Namespace,
    FlowId,
    State,
}

fn states(v: &str) -> ApiResult<Vec<StateType>> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| StateType::parse(s).ok_or_else(|| ApiError::bad_request(format!("unknown state '{s}'"))))
        .collect()
}

fn date(v: &str) -> ApiResult<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(v)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|e| ApiError::bad_request(format!("'{v}' is not an ISO-8601 date-time with an offset: {e}")))
}

pub(super) fn text(field: &str, op: &str, v: &str) -> ApiResult<Text> {
    Ok(match op {
        "EQUALS" => Text::Equals(v.into()),
        "NOT_EQUALS" => Text::NotEquals(v.into()),
        "STARTS_WITH" | "PREFIX" => Text::StartsWith(v.into()),
        "CONTAINS" => Text::Contains(v.into()),
        "IN" => Text::In(v.split(',').map(|s| s.trim().to_string()).collect()),
        _ => return Err(unsupported(field, op, "EQUALS, NOT_EQUALS, STARTS_WITH, PREFIX, CONTAINS, IN")),
    })
}

pub(super) fn unsupported(field: &str, op: &str, ops: &str) -> ApiError {
    ApiError::bad_request(format!("filters[{field}][{op}] is not supported by Baton (operations on {field}: {ops})"))
}

impl Search {
    /// Reads the parameters (already checked against [`SEARCH_PARAMS`]).
    pub fn from_params(p: &Params) -> ApiResult<Search> {
        let mut s = Search::default();
        for (k, v) in &p.pairs {
            if v.is_empty() {
                continue;
            }
            match k.as_str() {
                "namespace" => s.namespace.push(Text::StartsWith(v.clone())),
                "flowId" => s.flow_id.push(Text::Equals(v.clone())),
                "state" => s.states.push((true, states(v)?)),
                "labels" => s.labels.push(label_from_str(v).map_err(ApiError::bad_request)?),
                "startDate" => s.after = Some(date(v)?),
                "endDate" => s.before = Some(date(v)?),
                "q" => s.q = Some(v.to_lowercase()),
                "timeRange" => s.after = Some(Utc::now() - parse_range(v)?),
                "sort" => s.sort(v)?,
                k if k.starts_with("filters[") => s.filter(k, v)?,
                _ => {}
            }
        }
        Ok(s)
    }

    fn sort(&mut self, v: &str) -> ApiResult<()> {
        let (field, dir) = v.split_once(':').unwrap_or((v, "desc"));
        self.ascending = match dir {
            "asc" => true,
            "desc" => false,
            _ => return Err(ApiError::bad_request(format!("sort direction '{dir}' is not asc or desc"))),
        };
        self.sort = match field {
            "state.startDate" | "startDate" => SortKey::StartDate,
            "state.endDate" | "endDate" => SortKey::EndDate,
            "state.duration" | "duration" => SortKey::Duration,
            "id" => SortKey::Id,
            "namespace" => SortKey::Namespace,
            "flowId" => SortKey::FlowId,
            "state.current" | "state" => SortKey::State,
            _ => {
                return Err(ApiError::bad_request(format!(
                    "sort on '{field}' is not supported (state.startDate, state.endDate, state.duration, id, \
                     namespace, flowId or state.current)"
                )));
            }
        };
        Ok(())
    }

    fn filter(&mut self, key: &str, v: &str) -> ApiResult<()> {
        let parts = super::query::filter_parts(key);
        let (field, op) = match parts.as_slice() {
            [f, o] | [f, o, _] => (*f, *o),
            _ => return Err(ApiError::bad_request(format!("'{key}' is not written filters[field][OPERATION]"))),
        };
        match field {
            "namespace" => self.namespace.push(text(field, op, v)?),
            "flowId" => self.flow_id.push(text(field, op, v)?),
            "state" => match op {
                "EQUALS" | "IN" => self.states.push((true, states(v)?)),
                "NOT_EQUALS" | "NOT_IN" => self.states.push((false, states(v)?)),
                _ => return Err(unsupported(field, op, "EQUALS, NOT_EQUALS, IN, NOT_IN")),
            },
            "labels" => match (op, parts.get(2)) {
                ("EQUALS", Some(k)) => self.labels.push(Label { key: k.to_string(), value: v.to_string() }),
                ("EQUALS", None) => self.labels.push(label_from_str(v).map_err(ApiError::bad_request)?),
                _ => return Err(unsupported(field, op, "EQUALS")),
            },
            "startDate" | "endDate" => {
                let d = date(v)?;
                let end = field == "endDate";
                match op {
                    "GREATER_THAN" | "GREATER_THAN_OR_EQUAL_TO" if end => self.ended_after = Some(d),
                    "GREATER_THAN" | "GREATER_THAN_OR_EQUAL_TO" => self.after = Some(d),
                    "LESS_THAN" | "LESS_THAN_OR_EQUAL_TO" if end => self.ended_before = Some(d),
                    "LESS_THAN" | "LESS_THAN_OR_EQUAL_TO" => self.before = Some(d),
                    _ => return Err(unsupported(field, op, "GREATER_THAN(_OR_EQUAL_TO), LESS_THAN(_OR_EQUAL_TO)")),
                }
            }
            "timeRange" if op == "EQUALS" => self.after = Some(Utc::now() - parse_range(v)?),
            "q" if op == "EQUALS" => self.q = Some(v.to_lowercase()),
            _ => {
                return Err(ApiError::bad_request(format!(
                    "filters[{field}][{op}] is not supported by Baton (fields: namespace, flowId, state, labels, startDate, endDate, timeRange, q)"
                )));
            }
        }
        Ok(())
    }

    fn matches_summary(&self, e: &ExecutionSummary) -> bool {
        self.namespace.iter().all(|t| t.matches(&e.namespace))
            && self.flow_id.iter().all(|t| t.matches(&e.flow_id))
            && self.states.iter().all(|(is, set)| set.contains(&e.state) == *is)
            && self.after.is_none_or(|a| e.start_date.is_some_and(|d| d >= a))
            && self.before.is_none_or(|b| e.start_date.is_some_and(|d| d <= b))
            && self.ended_after.is_none_or(|a| e.end_date.is_some_and(|d| d >= a))
            && self.ended_before.is_none_or(|b| e.end_date.is_some_and(|d| d <= b))
            && self.labels.iter().all(|l| e.labels.contains(l))
            && self.q.as_ref().is_none_or(|q| {
                e.id.to_lowercase().contains(q)
                    || e.flow_id.to_lowercase().contains(q)
                    || e.namespace.to_lowercase().contains(q)
            })
    }

    /// What the store can narrow itself.
    fn store_filter(&self) -> ExecutionFilter {
        let eq = |ts: &[Text]| {
            ts.iter().find_map(|t| match t {
                Text::Equals(x) => Some(x.clone()),
                _ => None,
            })
        };
        let state = self.states.iter().find_map(|(is, set)| (*is && set.len() == 1).then(|| set[0]));
        ExecutionFilter {
            namespace: eq(&self.namespace),
            flow_id: eq(&self.flow_id),
            state,
            labels: self.labels.clone(),
            limit: None,
        }
    }

    /// The summaries of every matching execution, sorted as asked.
    pub async fn summaries(&self, store: &dyn StateStore) -> ApiResult<Vec<ExecutionSummary>> {
        let mut found: Vec<ExecutionSummary> = store
            .list_executions(&self.store_filter())
            .await?
            .into_iter()
            .filter(|e| self.matches_summary(e))
            .collect();
        let order = |a: &ExecutionSummary, b: &ExecutionSummary| {
            match self.sort {
                SortKey::StartDate => a.start_date.cmp(&b.start_date),
                SortKey::EndDate => a.end_date.cmp(&b.end_date),
                // a running execution has no duration yet: it sorts first
                SortKey::Duration => {
                    let d = |e: &ExecutionSummary| e.start_date.zip(e.end_date).map(|(s, t)| t - s);
                    d(a).cmp(&d(b))
                }
                SortKey::Id => a.id.cmp(&b.id),
                SortKey::Namespace => a.namespace.cmp(&b.namespace).then_with(|| a.flow_id.cmp(&b.flow_id)),
                SortKey::FlowId => a.flow_id.cmp(&b.flow_id).then_with(|| a.namespace.cmp(&b.namespace)),
                SortKey::State => a.state.as_str().cmp(b.state.as_str()),
            }
            // ties: newest first, stable across pages
            .then_with(|| b.start_date.cmp(&a.start_date))
            .then_with(|| a.id.cmp(&b.id))
        };
        found.sort_by(|a, b| if self.ascending { order(a, b) } else { order(b, a) });
        Ok(found)
    }

    /// Runs the search: (total, the page's full executions).
    pub async fn run(&self, store: &dyn StateStore, page: usize, size: usize) -> ApiResult<(usize, Vec<Execution>)> {
        let found = self.summaries(store).await?;
        let total = found.len();
        let skip = (page - 1).saturating_mul(size);
        let mut out = Vec::new();
        for e in found.into_iter().skip(skip).take(size) {
            if let Some(x) = store.load_execution(&e.id).await? {
                out.push(x);
            }
        }
        Ok((total, out))
    }
}

/// `PT24H`, `P7D`…
fn parse_range(v: &str) -> ApiResult<chrono::Duration> {
    crate::model::duration::parse_iso(v).map_err(|e| ApiError::bad_request(format!("timeRange '{v}': {e}")))
}

/// Kestra's `PagedResults`.
pub fn paged(total: usize, results: Vec<Value>) -> Value {
    json!({"results": results, "total": total})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn search(q: &str) -> ApiResult<Search> {
        Search::from_params(&Params::parse(Some(q), "test", SEARCH_PARAMS)?)
    }

    #[test]
    fn kestra_filters_and_older_parameters() {
        let s = search(
            "filters[namespace][EQUALS]=a.b&filters[state][IN]=SUCCESS,FAILED&filters[labels][EQUALS][env]=prod",
        )
        .unwrap();
        assert_eq!(s.store_filter().namespace.as_deref(), Some("a.b"));
        assert_eq!(s.states[0].1.len(), 2);
        assert_eq!(s.labels[0], Label { key: "env".into(), value: "prod".into() });
        assert_eq!(s.store_filter().labels, s.labels, "the store filters on the labels");
        let s = search("namespace=a&state=RUNNING&labels=k:v&sort=state.endDate:asc").unwrap();
        assert!(s.ascending && s.sort == SortKey::EndDate);
        assert_eq!(s.store_filter().state, Some(StateType::Running));
    }

    #[test]
    fn unsupported_filters_are_named() {
        let e = search("filters[taskId][EQUALS]=x").unwrap_err();
        assert!(e.message.contains("filters[taskId][EQUALS]"), "{}", e.message);
        let e = search("filters[state][REGEX]=S.*").unwrap_err();
        assert!(e.message.contains("REGEX"), "{}", e.message);
        assert!(search("state=NOPE").is_err());
    }
}
