//! The [`MetricStore`] contract suite, run by every store (SQLite in its
//! unit tests, Firestore against its emulator in the e2e tests): an
//! attempt's metrics replace what that attempt stored before, an
//! execution's come back oldest first with every field intact, a flow's
//! newest first narrowed by task, name and time range, deletion removes an
//! execution's only. Safe on a shared store: every namespace is fresh.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};

use super::metrics::{FlowMetricQuery, MetricEntry, MetricStore, MetricType};
use super::metrics_query::{self, AggregationKind};

fn now_ms() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now)
}

#[allow(clippy::too_many_arguments)]
fn metric(
    ns: &str,
    flow: &str,
    exec: &str,
    task: &str,
    tr: &str,
    kind: MetricType,
    name: &str,
    value: f64,
    at: DateTime<Utc>,
) -> MetricEntry {
    MetricEntry {
        namespace: ns.into(),
        flow_id: flow.into(),
        task_id: Some(task.into()),
        execution_id: Some(exec.into()),
        task_run_id: Some(tr.into()),
        kind,
        name: name.into(),
        value,
        timestamp: at,
        tags: BTreeMap::new(),
    }
}

fn names(list: &[MetricEntry]) -> Vec<String> {
    list.iter().map(|m| format!("{}:{}", m.task_run_id.as_deref().unwrap_or("?"), m.name)).collect()
}

/// # Panics
/// When the store breaks the contract.
pub async fn metric_store_contract(store: &dyn MetricStore) {
    let run = uuid::Uuid::new_v4().simple().to_string()[..10].to_string();
    let ns = format!("contract.metrics{run}");
    let (e1, e2, other) = (format!("{run}e1"), format!("{run}e2"), format!("{run}e3"));
    let now = now_ms();
    let min = TimeDelta::minutes;

    // an attempt stored twice (a redelivery) keeps the second write only
    let mut first = metric(&ns, "f", &e1, "a", "tr1", MetricType::Counter, "rows", 3.0, now - min(10));
    first.tags = BTreeMap::from([("file".to_string(), "a.csv".to_string()), ("k:x".to_string(), "é".to_string())]);
    let dropped = metric(&ns, "f", &e1, "a", "tr1", MetricType::Counter, "gone", 1.0, now - min(10));
    store.save_metrics("tr1", 1, &[first.clone(), dropped]).await.expect("save_metrics");
    store.save_metrics("tr1", 1, std::slice::from_ref(&first)).await.expect("save_metrics again");
    let timer = metric(&ns, "f", &e1, "b", "tr2", MetricType::Timer, "duration", 1500.25, now - min(5));
    let second = metric(&ns, "f", &e1, "b", "tr2", MetricType::Counter, "rows", 2.0, now - min(4));
    store.save_metrics("tr2", 1, &[timer.clone(), second.clone()]).await.expect("save_metrics tr2");
    // attempt 2 of a task run adds to attempt 1 (each attempt is its own)
    let retry = metric(&ns, "f", &e1, "b", "tr2", MetricType::Counter, "retried", 1.0, now - min(3));
    store.save_metrics("tr2", 2, std::slice::from_ref(&retry)).await.expect("save_metrics attempt 2");
    let old = metric(&ns, "f", &e2, "a", "tr3", MetricType::Counter, "rows", 10.0, now - min(60 * 24 * 3));
    store.save_metrics("tr3", 1, std::slice::from_ref(&old)).await.expect("save_metrics e2");
    let elsewhere = metric(&ns, "g", &other, "a", "tr4", MetricType::Counter, "rows", 99.0, now - min(1));
    store.save_metrics("tr4", 1, std::slice::from_ref(&elsewhere)).await.expect("save_metrics other flow");
    store.save_metrics("tr5", 1, &[]).await.expect("saving no metrics is fine");
    // an attempt stored again with none keeps none
    let e4 = format!("{run}e4");
    let undone = metric(&ns, "f", &e4, "a", "tr6", MetricType::Counter, "rows", 1.0, now - min(2));
    store.save_metrics("tr6", 1, std::slice::from_ref(&undone)).await.expect("save_metrics e4");
    assert_eq!(store.execution_metrics(&e4).await.expect("read e4").entries.len(), 1);
    store.save_metrics("tr6", 1, &[]).await.expect("save_metrics e4 again, with none");
    assert!(store.execution_metrics(&e4).await.expect("read e4").entries.is_empty(), "replaced by none");

    let read = store.execution_metrics(&e1).await.expect("execution_metrics");
    assert!(!read.truncated);
    assert_eq!(
        names(&read.entries),
        ["tr1:rows", "tr2:duration", "tr2:rows", "tr2:retried"],
        "an execution's metrics, oldest first; a rewritten attempt keeps only its last write"
    );
    assert_eq!(read.entries[0], first, "every field, tags included, round-trips");
    assert_eq!(read.entries[1], timer, "a fractional timer value round-trips");
    assert!(store.execution_metrics("nope").await.expect("unknown execution").entries.is_empty());

    let q = |task: Option<&str>, name: Option<&str>, from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>| {
        FlowMetricQuery {
            namespace: ns.clone(),
            flow_id: "f".into(),
            task_id: task.map(str::to_string),
            name: name.map(str::to_string),
            from,
            to,
        }
    };
    let all = store.flow_metrics(&q(None, None, None, None)).await.expect("flow_metrics");
    assert_eq!(
        names(&all.entries),
        ["tr2:retried", "tr2:rows", "tr2:duration", "tr1:rows", "tr3:rows"],
        "a flow's metrics newest first, and only that flow's"
    );
    let rows = store.flow_metrics(&q(None, Some("rows"), None, None)).await.expect("by name");
    assert_eq!(names(&rows.entries), ["tr2:rows", "tr1:rows", "tr3:rows"]);
    let task_a = store.flow_metrics(&q(Some("a"), None, None, None)).await.expect("by task");
    assert_eq!(names(&task_a.entries), ["tr1:rows", "tr3:rows"]);
    let range =
        store.flow_metrics(&q(None, Some("rows"), Some(now - min(10)), Some(now - min(4)))).await.expect("by range");
    assert_eq!(names(&range.entries), ["tr2:rows", "tr1:rows"], "both ends of the range are included");

    assert_eq!(metrics_query::names(store, &ns, "f", None).await.expect("names"), ["duration", "retried", "rows"]);
    assert_eq!(metrics_query::names(store, &ns, "f", Some("a")).await.expect("task names"), ["rows"]);
    assert_eq!(metrics_query::tasks(store, &ns, "f").await.expect("tasks"), ["a", "b"]);
    let week = q(None, Some("rows"), Some(now - min(60 * 24 * 7)), Some(now));
    let day = metrics_query::aggregate(store, &week, AggregationKind::Sum).await.expect("aggregate");
    assert_eq!(day.group_by, "day");
    assert_eq!(day.aggregations.iter().map(|a| a.value).sum::<f64>(), 15.0, "{day:?}");
    assert!(day.aggregations.len() >= 7, "every day of the range has its bucket: {day:?}");
    let (page, total) =
        metrics_query::execution_page(store, &e1, None, None, Some("value:desc"), 1, 2).await.expect("execution_page");
    assert_eq!(total, 4);
    assert_eq!(names(&page), ["tr2:duration", "tr1:rows"]);
    let (page, total) =
        metrics_query::execution_page(store, &e1, Some("b"), None, None, 2, 2).await.expect("page 2 of task b");
    assert_eq!((names(&page), total), (vec!["tr2:retried".to_string()], 3));

    assert_eq!(store.delete_metrics(&e1).await.expect("delete_metrics"), 4);
    assert!(store.execution_metrics(&e1).await.expect("after delete").entries.is_empty());
    let left = store.flow_metrics(&q(None, None, None, None)).await.expect("after delete");
    assert_eq!(names(&left.entries), ["tr3:rows"], "another execution's metrics stay");
    assert_eq!(store.delete_metrics(&e1).await.expect("delete again"), 0);
    for e in [&e2, &other] {
        store.delete_metrics(e).await.expect("clean up");
    }
}
