//! What Kestra's metric API answers, computed from [`MetricStore`] reads,
//! once for every store: an execution's metrics filtered, sorted and paged;
//! the distinct names and task ids of a flow's metrics; a flow's metric
//! aggregated (`sum`, `avg`, `min`, `max`) per minute, hour, day, week or
//! month as Kestra groups them (by the length of the range), every bucket
//! of the range present (0 when empty).

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Duration, TimeZone, Timelike, Utc};
use serde::Serialize;

use super::metrics::{FlowMetricQuery, MAX_READ, MetricEntry, MetricStore};
use super::{BackendError, Result};

/// Buckets an aggregation returns at most (a range of minutes over a week
/// would be 10,080 of them; Kestra's grouping never gives more than ~366).
pub const MAX_BUCKETS: usize = 2_000;

/// An execution's metrics, narrowed to a task or a task run, sorted by
/// `sort` (`field` or `field:asc|desc`; Kestra's sortable fields) and paged
/// (`page` from 1); with the total before paging.
pub async fn execution_page(
    store: &dyn MetricStore,
    execution_id: &str,
    task_id: Option<&str>,
    task_run_id: Option<&str>,
    sort: Option<&str>,
    page: usize,
    size: usize,
) -> Result<(Vec<MetricEntry>, usize)> {
    let read = store.execution_metrics(execution_id).await?;
    if read.truncated {
        return Err(BackendError::Invalid(format!(
            "execution {execution_id} has more than {MAX_READ} metrics, the most a metrics listing reads"
        )));
    }
    let mut all: Vec<MetricEntry> = read
        .entries
        .into_iter()
        .filter(|m| match (task_id, task_run_id) {
            (Some(t), _) => m.task_id.as_deref() == Some(t),
            (None, Some(tr)) => m.task_run_id.as_deref() == Some(tr),
            (None, None) => true,
        })
        .collect();
    if let Some(sort) = sort.filter(|s| !s.is_empty()) {
        let (field, dir) = sort.split_once(':').unwrap_or((sort, "asc"));
        let key = sort_key(field)
            .ok_or_else(|| BackendError::Invalid(format!("cannot sort metrics by '{field}': unknown field")))?;
        all.sort_by(key);
        if dir.eq_ignore_ascii_case("desc") {
            all.reverse();
        }
    }
    let total = all.len();
    let from = page.saturating_sub(1).saturating_mul(size).min(total);
    let to = from.saturating_add(size).min(total);
    Ok((all[from..to].to_vec(), total))
}

type Cmp = fn(&MetricEntry, &MetricEntry) -> std::cmp::Ordering;

/// Kestra's `sortMapping` fields.
fn sort_key(field: &str) -> Option<Cmp> {
    Some(match field {
        "namespace" => |a, b| a.namespace.cmp(&b.namespace),
        "flowId" => |a, b| a.flow_id.cmp(&b.flow_id),
        "taskId" => |a, b| a.task_id.cmp(&b.task_id),
        "executionId" => |a, b| a.execution_id.cmp(&b.execution_id),
        "taskrunId" | "taskRunId" => |a, b| a.task_run_id.cmp(&b.task_run_id),
        "name" => |a, b| a.name.cmp(&b.name),
        "timestamp" => |a, b| a.timestamp.cmp(&b.timestamp),
        "value" => |a, b| a.value.total_cmp(&b.value),
        _ => return None,
    })
}

/// The distinct metric names of a flow (of one task when `task_id`), sorted,
/// among its newest [`MAX_READ`] metrics.
pub async fn names(
    store: &dyn MetricStore,
    namespace: &str,
    flow_id: &str,
    task_id: Option<&str>,
) -> Result<Vec<String>> {
    let q = FlowMetricQuery {
        namespace: namespace.into(),
        flow_id: flow_id.into(),
        task_id: task_id.map(str::to_string),
        ..FlowMetricQuery::default()
    };
    let read = store.flow_metrics(&q).await?;
    Ok(read.entries.into_iter().map(|m| m.name).collect::<BTreeSet<_>>().into_iter().collect())
}

/// The distinct ids of the tasks with metrics in a flow, sorted, among its
/// newest [`MAX_READ`] metrics.
pub async fn tasks(store: &dyn MetricStore, namespace: &str, flow_id: &str) -> Result<Vec<String>> {
    let q = FlowMetricQuery { namespace: namespace.into(), flow_id: flow_id.into(), ..FlowMetricQuery::default() };
    let read = store.flow_metrics(&q).await?;
    Ok(read.entries.into_iter().filter_map(|m| m.task_id).collect::<BTreeSet<_>>().into_iter().collect())
}

/// Kestra's `MetricAggregations`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Aggregations {
    pub group_by: String,
    pub aggregations: Vec<Aggregation>,
}

/// One bucket: the metric's name (absent for an empty bucket), the
/// aggregated value, the bucket's start.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Aggregation {
    pub name: Option<String>,
    pub value: f64,
    pub date: DateTime<Utc>,
}

/// Kestra's grouping for a range: month past 365 days, week past 180,
/// day past 1, hour past 6 hours, minute below.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    Month,
    Week,
    Day,
    Hour,
    Minute,
}

impl GroupBy {
    pub fn of(range: Duration) -> GroupBy {
        if range.num_days() > 365 {
            GroupBy::Month
        } else if range.num_days() > 180 {
            GroupBy::Week
        } else if range.num_days() > 1 {
            GroupBy::Day
        } else if range.num_hours() > 6 {
            GroupBy::Hour
        } else {
            GroupBy::Minute
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            GroupBy::Month => "month",
            GroupBy::Week => "week",
            GroupBy::Day => "day",
            GroupBy::Hour => "hour",
            GroupBy::Minute => "minute",
        }
    }

    /// The start of the bucket holding `t` (UTC).
    pub fn truncate(self, t: DateTime<Utc>) -> DateTime<Utc> {
        let day = Utc.with_ymd_and_hms(t.year(), t.month(), t.day(), 0, 0, 0).single().unwrap_or(t);
        match self {
            GroupBy::Minute => day + Duration::minutes(i64::from(t.hour() * 60 + t.minute())),
            GroupBy::Hour => day + Duration::hours(i64::from(t.hour())),
            GroupBy::Day => day,
            GroupBy::Week => day - Duration::days(i64::from(t.weekday().num_days_from_monday())),
            GroupBy::Month => Utc.with_ymd_and_hms(t.year(), t.month(), 1, 0, 0, 0).single().unwrap_or(day),
        }
    }

    fn next(self, t: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            GroupBy::Minute => t + Duration::minutes(1),
            GroupBy::Hour => t + Duration::hours(1),
            GroupBy::Day => t + Duration::days(1),
            GroupBy::Week => t + Duration::weeks(1),
            GroupBy::Month => t.checked_add_months(chrono::Months::new(1)).unwrap_or(t + Duration::days(31)),
        }
    }
}

/// Kestra's aggregation functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggregationKind {
    Sum,
    Avg,
    Min,
    Max,
}

impl AggregationKind {
    pub fn parse(s: &str) -> Option<AggregationKind> {
        match s {
            "sum" => Some(AggregationKind::Sum),
            "avg" => Some(AggregationKind::Avg),
            "min" => Some(AggregationKind::Min),
            "max" => Some(AggregationKind::Max),
            _ => None,
        }
    }

    fn apply(self, values: &[f64]) -> f64 {
        match self {
            AggregationKind::Sum => values.iter().sum(),
            AggregationKind::Avg => values.iter().sum::<f64>() / values.len().max(1) as f64,
            AggregationKind::Min => values.iter().copied().fold(f64::INFINITY, f64::min),
            AggregationKind::Max => values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        }
    }
}

/// Metric `query.name` of a flow (of one task when `query.task_id`)
/// between `query.from` and `query.to` (both required), aggregated per
/// bucket. A range with more than [`MAX_READ`] metrics, or more than
/// [`MAX_BUCKETS`] buckets, is an error naming the bound.
pub async fn aggregate(
    store: &dyn MetricStore,
    query: &FlowMetricQuery,
    kind: AggregationKind,
) -> Result<Aggregations> {
    let (Some(from), Some(to)) = (query.from, query.to) else {
        return Err(BackendError::Invalid("an aggregation needs a start and an end date".into()));
    };
    let group = GroupBy::of(to - from);
    let read = store.flow_metrics(query).await?;
    if read.truncated {
        return Err(BackendError::Invalid(format!(
            "flow {}.{} has more than {MAX_READ} metrics '{}' in this range, the most an aggregation reads: \
             narrow the range",
            query.namespace,
            query.flow_id,
            query.name.as_deref().unwrap_or("")
        )));
    }
    let mut buckets: Vec<(DateTime<Utc>, Vec<f64>)> = Vec::new();
    let mut at = group.truncate(from);
    while at < to {
        if buckets.len() == MAX_BUCKETS {
            return Err(BackendError::Invalid(format!(
                "an aggregation has at most {MAX_BUCKETS} {}s: narrow the range",
                group.as_str()
            )));
        }
        buckets.push((at, Vec::new()));
        at = group.next(at);
    }
    for m in read.entries.iter().filter(|m| query.matches(m)) {
        let b = group.truncate(m.timestamp);
        if let Some((_, values)) = buckets.iter_mut().find(|(d, _)| *d == b) {
            values.push(m.value);
        }
    }
    let name = query.name.clone();
    Ok(Aggregations {
        group_by: group.as_str().to_string(),
        aggregations: buckets
            .into_iter()
            .map(|(date, values)| Aggregation {
                name: (!values.is_empty()).then(|| name.clone()).flatten(),
                value: if values.is_empty() { 0.0 } else { kind.apply(&values) },
                date,
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).expect("date").with_timezone(&Utc)
    }

    #[test]
    fn grouping_follows_kestra_thresholds() {
        assert_eq!(GroupBy::of(Duration::days(30)), GroupBy::Day);
        assert_eq!(GroupBy::of(Duration::days(400)), GroupBy::Month);
        assert_eq!(GroupBy::of(Duration::days(200)), GroupBy::Week);
        assert_eq!(GroupBy::of(Duration::hours(12)), GroupBy::Hour);
        assert_eq!(GroupBy::of(Duration::hours(2)), GroupBy::Minute);
        assert_eq!(GroupBy::Week.truncate(at("2026-11-26T10:11:12Z")), at("2026-11-23T00:00:00Z"));
        assert_eq!(GroupBy::Month.truncate(at("2026-11-26T10:11:12Z")), at("2026-11-01T00:00:00Z"));
        assert_eq!(GroupBy::Minute.truncate(at("2026-11-26T10:11:12Z")), at("2026-11-26T10:11:00Z"));
    }

    #[test]
    fn aggregations_apply() {
        let v = [1.0, 4.0, 7.0];
        assert_eq!(AggregationKind::Sum.apply(&v), 12.0);
        assert_eq!(AggregationKind::Avg.apply(&v), 4.0);
        assert_eq!(AggregationKind::Min.apply(&v), 1.0);
        assert_eq!(AggregationKind::Max.apply(&v), 7.0);
        assert_eq!(AggregationKind::parse("median"), None);
    }
}
