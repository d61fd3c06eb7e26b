//! `io.kestra.plugin.mqtt.Subscribe` (plugin-mqtt `Subscribe.java`):
//! subscribes to one or more topics and writes each message received to
//! an Ion file (Kestra's record: `id`, `topic`, `qos`, `properties`,
//! `payload` read per `serdeType` — JSON by default —, `retain`,
//! `responseTopic`, `correlationData`) until `maxRecords` or `maxDuration`
//! (one of them is required: Kestra with neither never ends). A payload
//! that is not JSON under `serdeType: JSON` fails the task naming its
//! topic, as Kestra's client fails. Outputs `uri` and `messagesCount`;
//! metrics `records` (per `topic`) and `duration`.
//!
//! The session is clean (the broker forgets it when the task ends), with a
//! fresh client id unless `clientId` is set, as Kestra's. [`record_line`]
//! is shared with the polled `Trigger` (`baton_runtime::triggers::mqtt`).

use std::collections::BTreeMap;
use std::sync::LazyLock;
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::conn::{self, ConnProps, Message, Open, Session};
use super::message::{self, Crt, Serde};
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// The most bytes of Ion lines one subscribe keeps.
pub const MAX_SUBSCRIBE_BYTES: usize = 256 * 1024 * 1024;

/// Subscribe to MQTT topics into a file.
///
/// Subscribes to one or more topics and writes each message received (id, topic, qos, payload read per serdeType, retain, responseTopic, correlationData) to an Ion file until maxRecords or maxDuration (one is required); outputs uri and messagesCount.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.mqtt.Subscribe",
    group = "core",
    example = "id: subscribe\ntype: io.kestra.plugin.mqtt.Subscribe\nserver: tcp://localhost:1883\nclientId: kestraProducer\nqos: 1\nmaxDuration: PT30S\ntopic:\n  - kestra/sensors/cpu\n  - kestra/sensors/mem\nserdeType: JSON\nmaxRecords: 10\n",
    outputs(
        uri(String, "The Ion file of the messages received."),
        messagesCount(Integer, "How many messages were received.")
    )
)]
struct Props {
    #[serde(flatten)]
    conn: ConnProps,
    #[serde(flatten)]
    s: SubscribeProps,
    /// Stop once this many messages came.
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    #[prop(dynamic)]
    max_records: Option<u64>,
    /// Stop once this long has passed.
    #[serde(default, deserialize_with = "de::opt_duration")]
    #[prop(dynamic, kind = "Duration")]
    max_duration: Option<chrono::TimeDelta>,
}

/// What `Subscribe` and both triggers share.
#[derive(Debug, Default, Clone, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
pub struct SubscribeProps {
    /// The topic filter, or a list of them (each may use MQTT's + and # wildcards).
    #[serde(default, deserialize_with = "de::string_or_list")]
    #[prop(dynamic, kind = "Any", required, check = topic_ok)]
    pub topic: Vec<String>,
    /// How payloads are read: JSON, STRING or BYTES (Base64 text).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic, values = ["STRING", "JSON", "BYTES"], default = "\"JSON\"", check = message::serde_ok)]
    pub serde_type: Option<String>,
    /// The quality of service asked for: 0 (at most once), 1 (at least once) or 2 (exactly once).
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    #[prop(dynamic, default = "1")]
    pub qos: Option<u64>,
}

fn topic_ok(v: &Value) -> Result<(), String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Ok(()),
        Value::Array(items) if !items.is_empty() => items.iter().try_for_each(|t| match t {
            Value::String(s) if !s.trim().is_empty() => Ok(()),
            other => Err(format!("each topic must be text, found {other}")),
        }),
        other => Err(format!("expected a topic or a list of topics, found {other}")),
    }
}

/// A subscribe, read and checked.
#[derive(Debug, Clone)]
pub struct SubscribeSpec {
    pub topics: Vec<String>,
    pub serde: Serde,
    pub qos: u8,
    pub max_records: Option<u64>,
    pub max_duration: Option<Duration>,
}

impl SubscribeProps {
    pub fn spec(
        &self,
        max_records: Option<u64>,
        max_duration: Option<chrono::TimeDelta>,
    ) -> Result<SubscribeSpec, TaskError> {
        let topics: Vec<String> = self.topic.iter().map(|t| t.trim().to_string()).collect();
        if topics.is_empty() || topics.iter().any(String::is_empty) {
            return Err(TaskError::property("topic", "needs a topic or a list of topics"));
        }
        if max_records == Some(0) {
            return Err(TaskError::property("maxRecords", "must be at least 1"));
        }
        let max_duration = match max_duration {
            Some(d) => Some(d.to_std().map_err(|_| TaskError::property("maxDuration", "must not be negative"))?),
            None => None,
        };
        Ok(SubscribeSpec {
            topics,
            serde: Serde::property(self.serde_type.as_deref())?,
            qos: conn::qos(self.qos)?,
            max_records,
            max_duration,
        })
    }
}

/// What one subscribe received.
#[derive(Debug, Default)]
pub struct Collected {
    /// One Ion line per message.
    pub lines: Vec<u8>,
    pub per_topic: BTreeMap<String, u64>,
    /// It stopped at [`MAX_SUBSCRIBE_BYTES`].
    pub bounded: bool,
}

impl Collected {
    pub fn count(&self) -> u64 {
        self.per_topic.values().sum()
    }
}

/// Receives on a subscribed `session` until `spec`'s end (or `cap`, the
/// longest wait the caller allows); a payload `spec.serde` cannot read
/// fails naming its topic.
pub async fn collect(
    session: &mut Session,
    spec: &SubscribeSpec,
    cap: Option<Duration>,
) -> Result<Collected, TaskError> {
    let start = tokio::time::Instant::now();
    let wait = match (spec.max_duration, cap) {
        (Some(d), Some(c)) => Some(d.min(c)),
        (d, c) => d.or(c),
    };
    // no end at all: wait as Kestra does (a task's timeout still applies)
    let until = start + wait.unwrap_or(Duration::from_secs(100 * 365 * 24 * 3600));
    let mut got = Collected::default();
    while spec.max_records.is_none_or(|n| got.count() < n) {
        let Some(m) = session.next_message(until).await? else { break };
        record_line(&m, read_payload(&m, spec.serde)?, &mut got.lines)?;
        *got.per_topic.entry(m.topic.clone()).or_default() += 1;
        if got.lines.len() >= MAX_SUBSCRIBE_BYTES {
            got.bounded = true;
            break;
        }
    }
    Ok(got)
}

/// `m`'s payload read per `serde`; a payload `serde` cannot read is an
/// error naming its topic.
pub fn read_payload(m: &Message, serde: Serde) -> Result<Value, TaskError> {
    serde.read(&m.payload).map_err(|e| TaskError::failed(format!("message {} of topic '{}': {e}", m.id, m.topic)))
}

/// `m`'s payload read per `serde`, or — what the triggers do, so that one
/// message does not stop them — passed as text, with a warning.
pub fn payload_or_text(m: &Message, serde: Serde, trigger: &str) -> Value {
    read_payload(m, serde).unwrap_or_else(|e| {
        tracing::warn!(trigger, "mqtt: passed as text: {e}");
        Value::String(String::from_utf8_lossy(&m.payload).into_owned())
    })
}

/// Appends `m`'s record, with `payload`, as an Ion line.
pub fn record_line(m: &Message, payload: Value, out: &mut Vec<u8>) -> Result<(), TaskError> {
    crate::core::ion_text::write_line(&Value::Object(message::record(m, payload)), out)
        .map_err(|e| TaskError::failed(format!("cannot write a message of topic '{}': {e}", m.topic)))
}

struct Subscribe {
    conn: ConnProps,
    spec: SubscribeSpec,
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    p.conn.check()?;
    let spec = p.s.spec(p.max_records, p.max_duration)?;
    if spec.max_records.is_none() && spec.max_duration.is_none() {
        return Err(TaskError::property(
            "maxRecords",
            "'maxDuration' or 'maxRecords' must be set, so that receiving ends",
        ));
    }
    Ok(Box::new(Subscribe { conn: p.conn, spec }))
}

/// A task run's session: clean (the broker forgets it at the end), with
/// `clientId` or a fresh one, as Kestra's; `crt` read from the task's files.
pub async fn task_session(cx: &RunContext, conn: &ConnProps) -> Result<Session, TaskError> {
    let ca = match conn.crt.as_deref().map(Crt::parse).transpose()?.flatten() {
        None => None,
        Some(crt) => Some(crt.read(&*cx.services.storage, |uri| cx.readable_path("crt", uri)).await?),
    };
    let client_id = conn.client_id.clone().unwrap_or_else(conn::fresh_client_id);
    conn.connect(Open { client_id, clean: true, manual_acks: false, ca }).await
}

#[async_trait]
impl RunnableTask for Subscribe {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let started = std::time::Instant::now();
        let mut session = task_session(cx, &self.conn).await?;
        session.subscribe(&self.spec.topics, self.spec.qos, false).await?;
        let got = collect(&mut session, &self.spec, None).await;
        let _ = session.close().await;
        let got = got?;
        if got.bounded {
            cx.warn(&format!(
                "stopped receiving after {} messages: they hold {MAX_SUBSCRIBE_BYTES} bytes, the most one Subscribe keeps",
                got.count()
            ));
        }
        let count = got.count();
        let (uri, _) = cx.put_file("mqtt-subscribe.ion", Box::pin(std::io::Cursor::new(got.lines))).await?;
        for (topic, n) in &got.per_topic {
            cx.counter("records", *n as f64, &[("topic", topic)]);
        }
        cx.timer("duration", started.elapsed(), &[]);
        cx.info(&format!("Received {count} messages from {}", self.spec.topics.join(", ")));
        let mut out = Map::new();
        out.insert("messagesCount".into(), Value::from(count));
        out.insert("uri".into(), Value::String(uri));
        Ok(TaskOutput::with(out))
    }
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn props(v: Value) -> Result<Box<dyn RunnableTask>, TaskError> {
        build(v.as_object().expect("map"))
    }

    #[test]
    fn a_subscribe_needs_an_end_and_names_what_is_wrong() {
        let ok = json!({"server": "tcp://h", "topic": ["a/b", "c/#"], "maxRecords": "3"});
        assert!(props(ok).is_ok());
        let err = |v: Value| props(v).err().expect("refused").to_string();
        assert!(err(json!({"server": "tcp://h", "topic": "a"})).contains("'maxDuration' or 'maxRecords'"));
        assert!(err(json!({"server": "tcp://h", "topic": "a", "maxRecords": 1, "qos": 3})).contains("'qos'"));
        assert!(err(json!({"server": "tcp://h", "topic": "a", "maxRecords": 0})).contains("'maxRecords'"));
        assert!(
            err(json!({"server": "tcp://h", "topic": "a", "maxRecords": 1, "serdeType": "AVRO"}))
                .contains("'serdeType'")
        );
        assert!(err(json!({"server": "http://h", "topic": "a", "maxRecords": 1})).contains("'server'"));
    }
}
