//! The purge contract: [`StateStore::purge_logs`],
//! [`StateStore::ended_executions`] and
//! [`super::metrics::MetricStore::purge_metrics`] behave the same on every
//! store (SQLite here, Firestore against its emulator). Like the other
//! suites it is safe on a shared store: its namespaces carry a fresh random
//! part, and every query it runs names one of them.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};

use super::contract::{execution, ids};
use super::metrics::{MetricEntry, MetricType};
use super::purge::{EndedExecutions, LogPurge, MetricPurge};
use super::{LogEntry, StateStore};
use baton_model::StateType;

fn unique() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_string()
}

fn at(base: DateTime<Utc>, minutes: i64) -> DateTime<Utc> {
    base + TimeDelta::minutes(minutes)
}

fn line(ns: &str, flow: &str, exec: &str, level: &str, ts: DateTime<Utc>) -> LogEntry {
    LogEntry {
        namespace: ns.into(),
        flow_id: flow.into(),
        execution_id: exec.into(),
        task_id: Some("t".into()),
        task_run_id: Some(format!("{exec}-t")),
        attempt_number: Some(1),
        timestamp: ts,
        level: level.into(),
        message: format!("{level} at {ts}"),
    }
}

fn metric(ns: &str, flow: &str, exec: &str, name: &str, ts: DateTime<Utc>) -> MetricEntry {
    MetricEntry {
        namespace: ns.into(),
        flow_id: flow.into(),
        task_id: Some("t".into()),
        execution_id: Some(exec.into()),
        task_run_id: Some(format!("{exec}-t")),
        kind: MetricType::Counter,
        name: name.into(),
        value: 1.0,
        timestamp: ts,
        tags: BTreeMap::new(),
    }
}

/// Purging logs, listing ended executions and purging metrics.
///
/// # Panics
/// When the store breaks the contract.
pub async fn purge_contract(store: &dyn StateStore) {
    let run = unique();
    let ns = format!("purge.p{run}");
    // whole milliseconds, a fixed past instant
    let base = DateTime::from_timestamp_millis(1_767_225_600_000).unwrap_or_default();

    // ------------------------------------------------------------- logs
    let (e1, e2) = (format!("{run}-e1"), format!("{run}-e2"));
    let mut lines = Vec::new();
    for (i, level) in ["DEBUG", "INFO", "WARN", "ERROR"].into_iter().enumerate() {
        lines.push(line(&ns, "flow", &e1, level, at(base, i as i64)));
        lines.push(line(&ns, "other", &e2, level, at(base, 10 + i as i64)));
    }
    lines.push(line(&format!("{ns}.child"), "flow", &format!("{run}-e3"), "INFO", at(base, 1)));
    store.append_logs(&lines).await.expect("append_logs");
    let q = |flow: Option<&str>, exec: Option<&str>, levels: &[&str], end: i64, limit: usize| LogPurge {
        namespace: Some(ns.clone()),
        flow_id: flow.map(str::to_string),
        execution_id: exec.map(str::to_string),
        levels: levels.iter().map(|l| l.to_string()).collect(),
        start: Some(at(base, 1)),
        end: Some(at(base, end)),
        execution_logs: true,
        non_execution_logs: true,
        limit,
        batch: 100,
    };
    // the window is inclusive at both ends; ERROR lines are kept
    let p = store.purge_logs(&q(Some("flow"), None, &["DEBUG", "INFO", "WARN"], 2, 100)).await.expect("purge");
    assert_eq!((p.deleted, p.more), (2, false), "INFO (minute 1) and WARN (minute 2) of e1");
    let left: Vec<String> = store.logs(&e1).await.expect("logs").into_iter().map(|l| l.level).collect();
    assert_eq!(left, ["DEBUG", "ERROR"], "DEBUG is before the window, ERROR not asked for");
    let child = store.logs(&format!("{run}-e3")).await.expect("logs");
    assert_eq!(child.len(), 1, "a child namespace's lines are not the namespace's");
    // the limit stops a purge and says so
    let p = store.purge_logs(&q(None, Some(&e2), &[], 60, 3)).await.expect("purge");
    assert_eq!((p.deleted, p.more), (3, true), "three of e2's four lines, more left");
    let p = store.purge_logs(&q(None, Some(&e2), &[], 60, 3)).await.expect("purge");
    assert_eq!((p.deleted, p.more), (1, false));
    assert!(store.logs(&e2).await.expect("logs").is_empty());
    // an execution's own lines, whatever their date
    let p = store.purge_logs(&LogPurge::execution(&e1, 100)).await.expect("purge");
    assert_eq!(p.deleted, 2);
    assert!(store.logs(&e1).await.expect("logs").is_empty());
    // batches: 7 lines by 3 are deleted all, in ⌈7/3⌉ = 3 commits
    let e4 = format!("{run}-e4");
    let seven: Vec<LogEntry> = (0..7).map(|i| line(&ns, "flow", &e4, "INFO", at(base, i))).collect();
    store.append_logs(&seven).await.expect("append_logs");
    let p = store.purge_logs(&LogPurge { batch: 3, ..LogPurge::execution(&e4, 100) }).await.expect("purge");
    assert_eq!((p.deleted, p.batches, p.more), (7, 3, false), "7 lines in batches of at most 3");
    assert!(store.logs(&e4).await.expect("logs").is_empty(), "every batch deleted");

    // ------------------------------------------------------- executions
    let mk = |id: &str, ns: &str, flow: &str, start: i64, end: Option<(StateType, i64)>| {
        let mut e = execution(format!("{run}-{id}"), ns, flow, at(base, start));
        e.state.set(StateType::Running, at(base, start));
        if let Some((state, m)) = end {
            e.state.set(state, at(base, m));
        }
        e
    };
    let child_ns = format!("{ns}.sub");
    let lookalike = format!("{ns}x");
    let all = [
        mk("a", &ns, "flow", 0, Some((StateType::Success, 5))),
        mk("b", &ns, "flow", 1, Some((StateType::Failed, 5))),
        mk("c", &child_ns, "flow", 2, Some((StateType::Success, 6))),
        mk("d", &ns, "other", 3, Some((StateType::Killed, 7))),
        mk("e", &ns, "flow", 4, None),
        mk("f", &ns, "flow", 5, Some((StateType::Success, 50))),
        mk("g", &lookalike, "flow", 0, Some((StateType::Success, 5))),
    ];
    for e in &all {
        store.create_execution(e).await.expect("create_execution");
    }
    let eq = |flow: Option<&str>, states: Vec<StateType>, start: Option<i64>, after, limit| EndedExecutions {
        namespace: Some(ns.clone()),
        flow_id: flow.map(str::to_string),
        states,
        start: start.map(|m| at(base, m)),
        end: at(base, 10),
        after,
        limit,
    };
    let id = |s: &str| format!("{run}-{s}");
    let page = store.ended_executions(&eq(None, vec![], None, None, 100)).await.expect("ended");
    assert_eq!(
        ids(&page),
        [id("a"), id("b"), id("c"), id("d")],
        "ended by endDate, children included, in (end, id) order; not the running one, the later one or the lookalike"
    );
    let first = store.ended_executions(&eq(None, vec![], None, None, 2)).await.expect("ended");
    assert_eq!(ids(&first), [id("a"), id("b")]);
    let cursor = first.last().map(|s| (s.end_date.unwrap_or(base), s.id.clone()));
    let next = store.ended_executions(&eq(None, vec![], None, cursor, 2)).await.expect("ended");
    assert_eq!(ids(&next), [id("c"), id("d")], "the next page starts after the cursor");
    let flow = store.ended_executions(&eq(Some("flow"), vec![], None, None, 100)).await.expect("ended");
    assert_eq!(ids(&flow), [id("a"), id("b")], "with flowId the namespace is exact");
    let failed = store
        .ended_executions(&eq(None, vec![StateType::Failed, StateType::Killed], None, None, 100))
        .await
        .expect("ended");
    assert_eq!(ids(&failed), [id("b"), id("d")]);
    let late = store.ended_executions(&eq(None, vec![], Some(2), None, 100)).await.expect("ended");
    assert_eq!(ids(&late), [id("c"), id("d")], "started at or after startDate");

    // ---------------------------------------------------------- metrics
    let metrics = store.metrics();
    let ms = [
        metric(&ns, "flow", &id("a"), "m0", at(base, 0)),
        metric(&ns, "flow", &id("a"), "m1", at(base, 1)),
        metric(&ns, "flow", &id("a"), "m2", at(base, 2)),
        metric(&ns, "other", &id("d"), "m3", at(base, 2)),
        metric(&child_ns, "flow", &id("c"), "m4", at(base, 2)),
    ];
    metrics.save_metrics(&format!("{run}-tr"), 1, &ms).await.expect("save_metrics");
    let mq = |flow: Option<&str>, limit| MetricPurge {
        namespace: Some(ns.clone()),
        flow_id: flow.map(str::to_string),
        start: Some(at(base, 1)),
        end: at(base, 2),
        limit,
    };
    let p = metrics.purge_metrics(&mq(Some("flow"), 1)).await.expect("purge metrics");
    assert_eq!((p.deleted, p.more), (1, true));
    let p = metrics.purge_metrics(&mq(None, 100)).await.expect("purge metrics");
    assert_eq!((p.deleted, p.more), (2, false), "the other of the flow and the other flow's; not the child's");
    let mut names: Vec<String> =
        metrics.execution_metrics(&id("a")).await.expect("read").entries.into_iter().map(|m| m.name).collect();
    names.sort();
    assert_eq!(names, ["m0"], "the one before the window stays");
    assert_eq!(metrics.execution_metrics(&id("c")).await.expect("read").entries.len(), 1);

    for e in &all {
        store.delete_execution(&e.id, true).await.expect("clean up");
    }
    store.purge_logs(&LogPurge::execution(&format!("{run}-e3"), 100)).await.expect("clean up");
    for e in [id("a"), id("c"), id("d")] {
        metrics.delete_metrics(&e).await.expect("clean up");
    }
}
