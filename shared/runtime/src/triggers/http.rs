//! `io.kestra.plugin.core.http.Trigger` (alias `io.kestra.plugin.fs.http.Trigger`):
//! every `interval` (PT60S by default) it sends the request its properties
//! describe — the same properties as `core.http.Request`, failed statuses
//! allowed — renders `responseCondition` (default
//! `{{ response.statusCode < 400 }}`) with `response.statusCode`,
//! `response.body` and `response.headers`, and when it is truthy (Kestra's
//! truth: not blank, `false`, `0` or `-0`) starts an execution whose
//! `trigger` holds the request's outputs (`uri`, `code`, `headers`, `body`).
//! `stopAfter` disables it once an execution it started ends in one of the
//! listed states, as Kestra's examples use it ("until the price is met").
//!
//! This module is the pure part: properties, checks, the parsed trigger and
//! the execution id of an evaluation slot (`runtime::events::http` acts).
//! One execution per (trigger, slot of `interval`): two evaluations of one
//! slot — a duplicate Cloud Scheduler message, two servers — start one.
//!
//! `encryptBody: true` is refused: it needs Kestra's encryption key, which
//! Baton has no equivalent of. `conditions` (dates, `Expression`, `Not`,
//! `Or`…; no execution condition) are tested before each poll, as Kestra's
//! scheduler does (`runtime::events::condition_false`).

use std::sync::LazyLock;

use chrono::{DateTime, TimeDelta, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{StopAfterProp, TriggerDef, TriggerProblem, WhenProp, prop};
use crate::model::{Flow, StateType, Trigger};
use crate::plugins::Declare;

pub const TYPE: &str = "io.kestra.plugin.core.http.Trigger";
/// Kestra's default `responseCondition`.
pub const DEFAULT_CONDITION: &str = "{{ response.statusCode < 400 }}";
/// Kestra's default `interval`.
pub const DEFAULT_INTERVAL: TimeDelta = TimeDelta::seconds(60);
/// The shortest `interval` Baton polls at.
pub const MIN_INTERVAL: TimeDelta = TimeDelta::seconds(1);

/// The methods Kestra's `HttpMethod` names.
const METHODS: &[&str] = &["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE"];

/// The properties passed on to the request (those of `core.http.Request`).
const REQUEST_PROPS: &[&str] = &["uri", "method", "headers", "body", "formData", "contentType", "options"];

/// Start an execution when an HTTP response meets a condition.
///
/// Polls an HTTP endpoint every `interval` and starts an execution when `responseCondition` holds on the response (trigger.code, trigger.headers, trigger.body). On Google Cloud it is polled by a Cloud Scheduler job, at most once a minute.
#[derive(Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
#[plugin(
    type = TYPE,
    aliases = ["io.kestra.plugin.fs.http.Trigger"],
    example = "id: http\ntype: io.kestra.plugin.core.http.Trigger\nuri: https://example.com/products/1\nresponseCondition: \"{{ json(response.body).price <= 110 }}\"\ninterval: PT30S\nstopAfter:\n  - SUCCESS\n",
)]
struct HttpTriggerProps {
    /// The URL requested at each evaluation.
    #[prop(kind = "String", required)]
    uri: Option<Value>,
    /// How often it is polled (whole minutes on Google Cloud).
    #[prop(kind = "Duration", default = "\"PT60S\"")]
    interval: Option<Value>,
    /// Starts an execution when truthy; sees response.statusCode, response.body, response.headers.
    #[prop(kind = "String", default = "\"{{ response.statusCode < 400 }}\"")]
    response_condition: Option<Value>,
    /// The HTTP method.
    #[prop(kind = "String", default = "\"GET\"")]
    method: Option<Value>,
    /// Request headers, by name.
    #[prop(kind = "Map")]
    headers: Option<Value>,
    /// The request body.
    #[prop(kind = "Any")]
    body: Option<Value>,
    /// Form fields, sent URL-encoded (multipart with that contentType).
    #[prop(kind = "Map")]
    form_data: Option<Value>,
    /// The request's content type.
    #[prop(kind = "String")]
    content_type: Option<Value>,
    /// HTTP options (timeouts, auth, …) as core.http.Request's.
    #[prop(kind = "Map")]
    options: Option<Value>,
    /// Only false: Baton has no encryption key.
    #[prop(kind = "Boolean", default = "false")]
    encrypt_body: Option<Value>,
    /// When the request cannot be sent (or its condition not rendered), start a FAILED execution holding the error instead of only logging it.
    #[prop(kind = "Boolean", default = "false")]
    fail_on_trigger_error: Option<Value>,
    #[serde(flatten)]
    stop_after: StopAfterProp,
    #[serde(flatten)]
    when: WhenProp,
}

pub static DEF: LazyLock<TriggerDef> =
    LazyLock::new(|| TriggerDef::declare::<HttpTriggerProps>(check, crate::conditions::ConditionUse::Polling));

/// What a polled trigger asks at each evaluation.
#[derive(Debug, Clone, PartialEq)]
pub enum Probe {
    /// An `http.Trigger`'s request and the condition on its response.
    Request {
        response_condition: String,
        /// The request's properties, unrendered (rendered at each evaluation).
        request: Map<String, Value>,
    },
    /// A JDBC or BigQuery trigger's query (`super::jdbc`, `super::bigquery`): it fires when rows come back.
    Query {
        /// The query task's type.
        task_type: &'static str,
        /// Its properties, unrendered.
        props: Map<String, Value>,
    },
    /// A `redis.list.Trigger`'s pop (`super::redis`): it fires when it popped elements.
    RedisList {
        /// Its pop properties, unrendered.
        props: Map<String, Value>,
    },
    /// An `sqs.Trigger`'s receive (`super::sqs`): it fires when it received messages.
    SqsQueue {
        /// Its connection and receive properties, unrendered.
        props: Map<String, Value>,
    },
    /// A `kinesis.Trigger`'s read (`super::kinesis`): it fires when records came.
    KinesisStream {
        /// Its connection and read properties, unrendered.
        props: Map<String, Value>,
    },
    /// An `mqtt.Trigger`'s subscribe (`super::mqtt`): it fires when messages came.
    MqttTopics {
        /// Its connection and subscribe properties, unrendered.
        props: Map<String, Value>,
    },
    /// A `nats.Trigger`'s pull (`super::nats`): it fires when messages came.
    NatsSubject {
        /// Its connection and pull properties, unrendered.
        props: Map<String, Value>,
    },
    /// An `amqp.Trigger`'s consume (`super::amqp`): it fires when messages came.
    AmqpQueue {
        /// Its connection and consume properties, unrendered.
        props: Map<String, Value>,
    },
    /// A `kafka.Trigger`'s read (`super::kafka`): it fires when records came.
    KafkaTopics {
        /// Its client and subscription properties, unrendered.
        props: Map<String, Value>,
    },
    /// A `dataflow.Trigger`'s listing (`super::dataflow`): it fires when a job reached its state.
    DataflowJobs {
        /// Its connection and watch properties, unrendered.
        props: Map<String, Value>,
    },
}

/// A polled trigger of a flow, read: an `http.Trigger`, or a JDBC trigger
/// or a BigQuery trigger polled the same way (`super::jdbc`, `super::bigquery`).
#[derive(Debug, Clone, PartialEq)]
pub struct HttpTrigger {
    pub id: String,
    /// Its type's current name.
    pub type_name: &'static str,
    pub interval: TimeDelta,
    pub probe: Probe,
    pub stop_after: Vec<StateType>,
    /// `allowConcurrent`: evaluated while the execution it started last runs.
    pub allow_concurrent: bool,
    /// `failOnTriggerError`: an evaluation error becomes a FAILED execution.
    pub fail_on_trigger_error: bool,
}

impl HttpTrigger {
    /// Reads an `http.Trigger` or a JDBC trigger; `None` for another type
    /// or a disabled trigger.
    pub fn of(t: &Trigger) -> Option<Result<HttpTrigger, String>> {
        let http = super::is_of(&DEF, t);
        if t.disabled || !(http || super::polled_query(t).is_some() || popped(t).is_some()) {
            return None;
        }
        Some(Self::read(t))
    }

    fn read(t: &Trigger) -> Result<HttpTrigger, String> {
        let interval = match prop(t, "interval") {
            None => DEFAULT_INTERVAL,
            Some(Value::String(s)) => crate::model::duration::parse_iso(s).map_err(|e| format!("interval: {e}"))?,
            Some(other) => return Err(format!("interval: expected an ISO-8601 duration, got {other}")),
        };
        if interval < MIN_INTERVAL {
            return Err(format!("interval: at least PT1S, got {}", crate::model::duration::format_iso(interval)));
        }
        let own_name = || super::find(&t.type_).map_or(TYPE, |d| d.type_name);
        let (type_name, probe) = match (super::polled_query(t), popped(t)) {
            (Some((task_type, props)), _) => (own_name(), Probe::Query { task_type, props }),
            (None, Some(probe)) => (own_name(), probe),
            (None, None) => {
                let response_condition = match prop(t, "responseCondition") {
                    None => DEFAULT_CONDITION.to_string(),
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Bool(b)) => b.to_string(),
                    Some(other) => return Err(format!("responseCondition: expected a template, got {other}")),
                };
                let request = t
                    .props
                    .iter()
                    .filter(|(k, v)| REQUEST_PROPS.contains(&k.as_str()) && !v.is_null())
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                (TYPE, Probe::Request { response_condition, request })
            }
        };
        let stop_after = match prop(t, "stopAfter") {
            None => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().and_then(StateType::parse).ok_or_else(|| format!("stopAfter: {v} is not a state")))
                .collect::<Result<_, _>>()?,
            Some(other) => return Err(format!("stopAfter: expected a list of states, got {other}")),
        };
        let allow_concurrent = super::allows_concurrent(t);
        let fail_on_trigger_error = super::flag(t, "failOnTriggerError");
        Ok(HttpTrigger {
            id: t.id.clone(),
            type_name,
            interval,
            probe,
            stop_after,
            allow_concurrent,
            fail_on_trigger_error,
        })
    }

    /// The start of the evaluation slot `now` falls in (slots of `interval` from the epoch).
    pub fn slot(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let step = self.interval.num_milliseconds().max(1);
        let ms = now.timestamp_millis();
        DateTime::from_timestamp_millis(ms - ms.rem_euclid(step)).unwrap_or(now)
    }
}

/// A `redis.list.Trigger`'s pop properties; `None` for another type (or a build without Redis).
fn redis_props(t: &Trigger) -> Option<Map<String, Value>> {
    #[cfg(feature = "redis")]
    return super::redis::pop_props(t);
    #[cfg(not(feature = "redis"))]
    {
        let _ = t;
        None
    }
}

/// An `sqs.Trigger`'s receive properties; `None` for another type (or a build without AWS).
fn sqs_props(t: &Trigger) -> Option<Map<String, Value>> {
    #[cfg(feature = "aws")]
    return super::sqs::receive_props(t);
    #[cfg(not(feature = "aws"))]
    {
        let _ = t;
        None
    }
}

/// A `kinesis.Trigger`'s read properties; `None` for another type (or a build without AWS).
fn kinesis_props(t: &Trigger) -> Option<Map<String, Value>> {
    #[cfg(feature = "aws")]
    return super::kinesis::read_props(t);
    #[cfg(not(feature = "aws"))]
    {
        let _ = t;
        None
    }
}

/// An `mqtt.Trigger`'s subscribe properties; `None` for another type (or a build without MQTT).
fn mqtt_props(t: &Trigger) -> Option<Map<String, Value>> {
    #[cfg(feature = "mqtt")]
    return super::mqtt::subscribe_props(t);
    #[cfg(not(feature = "mqtt"))]
    {
        let _ = t;
        None
    }
}

/// The probe of a trigger that takes what it reads from a broker (a
/// Redis list, an SQS queue, MQTT topics, a NATS subject, Kafka topics).
fn popped(t: &Trigger) -> Option<Probe> {
    if let Some(props) = redis_props(t) {
        return Some(Probe::RedisList { props });
    }
    if let Some(props) = sqs_props(t) {
        return Some(Probe::SqsQueue { props });
    }
    if let Some(props) = kinesis_props(t) {
        return Some(Probe::KinesisStream { props });
    }
    if let Some(props) = mqtt_props(t) {
        return Some(Probe::MqttTopics { props });
    }
    if let Some(props) = nats_props(t) {
        return Some(Probe::NatsSubject { props });
    }
    if let Some(props) = amqp_props(t) {
        return Some(Probe::AmqpQueue { props });
    }
    if let Some(props) = dataflow_props(t) {
        return Some(Probe::DataflowJobs { props });
    }
    kafka_props(t).map(|props| Probe::KafkaTopics { props })
}

/// A `dataflow.Trigger`'s watch properties; `None` for another type (or a build without Google Cloud).
fn dataflow_props(t: &Trigger) -> Option<Map<String, Value>> {
    #[cfg(feature = "gcp")]
    return super::dataflow::watch_props(t);
    #[cfg(not(feature = "gcp"))]
    {
        let _ = t;
        None
    }
}

/// A `kafka.Trigger`'s read properties; `None` for another type (or a build without Kafka).
fn kafka_props(t: &Trigger) -> Option<Map<String, Value>> {
    #[cfg(feature = "kafka")]
    return super::kafka::pull_props(t);
    #[cfg(not(feature = "kafka"))]
    {
        let _ = t;
        None
    }
}

/// An `amqp.Trigger`'s consume properties; `None` for another type (or a build without AMQP).
fn amqp_props(t: &Trigger) -> Option<Map<String, Value>> {
    #[cfg(feature = "amqp")]
    return super::amqp::pull_props(t);
    #[cfg(not(feature = "amqp"))]
    {
        let _ = t;
        None
    }
}

/// A `nats.Trigger`'s pull properties; `None` for another type (or a build without NATS).
fn nats_props(t: &Trigger) -> Option<Map<String, Value>> {
    #[cfg(feature = "nats")]
    return super::nats::pull_props(t);
    #[cfg(not(feature = "nats"))]
    {
        let _ = t;
        None
    }
}

/// The id of the execution an evaluation in `slot` starts.
pub fn execution_id(flow: &Flow, trigger_id: &str, slot: DateTime<Utc>) -> String {
    crate::model::ids::derived_id(&format!(
        "http.Trigger\n{}\n{}\n{trigger_id}\n{}",
        flow.namespace,
        flow.id,
        slot.timestamp_millis()
    ))
}

fn check(trig: &Trigger, _flow: &Flow) -> Vec<TriggerProblem> {
    let mut out = Vec::new();
    if prop(trig, "uri").is_none() {
        out.push(TriggerProblem::at("", format!("trigger '{}': an http.Trigger needs 'uri'", trig.id)));
    }
    if prop(trig, "encryptBody").is_some_and(|v| v == &Value::Bool(true) || v.as_str() == Some("true")) {
        out.push(TriggerProblem::at(
            "encryptBody",
            format!(
                "trigger '{}': encryptBody: true needs Kestra's encryption key, which Baton does not have; \
                 leave it false (the body is then trigger.body) and keep secrets out of the response",
                trig.id
            ),
        ));
    }
    if let Some(Value::String(m)) = prop(trig, "method")
        && !crate::template::is_template(m)
        && !METHODS.contains(&m.trim().to_ascii_uppercase().as_str())
    {
        out.push(TriggerProblem::at("method", format!("trigger '{}': unknown HTTP method '{m}'", trig.id)));
    }
    out.extend(poll_problem(trig));
    out
}

/// What reading `trig` as a polled trigger finds wrong (`interval`,
/// `stopAfter`…), named by its property; an `interval` written as a
/// template is checked when rendered.
pub fn poll_problem(trig: &Trigger) -> Option<TriggerProblem> {
    let e = HttpTrigger::read(trig).err()?;
    let path = e.split(':').next().unwrap_or("").to_string();
    let templated = prop(trig, "interval").and_then(Value::as_str).is_some_and(crate::template::is_template);
    if path == "interval" && templated {
        return None;
    }
    Some(TriggerProblem::at(path, format!("trigger '{}': {e}", trig.id)))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::tests::flow;
    use super::*;

    fn trigger(props: Value) -> Trigger {
        let props = props.as_object().cloned().unwrap_or_default();
        Trigger {
            id: "http".into(),
            type_: props.get("type").and_then(Value::as_str).unwrap_or(TYPE).to_string(),
            disabled: false,
            props,
            path: "triggers[0]".into(),
        }
    }

    #[test]
    fn reads_defaults_and_request_properties() {
        let t = HttpTrigger::of(&trigger(json!({"uri": "http://x/{{ flow.id }}", "method": "POST", "body": "b"})))
            .expect("an http trigger")
            .expect("valid");
        assert_eq!(t.interval, TimeDelta::seconds(60));
        let Probe::Request { response_condition, request } = &t.probe else { panic!("a request: {t:?}") };
        assert_eq!(response_condition, DEFAULT_CONDITION);
        assert_eq!(request.keys().collect::<Vec<_>>(), ["uri", "method", "body"]);
        let legacy = trigger(json!({"type": "io.kestra.plugin.fs.http.Trigger", "uri": "u", "interval": "PT10S",
            "responseCondition": "{{ response.statusCode == 200 }}", "stopAfter": ["SUCCESS"]}));
        let t = HttpTrigger::of(&legacy).expect("alias").expect("valid");
        assert_eq!(t.interval, TimeDelta::seconds(10));
        assert_eq!(t.stop_after, [StateType::Success]);
        assert!(HttpTrigger::of(&trigger(json!({"type": "io.kestra.plugin.core.trigger.Schedule"}))).is_none());
    }

    #[test]
    fn slots_split_time_by_interval_and_ids_follow_them() {
        let t = HttpTrigger::of(&trigger(json!({"uri": "u", "interval": "PT10S"}))).expect("t").expect("valid");
        let at = |s: &str| DateTime::parse_from_rfc3339(s).expect("date").with_timezone(&Utc);
        assert_eq!(t.slot(at("2025-01-01T10:00:07.5Z")), at("2025-01-01T10:00:00Z"));
        assert_eq!(t.slot(at("2025-01-01T10:00:10Z")), at("2025-01-01T10:00:10Z"));
        let flow = flow();
        let a = execution_id(&flow, "http", at("2025-01-01T10:00:00Z"));
        assert_eq!(a, execution_id(&flow, "http", at("2025-01-01T10:00:00Z")));
        assert_ne!(a, execution_id(&flow, "http", at("2025-01-01T10:00:10Z")));
        assert_ne!(a, execution_id(&flow, "other", at("2025-01-01T10:00:00Z")));
    }

    #[test]
    fn checks_name_the_property() {
        let flow = flow();
        let problems = |p: Value| -> Vec<String> {
            check(&trigger(p), &flow).into_iter().map(|p| format!("{}: {}", p.path, p.message)).collect()
        };
        assert!(problems(json!({"uri": "u"})).is_empty());
        assert!(problems(json!({})).iter().any(|p| p.contains("needs 'uri'")));
        assert!(problems(json!({"uri": "u", "encryptBody": true})).iter().any(|p| p.starts_with("encryptBody: ")));
        assert!(problems(json!({"uri": "u", "encryptBody": false})).is_empty());
        assert!(problems(json!({"uri": "u", "interval": "PT0.5S"})).iter().any(|p| p.starts_with("interval: ")));
        assert!(problems(json!({"uri": "u", "method": "FETCH"})).iter().any(|p| p.starts_with("method: ")));
        assert!(problems(json!({"uri": "u", "stopAfter": ["DONE"]})).iter().any(|p| p.starts_with("stopAfter: ")));
    }
}
