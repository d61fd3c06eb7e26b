//! `io.kestra.plugin.core.output.OutputValues`: returns the rendered
//! `values` map as the output `values`.

use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::Declare;
use crate::registry::PluginDef;
use crate::{RunContext, RunnableTask, TaskError, TaskOutput, parse_props};

/// Publish values as the task's outputs.
///
/// Renders each value of `values` and exposes them as `outputs.<id>.values.<key>`.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.core.output.OutputValues",
    aliases = ["io.kestra.core.tasks.outputs.OutputValues"],
    group = "core",
    example = "id: result\ntype: io.kestra.plugin.core.output.OutputValues\nvalues:\n  rows: 42\n  status: \"done\"\n",
    outputs(
        values(Map, "The rendered values, by key.")
    ),
)]
struct Props {
    /// The values to publish, by key.
    #[serde(default)]
    values: Option<Map<String, Value>>,
}

/// The task, built from rendered properties.
#[derive(Debug)]
pub struct OutputValues {
    values: Map<String, Value>,
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    Ok(Box::new(OutputValues { values: p.values.unwrap_or_default() }))
}

#[async_trait]
impl RunnableTask for OutputValues {
    async fn run(&self, _cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let mut out = Map::new();
        out.insert("values".into(), Value::Object(self.values.clone()));
        Ok(TaskOutput::with(out))
    }
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::core::test_support::Env;

    #[tokio::test]
    async fn outputs_rendered_values() {
        let env = Env::new();
        let raw = json!({"values": {"greeting": "hi {{ inputs.name }}", "n": 3, "nested": {"a": ["{{ inputs.n }}"]}}});
        let out = env.run(&DEF, raw).await.unwrap();
        assert_eq!(out.outputs.get("values"), Some(&json!({"greeting": "hi world", "n": 3, "nested": {"a": ["42"]}})));
        let e = env.run(&DEF, json!({"values": "nope"})).await.unwrap_err();
        assert!(e.to_string().contains("values"), "{e}");
    }
}
