//! `io.kestra.plugin.core.log.Log`: writes one log line per message at the
//! given level. No outputs.

use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::Declare;
use crate::registry::PluginDef;
use crate::{RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// Kestra's log levels.
pub const LEVELS: &[&str] = &["TRACE", "DEBUG", "INFO", "WARN", "ERROR"];

/// Write a message to the execution's logs.
///
/// Renders the message (or each message of a list) and logs it at the given level. It has no outputs.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.core.log.Log",
    aliases = ["io.kestra.core.tasks.log.Log"],
    group = "core",
    example = "id: hello\ntype: io.kestra.plugin.core.log.Log\nmessage: \"Running {{ flow.id }} as {{ execution.id }}\"\nlevel: INFO\n"
)]
struct Props {
    /// The message, or a list of messages, to log.
    #[serde(deserialize_with = "de::string_or_list")]
    #[prop(kind = "StringOrList")]
    message: Vec<String>,
    /// The log level.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(values = ["TRACE", "DEBUG", "INFO", "WARN", "WARNING", "ERROR"], default = "\"INFO\"")]
    level: Option<String>,
}

/// The task, built from rendered properties.
#[derive(Debug)]
pub struct Log {
    messages: Vec<String>,
    level: &'static str,
}

/// Kestra's level for a written `level` (INFO when absent; `WARNING` is
/// read as WARN).
pub fn parse_level(level: Option<&str>) -> Result<&'static str, TaskError> {
    Ok(match level.map(str::trim).filter(|l| !l.is_empty()) {
        None => "INFO",
        Some(l) => {
            let up = l.to_ascii_uppercase();
            // "WARNING" is a common spelling of WARN.
            let up = if up == "WARNING" { "WARN".to_string() } else { up };
            LEVELS.iter().copied().find(|x| *x == up).ok_or_else(|| {
                TaskError::property("level", format!("unknown level '{l}' (expected one of {})", LEVELS.join(", ")))
            })?
        }
    })
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    let level = parse_level(p.level.as_deref())?;
    Ok(Box::new(Log { messages: p.message, level }))
}

#[async_trait]
impl RunnableTask for Log {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        for m in &self.messages {
            cx.log(self.level, m);
        }
        Ok(TaskOutput::empty())
    }
}

/// `log.Log`, declared by [`Props`].
pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::core::test_support::Env;

    #[tokio::test]
    async fn logs_string_and_list() {
        let env = Env::new();
        let out = env.run(&DEF, json!({"message": "Hello {{ inputs.name }}"})).await.unwrap();
        assert!(out.outputs.is_empty());
        env.run(&DEF, json!({"message": ["a", "b {{ inputs.n }}"], "level": "warn"})).await.unwrap();
        assert_eq!(env.logs.text(), vec!["INFO Hello world", "WARN a", "WARN b 42"]);
    }

    #[tokio::test]
    async fn rejects_unknown_level_and_missing_message() {
        let env = Env::new();
        let e = env.run(&DEF, json!({"message": "x", "level": "LOUD"})).await.unwrap_err();
        assert!(e.to_string().contains("level"), "{e}");
        let e = env.run(&DEF, json!({})).await.unwrap_err();
        assert!(e.to_string().contains("message"), "{e}");
    }
}
