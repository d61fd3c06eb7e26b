//! `io.kestra.plugin.notifications.google.GoogleChatIncomingWebhook` (a
//! payload posted as written) and `GoogleChatExecution` (the execution
//! summary as one text message, which `text` replaces, as in Kestra).

use std::sync::LazyLock;

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::summary::{Summary, SummaryProps};
use super::task::{Posted, Summarized, Summarizes};
use super::webhook::{Target, payload_text};
use crate::registry::PluginDef;
use crate::{Declare, RunnableTask, TaskError, de, parse_props};

/// Send a Google Chat message through an incoming webhook.
///
/// Posts `payload` (Google Chat's JSON message) to a Google Chat space's incoming webhook.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.notifications.google.GoogleChatIncomingWebhook",
    // the plugin's own package since it left plugin-notifications
    aliases = ["io.kestra.plugin.googleworkspace.chat.GoogleChatIncomingWebhook"],
    group = "core",
    example = "id: chat\ntype: io.kestra.plugin.notifications.google.GoogleChatIncomingWebhook\nurl: \"{{ secret('GOOGLE_WEBHOOK') }}\"\npayload: |\n  {\"text\": \"Flow {{ flow.id }} failed: {{ execution.id }}\"}\n"
)]
struct IncomingProps {
    #[serde(flatten)]
    target: Target,
    /// The message (JSON), sent as written.
    #[prop(kind = "String")]
    payload: Value,
}

/// Send a Google Chat message with an execution's summary.
///
/// Posts the summary of this execution (or `executionId`) as a text message: namespace, flow, id, state, duration, the last (failed) task, a link to its page when `BATON_URL` is set, the custom message and fields; `text` replaces it.
#[derive(Debug, Clone, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.notifications.google.GoogleChatExecution",
    // the plugin's own package since it left plugin-notifications
    aliases = ["io.kestra.plugin.googleworkspace.chat.GoogleChatExecution"],
    group = "core",
    example = "id: alert\ntype: io.kestra.plugin.notifications.google.GoogleChatExecution\nurl: \"{{ secret('GOOGLE_WEBHOOK') }}\"\nexecutionId: \"{{ trigger.executionId }}\"\n"
)]
struct ExecutionProps {
    #[serde(flatten)]
    target: Target,
    /// The message's text, instead of the summary.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    text: Option<String>,
    /// Replaced by the execution summary, as in Kestra (whose GoogleChatExecution inherits it from GoogleChatIncomingWebhook and overwrites it): the task logs a warning when it is set. Use `customMessage` or `text`.
    #[serde(default)]
    #[prop(kind = "String")]
    payload: Option<Value>,
    #[serde(flatten)]
    summary: SummaryProps,
}

/// The text of an execution summary.
fn execution_text(s: &Summary) -> String {
    let mut out = String::new();
    if let Some(m) = &s.custom_message {
        out.push_str(m);
        out.push('\n');
    }
    out.push_str(&format!(
        "Execution {} of flow {} in namespace {}: status {}, final task ID {}.",
        s.id,
        s.flow_id,
        s.namespace,
        s.state.as_str(),
        s.last_task.as_deref().unwrap_or("none")
    ));
    for (k, v) in s.custom_text() {
        out.push_str(&format!("\n{k}: {v}"));
    }
    match &s.link {
        Some(link) => out.push_str(&format!("\n*<{link}|{}>*", s.title())),
        None => out.push_str(&format!("\n*{}*", s.title())),
    }
    out.push_str(&format!("\n> {}", s.outcome()));
    out
}

fn build_incoming(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: IncomingProps = parse_props(props)?;
    Ok(Posted::task("Google Chat", p.target, payload_text(&p.payload)))
}

impl Summarizes for ExecutionProps {
    const TASK: &'static str = "GoogleChatExecution";
    const SERVICE: &'static str = "Google Chat";

    fn target(&self) -> &Target {
        &self.target
    }

    fn summary(&self) -> &SummaryProps {
        &self.summary
    }

    fn message(&self, s: &Summary) -> Value {
        json!({ "text": self.text.clone().unwrap_or_else(|| execution_text(s)) })
    }

    fn replaced_payload(&self) -> Option<&Value> {
        self.payload.as_ref()
    }
}

pub static INCOMING: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<IncomingProps>(build_incoming));

pub static EXECUTION: LazyLock<PluginDef> =
    LazyLock::new(|| PluginDef::declare::<ExecutionProps>(Summarized::<ExecutionProps>::build));
