//! `io.kestra.plugin.meta.whatsapp.WhatsAppIncomingWebhook` (a payload
//! posted to a WhatsApp on-premises webhook as written) and
//! `WhatsAppExecution` (the execution summary in the message Kestra's
//! WhatsApp template builds, with `contacts`, `messages` and
//! `recipient_id` set over it from `profileName`, `whatsAppIds`, `from`,
//! `messageId`, `textBody` and `recipientId`). Both keep their former
//! `io.kestra.plugin.notifications.whatsapp` names as aliases.

use std::sync::LazyLock;

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::summary::{Summary, SummaryProps};
use super::task::{Posted, Summarized, Summarizes};
use super::webhook::{Target, payload_text};
use crate::registry::PluginDef;
use crate::{Declare, RunnableTask, TaskError, de, parse_props};

/// Send a WhatsApp message through an incoming webhook.
///
/// Posts `payload` (the JSON your WhatsApp on-premises webhook expects) to the webhook URL.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.meta.whatsapp.WhatsAppIncomingWebhook",
    aliases = ["io.kestra.plugin.notifications.whatsapp.WhatsAppIncomingWebhook"],
    group = "core",
    example = "id: whatsapp\ntype: io.kestra.plugin.meta.whatsapp.WhatsAppIncomingWebhook\nurl: \"{{ secret('WHATSAPP_WEBHOOK') }}\"\npayload: |\n  {\"profileName\": \"Baton\", \"whatsAppIds\": [\"IdNo1\"], \"from\": 380999999999}\n"
)]
struct IncomingProps {
    #[serde(flatten)]
    target: Target,
    /// The message (JSON), sent as written.
    #[prop(kind = "String")]
    payload: Value,
}

/// Send a WhatsApp message with an execution's summary.
///
/// Posts the summary of this execution (or `executionId`) as a WhatsApp text message: namespace, flow, id, state, the last task, the outcome with its duration and a link to its page when `BATON_URL` is set.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.meta.whatsapp.WhatsAppExecution",
    aliases = ["io.kestra.plugin.notifications.whatsapp.WhatsAppExecution"],
    group = "core",
    example = "id: alert\ntype: io.kestra.plugin.meta.whatsapp.WhatsAppExecution\nurl: \"{{ secret('WHATSAPP_WEBHOOK') }}\"\nprofileName: Baton\nfrom: \"380999999999\"\nwhatsAppIds:\n  - \"some waId\"\nexecutionId: \"{{ trigger.executionId }}\"\n"
)]
struct ExecutionProps {
    #[serde(flatten)]
    target: Target,
    /// The contacts' profile name (with `whatsAppIds`, sets `contacts`).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    profile_name: Option<String>,
    /// The contacts' WhatsApp ids (with `profileName`, sets `contacts`).
    #[serde(default, deserialize_with = "de::string_or_list")]
    #[prop(kind = "List")]
    whats_app_ids: Vec<String>,
    /// The sender's WhatsApp id (phone number): when set, the message is rebuilt with it.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    from: Option<String>,
    /// The message's id (with `from`).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    message_id: Option<String>,
    /// A text sent in place of the summary (with `from`).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    text_body: Option<String>,
    /// Sent as `recipient_id`.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    recipient_id: Option<String>,
    /// Replaced by the execution summary, as in Kestra (whose WhatsAppExecution inherits it from WhatsAppIncomingWebhook and overwrites it): the task logs a warning when it is set.
    #[serde(default)]
    #[prop(kind = "String")]
    payload: Option<Value>,
    #[serde(flatten)]
    summary: SummaryProps,
}

/// Kestra's WhatsApp template (no contacts: its values are not the
/// template's), with the written properties set over it.
fn execution_message(s: &Summary, p: &ExecutionProps) -> Value {
    let text = json!({"body": [
        format!("Namespace {}", s.namespace),
        format!("Flow ID {}", s.flow_id),
        format!("Execution ID {}", s.id),
        format!("Execution Status {}", s.state.as_str()),
        format!("Final task ID {}", s.last_task.as_deref().unwrap_or_default()),
        format!("*<{}|{}>*\n> {}", s.link.as_deref().unwrap_or_default(), s.title(), s.outcome()),
    ]});
    let mut m = Map::new();
    let contacts: Vec<Value> = match &p.profile_name {
        Some(name) => p.whats_app_ids.iter().map(|id| json!({"profile": {"name": name}, "wa_id": id})).collect(),
        None => Vec::new(),
    };
    m.insert("contacts".into(), Value::Array(contacts));
    let message = match &p.from {
        None => json!({"text": text, "type": "text"}),
        Some(from) => {
            let mut msg = Map::new();
            msg.insert("from".into(), json!(from));
            if let Some(id) = &p.message_id {
                msg.insert("id".into(), json!(id));
            }
            let text = p.text_body.as_ref().map_or(text, |b| json!({"body": b}));
            msg.insert("text".into(), text);
            msg.insert("type".into(), json!("text"));
            Value::Object(msg)
        }
    };
    m.insert("messages".into(), json!([message]));
    if let Some(r) = &p.recipient_id {
        m.insert("recipient_id".into(), json!(r));
    }
    Value::Object(m)
}

fn build_incoming(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: IncomingProps = parse_props(props)?;
    Ok(Posted::task("WhatsApp", p.target, payload_text(&p.payload)))
}

impl Summarizes for ExecutionProps {
    const TASK: &'static str = "WhatsAppExecution";
    const SERVICE: &'static str = "WhatsApp";

    fn target(&self) -> &Target {
        &self.target
    }

    fn summary(&self) -> &SummaryProps {
        &self.summary
    }

    fn message(&self, s: &Summary) -> Value {
        execution_message(s, self)
    }

    fn replaced_payload(&self) -> Option<&Value> {
        self.payload.as_ref()
    }
}

pub static INCOMING: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<IncomingProps>(build_incoming));

pub static EXECUTION: LazyLock<PluginDef> =
    LazyLock::new(|| PluginDef::declare::<ExecutionProps>(Summarized::<ExecutionProps>::build));
