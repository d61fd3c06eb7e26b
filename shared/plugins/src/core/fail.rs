//! `io.kestra.plugin.core.execution.Fail`: fails with `errorMessage`, or,
//! with a `condition`, only when the condition renders truthy (anything but
//! `false`, `0`, `-0` and the empty string).

use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::Declare;
use crate::registry::PluginDef;
use crate::{RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// Fail the execution on purpose.
///
/// Ends the task FAILED with `errorMessage`, always or when `condition` renders true.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.core.execution.Fail",
    aliases = ["io.kestra.core.tasks.executions.Fail"],
    group = "core",
    example = "id: stop\ntype: io.kestra.plugin.core.execution.Fail\ncondition: \"{{ execution.state == 'RUNNING' }}\"\nerrorMessage: \"stopped on purpose\"\n",
)]
struct Props {
    /// Fail only when this renders true.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    condition: Option<String>,
    /// The error logged and shown.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(default = "\"Task failure\"")]
    error_message: Option<String>,
}

/// The task, built from rendered properties.
#[derive(Debug)]
pub struct Fail {
    condition: Option<String>,
    error_message: String,
}

/// Kestra's truthiness of a rendered condition.
pub fn is_truthy(s: &str) -> bool {
    let t = s.trim();
    !(t.is_empty() || t.eq_ignore_ascii_case("false") || t == "0" || t == "-0")
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    Ok(Box::new(Fail {
        condition: p.condition,
        error_message: p.error_message.unwrap_or_else(|| "Task failure".to_string()),
    }))
}

#[async_trait]
impl RunnableTask for Fail {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        if let Some(c) = &self.condition
            && !is_truthy(c)
        {
            cx.info(&format!("Condition '{c}' is false: not failing"));
            return Ok(TaskOutput::empty());
        }
        Err(TaskError::failed(self.error_message.clone()))
    }
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::core::test_support::Env;

    #[tokio::test]
    async fn fails_without_condition() {
        let env = Env::new();
        let e = env.run(&DEF, json!({})).await.unwrap_err();
        assert_eq!(e.to_string(), "Task failure");
        let e = env.run(&DEF, json!({"errorMessage": "bad {{ inputs.name }}"})).await.unwrap_err();
        assert_eq!(e.to_string(), "bad world");
    }

    #[tokio::test]
    async fn condition_decides() {
        let env = Env::new();
        for falsy in [json!("false"), json!(""), json!("0"), json!("-0"), json!(false), json!("{{ inputs.n > 100 }}")] {
            env.run(&DEF, json!({"condition": falsy})).await.unwrap();
        }
        for truthy in [json!("true"), json!("yes"), json!(true), json!("{{ inputs.n == 42 }}")] {
            let e = env.run(&DEF, json!({"condition": truthy, "errorMessage": "stop"})).await.unwrap_err();
            assert_eq!(e.to_string(), "stop");
        }
    }
}
