//! Notification tasks (`io.kestra.plugin.notifications.*`): messages posted
//! to Slack, Microsoft Teams, Google Chat and Discord webhooks (a payload
//! as written, or an execution's summary), and mail sent over SMTP
//! (`MailSend`, `MailExecution`). The webhooks go through the engine's
//! shared HTTP client; run by the `core` worker group.

mod discord;
mod google;
mod mail;
mod mail_smtp;
mod mail_summary;
mod slack;
mod summary;
mod teams;
mod webhook;

use super::Registry;

/// Registers this family's plugins.
pub fn register(r: &mut Registry) {
    r.register(*slack::INCOMING);
    r.register(*slack::EXECUTION);
    r.register(*teams::INCOMING);
    r.register(*teams::EXECUTION);
    r.register(*google::INCOMING);
    r.register(*google::EXECUTION);
    r.register(*discord::INCOMING);
    r.register(*discord::EXECUTION);
    r.register(*mail::SEND);
    r.register(*mail::EXECUTION);
}
