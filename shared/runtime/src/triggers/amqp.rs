//! The AMQP triggers (plugin-amqp `Trigger.java`, `RealtimeTrigger.java`).
//!
//! `io.kestra.plugin.amqp.Trigger`: every `interval` (PT60S by default) it
//! consumes its queue as the `Consume` task does — until `maxRecords` or
//! `maxDuration` (one of them required), and at most until the next
//! interval is due — and, when messages came, starts ONE execution with
//! `trigger.uri` (an Ion file of Kestra's message records) and
//! `trigger.count`. Polled as an `http.Trigger` (`super::http`), by `baton
//! server local`'s poller and on Google Cloud by a Cloud Scheduler job.
//!
//! `io.kestra.plugin.amqp.RealtimeTrigger`: one execution per message, with
//! the record as `trigger` (`trigger.data`, `trigger.headers`,
//! `trigger.contentType`, …). It listens on `baton server local` only: a
//! Google Cloud deployment refuses it.
//!
//! Without `autoAck`, both acknowledge a message only once the execution
//! that holds it is stored (Kestra acknowledges as it reads); messages
//! whose execution cannot be stored go back to the queue.
//!
//! This module is the pure part: the declarations, the checks of what is
//! written out, and the rendered properties read ([`Spec`]).

use std::sync::LazyLock;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::{StopAfterProp, TriggerDef, TriggerProblem, WhenProp, prop};
use crate::model::{Flow, Trigger};
use crate::plugins::amqp::conn::AmqpProps;
use crate::plugins::amqp::consume::{LimitProps, Limits, QueueProps, QueueSpec};
use crate::plugins::{Declare, TaskError, parse_props};

pub const TYPE: &str = "io.kestra.plugin.amqp.Trigger";
pub const REALTIME_TYPE: &str = "io.kestra.plugin.amqp.RealtimeTrigger";

/// The credentials, checked as written only when not templated.
const CREDENTIALS: &[&str] = &["username", "password"];

/// The properties a consume reads.
const CONSUME_PROPS: &[&str] = &[
    "url",
    "host",
    "port",
    "username",
    "password",
    "virtualHost",
    "queue",
    "consumerTag",
    "serdeType",
    "autoAck",
    "maxRecords",
    "maxDuration",
];

/// Start an execution for the messages of an AMQP queue.
///
/// Consumes a queue every `interval` (until maxRecords or maxDuration, one of them required; at most until the next interval) and starts one execution for the messages (trigger.uri: one Ion record {data, headers, contentType, …} per message; trigger.count). Without autoAck they are acknowledged once the execution is stored.
#[derive(Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
#[plugin(
    type = TYPE,
    example = "id: trigger\ntype: io.kestra.plugin.amqp.Trigger\nhost: localhost\nport: 5672\nusername: guest\npassword: \"{{ secret('AMQP_PASSWORD') }}\"\nvirtualHost: /my_vhost\nmaxRecords: 2\nqueue: amqpTrigger.queue\n",
)]
struct TriggerProps {
    #[serde(flatten)]
    conn: AmqpProps,
    #[serde(flatten)]
    q: QueueProps,
    #[serde(flatten)]
    limits: LimitProps,
    /// How often the queue is consumed (whole minutes on Google Cloud).
    #[prop(kind = "Duration", default = "\"PT60S\"")]
    interval: Option<Value>,
    /// A consume that fails becomes a FAILED execution (else it is logged and retried at the next interval).
    #[prop(kind = "Boolean", default = "false")]
    fail_on_trigger_error: Option<Value>,
    #[serde(flatten)]
    stop_after: StopAfterProp,
    #[serde(flatten)]
    when: WhenProp,
}

/// Start an execution for each message of an AMQP queue.
///
/// Consumes a queue as messages arrive and starts one execution per message (trigger.data, trigger.headers, trigger.contentType, …). Listens on `baton server local` only: a Google Cloud deployment refuses it. Without autoAck a message is acknowledged once its execution is stored.
#[derive(Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
#[plugin(
    type = REALTIME_TYPE,
    example = "id: realtime_trigger\ntype: io.kestra.plugin.amqp.RealtimeTrigger\nhost: localhost\nport: 5672\nusername: guest\npassword: \"{{ secret('AMQP_PASSWORD') }}\"\nvirtualHost: /my_vhost\nqueue: amqpTrigger.queue\n",
)]
struct RealtimeTriggerProps {
    #[serde(flatten)]
    conn: AmqpProps,
    #[serde(flatten)]
    q: QueueProps,
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
    super::picked(t, CONSUME_PROPS)
}

/// The properties an `amqp.Trigger`'s consume reads, unrendered; `None` for another type.
pub fn pull_props(t: &Trigger) -> Option<Map<String, Value>> {
    is(t).then(|| picked(t))
}

/// The properties an `amqp.RealtimeTrigger` listens with, unrendered;
/// `None` for another type or a disabled trigger.
pub fn realtime_props(t: &Trigger) -> Option<Map<String, Value>> {
    (is_realtime(t) && !t.disabled).then(|| picked(t))
}

/// A trigger's properties, rendered.
#[derive(Debug, Deserialize)]
struct Rendered {
    #[serde(flatten)]
    conn: AmqpProps,
    #[serde(flatten)]
    q: QueueProps,
    #[serde(flatten)]
    limits: LimitProps,
}

/// A trigger's properties, read and checked.
#[derive(Debug)]
pub struct Spec {
    pub conn: AmqpProps,
    pub queue: QueueSpec,
    /// The polled trigger's bounds (`None` for the realtime one).
    pub limits: Option<Limits>,
}

impl Spec {
    pub fn read(props: &Map<String, Value>, realtime: bool) -> Result<Spec, TaskError> {
        let r: Rendered = parse_props(props)?;
        r.conn.check()?;
        let limits = if realtime { None } else { Some(r.limits.limits()?) };
        Ok(Spec { queue: r.q.spec()?, limits, conn: r.conn })
    }

    /// How long a realtime evaluation waits for a message before it ends.
    pub fn listen_wait() -> Duration {
        Duration::from_secs(1)
    }
}

fn check(trig: &Trigger, _flow: &Flow) -> Vec<TriggerProblem> {
    let mut out = Vec::new();
    let realtime = is_realtime(trig);
    let what = if realtime { "RealtimeTrigger" } else { "Trigger" };
    if prop(trig, "host").is_none() && prop(trig, "url").is_none() {
        out.push(TriggerProblem::at("", format!("trigger '{}': an amqp.{what} needs 'host'", trig.id)));
    }
    if prop(trig, "queue").is_none() {
        out.push(TriggerProblem::at("", format!("trigger '{}': an amqp.{what} needs 'queue'", trig.id)));
    }
    if !realtime && prop(trig, "maxRecords").is_none() && prop(trig, "maxDuration").is_none() {
        out.push(TriggerProblem::at(
            "",
            format!(
                "trigger '{}': an amqp.Trigger needs 'maxRecords' or 'maxDuration', so that consuming ends",
                trig.id
            ),
        ));
    }
    // what is written out is read as an evaluation will read it
    let mut written = super::as_written(picked(trig), CREDENTIALS);
    if (written.contains_key("host") || written.contains_key("url")) && written.contains_key("queue") {
        if !realtime && !written.contains_key("maxRecords") && !written.contains_key("maxDuration") {
            // a templated bound: read when rendered
            written.insert("maxDuration".into(), Value::String("PT1S".into()));
        }
        out.extend(super::read_problem(trig, &written, Spec::read(&written, realtime).map(|_| ())));
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
        let base = json!({"host": "localhost", "port": 5672, "username": "guest", "password": "p",
            "virtualHost": "/my_vhost", "queue": "amqpTrigger.queue"});
        let with = |extra: Value| {
            let mut m = base.as_object().cloned().unwrap_or_default();
            m.extend(extra.as_object().cloned().unwrap_or_default());
            Value::Object(m)
        };
        assert!(paths(TYPE, with(json!({"maxRecords": 2}))).is_empty());
        assert!(paths(REALTIME_TYPE, with(json!({}))).is_empty());
        assert_eq!(paths(TYPE, with(json!({}))), [""], "a bound is required");
        assert_eq!(paths(REALTIME_TYPE, json!({"queue": "q"})), [""], "host");
        assert_eq!(paths(REALTIME_TYPE, with(json!({"serdeType": "AVRO"}))), ["serdeType"]);
        assert_eq!(paths(TYPE, with(json!({"maxRecords": 0}))), ["maxRecords"]);
        assert_eq!(paths(TYPE, with(json!({"maxRecords": 1, "url": "amqps://h"}))), ["url"]);
        assert_eq!(paths(TYPE, with(json!({"maxRecords": 1, "interval": "PT0.1S"}))), ["interval"]);
    }
}
