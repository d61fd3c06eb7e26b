//! `io.kestra.plugin.core.flow.Sleep`: waits for `duration` (ISO-8601).
//! No outputs.

use std::sync::LazyLock;

use async_trait::async_trait;
use chrono::Duration;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::Declare;
use crate::registry::PluginDef;
use crate::{RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};
use baton_model::duration::format_iso;

/// Wait for a while.
///
/// Waits for `duration` without holding the execution's other branches.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.core.flow.Sleep",
    aliases = ["io.kestra.core.tasks.flows.Sleep"],
    group = "core",
    example = "id: wait\ntype: io.kestra.plugin.core.flow.Sleep\nduration: PT5S\n",
)]
struct Props {
    /// How long to wait (ISO-8601, e.g. PT30S).
    #[serde(deserialize_with = "de::duration")]
    #[prop(kind = "Duration")]
    duration: Duration,
}

/// The task, built from rendered properties.
#[derive(Debug)]
pub struct Sleep {
    duration: std::time::Duration,
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    let duration = p.duration.to_std().map_err(|_| {
        TaskError::property("duration", format!("must not be negative, got {}", format_iso(p.duration)))
    })?;
    Ok(Box::new(Sleep { duration }))
}

#[async_trait]
impl RunnableTask for Sleep {
    async fn run(&self, _cx: &RunContext) -> Result<TaskOutput, TaskError> {
        tokio::time::sleep(self.duration).await;
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
    async fn sleeps() {
        let env = Env::new();
        let t = std::time::Instant::now();
        env.run(&DEF, json!({"duration": "PT0.2S"})).await.unwrap();
        assert!(t.elapsed() >= std::time::Duration::from_millis(200));
    }

    #[tokio::test]
    async fn rejects_bad_durations() {
        let env = Env::new();
        let e = env.run(&DEF, json!({"duration": "-PT1S"})).await.unwrap_err();
        assert!(e.to_string().contains("duration"), "{e}");
        let e = env.run(&DEF, json!({"duration": "soon"})).await.unwrap_err();
        assert!(e.to_string().contains("duration"), "{e}");
    }
}
