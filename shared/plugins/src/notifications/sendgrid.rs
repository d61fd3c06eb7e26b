//! `io.kestra.plugin.twilio.sendgrid.SendGridMailSend` (a mail with HTML
//! and/or text, attachments and inline images read from internal storage)
//! and `SendGridMailExecution` (the execution summary as its HTML body),
//! sent with SendGrid's v3 `mail/send` API and its key as a Bearer token.
//! SendGrid's address is fixed in Kestra; the engine's `BATON_SENDGRID_BASE_URL`
//! replaces it (local tests, proxies). The request is a notification
//! payload, so bounded by `MAX_NOTIFICATION_PAYLOAD` files included. Both
//! keep their former `io.kestra.plugin.notifications.sendgrid` names.

use std::sync::LazyLock;

use async_trait::async_trait;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::mail_smtp::{self, FileRef};
use super::mail_summary;
use super::summary::SummaryProps;
use super::webhook::{self, Options};
use crate::core::http;
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// SendGrid's API.
const API: &str = "https://api.sendgrid.com";

/// The text Kestra sends when `textContent` renders empty (and as the
/// summary's text part).
const MODERN_CLIENT: &str = "Please view this email in a modern email client";

/// The key, the addresses and the files both tasks have.
#[derive(Debug, Clone, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
struct Envelope {
    /// The SendGrid API key (keep it in a secret).
    #[serde(deserialize_with = "de::string_lenient")]
    sendgrid_api_key: String,
    /// The sender's address.
    #[serde(deserialize_with = "de::string_lenient")]
    from: String,
    /// The recipients' addresses.
    #[serde(deserialize_with = "de::string_or_list")]
    #[prop(kind = "List")]
    to: Vec<String>,
    /// The carbon-copy recipients' addresses.
    #[serde(default, deserialize_with = "de::string_or_list")]
    #[prop(kind = "List")]
    cc: Vec<String>,
    /// The subject.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    subject: Option<String>,
    /// Files attached: a list of `{uri, name, contentType}` (kestra:// URIs; contentType defaults to application/octet-stream).
    #[serde(default)]
    #[prop(kind = "Any")]
    attachments: Option<Value>,
    /// Images sent inline: a list of `{uri, name, contentType}`.
    #[serde(default)]
    #[prop(kind = "Any")]
    embedded_images: Option<Value>,
}

impl Envelope {
    fn check(&self) -> Result<(Vec<FileRef>, Vec<FileRef>), TaskError> {
        for (name, v) in [("sendgridApiKey", &self.sendgrid_api_key), ("from", &self.from)] {
            if v.trim().is_empty() {
                return Err(TaskError::property(name, "is empty"));
            }
        }
        if self.to.iter().all(|t| t.trim().is_empty()) {
            return Err(TaskError::property("to", "names no address"));
        }
        let attachments = mail_smtp::files("attachments", self.attachments.as_ref())?;
        let images = mail_smtp::files("embeddedImages", self.embedded_images.as_ref())?;
        Ok((attachments, images))
    }

    /// Sends the mail with `content` (`[type, value]` pairs) and answers
    /// Kestra's outputs.
    async fn send(&self, cx: &RunContext, content: Vec<(&str, String)>) -> Result<TaskOutput, TaskError> {
        let (attachments, images) = self.check()?;
        let mut total = 0;
        let attached = mail_smtp::read_files(cx, "attachments", &attachments, &mut total).await?;
        let inline = mail_smtp::read_files(cx, "embeddedImages", &images, &mut total).await?;
        let email = |a: &String| json!({"email": a});
        let mut personalization = Map::new();
        personalization.insert("to".into(), self.to.iter().map(email).collect());
        if !self.cc.is_empty() {
            personalization.insert("cc".into(), self.cc.iter().map(email).collect());
        }
        if let Some(s) = &self.subject {
            personalization.insert("subject".into(), json!(s));
        }
        let mut mail = Map::new();
        mail.insert("from".into(), email(&self.from));
        mail.insert("personalizations".into(), json!([personalization]));
        if !content.is_empty() {
            mail.insert("content".into(), content.iter().map(|(t, v)| json!({"type": t, "value": v})).collect());
        }
        let files: Vec<Value> = attached
            .iter()
            .map(|f| (f, "attachment"))
            .chain(inline.iter().map(|f| (f, "inline")))
            .map(|((f, data), disposition)| {
                json!({
                    "content": base64::engine::general_purpose::STANDARD.encode(data),
                    "type": f.content_type,
                    "filename": f.name,
                    "disposition": disposition,
                })
            })
            .collect();
        if !files.is_empty() {
            mail.insert("attachments".into(), Value::Array(files));
        }
        let url =
            http::api_url("BATON_SENDGRID_BASE_URL", cx.services.config.sendgrid_url.as_deref(), API, "/v3/mail/send")?
                .to_string();
        let options = Options {
            headers: vec![
                ("Authorization".into(), vec![format!("Bearer {}", self.sendgrid_api_key)]),
                ("Accept".into(), vec!["application/json".into()]),
            ],
            ..Options::default()
        };
        cx.log("DEBUG", &format!("Sending an email to {:?}", self.to));
        let body = Value::Object(mail).to_string();
        let answer = webhook::send(cx, "SendGrid", &url, (&body, "application/json"), &options).await?;
        let mut out = Map::new();
        out.insert("body".into(), json!(answer.body));
        out.insert("headers".into(), Value::Object(answer.headers));
        out.insert("statusCode".into(), json!(answer.status));
        Ok(TaskOutput::with(out))
    }
}

/// Send an email with SendGrid.
///
/// Sends an email through SendGrid's API: HTML and/or plain text, with attachments and inline images read from internal storage.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.twilio.sendgrid.SendGridMailSend",
    aliases = ["io.kestra.plugin.notifications.sendgrid.SendGridMailSend"],
    group = "core",
    example = "id: mail\ntype: io.kestra.plugin.twilio.sendgrid.SendGridMailSend\nsendgridApiKey: \"{{ secret('SENDGRID_API_KEY') }}\"\nfrom: baton@example.com\nto:\n  - team@example.com\nsubject: \"Flow {{ flow.id }} failed\"\nhtmlContent: \"<p>Execution {{ execution.id }} failed.</p>\"\n",
    outputs(
        body(String, "SendGrid's answer."),
        headers(Map, "The answer's headers."),
        statusCode(Integer, "The answer's HTTP status (202 when accepted).")
    )
)]
struct SendProps {
    #[serde(flatten)]
    envelope: Envelope,
    /// The HTML body.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    html_content: Option<String>,
    /// The plain text body (when it renders empty: "Please view this email in a modern email client").
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    text_content: Option<String>,
}

/// Send an email with an execution's summary with SendGrid.
///
/// Sends the summary of this execution (or `executionId`) as an HTML email through SendGrid: namespace, flow, id, state, duration, the last (failed) task, a link to its page when `BATON_URL` is set, the custom message and fields.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.twilio.sendgrid.SendGridMailExecution",
    aliases = ["io.kestra.plugin.notifications.sendgrid.SendGridMailExecution"],
    group = "core",
    example = "id: alert\ntype: io.kestra.plugin.twilio.sendgrid.SendGridMailExecution\nsendgridApiKey: \"{{ secret('SENDGRID_API_KEY') }}\"\nfrom: baton@example.com\nto:\n  - oncall@example.com\nsubject: \"Execution {{ trigger.executionId }} failed\"\nexecutionId: \"{{ trigger.executionId }}\"\n",
    outputs(
        body(String, "SendGrid's answer."),
        headers(Map, "The answer's headers."),
        statusCode(Integer, "The answer's HTTP status (202 when accepted).")
    )
)]
struct ExecutionProps {
    #[serde(flatten)]
    envelope: Envelope,
    /// Replaced by the summary's HTML, as in Kestra: the task logs a warning when it is set.
    #[serde(default)]
    #[prop(kind = "String")]
    html_content: Option<Value>,
    /// Replaced by Kestra's text ("Please view this email in a modern email client"): the task logs a warning when it is set.
    #[serde(default)]
    #[prop(kind = "String")]
    text_content: Option<Value>,
    #[serde(flatten)]
    summary: SummaryProps,
}

#[derive(Debug)]
enum SendGrid {
    Send(Box<SendProps>),
    Execution(Box<ExecutionProps>),
}

fn build_send(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: SendProps = parse_props(props)?;
    p.envelope.check()?;
    Ok(Box::new(SendGrid::Send(Box::new(p))))
}

fn build_execution(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: ExecutionProps = parse_props(props)?;
    p.envelope.check()?;
    Ok(Box::new(SendGrid::Execution(Box::new(p))))
}

#[async_trait]
impl RunnableTask for SendGrid {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        match self {
            SendGrid::Send(p) => {
                let mut content = Vec::new();
                if let Some(t) = &p.text_content {
                    content.push(("text/plain", if t.is_empty() { MODERN_CLIENT.to_string() } else { t.clone() }));
                }
                if let Some(h) = &p.html_content {
                    content.push(("text/html", h.clone()));
                }
                p.envelope.send(cx, content).await
            }
            SendGrid::Execution(p) => {
                for (name, v) in [("htmlContent", &p.html_content), ("textContent", &p.text_content)] {
                    if v.as_ref().is_some_and(|v| !v.is_null()) {
                        cx.warn(&format!(
                            "{name} is replaced by the execution summary (as Kestra's SendGridMailExecution does)"
                        ));
                    }
                }
                let s = p.summary.load(cx, "SendGridMailExecution").await?;
                let content = vec![("text/plain", MODERN_CLIENT.to_string()), ("text/html", mail_summary::html(&s))];
                p.envelope.send(cx, content).await
            }
        }
    }
}

pub static SEND: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<SendProps>(build_send));

pub static EXECUTION: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<ExecutionProps>(build_execution));
