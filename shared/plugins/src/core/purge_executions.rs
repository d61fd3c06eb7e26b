//! `io.kestra.plugin.core.execution.PurgeExecutions` (aliases
//! `io.kestra.core.tasks.storages.Purge`, `io.kestra.plugin.core.storage.Purge`):
//! deletes ended executions with, each on its flag (all default true),
//! the execution record (`purgeExecution`), its log lines (`purgeLog`), its
//! metrics (`purgeMetric`) and its internal-storage files (`purgeStorage`)
//! → `executionsCount`, `logsCount`, `metricsCount`, `storagesCount`.
//!
//! Which executions, as Kestra's execution search: `namespace` (with its
//! child namespaces unless `flowId` is set), `flowId` (needs `namespace`),
//! `states` (any when absent), started at or after `startDate` and ended at
//! or before `endDate`. An execution not ended has no end date, so never
//! matches — nor, in Baton, does one whose state is not terminal. The
//! execution running the task is skipped by id besides.
//!
//! Bound: executions are read `batchSize` at a time (default 100, as
//! Kestra; at most [`MAX_BATCH`]); one run purges at most [`MAX_EXECUTIONS`]
//! — past it the task warns and the next run goes on.

use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::purge_scope::{Scope, failed, store, string_list};
use crate::Declare;
use crate::context::execution_prefix;
use crate::registry::PluginDef;
use crate::{RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};
use baton_backend::purge::{EndedExecutions, LogPurge};
use baton_backend::{ExecutionSummary, StateStore};
use baton_model::StateType;

pub const TYPE: &str = "io.kestra.plugin.core.execution.PurgeExecutions";
/// Most executions one run purges.
pub const MAX_EXECUTIONS: usize = 100_000;
/// Largest `batchSize`.
pub const MAX_BATCH: u64 = 1_000;
/// An execution's log lines deleted at most (its own, whatever their date).
const MAX_LINES_PER_EXECUTION: usize = 10_000_000;

/// Purge ended executions and what they left.
///
/// Deletes ended executions (never the one running the task) of a namespace and its children, or of one flow, that started after `startDate` and ended before `endDate`, with their logs, metrics and internal-storage files, each on its flag. At most 100,000 executions a run.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = TYPE,
    aliases = ["io.kestra.core.tasks.storages.Purge", "io.kestra.plugin.core.storage.Purge"],
    group = "core",
    example = "id: purge_executions\ntype: io.kestra.plugin.core.execution.PurgeExecutions\nendDate: \"{{ now() | dateAdd(-1, 'MONTHS') }}\"\nstates:\n  - SUCCESS\n  - WARNING\n  - FAILED\n  - KILLED\n",
    outputs(
        executionsCount(Integer, "Executions deleted."),
        logsCount(Integer, "Log lines deleted."),
        storagesCount(Integer, "Internal-storage files deleted."),
        metricsCount(Integer, "Metrics deleted.")
    ),
)]
struct Props {
    /// Only executions of this namespace and its children (exact with `flowId`); every namespace when absent.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    namespace: Option<String>,
    /// One flow of `namespace` (which it needs).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    flow_id: Option<String>,
    /// Only executions started at or after this ISO date-time (with a zone).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    start_date: Option<String>,
    /// Only executions ended at or before this ISO date-time (with a zone).
    #[serde(deserialize_with = "de::string_lenient")]
    end_date: String,
    /// Only executions in these states; any ended state when absent.
    #[serde(default, deserialize_with = "string_list")]
    #[prop(kind = "StringOrList")]
    states: Vec<String>,
    /// Delete the execution records.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "true")]
    purge_execution: Option<bool>,
    /// Delete their log lines.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "true")]
    purge_log: Option<bool>,
    /// Delete their metrics.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "true")]
    purge_metric: Option<bool>,
    /// Delete their internal-storage files.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "true")]
    purge_storage: Option<bool>,
    /// Executions read per page (1 to 1000).
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    #[prop(default = "100", check = check_batch)]
    batch_size: Option<u64>,
}

/// What to delete of each execution.
#[derive(Debug, Clone, Copy)]
struct What {
    execution: bool,
    logs: bool,
    metrics: bool,
    storage: bool,
}

/// The task, its properties rendered.
#[derive(Debug)]
pub struct PurgeExecutions {
    scope: Scope,
    states: Vec<StateType>,
    what: What,
    batch: usize,
}

/// `batchSize` as written: 1 to [`MAX_BATCH`] (`baton validate`).
fn check_batch(v: &Value) -> Result<(), String> {
    super::purge_scope::check_batch_size(v, MAX_BATCH)
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    let scope = Scope::new(p.namespace, p.flow_id, p.start_date, &p.end_date)?;
    let states = p
        .states
        .iter()
        .map(|s| {
            StateType::parse(s.trim())
                .ok_or_else(|| TaskError::property("states", format!("unknown state '{s}' (Kestra's, e.g. SUCCESS)")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let batch = p.batch_size.unwrap_or(100);
    if !(1..=MAX_BATCH).contains(&batch) {
        return Err(TaskError::property("batchSize", format!("must be between 1 and {MAX_BATCH}, got {batch}")));
    }
    let what = What {
        execution: p.purge_execution.unwrap_or(true),
        logs: p.purge_log.unwrap_or(true),
        metrics: p.purge_metric.unwrap_or(true),
        storage: p.purge_storage.unwrap_or(true),
    };
    Ok(Box::new(PurgeExecutions { scope, states, what, batch: batch as usize }))
}

/// Counts, in output order.
#[derive(Debug, Default)]
struct Counts {
    executions: usize,
    logs: usize,
    metrics: usize,
    storages: usize,
}

impl PurgeExecutions {
    async fn purge_one(
        &self,
        cx: &RunContext,
        store: &dyn StateStore,
        e: &ExecutionSummary,
        c: &mut Counts,
    ) -> Result<(), TaskError> {
        const T: &str = "PurgeExecutions";
        if self.what.logs {
            let p = store
                .purge_logs(&LogPurge::execution(&e.id, MAX_LINES_PER_EXECUTION))
                .await
                .map_err(|err| failed(T, &format!("delete the logs of execution {}", e.id), err))?;
            c.logs += p.deleted;
        }
        if self.what.metrics {
            c.metrics += store
                .metrics()
                .delete_metrics(&e.id)
                .await
                .map_err(|err| failed(T, &format!("delete the metrics of execution {}", e.id), err))?;
        }
        if self.what.storage {
            // the trailing slash keeps `…/abc` from taking `…/abcd`
            let prefix = format!("{}/", execution_prefix(&e.namespace, &e.flow_id, &e.id));
            let gone = cx
                .services
                .storage
                .delete_prefix(&prefix)
                .await
                .map_err(|err| failed(T, &format!("delete the files under {prefix}"), err))?;
            c.storages += gone.len();
        }
        // the record last: a failure above leaves it for the next run to find
        if self.what.execution
            && store
                .delete_execution(&e.id, false)
                .await
                .map_err(|err| failed(T, &format!("delete execution {}", e.id), err))?
        {
            c.executions += 1;
        }
        Ok(())
    }
}

#[async_trait]
impl RunnableTask for PurgeExecutions {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let store = store(cx, "PurgeExecutions").await?;
        let states: Vec<&str> = self.states.iter().map(|s| s.as_str()).collect();
        cx.info(&format!(
            "Starting PurgeExecutions {} states={}",
            self.scope.describe(),
            if states.is_empty() { "*".to_string() } else { states.join(",") }
        ));
        let mut q = EndedExecutions {
            namespace: self.scope.namespace.clone(),
            flow_id: self.scope.flow_id.clone(),
            states: self.states.clone(),
            start: self.scope.start,
            end: self.scope.end,
            after: None,
            limit: self.batch,
        };
        let (mut c, mut seen, mut pages) = (Counts::default(), 0usize, 0usize);
        'pages: loop {
            pages += 1;
            let page = store
                .ended_executions(&q)
                .await
                .map_err(|e| failed("PurgeExecutions", "list the executions to purge", e))?;
            for e in &page {
                if seen == MAX_EXECUTIONS {
                    cx.warn(&format!(
                        "PurgeExecutions stopped at {MAX_EXECUTIONS} executions, its bound for one run: more match"
                    ));
                    break 'pages;
                }
                seen += 1;
                // never the execution running this task (it has not ended anyway)
                if e.id != cx.execution_id {
                    self.purge_one(cx, store.as_ref(), e, &mut c).await?;
                }
            }
            match page.last() {
                Some(last) if page.len() == self.batch => q.after = last.end_date.map(|d| (d, last.id.clone())),
                _ => break,
            }
        }
        cx.info(&format!(
            "PurgeExecutions complete: executions={}, logs={}, metrics={}, storages={} ({pages} pages of at most {})",
            c.executions, c.logs, c.metrics, c.storages, self.batch
        ));
        let mut out = Map::new();
        out.insert("executionsCount".into(), json!(c.executions));
        out.insert("logsCount".into(), json!(c.logs));
        out.insert("storagesCount".into(), json!(c.storages));
        out.insert("metricsCount".into(), json!(c.metrics));
        Ok(TaskOutput::with(out))
    }
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));

#[cfg(test)]
mod tests;
