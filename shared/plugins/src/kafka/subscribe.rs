//! What `Consume` and both Kafka triggers read from a topic with
//! (plugin-kafka `KafkaConsumerInterface`, `ConsumeInterface`): the
//! subscription's properties ([`SubscribeProps`] → [`SubscribeSpec`]) and
//! when a consume ends ([`LimitProps`] → [`Limits`]).
//!
//! As in Kestra: `topic` (one or a list) with `partitions` reads those
//! partitions, and `topic` without `groupId` reads all of a topic's
//! partitions — both from the start, or from `since` (an ISO-8601 date:
//! the first record at or after it) —; `topic` with `groupId` joins the
//! consumer group and reads from its committed offsets (`auto.offset.reset`
//! where it has none); `topicPattern` (a regular expression, `groupId`
//! required) subscribes to every topic it matches. `headerFilters` keeps
//! the records whose last header of each name has the given value.
//! `groupType: SHARE` (Kafka's share groups) is refused: librdkafka has no
//! share consumer. `onSerdeError` says what a value that is not JSON under
//! `valueDeserializer: JSON` does: fail the consume (no `onSerdeError`),
//! be skipped (`SKIPPED`) or be sent as it is to a dead-letter topic
//! (`DLQ`); `STORE` is refused.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::serde::{Serde, registry_refused, serde_ok};
use crate::{Declare, TaskError, de};

/// What a consume's subscription is made of.
#[derive(Debug, Default, Clone, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
pub struct SubscribeProps {
    /// The topic, or a list of topics (not with topicPattern).
    #[prop(dynamic, kind = "Any")]
    pub topic: Option<Value>,
    /// A regular expression of the topics to subscribe to (needs groupId; not with topic).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    pub topic_pattern: Option<String>,
    /// Read only these partitions of the topics (from the start, or since).
    #[prop(dynamic, kind = "List")]
    pub partitions: Option<Value>,
    /// The consumer group: read from its committed offsets, committed once the records are stored.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    pub group_id: Option<String>,
    /// CONSUMER (a classic consumer group); SHARE is not in Baton.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic, values = ["CONSUMER", "SHARE"], default = "\"CONSUMER\"", check = group_type_ok)]
    pub group_type: Option<String>,
    /// The acknowledgement of a SHARE group (Kestra ignores it for CONSUMER, as Baton does).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic, values = ["ACCEPT", "RELEASE", "REJECT", "RENEW"], default = "\"ACCEPT\"")]
    pub acknowledge_type: Option<String>,
    /// How keys are read.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic, values = ["STRING", "INTEGER", "FLOAT", "DOUBLE", "LONG", "SHORT", "BYTE_ARRAY", "BYTE_BUFFER", "BYTES", "UUID", "VOID", "AVRO", "JSON", "PROTOBUF"], default = "\"STRING\"", check = serde_ok)]
    pub key_deserializer: Option<String>,
    /// How values are read.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic, values = ["STRING", "INTEGER", "FLOAT", "DOUBLE", "LONG", "SHORT", "BYTE_ARRAY", "BYTE_BUFFER", "BYTES", "UUID", "VOID", "AVRO", "JSON", "PROTOBUF"], default = "\"STRING\"", check = serde_ok)]
    pub value_deserializer: Option<String>,
    /// A schema registry's vendor, for the AVRO serdes (not in Baton).
    #[prop(kind = "Any", check = registry_refused)]
    pub schema_registry_vendor: Option<Value>,
    /// What a value that is not JSON (valueDeserializer JSON) does: {type: SKIPPED or DLQ, topic}; without it the consume fails.
    #[prop(kind = "Map", check = on_serde_error_ok)]
    pub on_serde_error: Option<Value>,
    /// Read from this date (ISO-8601) where no group's offsets decide.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    pub since: Option<String>,
    /// Keep only the records whose headers have these values.
    #[prop(dynamic, kind = "Map")]
    pub header_filters: Option<Map<String, Value>>,
}

/// When a consume ends.
#[derive(Debug, Default, Clone, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
pub struct LimitProps {
    /// How long a poll waits for records: a poll that brings none ends the consume.
    #[serde(default, deserialize_with = "de::opt_duration")]
    #[prop(dynamic, kind = "Duration", default = "\"PT5S\"")]
    pub poll_duration: Option<chrono::TimeDelta>,
    /// Stop once this many records were kept.
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    #[prop(dynamic)]
    pub max_records: Option<u64>,
    /// Stop once this long has passed.
    #[serde(default, deserialize_with = "de::opt_duration")]
    #[prop(dynamic, kind = "Duration")]
    pub max_duration: Option<chrono::TimeDelta>,
}

/// What the subscription reads.
#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    /// These topics' partitions (all of them when `None`), from the start or `since`.
    Assign { topics: Vec<String>, partitions: Option<Vec<i32>> },
    /// The group's share of these topics.
    Group { topics: Vec<String> },
    /// The group's share of the topics matching this expression.
    Pattern(String),
}

/// What a value that cannot be read does.
#[derive(Debug, Clone, PartialEq)]
pub enum OnSerdeError {
    Fail,
    Skip,
    DeadLetter(String),
}

/// A subscription, read and checked.
#[derive(Debug, Clone)]
pub struct SubscribeSpec {
    pub mode: Mode,
    pub group: Option<String>,
    /// `since`, in epoch milliseconds.
    pub since: Option<i64>,
    pub key: Serde,
    pub value: Serde,
    pub on_serde_error: OnSerdeError,
    pub header_filters: Vec<(String, String)>,
}

/// A consume's end, read and checked.
#[derive(Debug, Clone)]
pub struct Limits {
    pub poll: Duration,
    pub max_records: Option<u64>,
    pub max_duration: Option<Duration>,
}

fn list(property: &str, v: &Value) -> Result<Vec<String>, TaskError> {
    let items: Vec<String> = match v {
        Value::Array(items) => items.iter().map(de::value_to_string).collect(),
        Value::String(s) => match serde_json::from_str::<Vec<Value>>(s) {
            Ok(items) => items.iter().map(de::value_to_string).collect(),
            Err(_) => vec![s.clone()],
        },
        other => vec![de::value_to_string(other)],
    };
    let items: Vec<String> = items.into_iter().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
    if items.is_empty() {
        return Err(TaskError::property(property, "names nothing"));
    }
    Ok(items)
}

impl SubscribeProps {
    /// Reads and checks the subscription (`group_required`: the triggers').
    pub fn spec(&self, group_required: bool) -> Result<SubscribeSpec, TaskError> {
        if self.group_type.as_deref().map(str::trim).is_some_and(|g| g != "CONSUMER") {
            return Err(TaskError::property("groupType", SHARE_REFUSED));
        }
        if let Some(a) = self.acknowledge_type.as_deref().map(str::trim)
            && !["ACCEPT", "RELEASE", "REJECT", "RENEW"].contains(&a)
        {
            return Err(TaskError::property(
                "acknowledgeType",
                format!("unknown '{a}' (ACCEPT, RELEASE, REJECT, RENEW)"),
            ));
        }
        if self.schema_registry_vendor.is_some() {
            return Err(TaskError::property(
                "schemaRegistryVendor",
                "belongs to the AVRO serdes and their schema registry, which Baton's Kafka plugin does not speak",
            ));
        }
        let group = self.group_id.as_deref().map(str::trim).filter(|g| !g.is_empty()).map(str::to_string);
        if group_required && group.is_none() {
            return Err(TaskError::property("groupId", "is required: the trigger commits what it read to its group"));
        }
        let pattern = self.topic_pattern.as_deref().map(str::trim).filter(|p| !p.is_empty());
        let mode = match (&self.topic, pattern) {
            (Some(_), Some(_)) => {
                return Err(TaskError::property("topicPattern", "set either topic or topicPattern, not both"));
            }
            (None, None) => return Err(TaskError::property("topic", "is required (or topicPattern)")),
            (None, Some(p)) => {
                if group.is_none() {
                    return Err(TaskError::property("groupId", "is required with topicPattern"));
                }
                if let Err(e) = regex::Regex::new(p) {
                    return Err(TaskError::property("topicPattern", format!("'{p}' is not a regular expression: {e}")));
                }
                Mode::Pattern(p.to_string())
            }
            (Some(t), None) => {
                let topics = list("topic", t)?;
                let partitions = match &self.partitions {
                    None | Some(Value::Null) => None,
                    Some(p) => Some(
                        list("partitions", p)?
                            .iter()
                            .map(|s| s.parse::<i32>().ok().filter(|n| *n >= 0))
                            .collect::<Option<Vec<i32>>>()
                            .ok_or_else(|| TaskError::property("partitions", "must be partition numbers"))?,
                    ),
                };
                match (partitions, &group) {
                    (Some(p), _) => Mode::Assign { topics, partitions: Some(p) },
                    (None, None) => Mode::Assign { topics, partitions: None },
                    (None, Some(_)) => Mode::Group { topics },
                }
            }
        };
        let since = match self.since.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(s) => Some(
                chrono::DateTime::parse_from_rfc3339(s)
                    .map_err(|e| TaskError::property("since", format!("'{s}' is not an ISO-8601 date-time ({e})")))?
                    .timestamp_millis(),
            ),
        };
        let value = Serde::read("valueDeserializer", self.value_deserializer.as_deref())?;
        Ok(SubscribeSpec {
            key: Serde::read("keyDeserializer", self.key_deserializer.as_deref())?,
            on_serde_error: on_serde_error(self.on_serde_error.as_ref())?,
            header_filters: self
                .header_filters
                .iter()
                .flatten()
                .map(|(k, v)| (k.clone(), de::value_to_string(v)))
                .collect(),
            value,
            mode,
            group,
            since,
        })
    }
}

/// SHARE refused at validation.
fn group_type_ok(v: &Value) -> Result<(), String> {
    match v.as_str().map(str::trim) {
        Some("SHARE") => Err(SHARE_REFUSED.into()),
        _ => Ok(()),
    }
}

fn on_serde_error_ok(v: &Value) -> Result<(), String> {
    if v.as_object().is_some_and(|m| m.values().any(|x| x.as_str().is_some_and(baton_model::expr::is_template))) {
        return Ok(());
    }
    on_serde_error(Some(v)).map(|_| ()).map_err(super::message)
}

const SHARE_REFUSED: &str =
    "only CONSUMER: Kafka's share groups (SHARE) have no client in librdkafka, Baton's Kafka client";

fn on_serde_error(v: Option<&Value>) -> Result<OnSerdeError, TaskError> {
    let err = |m: String| TaskError::property("onSerdeError", m);
    let m = match v {
        None | Some(Value::Null) => return Ok(OnSerdeError::Fail),
        Some(Value::Object(m)) => m,
        Some(other) => return Err(err(format!("must be a map {{type, topic}}, found {other}"))),
    };
    if let Some(k) = m.keys().find(|k| !["type", "topic"].contains(&k.as_str())) {
        return Err(err(format!("unknown field '{k}' (type, topic)")));
    }
    let topic = m.get("topic").map(de::value_to_string).filter(|t| !t.trim().is_empty());
    match m.get("type").map(de::value_to_string).as_deref().unwrap_or("SKIPPED") {
        "SKIPPED" => Ok(OnSerdeError::Skip),
        "DLQ" => {
            topic.map(OnSerdeError::DeadLetter).ok_or_else(|| err("type DLQ needs the dead-letter 'topic'".into()))
        }
        "STORE" => Err(err("type STORE is not in Baton: use SKIPPED, or DLQ to keep the records in a topic".into())),
        other => Err(err(format!("unknown type '{other}' (SKIPPED, DLQ)"))),
    }
}

impl LimitProps {
    pub fn limits(&self) -> Result<Limits, TaskError> {
        let dur = |d: Option<chrono::TimeDelta>, name: &str| -> Result<Option<Duration>, TaskError> {
            d.map(|d| d.to_std().map_err(|_| TaskError::property(name, "must not be negative"))).transpose()
        };
        if self.max_records == Some(0) {
            return Err(TaskError::property("maxRecords", "must be at least 1"));
        }
        let poll = dur(self.poll_duration, "pollDuration")?.unwrap_or(Duration::from_secs(5));
        if poll < Duration::from_millis(10) {
            return Err(TaskError::property("pollDuration", "must be at least PT0.01S"));
        }
        Ok(Limits { poll, max_records: self.max_records, max_duration: dur(self.max_duration, "maxDuration")? })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn spec(v: Value, group_required: bool) -> Result<SubscribeSpec, TaskError> {
        crate::parse_props::<SubscribeProps>(v.as_object().unwrap()).unwrap().spec(group_required)
    }

    #[test]
    fn subscriptions_are_read_as_kestra_s() {
        let s = spec(json!({"topic": "t", "groupId": "g"}), true).unwrap();
        assert_eq!(s.mode, Mode::Group { topics: vec!["t".into()] });
        let s = spec(json!({"topic": ["a", "b"], "partitions": [0, 2]}), false).unwrap();
        assert_eq!(s.mode, Mode::Assign { topics: vec!["a".into(), "b".into()], partitions: Some(vec![0, 2]) });
        let s = spec(json!({"topic": "a", "since": "2025-01-01T00:00:00Z"}), false).unwrap();
        assert_eq!(
            (s.mode, s.since),
            (Mode::Assign { topics: vec!["a".into()], partitions: None }, Some(1_735_689_600_000))
        );
        let s = spec(
            json!({"topicPattern": "ev.*", "groupId": "g", "onSerdeError": {"type": "DLQ", "topic": "dead"}}),
            false,
        )
        .unwrap();
        assert_eq!((s.mode, s.on_serde_error), (Mode::Pattern("ev.*".into()), OnSerdeError::DeadLetter("dead".into())));
        let err = |v: Value, g: bool| spec(v, g).unwrap_err().to_string();
        assert!(err(json!({"topic": "t"}), true).contains("'groupId'"));
        assert!(err(json!({"topicPattern": "x"}), false).contains("'groupId'"));
        assert!(err(json!({"topic": "t", "topicPattern": "x", "groupId": "g"}), false).contains("'topicPattern'"));
        assert!(err(json!({"topic": "t", "groupType": "SHARE"}), false).contains("'groupType'"));
        assert!(err(json!({"topic": "t", "onSerdeError": {"type": "STORE"}}), false).contains("'onSerdeError'"));
        assert!(err(json!({"topic": "t", "onSerdeError": {"type": "DLQ"}}), false).contains("'topic'"));
        assert!(err(json!({"topic": "t", "valueDeserializer": "PROTOBUF"}), false).contains("'valueDeserializer'"));
        assert!(err(json!({"topic": "t", "partitions": ["x"]}), false).contains("'partitions'"));
        assert!(err(json!({"topic": "t", "since": "yesterday"}), false).contains("'since'"));
    }
}
