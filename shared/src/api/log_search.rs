//! `GET /logs/search`'s conditions: the older parameters (`namespace` —
//! the namespace and its children —, `flowId`, `minLevel`, `q`,
//! `startDate`/`endDate`) and Kestra's `filters[field][OPERATION]` on the
//! fields its LOG resource lists: `namespace`, `flowId`, `executionId`,
//! `level` (the minimum level), `q`, `startDate`/`endDate`, `timeRange`.
//! `triggerId` and `scope` are refused by name: Baton stores no trigger
//! logs and has no system flows to tell apart. Pure: checked on the stored
//! lines and their executions' summaries.

use chrono::{DateTime, Utc};

use super::error::{ApiError, ApiResult};
use super::query::{Params, in_namespace};
use super::search::{Text, text, unsupported};
use crate::backend::{ExecutionFilter, ExecutionSummary, LogEntry};
use crate::runtime::logs::LogLevel;

/// The parameters `GET /logs/search` takes.
pub const PARAMS: &[&str] =
    &["page", "size", "sort", "q", "namespace", "flowId", "minLevel", "startDate", "endDate", "filters["];

/// The conditions of one log search.
#[derive(Debug, Default)]
pub struct LogSearch {
    under: Option<String>,
    namespace: Vec<Text>,
    flow_id: Vec<Text>,
    execution_id: Vec<Text>,
    min: Option<LogLevel>,
    after: Option<DateTime<Utc>>,
    before: Option<DateTime<Utc>>,
    q: Option<String>,
    pub ascending: bool,
}

fn date(key: &str, v: &str) -> ApiResult<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(v)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|e| ApiError::bad_request(format!("{key} '{v}' is not an ISO-8601 date-time: {e}")))
}

fn level(key: &str, v: &str) -> ApiResult<LogLevel> {
    LogLevel::parse(v).ok_or_else(|| {
        ApiError::bad_request(format!("{key} '{v}' is not a log level (TRACE, DEBUG, INFO, WARN, ERROR)"))
    })
}

impl LogSearch {
    pub fn from_params(p: &Params) -> ApiResult<LogSearch> {
        let mut s = LogSearch { under: p.get("namespace").map(str::to_string), ..LogSearch::default() };
        if let Some(sort) = p.get("sort") {
            match sort {
                "timestamp" | "timestamp:desc" => {}
                "timestamp:asc" => s.ascending = true,
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "sort '{sort}' is not supported (timestamp:asc or timestamp:desc)"
                    )));
                }
            }
        }
        if let Some(f) = p.get("flowId") {
            s.flow_id.push(Text::Equals(f.into()));
        }
        s.min = p.get("minLevel").map(|l| level("minLevel", l)).transpose()?;
        s.after = p.get("startDate").map(|v| date("startDate", v)).transpose()?;
        s.before = p.get("endDate").map(|v| date("endDate", v)).transpose()?;
        s.q = p.get("q").map(str::to_lowercase);
        for (k, parts, v) in super::query::filters(p) {
            let (field, op) = match parts.as_slice() {
                [f, o] => (*f, *o),
                _ => return Err(ApiError::bad_request(format!("'{k}' is not written filters[field][OPERATION]"))),
            };
            match (field, op) {
                ("namespace", _) => s.namespace.push(text(field, op, v)?),
                ("flowId", _) => s.flow_id.push(text(field, op, v)?),
                ("executionId", _) => s.execution_id.push(text(field, op, v)?),
                ("level" | "minLevel", "EQUALS") => s.min = Some(level(k, v)?),
                ("level" | "minLevel", _) => return Err(unsupported(field, op, "EQUALS (the minimum level)")),
                ("q" | "query", "EQUALS") => s.q = Some(v.to_lowercase()),
                ("startDate" | "endDate", _) => {
                    let d = date(k, v)?;
                    match op {
                        "GREATER_THAN" | "GREATER_THAN_OR_EQUAL_TO" => s.after = Some(d),
                        "LESS_THAN" | "LESS_THAN_OR_EQUAL_TO" => s.before = Some(d),
                        _ => {
                            return Err(unsupported(field, op, "GREATER_THAN(_OR_EQUAL_TO), LESS_THAN(_OR_EQUAL_TO)"));
                        }
                    }
                }
                ("timeRange", "EQUALS") => {
                    let d = crate::model::duration::parse_iso(v)
                        .map_err(|e| ApiError::bad_request(format!("timeRange '{v}': {e}")))?;
                    s.after = Some(Utc::now() - d);
                }
                ("triggerId" | "scope", _) => {
                    return Err(ApiError::bad_request(format!(
                        "filters[{field}][{op}] is not supported by GET /logs/search in Baton: \
                         it keeps no trigger logs and has no system flows"
                    )));
                }
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "filters[{field}][{op}] is not supported by GET /logs/search in Baton \
                         (fields: namespace, flowId, executionId, level, q, startDate, endDate, timeRange)"
                    )));
                }
            }
        }
        Ok(s)
    }

    /// What the store can narrow itself.
    pub fn store_filter(&self) -> ExecutionFilter {
        let eq = |ts: &[Text]| {
            ts.iter().find_map(|t| match t {
                Text::Equals(x) => Some(x.clone()),
                _ => None,
            })
        };
        ExecutionFilter { namespace: eq(&self.namespace), flow_id: eq(&self.flow_id), ..ExecutionFilter::default() }
    }

    /// Whether the lines of this execution are searched.
    pub fn matches_execution(&self, e: &ExecutionSummary) -> bool {
        self.under.as_ref().is_none_or(|ns| in_namespace(&e.namespace, ns))
            && self.namespace.iter().all(|t| t.matches(&e.namespace))
            && self.flow_id.iter().all(|t| t.matches(&e.flow_id))
            && self.execution_id.iter().all(|t| t.matches(&e.id))
    }

    /// Whether a line of a searched execution is found.
    pub fn matches_line(&self, l: &LogEntry) -> bool {
        self.min.is_none_or(|m| LogLevel::parse(&l.level).unwrap_or(LogLevel::Info) >= m)
            && self.after.is_none_or(|a| l.timestamp >= a)
            && self.before.is_none_or(|b| l.timestamp <= b)
            && self.q.as_ref().is_none_or(|q| l.message.to_lowercase().contains(q))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn search(q: &str) -> ApiResult<LogSearch> {
        LogSearch::from_params(&Params::parse(Some(q), "GET /logs/search", PARAMS)?)
    }

    fn summary(ns: &str, flow: &str) -> ExecutionSummary {
        ExecutionSummary {
            id: "E1".into(),
            namespace: ns.into(),
            flow_id: flow.into(),
            state: crate::model::StateType::Success,
            start_date: None,
            end_date: None,
            labels: Vec::new(),
        }
    }

    #[test]
    fn kestras_filters_select_executions_and_lines() {
        let s = search("filters[namespace][EQUALS]=a.b&filters[level][EQUALS]=WARN").expect("parses");
        assert_eq!(s.store_filter().namespace.as_deref(), Some("a.b"));
        assert!(s.matches_execution(&summary("a.b", "f")) && !s.matches_execution(&summary("a.b.c", "f")));
        assert_eq!(s.min, Some(LogLevel::Warn));
        let s = search("namespace=a&filters[flowId][STARTS_WITH]=lo").expect("parses");
        assert!(s.matches_execution(&summary("a.x", "load")) && !s.matches_execution(&summary("a", "other")));
        let s = search("filters[executionId][EQUALS]=E2").expect("parses");
        assert!(!s.matches_execution(&summary("a", "f")));
        assert!(search("filters[timeRange][EQUALS]=PT1H").expect("parses").after.is_some());
    }

    #[test]
    fn what_baton_cannot_filter_on_is_named() {
        let e = search("filters[triggerId][EQUALS]=t").expect_err("refused");
        assert!(e.message.contains("filters[triggerId][EQUALS]"), "{}", e.message);
        let e = search("filters[level][IN]=WARN").expect_err("refused");
        assert!(e.message.contains("IN"), "{}", e.message);
        assert!(search("filters[state][EQUALS]=SUCCESS").is_err());
        assert!(search("sort=message:asc").is_err());
    }
}
