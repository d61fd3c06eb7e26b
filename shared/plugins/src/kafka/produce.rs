//! `io.kestra.plugin.kafka.Produce`, plugin-kafka `Produce.java`.
//!
//! `from` is Kestra's `Data.From` (a record, a list, a JSON string of
//! either, or a `kestra://` Ion file of them, streamed); a record is
//! `{key, value, topic, partition, timestamp, headers}` — `topic` falls
//! back to the task's, `timestamp` is epoch milliseconds or an ISO-8601
//! date, `headers` a map or the list of one-entry maps a `Consume` writes.
//! Keys and values are written by `keySerializer`/`valueSerializer`
//! (STRING by default, [`super::serde`]).
//!
//! As in Kestra, each topic is looked up once before its first record (a
//! missing topic or an unreachable broker fails the task naming it) and
//! the records are sent in one transaction unless `transactional: false`
//! (a `transactional.id` made for the run). The task ends once the broker
//! acknowledged every record (per `acks`), at most [`MAX_IN_FLIGHT`]
//! waiting at a time; the first refusal fails it (and aborts the
//! transaction). Output `messagesCount`, metric `records`.

use std::collections::HashSet;
use std::sync::LazyLock;
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::conn::{Config, KafkaProps};
use super::serde::{Serde, registry_refused, serde_ok};
use crate::core::ion_file::DataFrom;
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// The most records waiting for the broker's acknowledgement.
pub const MAX_IN_FLIGHT: usize = 10_000;
/// The longest line of a `from` file.
const MAX_LINE_BYTES: u64 = 16 * 1024 * 1024;
/// How long a topic's lookup and the transaction's calls may take.
const BROKER_WAIT: Duration = Duration::from_secs(30);
/// The fields of a record.
const FIELDS: &[&str] = &["key", "value", "topic", "partition", "timestamp", "headers"];

/// Send records to Kafka topics.
///
/// Sends each record {key, value, topic, partition, timestamp, headers} of from (one, a list, or a kestra:// Ion file) with keySerializer/valueSerializer, in one transaction unless transactional is false; ends once the broker acknowledged them all; outputs messagesCount.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.kafka.Produce",
    group = "core",
    example = "id: kafka_producer\ntype: io.kestra.plugin.kafka.Produce\nproperties:\n  bootstrap.servers: localhost:9092\ntopic: example_topic\nfrom:\n  key: \"{{ execution.id }}\"\n  value: Hello, World!\n  timestamp: \"{{ execution.startDate }}\"\n  headers:\n    x-header: some value\nkeySerializer: STRING\nvalueSerializer: STRING\n",
    outputs(messagesCount(Integer, "How many records were sent."))
)]
struct Props {
    #[serde(flatten)]
    conn: KafkaProps,
    /// The topic of the records that name none.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    topic: Option<String>,
    /// The records: {key, value, topic, partition, timestamp, headers}, a list of them, a JSON string of either, or a kestra:// Ion file of them.
    #[prop(kind = "Any", required)]
    from: Option<Value>,
    /// How keys are written.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic, values = ["STRING", "INTEGER", "FLOAT", "DOUBLE", "LONG", "SHORT", "BYTE_ARRAY", "BYTE_BUFFER", "BYTES", "UUID", "VOID", "AVRO", "JSON", "PROTOBUF"], default = "\"STRING\"", check = serde_ok)]
    key_serializer: Option<String>,
    /// How values are written.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic, values = ["STRING", "INTEGER", "FLOAT", "DOUBLE", "LONG", "SHORT", "BYTE_ARRAY", "BYTE_BUFFER", "BYTES", "UUID", "VOID", "AVRO", "JSON", "PROTOBUF"], default = "\"STRING\"", check = serde_ok)]
    value_serializer: Option<String>,
    /// Send the records in one transaction (a transactional.id made for the run).
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(dynamic, kind = "Boolean", default = "true")]
    transactional: Option<bool>,
    /// A schema registry's vendor, for the AVRO serdes (not in Baton).
    #[prop(kind = "Any", check = registry_refused)]
    schema_registry_vendor: Option<Value>,
    /// The keys' Avro schema (AVRO serdes, not in Baton).
    #[prop(dynamic, check = registry_refused)]
    key_avro_schema: Option<Value>,
    /// The values' Avro schema (AVRO serdes, not in Baton).
    #[prop(dynamic, check = registry_refused)]
    value_avro_schema: Option<Value>,
}

struct Produce {
    config: Config,
    topic: Option<String>,
    from: DataFrom,
    key: Serde,
    value: Serde,
    transactional: bool,
}

/// Refuses the schema-registry properties (what only the AVRO serdes read).
pub fn no_registry(props: &[(&str, bool)]) -> Result<(), TaskError> {
    match props.iter().find(|(_, set)| *set) {
        Some((name, _)) => Err(TaskError::property(
            name,
            "belongs to the AVRO serdes and their schema registry, which Baton's Kafka plugin does not speak",
        )),
        None => Ok(()),
    }
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    let config = p.conn.config()?;
    no_registry(&[
        ("schemaRegistryVendor", p.schema_registry_vendor.is_some()),
        ("keyAvroSchema", p.key_avro_schema.is_some()),
        ("valueAvroSchema", p.value_avro_schema.is_some()),
    ])?;
    let topic = p.topic.map(|t| t.trim().to_string()).filter(|t| !t.is_empty());
    Ok(Box::new(Produce {
        config,
        topic,
        from: DataFrom::parse("from", p.from)?,
        key: Serde::read("keySerializer", p.key_serializer.as_deref())?,
        value: Serde::read("valueSerializer", p.value_serializer.as_deref())?,
        transactional: p.transactional.unwrap_or(true),
    }))
}

/// A record ready to send.
#[derive(Debug)]
struct Outgoing {
    topic: String,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    partition: Option<i32>,
    timestamp: Option<i64>,
    headers: Option<OwnedHeaders>,
}

impl Produce {
    fn record(&self, v: &Value, strict: bool) -> Result<Outgoing, String> {
        let Value::Object(m) = v else { return Err(format!("a record is a map {{key, value, topic…}}, found {v}")) };
        if let Some(k) = m.keys().find(|k| strict && !FIELDS.contains(&k.as_str())) {
            return Err(format!("unknown field '{k}' (a record has {})", FIELDS.join(", ")));
        }
        let topic = match m.get("topic") {
            Some(Value::String(t)) if !t.trim().is_empty() => t.trim().to_string(),
            _ => self.topic.clone().ok_or("names no topic, and the task's 'topic' is not set")?,
        };
        let field = |k: &str| m.get(k).unwrap_or(&Value::Null);
        let partition = match field("partition") {
            Value::Null => None,
            p => Some(
                p.as_i64()
                    .and_then(|n| i32::try_from(n).ok())
                    .filter(|n| *n >= 0)
                    .ok_or_else(|| format!("partition {p} is not a partition number"))?,
            ),
        };
        let timestamp = match field("timestamp") {
            Value::Null => None,
            Value::Number(n) => Some(n.as_i64().ok_or_else(|| format!("timestamp {n} is not epoch milliseconds"))?),
            Value::String(s) => Some(
                chrono::DateTime::parse_from_rfc3339(s.trim())
                    .map_err(|e| format!("timestamp '{s}' is not an ISO-8601 date-time ({e})"))?
                    .timestamp_millis(),
            ),
            other => return Err(format!("timestamp {other} is neither epoch milliseconds nor a date")),
        };
        Ok(Outgoing {
            key: self.key.encode(field("key")).map_err(|e| format!("key: {e}"))?,
            value: self.value.encode(field("value")).map_err(|e| format!("value: {e}"))?,
            headers: headers(field("headers"))?,
            topic,
            partition,
            timestamp,
        })
    }
}

/// Kestra's headers: a map, or the list of one-entry maps a `Consume` writes.
fn headers(v: &Value) -> Result<Option<OwnedHeaders>, String> {
    let pairs: Vec<(&String, &Value)> = match v {
        Value::Null => return Ok(None),
        Value::Object(m) => m.iter().collect(),
        Value::Array(items) => {
            let mut out = Vec::new();
            for item in items {
                match item {
                    Value::Object(m) if m.len() == 1 => out.extend(m.iter()),
                    other => return Err(format!("headers: {other} is not a one-entry map {{name: value}}")),
                }
            }
            out
        }
        other => return Err(format!("headers must be a map, found {other}")),
    };
    let mut h = OwnedHeaders::new_with_capacity(pairs.len());
    for (k, v) in pairs {
        let text = (!v.is_null()).then(|| de::value_to_string(v));
        h = h.insert(Header { key: k, value: text.as_deref() });
    }
    Ok(Some(h))
}

/// Waits for one acknowledgement; the broker's refusal as an error.
async fn acknowledged(f: Option<DeliveryFuture>) -> Result<(), TaskError> {
    let Some(f) = f else { return Ok(()) };
    match f.await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err((e, m))) => {
            use rdkafka::Message;
            Err(TaskError::failed(format!("Kafka refused a record of topic '{}': {e}", m.topic())))
        }
        Err(_) => Err(TaskError::failed("the Kafka client stopped before the broker acknowledged a record")),
    }
}

/// Runs a blocking call of the client on the blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, KafkaError> + Send + 'static,
    what: &'static str,
) -> Result<T, TaskError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| TaskError::failed(format!("{what}: {e}")))?
        .map_err(|e| TaskError::failed(format!("{what}: {e}")))
}

/// Looks `topic` up: it fails when the broker cannot be reached or has no such topic.
pub async fn look_up(producer: &FutureProducer, topic: &str, servers: &str) -> Result<(), TaskError> {
    let (p, t) = (producer.clone(), topic.to_string());
    let m = tokio::task::spawn_blocking(move || p.client().fetch_metadata(Some(&t), BROKER_WAIT))
        .await
        .map_err(|e| TaskError::failed(e.to_string()))?
        .map_err(|e| TaskError::failed(format!("cannot reach Kafka at {servers}: {e}")))?;
    match m.topics().iter().find(|t| t.name() == topic).and_then(|t| t.error()) {
        None => Ok(()),
        Some(code) => Err(TaskError::failed(format!("topic '{topic}' on {servers}: {}", RDKafkaErrorCode::from(code)))),
    }
}

#[async_trait]
impl RunnableTask for Produce {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let id = format!("baton-{}", uuid::Uuid::new_v4().simple());
        let more: &[(&str, &str)] = if self.transactional { &[("transactional.id", &id)] } else { &[] };
        let producer: FutureProducer = self.config.create(more)?;
        if self.transactional {
            let p = producer.clone();
            blocking(move || p.init_transactions(BROKER_WAIT), "cannot start a Kafka transaction").await?;
            producer
                .begin_transaction()
                .map_err(|e| TaskError::failed(format!("cannot begin a Kafka transaction: {e}")))?;
        }
        let sent = self.send_all(cx, &producer).await;
        if self.transactional {
            let p = producer.clone();
            let ended = match &sent {
                Ok(_) => {
                    blocking(move || p.commit_transaction(BROKER_WAIT), "cannot commit the Kafka transaction").await
                }
                Err(_) => Ok(()),
            };
            if sent.is_err() || ended.is_err() {
                // nothing of it is read by read_committed consumers
                let p = producer.clone();
                let _ = blocking(move || p.abort_transaction(BROKER_WAIT), "cannot abort the Kafka transaction").await;
            }
            ended?;
        }
        let count = sent?;
        cx.counter("records", count as f64, &[]);
        cx.info(&format!("Sent {count} records to Kafka"));
        let mut out = Map::new();
        out.insert("messagesCount".into(), Value::from(count));
        Ok(TaskOutput::with(out))
    }
}

impl Produce {
    /// Sends every record; how many once all are acknowledged.
    async fn send_all(&self, cx: &RunContext, producer: &FutureProducer) -> Result<u64, TaskError> {
        let mut values = self.from.open(cx, "from", MAX_LINE_BYTES).await?;
        let mut looked_up = HashSet::new();
        let mut waiting = FuturesUnordered::new();
        let mut count = 0u64;
        while let Some((n, v, strict)) = values.next().await? {
            let r = self.record(&v, strict).map_err(|e| values.error("from", n, &e))?;
            if looked_up.insert(r.topic.clone()) {
                look_up(producer, &r.topic, &self.config.servers).await?;
            }
            loop {
                let mut record = FutureRecord::to(&r.topic);
                if let Some(k) = &r.key {
                    record = record.key(k);
                }
                if let Some(v) = &r.value {
                    record = record.payload(v);
                }
                record.partition = r.partition;
                record.timestamp = r.timestamp;
                record.headers = r.headers.clone();
                match producer.send_result(record) {
                    Ok(f) => {
                        waiting.push(acknowledged(Some(f)));
                        break;
                    }
                    // librdkafka's queue is full: wait for the broker
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                        match waiting.next().await {
                            Some(done) => done?,
                            None => tokio::time::sleep(Duration::from_millis(50)).await,
                        }
                    }
                    Err((e, _)) => {
                        return Err(values.error("from", n, &format!("cannot be sent to '{}': {e}", r.topic)));
                    }
                }
            }
            count += 1;
            while waiting.len() >= MAX_IN_FLIGHT {
                if let Some(done) = waiting.next().await {
                    done?;
                }
            }
        }
        while let Some(done) = waiting.next().await {
            done?;
        }
        Ok(count)
    }
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn task(extra: Value) -> Result<Box<dyn RunnableTask>, TaskError> {
        let mut m =
            json!({"properties": {"bootstrap.servers": "localhost:9092"}, "topic": "t", "from": {"value": "v"}});
        m.as_object_mut().unwrap().extend(extra.as_object().cloned().unwrap_or_default());
        build(m.as_object().unwrap())
    }

    #[test]
    fn kestra_s_example_builds_and_checks_name_the_property() {
        assert!(task(json!({})).is_ok());
        let err = |v: Value| task(v).err().expect("refused").to_string();
        assert!(err(json!({"valueSerializer": "AVRO"})).contains("'valueSerializer'"));
        assert!(err(json!({"valueAvroSchema": "{}"})).contains("'valueAvroSchema'"));
        assert!(err(json!({"from": "plain text"})).contains("'from'"));
        assert!(err(json!({"properties": {"bootstrap.servers": "h", "linger.mss": 1}})).contains("'linger.mss'"));
    }

    #[test]
    fn records_are_read_as_kestra_reads_them() {
        let p = Produce {
            config: Config { entries: vec![], files: vec![], max_poll_records: None, servers: "h".into() },
            topic: Some("t".into()),
            from: DataFrom::Values(vec![]),
            key: Serde::String,
            value: Serde::Json,
            transactional: false,
        };
        let r = p
            .record(
                &json!({"key": "k", "value": {"a": 1}, "timestamp": "2025-01-02T03:04:05Z", "headers": [{"h": "1"}]}),
                true,
            )
            .unwrap();
        assert_eq!(
            (r.topic.as_str(), r.key.as_deref(), r.value.as_deref()),
            ("t", Some(&b"k"[..]), Some(&br#"{"a":1}"#[..]))
        );
        assert_eq!(r.timestamp, Some(1_735_787_045_000));
        assert!(p.record(&json!({"value": 1, "offset": 3}), true).unwrap_err().contains("'offset'"));
        assert!(p.record(&json!({"value": 1, "offset": 3}), false).is_ok());
        assert!(p.record(&json!({"value": 1, "partition": -1}), true).is_err());
    }
}
