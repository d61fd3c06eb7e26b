//! The MQTT triggers (plugin-mqtt `Trigger.java`, `RealtimeTrigger.java`).
//!
//! `io.kestra.plugin.mqtt.Trigger`: every `interval` (PT60S by default) it
//! subscribes as the `Subscribe` task does, until `maxRecords` or
//! `maxDuration` (one of them required) and at most until the next
//! interval is due, and, when messages came, starts ONE execution with
//! `trigger.uri` (an Ion file of Kestra's message records; a payload that
//! is not JSON under `serdeType: JSON` kept as text) and
//! `trigger.messagesCount`. Polled as an `http.Trigger` (`super::http`: one
//! evaluation per slot of `interval`, claimed in the trigger store;
//! `stopAfter`, `failOnTriggerError`, `conditions`, `when`), by `baton
//! server local`'s poller and on Google Cloud by a Cloud Scheduler job.
//!
//! `io.kestra.plugin.mqtt.RealtimeTrigger`: one execution per message as it
//! arrives, with Kestra's record as `trigger` (`trigger.payload`,
//! `trigger.topic`, `trigger.responseTopic`, …; a payload that is not JSON
//! under `serdeType: JSON` is passed as text rather than stopping the
//! trigger). It listens on `baton server local` only: a Google Cloud
//! deployment refuses it (its functions hold no listener).
//!
//! Both keep a persistent session at the broker — the client id is
//! `clientId`, or derived from the flow, the trigger and its topics — and
//! acknowledge a message only once the execution that holds it is stored:
//! a message published while Baton is not connected waits at the broker
//! (QoS 1 and 2), and one whose execution was not stored comes again.
//! Kestra's clean sessions lose both.
//!
//! This module is the pure part: the declarations, the checks of what is
//! written out, and the rendered properties read ([`Spec`]).

use std::sync::LazyLock;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::{StopAfterProp, TriggerDef, TriggerProblem, WhenProp, prop};
use crate::model::{Flow, Trigger};
use crate::plugins::mqtt::conn::ConnProps;
use crate::plugins::mqtt::subscribe::{SubscribeProps, SubscribeSpec};
use crate::plugins::{Declare, TaskError, de, parse_props};

pub const TYPE: &str = "io.kestra.plugin.mqtt.Trigger";
pub const REALTIME_TYPE: &str = "io.kestra.plugin.mqtt.RealtimeTrigger";

/// The credentials, checked in pairs.
const CREDENTIALS: &[&str] = &["username", "password"];

/// The properties a subscribe reads.
const SUBSCRIBE_PROPS: &[&str] = &[
    "server",
    "mqttVersion",
    "clientId",
    "connectionTimeout",
    "httpsHostnameVerificationEnabled",
    "authMethod",
    "username",
    "password",
    "crt",
    "topic",
    "serdeType",
    "qos",
    "maxRecords",
    "maxDuration",
];

/// Start an execution for the messages of MQTT topics.
///
/// Subscribes every `interval` until maxRecords or maxDuration (one is required; at most until the next interval) and starts one execution for the messages (trigger.uri: one Ion record per message; trigger.messagesCount). A persistent session keeps messages at the broker between polls; they are acknowledged once their execution is stored.
#[derive(Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
#[plugin(
    type = TYPE,
    example = "id: trigger\ntype: io.kestra.plugin.mqtt.Trigger\nserver: tcp://localhost:1883\nclientId: kestraProducer\ntopic:\n  - kestra/sensors/cpu\n  - kestra/sensors/mem\nserdeType: JSON\nmaxRecords: 10\n",
)]
struct TriggerProps {
    #[serde(flatten)]
    conn: ConnProps,
    #[serde(flatten)]
    s: SubscribeProps,
    /// Start the execution once this many messages came.
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    #[prop(dynamic)]
    max_records: Option<u64>,
    /// Start the execution once this long has passed (at most the interval).
    #[serde(default, deserialize_with = "de::opt_duration")]
    #[prop(dynamic, kind = "Duration")]
    max_duration: Option<chrono::TimeDelta>,
    /// How often the topics are polled (whole minutes on Google Cloud).
    #[prop(kind = "Duration", default = "\"PT60S\"")]
    interval: Option<Value>,
    /// A subscribe that fails becomes a FAILED execution (else it is logged and retried at the next interval).
    #[prop(kind = "Boolean", default = "false")]
    fail_on_trigger_error: Option<Value>,
    #[serde(flatten)]
    stop_after: StopAfterProp,
    #[serde(flatten)]
    when: WhenProp,
}

/// Start an execution for each message of MQTT topics.
///
/// Subscribes and starts one execution per message as it arrives (trigger.payload read per serdeType — a payload that is not JSON is passed as text —, trigger.topic, trigger.qos, trigger.retain, trigger.responseTopic, trigger.correlationData). Listens on `baton server local` only: a Google Cloud deployment refuses it. A message is acknowledged once its execution is stored.
#[derive(Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
#[plugin(
    type = REALTIME_TYPE,
    example = "id: realtime_trigger\ntype: io.kestra.plugin.mqtt.RealtimeTrigger\nserver: tcp://localhost:1883\nclientId: kestraProducer\nqos: 1\ntopic:\n  - kestra/sensors/cpu\n  - kestra/sensors/mem\nserdeType: JSON\n",
)]
struct RealtimeTriggerProps {
    #[serde(flatten)]
    conn: ConnProps,
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
    t.type_ == TYPE
}

pub fn is_realtime(t: &Trigger) -> bool {
    t.type_ == REALTIME_TYPE
}

fn picked(t: &Trigger) -> Map<String, Value> {
    super::picked(t, SUBSCRIBE_PROPS)
}

/// The properties an `mqtt.Trigger`'s subscribe reads, unrendered; `None` for another type.
pub fn subscribe_props(t: &Trigger) -> Option<Map<String, Value>> {
    is(t).then(|| picked(t))
}

/// The properties an `mqtt.RealtimeTrigger` listens with, unrendered;
/// `None` for another type or a disabled trigger.
pub fn realtime_props(t: &Trigger) -> Option<Map<String, Value>> {
    (is_realtime(t) && !t.disabled).then(|| picked(t))
}

/// A trigger's properties, rendered.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Rendered {
    #[serde(flatten)]
    conn: ConnProps,
    #[serde(flatten)]
    s: SubscribeProps,
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    max_records: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_duration")]
    max_duration: Option<chrono::TimeDelta>,
}

/// A trigger's properties, read and checked.
#[derive(Debug)]
pub struct Spec {
    pub conn: ConnProps,
    pub subscribe: SubscribeSpec,
    /// The client id: `clientId`, else derived from the flow, the trigger
    /// and what it subscribes to (a new subscription is a new session).
    pub client_id: String,
    /// The client id is the derived one (the session's subscriptions are the trigger's).
    pub derived: bool,
}

impl Spec {
    pub fn read(props: &Map<String, Value>, flow: &Flow, trigger_id: &str) -> Result<Spec, TaskError> {
        let r: Rendered = parse_props(props)?;
        r.conn.check()?;
        let subscribe = r.s.spec(r.max_records, r.max_duration)?;
        let (client_id, derived) = match r.conn.client_id.clone().filter(|c| !c.trim().is_empty()) {
            Some(c) => (c, false),
            None => {
                let seed = format!(
                    "mqtt\n{}\n{}\n{trigger_id}\n{}\n{}\n{:?}",
                    flow.namespace,
                    flow.id,
                    subscribe.topics.join("\n"),
                    subscribe.qos,
                    r.conn.version()?
                );
                let id = crate::model::ids::derived_id(&seed);
                (format!("baton-{}", id.chars().take(17).collect::<String>()), true)
            }
        };
        Ok(Spec { conn: r.conn, subscribe, client_id, derived })
    }
}

fn check(trig: &Trigger, flow: &Flow) -> Vec<TriggerProblem> {
    let mut out = Vec::new();
    let realtime = is_realtime(trig);
    let what = if realtime { "RealtimeTrigger" } else { "Trigger" };
    for needed in ["server", "topic"] {
        if prop(trig, needed).is_none() {
            out.push(TriggerProblem::at("", format!("trigger '{}': an mqtt.{what} needs '{needed}'", trig.id)));
        }
    }
    if !realtime && prop(trig, "maxRecords").is_none() && prop(trig, "maxDuration").is_none() {
        out.push(TriggerProblem::at(
            "",
            format!(
                "trigger '{}': an mqtt.Trigger needs 'maxRecords' or 'maxDuration', so that receiving ends",
                trig.id
            ),
        ));
    }
    // what is written out is read as an evaluation will read it
    let written = super::as_written(picked(trig), CREDENTIALS);
    if written.contains_key("server") && written.contains_key("topic") {
        out.extend(super::read_problem(trig, &written, Spec::read(&written, flow, &trig.id).map(|_| ())));
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
        let topics = json!(["kestra/sensors/cpu", "kestra/sensors/mem"]);
        let base = json!({"server": "tcp://localhost:1883", "clientId": "kestraProducer", "topic": topics, "serdeType": "JSON"});
        let with = |extra: Value| {
            let mut m = base.as_object().cloned().unwrap_or_default();
            m.extend(extra.as_object().cloned().unwrap_or_default());
            Value::Object(m)
        };
        assert!(paths(TYPE, with(json!({"maxRecords": 10}))).is_empty());
        assert!(paths(REALTIME_TYPE, with(json!({"qos": 1}))).is_empty());
        assert_eq!(paths(TYPE, with(json!({}))), [""], "maxRecords or maxDuration");
        assert_eq!(paths(REALTIME_TYPE, json!({"topic": "a"})), [""], "server");
        assert_eq!(paths(REALTIME_TYPE, with(json!({"qos": 5}))), ["qos"]);
        assert_eq!(paths(REALTIME_TYPE, with(json!({"server": "ws://h"}))), ["server"]);
        assert_eq!(paths(REALTIME_TYPE, with(json!({"serdeType": "AVRO"}))), ["serdeType"]);
        assert_eq!(paths(TYPE, with(json!({"maxRecords": 1, "interval": "PT0.1S"}))), ["interval"]);
        assert!(paths(REALTIME_TYPE, with(json!({"server": "{{ vars.server }}"}))).is_empty());
        let secret = json!({"username": "{{ secret('MQTT_USER') }}", "password": "p"});
        assert!(paths(REALTIME_TYPE, with(secret)).is_empty(), "a templated user name is one");
    }

    #[test]
    fn a_derived_client_id_changes_with_what_is_subscribed() {
        let f = flow();
        let read = |topic: &str| {
            let props = json!({"server": "tcp://h", "topic": topic});
            Spec::read(props.as_object().expect("map"), &f, "t").expect("valid")
        };
        let (a, b) = (read("a"), read("b"));
        assert!(a.derived && a.client_id.starts_with("baton-") && a.client_id.len() <= 23);
        assert_ne!(a.client_id, b.client_id);
        assert_eq!(a.client_id, read("a").client_id);
    }
}
