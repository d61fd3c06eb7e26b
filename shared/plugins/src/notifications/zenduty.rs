//! `io.kestra.plugin.zenduty.ZendutyAlert` (a payload posted to a Zenduty
//! events integration as written) and `ZendutyExecution` (the execution
//! as a Zenduty event: Kestra's template — message, alert type from the
//! outcome, entity id, the execution's link, its facts and a summary —
//! with `message`, `summary`, `alertType`, `entityId` and `urls` set over
//! it). Both keep their `io.kestra.plugin.notifications.zenduty` names as
//! aliases. Kestra's Zenduty template shows neither `customMessage` nor
//! `customFields`; they are accepted and, as there, not sent.

use std::sync::LazyLock;

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::summary::{Summary, SummaryProps};
use super::task::{Posted, Summarized, Summarizes};
use super::webhook::{Target, payload_text};
use crate::registry::PluginDef;
use crate::{Declare, RunnableTask, TaskError, de, parse_props};

/// Send an alert to Zenduty.
///
/// Posts `payload` (a Zenduty event, as JSON) to a Zenduty events integration URL.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.zenduty.ZendutyAlert",
    aliases = ["io.kestra.plugin.notifications.zenduty.ZendutyAlert"],
    group = "core",
    example = "id: zenduty\ntype: io.kestra.plugin.zenduty.ZendutyAlert\nurl: \"https://www.zenduty.com/api/events/{{ secret('ZENDUTY_INTEGRATION_KEY') }}/\"\npayload: |\n  {\"alert_type\": \"error\", \"message\": \"Flow {{ flow.id }} failed\", \"summary\": \"{{ execution.id }}\"}\n"
)]
struct AlertProps {
    #[serde(flatten)]
    target: Target,
    /// The event (JSON), sent as written.
    #[prop(kind = "String")]
    payload: Value,
}

/// Send an execution's summary to Zenduty as an event.
///
/// Posts this execution (or `executionId`) as a Zenduty event: `resolved` when it succeeded, `error` otherwise, with its link and facts.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.zenduty.ZendutyExecution",
    aliases = ["io.kestra.plugin.notifications.zenduty.ZendutyExecution"],
    group = "core",
    example = "id: alert\ntype: io.kestra.plugin.zenduty.ZendutyExecution\nurl: \"https://www.zenduty.com/api/events/{{ secret('ZENDUTY_INTEGRATION_KEY') }}/\"\nexecutionId: \"{{ trigger.executionId }}\"\n"
)]
struct ExecutionProps {
    #[serde(flatten)]
    target: Target,
    /// The event's message (default `Kestra workflow execution`).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    message: Option<String>,
    /// The event's summary (default: the execution, its flow and its state).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    summary: Option<String>,
    /// The event's type (default `resolved` when the execution succeeded, `error` otherwise).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(values = ["CRITICAL", "ACKNOWLEDGED", "RESOLVED", "ERROR", "WARNING", "INFO"])]
    alert_type: Option<String>,
    /// The event's entity id (default: the execution's id).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    entity_id: Option<String>,
    /// URLs sent instead of the execution's link.
    #[serde(default, deserialize_with = "de::string_or_list")]
    #[prop(kind = "StringOrList")]
    urls: Vec<String>,
    /// Replaced by the execution's event, as in Kestra: the task logs a warning when it is set.
    #[serde(default)]
    #[prop(kind = "String")]
    payload: Option<Value>,
    #[serde(flatten)]
    execution: SummaryProps,
}

/// Kestra's Zenduty template, with the written properties over it.
fn execution_event(s: &Summary, p: &ExecutionProps) -> Value {
    let alert_type = match (&p.alert_type, &s.first_failed) {
        (Some(t), _) => t.to_ascii_lowercase(),
        (None, None) => "resolved".into(),
        (None, Some(_)) => "error".into(),
    };
    let urls = if p.urls.is_empty() {
        json!([{"link_url": s.link.as_deref().unwrap_or_default(), "link_text": "Execution link"}])
    } else {
        json!(p.urls)
    };
    json!({
        "message": p.message.as_deref().unwrap_or("Kestra workflow execution"),
        "alert_type": alert_type,
        "entity_id": p.entity_id.as_deref().unwrap_or(&s.id),
        "urls": urls,
        "payload": {
            "Namespace": s.namespace,
            "Flow ID": s.flow_id,
            "Execution ID": s.id,
            "Execution Status": s.state.as_str(),
            "Final task ID": s.last_task.as_deref().unwrap_or_default(),
            "Duration": s.duration,
        },
        "summary": p.summary.clone().unwrap_or_else(|| format!(
            "Kestra workflow execution {} of a flow {} in the namespace {} changed status to {}",
            s.id, s.flow_id, s.namespace, s.state.as_str()
        )),
    })
}

fn build_alert(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: AlertProps = parse_props(props)?;
    Ok(Posted::task("Zenduty", p.target, payload_text(&p.payload)))
}

impl Summarizes for ExecutionProps {
    const TASK: &'static str = "ZendutyExecution";
    const SERVICE: &'static str = "Zenduty";

    fn target(&self) -> &Target {
        &self.target
    }

    fn summary(&self) -> &SummaryProps {
        &self.execution
    }

    fn message(&self, s: &Summary) -> Value {
        execution_event(s, self)
    }

    fn replaced_payload(&self) -> Option<&Value> {
        self.payload.as_ref()
    }
}

pub static ALERT: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<AlertProps>(build_alert));

pub static EXECUTION: LazyLock<PluginDef> =
    LazyLock::new(|| PluginDef::declare::<ExecutionProps>(Summarized::<ExecutionProps>::build));
