//! `io.kestra.plugin.zulip.ZulipIncomingWebhook` (a payload posted as
//! written) and `ZulipExecution` (the execution summary in the Slack-style
//! message Kestra's Zulip template builds, with `channel`, `username`,
//! `iconUrl` and `iconEmoji` set over it). Both keep their former
//! `io.kestra.plugin.notifications.zulip` names as aliases.

use std::sync::LazyLock;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::slack::{Sender, execution_message};
use super::summary::{Summary, SummaryProps};
use super::task::{Posted, Summarized, Summarizes};
use super::webhook::{Target, payload_text};
use crate::registry::PluginDef;
use crate::{Declare, RunnableTask, TaskError, parse_props};

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

fn build_incoming(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: IncomingProps = parse_props(props)?;
    Ok(Posted::task("Zulip", p.target, payload_text(&p.payload)))
}

impl Summarizes for ExecutionProps {
    const TASK: &'static str = "ZulipExecution";
    const SERVICE: &'static str = "Zulip";

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
