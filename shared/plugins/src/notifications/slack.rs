//! `io.kestra.plugin.notifications.slack.SlackIncomingWebhook` (a payload,
//! or `messageText` with its Markdown turned into Slack's mrkdwn) and
//! `SlackExecution` (the execution summary as Slack blocks and an
//! attachment, as Kestra's template lays it out).

use std::sync::LazyLock;

use regex::Regex;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::summary::{Summary, SummaryProps};
use super::task::{Posted, Summarized, Summarizes};
use super::webhook::Target;
use crate::registry::PluginDef;
use crate::{Declare, RunnableTask, TaskError, de, parse_props};

/// Send a Slack message through an incoming webhook.
///
/// Posts `payload` (Slack's JSON message), or `messageText` (a JSON message, or text whose Markdown bold, italic and links become Slack's mrkdwn) to a Slack incoming webhook.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.notifications.slack.SlackIncomingWebhook",
    // the plugin's own package since it left plugin-notifications
    aliases = ["io.kestra.plugin.slack.notifications.SlackIncomingWebhook"],
    group = "core",
    example = "id: slack\ntype: io.kestra.plugin.notifications.slack.SlackIncomingWebhook\nurl: \"{{ secret('SLACK_WEBHOOK') }}\"\npayload: |\n  {\"text\": \"Flow {{ flow.id }} failed: {{ execution.id }}\"}\n"
)]
struct IncomingProps {
    #[serde(flatten)]
    target: Target,
    /// The message, as Slack's JSON (wins over `messageText`).
    #[serde(default)]
    #[prop(kind = "String")]
    payload: Option<Value>,
    /// The message as text (Markdown) or a JSON message; text is sent as `{"text": …}`.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    message_text: Option<String>,
}

/// Send a Slack message with an execution's summary.
///
/// Posts the summary of this execution (or `executionId`, e.g. `{{ trigger.executionId }}` under a Flow trigger): namespace, flow, id, state, duration, the last (failed) task, a link to its page when `BATON_URL` is set, the custom message and fields.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.notifications.slack.SlackExecution",
    // the plugin's own package since it left plugin-notifications
    aliases = ["io.kestra.plugin.slack.notifications.SlackExecution"],
    group = "core",
    example = "id: alert\ntype: io.kestra.plugin.notifications.slack.SlackExecution\nurl: \"{{ secret('SLACK_WEBHOOK') }}\"\nexecutionId: \"{{ trigger.executionId }}\"\n"
)]
struct ExecutionProps {
    #[serde(flatten)]
    target: Target,
    #[serde(flatten)]
    sender: Sender,
    /// Replaced by the execution summary, as in Kestra (whose SlackExecution inherits it from SlackIncomingWebhook and overwrites it): the task logs a warning when it is set. Use `customMessage`.
    #[serde(default)]
    #[prop(kind = "String")]
    payload: Option<Value>,
    #[serde(flatten)]
    summary: SummaryProps,
}

/// Who a summary seems to come from, and where it goes (Slack's legacy
/// webhooks, Zulip), set over the summary message; `#[serde(flatten)]`ed.
#[derive(Debug, Default, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
pub struct Sender {
    /// The channel (or stream) to post to, over the webhook's.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    channel: Option<String>,
    /// The sender's name shown.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    username: Option<String>,
    /// The URL of the sender's icon.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    icon_url: Option<String>,
    /// The sender's icon as an emoji.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    icon_emoji: Option<String>,
}

impl Sender {
    /// Sets the written fields on `message` (`channel`, `username`, `icon_url`, `icon_emoji`).
    pub fn apply(&self, message: &mut Value) {
        let fields = [
            ("channel", &self.channel),
            ("username", &self.username),
            ("icon_url", &self.icon_url),
            ("icon_emoji", &self.icon_emoji),
        ];
        for (key, v) in fields {
            if let Some(v) = v {
                message[key] = Value::String(v.clone());
            }
        }
    }
}

/// Kestra's Markdown → Slack mrkdwn: `**b**` → `*b*`, `__i__` → `_i_`,
/// `[t](u)` → `<u|t>`.
pub fn to_mrkdwn(text: &str) -> String {
    static RULES: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
        [(r"\*\*(.*?)\*\*", "*$1*"), (r"__(.*?)__", "_${1}_"), (r"\[(.*?)\]\((.*?)\)", "<$2|$1>")]
            .into_iter()
            .filter_map(|(re, to)| Regex::new(re).ok().map(|r| (r, to)))
            .collect()
    });
    RULES.iter().fold(text.to_string(), |t, (re, to)| re.replace_all(&t, *to).into_owned())
}

/// The JSON posted for `payload` / `messageText`.
fn incoming_message(payload: Option<&Value>, message_text: Option<&str>) -> Result<Value, TaskError> {
    if let Some(p) = payload.filter(|p| !p.is_null()) {
        return match p {
            Value::String(s) => {
                serde_json::from_str(s).map_err(|e| TaskError::property("payload", format!("is not valid JSON: {e}")))
            }
            other => Ok(other.clone()),
        };
    }
    if let Some(text) = message_text {
        return Ok(match serde_json::from_str::<Value>(text) {
            Ok(v @ (Value::Object(_) | Value::Array(_))) => v,
            _ => json!({ "text": to_mrkdwn(text) }),
        });
    }
    Err(TaskError::property("payload", "either 'messageText' or 'payload' must be provided"))
}

/// The Slack message of an execution summary.
pub fn execution_message(s: &Summary) -> Value {
    let title = match &s.link {
        Some(link) => format!("*<{link}|{}>*", s.title()),
        None => format!("*{}*", s.title()),
    };
    let text = format!("{title}\n> {}", s.outcome());
    let mut blocks = Vec::new();
    if let Some(m) = &s.custom_message {
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": m}}));
    }
    let mut main = json!({"type": "section", "text": {"type": "mrkdwn", "text": text}});
    if let Some(link) = &s.link {
        main["accessory"] = json!({"type": "button", "text": {"type": "plain_text", "text": "Details"}, "url": link});
    }
    blocks.push(main);
    let field = |title: &str, value: Value| json!({"title": title, "value": value, "short": true});
    let mut fields = vec![
        field("Namespace", json!(s.namespace)),
        field("Flow ID", json!(s.flow_id)),
        field("Execution ID", json!(s.id)),
        field("Execution Status", json!(s.state.as_str())),
    ];
    fields.extend(s.custom_fields.iter().map(|(k, v)| field(k, v.clone())));
    fields.push(field("Final task ID", json!(s.last_task)));
    let color = match s.state.as_str() {
        "SUCCESS" => "good",
        "WARNING" => "warning",
        _ => "danger",
    };
    json!({
        "text": text,
        "blocks": blocks,
        "attachments": [{"color": color, "fields": fields, "ts": s.start_date.timestamp()}],
    })
}

fn build_incoming(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: IncomingProps = parse_props(props)?;
    let message = incoming_message(p.payload.as_ref(), p.message_text.as_deref())?;
    Ok(Posted::task("Slack", p.target, message.to_string()))
}

impl Summarizes for ExecutionProps {
    const TASK: &'static str = "SlackExecution";
    const SERVICE: &'static str = "Slack";

    fn target(&self) -> &Target {
        &self.target
    }

    fn summary(&self) -> &SummaryProps {
        &self.summary
    }

    fn message(&self, s: &Summary) -> Value {
        let mut message = execution_message(s);
        self.sender.apply(&mut message);
        message
    }

    fn replaced_payload(&self) -> Option<&Value> {
        self.payload.as_ref()
    }
}

pub static INCOMING: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<IncomingProps>(build_incoming));

pub static EXECUTION: LazyLock<PluginDef> =
    LazyLock::new(|| PluginDef::declare::<ExecutionProps>(Summarized::<ExecutionProps>::build));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_becomes_mrkdwn() {
        assert_eq!(to_mrkdwn("**bold** and __it__ [site](https://x.io)"), "*bold* and _it_ <https://x.io|site>");
    }

    #[test]
    fn the_payload_wins_and_text_is_wrapped() {
        let p = json!("{\"text\": \"hi\"}");
        assert_eq!(incoming_message(Some(&p), Some("ignored")).unwrap(), json!({"text": "hi"}));
        assert_eq!(incoming_message(None, Some("**hi**")).unwrap(), json!({"text": "*hi*"}));
        assert_eq!(incoming_message(None, Some("{\"blocks\": []}")).unwrap(), json!({"blocks": []}));
        assert!(incoming_message(Some(&json!("not json")), None).unwrap_err().to_string().contains("payload"));
        assert!(incoming_message(None, None).is_err());
    }
}
