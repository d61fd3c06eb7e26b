//! `io.kestra.plugin.line.LineExecution`: the execution summary as a LINE
//! broadcast text message (Kestra's template: state, id, namespace, flow,
//! start, duration, the failed task, the custom message and fields, the
//! link), or `textBody` as written, posted to the Messaging API's broadcast
//! endpoint with the channel access token. Keeps its
//! `io.kestra.plugin.notifications.line` name as an alias.

use std::fmt::Write as _;
use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::summary::{Summary, SummaryProps};
use super::webhook::{Options, Target};
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// LINE's broadcast endpoint.
const BROADCAST: &str = "https://api.line.me/v2/bot/message/broadcast";

/// Broadcast an execution's summary on LINE.
///
/// Sends the summary of this execution (or `executionId`) — or `textBody` — as a text message to every follower of a LINE Official Account (LINE allows 60 broadcasts an hour).
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.line.LineExecution",
    aliases = ["io.kestra.plugin.notifications.line.LineExecution"],
    group = "core",
    example = "id: alert\ntype: io.kestra.plugin.line.LineExecution\nchannelAccessToken: \"{{ secret('LINE_CHANNEL_ACCESS_TOKEN') }}\"\nexecutionId: \"{{ trigger.executionId }}\"\ncustomMessage: Nightly load failed\n"
)]
struct Props {
    /// The Messaging API endpoint.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(default = "\"https://api.line.me/v2/bot/message/broadcast\"")]
    url: Option<String>,
    /// The channel access token (sent as `Authorization: Bearer …`).
    #[serde(deserialize_with = "de::string_lenient")]
    channel_access_token: String,
    /// A text sent instead of the summary.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    text_body: Option<String>,
    /// HTTP options: headers, connectTimeout, readTimeout, readIdleTimeout, maxContentLength.
    #[serde(default)]
    #[prop(kind = "Map")]
    options: Option<Options>,
    #[serde(flatten)]
    execution: SummaryProps,
}

/// Kestra's LINE template.
fn execution_text(s: &Summary) -> String {
    let mut t = format!(
        "Execution {}\n\nDetails:\n- ID: {}\n- Namespace: {}\n- Flow: {}\n- Started: {}\n- Duration: {}\n",
        s.state.as_str(),
        s.id,
        s.namespace,
        s.flow_id,
        s.start_date.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        s.duration
    );
    if let Some(f) = &s.first_failed {
        let _ = writeln!(t, "- Failed Task: {f}");
    }
    if let Some(m) = &s.custom_message {
        let _ = write!(t, "\n{m}\n");
    }
    if !s.custom_fields.is_empty() {
        t.push('\n');
        for (k, v) in s.custom_text() {
            let _ = writeln!(t, "- {k}: {v}");
        }
    }
    let _ = write!(t, "\nView Execution: {}", s.link.as_deref().unwrap_or_default());
    t
}

#[derive(Debug)]
struct Line(Box<Props>);

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    if p.channel_access_token.trim().is_empty() {
        return Err(TaskError::property("channelAccessToken", "is empty"));
    }
    Ok(Box::new(Line(Box::new(p))))
}

#[async_trait]
impl RunnableTask for Line {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let p = &self.0;
        let text = match &p.text_body {
            Some(t) => t.clone(),
            None => execution_text(&p.execution.load(cx, "LineExecution").await?),
        };
        let message = json!({"messages": [{"type": "text", "text": text}]});
        let target = Target { url: p.url.clone().unwrap_or_else(|| BROADCAST.into()), options: p.options.clone() };
        let bearer = format!("Bearer {}", p.channel_access_token);
        target.post_with(cx, "LINE", &message.to_string(), ("Authorization", &bearer)).await?;
        Ok(TaskOutput::empty())
    }
}

pub static EXECUTION: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));
