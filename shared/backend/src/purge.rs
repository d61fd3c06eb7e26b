//! What the purge tasks (`log.PurgeLogs`, `execution.PurgeExecutions`,
//! `metric.PurgeMetrics`) ask of the stores, with the matching rules every
//! store applies the same way (the stores narrow with their indexes, then
//! check each record with these `matches`):
//!
//! - [`LogPurge`]: log lines by namespace (exact, as Kestra's repository
//!   deletes), flow, execution, levels and a `[start, end]` window on the
//!   line's timestamp (both inclusive);
//! - [`EndedExecutions`]: ended executions (an end date, a terminal state)
//!   by namespace (itself and its children, as Kestra's execution search),
//!   flow, states, `startDate >= start` and `endDate <= end` — Kestra's
//!   execution filter, where an unfinished execution has no end date and so
//!   never matches — read a page at a time after a `(endDate, id)` cursor;
//! - [`MetricPurge`]: metrics by namespace (exact), flow and a window on the
//!   metric's timestamp.
//!
//! Bounds: a store deletes at most the query's `limit` records per call and
//! says whether it stopped there ([`Purged::more`]); it reads at most
//! [`PURGE_PAGE`] records at a time, so a purge holds one page in memory.
//! Log lines are deleted in batches of at most [`LogPurge::batch`] lines,
//! each its own commit (a SQLite statement, a Firestore batch write), never
//! spanning two pages; [`Purged::batches`] counts them.

use chrono::{DateTime, Utc};

use super::metrics::MetricEntry;
use super::{ExecutionSummary, LogEntry};
use baton_model::StateType;

/// Records a store reads (and deletes) per round trip while purging.
pub const PURGE_PAGE: usize = 500;

/// Which log lines a purge deletes.
#[derive(Debug, Clone, PartialEq)]
pub struct LogPurge {
    /// Exact namespace (Kestra deletes `namespace = …`).
    pub namespace: Option<String>,
    pub flow_id: Option<String>,
    pub execution_id: Option<String>,
    /// Levels (`TRACE`…`ERROR`) to delete; empty: every level.
    pub levels: Vec<String>,
    /// Lines at or after.
    pub start: Option<DateTime<Utc>>,
    /// Lines at or before (`None`: any time, for an execution's own lines).
    pub end: Option<DateTime<Utc>>,
    /// Lines tied to an execution.
    pub execution_logs: bool,
    /// Lines tied to none (an empty execution id: trigger lines).
    pub non_execution_logs: bool,
    /// Most lines deleted by one call.
    pub limit: usize,
    /// Most lines deleted by one commit (at least 1; a page at most).
    pub batch: usize,
}

impl LogPurge {
    /// Every line of execution `id`.
    pub fn execution(id: &str, limit: usize) -> LogPurge {
        LogPurge {
            namespace: None,
            flow_id: None,
            execution_id: Some(id.to_string()),
            levels: Vec::new(),
            start: None,
            end: None,
            execution_logs: true,
            non_execution_logs: true,
            limit,
            batch: PURGE_PAGE,
        }
    }

    /// Whether `l` is to be deleted.
    pub fn matches(&self, l: &LogEntry) -> bool {
        // Kestra: only one of the two flags set narrows; both or neither purge all
        let kind_ok = match (self.execution_logs, self.non_execution_logs) {
            (true, false) => !l.execution_id.is_empty(),
            (false, true) => l.execution_id.is_empty(),
            _ => true,
        };
        kind_ok
            && self.namespace.as_ref().is_none_or(|n| &l.namespace == n)
            && self.flow_id.as_ref().is_none_or(|f| &l.flow_id == f)
            && self.execution_id.as_ref().is_none_or(|e| &l.execution_id == e)
            && (self.levels.is_empty() || self.levels.iter().any(|v| v.eq_ignore_ascii_case(&l.level)))
            && self.start.is_none_or(|s| l.timestamp >= s)
            && self.end.is_none_or(|e| l.timestamp <= e)
    }
}

/// What one purge call did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    pub deleted: usize,
    /// It stopped at the query's limit: more may match.
    pub more: bool,
    /// Commits made (log lines: one per batch; 0 when nothing matched).
    pub batches: usize,
}

/// A page of ended executions to purge.
#[derive(Debug, Clone, PartialEq)]
pub struct EndedExecutions {
    /// The namespace and its children (`a.b` takes `a.b` and `a.b.c`);
    /// exact when `flow_id` is set.
    pub namespace: Option<String>,
    pub flow_id: Option<String>,
    /// Current states to take; empty: any (terminal) state.
    pub states: Vec<StateType>,
    /// Started at or after.
    pub start: Option<DateTime<Utc>>,
    /// Ended at or before.
    pub end: DateTime<Utc>,
    /// Only those after this `(end date, id)`, in that order.
    pub after: Option<(DateTime<Utc>, String)>,
    /// Most executions returned.
    pub limit: usize,
}

impl EndedExecutions {
    /// Whether the namespace of an execution is in the query's scope.
    pub fn namespace_matches(&self, ns: &str) -> bool {
        match (&self.namespace, &self.flow_id) {
            (None, _) => true,
            (Some(n), Some(_)) => ns == n,
            (Some(n), None) => ns == n || ns.strip_prefix(n.as_str()).is_some_and(|rest| rest.starts_with('.')),
        }
    }

    /// Whether `s` is to be returned (the cursor aside).
    pub fn matches(&self, s: &ExecutionSummary) -> bool {
        let Some(ended) = s.end_date else { return false };
        s.state.is_terminal()
            && ended <= self.end
            && self.start.is_none_or(|st| s.start_date.is_some_and(|d| d >= st))
            && self.namespace_matches(&s.namespace)
            && self.flow_id.as_ref().is_none_or(|f| &s.flow_id == f)
            && (self.states.is_empty() || self.states.contains(&s.state))
    }

    /// Whether `s` comes after the cursor.
    pub fn after_cursor(&self, s: &ExecutionSummary) -> bool {
        match (&self.after, s.end_date) {
            (None, _) => true,
            (Some((at, id)), Some(end)) => (end, s.id.as_str()) > (*at, id.as_str()),
            (Some(_), None) => false,
        }
    }
}

/// Which metrics a purge deletes.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricPurge {
    /// Exact namespace.
    pub namespace: Option<String>,
    pub flow_id: Option<String>,
    /// Recorded at or after.
    pub start: Option<DateTime<Utc>>,
    /// Recorded at or before.
    pub end: DateTime<Utc>,
    /// Most metrics deleted by one call.
    pub limit: usize,
}

impl MetricPurge {
    /// Whether `m` is to be deleted.
    pub fn matches(&self, m: &MetricEntry) -> bool {
        self.namespace.as_ref().is_none_or(|n| &m.namespace == n)
            && self.flow_id.as_ref().is_none_or(|f| &m.flow_id == f)
            && self.start.is_none_or(|s| m.timestamp >= s)
            && m.timestamp <= self.end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(ns: &str, state: StateType, end: Option<i64>) -> ExecutionSummary {
        ExecutionSummary {
            id: "e".into(),
            namespace: ns.into(),
            flow_id: "f".into(),
            state,
            start_date: DateTime::from_timestamp(0, 0),
            end_date: end.and_then(|s| DateTime::from_timestamp(s, 0)),
            labels: vec![],
        }
    }

    #[test]
    fn purge_namespaces_take_children_but_not_lookalikes() {
        let at = DateTime::from_timestamp(100, 0).unwrap_or_default();
        let q = EndedExecutions {
            namespace: Some("company.team".into()),
            flow_id: None,
            states: vec![],
            start: None,
            end: at,
            after: None,
            limit: 10,
        };
        assert!(q.namespace_matches("company.team") && q.namespace_matches("company.team.sub"));
        assert!(!q.namespace_matches("company.teams") && !q.namespace_matches("company"));
        let exact = EndedExecutions { flow_id: Some("f".into()), ..q.clone() };
        assert!(!exact.namespace_matches("company.team.sub"));
        assert!(q.matches(&summary("company.team", StateType::Success, Some(50))));
        assert!(!q.matches(&summary("company.team", StateType::Success, Some(150))), "ended after endDate");
        assert!(!q.matches(&summary("company.team", StateType::Running, None)), "never an unfinished one");
        assert!(!q.matches(&summary("company.team", StateType::Paused, Some(50))), "never a non-terminal one");
        let failed = EndedExecutions { states: vec![StateType::Failed], ..q };
        assert!(!failed.matches(&summary("company.team", StateType::Success, Some(50))));
    }

    #[test]
    fn purge_log_kinds_follow_kestra() {
        let at = DateTime::from_timestamp(100, 0).unwrap_or_default();
        let line = |exec: &str| LogEntry {
            namespace: "n".into(),
            flow_id: "f".into(),
            execution_id: exec.into(),
            task_id: None,
            task_run_id: None,
            attempt_number: None,
            timestamp: at,
            level: "INFO".into(),
            message: "m".into(),
        };
        let mut q = LogPurge::execution("x", 1);
        q.execution_id = None;
        q.end = Some(at);
        assert!(q.matches(&line("e")) && q.matches(&line("")));
        let only_exec = LogPurge { non_execution_logs: false, ..q.clone() };
        assert!(only_exec.matches(&line("e")) && !only_exec.matches(&line("")));
        let neither = LogPurge { execution_logs: false, non_execution_logs: false, ..q.clone() };
        assert!(neither.matches(&line("e")), "Kestra adds no condition when both are off");
        let levels = LogPurge { levels: vec!["ERROR".into()], ..q.clone() };
        assert!(!levels.matches(&line("e")));
        let before = LogPurge { end: DateTime::from_timestamp(99, 0), ..q };
        assert!(!before.matches(&line("e")));
    }
}
