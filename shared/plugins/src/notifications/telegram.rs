//! `io.kestra.plugin.telegram.TelegramSend` (a text sent with the Bot
//! API's `sendMessage`) and `TelegramExecution` (the execution summary as
//! that text, Kestra's one-line Telegram template). Both post
//! `{"chat_id", "text", "parse_mode"}` to `<endpointOverride or
//! https://api.telegram.org>/bot<token>/sendMessage` and fail unless
//! Telegram answers 200 with `"ok": true`. Both keep their former
//! `io.kestra.plugin.notifications.telegram` names as aliases.

use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::summary::{self, Summary, SummaryProps};
use super::webhook::{self, Options};
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// The Bot API's base URL.
const API: &str = "https://api.telegram.org";

/// Where and how a Telegram message is sent, `#[serde(flatten)]`ed into
/// both tasks.
#[derive(Debug, Clone, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
struct Bot {
    /// The bot's access token (`123456:ABC…`; keep it in a secret).
    #[serde(deserialize_with = "de::string_lenient")]
    token: String,
    /// The chat, user or channel (`@name`) to send to.
    #[serde(deserialize_with = "de::string_lenient")]
    channel: String,
    /// Text formatting: HTML or MarkdownV2 (default: plain text).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(values = ["HTML", "MARKDOWNV2"])]
    parse_mode: Option<String>,
    /// The Bot API's base URL, in place of https://api.telegram.org.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(default = "\"https://api.telegram.org\"")]
    endpoint_override: Option<String>,
    /// HTTP options: headers, connectTimeout, readTimeout, readIdleTimeout, maxContentLength.
    #[serde(default)]
    #[prop(kind = "Map")]
    options: Option<Options>,
}

impl Bot {
    fn check(&self) -> Result<(), TaskError> {
        if self.token.trim().is_empty() {
            return Err(TaskError::property("token", "is empty"));
        }
        if self.channel.trim().is_empty() {
            return Err(TaskError::property("channel", "is empty"));
        }
        match self.parse_mode.as_deref() {
            None | Some("HTML" | "MARKDOWNV2") => Ok(()),
            Some(other) => Err(TaskError::property("parseMode", format!("'{other}' is not HTML or MARKDOWNV2"))),
        }
    }

    /// Sends `text` with `sendMessage`.
    async fn send(&self, cx: &RunContext, text: &str) -> Result<(), TaskError> {
        let mut message = json!({"chat_id": self.channel, "text": text});
        if let Some(mode) = &self.parse_mode {
            message["parse_mode"] = json!(if mode == "HTML" { "HTML" } else { "MarkdownV2" });
        }
        let base = self.endpoint_override.as_deref().unwrap_or(API);
        let url = format!("{base}/bot{}/sendMessage", self.token);
        let options = self.options.clone().unwrap_or_default();
        let answer = webhook::send(cx, "Telegram", &url, (&message.to_string(), "application/json"), &options).await?;
        let ok = serde_json::from_str::<Value>(&answer.body).ok().and_then(|b| b.get("ok").and_then(Value::as_bool));
        if answer.status != 200 || ok != Some(true) {
            return Err(TaskError::failed(format!(
                "Unable to send Telegram message: {} (the answer is not 200 with \"ok\": true)",
                answer.status
            )));
        }
        Ok(())
    }
}

/// Send a Telegram message.
///
/// Sends `payload` as the text of a message to `channel` with the Bot API's `sendMessage`.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.telegram.TelegramSend",
    aliases = ["io.kestra.plugin.notifications.telegram.TelegramSend"],
    group = "core",
    example = "id: telegram\ntype: io.kestra.plugin.telegram.TelegramSend\ntoken: \"{{ secret('TELEGRAM_TOKEN') }}\"\nchannel: \"2072728690\"\npayload: \"Flow {{ flow.id }} failed: {{ execution.id }}\"\n"
)]
struct SendProps {
    #[serde(flatten)]
    bot: Bot,
    /// The message's text, sent as written.
    #[serde(deserialize_with = "de::string_lenient")]
    payload: String,
}

/// Send a Telegram message with an execution's summary.
///
/// Sends the summary of this execution (or `executionId`) as one line: namespace, flow, id, state, the last task, the outcome with its duration and a link to its page when `BATON_URL` is set.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.telegram.TelegramExecution",
    aliases = ["io.kestra.plugin.notifications.telegram.TelegramExecution"],
    group = "core",
    example = "id: alert\ntype: io.kestra.plugin.telegram.TelegramExecution\ntoken: \"{{ secret('TELEGRAM_TOKEN') }}\"\nchannel: \"2072728690\"\nexecutionId: \"{{ trigger.executionId }}\"\n"
)]
struct ExecutionProps {
    #[serde(flatten)]
    bot: Bot,
    /// Replaced by the execution summary, as in Kestra (whose TelegramExecution inherits it from TelegramSend and overwrites it): the task logs a warning when it is set.
    #[serde(default)]
    #[prop(kind = "String")]
    payload: Option<Value>,
    #[serde(flatten)]
    summary: SummaryProps,
}

/// Kestra's Telegram template (quotes included); it shows neither the
/// custom message nor the custom fields.
fn execution_text(s: &Summary) -> String {
    format!(
        "\"<{} {} {} ➛ {} - Final task ID ➛ {}> {} ({})\"",
        s.namespace,
        s.flow_id,
        s.id,
        s.state.as_str(),
        s.last_task.as_deref().unwrap_or_default(),
        s.outcome(),
        s.link.as_deref().unwrap_or_default()
    )
}

#[derive(Debug)]
enum Telegram {
    Send(Box<Bot>, String),
    Execution(Box<Bot>, Option<Value>, SummaryProps),
}

fn build_send(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: SendProps = parse_props(props)?;
    p.bot.check()?;
    Ok(Box::new(Telegram::Send(Box::new(p.bot), p.payload)))
}

fn build_execution(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: ExecutionProps = parse_props(props)?;
    p.bot.check()?;
    Ok(Box::new(Telegram::Execution(Box::new(p.bot), p.payload, p.summary)))
}

#[async_trait]
impl RunnableTask for Telegram {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        match self {
            Telegram::Send(bot, text) => bot.send(cx, text).await?,
            Telegram::Execution(bot, payload, summary) => {
                summary::warn_replaced_payload(cx, "TelegramExecution", payload.as_ref());
                let s = summary.load(cx, "TelegramExecution").await?;
                bot.send(cx, &execution_text(&s)).await?;
            }
        }
        Ok(TaskOutput::empty())
    }
}

pub static SEND: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<SendProps>(build_send));

pub static EXECUTION: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<ExecutionProps>(build_execution));
