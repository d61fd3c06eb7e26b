//! `io.kestra.plugin.pagerduty.PagerDutyAlert` (a payload posted to
//! PagerDuty's Events API v2 as written) and `PagerDutyExecution` (the
//! execution as an Events API v2 event, as Kestra's template builds it:
//! source, severity from the outcome, the execution's facts and link, with
//! `routingKey`, `deduplicationKey`, `eventAction` and `payloadSummary` set
//! over it). Both keep their `io.kestra.plugin.notifications.pagerduty`
//! names as aliases. Kestra's template shows neither `customMessage` nor
//! `customFields`; they are accepted and, as there, not sent.

use std::sync::LazyLock;

use chrono::Utc;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::summary::{Summary, SummaryProps};
use super::task::{Posted, Summarized, Summarizes};
use super::webhook::{Target, payload_text};
use crate::registry::PluginDef;
use crate::{Declare, RunnableTask, TaskError, de, parse_props};

/// Send an alert to PagerDuty.
///
/// Posts `payload` (an Events API v2 event with `routing_key` and `event_action`, as JSON) to PagerDuty's events endpoint.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.pagerduty.PagerDutyAlert",
    aliases = ["io.kestra.plugin.notifications.pagerduty.PagerDutyAlert"],
    group = "core",
    example = "id: pagerduty\ntype: io.kestra.plugin.pagerduty.PagerDutyAlert\nurl: https://events.pagerduty.com/v2/enqueue\npayload: |\n  {\"routing_key\": \"{{ secret('PAGERDUTY_ROUTING_KEY') }}\", \"event_action\": \"trigger\",\n   \"payload\": {\"summary\": \"Flow {{ flow.id }} failed\", \"source\": \"baton\", \"severity\": \"error\"}}\n"
)]
struct AlertProps {
    #[serde(flatten)]
    target: Target,
    /// The event (JSON), sent as written.
    #[prop(kind = "String")]
    payload: Value,
}

/// Send an execution's summary to PagerDuty as an event.
///
/// Posts this execution (or `executionId`) as an Events API v2 event: severity `info` when it succeeded, `error` otherwise, its flow, state, last task and link.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.pagerduty.PagerDutyExecution",
    aliases = ["io.kestra.plugin.notifications.pagerduty.PagerDutyExecution"],
    group = "core",
    example = "id: alert\ntype: io.kestra.plugin.pagerduty.PagerDutyExecution\nurl: https://events.pagerduty.com/v2/enqueue\nroutingKey: \"{{ secret('PAGERDUTY_ROUTING_KEY') }}\"\npayloadSummary: \"Execution {{ trigger.executionId }} failed\"\nexecutionId: \"{{ trigger.executionId }}\"\n"
)]
struct ExecutionProps {
    #[serde(flatten)]
    target: Target,
    /// The integration key of the PagerDuty service.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    routing_key: Option<String>,
    /// The key PagerDuty correlates trigger, acknowledge and resolve events by.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    deduplication_key: Option<String>,
    /// `trigger`, `acknowledge` or `resolve` (default `trigger`).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    event_action: Option<String>,
    /// The event's summary (at most 1024 characters for PagerDuty).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    payload_summary: Option<String>,
    /// Replaced by the execution's event, as in Kestra: the task logs a warning when it is set.
    #[serde(default)]
    #[prop(kind = "String")]
    payload: Option<Value>,
    #[serde(flatten)]
    execution: SummaryProps,
}

/// Kestra's PagerDuty template, with the written properties over it.
fn execution_event(s: &Summary, p: &ExecutionProps, now: chrono::DateTime<Utc>) -> Value {
    let mut payload = Map::new();
    if let Some(summary) = &p.payload_summary {
        payload.insert("summary".into(), json!(summary));
    }
    payload.insert("source".into(), json!(format!("{} {}", s.namespace, s.id)));
    payload.insert("severity".into(), json!(if s.first_failed.is_none() { "info" } else { "error" }));
    payload.insert(
        "custom_details".into(),
        json!([
            {"title": "Flow ID", "value": s.flow_id},
            {"title": "Execution Status", "value": s.state.as_str()},
            {"title": "Final task ID", "value": s.last_task},
        ]),
    );
    payload.insert("timestamp".into(), json!(now.naive_utc().format("%Y-%m-%dT%H:%M:%S%.3f").to_string()));
    let mut event = Map::new();
    if let Some(k) = &p.routing_key {
        event.insert("routing_key".into(), json!(k));
    }
    if let Some(k) = &p.deduplication_key {
        event.insert("dedup_key".into(), json!(k));
    }
    event.insert("event_action".into(), json!(p.event_action.as_deref().unwrap_or("trigger")));
    event.insert("payload".into(), Value::Object(payload));
    let href = format!("*<{}|{}>*\n>", s.link.as_deref().unwrap_or_default(), s.title());
    event.insert("links".into(), json!([{"href": href, "text": s.outcome()}]));
    Value::Object(event)
}

fn build_alert(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: AlertProps = parse_props(props)?;
    Ok(Posted::task("PagerDuty", p.target, payload_text(&p.payload)))
}

impl Summarizes for ExecutionProps {
    const TASK: &'static str = "PagerDutyExecution";
    const SERVICE: &'static str = "PagerDuty";

    fn target(&self) -> &Target {
        &self.target
    }

    fn summary(&self) -> &SummaryProps {
        &self.execution
    }

    fn message(&self, s: &Summary) -> Value {
        execution_event(s, self, Utc::now())
    }

    fn replaced_payload(&self) -> Option<&Value> {
        self.payload.as_ref()
    }
}

pub static ALERT: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<AlertProps>(build_alert));

pub static EXECUTION: LazyLock<PluginDef> =
    LazyLock::new(|| PluginDef::declare::<ExecutionProps>(Summarized::<ExecutionProps>::build));
