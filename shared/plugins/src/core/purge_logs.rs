//! `io.kestra.plugin.core.log.PurgeLogs`: deletes stored log lines in bulk
//! → `count`, `executionLogsCount`, `nonExecutionLogsCount`.
//!
//! Which lines, as Kestra's log repository deletes them: `namespace`
//! (exact: Kestra's delete compares `namespace =`, children are not
//! taken), `flowId` (needs `namespace`), `executionId`, `logLevels` (any
//! level when absent), timestamp within `[startDate, endDate]` (both
//! inclusive; `startDate` optional), and `purgeExecutionLogs` /
//! `purgeNonExecutionLogs` (both default true) — lines tied to an execution
//! or to none (trigger lines). As in Kestra, turning both off narrows
//! nothing. `batchSize` (a positive integer; Kestra applies it on MySQL)
//! deletes the lines in batches of at most that many, each its own commit
//! (SQLite transaction, Firestore batch write); without it a batch is a
//! store page ([`PURGE_PAGE`] lines), where Kestra deletes all in one
//! transaction. A batch never spans two pages, so a `batchSize` above
//! [`PURGE_PAGE`] commits a page at a time.
//!
//! Bound: one run deletes at most [`MAX_LINES`] lines; past it the task
//! warns and the next run goes on.

use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::purge_scope::{Scope, blank, failed, store, string_list};
use crate::Declare;
use crate::registry::PluginDef;
use crate::{RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};
use baton_backend::purge::{LogPurge, PURGE_PAGE};

pub const TYPE: &str = "io.kestra.plugin.core.log.PurgeLogs";
/// Most lines one run deletes.
pub const MAX_LINES: usize = 1_000_000;
/// Kestra's (SLF4J's) levels.
const LEVELS: [&str; 5] = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"];

/// Purge stored log lines.
///
/// Deletes log lines in bulk by namespace (exact), flow, execution, level and a window on their timestamp; lines tied to no execution (trigger lines) too. At most 1,000,000 lines a run.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = TYPE,
    group = "core",
    example = "id: purge_logs\ntype: io.kestra.plugin.core.log.PurgeLogs\nendDate: \"{{ now() | dateAdd(-1, 'MONTHS') }}\"\nlogLevels:\n  - TRACE\n  - DEBUG\n  - INFO\n",
    outputs(
        count(Integer, "Lines deleted."),
        executionLogsCount(Integer, "Lines of executions deleted."),
        nonExecutionLogsCount(Integer, "Lines tied to no execution deleted.")
    ),
)]
struct Props {
    /// Only the lines of this namespace (not its children); every namespace when absent.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    namespace: Option<String>,
    /// One flow of `namespace` (which it needs).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    flow_id: Option<String>,
    /// Only the lines of this execution.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    execution_id: Option<String>,
    /// Only lines of these levels; every level when absent.
    #[serde(default, deserialize_with = "string_list")]
    #[prop(kind = "StringOrList", values = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"])]
    log_levels: Vec<String>,
    /// Only what is dated at or after this ISO date-time (with a zone).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    start_date: Option<String>,
    /// Only lines dated at or before this ISO date-time (with a zone).
    #[serde(deserialize_with = "de::string_lenient")]
    end_date: String,
    /// Delete lines tied to an execution.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "true")]
    purge_execution_logs: Option<bool>,
    /// Delete lines tied to no execution (trigger lines).
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "true")]
    purge_non_execution_logs: Option<bool>,
    /// Accepted for Kestra's MySQL batching; Baton always deletes page by page.
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    #[prop(check = check_batch_size)]
    batch_size: Option<u64>,
}

/// The task, its properties rendered.
#[derive(Debug)]
pub struct PurgeLogs {
    scope: Scope,
    execution_id: Option<String>,
    levels: Vec<String>,
    execution_logs: bool,
    non_execution_logs: bool,
    /// Most lines deleted by one commit.
    batch: usize,
}

/// The static check of a written `batchSize`: a positive integer (a
/// template is checked when rendered).
pub fn check_batch_size(v: &Value) -> Result<(), String> {
    super::purge_scope::check_batch_size(v, u64::MAX)
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    let scope = Scope::new(p.namespace, p.flow_id, p.start_date, &p.end_date)?;
    let mut levels = Vec::new();
    for l in p.log_levels {
        let up = l.trim().to_ascii_uppercase();
        if !LEVELS.contains(&up.as_str()) {
            return Err(TaskError::property("logLevels", format!("unknown level '{l}' (expected one of {LEVELS:?})")));
        }
        levels.push(up);
    }
    let batch = match p.batch_size {
        None => PURGE_PAGE,
        Some(0) => return Err(TaskError::property("batchSize", "must be a positive integer, got 0")),
        Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
    };
    Ok(Box::new(PurgeLogs {
        scope,
        execution_id: blank(p.execution_id),
        levels,
        execution_logs: p.purge_execution_logs.unwrap_or(true),
        non_execution_logs: p.purge_non_execution_logs.unwrap_or(true),
        batch,
    }))
}

#[async_trait]
impl RunnableTask for PurgeLogs {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let store = store(cx, "PurgeLogs").await?;
        cx.info(&format!(
            "Starting PurgeLogs {} executionId={} levels={}",
            self.scope.describe(),
            self.execution_id.as_deref().unwrap_or("*"),
            if self.levels.is_empty() { "*".to_string() } else { self.levels.join(",") }
        ));
        // each kind on its own, so each has its count; neither flag set
        // narrows nothing, as in Kestra
        let neither = !self.execution_logs && !self.non_execution_logs;
        let mut counts = [0usize; 2];
        let mut more = false;
        let mut batches = 0usize;
        for (i, wanted) in [self.execution_logs || neither, self.non_execution_logs || neither].into_iter().enumerate()
        {
            let room = MAX_LINES - counts.iter().sum::<usize>();
            if !wanted || room == 0 {
                more |= wanted;
                continue;
            }
            let q = LogPurge {
                namespace: self.scope.namespace.clone(),
                flow_id: self.scope.flow_id.clone(),
                execution_id: self.execution_id.clone(),
                levels: self.levels.clone(),
                start: self.scope.start,
                end: Some(self.scope.end),
                execution_logs: i == 0,
                non_execution_logs: i == 1,
                limit: room,
                batch: self.batch,
            };
            let p = store.purge_logs(&q).await.map_err(|e| failed("PurgeLogs", "delete log lines", e))?;
            counts[i] = p.deleted;
            batches += p.batches;
            more |= p.more;
        }
        if more {
            cx.warn(&format!("PurgeLogs stopped at {MAX_LINES} lines, its bound for one run: more lines match"));
        }
        let count = counts[0] + counts[1];
        cx.info(&format!("PurgeLogs deleted {count} log lines in {batches} batches"));
        let mut out = Map::new();
        out.insert("count".into(), json!(count));
        out.insert("executionLogsCount".into(), json!(counts[0]));
        out.insert("nonExecutionLogsCount".into(), json!(counts[1]));
        Ok(TaskOutput::with(out))
    }
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));

#[cfg(test)]
mod tests {
    use chrono::{DateTime, TimeZone, Utc};
    use serde_json::json;

    use super::*;
    use crate::core::test_support::Env;
    use baton_backend::{LogEntry, StateStore};

    fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, day, 0, 0, 0).single().unwrap_or_default()
    }

    fn line(ns: &str, exec: &str, level: &str, day: u32) -> LogEntry {
        LogEntry {
            namespace: ns.into(),
            flow_id: "etl".into(),
            execution_id: exec.into(),
            task_id: None,
            task_run_id: None,
            attempt_number: None,
            timestamp: at(day),
            level: level.into(),
            message: "m".into(),
        }
    }

    #[tokio::test]
    async fn purges_by_level_window_and_kind() {
        let env = Env::with_state_store();
        let lines = [
            line("company", "e1", "INFO", 1),
            line("company", "e1", "ERROR", 1),
            line("company", "e1", "DEBUG", 9),
            line("company", "", "INFO", 1),
            line("company.sub", "e2", "INFO", 1),
        ];
        env.state().append_logs(&lines).await.unwrap();
        let raw = json!({"namespace": "company", "endDate": "2026-01-05T00:00:00Z", "logLevels": ["info", "DEBUG"],
                         "purgeNonExecutionLogs": false});
        let out = env.run(&DEF, raw).await.unwrap();
        assert_eq!(out.outputs["count"], json!(1), "e1's INFO only: ERROR kept, DEBUG later, trigger line kept");
        let raw = json!({"namespace": "company", "endDate": "2026-01-05T00:00:00Z", "logLevels": "[\"INFO\"]"});
        let out = env.run(&DEF, raw).await.unwrap();
        assert_eq!(
            (out.outputs["executionLogsCount"].clone(), out.outputs["nonExecutionLogsCount"].clone()),
            (json!(0), json!(1))
        );
        assert_eq!(env.state().logs("e1").await.unwrap().len(), 2);
        assert_eq!(env.state().logs("e2").await.unwrap().len(), 1, "a child namespace is not purged");
    }

    #[tokio::test]
    async fn batch_size_deletes_every_line_in_batches() {
        let env = Env::with_state_store();
        let lines: Vec<LogEntry> = (0..10).map(|_| line("company", "e1", "INFO", 1)).collect();
        env.state().append_logs(&lines).await.unwrap();
        let raw = json!({"namespace": "company", "endDate": "2026-01-05T00:00:00Z", "batchSize": "4"});
        let out = env.run(&DEF, raw).await.unwrap();
        assert_eq!(out.outputs["count"], json!(10));
        assert!(env.state().logs("e1").await.unwrap().is_empty());
        let logs = env.logs.text();
        assert!(logs.iter().any(|l| l.contains("deleted 10 log lines in 3 batches")), "⌈10/4⌉ commits: {logs:?}");
        for bad in [json!(0), json!(-2)] {
            let raw = json!({"endDate": "2026-01-05T00:00:00Z", "batchSize": bad});
            let e = env.run(&DEF, raw).await.unwrap_err();
            assert!(e.to_string().contains("batchSize"), "{e}");
            assert!(check_batch_size(&bad).is_err());
        }
        assert!(check_batch_size(&json!(1)).is_ok() && check_batch_size(&json!("{{ n }}")).is_ok());
    }

    #[tokio::test]
    async fn refusals_name_the_property() {
        let env = Env::with_state_store();
        let e = env.run(&DEF, json!({"endDate": "2026-01-05T00:00:00Z", "logLevels": ["LOUD"]})).await.unwrap_err();
        assert!(e.to_string().contains("logLevels") && e.to_string().contains("LOUD"), "{e}");
        let e = env.run(&DEF, json!({"flowId": "etl", "endDate": "2026-01-05T00:00:00Z"})).await.unwrap_err();
        assert!(e.to_string().contains("'namespace' is required"), "{e}");
        let e = Env::new().run(&DEF, json!({"endDate": "2026-01-05T00:00:00Z"})).await.unwrap_err();
        assert!(e.to_string().contains("PurgeLogs needs the runtime's state store"), "{e}");
    }
}
