//! `io.kestra.plugin.nats.core.Consume` (alias `nats.Consume`), plugin-nats
//! `Consume.java`: pulls messages of a JetStream stream's `subject` (a
//! stream must hold it) with explicit acknowledgements, `batchSize` (10) a
//! fetch, each fetch waiting up to `pollDuration` (PT2S), until a fetch
//! brings nothing, `maxRecords` messages came or `maxDuration` passed.
//! Each message is a record `{subject, headers, data, timestamp}` of an Ion
//! file; outputs `uri` and `messagesCount`.
//!
//! The consumer is durable with `durableId` (it resumes where the last run
//! stopped), else ephemeral, starting per `deliverPolicy` (`All` by
//! default; `since`, an ISO-8601 date, starts it at that time). Kestra
//! acknowledges each message as it writes it; Baton acknowledges them once
//! the file is stored (and, for the polled trigger, once its execution is),
//! so a run that fails leaves them to be delivered again.
//!
//! [`pull`] is shared with the triggers (`baton_runtime::triggers::nats`).

use std::sync::LazyLock;
use std::time::Duration;

pub use async_nats::jetstream::consumer::PullConsumer;
use async_nats::jetstream::consumer::pull::Config as PullConfig;
use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy};
use async_trait::async_trait;
use futures::StreamExt;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::conn::{self, NatsProps};
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// The most bytes of Ion lines one consume keeps.
pub const MAX_CONSUME_BYTES: usize = 256 * 1024 * 1024;

/// Consume messages of a NATS JetStream subject.
///
/// Pulls messages of a JetStream subject (batchSize a fetch, each waiting up to pollDuration) until a fetch brings nothing, maxRecords or maxDuration, into an Ion file of {subject, headers, data, timestamp}; acknowledged once stored; outputs uri and messagesCount.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.nats.core.Consume",
    aliases = ["io.kestra.plugin.nats.Consume"],
    group = "core",
    example = "id: consume\ntype: io.kestra.plugin.nats.core.Consume\nurl: nats://localhost:4222\nusername: nats_user\npassword: \"{{ secret('NATS_PASSWORD') }}\"\nsubject: kestra.>\ndurableId: someDurableId\npollDuration: PT5S\n",
    outputs(
        uri(String, "The Ion file of the messages."),
        messagesCount(Integer, "How many messages were consumed.")
    )
)]
struct Props {
    #[serde(flatten)]
    conn: NatsProps,
    #[serde(flatten)]
    s: SubscribeProps,
    #[serde(flatten)]
    limits: LimitProps,
}

/// What `Consume` and both triggers share.
#[derive(Debug, Default, Clone, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
pub struct SubscribeProps {
    /// The subject (wildcards allowed) of a JetStream stream.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic, required)]
    pub subject: Option<String>,
    /// A durable consumer's name: the consume resumes where the last one stopped (else an ephemeral consumer).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    pub durable_id: Option<String>,
    /// Start with the messages of this date and after (ISO-8601), for a new consumer.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    pub since: Option<String>,
    /// How many messages one fetch asks for.
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    #[prop(dynamic, default = "10")]
    pub batch_size: Option<u64>,
    /// Where a new consumer starts: All, Last, New, ByStartTime (with since) or LastPerSubject.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic, values = ["All", "Last", "New", "ByStartSequence", "ByStartTime", "LastPerSubject"], default = "\"All\"")]
    pub deliver_policy: Option<String>,
}

/// When a consume ends.
#[derive(Debug, Default, Clone, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
pub struct LimitProps {
    /// How long one fetch waits for messages.
    #[serde(default, deserialize_with = "de::opt_duration")]
    #[prop(dynamic, kind = "Duration", default = "\"PT2S\"")]
    pub poll_duration: Option<chrono::TimeDelta>,
    /// Stop once this many messages came.
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    #[prop(dynamic)]
    pub max_records: Option<u64>,
    /// Stop once this long has passed.
    #[serde(default, deserialize_with = "de::opt_duration")]
    #[prop(dynamic, kind = "Duration")]
    pub max_duration: Option<chrono::TimeDelta>,
}

/// A subscription, read and checked.
#[derive(Debug, Clone)]
pub struct SubscribeSpec {
    pub subject: String,
    pub durable: Option<String>,
    pub deliver: DeliverPolicy,
    pub batch: usize,
}

/// A consume's end, read and checked.
#[derive(Debug, Clone)]
pub struct Limits {
    pub poll: Duration,
    pub max_records: Option<u64>,
    pub max_duration: Option<Duration>,
}

impl SubscribeProps {
    pub fn spec(&self) -> Result<SubscribeSpec, TaskError> {
        let subject = self.subject.as_deref().map(str::trim).filter(|s| !s.is_empty());
        let subject = subject.ok_or_else(|| TaskError::property("subject", "is required"))?.to_string();
        let since = match self.since.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(s) => Some(
                chrono::DateTime::parse_from_rfc3339(s)
                    .map_err(|e| TaskError::property("since", format!("'{s}' is not an ISO-8601 date-time ({e})")))?,
            ),
        };
        let deliver = match (self.deliver_policy.as_deref().map(str::trim).unwrap_or("All"), since) {
            ("All" | "ByStartTime", Some(t)) => {
                DeliverPolicy::ByStartTime { start_time: t.with_timezone(&chrono::Utc) }
            }
            ("ByStartTime", None) => {
                return Err(TaskError::property("since", "is required with deliverPolicy ByStartTime"));
            }
            (_, Some(_)) => {
                return Err(TaskError::property(
                    "since",
                    "starts a consumer by time: use it with deliverPolicy All or ByStartTime",
                ));
            }
            ("All", None) => DeliverPolicy::All,
            ("Last", None) => DeliverPolicy::Last,
            ("New", None) => DeliverPolicy::New,
            ("LastPerSubject", None) => DeliverPolicy::LastPerSubject,
            ("ByStartSequence", None) => {
                return Err(TaskError::property(
                    "deliverPolicy",
                    "ByStartSequence needs a start sequence, which Kestra's NATS types have no property for",
                ));
            }
            (other, None) => {
                return Err(TaskError::property(
                    "deliverPolicy",
                    format!("unknown '{other}': All, Last, New, ByStartTime or LastPerSubject"),
                ));
            }
        };
        let batch = match self.batch_size.unwrap_or(10) {
            n @ 1..=10_000 => n as usize,
            n => return Err(TaskError::property("batchSize", format!("must be between 1 and 10000, got {n}"))),
        };
        let durable = self.durable_id.clone().map(|d| d.trim().to_string()).filter(|d| !d.is_empty());
        Ok(SubscribeSpec { subject, durable, deliver, batch })
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
        let poll = dur(self.poll_duration, "pollDuration")?.unwrap_or(Duration::from_secs(2));
        if poll < Duration::from_millis(10) {
            return Err(TaskError::property("pollDuration", "must be at least PT0.01S"));
        }
        Ok(Limits { poll, max_records: self.max_records, max_duration: dur(self.max_duration, "maxDuration")? })
    }
}

/// The pull consumer of `spec` on the stream that holds its subject.
pub async fn consumer(client: &async_nats::Client, spec: &SubscribeSpec) -> Result<PullConsumer, TaskError> {
    let js = async_nats::jetstream::new(client.clone());
    let stream = js
        .stream_by_subject(spec.subject.clone())
        .await
        .map_err(|e| TaskError::failed(format!("no JetStream stream holds subject '{}': {e}", spec.subject)))?;
    let stream = js
        .get_stream(&stream)
        .await
        .map_err(|e| TaskError::failed(format!("cannot read JetStream stream '{stream}': {e}")))?;
    let config = PullConfig {
        durable_name: spec.durable.clone(),
        filter_subject: spec.subject.clone(),
        deliver_policy: spec.deliver,
        ack_policy: AckPolicy::Explicit,
        ..PullConfig::default()
    };
    let made = match &spec.durable {
        Some(d) => stream.get_or_create_consumer(d, config).await,
        None => stream.create_consumer(config).await,
    };
    made.map_err(|e| TaskError::failed(format!("cannot open a consumer of '{}': {e}", spec.subject)))
}

/// A message's record (Kestra's `{subject, headers, data, timestamp}`).
pub fn record(m: &async_nats::jetstream::Message) -> Map<String, Value> {
    let timestamp = m.info().ok().map(|i| i.published.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true));
    conn::record(m.subject.as_str(), m.headers.as_ref(), &m.payload, timestamp)
}

/// What one consume pulled, not yet acknowledged.
#[derive(Default)]
pub struct Pulled {
    /// One Ion line per message.
    pub lines: Vec<u8>,
    pub messages: Vec<async_nats::jetstream::Message>,
    /// It stopped at [`MAX_CONSUME_BYTES`].
    pub bounded: bool,
}

/// Pulls from `consumer` until `limits` (or `cap`, the longest the caller waits).
pub async fn pull(
    consumer: &PullConsumer,
    spec: &SubscribeSpec,
    limits: &Limits,
    cap: Option<Duration>,
) -> Result<Pulled, TaskError> {
    let start = tokio::time::Instant::now();
    let wait = match (limits.max_duration, cap) {
        (Some(d), Some(c)) => Some(d.min(c)),
        (d, c) => d.or(c),
    };
    let mut got = Pulled::default();
    loop {
        let left = limits.max_records.map_or(usize::MAX, |n| (n as usize).saturating_sub(got.messages.len()));
        let mut batch = consumer
            .fetch()
            .max_messages(spec.batch.min(left))
            .expires(limits.poll)
            .messages()
            .await
            .map_err(|e| TaskError::failed(format!("cannot fetch from '{}': {e}", spec.subject)))?;
        let mut fetched = 0;
        while let Some(m) = batch.next().await {
            let m = m.map_err(|e| TaskError::failed(format!("cannot fetch from '{}': {e}", spec.subject)))?;
            crate::core::ion_text::write_line(&Value::Object(record(&m)), &mut got.lines)
                .map_err(|e| TaskError::failed(format!("cannot write a message of '{}': {e}", m.subject)))?;
            got.messages.push(m);
            fetched += 1;
        }
        if got.lines.len() >= MAX_CONSUME_BYTES {
            got.bounded = true;
            break;
        }
        let full = limits.max_records.is_some_and(|n| got.messages.len() as u64 >= n);
        let late = wait.is_some_and(|w| start.elapsed() >= w);
        if fetched == 0 || full || late {
            break;
        }
    }
    Ok(got)
}

/// Acknowledges every message (or, `!kept`, asks for their redelivery now).
pub async fn settle(messages: &[async_nats::jetstream::Message], kept: bool) -> Result<(), TaskError> {
    for m in messages {
        let done = if kept { m.ack().await } else { m.ack_with(async_nats::jetstream::AckKind::Nak(None)).await };
        done.map_err(|e| TaskError::failed(format!("cannot acknowledge a message of '{}': {e}", m.subject)))?;
    }
    Ok(())
}

struct Consume {
    conn: NatsProps,
    spec: SubscribeSpec,
    limits: Limits,
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    p.conn.check()?;
    Ok(Box::new(Consume { spec: p.s.spec()?, limits: p.limits.limits()?, conn: p.conn }))
}

#[async_trait]
impl RunnableTask for Consume {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let client = self.conn.connect().await?;
        let consumer = consumer(&client, &self.spec).await?;
        let got = pull(&consumer, &self.spec, &self.limits, None).await?;
        if got.bounded {
            cx.warn(&format!(
                "stopped consuming after {} messages: they hold {MAX_CONSUME_BYTES} bytes, the most one Consume keeps",
                got.messages.len()
            ));
        }
        let count = got.messages.len();
        let stored = cx.put_file("nats-consume.ion", Box::pin(std::io::Cursor::new(got.lines))).await;
        let (uri, _) = match stored {
            Ok(s) => s,
            Err(e) => {
                // not stored: delivered again
                let _ = settle(&got.messages, false).await;
                return Err(e);
            }
        };
        settle(&got.messages, true).await?;
        client
            .flush()
            .await
            .map_err(|e| TaskError::failed(format!("NATS did not confirm the acknowledgements: {e}")))?;
        cx.counter("records", count as f64, &[("subject", &self.spec.subject)]);
        cx.info(&format!("Consumed {count} messages of '{}'", self.spec.subject));
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

    fn spec(v: Value) -> Result<SubscribeSpec, TaskError> {
        crate::parse_props::<SubscribeProps>(v.as_object().unwrap()).unwrap().spec()
    }

    #[test]
    fn policies_and_dates_are_read_as_kestra_s() {
        let s = spec(json!({"subject": "kestra.>", "durableId": "d"})).unwrap();
        assert_eq!((s.deliver, s.batch, s.durable.as_deref()), (DeliverPolicy::All, 10, Some("d")));
        let s = spec(json!({"subject": "a", "since": "2025-01-01T00:00:00Z"})).unwrap();
        assert!(matches!(s.deliver, DeliverPolicy::ByStartTime { .. }));
        let err = |v: Value| spec(v).unwrap_err().to_string();
        assert!(err(json!({"subject": "a", "deliverPolicy": "ByStartTime"})).contains("'since'"));
        assert!(
            err(json!({"subject": "a", "deliverPolicy": "New", "since": "2025-01-01T00:00:00Z"})).contains("'since'")
        );
        assert!(err(json!({"subject": "a", "deliverPolicy": "ByStartSequence"})).contains("'deliverPolicy'"));
        assert!(err(json!({"subject": "a", "since": "yesterday"})).contains("'since'"));
        assert!(err(json!({"subject": "a", "batchSize": 0})).contains("'batchSize'"));
        assert!(err(json!({})).contains("'subject'"));
    }
}
