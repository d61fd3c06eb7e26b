//! `io.kestra.plugin.twilio.notify.TwilioAlert` (a payload posted to a
//! Twilio Notify service as a form) and `TwilioExecution` (the execution
//! summary as the notification's `body`, with `Body`, `Identity` and `Tag`
//! set over it as Kestra's template task does). Both authenticate with
//! the account SID and auth token (HTTP Basic) and keep their former
//! `io.kestra.plugin.notifications.twilio` names as aliases.

use std::sync::LazyLock;

use async_trait::async_trait;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::summary::{self, Summary, SummaryProps};
use super::webhook::{self, Target};
use crate::core::http::form_encode;
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// The Notify service and the account posting to it, `#[serde(flatten)]`ed
/// into both tasks.
#[derive(Debug, Clone, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
struct Account {
    /// The Notify service's notifications URL (https://notify.twilio.com/v1/Services/IS…/Notifications).
    #[serde(flatten)]
    target: Target,
    /// The account SID (the Basic authentication's user).
    #[serde(rename = "accountSID", deserialize_with = "de::string_lenient")]
    account_sid: String,
    /// The auth token (the Basic authentication's password; keep it in a secret).
    #[serde(deserialize_with = "de::string_lenient")]
    auth_token: String,
}

impl Account {
    fn check(&self) -> Result<(), TaskError> {
        for (name, v) in [("url", &self.target.url), ("accountSID", &self.account_sid), ("authToken", &self.auth_token)]
        {
            if v.trim().is_empty() {
                return Err(TaskError::property(name, "is empty"));
            }
        }
        Ok(())
    }

    /// Posts `fields` (a JSON object's text) as a form.
    async fn post(&self, cx: &RunContext, fields: &str) -> Result<(), TaskError> {
        let form = form(fields)?;
        let basic =
            base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", self.account_sid, self.auth_token));
        let mut options = self.target.options.clone().unwrap_or_default();
        options.headers.retain(|(k, _)| !k.eq_ignore_ascii_case("authorization"));
        options.headers.push(("Authorization".into(), vec![format!("Basic {basic}")]));
        cx.log("DEBUG", &format!("Send Twilio notification: {fields}"));
        webhook::send(cx, "Twilio", &self.target.url, (&form, "application/x-www-form-urlencoded"), &options).await?;
        Ok(())
    }
}

/// A JSON object's fields as `application/x-www-form-urlencoded` (a
/// string as written, any other value as JSON).
fn form(fields: &str) -> Result<String, TaskError> {
    let map: Map<String, Value> = serde_json::from_str(fields)
        .map_err(|e| TaskError::property("payload", format!("is not a JSON object: {e}")))?;
    Ok(map
        .iter()
        .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(&webhook::payload_text(v))))
        .collect::<Vec<_>>()
        .join("&"))
}

/// A written `payload`: a template, or a JSON object.
fn payload_ok(v: &Value) -> Result<(), String> {
    match v {
        Value::String(s) if baton_model::expr::is_template(s) => Ok(()),
        Value::String(s) => form(s).map(|_| ()).map_err(|e| e.to_string()),
        Value::Object(_) => Ok(()),
        other => Err(format!("expected a JSON object, found {other}")),
    }
}

/// Send a Twilio Notify notification.
///
/// Posts the fields of `payload` (a JSON object, e.g. `{"identity": "…", "body": "…"}`) as a form to a Twilio Notify service.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.twilio.notify.TwilioAlert",
    aliases = ["io.kestra.plugin.notifications.twilio.TwilioAlert"],
    group = "core",
    example = "id: twilio\ntype: io.kestra.plugin.twilio.notify.TwilioAlert\nurl: \"{{ secret('TWILIO_NOTIFICATION_URL') }}\"\naccountSID: \"{{ secret('TWILIO_ACCOUNT_SID') }}\"\nauthToken: \"{{ secret('TWILIO_AUTH_TOKEN') }}\"\npayload: |\n  {\"identity\": \"0000001\", \"body\": \"Flow {{ flow.id }} failed\"}\n"
)]
struct AlertProps {
    #[serde(flatten)]
    account: Account,
    /// The notification's fields (a JSON object), sent as a form.
    #[prop(kind = "String", check = payload_ok)]
    payload: Value,
}

/// Send an execution's summary with Twilio Notify.
///
/// Posts the summary of this execution (or `executionId`) as the notification's `body`: namespace, flow, id, state, the last task, a link to its page when `BATON_URL` is set, the outcome with its duration.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.twilio.notify.TwilioExecution",
    aliases = ["io.kestra.plugin.notifications.twilio.TwilioExecution"],
    group = "core",
    example = "id: alert\ntype: io.kestra.plugin.twilio.notify.TwilioExecution\nurl: \"{{ secret('TWILIO_NOTIFICATION_URL') }}\"\naccountSID: \"{{ secret('TWILIO_ACCOUNT_SID') }}\"\nauthToken: \"{{ secret('TWILIO_AUTH_TOKEN') }}\"\nidentity: \"0000001\"\nexecutionId: \"{{ trigger.executionId }}\"\n"
)]
struct ExecutionProps {
    #[serde(flatten)]
    account: Account,
    /// Sent as the `Body` field beside the summary's `body`.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    body: Option<String>,
    /// Sent as the `Identity` field: the Notify identity to reach.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    identity: Option<String>,
    /// Sent as the `Tag` field: the Notify tag to reach.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    tag: Option<String>,
    /// Replaced by the execution summary, as in Kestra (whose TwilioExecution inherits it from TwilioAlert and overwrites it): the task logs a warning when it is set.
    #[serde(default)]
    #[prop(kind = "String")]
    payload: Option<Value>,
    #[serde(flatten)]
    summary: SummaryProps,
}

/// Kestra's Twilio template and the fields set over it.
fn execution_fields(s: &Summary, p: &ExecutionProps) -> Map<String, Value> {
    let body = format!(
        "Namespace {}, Flow ID {}, Execution ID {}, Execution Status {}, Final task ID {}. *<{}|{}>*\n> {}",
        s.namespace,
        s.flow_id,
        s.id,
        s.state.as_str(),
        s.last_task.as_deref().unwrap_or_default(),
        s.link.as_deref().unwrap_or_default(),
        s.title(),
        s.outcome()
    );
    let mut m = Map::new();
    m.insert("body".into(), Value::String(body));
    for (k, v) in [("Body", &p.body), ("Identity", &p.identity), ("Tag", &p.tag)] {
        if let Some(v) = v {
            m.insert(k.into(), Value::String(v.clone()));
        }
    }
    m
}

#[derive(Debug)]
enum Twilio {
    Alert(Box<Account>, String),
    Execution(Box<ExecutionProps>),
}

fn build_alert(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: AlertProps = parse_props(props)?;
    p.account.check()?;
    let payload = webhook::payload_text(&p.payload);
    form(&payload)?;
    Ok(Box::new(Twilio::Alert(Box::new(p.account), payload)))
}

fn build_execution(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: ExecutionProps = parse_props(props)?;
    p.account.check()?;
    Ok(Box::new(Twilio::Execution(Box::new(p))))
}

#[async_trait]
impl RunnableTask for Twilio {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        match self {
            Twilio::Alert(account, payload) => account.post(cx, payload).await?,
            Twilio::Execution(p) => {
                summary::warn_replaced_payload(cx, "TwilioExecution", p.payload.as_ref());
                let s = p.summary.load(cx, "TwilioExecution").await?;
                let fields = Value::Object(execution_fields(&s, p)).to_string();
                p.account.post(cx, &fields).await?;
            }
        }
        Ok(TaskOutput::empty())
    }
}

pub static ALERT: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<AlertProps>(build_alert));

pub static EXECUTION: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<ExecutionProps>(build_execution));
