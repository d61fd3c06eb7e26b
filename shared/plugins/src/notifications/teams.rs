//! `io.kestra.plugin.notifications.teams.TeamsIncomingWebhook` (a payload
//! posted as written) and `TeamsExecution` (the execution summary as an
//! Office 365 `MessageCard`, as Kestra's template lays it out, with the
//! custom message and fields, which Kestra's template leaves out).

use std::sync::LazyLock;

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::summary::{Summary, SummaryProps};
use super::task::{Posted, Summarized, Summarizes};
use super::webhook::{Target, payload_text};
use crate::registry::PluginDef;
use crate::{Declare, RunnableTask, TaskError, de, parse_props};

/// Send a Microsoft Teams message through an incoming webhook.
///
/// Posts `payload` (a Teams message card or adaptive card, as JSON) to a Microsoft Teams incoming webhook.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.notifications.teams.TeamsIncomingWebhook",
    // the plugin's own package since it left plugin-notifications
    aliases = ["io.kestra.plugin.microsoft365.teams.TeamsIncomingWebhook"],
    group = "core",
    example = "id: teams\ntype: io.kestra.plugin.notifications.teams.TeamsIncomingWebhook\nurl: \"{{ secret('TEAMS_WEBHOOK') }}\"\npayload: |\n  {\"text\": \"Flow {{ flow.id }} failed: {{ execution.id }}\"}\n"
)]
struct IncomingProps {
    #[serde(flatten)]
    target: Target,
    /// The message (JSON), sent as written.
    #[prop(kind = "String")]
    payload: Value,
}

/// Send a Microsoft Teams message with an execution's summary.
///
/// Posts the summary of this execution (or `executionId`) as a message card: namespace, flow, id, state, duration, the last (failed) task, a link to its page when `BATON_URL` is set, the custom message and fields.
#[derive(Debug, Clone, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.notifications.teams.TeamsExecution",
    // the plugin's own package since it left plugin-notifications
    aliases = ["io.kestra.plugin.microsoft365.teams.TeamsExecution"],
    group = "core",
    example = "id: alert\ntype: io.kestra.plugin.notifications.teams.TeamsExecution\nurl: \"{{ secret('TEAMS_WEBHOOK') }}\"\nexecutionId: \"{{ trigger.executionId }}\"\n"
)]
struct ExecutionProps {
    #[serde(flatten)]
    target: Target,
    /// The card's theme color (hex, no `#`).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(default = "\"0076D7\"")]
    theme_color: Option<String>,
    /// The section's activity title.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    activity_title: Option<String>,
    /// The section's activity subtitle.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    activity_subtitle: Option<String>,
    /// Replaced by the execution summary, as in Kestra (whose TeamsExecution inherits it from TeamsIncomingWebhook and overwrites it): the task logs a warning when it is set. Use `customMessage`.
    #[serde(default)]
    #[prop(kind = "String")]
    payload: Option<Value>,
    #[serde(flatten)]
    summary: SummaryProps,
}

/// The message card of an execution summary.
fn execution_card(s: &Summary, p: &ExecutionProps) -> Value {
    let title = match &s.link {
        Some(link) => format!("[{}]({link})", s.title()),
        None => s.title(),
    };
    let fact = |name: &str, value: String| json!({"name": name, "value": value});
    let mut facts = vec![
        fact("Namespace", s.namespace.clone()),
        fact("Flow ID", s.flow_id.clone()),
        fact("Execution ID", s.id.clone()),
        fact("Execution Status", s.state.as_str().to_string()),
        fact("Final task ID", s.last_task.clone().unwrap_or_default()),
    ];
    facts.extend(s.custom_text().into_iter().map(|(k, v)| fact(&k, v)));
    let mut section = Map::new();
    if let Some(t) = &p.activity_title {
        section.insert("activityTitle".into(), json!(t));
    }
    if let Some(t) = &p.activity_subtitle {
        section.insert("activitySubtitle".into(), json!(t));
    }
    if let Some(m) = &s.custom_message {
        section.insert("text".into(), json!(m));
    }
    section.insert("facts".into(), Value::Array(facts));
    section.insert("markdown".into(), json!(true));
    json!({
        "@type": "MessageCard",
        "@context": "http://schema.org/extensions",
        "themeColor": p.theme_color.as_deref().unwrap_or("0076D7"),
        "summary": format!("{title}\n> {}", s.outcome()),
        "sections": [Value::Object(section)],
    })
}

fn build_incoming(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: IncomingProps = parse_props(props)?;
    Ok(Posted::task("Microsoft Teams", p.target, payload_text(&p.payload)))
}

impl Summarizes for ExecutionProps {
    const TASK: &'static str = "TeamsExecution";
    const SERVICE: &'static str = "Microsoft Teams";

    fn target(&self) -> &Target {
        &self.target
    }

    fn summary(&self) -> &SummaryProps {
        &self.summary
    }

    fn message(&self, s: &Summary) -> Value {
        execution_card(s, self)
    }

    fn replaced_payload(&self) -> Option<&Value> {
        self.payload.as_ref()
    }
}

pub static INCOMING: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<IncomingProps>(build_incoming));

pub static EXECUTION: LazyLock<PluginDef> =
    LazyLock::new(|| PluginDef::declare::<ExecutionProps>(Summarized::<ExecutionProps>::build));
