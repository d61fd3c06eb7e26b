//! The debug tasks: `io.kestra.plugin.core.debug.Return` renders `format`
//! and returns it as the output `value` (a string), with Kestra's metrics
//! (counter `length`, timer `duration`, tagged `format`); the deprecated
//! `io.kestra.plugin.core.debug.Echo` logs its (required, non-blank)
//! `format` at `level` (INFO by default) and has no outputs.

use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::Declare;
use crate::registry::PluginDef;
use crate::{RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// Render a template and keep it as an output.
///
/// Renders `format` and exposes the text as the output `value`, for later tasks to read.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.core.debug.Return",
    aliases = ["io.kestra.core.tasks.debugs.Return"],
    group = "core",
    example = "id: greeting\ntype: io.kestra.plugin.core.debug.Return\nformat: \"Hello from {{ flow.namespace }}\"\n",
    outputs(
        value(String, "The rendered text.")
    ),
)]
struct Props {
    /// The template to render.
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
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let start = std::time::Instant::now();
        let mut out = Map::new();
        if let Some(f) = &self.format {
            out.insert("value".into(), Value::String(f.clone()));
        }
        // Kestra's metrics: the value's length (in UTF-16 units, Java's) and
        // how long producing it took, tagged with the value
        let format = self.format.as_deref().unwrap_or("");
        let length = self.format.as_deref().map_or(0, |f| f.encode_utf16().count());
        cx.counter("length", length as f64, &[("format", format)]);
        cx.timer("duration", start.elapsed(), &[("format", format)]);
        Ok(TaskOutput::with(out))
    }
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));

/// Log a rendered template (deprecated: use Log).
///
/// Kestra's older Echo: renders `format` and logs it at `level`.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.core.debug.Echo",
    aliases = ["io.kestra.core.tasks.debugs.Echo"],
    group = "core",
    example = "id: echo\ntype: io.kestra.plugin.core.debug.Echo\nformat: \"tick {{ execution.id }}\"\n",
)]
struct EchoProps {
    /// The template to log.
    #[serde(deserialize_with = "de::string_lenient")]
    format: String,
    /// The log level.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(values = ["TRACE", "DEBUG", "INFO", "WARN", "WARNING", "ERROR"])]
    level: Option<String>,
}

/// `debug.Echo`, built from rendered properties.
#[derive(Debug)]
pub struct Echo {
    format: String,
    level: &'static str,
}

fn build_echo(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: EchoProps = parse_props(props)?;
    if p.format.trim().is_empty() {
        return Err(TaskError::property("format", "must not be blank"));
    }
    let level = super::log::parse_level(p.level.as_deref())?;
    Ok(Box::new(Echo { format: p.format, level }))
}

#[async_trait]
impl RunnableTask for Echo {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        cx.log(self.level, &self.format);
        Ok(TaskOutput::empty())
    }
}

pub static ECHO: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<EchoProps>(build_echo));

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::core::test_support::Env;

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

    #[tokio::test]
    async fn echo_logs_format_at_level() {
        let env = Env::new();
        let out = env.run(&ECHO, json!({"format": "hi {{ inputs.name }}", "level": "WARN"})).await.unwrap();
        assert!(out.outputs.is_empty());
        env.run(&ECHO, json!({"format": "plain"})).await.unwrap();
        assert_eq!(env.logs.text(), vec!["WARN hi world", "INFO plain"]);
        let e = env.run(&ECHO, json!({"format": "  "})).await.unwrap_err();
        assert!(e.to_string().contains("format"), "{e}");
        let e = env.run(&ECHO, json!({})).await.unwrap_err();
        assert!(e.to_string().contains("format"), "{e}");
    }
}
