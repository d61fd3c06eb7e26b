//! `io.kestra.plugin.core.debug.Return`: renders `format` and returns it as
//! the output `value` (a string).

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::plugins::registry::{PluginDef, PropKind, PropSpec};
use crate::plugins::{RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Props {
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    format: Option<String>,
}

/// The task, built from rendered properties.
#[derive(Debug)]
pub struct Return {
    format: Option<String>,
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    Ok(Box::new(Return { format: p.format }))
}

#[async_trait]
impl RunnableTask for Return {
    async fn run(&self, _cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let mut out = Map::new();
        if let Some(f) = &self.format {
            out.insert("value".into(), Value::String(f.clone()));
        }
        Ok(TaskOutput::with(out))
    }
}

pub const DEF: PluginDef = PluginDef {
    type_name: "io.kestra.plugin.core.debug.Return",
    aliases: &["io.kestra.core.tasks.debugs.Return"],
    group: "core",
    props: &[PropSpec::optional("format", PropKind::String)],
    build,
};

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::plugins::core::test_support::Env;

    #[tokio::test]
    async fn returns_rendered_format() {
        let env = Env::new();
        let out = env.run(&DEF, json!({"format": "{{ inputs.name }}-{{ inputs.n }}"})).await.unwrap();
        assert_eq!(out.outputs.get("value"), Some(&json!("world-42")));
        let out = env.run(&DEF, json!({"format": 7})).await.unwrap();
        assert_eq!(out.outputs.get("value"), Some(&json!("7")));
        let out = env.run(&DEF, json!({})).await.unwrap();
        assert!(out.outputs.is_empty());
    }
}
