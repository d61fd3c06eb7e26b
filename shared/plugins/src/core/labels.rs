//! `io.kestra.plugin.core.execution.Labels`: adds or overwrites labels of
//! the current execution. `labels` is a map `{key: value}`, a list of
//! `{key, value}`, or a string holding a JSON map. Values are strings (maps
//! and lists become JSON). Keys starting with `system.` fail the task. The
//! labels are returned in `TaskOutput::labels`; the executor applies them.
//! No outputs.

use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::Declare;
use crate::registry::PluginDef;
use crate::{RunContext, RunnableTask, TaskError, TaskOutput, de::value_to_string, parse_props};
use baton_model::Label;

/// The prefix reserved for labels Kestra sets itself.
pub const SYSTEM_PREFIX: &str = "system.";

/// Add or change labels of the running execution.
///
/// Sets labels on the current execution, from a mapping or a list of {key, value}. System labels cannot be changed.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.core.execution.Labels",
    aliases = ["io.kestra.core.tasks.executions.Labels"],
    group = "core",
    example = "id: tag\ntype: io.kestra.plugin.core.execution.Labels\nlabels:\n  team: data\n  source: \"{{ flow.id }}\"\n",
)]
struct Props {
    /// The labels: a mapping of key to value, or a list of {key, value}.
    labels: Value,
}

/// The task, built from rendered properties.
#[derive(Debug)]
pub struct Labels {
    /// (key, value, whether the key still needs rendering).
    labels: Vec<(String, String, bool)>,
}

fn label_value(key: &str, v: &Value) -> Result<String, TaskError> {
    match v {
        Value::Null => Err(TaskError::property("labels", format!("label '{key}' has no value"))),
        other => Ok(value_to_string(other)),
    }
}

fn from_map(m: &Map<String, Value>, render_keys: bool) -> Result<Vec<(String, String, bool)>, TaskError> {
    m.iter().map(|(k, v)| Ok((k.clone(), label_value(k, v)?, render_keys))).collect()
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    let labels = match &p.labels {
        Value::Object(m) => from_map(m, true)?,
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let m = item.as_object().ok_or_else(|| {
                    TaskError::property(&format!("labels[{i}]"), format!("expected a {{key, value}} map, found {item}"))
                })?;
                let key = match m.get("key") {
                    Some(Value::Null) | None => {
                        return Err(TaskError::property(&format!("labels[{i}]"), "missing 'key'"));
                    }
                    Some(k) => value_to_string(k),
                };
                let value = label_value(&key, m.get("value").unwrap_or(&Value::Null))?;
                Ok((key, value, false))
            })
            .collect::<Result<_, _>>()?,
        Value::String(s) => {
            let parsed: Map<String, Value> = serde_json::from_str(s)
                .map_err(|e| TaskError::property("labels", format!("a string must hold a JSON map of labels: {e}")))?;
            from_map(&parsed, false)?
        }
        other => {
            return Err(TaskError::property(
                "labels",
                format!("expected a map of labels or a list of {{key, value}}, found {other}"),
            ));
        }
    };
    Ok(Box::new(Labels { labels }))
}

#[async_trait]
impl RunnableTask for Labels {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let mut out: Vec<Label> = Vec::new();
        for (k, v, render) in &self.labels {
            let key = if *render { cx.render(k)? } else { k.clone() };
            let key = key.trim().to_string();
            if key.is_empty() {
                return Err(TaskError::property("labels", "a label key is empty"));
            }
            if key.starts_with(SYSTEM_PREFIX) {
                return Err(TaskError::failed(format!(
                    "System labels can only be set by Kestra itself, offending label: {key}={v}"
                )));
            }
            // Later entries win, as in Kestra.
            out.retain(|l| l.key != key);
            out.push(Label { key, value: v.clone() });
        }
        Ok(TaskOutput { labels: out, ..TaskOutput::default() })
    }
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::core::test_support::Env;

    fn pairs(out: &TaskOutput) -> Vec<(String, String)> {
        out.labels.iter().map(|l| (l.key.clone(), l.value.clone())).collect()
    }

    #[tokio::test]
    async fn map_and_list_forms() {
        let env = Env::new();
        let out = env
            .run(&DEF, json!({"labels": {"file": "{{ inputs.name }}.csv", "n": 3, "ok": true, "m": {"a": 1}}}))
            .await
            .unwrap();
        assert!(out.outputs.is_empty());
        assert_eq!(
            pairs(&out),
            vec![
                ("file".into(), "world.csv".into()),
                ("n".into(), "3".into()),
                ("ok".into(), "true".into()),
                ("m".into(), r#"{"a":1}"#.into())
            ]
        );
        let out = env
            .run(
                &DEF,
                json!({"labels": [{"key": "a", "value": "1"}, {"key": "b", "value": "{{ inputs.n }}"}, {"key": "a", "value": "2"}]}),
            )
            .await
            .unwrap();
        assert_eq!(pairs(&out), vec![("b".into(), "42".into()), ("a".into(), "2".into())]);
        let out = env.run(&DEF, json!({"labels": r#"{"x": "y"}"#})).await.unwrap();
        assert_eq!(pairs(&out), vec![("x".into(), "y".into())]);
    }

    #[tokio::test]
    async fn rejects_system_labels_and_bad_shapes() {
        let env = Env::new();
        let e = env.run(&DEF, json!({"labels": {"system.correlationId": "x"}})).await.unwrap_err();
        assert!(e.to_string().contains("System labels"), "{e}");
        let e = env.run(&DEF, json!({"labels": [{"key": "system.username", "value": "me"}]})).await.unwrap_err();
        assert!(e.to_string().contains("system.username"), "{e}");
        assert!(env.run(&DEF, json!({"labels": 3})).await.is_err());
        assert!(env.run(&DEF, json!({"labels": ["a"]})).await.is_err());
        assert!(env.run(&DEF, json!({})).await.is_err());
    }
}
