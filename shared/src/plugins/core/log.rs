//! `io.kestra.plugin.core.log.Log`: writes one log line per message at the
//! given level. No outputs.

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::plugins::registry::{PluginDef, PropKind, PropSpec};
use crate::plugins::{RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// Kestra's log levels.
pub const LEVELS: &[&str] = &["TRACE", "DEBUG", "INFO", "WARN", "ERROR"];

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Props {
    #[serde(deserialize_with = "de::string_or_list")]
    message: Vec<String>,
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
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

pub const DEF: PluginDef = PluginDef {
    type_name: "io.kestra.plugin.core.log.Log",
    aliases: &["io.kestra.core.tasks.log.Log"],
    group: "core",
    props: &[PropSpec::required("message", PropKind::StringOrList), PropSpec::optional("level", PropKind::String)],
    build,
};

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::plugins::core::test_support::Env;

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
