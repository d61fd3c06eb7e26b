//! `io.kestra.plugin.core.metric.PurgeMetrics`: deletes stored task
//! metrics in bulk → `count`. Which: `namespace` (exact, as the log purge),
//! `flowId` (needs `namespace`, as Kestra requires), recorded within
//! `[startDate, endDate]` (both inclusive; `startDate` optional).
//!
//! Bound: one run deletes at most [`MAX_METRICS`]; past it the task warns
//! and the next run goes on.

use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::purge_scope::{Scope, failed, store};
use crate::Declare;
use crate::registry::PluginDef;
use crate::{RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};
use baton_backend::purge::MetricPurge;

pub const TYPE: &str = "io.kestra.plugin.core.metric.PurgeMetrics";
/// Most metrics one run deletes.
pub const MAX_METRICS: usize = 1_000_000;

/// Purge stored task metrics.
///
/// Deletes metrics in bulk by namespace (exact), flow and a window on when they were recorded. At most 1,000,000 a run.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = TYPE,
    group = "core",
    example = "id: purge_metrics\ntype: io.kestra.plugin.core.metric.PurgeMetrics\nnamespace: company.team\nendDate: \"{{ now() | dateAdd(-1, 'MONTHS') }}\"\n",
    outputs(
        count(Integer, "Metrics deleted.")
    ),
)]
struct Props {
    /// Only the metrics of this namespace (not its children); every namespace when absent.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    namespace: Option<String>,
    /// One flow of `namespace` (which it needs).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    flow_id: Option<String>,
    /// Only what is dated at or after this ISO date-time (with a zone).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    start_date: Option<String>,
    /// Only metrics recorded at or before this ISO date-time (with a zone).
    #[serde(deserialize_with = "de::string_lenient")]
    end_date: String,
}

/// The task, its properties rendered.
#[derive(Debug)]
pub struct PurgeMetrics {
    scope: Scope,
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    Ok(Box::new(PurgeMetrics { scope: Scope::new(p.namespace, p.flow_id, p.start_date, &p.end_date)? }))
}

#[async_trait]
impl RunnableTask for PurgeMetrics {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let store = store(cx, "PurgeMetrics").await?;
        cx.info(&format!("Starting PurgeMetrics {}", self.scope.describe()));
        let q = MetricPurge {
            namespace: self.scope.namespace.clone(),
            flow_id: self.scope.flow_id.clone(),
            start: self.scope.start,
            end: self.scope.end,
            limit: MAX_METRICS,
        };
        let p = store.metrics().purge_metrics(&q).await.map_err(|e| failed("PurgeMetrics", "delete metrics", e))?;
        if p.more {
            cx.warn(&format!("PurgeMetrics stopped at {MAX_METRICS} metrics, its bound for one run: more match"));
        }
        cx.info(&format!("PurgeMetrics deleted {} metrics", p.deleted));
        let mut out = Map::new();
        out.insert("count".into(), json!(p.deleted));
        Ok(TaskOutput::with(out))
    }
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use serde_json::json;

    use super::*;
    use crate::core::test_support::Env;
    use baton_backend::StateStore;
    use baton_backend::metrics::{MetricEntry, MetricType};

    fn metric(ns: &str, flow: &str, day: u32) -> MetricEntry {
        MetricEntry {
            namespace: ns.into(),
            flow_id: flow.into(),
            task_id: None,
            execution_id: Some("e".into()),
            task_run_id: Some("tr".into()),
            kind: MetricType::Counter,
            name: format!("{ns}-{flow}-{day}"),
            value: 1.0,
            timestamp: Utc.with_ymd_and_hms(2026, 1, day, 0, 0, 0).single().unwrap_or_default(),
            tags: Default::default(),
        }
    }

    #[tokio::test]
    async fn purges_a_flows_metrics_in_the_window() {
        let env = Env::with_state_store();
        let ms =
            [metric("a", "f", 1), metric("a", "f", 3), metric("a", "g", 3), metric("a.b", "f", 3), metric("a", "f", 9)];
        env.state().metrics().save_metrics("tr", 1, &ms).await.unwrap();
        let raw = json!({"namespace": "a", "flowId": "f", "startDate": "2026-01-02T00:00:00Z",
                         "endDate": "2026-01-05T00:00:00Z"});
        assert_eq!(env.run(&DEF, raw).await.unwrap().outputs["count"], json!(1));
        let raw = json!({"namespace": "a", "endDate": "2026-01-05T00:00:00Z"});
        assert_eq!(env.run(&DEF, raw).await.unwrap().outputs["count"], json!(2), "a.f day 1 and a.g");
        let left = env.state().metrics().execution_metrics("e").await.unwrap().entries.len();
        assert_eq!(left, 2, "the child namespace's and the later one");
        let e = env.run(&DEF, json!({"flowId": "f", "endDate": "2026-01-05T00:00:00Z"})).await.unwrap_err();
        assert!(e.to_string().contains("'namespace' is required when 'flowId' is set"), "{e}");
    }
}
