//! `io.kestra.plugin.core.execution.Count` (and its legacy name
//! `io.kestra.core.tasks.executions.Counts`): how many executions started
//! in a window, per flow of `flows` and per namespace of `namespaces`, kept
//! where `expression` — rendered with `count` — is `true`, as Kestra's
//! execution repository counts them (`executionCounts`): a flow named in
//! `flows` gets its row even at 0 (so `{{ count == 0 }}` finds idle flows);
//! a namespace of `namespaces` (exactly it, not its children) gets a row,
//! without `flowId`, when it has executions.
//!
//! Bounded: at most [`MAX_COUNTED`] executions read per row; a row with
//! more in the window fails the task with the bound named.

use std::sync::LazyLock;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::purge_scope::{date, store, string_list};
#[cfg(test)]
use crate::PropKind;
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, parse_props};
use baton_backend::{ExecutionFilter, StateStore};
use baton_model::StateType;

/// Executions read for one row (a flow or a namespace) at most.
pub const MAX_COUNTED: usize = 100_000;

/// Count the executions of flows or namespaces.
///
/// Counts the executions that started between `startDate` and `endDate` (now when absent), in `states` (any when absent), for each flow of `flows` (a row at 0 when it has none) and each namespace of `namespaces` (exactly it; a row when it has executions), and keeps the rows for which `expression`, rendered with `count`, is true. Outputs the kept rows and the sum of their counts. Kestra 1.2 deprecates it for the Kestra plugin's `Count`.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.core.execution.Count",
    aliases = ["io.kestra.core.tasks.executions.Counts"],
    group = "core",
    example = "id: counts\ntype: io.kestra.plugin.core.execution.Count\nexpression: \"{{ count == 0 }}\"\nflows:\n  - namespace: company.team\n    flowId: logs\nstartDate: \"{{ now() | dateAdd(-1, 'DAYS') }}\"\n",
    outputs(
        results(List, "The kept rows, each with namespace, flowId (absent on a namespace's row) and count."),
        total(Integer, "The sum of the kept rows' counts.")
    ),
)]
struct Props {
    /// The flows to count, each a `namespace` and a `flowId`; `namespaces` is needed without it.
    #[serde(default)]
    flows: Option<Vec<FlowRef>>,
    /// The states to count (Kestra's, e.g. SUCCESS); any when absent.
    #[serde(default, deserialize_with = "string_list")]
    #[prop(kind = "StringOrList")]
    states: Vec<String>,
    /// Count executions started at or after this ISO date-time (with a zone).
    start_date: String,
    /// Count executions started at or before this ISO date-time (with a zone); now when absent.
    #[serde(default)]
    end_date: Option<String>,
    /// Rendered for each row with `count` set: the row is kept when it renders `true`.
    #[prop(unrendered)]
    expression: String,
    /// The namespaces to count (exactly these, not their children); `flows` is needed without it.
    #[serde(default, deserialize_with = "string_list")]
    #[prop(kind = "StringOrList")]
    namespaces: Vec<String>,
}

/// One flow of `flows`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FlowRef {
    namespace: String,
    flow_id: String,
}

/// `execution.Count`, declared by [`Props`].
pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));

#[derive(Debug)]
struct Count {
    flows: Vec<FlowRef>,
    namespaces: Vec<String>,
    states: Vec<StateType>,
    start: DateTime<Utc>,
    end: Option<DateTime<Utc>>,
    expression: String,
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    let flows = p.flows.unwrap_or_default();
    let namespaces: Vec<String> =
        p.namespaces.into_iter().map(|n| n.trim().to_string()).filter(|n| !n.is_empty()).collect();
    if flows.is_empty() && namespaces.is_empty() {
        return Err(TaskError::property("flows", "You must provide a list of flows or namespaces."));
    }
    let states = p
        .states
        .iter()
        .map(|s| {
            StateType::parse(s.trim())
                .ok_or_else(|| TaskError::property("states", format!("unknown state '{s}' (Kestra's, e.g. SUCCESS)")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let start = date("startDate", &p.start_date)?;
    let end = p.end_date.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(|s| date("endDate", s)).transpose()?;
    Ok(Box::new(Count { flows, namespaces, states, start, end, expression: p.expression }))
}

impl Count {
    /// The executions of `namespace` (and flow) that started in the window
    /// and are in one of the states.
    async fn count(
        &self,
        store: &dyn StateStore,
        namespace: &str,
        flow_id: Option<&str>,
        end: DateTime<Utc>,
    ) -> Result<u64, TaskError> {
        let filter = ExecutionFilter {
            namespace: Some(namespace.to_string()),
            flow_id: flow_id.map(str::to_string),
            limit: Some(MAX_COUNTED + 1),
            ..ExecutionFilter::default()
        };
        let what = match flow_id {
            Some(f) => format!("flow {namespace}.{f}"),
            None => format!("namespace {namespace}"),
        };
        let listed = store
            .list_executions(&filter)
            .await
            .map_err(|e| TaskError::failed(format!("Count: cannot list the executions of {what}: {e}")))?;
        // newest first: a full page still in the window may hide more
        if listed.len() > MAX_COUNTED && listed.last().and_then(|e| e.start_date).is_some_and(|d| d >= self.start) {
            return Err(TaskError::failed(format!(
                "Count: {what} has more than {MAX_COUNTED} executions in the window, the most one row counts; narrow startDate or endDate"
            )));
        }
        let n = listed
            .iter()
            .filter(|e| e.start_date.is_some_and(|d| d >= self.start && d <= end))
            .filter(|e| self.states.is_empty() || self.states.contains(&e.state))
            .count();
        Ok(n as u64)
    }

    /// Whether `expression`, rendered with `count`, is `true`.
    fn keeps(&self, cx: &RunContext, count: u64) -> Result<bool, TaskError> {
        let mut ctx = cx.context().as_object().cloned().unwrap_or_default();
        ctx.insert("count".into(), json!(count));
        let out = cx
            .services
            .renderer
            .render_str(&self.expression, &Value::Object(ctx), cx.host.as_ref())
            .map_err(|e| TaskError::Template(format!("expression: {e}")))?;
        Ok(out.trim() == "true")
    }
}

#[async_trait]
impl RunnableTask for Count {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let store = store(cx, "Count").await?;
        let end = self.end.unwrap_or_else(Utc::now);
        let mut rows: Vec<(String, Option<String>, u64)> = Vec::new();
        for f in &self.flows {
            let n = self.count(store.as_ref(), &f.namespace, Some(&f.flow_id), end).await?;
            rows.push((f.namespace.clone(), Some(f.flow_id.clone()), n));
        }
        for ns in &self.namespaces {
            let n = self.count(store.as_ref(), ns, None, end).await?;
            if n > 0 {
                rows.push((ns.clone(), None, n));
            }
        }
        let mut results = Vec::new();
        let mut total = 0u64;
        for (namespace, flow_id, count) in rows {
            if !self.keeps(cx, count)? {
                continue;
            }
            total += count;
            let mut row = Map::new();
            row.insert("namespace".into(), json!(namespace));
            if let Some(f) = flow_id {
                row.insert("flowId".into(), json!(f));
            }
            row.insert("count".into(), json!(count));
            results.push(Value::Object(row));
        }
        cx.log("DEBUG", &format!("{} rows matching the expression", results.len()));
        let mut outputs = Map::new();
        outputs.insert("results".into(), Value::Array(results));
        outputs.insert("total".into(), json!(total));
        Ok(TaskOutput::with(outputs))
    }
}

#[cfg(test)]
mod tests;
