//! `io.kestra.plugin.core.execution.Assert`: renders each of `conditions`
//! itself (they reach the task unrendered: `#[prop(unrendered)]`) so
//! that one that fails to render counts as one
//! failed assertion instead of failing the task before the others are
//! checked; each falsy one (`false`, `0`, `-0`, empty) is an ERROR line
//! naming it. Records the `success` and `failed` counters, then fails with
//! "N assertion(s) failed!" and `errorMessage` on the next line, as Kestra.

use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::fail::is_truthy;
use crate::Declare;
use crate::registry::PluginDef;
use crate::{RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

pub const TYPE: &str = "io.kestra.plugin.core.execution.Assert";

/// Check conditions on the execution's data.
///
/// Renders each condition (a falsy one — false, 0, -0, empty — or one that cannot be rendered is a failed assertion, logged at ERROR), records the `success` and `failed` counters, and fails with the count and `errorMessage` when any failed.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = TYPE,
    group = "core",
    example = "id: check\ntype: io.kestra.plugin.core.execution.Assert\nconditions:\n  - \"{{ inputs.param == 'ok' }}\"\n  - \"{{ outputs.count.value > 0 }}\"\nerrorMessage: \"the extract is empty\"\n",
)]
struct Props {
    /// The conditions, each rendered by the task itself.
    #[serde(deserialize_with = "de::string_or_list")]
    #[prop(kind = "StringOrList", fixed, unrendered)]
    conditions: Vec<String>,
    /// Added on a line of its own to the error.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    error_message: Option<String>,
}

#[derive(Debug)]
struct Assert {
    conditions: Vec<String>,
    error_message: Option<String>,
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    if p.conditions.is_empty() {
        return Err(TaskError::property("conditions", "at least one condition is required"));
    }
    Ok(Box::new(Assert { conditions: p.conditions, error_message: p.error_message }))
}

#[async_trait]
impl RunnableTask for Assert {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let (mut success, mut failed) = (0u32, 0u32);
        for c in &self.conditions {
            match cx.services.renderer.render_str(c, cx.context(), cx.host.as_ref()) {
                Ok(r) if is_truthy(&r) => success += 1,
                Ok(_) => {
                    cx.log("ERROR", &format!("Assertion `{c}` failed!"));
                    failed += 1;
                }
                Err(e) => {
                    cx.log("ERROR", &cx.mask_text(&format!("Assertion `{c}` failed, failed to render `{e}`")));
                    failed += 1;
                }
            }
        }
        cx.counter("success", f64::from(success), &[]);
        cx.counter("failed", f64::from(failed), &[]);
        if failed == 0 {
            return Ok(TaskOutput::empty());
        }
        let mut msg = format!("{failed} assertion{} failed!", if failed > 1 { "s" } else { "" });
        if let Some(m) = &self.error_message {
            msg.push('\n');
            msg.push_str(m);
        }
        Err(TaskError::failed(msg))
    }
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::core::test_support::Env;

    #[tokio::test]
    async fn every_condition_is_checked_and_the_failures_counted() {
        let env = Env::new();
        let ok = env.run(&DEF, json!({"conditions": ["{{ inputs.name == 'world' }}", "1"]})).await;
        assert!(ok.is_ok(), "{ok:?}");
        let e = env
            .run(
                &DEF,
                json!({"conditions": ["{{ 1 + 1 == 3 }}", "{{ nope.x }}", "true"], "errorMessage": "see the inputs"}),
            )
            .await
            .unwrap_err();
        assert_eq!(e.to_string(), "2 assertions failed!\nsee the inputs");
        let e = env.run(&DEF, json!({"conditions": ["0"]})).await.unwrap_err();
        assert_eq!(e.to_string(), "1 assertion failed!");
    }
}
