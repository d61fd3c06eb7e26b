//! `io.kestra.plugin.zulip.ZulipIncomingWebhook` (a payload posted as
//! written) and `ZulipExecution` (the execution summary in the Slack-style
//! message Kestra's Zulip template builds, with `channel`, `username`,
//! `iconUrl` and `iconEmoji` set over it). Both keep their former
//! `io.kestra.plugin.notifications.zulip` names as aliases.

use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::slack::{Sender, execution_message};
use super::summary::{self, SummaryProps};
use super::webhook::{Target, payload_text};
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, parse_props};

/// Send a Zulip message through an incoming webhook.
///
/// Posts `payload` (the JSON your Zulip integration expects) to a Zulip incoming webhook URL (which carries the API key).
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.zulip.ZulipIncomingWebhook",
    aliases = ["io.kestra.plugin.notifications.zulip.ZulipIncomingWebhook"],
    group = "core",
    example = "id: zulip\ntype: io.kestra.plugin.zulip.ZulipIncomingWebhook\nurl: \"{{ secret('ZULIP_WEBHOOK') }}\"\npayload: |\n  {\"text\": \"Flow {{ flow.id }} failed: {{ execution.id }}\"}\n"
)]
struct IncomingProps {
    #[serde(flatten)]
    target: Target,
    /// The message (JSON), sent as written.
    #[prop(kind = "String")]
    payload: Value,
}

/// Send a Zulip message with an execution's summary.
///
/// Posts the summary of this execution (or `executionId`): namespace, flow, id, state, duration, the last (failed) task, a link to its page when `BATON_URL` is set, the custom message and fields.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.zulip.ZulipExecution",
    aliases = ["io.kestra.plugin.notifications.zulip.ZulipExecution"],
    group = "core",
    example = "id: alert\ntype: io.kestra.plugin.zulip.ZulipExecution\nurl: \"{{ secret('ZULIP_WEBHOOK') }}\"\nchannel: \"#general\"\nexecutionId: \"{{ trigger.executionId }}\"\n"
)]
struct ExecutionProps {
    #[serde(flatten)]
    target: Target,
    #[serde(flatten)]
    sender: Sender,
    /// Replaced by the execution summary, as in Kestra (whose ZulipExecution inherits it from ZulipIncomingWebhook and overwrites it): the task logs a warning when it is set. Use `customMessage`.
    #[serde(default)]
    #[prop(kind = "String")]
    payload: Option<Value>,
    #[serde(flatten)]
    summary: SummaryProps,
}

/// The task, built from rendered properties.
#[derive(Debug)]
enum Zulip {
    Incoming { target: Target, payload: String },
    Execution(Box<ExecutionProps>),
}

fn build_incoming(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: IncomingProps = parse_props(props)?;
    Ok(Box::new(Zulip::Incoming { payload: payload_text(&p.payload), target: p.target }))
}

fn build_execution(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: ExecutionProps = parse_props(props)?;
    Ok(Box::new(Zulip::Execution(Box::new(p))))
}

#[async_trait]
impl RunnableTask for Zulip {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        match self {
            Zulip::Incoming { target, payload } => target.post(cx, "Zulip", payload).await?,
            Zulip::Execution(p) => {
                summary::warn_replaced_payload(cx, "ZulipExecution", p.payload.as_ref());
                let s = p.summary.load(cx, "ZulipExecution").await?;
                let mut message = execution_message(&s);
                p.sender.apply(&mut message);
                p.target.post(cx, "Zulip", &message.to_string()).await?;
            }
        }
        Ok(TaskOutput::empty())
    }
}

pub static INCOMING: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<IncomingProps>(build_incoming));

pub static EXECUTION: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<ExecutionProps>(build_execution));
