//! `io.kestra.plugin.core.metric.Publish`: records `metrics` — counters
//! (`value` a number), timers (`value` an ISO-8601 duration, kept in
//! milliseconds as Kestra keeps timers) — with their `tags`, in the task
//! run's metrics like any task's (`/metrics`, the UI's Metrics tabs).
//! Kestra's `gauge` is refused naming it: Baton's metric store keeps
//! counters and timers only.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::Declare;
use crate::registry::PluginDef;
use crate::{RunContext, RunnableTask, TaskError, TaskOutput, parse_props};
use baton_backend::metrics::MetricType;

pub const TYPE: &str = "io.kestra.plugin.core.metric.Publish";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MetricProp {
    #[serde(rename = "type")]
    kind: String,
    name: String,
    value: Value,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, Value>,
}

/// Record metrics of your own.
///
/// Records each of `metrics` — `{type: counter, name, value: number, tags}` or `{type: timer, name, value: ISO-8601 duration, tags}` — in the task run's metrics (gauges are refused: the store keeps counters and timers).
#[derive(Debug, Deserialize, Declare)]
#[plugin(
    type = TYPE,
    group = "core",
    example = "id: metric\ntype: io.kestra.plugin.core.metric.Publish\nmetrics:\n  - type: timer\n    name: duration\n    value: PT10M\n    tags:\n      flow: \"{{ flow.id }}\"\n  - type: counter\n    name: number\n    value: 42\n",
)]
struct Props {
    /// The metrics: type (counter, timer), name, value, tags, description.
    metrics: Vec<MetricProp>,
}

#[derive(Debug)]
struct Publish {
    metrics: Vec<(MetricType, String, f64, BTreeMap<String, String>)>,
}

fn number(v: &Value) -> Option<f64> {
    v.as_f64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    let mut metrics = Vec::with_capacity(p.metrics.len());
    for (i, m) in p.metrics.into_iter().enumerate() {
        let at = format!("metrics[{i}]");
        let _ = m.description;
        let (kind, value) = match m.kind.to_ascii_lowercase().as_str() {
            "counter" => {
                let v = number(&m.value).ok_or_else(|| {
                    TaskError::property(
                        &format!("{at}.value"),
                        format!("a counter's value must be a number, got {}", m.value),
                    )
                })?;
                (MetricType::Counter, v)
            }
            "timer" => {
                let text = m.value.as_str().unwrap_or_default();
                let d = baton_model::duration::parse_iso(text).map_err(|_| {
                    TaskError::property(
                        &format!("{at}.value"),
                        format!("a timer's value must be an ISO-8601 duration (e.g. PT10M), got {}", m.value),
                    )
                })?;
                (MetricType::Timer, d.num_milliseconds() as f64)
            }
            "gauge" => {
                return Err(TaskError::property(
                    &format!("{at}.type"),
                    "gauge metrics are not kept by Baton's metric store (counters and timers are): publish a counter",
                ));
            }
            other => {
                return Err(TaskError::property(
                    &format!("{at}.type"),
                    format!("'{other}' is not one of counter, timer"),
                ));
            }
        };
        let tags =
            m.tags.into_iter().map(|(k, v)| (k, v.as_str().map_or_else(|| v.to_string(), str::to_string))).collect();
        metrics.push((kind, m.name, value, tags));
    }
    Ok(Box::new(Publish { metrics }))
}

#[async_trait]
impl RunnableTask for Publish {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        for (kind, name, value, tags) in &self.metrics {
            cx.metric(*kind, name, *value, tags.clone());
        }
        Ok(TaskOutput::empty())
    }
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::core::test_support::Env;

    #[tokio::test]
    async fn kestras_example_publishes_a_timer_and_a_counter() {
        let env = Env::new();
        let props = json!({"metrics": [
            {"type": "timer", "name": "duration", "value": "PT10M", "tags": {"project": "kestra"}},
            {"type": "counter", "name": "number", "value": 42, "tags": {"project": "kestra"}}
        ]});
        assert!(env.run(&DEF, props).await.is_ok());
        let e = env.run(&DEF, json!({"metrics": [{"type": "gauge", "name": "g", "value": 1}]})).await.unwrap_err();
        assert!(e.to_string().contains("metrics[0].type"), "{e}");
        let e = env.run(&DEF, json!({"metrics": [{"type": "timer", "name": "t", "value": 3}]})).await.unwrap_err();
        assert!(e.to_string().contains("ISO-8601"), "{e}");
    }
}
