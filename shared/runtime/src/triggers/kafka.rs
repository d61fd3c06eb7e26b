//! The Kafka triggers (plugin-kafka `Trigger.java`, `RealtimeTrigger.java`).
//!
//! `io.kestra.plugin.kafka.Trigger`: every `interval` (PT60S by default)
//! it reads as the `Consume` task does — until a poll of `pollDuration`
//! brings nothing, `maxRecords` or `maxDuration`, and at most until the
//! next interval is due — and, when records came, starts ONE execution
//! with `trigger.uri` (an Ion file of `{key, value, topic, headers,
//! partition, timestamp, offset}`) and `trigger.messagesCount`. Polled as
//! an `http.Trigger` (`super::http`), by `baton server local`'s poller and
//! on Google Cloud by a Cloud Scheduler job.
//!
//! `io.kestra.plugin.kafka.RealtimeTrigger`: one execution per record,
//! with the record as `trigger` (`trigger.key`, `trigger.value`,
//! `trigger.topic`, `trigger.partition`, `trigger.offset`,
//! `trigger.headers`, `trigger.timestamp`); its execution id derives from
//! the group, topic, partition and offset, so a record read twice starts
//! one execution. It listens on `baton server local` only: a Google Cloud
//! deployment refuses it.
//!
//! Both need a `groupId` (as Kestra) and commit what they read to it only
//! once the execution that holds it is stored (Kestra commits after each
//! poll); what was not stored is read again.
//!
//! This module is the pure part: the declarations, the checks of what is
//! written out, and the rendered properties read ([`Spec`]).

use std::sync::LazyLock;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::{StopAfterProp, TriggerDef, TriggerProblem, WhenProp, prop};
use crate::model::{Flow, Trigger};
use crate::plugins::kafka::conn::{self, Config, KafkaProps};
use crate::plugins::kafka::subscribe::{LimitProps, Limits, SubscribeProps, SubscribeSpec};
use crate::plugins::{Declare, TaskError, parse_props};

pub const TYPE: &str = "io.kestra.plugin.kafka.Trigger";
pub const REALTIME_TYPE: &str = "io.kestra.plugin.kafka.RealtimeTrigger";

/// The properties a read reads.
const PULL_PROPS: &[&str] = &[
    "properties",
    "serdeProperties",
    "topic",
    "topicPattern",
    "partitions",
    "groupId",
    "groupType",
    "acknowledgeType",
    "keyDeserializer",
    "valueDeserializer",
    "schemaRegistryVendor",
    "onSerdeError",
    "since",
    "headerFilters",
    "pollDuration",
    "maxRecords",
    "maxDuration",
];

/// Start an execution for the records of Kafka topics.
///
/// Reads records of topic (or topicPattern) with groupId every `interval` (until a poll of pollDuration brings nothing, maxRecords or maxDuration; at most until the next interval) and starts one execution for them (trigger.uri: one Ion record {key, value, topic, headers, partition, timestamp, offset} per record; trigger.messagesCount). The offsets are committed once the execution is stored.
#[derive(Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
#[plugin(
    type = TYPE,
    example = "id: trigger\ntype: io.kestra.plugin.kafka.Trigger\ntopic: test_kestra\nproperties:\n  bootstrap.servers: localhost:9092\nserdeProperties:\n  schema.registry.url: http://localhost:8085\nkeyDeserializer: STRING\nvalueDeserializer: JSON\ninterval: PT30S\nmaxRecords: 5\ngroupId: kafkaConsumerGroupId\n",
)]
struct TriggerProps {
    #[serde(flatten)]
    conn: KafkaProps,
    #[serde(flatten)]
    s: SubscribeProps,
    #[serde(flatten)]
    limits: LimitProps,
    /// How often the topics are read (whole minutes on Google Cloud).
    #[prop(kind = "Duration", default = "\"PT60S\"")]
    interval: Option<Value>,
    /// A read that fails becomes a FAILED execution (else it is logged and retried at the next interval).
    #[prop(kind = "Boolean", default = "false")]
    fail_on_trigger_error: Option<Value>,
    #[serde(flatten)]
    stop_after: StopAfterProp,
    #[serde(flatten)]
    when: WhenProp,
}

/// Start an execution for each record of Kafka topics.
///
/// Reads records of topic (or topicPattern) with groupId as they arrive and starts one execution per record (trigger.key, trigger.value, trigger.topic, trigger.partition, trigger.offset, trigger.headers, trigger.timestamp); a record read twice starts one execution. Listens on `baton server local` only: a Google Cloud deployment refuses it. The offsets are committed once the executions are stored.
#[derive(Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
#[plugin(
    type = REALTIME_TYPE,
    example = "id: watch\ntype: io.kestra.plugin.kafka.RealtimeTrigger\ntopic: test_kestra\nproperties:\n  bootstrap.servers: localhost:9092\n  auto.offset.reset: earliest\nkeyDeserializer: STRING\nvalueDeserializer: JSON\ngroupId: kafkaConsumerGroupId\n",
)]
struct RealtimeTriggerProps {
    #[serde(flatten)]
    conn: KafkaProps,
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

/// The properties a `kafka.Trigger`'s read reads, unrendered; `None` for another type.
pub fn pull_props(t: &Trigger) -> Option<Map<String, Value>> {
    is(t).then(|| picked(t))
}

/// The properties a `kafka.RealtimeTrigger` listens with, unrendered;
/// `None` for another type or a disabled trigger.
pub fn realtime_props(t: &Trigger) -> Option<Map<String, Value>> {
    (is_realtime(t) && !t.disabled).then(|| picked(t))
}

/// A trigger's properties, rendered.
#[derive(Debug, Deserialize)]
struct Rendered {
    #[serde(flatten)]
    conn: KafkaProps,
    #[serde(flatten)]
    s: SubscribeProps,
    #[serde(flatten)]
    limits: LimitProps,
}

/// A trigger's properties, read and checked.
#[derive(Debug, Clone)]
pub struct Spec {
    pub config: Config,
    pub subscribe: SubscribeSpec,
    pub limits: Limits,
}

impl Spec {
    pub fn read(props: &Map<String, Value>) -> Result<Spec, TaskError> {
        let r: Rendered = parse_props(props)?;
        Ok(Spec { config: r.conn.config()?, subscribe: r.s.spec(true)?, limits: r.limits.limits()? })
    }
}

fn check(trig: &Trigger, _flow: &Flow) -> Vec<TriggerProblem> {
    let mut out = Vec::new();
    let realtime = is_realtime(trig);
    let what = if realtime { "RealtimeTrigger" } else { "Trigger" };
    for needed in ["properties", "groupId"] {
        if prop(trig, needed).is_none() {
            out.push(TriggerProblem::at("", format!("trigger '{}': a kafka.{what} needs '{needed}'", trig.id)));
        }
    }
    if prop(trig, "topic").is_none() && prop(trig, "topicPattern").is_none() {
        out.push(TriggerProblem::at(
            "",
            format!("trigger '{}': a kafka.{what} needs 'topic' or 'topicPattern'", trig.id),
        ));
    }
    // what is written out is read as an evaluation will read it
    let mut written = super::as_written(picked(trig), &["groupId", "topic", "topicPattern"]);
    if let Some(Value::Object(m)) = written.get_mut("properties") {
        *m = conn::as_written(m);
    }
    if out.is_empty() {
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
        let base = json!({"topic": "tu_trigger", "groupId": "trigger-group", "interval": "PT10S",
            "properties": {"bootstrap.servers": "localhost:9092", "auto.offset.reset": "earliest"},
            "serdeProperties": {"schema.registry.url": "http://localhost:8085"},
            "keyDeserializer": "STRING", "valueDeserializer": "STRING"});
        let with = |extra: Value| {
            let mut m = base.as_object().cloned().unwrap_or_default();
            m.extend(extra.as_object().cloned().unwrap_or_default());
            Value::Object(m)
        };
        assert!(paths(TYPE, with(json!({}))).is_empty());
        assert!(paths(REALTIME_TYPE, with(json!({"interval": null}))).is_empty());
        let secret = json!({"properties": {"bootstrap.servers": "{{ secret('KAFKA') }}",
            "sasl.jaas.config": "{{ secret('JAAS') }}"}, "groupId": "{{ flow.id }}"});
        assert!(paths(TYPE, with(secret)).is_empty());
        assert_eq!(paths(REALTIME_TYPE, json!({"topic": "a", "groupId": "g"})), [""], "properties");
        assert_eq!(paths(TYPE, with(json!({"groupId": null}))), [""]);
        assert_eq!(paths(TYPE, with(json!({"valueDeserializer": "AVRO"}))), ["valueDeserializer"]);
        assert_eq!(
            paths(TYPE, with(json!({"properties": {"bootstrap.servers": "h", "bogus.key": 1}}))),
            ["properties"]
        );
        assert_eq!(paths(TYPE, with(json!({"interval": "PT0.1S"}))), ["interval"]);
    }
}
