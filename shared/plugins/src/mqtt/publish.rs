//! `io.kestra.plugin.mqtt.Publish` (plugin-mqtt `Publish.java`): publishes
//! the values of `from` on one topic, each its own message, at `qos` (1 by
//! default) with `retain` (false by default), and — MQTT 5 — the request's
//! `responseTopic` and `correlationData` (Base64, decoded on the wire). The
//! task ends once the broker acknowledged every message (per its QoS).
//!
//! `serdeType` is required, as in Kestra. With JSON, `from` is Kestra's
//! `Data.From`: a value (a map), a list of values, a JSON string of either,
//! or a `kestra://` Ion file (streamed, one value a line); each value is
//! sent as JSON. With STRING, `from` is a text or a list of texts, each
//! sent as written (a number or boolean as its text; a map needs JSON).
//! Outputs `messagesCount`; metrics `records` (tag `topic`) and `duration`.

use std::sync::LazyLock;
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::conn::{self, ConnProps, Outgoing};
use super::message::{self, Serde};
use crate::core::ion_file::IonFile;
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// The longest line of a `from` file (a message is at most the session's packet bound).
const MAX_LINE_BYTES: u64 = conn::MAX_PACKET_BYTES as u64;
/// How long the broker may take to acknowledge what was published.
const ACK_TIMEOUT: Duration = Duration::from_secs(60);
/// How many messages may wait for their acknowledgement at once.
const IN_FLIGHT: u64 = 100;

/// Publish messages to an MQTT topic.
///
/// Publishes each value of from (a value, a list, or a kestra:// Ion file) on one topic, serialized per serdeType (required: STRING or JSON), at qos with retain; outputs messagesCount.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.mqtt.Publish",
    group = "core",
    example = "id: publish\ntype: io.kestra.plugin.mqtt.Publish\nserver: tcp://localhost:1883\nclientId: kestraProducer\nqos: 1\ntopic: kestra/sensors/cpu\nserdeType: JSON\nretain: true\nfrom:\n  type: sensors\n  value: 1.23\n",
    outputs(messagesCount(Integer, "How many messages were published."))
)]
struct Props {
    #[serde(flatten)]
    conn: ConnProps,
    /// The topic to publish on.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic, required)]
    topic: Option<String>,
    /// The messages: a value, a list of values, a JSON string of either, or a kestra:// Ion file (JSON); a text or a list of texts (STRING).
    #[prop(kind = "Any", required)]
    from: Option<Value>,
    /// How messages are written: STRING or JSON.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic, required, values = ["STRING", "JSON"], check = message::serde_ok)]
    serde_type: Option<String>,
    /// The quality of service: 0 (at most once), 1 (at least once) or 2 (exactly once).
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    #[prop(dynamic, default = "1")]
    qos: Option<u64>,
    /// Whether the broker keeps the message for later subscribers (an empty payload with retain clears it).
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(dynamic, default = "false")]
    retain: Option<bool>,
    /// MQTT 5: the topic a responder should reply on (V5 only).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    response_topic: Option<String>,
    /// MQTT 5: correlation data a responder echoes back, Base64-encoded (V5 only).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    correlation_data: Option<String>,
}

/// Where the messages come from.
enum From {
    Values(Vec<Value>),
    File(String),
}

impl From {
    fn parse(v: Value, serde: Serde) -> Result<From, TaskError> {
        let err = |e: String| TaskError::property("from", e);
        match (serde, v) {
            (Serde::String, Value::Array(items)) => Ok(From::Values(items)),
            (Serde::String, v) => Ok(From::Values(vec![v])),
            (_, Value::String(s)) if s.trim().starts_with("kestra://") => Ok(From::File(s.trim().to_string())),
            (_, Value::String(s)) => match serde_json::from_str::<Value>(&s) {
                Ok(Value::Array(items)) => Ok(From::Values(items)),
                Ok(v @ Value::Object(_)) => Ok(From::Values(vec![v])),
                _ => Err(err(format!("'{s}' is neither a kestra:// URI nor a JSON value or list"))),
            },
            (_, Value::Array(items)) => Ok(From::Values(items)),
            (_, v) => Ok(From::Values(vec![v])),
        }
    }
}

struct Publish {
    conn: ConnProps,
    topic: String,
    serde: Serde,
    from: From,
    template: Outgoing,
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    p.conn.check()?;
    let topic = p.topic.filter(|t| !t.trim().is_empty()).ok_or_else(|| TaskError::property("topic", "is required"))?;
    if topic.contains(['+', '#']) {
        return Err(TaskError::property("topic", format!("'{topic}': a topic to publish on has no wildcard (+, #)")));
    }
    let serde = match p.serde_type.as_deref() {
        None => return Err(TaskError::property("serdeType", "is required: STRING or JSON")),
        s => Serde::property(s)?,
    };
    if serde == Serde::Bytes {
        return Err(TaskError::property("serdeType", "BYTES is for reading: Publish sends STRING or JSON"));
    }
    let from = From::parse(p.from.ok_or_else(|| TaskError::property("from", "is required"))?, serde)?;
    let v5 = p.conn.version()? == conn::Version::V5;
    for (name, set) in
        [("responseTopic", p.response_topic.is_some()), ("correlationData", p.correlation_data.is_some())]
    {
        if set && !v5 {
            return Err(TaskError::property(name, "is an MQTT 5 message property: set mqttVersion V5"));
        }
    }
    let template = Outgoing {
        payload: Vec::new(),
        qos: conn::qos(p.qos)?,
        retain: p.retain.unwrap_or(false),
        response_topic: p.response_topic,
        correlation_data: p.correlation_data.as_deref().map(message::correlation_data).transpose()?,
    };
    Ok(Box::new(Publish { conn: p.conn, topic, serde, from, template }))
}

impl Publish {
    fn message(&self, v: &Value, n: u64) -> Result<Outgoing, TaskError> {
        let payload = self.serde.write(v).map_err(|e| TaskError::property("from", format!("message {n}: {e}")))?;
        Ok(Outgoing { payload, ..self.template.clone() })
    }
}

#[async_trait]
impl RunnableTask for Publish {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let started = std::time::Instant::now();
        let mut session = super::subscribe::task_session(cx, &self.conn).await?;
        let (mut sent, mut waiting) = (0u64, 0u64);
        let mut file = match &self.from {
            From::File(uri) => Some(IonFile::open(cx, "from", uri, MAX_LINE_BYTES).await?),
            From::Values(_) => None,
        };
        let mut values = match &self.from {
            From::Values(v) => v.iter(),
            From::File(_) => [].iter(),
        };
        loop {
            let v = match file.as_mut() {
                Some(f) => f.next().await?,
                None => values.next().cloned(),
            };
            let Some(v) = v else { break };
            sent += 1;
            session.publish(&self.topic, self.message(&v, sent)?).await?;
            waiting += 1;
            if waiting >= IN_FLIGHT {
                session.flush(waiting, ACK_TIMEOUT).await?;
                waiting = 0;
            }
        }
        session.flush(waiting, ACK_TIMEOUT).await?;
        session.close().await?;
        cx.counter("records", sent as f64, &[("topic", &self.topic)]);
        cx.timer("duration", started.elapsed(), &[]);
        cx.info(&format!("Published {sent} messages on '{}'", self.topic));
        let mut out = Map::new();
        out.insert("messagesCount".into(), Value::from(sent));
        Ok(TaskOutput::with(out))
    }
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn err(v: Value) -> String {
        build(v.as_object().expect("map")).err().expect("refused").to_string()
    }

    #[test]
    fn kestra_s_example_builds_and_checks_name_the_property() {
        let ok = json!({"server": "tcp://h", "topic": "t", "serdeType": "JSON", "from": {"type": "sensors"}});
        assert!(build(ok.as_object().unwrap()).is_ok());
        assert!(err(json!({"server": "tcp://h", "topic": "t", "from": "x"})).contains("'serdeType'"));
        assert!(
            err(json!({"server": "tcp://h", "topic": "a/#", "serdeType": "STRING", "from": "x"})).contains("'topic'")
        );
        assert!(
            err(json!({"server": "tcp://h", "topic": "t", "serdeType": "JSON", "from": "plain"})).contains("'from'")
        );
        assert!(
            err(json!({"server": "tcp://h", "mqttVersion": "V3", "topic": "t", "serdeType": "STRING", "from": "x",
                "responseTopic": "r"}))
            .contains("'responseTopic'")
        );
        assert!(
            err(json!({"server": "tcp://h", "topic": "t", "serdeType": "STRING", "from": "x", "correlationData": "@"}))
                .contains("'correlationData'")
        );
    }
}
