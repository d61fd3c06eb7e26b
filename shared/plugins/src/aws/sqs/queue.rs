//! What the SQS tasks and triggers share (plugin-aws `sqs/AbstractSqs`,
//! `SqsConnectionInterface`, `model/SerdeType`, `Consume`'s loop): the
//! queue's properties, how a body is read, and the receive loop with its
//! deletes and releases.
//!
//! [`consume`] receives until `maxRecords` messages were read, `maxDuration`
//! passed, or a receive came back empty — Kestra stops on an empty queue
//! only when nothing was read yet, and with `maxRecords` alone and fewer
//! messages than that would poll forever; here an empty receive ends it
//! either way unless `maxDuration` is still running. It is bounded by
//! [`MAX_CONSUME_BYTES`] of bodies (the messages read so far are all kept).
//! A message received twice within one consume (its visibility timeout ran
//! out meanwhile) is kept once, with its newest receipt handle.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry};
use serde::Deserialize;
use serde_json::Value;

use crate::aws::connection::sdk_error;
use crate::core::ion_text;
use crate::{Declare, TaskError, de};

/// SQS's most messages one receive returns, and one batch request carries.
pub const MAX_PER_REQUEST: usize = 10;
/// The most bytes of Ion lines one consume keeps (the queue's messages are at most 256 KiB each).
pub const MAX_CONSUME_BYTES: u64 = 256 * 1024 * 1024;
/// SQS's longest receive wait.
pub const MAX_WAIT: Duration = Duration::from_secs(20);
/// SQS's longest visibility timeout (12 hours), in seconds.
pub const MAX_VISIBILITY_SECS: u64 = 43_200;

/// The queue's properties (Kestra's `SqsConnectionInterface`), flattened into each SQS type's.
#[derive(Debug, Default, Clone, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
pub struct QueueProps {
    /// The queue's URL (the queue must exist).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic, required)]
    pub queue_url: Option<String>,
    /// The most requests in flight at once. Baton sends one request at a time, so any value from 1 holds.
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    #[prop(dynamic, default = "50")]
    pub max_concurrency: Option<u64>,
    /// How long to wait for a connection to SQS before the request fails.
    #[serde(default, deserialize_with = "de::opt_duration")]
    #[prop(dynamic, kind = "Duration", default = "\"PT5S\"")]
    pub connection_acquisition_timeout: Option<chrono::TimeDelta>,
}

impl QueueProps {
    /// The queue URL, checked; `maxConcurrency` at least 1.
    pub fn url(&self) -> Result<&str, TaskError> {
        if self.max_concurrency == Some(0) {
            return Err(TaskError::property("maxConcurrency", "must be at least 1"));
        }
        match self.queue_url.as_deref().map(str::trim) {
            None | Some("") => Err(TaskError::property("queueUrl", "the queue's URL is required")),
            Some(u) => match reqwest::Url::parse(u) {
                Ok(p) if matches!(p.scheme(), "http" | "https") => Ok(u),
                _ => Err(TaskError::property("queueUrl", format!("'{u}' is not an http(s) URL"))),
            },
        }
    }

    /// The connect timeout (`connectionAcquisitionTimeout`, 5 s by default).
    pub fn connect_timeout(&self) -> Duration {
        self.connection_acquisition_timeout.and_then(|d| d.to_std().ok()).unwrap_or(Duration::from_secs(5))
    }
}

/// How received messages are read and settled: what `Consume` and both
/// triggers share.
#[derive(Debug, Default, Clone, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
pub struct ReadProps {
    /// How bodies are read: STRING (as text) or JSON (parsed).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic, values = ["STRING", "JSON"], default = "\"STRING\"", check = Serde::check)]
    pub serde_type: Option<String>,
    /// Delete the messages once they are kept (by the task's file, or the trigger's stored execution).
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(dynamic, default = "true")]
    pub auto_delete: Option<bool>,
    /// Seconds a received message stays hidden from other consumers.
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    #[prop(dynamic, default = "30")]
    pub visibility_timeout: Option<u64>,
}

impl ReadProps {
    pub fn serde(&self) -> Result<Serde, TaskError> {
        Serde::parse(self.serde_type.as_deref()).map_err(|e| TaskError::property("serdeType", e))
    }

    pub fn auto_delete(&self) -> bool {
        self.auto_delete.unwrap_or(true)
    }

    /// `visibilityTimeout`, at most SQS's 12 hours.
    pub fn visibility_secs(&self) -> Result<u64, TaskError> {
        match self.visibility_timeout.unwrap_or(30) {
            n if n <= MAX_VISIBILITY_SECS => Ok(n),
            n => Err(TaskError::property(
                "visibilityTimeout",
                format!("must be at most {MAX_VISIBILITY_SECS} seconds (12 hours), got {n}"),
            )),
        }
    }
}

/// How a body is read and written (Kestra's `SerdeType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Serde {
    String,
    Json,
}

impl Serde {
    /// A rendered `serdeType`.
    pub fn parse(v: Option<&str>) -> Result<Serde, String> {
        match v.map(str::trim) {
            None | Some("") | Some("STRING") => Ok(Serde::String),
            Some("JSON") => Ok(Serde::Json),
            Some(other) => Err(format!("unknown '{other}': STRING or JSON")),
        }
    }

    /// Validation's check of a written-out `serdeType`.
    pub fn check(v: &Value) -> Result<(), String> {
        match v {
            Value::String(s) => Serde::parse(Some(s)).map(|_| ()),
            other => Err(format!("expected STRING or JSON, got {other}")),
        }
    }

    /// A body read: STRING keeps the text, JSON parses it.
    pub fn read(self, body: &str) -> Result<Value, String> {
        match self {
            Serde::String => Ok(Value::String(body.to_string())),
            Serde::Json => serde_json::from_str(body).map_err(|e| format!("the body is not JSON ({e})")),
        }
    }
}

/// A message received and not yet deleted.
#[derive(Debug, Clone)]
pub struct Received {
    pub id: String,
    pub body: String,
    pub handle: String,
    /// How many times SQS has delivered it (its `ApproximateReceiveCount`).
    pub receive_count: u64,
}

/// Receives up to `max` (1 to 10) messages, waiting up to `wait` for the first.
pub async fn receive(
    client: &Client,
    url: &str,
    max: usize,
    wait: Duration,
    visibility_secs: u64,
) -> Result<Vec<Received>, TaskError> {
    let answer = client
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(max.clamp(1, MAX_PER_REQUEST) as i32)
        .wait_time_seconds(wait.min(MAX_WAIT).as_secs() as i32)
        .visibility_timeout(visibility_secs.min(MAX_VISIBILITY_SECS) as i32)
        .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount)
        .send()
        .await
        .map_err(|e| sdk_error("SQS", &format!("cannot receive from {url}"), e))?;
    Ok(answer
        .messages()
        .iter()
        .filter_map(|m| {
            let receive_count = m
                .attributes()
                .and_then(|a| a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount))
                .and_then(|c| c.parse().ok())
                .unwrap_or(1);
            Some(Received {
                id: m.message_id()?.to_string(),
                body: m.body().unwrap_or_default().to_string(),
                handle: m.receipt_handle()?.to_string(),
                receive_count,
            })
        })
        .collect())
}

/// Deletes the messages of `handles` (in batches of 10); an entry SQS
/// refuses is an error naming it.
pub async fn delete(client: &Client, url: &str, handles: &[String]) -> Result<(), TaskError> {
    for chunk in handles.chunks(MAX_PER_REQUEST) {
        let entries = chunk
            .iter()
            .enumerate()
            .map(|(i, h)| DeleteMessageBatchRequestEntry::builder().id(i.to_string()).receipt_handle(h).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TaskError::failed(format!("cannot delete from {url}: {e}")))?;
        let answer = client
            .delete_message_batch()
            .queue_url(url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| sdk_error("SQS", &format!("cannot delete messages from {url}"), e))?;
        if let Some(f) = answer.failed().first() {
            return Err(TaskError::failed(format!(
                "SQS did not delete {} message(s) from {url}: {} ({})",
                answer.failed().len(),
                f.message().unwrap_or("no reason given"),
                f.code()
            )));
        }
    }
    Ok(())
}

/// Makes the messages of `handles` visible again at once (their visibility
/// timeout set to 0), for the next receive; used when what they were read
/// for cannot be kept.
pub async fn release(client: &Client, url: &str, handles: &[String]) -> Result<(), TaskError> {
    for chunk in handles.chunks(MAX_PER_REQUEST) {
        let entries = chunk
            .iter()
            .enumerate()
            .map(|(i, h)| {
                ChangeMessageVisibilityBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(h)
                    .visibility_timeout(0)
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TaskError::failed(format!("cannot release messages of {url}: {e}")))?;
        client
            .change_message_visibility_batch()
            .queue_url(url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| sdk_error("SQS", &format!("cannot release messages of {url}"), e))?;
    }
    Ok(())
}

/// What a consume reads and when it stops.
#[derive(Debug, Clone)]
pub struct ConsumeSpec {
    pub serde: Serde,
    pub max_records: Option<u64>,
    pub max_duration: Option<Duration>,
    pub visibility_secs: u64,
}

/// A consume's result: the file of the bodies read (one Ion line each, in
/// order) and the receipt handles of their messages, one per line (deleted
/// or not, as the caller decides).
#[derive(Debug, Default)]
pub struct Consumed {
    pub lines: Vec<u8>,
    pub handles: Vec<String>,
    /// Set when [`MAX_CONSUME_BYTES`] ended the consume.
    pub bounded: bool,
}

impl Consumed {
    /// How many messages were read.
    pub fn count(&self) -> usize {
        self.handles.len()
    }
}

/// Receives messages of `url` as the module documentation says. A body
/// that `serdeType` cannot read fails the consume naming its message; the
/// messages received are then released, and the error returned.
pub async fn consume(client: &Client, url: &str, spec: &ConsumeSpec) -> Result<Consumed, TaskError> {
    let started = Instant::now();
    let mut out = Consumed::default();
    // message id → its line, for a message received twice
    let mut seen: HashMap<String, usize> = HashMap::new();
    loop {
        let left = spec.max_records.map_or(MAX_PER_REQUEST as u64, |m| m.saturating_sub(out.count() as u64));
        if left == 0 {
            break;
        }
        let batch = receive(
            client,
            url,
            left.min(MAX_PER_REQUEST as u64) as usize,
            Duration::from_secs(1),
            spec.visibility_secs,
        )
        .await;
        let batch = match batch {
            Ok(b) => b,
            Err(e) => {
                let _ = release(client, url, &out.handles).await;
                return Err(e);
            }
        };
        // a receive that brings back only messages read before (their
        // visibility timeout ran out) counts as an empty one
        let mut empty = true;
        let mut batch = batch.into_iter();
        while let Some(m) = batch.next() {
            let value = match spec.serde.read(&m.body) {
                Ok(v) => v,
                Err(e) => {
                    // this one, the rest of its batch and those before: all visible again
                    out.handles.extend(std::iter::once(m.handle).chain(batch.map(|m| m.handle)));
                    let _ = release(client, url, &out.handles).await;
                    return Err(TaskError::failed(format!("message {} of {url}: {e}", m.id)));
                }
            };
            match seen.get(&m.id) {
                Some(&i) => out.handles[i] = m.handle,
                None => {
                    empty = false;
                    ion_text::write_line(&value, &mut out.lines)
                        .map_err(|e| TaskError::failed(format!("cannot write message {} of {url}: {e}", m.id)))?;
                    seen.insert(m.id, out.count());
                    out.handles.push(m.handle);
                }
            }
        }
        let timed_out = spec.max_duration.is_some_and(|d| started.elapsed() > d);
        if timed_out || (empty && (out.count() == 0 || spec.max_duration.is_none())) {
            break;
        }
        if out.lines.len() as u64 >= MAX_CONSUME_BYTES {
            out.bounded = true;
            break;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn serde_reads_text_or_json_and_names_a_bad_body() {
        assert_eq!(Serde::parse(None), Ok(Serde::String));
        assert_eq!(Serde::String.read("{\"a\":1}"), Ok(json!("{\"a\":1}")));
        assert_eq!(Serde::Json.read("{\"a\":1}"), Ok(json!({"a": 1})));
        assert!(Serde::Json.read("not json").unwrap_err().contains("not JSON"));
        assert!(Serde::parse(Some("ION")).unwrap_err().contains("STRING or JSON"));
        assert!(Serde::check(&json!(1)).is_err());
    }

    #[test]
    fn the_queue_url_is_checked() {
        let p = |v: Value| -> QueueProps { crate::parse_props(v.as_object().expect("map")).expect("props") };
        assert_eq!(p(json!({"queueUrl": " http://h/1/q "})).url().unwrap(), "http://h/1/q");
        assert!(p(json!({})).url().unwrap_err().to_string().contains("'queueUrl'"));
        assert!(p(json!({"queueUrl": "q"})).url().unwrap_err().to_string().contains("not an http(s) URL"));
        let zero = p(json!({"queueUrl": "http://h/q", "maxConcurrency": 0}));
        assert!(zero.url().unwrap_err().to_string().contains("'maxConcurrency'"));
        assert_eq!(p(json!({"connectionAcquisitionTimeout": "PT2S"})).connect_timeout(), Duration::from_secs(2));
    }
}
