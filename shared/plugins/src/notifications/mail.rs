//! `io.kestra.plugin.notifications.mail.MailSend` (a message with HTML
//! and/or plain text, attachments and embedded images from internal
//! storage) and `MailExecution` (the execution summary as the HTML and
//! text bodies), sent over SMTP (`mail_smtp.rs`).

use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::mail_smtp::{self, Content};
use super::mail_summary;
use super::summary::SummaryProps;
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// The server, the addresses and the files both mail tasks have.
#[derive(Debug, Clone, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
pub struct Smtp {
    /// The SMTP server's host.
    #[serde(deserialize_with = "de::string_lenient")]
    pub host: String,
    /// The SMTP server's port (default 25 for SMTP, 465 for SMTPS, 587 for SMTP_TLS).
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    pub port: Option<u64>,
    /// The SMTP user.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    pub username: Option<String>,
    /// The SMTP user's password.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    pub password: Option<String>,
    /// SMTP (plain, upgraded with STARTTLS when the server offers it), SMTP_TLS (STARTTLS required) or SMTPS (TLS from the start).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(values = ["SMTP", "SMTPS", "SMTP_TLS"], default = "\"SMTPS\"")]
    pub transport_strategy: Option<String>,
    /// Milliseconds allowed to each exchange with the server.
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    #[prop(default = "10000")]
    pub session_timeout: Option<u64>,
    /// Check that the server's certificate names its host.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "true")]
    pub verify_server_identity: Option<bool>,
    /// Hosts whose certificates are trusted as they are; when set, a host not listed is refused.
    #[serde(default, deserialize_with = "de::string_or_list")]
    #[prop(kind = "List")]
    pub trusted_hosts: Vec<String>,
    /// The sender's address.
    #[serde(deserialize_with = "de::string_lenient")]
    pub from: String,
    /// The recipients' addresses, separated by `;` (or `,`).
    #[serde(deserialize_with = "de::string_lenient")]
    pub to: String,
    /// The carbon-copy recipients' addresses, separated by `;` (or `,`).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    pub cc: Option<String>,
    /// The subject.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    pub subject: Option<String>,
    /// Files attached: a list of `{uri, name, contentType}` (kestra:// URIs; contentType defaults to application/octet-stream), or its JSON.
    #[serde(default)]
    #[prop(kind = "Any")]
    pub attachments: Option<Value>,
    /// Images the HTML refers to as `cid:<name>`: a list of `{uri, name, contentType}`, or its JSON.
    #[serde(default)]
    #[prop(kind = "Any")]
    pub embedded_images: Option<Value>,
}

/// Send an email.
///
/// Sends an email over SMTP: HTML and/or plain text, with attachments and embedded images read from internal storage.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.notifications.mail.MailSend",
    // the plugin's own package since it left plugin-notifications
    aliases = ["io.kestra.plugin.email.MailSend"],
    group = "core",
    example = "id: mail\ntype: io.kestra.plugin.notifications.mail.MailSend\nhost: smtp.example.com\nport: 465\nusername: \"{{ secret('SMTP_USER') }}\"\npassword: \"{{ secret('SMTP_PASSWORD') }}\"\nfrom: baton@example.com\nto: team@example.com\nsubject: \"Report of {{ flow.id }}\"\nhtmlTextContent: \"<p>See the attached report.</p>\"\nattachments:\n  - name: report.csv\n    uri: \"{{ outputs.report.uri }}\"\n    contentType: text/csv\n"
)]
struct SendProps {
    #[serde(flatten)]
    smtp: Smtp,
    /// The HTML body.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    html_text_content: Option<String>,
    /// The plain text body (offered beside the HTML one).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    plain_text_content: Option<String>,
}

/// Send an email with an execution's summary.
///
/// Sends the summary of this execution (or `executionId`) over SMTP, as HTML and plain text: namespace, flow, id, state, duration, the last (failed) task, a link to its page when `BATON_URL` is set, the custom message and fields.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.notifications.mail.MailExecution",
    // the plugin's own package since it left plugin-notifications
    aliases = ["io.kestra.plugin.email.MailExecution"],
    group = "core",
    example = "id: mail\ntype: io.kestra.plugin.notifications.mail.MailExecution\nhost: smtp.example.com\nport: 465\nusername: \"{{ secret('SMTP_USER') }}\"\npassword: \"{{ secret('SMTP_PASSWORD') }}\"\nfrom: baton@example.com\nto: oncall@example.com\nsubject: \"Execution {{ trigger.executionId }} failed\"\nexecutionId: \"{{ trigger.executionId }}\"\n"
)]
struct ExecutionProps {
    #[serde(flatten)]
    smtp: Smtp,
    #[serde(flatten)]
    summary: SummaryProps,
}

/// The task, built from rendered properties.
#[derive(Debug)]
enum Mail {
    Send { smtp: Box<Smtp>, html: Option<String>, text: Option<String> },
    Execution { smtp: Box<Smtp>, summary: SummaryProps },
}

fn build_send(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: SendProps = parse_props(props)?;
    mail_smtp::check(&p.smtp)?;
    Ok(Box::new(Mail::Send { smtp: Box::new(p.smtp), html: p.html_text_content, text: p.plain_text_content }))
}

fn build_execution(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: ExecutionProps = parse_props(props)?;
    mail_smtp::check(&p.smtp)?;
    Ok(Box::new(Mail::Execution { smtp: Box::new(p.smtp), summary: p.summary }))
}

#[async_trait]
impl RunnableTask for Mail {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        match self {
            Mail::Send { smtp, html, text } => {
                mail_smtp::send(cx, smtp, Content { html: html.clone(), text: text.clone() }).await?;
            }
            Mail::Execution { smtp, summary } => {
                let s = summary.load(cx, "MailExecution").await?;
                let content = Content { html: Some(mail_summary::html(&s)), text: Some(mail_summary::text(&s)) };
                mail_smtp::send(cx, smtp, content).await?;
            }
        }
        Ok(TaskOutput::empty())
    }
}

pub static SEND: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<SendProps>(build_send));

pub static EXECUTION: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<ExecutionProps>(build_execution));
