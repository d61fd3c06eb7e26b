//! `io.kestra.plugin.aws.kinesis.Consume` (plugin-aws
//! `kinesis/Consume.java`): reads the stream's shards one after another
//! from `iteratorType` (LATEST by default; TRIM_HORIZON,
//! AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER with
//! `startingSequenceNumber`), polling each shard every `pollDuration`
//! until `maxRecords` records were read in all or `maxDuration` passed —
//! every shard is read at least once, as in Kestra. Kestra reads one
//! record past `maxRecords` for each shard after the one that reached it;
//! Baton stops at `maxRecords`. AT_TIMESTAMP, which needs a timestamp
//! Kestra's task has no property for, is refused at validation.
//!
//! Output `uri`: an Ion file, a line per record `{data, partitionKey,
//! sequenceNumber, shardId, approximateArrivalTimestamp}` (data as UTF-8
//! text); `count`; `lastSequencePerShard`. Bounded by
//! [`MAX_CONSUME_BYTES`] of lines (a warning names it when it ends the
//! read); metrics `records` and `duration`.

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_kinesis::types::ShardIteratorType;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::aws::AwsProps;
use crate::aws::connection::sdk_error;
use crate::core::ion_text;
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// The most bytes of Ion lines one consume keeps.
pub const MAX_CONSUME_BYTES: usize = 256 * 1024 * 1024;
/// Kestra's GetRecords limit.
const KESTRA_LIMIT: u64 = 1_000;

const ITERATOR_TYPES: &[&str] =
    &["AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER", "TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"];

/// Consume records from a Kinesis data stream.
///
/// Reads the stream's shards from iteratorType until maxRecords or maxDuration into an Ion file of {data, partitionKey, sequenceNumber, shardId, approximateArrivalTimestamp}; outputs uri, count and lastSequencePerShard.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.aws.kinesis.Consume",
    group = "aws",
    example = "id: consume\ntype: io.kestra.plugin.aws.kinesis.Consume\nregion: eu-central-1\nstreamName: stream\niteratorType: TRIM_HORIZON\npollDuration: PT5S\nmaxRecords: 100\n",
    outputs(
        uri(String, "The Ion file of the records read."),
        count(Integer, "How many records were read."),
        lastSequencePerShard(Map, "Shard id → the sequence number of the last record read from it.")
    )
)]
struct Props {
    #[serde(flatten)]
    aws: AwsProps,
    #[serde(flatten)]
    c: ConsumeProps,
}

/// What `Consume` and the polling `Trigger` share: the stream, where its
/// shards are read from, and when reading ends.
#[derive(Debug, Default, Clone, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
pub struct ConsumeProps {
    /// The stream's name.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic, required)]
    pub stream_name: Option<String>,
    /// Where each shard is read from.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic, values = ["AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER", "TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"], default = "\"LATEST\"", check = iterator_ok)]
    pub iterator_type: Option<String>,
    /// The sequence number AT_SEQUENCE_NUMBER and AFTER_SEQUENCE_NUMBER start at.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    pub starting_sequence_number: Option<String>,
    /// Stop once this many records were read.
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    #[prop(dynamic, default = "1000")]
    pub max_records: Option<u64>,
    /// Stop once this long has passed.
    #[serde(default, deserialize_with = "de::opt_duration")]
    #[prop(dynamic, kind = "Duration", default = "\"PT30S\"")]
    pub max_duration: Option<chrono::TimeDelta>,
    /// The pause between two reads of a shard.
    #[serde(default, deserialize_with = "de::opt_duration")]
    #[prop(dynamic, kind = "Duration", default = "\"PT1S\"")]
    pub poll_duration: Option<chrono::TimeDelta>,
}

/// A consume's reading, read from [`ConsumeProps`] and checked.
#[derive(Debug, Clone)]
pub struct Reader {
    /// The stream's name.
    pub stream: String,
    /// Where a shard with no other start is read from.
    pub start: Start,
    max_records: u64,
    max_duration: Duration,
    poll: Duration,
}

/// Where a shard is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// An iterator type, with its sequence number for AT_/AFTER_SEQUENCE_NUMBER.
    Iterator(ShardIteratorType, Option<String>),
    /// Just after this record's sequence number.
    After(String),
    /// From the records that arrived at or after this time.
    Since(chrono::DateTime<chrono::Utc>),
}

#[derive(Debug)]
struct Consume {
    aws: AwsProps,
    reader: Reader,
}

const AT_TIMESTAMP: &str = "AT_TIMESTAMP needs a timestamp, which Kestra's Consume has no property for (Kinesis refuses it): use TRIM_HORIZON or a sequence number";

/// A written `iteratorType`.
fn iterator_ok(v: &Value) -> Result<(), String> {
    match v.as_str() {
        Some(s) if s.trim().eq_ignore_ascii_case("AT_TIMESTAMP") => Err(AT_TIMESTAMP.into()),
        _ => Ok(()),
    }
}

fn duration(prop: &str, v: Option<chrono::TimeDelta>, default: Duration) -> Result<Duration, TaskError> {
    match v {
        None => Ok(default),
        Some(d) => d.to_std().map_err(|_| TaskError::property(prop, "must not be negative")),
    }
}

impl ConsumeProps {
    /// The reading these properties describe, checked.
    pub fn reader(&self) -> Result<Reader, TaskError> {
        let stream = self.stream_name.as_deref().map(str::trim).filter(|s| !s.is_empty());
        let stream = stream.ok_or_else(|| TaskError::property("streamName", "the stream's name is required"))?;
        let kind = self.iterator_type.as_deref().unwrap_or("LATEST").trim().to_ascii_uppercase();
        if !ITERATOR_TYPES.contains(&kind.as_str()) {
            return Err(TaskError::property(
                "iteratorType",
                format!("'{kind}' is not one of {}", ITERATOR_TYPES.join(", ")),
            ));
        }
        let sequence = self.starting_sequence_number.as_deref().map(str::trim).filter(|s| !s.is_empty());
        let start = match kind.as_str() {
            "AT_TIMESTAMP" => return Err(TaskError::property("iteratorType", AT_TIMESTAMP)),
            k @ ("AT_SEQUENCE_NUMBER" | "AFTER_SEQUENCE_NUMBER") if sequence.is_none() => {
                return Err(TaskError::property("iteratorType", format!("{k} needs a startingSequenceNumber")));
            }
            k => Start::Iterator(ShardIteratorType::from(k), sequence.map(str::to_string)),
        };
        let max_records = self.max_records.unwrap_or(KESTRA_LIMIT);
        if max_records == 0 {
            return Err(TaskError::property("maxRecords", "must be at least 1"));
        }
        Ok(Reader {
            stream: stream.to_string(),
            start,
            max_records,
            max_duration: duration("maxDuration", self.max_duration, Duration::from_secs(30))?,
            poll: duration("pollDuration", self.poll_duration, Duration::from_secs(1))?,
        })
    }
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    p.aws.check()?;
    Ok(Box::new(Consume { reader: p.c.reader()?, aws: p.aws }))
}

/// What a consume read.
#[derive(Debug, Default)]
pub struct Read {
    /// The records, an Ion line each.
    pub lines: Vec<u8>,
    pub count: u64,
    /// Shard id → the sequence number of the last record read from it.
    pub last: Map<String, Value>,
    /// [`MAX_CONSUME_BYTES`] ended it.
    pub bounded: bool,
}

impl Reader {
    /// Whether a shard with no other start is read from LATEST.
    pub fn starts_latest(&self) -> bool {
        matches!(&self.start, Start::Iterator(ShardIteratorType::Latest, _))
    }

    async fn shards(&self, client: &aws_sdk_kinesis::Client) -> Result<Vec<String>, TaskError> {
        let mut ids = Vec::new();
        let mut token: Option<String> = None;
        loop {
            // a continued listing names only the token
            let req = match token.take() {
                Some(t) => client.list_shards().next_token(t),
                None => client.list_shards().stream_name(&self.stream),
            };
            let page = req
                .send()
                .await
                .map_err(|e| sdk_error("Kinesis", &format!("cannot list the shards of {}", self.stream), e))?;
            ids.extend(page.shards().iter().map(|s| s.shard_id().to_string()));
            match page.next_token() {
                Some(t) => token = Some(t.to_string()),
                None => return Ok(ids),
            }
        }
    }

    /// Reads every shard in turn, each from where `start` says (the
    /// reader's own start when it says nothing), until `maxRecords` or
    /// `maxDuration`.
    pub async fn read(
        &self,
        client: &aws_sdk_kinesis::Client,
        start: &(dyn Fn(&str) -> Option<Start> + Sync),
    ) -> Result<Read, TaskError> {
        let deadline = Instant::now() + self.max_duration;
        let mut read = Read::default();
        let err = |what: &str| format!("cannot {what} of {}", self.stream);
        'shards: for shard in self.shards(client).await? {
            let req = client.get_shard_iterator().stream_name(&self.stream).shard_id(&shard);
            let req = match start(&shard).unwrap_or_else(|| self.start.clone()) {
                Start::Iterator(kind, sequence) => req.shard_iterator_type(kind).set_starting_sequence_number(sequence),
                Start::After(sequence) => {
                    req.shard_iterator_type(ShardIteratorType::AfterSequenceNumber).starting_sequence_number(sequence)
                }
                Start::Since(at) => req
                    .shard_iterator_type(ShardIteratorType::AtTimestamp)
                    .timestamp(aws_sdk_kinesis::primitives::DateTime::from_millis(at.timestamp_millis())),
            };
            let mut iterator = req
                .send()
                .await
                .map_err(|e| sdk_error("Kinesis", &err(&format!("start reading shard {shard}")), e))?
                .shard_iterator()
                .map(str::to_string);
            while let Some(it) = iterator.take() {
                let left = (self.max_records - read.count).min(KESTRA_LIMIT);
                let answer = client
                    .get_records()
                    .shard_iterator(it)
                    .limit(left as i32) // at most KESTRA_LIMIT
                    .send()
                    .await
                    .map_err(|e| sdk_error("Kinesis", &err(&format!("read shard {shard}")), e))?;
                for r in answer.records() {
                    let mut line = Map::new();
                    line.insert("data".into(), Value::String(String::from_utf8_lossy(r.data().as_ref()).into_owned()));
                    line.insert("partitionKey".into(), Value::String(r.partition_key().to_string()));
                    line.insert("sequenceNumber".into(), Value::String(r.sequence_number().to_string()));
                    line.insert("shardId".into(), Value::String(shard.clone()));
                    let at = r.approximate_arrival_timestamp().and_then(|t| {
                        chrono::DateTime::from_timestamp(t.secs(), t.subsec_nanos())
                            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
                    });
                    line.insert("approximateArrivalTimestamp".into(), at.map(Value::String).unwrap_or_default());
                    let before = read.lines.len();
                    ion_text::write_line(&Value::Object(line), &mut read.lines)
                        .map_err(|e| TaskError::failed(format!("cannot write the output: {e}")))?;
                    if read.lines.len() > MAX_CONSUME_BYTES {
                        read.lines.truncate(before);
                        read.bounded = true;
                        break 'shards;
                    }
                    read.count += 1;
                    read.last.insert(shard.clone(), Value::String(r.sequence_number().to_string()));
                    if read.count >= self.max_records {
                        break 'shards;
                    }
                }
                iterator = answer.next_shard_iterator().map(str::to_string);
                if Instant::now() >= deadline {
                    break;
                }
                tokio::time::sleep(self.poll.min(deadline.saturating_duration_since(Instant::now()))).await;
            }
        }
        Ok(read)
    }
}

#[async_trait]
impl RunnableTask for Consume {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let started = Instant::now();
        let client = self.aws.kinesis().await?;
        let read = self.reader.read(&client, &|_| None).await?;
        let stream = &self.reader.stream;
        if read.bounded {
            cx.warn(&format!(
                "stopped reading {stream} after {} records: they hold {MAX_CONSUME_BYTES} bytes, the most one Consume keeps",
                read.count
            ));
        }
        let (uri, _) = cx.put_file("kinesis-consume.ion", Box::pin(std::io::Cursor::new(read.lines))).await?;
        cx.timer("duration", started.elapsed(), &[]);
        cx.counter("records", read.count as f64, &[]);
        cx.info(&format!("Read {} records from {stream}", read.count));
        let mut out = Map::new();
        out.insert("uri".into(), Value::String(uri));
        out.insert("count".into(), Value::from(read.count));
        out.insert("lastSequencePerShard".into(), Value::Object(read.last));
        Ok(TaskOutput::with(out))
    }
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn built(v: Value) -> Result<(), String> {
        build(v.as_object().expect("map")).map(|_| ()).map_err(|e| e.to_string())
    }

    #[test]
    fn the_iterator_and_its_sequence_number_are_checked() {
        assert!(built(json!({"streamName": "s"})).is_ok());
        assert!(built(json!({"streamName": "s", "iteratorType": "trim_horizon", "maxRecords": "5"})).is_ok());
        let e = built(json!({"streamName": "s", "iteratorType": "AT_SEQUENCE_NUMBER"})).unwrap_err();
        assert!(e.contains("startingSequenceNumber") && e.contains("AT_SEQUENCE_NUMBER"), "{e}");
        assert!(
            built(json!({"streamName": "s", "iteratorType": "AT_TIMESTAMP"})).unwrap_err().contains("AT_TIMESTAMP")
        );
        assert!(built(json!({"streamName": "s", "iteratorType": "OLDEST"})).unwrap_err().contains("'OLDEST'"));
        assert!(built(json!({"streamName": "s", "maxRecords": 0})).unwrap_err().contains("maxRecords"));
        assert!(built(json!({"iteratorType": "LATEST"})).unwrap_err().contains("streamName"));
    }
}
