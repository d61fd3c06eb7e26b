//! `io.kestra.plugin.aws.kinesis.PutRecords` (plugin-aws
//! `kinesis/PutRecords.java`, `kinesis/model/Record.java`): sends records
//! `{partitionKey, data, explicitHashKey}` (Kestra's aliases
//! `PartitionKey`, `Data`, `ExplicitHashKey` too) given as a list or a
//! `kestra://` Ion file of them, each field rendered. Other fields of a
//! file's records are ignored, as Kestra's reader ignores them (a warning
//! names the first); in the flow they are refused at validation. Kestra sends them in
//! one request, which AWS limits to 500 records and 5 MiB; Baton sends
//! them in requests within those limits, in order, streaming a file.
//!
//! Every record is attempted. With `failOnUnsuccessfulRecords` (the
//! default) the task then fails when Kinesis rejected any, naming how many
//! and the first rejection; without it, it ends in WARNING, as Kestra's
//! output does. Output `uri`: an Ion file, a line per record in order,
//! `{sequenceNumber, shardId}` or `{errorCode, errorMessage}` and the
//! `record`; `recordCount`, `failedRecordsCount`; metrics `record.count`,
//! `record.successful`, `record.failed`, `duration`.

use std::sync::LazyLock;
use std::time::Instant;

use async_trait::async_trait;
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;
use baton_model::StateType;
use serde::Deserialize;
use serde_json::{Map, Value};
use tokio::io::AsyncWriteExt;

use super::{Stream, StreamProps};
use crate::aws::AwsProps;
use crate::aws::connection::sdk_error;
use crate::core::ion_file::DataFrom;
use crate::core::ion_text;
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// AWS's most records in one PutRecords request.
const MAX_PER_REQUEST: usize = 500;
/// AWS's most bytes (data and partition keys) in one request.
const MAX_REQUEST_BYTES: usize = 5 * 1024 * 1024;
/// AWS's most bytes of one record (data and partition key), and the
/// longest line of a `records` file.
const MAX_RECORD_BYTES: usize = 1024 * 1024;

/// Put records to a Kinesis data stream.
///
/// Sends a list or a kestra:// Ion file of records {partitionKey, data, explicitHashKey} to a stream by name or ARN; outputs uri (a line per record: its sequence number and shard, or its error), recordCount and failedRecordsCount.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.aws.kinesis.PutRecords",
    group = "aws",
    example = "id: put_records\ntype: io.kestra.plugin.aws.kinesis.PutRecords\nregion: eu-central-1\nstreamName: mystream\nrecords:\n  - data: user sign-in event\n    partitionKey: user1\n  - data: user sign-out event\n    partitionKey: user1\n",
    outputs(
        uri(String, "An Ion file of the records with their sequence number and shard, or their error."),
        recordCount(Integer, "How many records were sent."),
        failedRecordsCount(Integer, "How many records Kinesis rejected.")
    )
)]
struct Props {
    #[serde(flatten)]
    aws: AwsProps,
    #[serde(flatten)]
    stream: StreamProps,
    /// The records: a list of {partitionKey, data, explicitHashKey}, or a kestra:// Ion file of them.
    #[prop(kind = "Any", required, check = records_ok)]
    records: Option<Value>,
    /// Fail the task when Kinesis rejects any record (else it ends in WARNING).
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(dynamic, default = "true")]
    fail_on_unsuccessful_records: Option<bool>,
}

/// A record's field `name` or Kestra's capitalised alias.
fn field<'a>(m: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    let mut alias = name.to_string();
    alias[..1].make_ascii_uppercase();
    m.get(name).or_else(|| m.get(&alias)).filter(|v| !v.is_null())
}

const FIELDS: &[&str] = &["partitionKey", "PartitionKey", "data", "Data", "explicitHashKey", "ExplicitHashKey"];

/// A field a record does not have.
fn unknown_field(m: &Map<String, Value>) -> Option<&String> {
    m.keys().find(|k| !FIELDS.contains(&k.as_str()))
}

/// A record's fields as written in the flow (an unknown one is refused at
/// validation: a typo there is the flow's).
fn record_ok(m: &Map<String, Value>) -> Result<(), String> {
    if let Some(k) = unknown_field(m) {
        return Err(format!("unknown field '{k}' (a record has partitionKey, data, explicitHashKey)"));
    }
    required(m)
}

/// A record's required fields.
fn required(m: &Map<String, Value>) -> Result<(), String> {
    for required in ["partitionKey", "data"] {
        if field(m, required).is_none() {
            return Err(format!("a record needs '{required}'"));
        }
    }
    Ok(())
}

/// `records` as written: a URI (or template), or a list of records.
fn records_ok(v: &Value) -> Result<(), String> {
    match v {
        Value::String(_) => Ok(()),
        Value::Array(items) => items.iter().enumerate().try_for_each(|(i, item)| match item {
            Value::Object(m) => record_ok(m).map_err(|e| format!("record {}: {e}", i + 1)),
            Value::String(s) if baton_model::expr::is_template(s) => Ok(()),
            other => Err(format!("record {} must be a map, found {other}", i + 1)),
        }),
        other => Err(format!("expected a list of records or a kestra:// URI, found {other}")),
    }
}

/// A text field (a number or boolean as its text, as Jackson reads it into a String).
fn text(m: &Map<String, Value>, name: &str) -> Result<Option<String>, String> {
    match field(m, name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(v @ (Value::Number(_) | Value::Bool(_))) => Ok(Some(v.to_string())),
        Some(other) => Err(format!("'{name}' must be text, found {other}")),
    }
}

/// One record: the entry Kinesis takes and the record as the output file shows it.
fn entry(m: &Map<String, Value>) -> Result<(PutRecordsRequestEntry, Value, usize), String> {
    required(m)?;
    let key = text(m, "partitionKey")?.unwrap_or_default();
    let data = text(m, "data")?.unwrap_or_default();
    let hash = text(m, "explicitHashKey")?.filter(|h| !h.is_empty());
    let size = key.len() + data.len();
    if size > MAX_RECORD_BYTES {
        return Err(format!("{size} bytes of data and partition key, over Kinesis's {MAX_RECORD_BYTES} a record"));
    }
    let mut shown = Map::new();
    shown.insert("partitionKey".into(), Value::String(key.clone()));
    if let Some(h) = &hash {
        shown.insert("explicitHashKey".into(), Value::String(h.clone()));
    }
    shown.insert("data".into(), Value::String(data.clone()));
    let e = PutRecordsRequestEntry::builder()
        .data(Blob::new(data.into_bytes()))
        .partition_key(key)
        .set_explicit_hash_key(hash)
        .build()
        .map_err(|e| e.to_string())?;
    Ok((e, Value::Object(shown), size))
}

struct PutRecords {
    aws: AwsProps,
    stream: Stream,
    records: DataFrom,
    fail: bool,
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    p.aws.check()?;
    let stream = p.stream.stream()?;
    let records = DataFrom::parse("records", p.records)?;
    Ok(Box::new(PutRecords { aws: p.aws, stream, records, fail: p.fail_on_unsuccessful_records.unwrap_or(true) }))
}

/// What the requests so far gave.
#[derive(Default)]
struct Tally {
    sent: usize,
    failed: usize,
    /// The first rejection: record number, code, message.
    first: Option<(usize, String, String)>,
}

/// Records waiting for a request.
#[derive(Default)]
struct Batch {
    entries: Vec<PutRecordsRequestEntry>,
    shown: Vec<Value>,
    bytes: usize,
}

impl PutRecords {
    /// Sends `batch`, writing a line per record to `out`.
    async fn send(
        &self,
        client: &aws_sdk_kinesis::Client,
        batch: &mut Batch,
        tally: &mut Tally,
        out: &mut tokio::fs::File,
    ) -> Result<(), TaskError> {
        if batch.entries.is_empty() {
            return Ok(());
        }
        let req = client.put_records().set_records(Some(std::mem::take(&mut batch.entries)));
        let req = match &self.stream {
            Stream::Name(n) => req.stream_name(n),
            Stream::Arn(a) => req.stream_arn(a),
        };
        let label = self.stream.label();
        let answer =
            req.send().await.map_err(|e| sdk_error("Kinesis", &format!("cannot put records to {label}"), e))?;
        let mut lines = Vec::new();
        for (result, record) in answer.records().iter().zip(std::mem::take(&mut batch.shown)) {
            tally.sent += 1;
            let mut line = Map::new();
            if let Some(code) = result.error_code() {
                tally.failed += 1;
                let message = result.error_message().unwrap_or_default().to_string();
                tally.first.get_or_insert((tally.sent, code.to_string(), message.clone()));
                line.insert("errorCode".into(), Value::String(code.to_string()));
                line.insert("errorMessage".into(), Value::String(message));
            } else {
                line.insert("sequenceNumber".into(), result.sequence_number().map(Value::from).unwrap_or_default());
                line.insert("shardId".into(), result.shard_id().map(Value::from).unwrap_or_default());
            }
            line.insert("record".into(), record);
            ion_text::write_line(&Value::Object(line), &mut lines)
                .map_err(|e| TaskError::failed(format!("cannot write the output: {e}")))?;
        }
        batch.bytes = 0;
        out.write_all(&lines).await.map_err(|e| TaskError::failed(format!("cannot write the output: {e}")))
    }

    async fn run_in(&self, cx: &RunContext, path: &std::path::Path) -> Result<TaskOutput, TaskError> {
        let started = Instant::now();
        let client = self.aws.kinesis().await?;
        let mut out = tokio::fs::File::create(path)
            .await
            .map_err(|e| TaskError::failed(format!("cannot create {}: {e}", path.display())))?;
        let (mut batch, mut tally, mut warned) = (Batch::default(), Tally::default(), false);
        let mut values = self.records.open(cx, "records", MAX_RECORD_BYTES as u64 * 2).await?;
        while let Some((n, value, inline)) = values.next().await? {
            // a record read from a file is rendered as Kestra renders each field
            let value = if inline { value } else { cx.render_value(&value)? };
            let Value::Object(m) = value else { return Err(values.error("records", n, "is not a record (a map)")) };
            // Kestra reads a file's records ignoring other fields: so does Baton, saying so once
            if let Some(k) = unknown_field(&m).filter(|_| !inline && !warned) {
                warned = true;
                cx.warn(&format!(
                    "record {n} of records: field '{k}' is not a record's (partitionKey, data, explicitHashKey): ignored, as Kestra ignores it"
                ));
            }
            let (e, shown, size) = entry(&m).map_err(|e| values.error("records", n, &e))?;
            if batch.entries.len() == MAX_PER_REQUEST || batch.bytes + size > MAX_REQUEST_BYTES {
                self.send(&client, &mut batch, &mut tally, &mut out).await?;
            }
            batch.entries.push(e);
            batch.shown.push(shown);
            batch.bytes += size;
        }
        self.send(&client, &mut batch, &mut tally, &mut out).await?;
        out.flush().await.map_err(|e| TaskError::failed(format!("cannot write the output: {e}")))?;
        drop(out);
        let label = self.stream.label();
        cx.timer("duration", started.elapsed(), &[]);
        cx.counter("record.failed", tally.failed as f64, &[]);
        cx.counter("record.successful", (tally.sent - tally.failed) as f64, &[]);
        cx.counter("record.count", tally.sent as f64, &[]);
        if let Some((n, code, message)) = &tally.first
            && self.fail
        {
            return Err(TaskError::failed(format!(
                "Kinesis rejected {} of the {} records put to {label}; the first, record {n}: {code} ({message})",
                tally.failed, tally.sent
            )));
        }
        let file = tokio::fs::File::open(path).await.map_err(|e| TaskError::failed(e.to_string()))?;
        let (uri, _) = cx.put_file("kinesis-put-records.ion", Box::pin(file)).await?;
        cx.info(&format!("Put {} records to {label}, {} rejected", tally.sent, tally.failed));
        let mut outputs = Map::new();
        outputs.insert("uri".into(), Value::String(uri));
        outputs.insert("failedRecordsCount".into(), Value::from(tally.failed));
        outputs.insert("recordCount".into(), Value::from(tally.sent));
        let mut o = TaskOutput::with(outputs);
        if tally.failed > 0 {
            cx.warn(&format!("Kinesis rejected {} records (failOnUnsuccessfulRecords is false)", tally.failed));
            o.state = Some(StateType::Warning);
        }
        Ok(o)
    }
}

#[async_trait]
impl RunnableTask for PutRecords {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let dir = cx.working_dir()?;
        let out = self.run_in(cx, &dir.join("kinesis-put-records.ion")).await;
        if !cx.shares_working_dir() {
            let _ = tokio::fs::remove_dir_all(&dir).await;
        }
        out
    }
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn m(v: Value) -> Map<String, Value> {
        v.as_object().expect("map").clone()
    }

    #[test]
    fn a_record_takes_kestras_names_and_aliases() {
        let (e, shown, size) = entry(&m(json!({"PartitionKey": "u1", "Data": 42, "explicitHashKey": ""}))).unwrap();
        assert_eq!((e.partition_key(), e.data().as_ref(), e.explicit_hash_key()), ("u1", &b"42"[..], None));
        assert_eq!((shown, size), (json!({"partitionKey": "u1", "data": "42"}), 4));
        let err = |v: Value| entry(&m(v)).unwrap_err();
        assert_eq!(err(json!({"data": "x"})), "a record needs 'partitionKey'");
        assert!(
            record_ok(&m(json!({"data": "x", "partitionKey": "k", "key": 1})))
                .unwrap_err()
                .contains("unknown field 'key'")
        );
        assert!(
            entry(&m(json!({"data": "x", "partitionKey": "k", "user": 1}))).is_ok(),
            "a file's other fields are ignored"
        );
        assert!(err(json!({"data": {"a": 1}, "partitionKey": "k"})).contains("'data' must be text"));
        let big = "x".repeat(MAX_RECORD_BYTES);
        assert!(err(json!({"data": big, "partitionKey": "k"})).contains("over Kinesis's"));
    }

    #[test]
    fn records_are_a_list_or_a_uri_and_a_stream_is_named() {
        assert!(records_ok(&json!("kestra:///x.ion")).is_ok());
        assert!(records_ok(&json!([{"data": "a", "partitionKey": "k"}, "{{ one }}"])).is_ok());
        assert!(records_ok(&json!([{"data": "a"}])).unwrap_err().contains("record 1: a record needs 'partitionKey'"));
        assert!(records_ok(&json!(3)).is_err());
        let s = |v: Value| parse_props::<StreamProps>(v.as_object().unwrap()).unwrap().stream();
        assert_eq!(s(json!({"streamName": "s", "streamArn": "arn:x"})).unwrap(), Stream::Arn("arn:x".into()));
        assert_eq!(s(json!({"streamName": "s"})).unwrap(), Stream::Name("s".into()));
        assert!(s(json!({"streamName": " "})).unwrap_err().to_string().contains("either streamName or streamArn"));
    }
}
