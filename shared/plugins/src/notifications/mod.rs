//! Notification tasks (`io.kestra.plugin.notifications.*` and the plugins
//! split from it): messages posted to Slack, Microsoft Teams, Google Chat,
//! Discord, Zulip, WhatsApp and Tencent QQ webhooks, alerts sent to
//! Zenduty, PagerDuty, Opsgenie, Sentry and Twilio Notify, LINE broadcasts
//! and Telegram messages (a payload as written, or an execution's
//! summary), and mail sent over SMTP (`MailSend`, `MailExecution`) or
//! SendGrid's API. The
//! requests go through the engine's shared HTTP client; run by the `core`
//! worker group.

mod discord;
mod google;
mod line;
mod mail;
mod mail_smtp;
mod mail_summary;
mod opsgenie;
mod pagerduty;
mod qq;
mod sendgrid;
mod sentry;
mod slack;
mod summary;
mod task;
mod teams;
mod telegram;
mod twilio;
mod webhook;
mod whatsapp;
mod zenduty;
mod zulip;

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
    r.register(*zulip::INCOMING);
    r.register(*zulip::EXECUTION);
    r.register(*zenduty::ALERT);
    r.register(*zenduty::EXECUTION);
    r.register(*pagerduty::ALERT);
    r.register(*pagerduty::EXECUTION);
    r.register(*opsgenie::ALERT);
    r.register(*opsgenie::EXECUTION);
    r.register(*sentry::ALERT);
    r.register(*sentry::EXECUTION);
    r.register(*line::EXECUTION);
    r.register(*telegram::SEND);
    r.register(*telegram::EXECUTION);
    r.register(*twilio::ALERT);
    r.register(*twilio::EXECUTION);
    r.register(*sendgrid::SEND);
    r.register(*sendgrid::EXECUTION);
    r.register(*whatsapp::INCOMING);
    r.register(*whatsapp::EXECUTION);
    r.register(*qq::INCOMING);
    r.register(*qq::EXECUTION);
}
