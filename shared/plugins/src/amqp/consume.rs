//! `io.kestra.plugin.amqp.Consume`, plugin-amqp `Consume.java`: consumes a
//! queue (`basic.consume` with `consumerTag`, `Kestra` by default) until
//! `maxRecords` messages came or `maxDuration` passed — one of them is
//! required, as in Kestra — and at most a minute without `maxDuration`
//! (Kestra's own wait). Each message is a record of an Ion file (see
//! [`super::message`]); outputs `uri` and `count`.
//!
//! Without `autoAck` Kestra acknowledges each message as it writes it;
//! Baton acknowledges them once the file is stored (and, for the polled
//! trigger, once its execution is), and gives them back to the queue
//! otherwise. The broker holds at most `maxRecords` (and at most
//! [`MAX_MESSAGES`]) unacknowledged messages for one consume (its
//! prefetch), and a consume stops at [`MAX_CONSUME_BYTES`] of records.
//!
//! [`pull`] and [`settle`] are shared with the triggers
//! (`baton_runtime::triggers::amqp`).

use std::sync::LazyLock;
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use lapin::options::{BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions};
use lapin::types::FieldTable;
use lapin::{Channel, Connection, Consumer};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::conn::AmqpProps;
use super::message::{SerdeType, record};
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// The most bytes of Ion lines one consume keeps.
pub const MAX_CONSUME_BYTES: usize = 256 * 1024 * 1024;
/// The most messages one consume takes: the broker's prefetch, how many it
/// lets a consumer hold unacknowledged, is at most this.
pub const MAX_MESSAGES: u64 = 65_535;
/// How long a consume without `maxDuration` waits at most (Kestra's minute).
pub const DEFAULT_WAIT: Duration = Duration::from_secs(60);

/// Consume messages of an AMQP queue.
///
/// Consumes a queue until maxRecords messages came or maxDuration passed (one is required), into an Ion file of Kestra's message records {data, headers, contentType, …}; without autoAck they are acknowledged once stored; outputs uri and count.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.amqp.Consume",
    group = "core",
    example = "id: consume\ntype: io.kestra.plugin.amqp.Consume\nhost: localhost\nport: 5672\nusername: guest\npassword: \"{{ secret('AMQP_PASSWORD') }}\"\nvirtualHost: /my_vhost\nqueue: kestramqp.queue\nmaxRecords: 1000\n",
    outputs(uri(String, "The Ion file of the messages."), count(Integer, "How many messages were consumed."))
)]
struct Props {
    #[serde(flatten)]
    conn: AmqpProps,
    #[serde(flatten)]
    q: QueueProps,
    #[serde(flatten)]
    limits: LimitProps,
}

/// What `Consume` and both triggers share.
#[derive(Debug, Default, Clone, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
pub struct QueueProps {
    /// The queue to consume (it must exist).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic, required)]
    pub queue: Option<String>,
    /// The consumer's tag, as the broker shows it.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic, default = "\"Kestra\"")]
    pub consumer_tag: Option<String>,
    /// How a message's body is read: STRING (text) or JSON.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic, values = ["STRING", "JSON"], default = "\"STRING\"")]
    pub serde_type: Option<String>,
    /// The broker acknowledges each message as it delivers it (else Baton acknowledges them once kept).
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(dynamic, default = "false")]
    pub auto_ack: Option<bool>,
}

/// When a consume ends.
#[derive(Debug, Default, Clone, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
pub struct LimitProps {
    /// Stop once this many messages came (at most 65535; this or maxDuration is required).
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    #[prop(dynamic)]
    pub max_records: Option<u64>,
    /// Stop once this long has passed (this or maxRecords is required).
    #[serde(default, deserialize_with = "de::opt_duration")]
    #[prop(dynamic, kind = "Duration")]
    pub max_duration: Option<chrono::TimeDelta>,
}

/// A queue's consume, read and checked.
#[derive(Debug, Clone)]
pub struct QueueSpec {
    pub queue: String,
    pub tag: String,
    pub serde: SerdeType,
    pub auto_ack: bool,
}

/// A consume's end, read and checked.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_records: Option<u64>,
    pub max_duration: Option<Duration>,
}

impl QueueProps {
    pub fn spec(&self) -> Result<QueueSpec, TaskError> {
        let queue = self.queue.as_deref().map(str::trim).filter(|s| !s.is_empty());
        let queue = queue.ok_or_else(|| TaskError::property("queue", "is required"))?.to_string();
        let tag = self.consumer_tag.as_deref().map(str::trim).unwrap_or("Kestra");
        if tag.is_empty() || tag.len() > 255 {
            return Err(TaskError::property("consumerTag", "must be 1 to 255 bytes"));
        }
        Ok(QueueSpec {
            queue,
            tag: tag.to_string(),
            serde: SerdeType::read(self.serde_type.as_deref())?,
            auto_ack: self.auto_ack.unwrap_or(false),
        })
    }
}

impl LimitProps {
    pub fn limits(&self) -> Result<Limits, TaskError> {
        match self.max_records {
            Some(0) => return Err(TaskError::property("maxRecords", "must be at least 1")),
            Some(n) if n > MAX_MESSAGES => {
                return Err(TaskError::property(
                    "maxRecords",
                    format!("{n} is over {MAX_MESSAGES}, the most messages one consume holds unacknowledged"),
                ));
            }
            _ => {}
        }
        let max_duration = self
            .max_duration
            .map(|d| d.to_std().map_err(|_| TaskError::property("maxDuration", "must not be negative")))
            .transpose()?;
        if self.max_records.is_none() && max_duration.is_none() {
            return Err(TaskError::property(
                "maxRecords",
                "maxRecords or maxDuration must be set (else it would never end)",
            ));
        }
        Ok(Limits { max_records: self.max_records, max_duration })
    }
}

/// An open consume: its connection and channel, closed by [`settle`].
pub struct Session {
    pub connection: Connection,
    pub channel: Channel,
}

/// Opens a channel consuming `spec.queue`, holding at most `prefetch`
/// messages unacknowledged.
pub async fn open(conn: &AmqpProps, spec: &QueueSpec, prefetch: u16) -> Result<(Session, Consumer), TaskError> {
    let connection = conn.connect().await?;
    let failed = |what: &str, e: lapin::Error| TaskError::failed(format!("{what} '{}': {e}", spec.queue));
    let channel = connection.create_channel().await.map_err(|e| failed("cannot open a channel to consume", e))?;
    if !spec.auto_ack {
        channel
            .basic_qos(prefetch, BasicQosOptions::default())
            .await
            .map_err(|e| failed("cannot set the prefetch to consume", e))?;
    }
    let options = BasicConsumeOptions { no_ack: spec.auto_ack, ..BasicConsumeOptions::default() };
    let consumer = channel
        .basic_consume(&spec.queue, &spec.tag, options, FieldTable::default())
        .await
        .map_err(|e| failed("cannot consume queue", e))?;
    Ok((Session { connection, channel }, consumer))
}

/// What one consume took, not yet acknowledged.
#[derive(Default)]
pub struct Pulled {
    /// One Ion line per message.
    pub lines: Vec<u8>,
    pub count: u64,
    /// The last delivery's tag: what [`settle`] acknowledges up to.
    pub last_tag: Option<u64>,
    /// It stopped at [`MAX_CONSUME_BYTES`].
    pub bounded: bool,
}

/// Consumes until `limits` (or `cap`, the longest the caller waits).
pub async fn pull(
    conn: &AmqpProps,
    spec: &QueueSpec,
    limits: &Limits,
    cap: Option<Duration>,
) -> Result<(Session, Pulled), TaskError> {
    let max = limits.max_records.unwrap_or(MAX_MESSAGES).min(MAX_MESSAGES);
    let (session, mut consumer) = open(conn, spec, max as u16).await?;
    let wait = limits.max_duration.unwrap_or(DEFAULT_WAIT);
    let deadline = tokio::time::Instant::now() + cap.map_or(wait, |c| c.min(wait));
    let mut got = Pulled::default();
    while got.count < max {
        let next = match tokio::time::timeout_at(deadline, consumer.next()).await {
            Err(_) | Ok(None) => break,
            Ok(Some(Err(e))) => Err(TaskError::failed(format!("cannot consume queue '{}': {e}", spec.queue))),
            Ok(Some(Ok(d))) => {
                got.last_tag = Some(d.delivery_tag);
                record(&d.data, &d.properties, spec.serde)
                    .map_err(|e| TaskError::failed(format!("message {} of queue '{}': {e}", got.count + 1, spec.queue)))
            }
        };
        let line = next.and_then(|r| {
            crate::core::ion_text::write_line(&Value::Object(r), &mut got.lines)
                .map_err(|e| TaskError::failed(format!("cannot write a message of '{}': {e}", spec.queue)))
        });
        if let Err(e) = line {
            settle(session, spec, got.last_tag, false).await;
            return Err(e);
        }
        got.count += 1;
        if got.lines.len() >= MAX_CONSUME_BYTES {
            got.bounded = true;
            break;
        }
    }
    // no more deliveries: those already sent past the last one kept go back at the channel's close
    let _ = session.channel.basic_cancel(&spec.tag, BasicCancelOptions::default()).await;
    Ok((session, got))
}

/// Acknowledges every delivery up to `last_tag` when `kept` (else gives
/// them back to the queue), then closes the channel and the connection;
/// false when the broker could not be told (the broker gives unacknowledged
/// messages back when the connection closes).
pub async fn settle(session: Session, spec: &QueueSpec, last_tag: Option<u64>, kept: bool) -> bool {
    let mut done = true;
    if let (Some(tag), false) = (last_tag, spec.auto_ack) {
        let r = if kept {
            session.channel.basic_ack(tag, BasicAckOptions { multiple: true }).await
        } else {
            session.channel.basic_nack(tag, BasicNackOptions { multiple: true, requeue: true }).await
        };
        done = r.is_ok();
    }
    // closing waits for the broker's answer: the acknowledgements are in by then
    done &= session.channel.close(200, "done").await.is_ok();
    let _ = session.connection.close(200, "done").await;
    done
}

struct Consume {
    conn: AmqpProps,
    spec: QueueSpec,
    limits: Limits,
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    p.conn.check()?;
    Ok(Box::new(Consume { spec: p.q.spec()?, limits: p.limits.limits()?, conn: p.conn }))
}

#[async_trait]
impl RunnableTask for Consume {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let (session, got) = pull(&self.conn, &self.spec, &self.limits, None).await?;
        if got.bounded {
            cx.warn(&format!(
                "stopped consuming after {} messages: they hold {MAX_CONSUME_BYTES} bytes, the most one Consume keeps",
                got.count
            ));
        }
        let count = got.count;
        let stored = cx.put_file("amqp-consume.ion", Box::pin(std::io::Cursor::new(got.lines))).await;
        let (uri, _) = match stored {
            Ok(s) => s,
            Err(e) => {
                // not stored: back onto the queue
                settle(session, &self.spec, got.last_tag, false).await;
                return Err(e);
            }
        };
        if !settle(session, &self.spec, got.last_tag, true).await {
            return Err(TaskError::failed(format!(
                "the broker did not take the acknowledgements of queue '{}': its messages come again",
                self.spec.queue
            )));
        }
        cx.counter("consumed.records", count as f64, &[("queue", &self.spec.queue)]);
        cx.info(&format!("Consumed {count} messages of '{}'", self.spec.queue));
        let mut out = Map::new();
        out.insert("count".into(), Value::from(count));
        out.insert("uri".into(), Value::String(uri));
        Ok(TaskOutput::with(out))
    }
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn err(v: Value) -> String {
        build(v.as_object().unwrap()).err().expect("refused").to_string()
    }

    #[test]
    fn kestra_s_example_builds_and_bounds_are_required() {
        let ok = json!({"host": "localhost", "port": 5672, "username": "guest", "password": "p",
            "virtualHost": "/my_vhost", "queue": "kestramqp.queue", "maxRecords": 1000});
        assert!(build(ok.as_object().unwrap()).is_ok());
        assert!(err(json!({"host": "h", "queue": "q"})).contains("maxRecords or maxDuration"));
        assert!(err(json!({"host": "h", "queue": "q", "maxRecords": 70000})).contains("'maxRecords'"));
        assert!(err(json!({"host": "h", "queue": "q", "maxRecords": 0})).contains("'maxRecords'"));
        assert!(err(json!({"host": "h", "maxDuration": "PT1S"})).contains("'queue'"));
        assert!(
            err(json!({"host": "h", "queue": "q", "maxDuration": "PT1S", "serdeType": "AVRO"})).contains("'serdeType'")
        );
    }
}
