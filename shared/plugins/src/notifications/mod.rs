//! Notification tasks (`io.kestra.plugin.notifications.*` and the plugins
//! split from it): messages posted to Slack, Microsoft Teams, Google Chat,
//! Discord and Zulip webhooks, alerts sent to Zenduty, PagerDuty, Opsgenie
//! and Sentry, LINE broadcasts (a payload as written, or an execution's
//! summary), and mail sent over SMTP (`MailSend`, `MailExecution`). The
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
mod sentry;
mod slack;
mod summary;
mod task;
mod teams;
mod webhook;
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
}
