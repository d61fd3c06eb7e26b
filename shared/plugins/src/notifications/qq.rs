//! `io.kestra.plugin.tencent.qq.QQIncomingWebhook` (a payload posted to a
//! Tencent Cloud IM REST endpoint as written, with `token` as a Bearer
//! header) and `QQExecution` (the execution summary, Kestra's QQ text
//! template, sent to each of `recipientIds` as a `TIMTextElem` message).
//! Both fail unless the endpoint answers 200, as Kestra's do.

use std::fmt::Write as _;
use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::summary::{self, Summary, SummaryProps};
use super::webhook::{self, Options, payload_text};
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// The endpoint both tasks post to, `#[serde(flatten)]`ed into them.
#[derive(Debug, Clone, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
struct Endpoint {
    /// The Tencent Cloud IM REST endpoint (e.g. https://console.tim.qq.com/v4/openim/sendmsg?sdkappid=…).
    #[serde(deserialize_with = "de::string_lenient")]
    url: String,
    /// Sent as `Authorization: Bearer <token>` by QQIncomingWebhook; QQExecution does not send it (as in Kestra).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    token: Option<String>,
    /// The message: QQIncomingWebhook posts it as written (JSON); required by QQExecution too, as in Kestra, which replaces it with the summary (a warning is logged).
    #[prop(kind = "String")]
    payload: Value,
    /// HTTP options: headers, connectTimeout, readIdleTimeout.
    #[serde(default)]
    #[prop(kind = "Map", check = options_ok)]
    options: Option<Options>,
}

/// The options Kestra's QQ tasks take.
const OPTIONS: [&str; 3] = ["headers", "connectTimeout", "readIdleTimeout"];

/// `options` names only what Kestra's QQ tasks take.
fn options_ok(v: &Value) -> Result<(), String> {
    match v.as_object().and_then(|m| m.keys().find(|k| !OPTIONS.contains(&k.as_str()))) {
        Some(k) => Err(format!("options.{k} is not an option of Kestra's QQ tasks (they take {})", OPTIONS.join(", "))),
        None => Ok(()),
    }
}

impl Endpoint {
    fn check(&self) -> Result<(), TaskError> {
        if self.url.trim().is_empty() {
            return Err(TaskError::property("url", "is empty"));
        }
        let options = self.options.as_ref().map(|o| {
            let set = [
                ("readTimeout", o.read_timeout.is_some()),
                ("connectionPoolIdleTimeout", o.connection_pool_idle_timeout.is_some()),
                ("maxContentLength", o.max_content_length.is_some()),
                ("defaultCharset", o.default_charset.is_some()),
            ];
            Value::Object(set.iter().filter(|(_, s)| *s).map(|(k, _)| (k.to_string(), Value::Null)).collect())
        });
        options.map_or(Ok(()), |o| options_ok(&o).map_err(|e| TaskError::property("options", e)))
    }

    /// POSTs `body` (JSON text), with `bearer` when given; anything but a 200 fails.
    async fn post(&self, cx: &RunContext, body: &str, bearer: Option<&str>) -> Result<(), TaskError> {
        let mut options = self.options.clone().unwrap_or_default();
        if let Some(t) = bearer {
            options.headers.retain(|(k, _)| !k.eq_ignore_ascii_case("authorization"));
            options.headers.push(("Authorization".into(), vec![format!("Bearer {t}")]));
        }
        let answer = webhook::send(cx, "Tencent QQ", &self.url, (body, "application/json"), &options).await?;
        if answer.status != 200 {
            let quoted: String = answer.body.chars().take(500).collect();
            return Err(TaskError::failed(format!(
                "Tencent IM webhook request failed: answered {} (not 200): {}",
                answer.status,
                quoted.trim()
            )));
        }
        Ok(())
    }
}

/// Send a Tencent IM / QQ message.
///
/// Posts `payload` (the JSON the Tencent Cloud IM endpoint expects) to `url`, with `token` as a Bearer header when set.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.tencent.qq.QQIncomingWebhook",
    group = "core",
    example = "id: qq\ntype: io.kestra.plugin.tencent.qq.QQIncomingWebhook\nurl: \"{{ secret('TENCENT_IM_URL') }}\"\ntoken: \"{{ secret('TENCENT_IM_TOKEN') }}\"\npayload: |\n  {\"To_Account\": \"100001\", \"MsgBody\": [{\"MsgType\": \"TIMTextElem\", \"MsgContent\": {\"Text\": \"Flow {{ flow.id }} failed\"}}]}\n"
)]
struct IncomingProps {
    #[serde(flatten)]
    endpoint: Endpoint,
}

/// Send an execution's summary to Tencent IM / QQ users.
///
/// Sends the summary of this execution (or `executionId`) as a text message to each of `recipientIds`: namespace, flow, id, state, start, duration, the last and failed task, a link to its page when `BATON_URL` is set, the custom message and fields.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.tencent.qq.QQExecution",
    group = "core",
    example = "id: alert\ntype: io.kestra.plugin.tencent.qq.QQExecution\nurl: \"{{ secret('TENCENT_IM_URL') }}\"\nrecipientIds:\n  - \"10001\"\npayload: \"{}\"\nexecutionId: \"{{ trigger.executionId }}\"\n"
)]
struct ExecutionProps {
    #[serde(flatten)]
    endpoint: Endpoint,
    /// The users messaged, one request each (none: nothing is sent, as in Kestra; a warning is logged).
    #[serde(default, deserialize_with = "de::string_or_list")]
    #[prop(kind = "List")]
    recipient_ids: Vec<String>,
    #[serde(flatten)]
    summary: SummaryProps,
}

/// Kestra's QQ template (its blank lines included).
fn execution_text(s: &Summary) -> String {
    let mut t = format!(
        "Namespace: {}\nFlow: {}\nExecution ID: {}\n\nStatus: {}\nStarted At: {}\nDuration: {}\nFinal task ID: {}\n\n",
        s.namespace,
        s.flow_id,
        s.id,
        s.state.as_str(),
        s.start_date.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        s.duration,
        s.last_task.as_deref().unwrap_or_default()
    );
    if let Some(f) = &s.first_failed {
        let _ = write!(t, "\nFailed Task: {f}\n");
    }
    let _ = write!(t, "\n\nView Execution: {}\n\n", s.link.as_deref().unwrap_or_default());
    if let Some(m) = s.custom_message.as_ref().filter(|m| !m.is_empty()) {
        let _ = write!(t, "\nMessage:\n{m}\n");
    }
    t.push_str("\n\n");
    if !s.custom_fields.is_empty() {
        t.push_str("\nAdditional Info:\n");
        for (k, v) in s.custom_text() {
            let _ = write!(t, "\n- {k}: {v}\n");
        }
        t.push('\n');
    }
    t.push('\n');
    t
}

/// One recipient's message.
fn message(recipient: &str, text: &str) -> Value {
    let random = uuid::Uuid::new_v4().as_u128() % (i32::MAX as u128);
    json!({
        "To_Account": recipient,
        "MsgRandom": random as u64,
        "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": text}}],
    })
}

#[derive(Debug)]
enum Qq {
    Incoming(Box<Endpoint>),
    Execution(Box<ExecutionProps>),
}

fn build_incoming(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: IncomingProps = parse_props(props)?;
    p.endpoint.check()?;
    Ok(Box::new(Qq::Incoming(Box::new(p.endpoint))))
}

fn build_execution(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: ExecutionProps = parse_props(props)?;
    p.endpoint.check()?;
    Ok(Box::new(Qq::Execution(Box::new(p))))
}

#[async_trait]
impl RunnableTask for Qq {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        match self {
            Qq::Incoming(e) => {
                e.post(cx, &payload_text(&e.payload), e.token.as_deref()).await?;
                cx.info("QQ IncomingWebhook message sent successfully");
            }
            Qq::Execution(p) => {
                summary::warn_replaced_payload(cx, "QQExecution", Some(&p.endpoint.payload));
                if p.endpoint.token.is_some() {
                    cx.warn("token is not sent by QQExecution (as in Kestra): put the signature in url");
                }
                let s = p.summary.load(cx, "QQExecution").await?;
                let text = execution_text(&s);
                if p.recipient_ids.is_empty() {
                    cx.warn("recipientIds is empty: no QQ message sent (as in Kestra)");
                }
                for r in &p.recipient_ids {
                    p.endpoint.post(cx, &message(r, &text).to_string(), None).await?;
                }
            }
        }
        Ok(TaskOutput::empty())
    }
}

pub static INCOMING: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<IncomingProps>(build_incoming));

pub static EXECUTION: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<ExecutionProps>(build_execution));
