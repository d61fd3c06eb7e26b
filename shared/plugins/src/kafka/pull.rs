//! Reading from Kafka, shared by `Consume` and both triggers
//! (`baton_runtime::triggers::kafka`): [`open`] a consumer for a
//! [`SubscribeSpec`], [`pull`] records into Ion lines until the
//! [`Limits`], and [`commit`] what was read once it is stored.
//!
//! The consumer never commits by itself (`enable.auto.commit` false
//! unless the properties say otherwise, offsets stored by Baton only) and
//! reads committed transactions only (`isolation.level read_committed`),
//! as Kestra's. A consume keeps exactly `maxRecords` records and commits
//! the offsets of what it read, the records `headerFilters` or a skipped
//! serde error left out included: the rest is read by the next consume.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::{BorrowedMessage, Headers};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Message, Offset, TopicPartitionList};
use serde_json::{Map, Value};

use super::conn::Config;
use super::subscribe::{Limits, Mode, OnSerdeError, SubscribeSpec};
use crate::TaskError;

/// The most bytes of Ion lines one consume keeps.
pub const MAX_CONSUME_BYTES: usize = 256 * 1024 * 1024;
/// How long a lookup of partitions or offsets may take.
const LOOKUP_WAIT: Duration = Duration::from_secs(30);
/// How long joining a consumer group may take before the first poll's wait starts.
const JOIN_WAIT: Duration = Duration::from_secs(30);
/// How often the assignment is looked at while joining.
const JOIN_STEP: Duration = Duration::from_millis(200);

/// A consumer, shared with the blocking pool for its blocking calls.
pub type Shared = Arc<StreamConsumer>;

/// Opens a consumer for `spec` and subscribes or assigns it.
pub async fn open(config: &Config, spec: &SubscribeSpec) -> Result<Shared, TaskError> {
    let set = |k: &str| config.entries.iter().any(|(n, _)| n == k);
    let mut more: Vec<(&str, &str)> = vec![("enable.auto.offset.store", "false")];
    if !set("enable.auto.commit") {
        more.push(("enable.auto.commit", "false"));
    }
    if !set("isolation.level") {
        more.push(("isolation.level", "read_committed"));
    }
    // librdkafka assigns partitions only in a group: without one, a group
    // of the consume's own, never committed to
    let own = format!("baton-{}", uuid::Uuid::new_v4().simple());
    more.push(("group.id", spec.group.as_deref().unwrap_or(&own)));
    let consumer: Shared = Arc::new(config.create(&more)?);
    let servers = config.servers.clone();
    let fail = move |e: String| TaskError::failed(format!("Kafka at {servers}: {e}"));
    match &spec.mode {
        Mode::Group { topics } => {
            let names: Vec<&str> = topics.iter().map(String::as_str).collect();
            consumer.subscribe(&names).map_err(|e| fail(format!("cannot subscribe to {topics:?}: {e}")))?;
        }
        Mode::Pattern(p) => {
            let regex = format!("^{}", p.trim_start_matches('^'));
            consumer.subscribe(&[&regex]).map_err(|e| fail(format!("cannot subscribe to /{p}/: {e}")))?;
        }
        Mode::Assign { topics, partitions } => {
            let (c, topics, partitions, since) = (consumer.clone(), topics.clone(), partitions.clone(), spec.since);
            let assignment = tokio::task::spawn_blocking(move || assignment(&c, &topics, partitions, since))
                .await
                .map_err(|e| fail(e.to_string()))?
                .map_err(fail.clone())?;
            consumer.assign(&assignment).map_err(|e| fail(format!("cannot read the partitions: {e}")))?;
        }
    }
    Ok(consumer)
}

/// The partitions to read and where to start (blocking: metadata and offset lookups).
fn assignment(
    c: &StreamConsumer,
    topics: &[String],
    partitions: Option<Vec<i32>>,
    since: Option<i64>,
) -> Result<TopicPartitionList, String> {
    let mut tpl = TopicPartitionList::new();
    for topic in topics {
        let numbers = match &partitions {
            Some(p) => p.clone(),
            None => {
                let m = c
                    .fetch_metadata(Some(topic), LOOKUP_WAIT)
                    .map_err(|e| format!("cannot look topic '{topic}' up: {e}"))?;
                let t = m.topics().iter().find(|t| t.name() == topic);
                match t {
                    Some(t) if t.error().is_none() && !t.partitions().is_empty() => {
                        t.partitions().iter().map(|p| p.id()).collect()
                    }
                    _ => return Err(format!("topic '{topic}' does not exist")),
                }
            }
        };
        for p in numbers {
            let start = since.map_or(Offset::Beginning, Offset::Offset);
            tpl.add_partition_offset(topic, p, start).map_err(|e| e.to_string())?;
        }
    }
    if since.is_some() {
        // each partition's first record at or after the date (its end when none)
        tpl = c.offsets_for_times(tpl, LOOKUP_WAIT).map_err(|e| format!("cannot find the offsets of 'since': {e}"))?;
    }
    Ok(tpl)
}

/// A record whose value could not be read, as it came: (key, value).
pub type DeadLetter = (Option<Vec<u8>>, Option<Vec<u8>>);

/// What one consume read, not yet committed.
#[derive(Default)]
pub struct Pulled {
    /// One Ion line per record kept.
    pub lines: Vec<u8>,
    /// How many records were kept, and per topic.
    pub count: u64,
    pub per_topic: BTreeMap<String, u64>,
    /// Each partition's next offset (what to commit).
    pub next: BTreeMap<(String, i32), i64>,
    /// Records whose value could not be read, for the dead-letter topic: (key, value).
    pub dead: Vec<DeadLetter>,
    /// It stopped at [`MAX_CONSUME_BYTES`].
    pub bounded: bool,
}

/// Kestra's record of a message: `{key, value, topic, headers, partition,
/// timestamp, offset}` (headers a list of one-entry maps); `Err` when the
/// key or value cannot be read (`true`: the value, a serde error).
pub fn record(m: &BorrowedMessage<'_>, spec: &SubscribeSpec) -> Result<Map<String, Value>, (bool, String)> {
    let at = || format!("record {} of partition {} of '{}'", m.offset(), m.partition(), m.topic());
    let key = spec.key.decode(m.key()).map_err(|e| (false, format!("{}: key: {e}", at())))?;
    let value = spec.value.decode(m.payload()).map_err(|e| (true, format!("{}: value: {e}", at())))?;
    let headers: Vec<Value> = m
        .headers()
        .map(|h| {
            h.iter()
                .map(|h| {
                    let v = h.value.map_or(Value::Null, |v| Value::String(String::from_utf8_lossy(v).into_owned()));
                    Value::Object(Map::from_iter([(h.key.to_string(), v)]))
                })
                .collect()
        })
        .unwrap_or_default();
    let timestamp = m
        .timestamp()
        .to_millis()
        .and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| Value::String(t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)));
    let mut out = Map::new();
    out.insert("key".into(), key);
    out.insert("value".into(), value);
    out.insert("topic".into(), Value::String(m.topic().to_string()));
    out.insert("headers".into(), Value::Array(headers));
    out.insert("partition".into(), Value::from(m.partition()));
    out.insert("timestamp".into(), timestamp.unwrap_or(Value::Null));
    out.insert("offset".into(), Value::from(m.offset()));
    Ok(out)
}

/// What a record read becomes.
pub enum Read {
    /// Kept: its record.
    Kept(Map<String, Value>),
    /// Left out: `headerFilters` or `onSerdeError: SKIPPED` (logged).
    Left,
    /// Its value could not be read: for the dead-letter topic (`onSerdeError: DLQ`).
    Dead(DeadLetter),
}

/// Reads `m` per the subscription's `headerFilters` and `onSerdeError`; a
/// key or value that cannot be read, otherwise, is an error naming the record.
pub fn read(m: &BorrowedMessage<'_>, spec: &SubscribeSpec) -> Result<Read, TaskError> {
    if !passes(m, spec) {
        return Ok(Read::Left);
    }
    match (record(m, spec), &spec.on_serde_error) {
        (Ok(r), _) => Ok(Read::Kept(r)),
        (Err((true, e)), OnSerdeError::Skip) => {
            tracing::warn!("kafka: skipped (onSerdeError SKIPPED): {e}");
            Ok(Read::Left)
        }
        (Err((true, _)), OnSerdeError::DeadLetter(_)) => {
            Ok(Read::Dead((m.key().map(<[u8]>::to_vec), m.payload().map(<[u8]>::to_vec))))
        }
        (Err((_, e)), _) => Err(TaskError::failed(e)),
    }
}

/// Whether `m` passes `headerFilters` (each name's last header has the value).
pub fn passes(m: &BorrowedMessage<'_>, spec: &SubscribeSpec) -> bool {
    spec.header_filters.iter().all(|(k, want)| {
        let last = m.headers().and_then(|h| h.iter().filter(|h| h.key == k.as_str()).last().and_then(|h| h.value));
        last.is_some_and(|v| v == want.as_bytes())
    })
}

/// Reads from `consumer` until a poll brings nothing, `maxRecords`,
/// `maxDuration` or `cap` (the longest the caller waits).
pub async fn pull(
    consumer: &StreamConsumer,
    spec: &SubscribeSpec,
    limits: &Limits,
    cap: Option<Duration>,
) -> Result<Pulled, TaskError> {
    let start = tokio::time::Instant::now();
    let wait = match (limits.max_duration, cap) {
        (Some(d), Some(c)) => Some(d.min(c)),
        (d, c) => d.or(c),
    };
    let grouped = !matches!(spec.mode, Mode::Assign { .. });
    let mut got = Pulled::default();
    loop {
        let left = wait.map(|w| w.saturating_sub(start.elapsed()));
        // while the group has not assigned partitions yet (at most
        // JOIN_WAIT), wait in short steps: the poll's wait starts once it has
        let joining =
            grouped && start.elapsed() < JOIN_WAIT && consumer.assignment().map(|a| a.count() == 0).unwrap_or(true);
        let mut poll = if joining { JOIN_STEP } else { limits.poll };
        if let Some(l) = left {
            poll = poll.min(l);
        }
        let m = match tokio::time::timeout(poll, consumer.recv()).await {
            Err(_) if joining && left.is_none_or(|l| !l.is_zero()) => continue,
            Err(_) => break,
            Ok(Err(e)) => return Err(TaskError::failed(format!("cannot read from Kafka: {e}"))),
            Ok(Ok(m)) => m,
        };
        got.next.insert((m.topic().to_string(), m.partition()), m.offset() + 1);
        match read(&m, spec)? {
            Read::Kept(r) => {
                crate::core::ion_text::write_line(&Value::Object(r), &mut got.lines)
                    .map_err(|e| TaskError::failed(format!("cannot write a record of '{}': {e}", m.topic())))?;
                got.count += 1;
                *got.per_topic.entry(m.topic().to_string()).or_default() += 1;
            }
            Read::Left => {}
            Read::Dead(d) => got.dead.push(d),
        }
        if got.lines.len() >= MAX_CONSUME_BYTES {
            got.bounded = true;
            break;
        }
        let full = limits.max_records.is_some_and(|n| got.count >= n);
        if full || left.is_some_and(|l| l.is_zero()) || wait.is_some_and(|w| start.elapsed() >= w) {
            break;
        }
    }
    Ok(got)
}

/// Sends the records whose value could not be read to the dead-letter topic, as they were.
pub async fn dead_letters(config: &Config, spec: &SubscribeSpec, dead: &[DeadLetter]) -> Result<(), TaskError> {
    let OnSerdeError::DeadLetter(topic) = &spec.on_serde_error else { return Ok(()) };
    if dead.is_empty() {
        return Ok(());
    }
    let producer: FutureProducer = config.create(&[])?;
    for (key, value) in dead {
        let mut r = FutureRecord::to(topic);
        if let Some(k) = key {
            r = r.key(k);
        }
        if let Some(v) = value {
            r = r.payload(v);
        }
        producer.send(r, Duration::from_secs(30)).await.map_err(|(e, _)| {
            TaskError::failed(format!("cannot send a record to the dead-letter topic '{topic}': {e}"))
        })?;
    }
    tracing::warn!("kafka: {} records whose value is not JSON sent to '{topic}' (onSerdeError DLQ)", dead.len());
    Ok(())
}

/// Commits `next` (each partition's next offset) for the consumer's group;
/// nothing to do without a group.
pub async fn commit(
    consumer: &Shared,
    spec: &SubscribeSpec,
    next: &BTreeMap<(String, i32), i64>,
) -> Result<(), TaskError> {
    if spec.group.is_none() || next.is_empty() {
        return Ok(());
    }
    let mut tpl = TopicPartitionList::new();
    for ((topic, partition), offset) in next {
        tpl.add_partition_offset(topic, *partition, Offset::Offset(*offset))
            .map_err(|e| TaskError::failed(e.to_string()))?;
    }
    let c = consumer.clone();
    tokio::task::spawn_blocking(move || c.commit(&tpl, CommitMode::Sync))
        .await
        .map_err(|e| TaskError::failed(e.to_string()))?
        .map_err(|e| TaskError::failed(format!("cannot commit the offsets read to Kafka: {e}")))
}
