//! `io.kestra.plugin.opsgenie.OpsgenieAlert` (a payload posted to
//! Opsgenie's Alert API as written) and `OpsgenieExecution` (the execution
//! as an Opsgenie alert, as Kestra's template builds it: a description of
//! the execution, its last task and outcome, with `message`, `alias`,
//! `responders`, `visibleTo`, `tags` and `priority` set over it); both send
//! `authorizationToken` as the `Authorization` header (`GenieKey …`). Both
//! keep their `io.kestra.plugin.notifications.opsgenie` names as aliases.
//! Kestra's template shows neither `customMessage` nor `customFields`;
//! they are accepted and, as there, not sent.

use std::sync::LazyLock;

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::summary::{Summary, SummaryProps};
use super::task::{Posted, Summarized, Summarizes};
use super::webhook::{Target, payload_text};
use crate::registry::PluginDef;
use crate::{Declare, RunnableTask, TaskError, de, parse_props};

/// Send an alert to Opsgenie.
///
/// Posts `payload` (an Opsgenie alert, as JSON) to Opsgenie's Alert API, with `authorizationToken` as the `Authorization` header.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.opsgenie.OpsgenieAlert",
    aliases = ["io.kestra.plugin.notifications.opsgenie.OpsgenieAlert"],
    group = "core",
    example = "id: opsgenie\ntype: io.kestra.plugin.opsgenie.OpsgenieAlert\nurl: https://api.opsgenie.com/v2/alerts\nauthorizationToken: \"GenieKey {{ secret('OPSGENIE_API_KEY') }}\"\npayload: |\n  {\"message\": \"Flow {{ flow.id }} failed\", \"priority\": \"P1\"}\n"
)]
struct AlertProps {
    #[serde(flatten)]
    target: Target,
    /// The alert (JSON), sent as written.
    #[prop(kind = "String")]
    payload: Value,
    /// The `Authorization` header (`GenieKey <API key>`).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    authorization_token: Option<String>,
}

/// Send an execution's summary to Opsgenie as an alert.
///
/// Posts this execution (or `executionId`) as an Opsgenie alert described by its flow, state, last task, outcome and link.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.opsgenie.OpsgenieExecution",
    aliases = ["io.kestra.plugin.notifications.opsgenie.OpsgenieExecution"],
    group = "core",
    example = "id: alert\ntype: io.kestra.plugin.opsgenie.OpsgenieExecution\nurl: https://api.opsgenie.com/v2/alerts\nauthorizationToken: \"GenieKey {{ secret('OPSGENIE_API_KEY') }}\"\nmessage: \"Execution {{ trigger.executionId }} failed\"\npriority: P1\nexecutionId: \"{{ trigger.executionId }}\"\n"
)]
struct ExecutionProps {
    #[serde(flatten)]
    target: Target,
    /// The `Authorization` header (`GenieKey <API key>`).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    authorization_token: Option<String>,
    /// The alert's message.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    message: Option<String>,
    /// The alert's alias (Opsgenie de-duplicates alerts by it).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    alias: Option<String>,
    /// Responders: id → type (`team`, `user`, `escalation`, `schedule`).
    #[serde(default)]
    #[prop(kind = "Map")]
    responders: Option<Map<String, Value>>,
    /// Who sees the alert: id → type (`team`, `user`).
    #[serde(default)]
    #[prop(kind = "Map")]
    visible_to: Option<Map<String, Value>>,
    /// The alert's tags.
    #[serde(default, deserialize_with = "de::string_or_list")]
    #[prop(kind = "StringOrList")]
    tags: Vec<String>,
    /// The alert's priority (`P1` to `P5`).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    priority: Option<String>,
    /// Replaced by the execution's alert, as in Kestra: the task logs a warning when it is set.
    #[serde(default)]
    #[prop(kind = "String")]
    payload: Option<Value>,
    #[serde(flatten)]
    execution: SummaryProps,
}

/// `{id: type}` as Opsgenie's `[{"id", "type"}]`.
fn id_types(m: &Map<String, Value>) -> Value {
    m.iter().map(|(id, t)| json!({"id": id, "type": de::value_to_string(t)})).collect()
}

/// Kestra's Opsgenie template, with the written properties over it.
fn execution_alert(s: &Summary, p: &ExecutionProps) -> Value {
    let mut alert = Map::new();
    let description = format!(
        "*<{}|{} - Final task ID {}>*\n> {}",
        s.link.as_deref().unwrap_or_default(),
        s.title(),
        s.last_task.as_deref().unwrap_or_default(),
        s.outcome()
    );
    alert.insert("description".into(), json!(description));
    if let Some(m) = &p.message {
        alert.insert("message".into(), json!(m));
    }
    if let Some(a) = &p.alias {
        alert.insert("alias".into(), json!(a));
    }
    if let Some(r) = p.responders.as_ref().filter(|m| !m.is_empty()) {
        alert.insert("responders".into(), id_types(r));
    }
    if let Some(v) = p.visible_to.as_ref().filter(|m| !m.is_empty()) {
        alert.insert("visibleTo".into(), id_types(v));
    }
    if !p.tags.is_empty() {
        alert.insert("tags".into(), json!(p.tags));
    }
    if let Some(pr) = &p.priority {
        alert.insert("priority".into(), json!(pr));
    }
    Value::Object(alert)
}

fn build_alert(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: AlertProps = parse_props(props)?;
    Ok(Box::new(Posted {
        service: "Opsgenie",
        target: Box::new(p.target),
        payload: payload_text(&p.payload),
        header: p.authorization_token.map(|t| ("Authorization", t)),
    }))
}

impl Summarizes for ExecutionProps {
    const TASK: &'static str = "OpsgenieExecution";
    const SERVICE: &'static str = "Opsgenie";

    fn target(&self) -> &Target {
        &self.target
    }

    fn summary(&self) -> &SummaryProps {
        &self.execution
    }

    fn message(&self, s: &Summary) -> Value {
        execution_alert(s, self)
    }

    fn replaced_payload(&self) -> Option<&Value> {
        self.payload.as_ref()
    }

    fn header(&self) -> Option<(&'static str, String)> {
        self.authorization_token.clone().map(|t| ("Authorization", t))
    }
}

pub static ALERT: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<AlertProps>(build_alert));

pub static EXECUTION: LazyLock<PluginDef> =
    LazyLock::new(|| PluginDef::declare::<ExecutionProps>(Summarized::<ExecutionProps>::build));
