//! The NATS triggers (plugin-nats `core/Trigger.java`,
//! `core/RealtimeTrigger.java`), on JetStream.
//!
//! `io.kestra.plugin.nats.core.Trigger` (alias `nats.Trigger`): every
//! `interval` (PT60S by default) it pulls as the `Consume` task does —
//! until a fetch brings nothing, `maxRecords` or `maxDuration`, and at most
//! until the next interval is due — and, when messages came, starts ONE
//! execution with `trigger.uri` (an Ion file of `{subject, headers, data,
//! timestamp}`) and `trigger.messagesCount`. Polled as an `http.Trigger`
//! (`super::http`), by `baton server local`'s poller and on Google Cloud by
//! a Cloud Scheduler job.
//!
//! `io.kestra.plugin.nats.core.RealtimeTrigger` (alias
//! `nats.RealtimeTrigger`): one execution per message, with the record as
//! `trigger` (`trigger.data`, `trigger.subject`, `trigger.headers`,
//! `trigger.timestamp`); its execution id derives from the message's stream
//! and sequence, so a message delivered twice starts one execution. It
//! listens on `baton server local` only: a Google Cloud deployment refuses
//! it.
//!
//! Both acknowledge a message only once the execution that holds it is
//! stored (Kestra acknowledges as it reads); a batch whose execution cannot
//! be stored is asked to be delivered again at once.
//!
//! This module is the pure part: the declarations, the checks of what is
//! written out, and the rendered properties read ([`Spec`]).

use std::sync::LazyLock;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::{StopAfterProp, TriggerDef, TriggerProblem, WhenProp, prop};
use crate::model::{Flow, Trigger};
use crate::plugins::nats::conn::NatsProps;
use crate::plugins::nats::consume::{LimitProps, Limits, SubscribeProps, SubscribeSpec};
use crate::plugins::{Declare, TaskError, parse_props};

pub const TYPE: &str = "io.kestra.plugin.nats.core.Trigger";
pub const REALTIME_TYPE: &str = "io.kestra.plugin.nats.core.RealtimeTrigger";

/// The credentials, checked in pairs.
const CREDENTIALS: &[&str] = &["username", "password", "token"];

/// The properties a pull reads.
const PULL_PROPS: &[&str] = &[
    "url",
    "username",
    "password",
    "token",
    "creds",
    "subject",
    "durableId",
    "since",
    "batchSize",
    "deliverPolicy",
    "pollDuration",
    "maxRecords",
    "maxDuration",
];

/// Start an execution for the messages of a NATS JetStream subject.
///
/// Pulls messages of a JetStream subject every `interval` (until a fetch brings nothing, maxRecords or maxDuration; at most until the next interval) and starts one execution for them (trigger.uri: one Ion record {subject, headers, data, timestamp} per message; trigger.messagesCount). They are acknowledged once the execution is stored.
#[derive(Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
#[plugin(
    type = TYPE,
    aliases = ["io.kestra.plugin.nats.Trigger"],
    example = "id: watch\ntype: io.kestra.plugin.nats.core.Trigger\nurl: nats://localhost:4222\nusername: nats_user\npassword: \"{{ secret('NATS_PASSWORD') }}\"\nsubject: kestra.trigger\ndurableId: natsTrigger\ndeliverPolicy: All\nmaxRecords: 1\n",
)]
struct TriggerProps {
    #[serde(flatten)]
    conn: NatsProps,
    #[serde(flatten)]
    s: SubscribeProps,
    #[serde(flatten)]
    limits: LimitProps,
    /// How often the subject is polled (whole minutes on Google Cloud).
    #[prop(kind = "Duration", default = "\"PT60S\"")]
    interval: Option<Value>,
    /// A pull that fails becomes a FAILED execution (else it is logged and retried at the next interval).
    #[prop(kind = "Boolean", default = "false")]
    fail_on_trigger_error: Option<Value>,
    #[serde(flatten)]
    stop_after: StopAfterProp,
    #[serde(flatten)]
    when: WhenProp,
}

/// Start an execution for each message of a NATS JetStream subject.
///
/// Pulls messages of a JetStream subject as they arrive and starts one execution per message (trigger.data, trigger.subject, trigger.headers, trigger.timestamp); a message delivered twice starts one execution. Listens on `baton server local` only: a Google Cloud deployment refuses it. A message is acknowledged once its execution is stored.
#[derive(Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
#[plugin(
    type = REALTIME_TYPE,
    aliases = ["io.kestra.plugin.nats.RealtimeTrigger"],
    example = "id: watch\ntype: io.kestra.plugin.nats.core.RealtimeTrigger\nurl: nats://localhost:4222\nusername: nats_user\npassword: \"{{ secret('NATS_PASSWORD') }}\"\nsubject: kestra.trigger\ndurableId: natsTrigger\ndeliverPolicy: All\n",
)]
struct RealtimeTriggerProps {
    #[serde(flatten)]
    conn: NatsProps,
    #[serde(flatten)]
    s: SubscribeProps,
    #[serde(flatten)]
    when: WhenProp,
}

pub static DEF: LazyLock<TriggerDef> =
    LazyLock::new(|| TriggerDef::declare::<TriggerProps>(check, crate::conditions::ConditionUse::Polling));

pub static REALTIME_DEF: LazyLock<TriggerDef> =
    LazyLock::new(|| TriggerDef::declare::<RealtimeTriggerProps>(check, crate::conditions::ConditionUse::None));

pub fn is(t: &Trigger) -> bool {
    super::is_of(&DEF, t)
}

pub fn is_realtime(t: &Trigger) -> bool {
    super::is_of(&REALTIME_DEF, t)
}

fn picked(t: &Trigger) -> Map<String, Value> {
    super::picked(t, PULL_PROPS)
}

/// The properties an `nats.Trigger`'s pull reads, unrendered; `None` for another type.
pub fn pull_props(t: &Trigger) -> Option<Map<String, Value>> {
    is(t).then(|| picked(t))
}

/// The properties a `nats.RealtimeTrigger` listens with, unrendered;
/// `None` for another type or a disabled trigger.
pub fn realtime_props(t: &Trigger) -> Option<Map<String, Value>> {
    (is_realtime(t) && !t.disabled).then(|| picked(t))
}

/// A trigger's properties, rendered.
#[derive(Debug, Deserialize)]
struct Rendered {
    #[serde(flatten)]
    conn: NatsProps,
    #[serde(flatten)]
    s: SubscribeProps,
    #[serde(flatten)]
    limits: LimitProps,
}

/// A trigger's properties, read and checked.
#[derive(Debug)]
pub struct Spec {
    pub conn: NatsProps,
    pub subscribe: SubscribeSpec,
    pub limits: Limits,
}

impl Spec {
    pub fn read(props: &Map<String, Value>) -> Result<Spec, TaskError> {
        let r: Rendered = parse_props(props)?;
        r.conn.check()?;
        Ok(Spec { subscribe: r.s.spec()?, limits: r.limits.limits()?, conn: r.conn })
    }

    /// How long a realtime evaluation's fetch waits.
    pub fn listen_wait() -> Duration {
        Duration::from_secs(1)
    }
}

fn check(trig: &Trigger, _flow: &Flow) -> Vec<TriggerProblem> {
    let mut out = Vec::new();
    let realtime = is_realtime(trig);
    let what = if realtime { "RealtimeTrigger" } else { "Trigger" };
    for needed in ["url", "subject"] {
        if prop(trig, needed).is_none() {
            out.push(TriggerProblem::at("", format!("trigger '{}': a nats.{what} needs '{needed}'", trig.id)));
        }
    }
    // what is written out is read as an evaluation will read it
    let written = super::as_written(picked(trig), CREDENTIALS);
    if written.contains_key("url") && written.contains_key("subject") {
        out.extend(super::read_problem(trig, &written, Spec::read(&written).map(|_| ())));
    }
    if !trig.disabled && !realtime {
        out.extend(super::http::poll_problem(trig));
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::tests::flow;
    use super::*;

    fn paths(type_: &str, props: Value) -> Vec<String> {
        let t = super::super::tests::trigger_of("watch", type_, props);
        check(&t, &flow()).into_iter().map(|p| p.path).collect()
    }

    #[test]
    fn kestra_s_examples_pass_and_checks_name_the_property() {
        let base = json!({"url": "nats://localhost:4222", "username": "nats_user", "password": "nats_password",
            "subject": "kestra.trigger", "durableId": "natsTrigger", "deliverPolicy": "All"});
        let with = |extra: Value| {
            let mut m = base.as_object().cloned().unwrap_or_default();
            m.extend(extra.as_object().cloned().unwrap_or_default());
            Value::Object(m)
        };
        assert!(paths(TYPE, with(json!({"maxRecords": 1}))).is_empty());
        assert!(paths("io.kestra.plugin.nats.RealtimeTrigger", with(json!({}))).is_empty());
        assert_eq!(paths(REALTIME_TYPE, json!({"subject": "a"})), [""], "url");
        assert_eq!(paths(REALTIME_TYPE, with(json!({"deliverPolicy": "Sometimes"}))), ["deliverPolicy"]);
        assert_eq!(paths(TYPE, with(json!({"batchSize": 0}))), ["batchSize"]);
        assert_eq!(paths(TYPE, with(json!({"interval": "PT0.1S"}))), ["interval"]);
    }
}
