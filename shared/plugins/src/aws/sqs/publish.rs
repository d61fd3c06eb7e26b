//! `io.kestra.plugin.aws.sqs.Publish` (plugin-aws `sqs/Publish.java`,
//! `sqs/model/Message.java`): sends messages to a queue in batches of 10
//! (SendMessageBatch). `from` is Kestra's `Data.From`: one message (a map),
//! a list of them, a JSON string of one or a list, or a `kestra://` Ion
//! file of them (streamed, one a line). A message is `data` (text as
//! given; a map or list sent as JSON), `groupId` and `deduplicationId`
//! (FIFO queues) and `delaySeconds` (0 to 900). An entry SQS refuses fails
//! the task naming it; the batches sent before it stay sent, as in Kestra.
//! Output `messagesCount`; metric `sqs.publish.messages` (tag `queue`).

use std::sync::LazyLock;

use async_trait::async_trait;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::queue::{MAX_PER_REQUEST, QueueProps};
use crate::aws::AwsProps;
use crate::aws::connection::sdk_error;
use crate::core::ion_file::IonFile;
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, parse_props};

/// The longest line of a `from` file (SQS takes at most 256 KiB a message).
const MAX_LINE_BYTES: u64 = 1024 * 1024;
/// SQS's longest delay.
const MAX_DELAY_SECS: u64 = 900;
/// A message's fields.
const FIELDS: &[&str] = &["data", "groupId", "deduplicationId", "delaySeconds"];

/// Publish messages to an SQS queue.
///
/// Sends one message, a list of them, or a kestra:// Ion file of them ({data, groupId, deduplicationId, delaySeconds}) to a queue, 10 to a request; outputs messagesCount.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.aws.sqs.Publish",
    group = "aws",
    example = "id: publish\ntype: io.kestra.plugin.aws.sqs.Publish\nregion: eu-central-1\nqueueUrl: https://sqs.eu-central-1.amazonaws.com/000000000000/test-queue\nfrom:\n  - data: Hello World\n  - data: Hello Kestra\n    delaySeconds: 5\n",
    outputs(messagesCount(Integer, "How many messages were sent."))
)]
struct Props {
    #[serde(flatten)]
    aws: AwsProps,
    #[serde(flatten)]
    queue: QueueProps,
    /// The messages: a map {data, groupId, deduplicationId, delaySeconds}, a list of them, a JSON string of either, or a kestra:// Ion file of them.
    #[prop(kind = "Any", required, check = from_ok)]
    from: Option<Value>,
}

/// One message's fields as written (a template may stand for any of them).
fn message_ok(m: &Map<String, Value>) -> Result<(), String> {
    if let Some(k) = m.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(format!("unknown field '{k}' (a message has {})", FIELDS.join(", ")));
    }
    if m.get("data").is_none_or(Value::is_null) {
        return Err("a message needs 'data'".into());
    }
    Ok(())
}

/// `from` as written.
fn from_ok(v: &Value) -> Result<(), String> {
    match v {
        Value::String(_) => Ok(()),
        Value::Object(m) => message_ok(m),
        Value::Array(items) => items.iter().enumerate().try_for_each(|(i, item)| match item {
            Value::Object(m) => message_ok(m).map_err(|e| format!("message {}: {e}", i + 1)),
            Value::String(s) if baton_model::expr::is_template(s) => Ok(()),
            other => Err(format!("message {} must be a map, found {other}", i + 1)),
        }),
        other => Err(format!("expected a message, a list of messages or a kestra:// URI, found {other}")),
    }
}

/// Where the messages come from, once rendered.
enum From {
    Inline(Vec<Map<String, Value>>),
    File(String),
}

impl From {
    fn parse(v: Value) -> Result<From, TaskError> {
        let err = |e: String| TaskError::property("from", e);
        match v {
            Value::String(s) if s.trim().starts_with("kestra://") => Ok(From::File(s.trim().to_string())),
            // a JSON string: one message or a list of them (Kestra's Data.From)
            Value::String(s) => match serde_json::from_str::<Value>(&s) {
                Ok(v @ (Value::Object(_) | Value::Array(_))) => From::parse(v),
                _ => Err(err(format!("'{s}' is neither a kestra:// URI nor a JSON message or list of messages"))),
            },
            Value::Object(m) => {
                message_ok(&m).map_err(err)?;
                Ok(From::Inline(vec![m]))
            }
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.into_iter().enumerate() {
                    let Value::Object(m) = item else { return Err(err(format!("message {} must be a map", i + 1))) };
                    message_ok(&m).map_err(|e| err(format!("message {}: {e}", i + 1)))?;
                    out.push(m);
                }
                Ok(From::Inline(out))
            }
            other => Err(err(format!("expected a message, a list of messages or a kestra:// URI, found {other}"))),
        }
    }
}

/// A message as SQS takes it; `n` numbers it in errors.
fn entry(m: &Map<String, Value>, n: usize) -> Result<SendMessageBatchRequestEntry, String> {
    message_ok(m).map_err(|e| format!("message {n}: {e}"))?;
    let body = match &m["data"] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let text = |k: &str| -> Result<Option<String>, String> {
        match m.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(x)) => Ok(Some(x.to_string())),
            Some(other) => Err(format!("message {n}: '{k}' must be text, found {other}")),
        }
    };
    let delay = match m.get("delaySeconds") {
        None | Some(Value::Null) => None,
        Some(v) => {
            let d = v.as_u64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()));
            match d {
                Some(d) if d <= MAX_DELAY_SECS => Some(d as i32),
                _ => return Err(format!("message {n}: 'delaySeconds' must be a whole number from 0 to 900, got {v}")),
            }
        }
    };
    SendMessageBatchRequestEntry::builder()
        .id(n.to_string())
        .message_body(body)
        .set_message_group_id(text("groupId")?)
        .set_message_deduplication_id(text("deduplicationId")?)
        .set_delay_seconds(delay)
        .build()
        .map_err(|e| format!("message {n}: {e}"))
}

struct Publish {
    aws: AwsProps,
    queue: QueueProps,
    from: From,
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    p.aws.check()?;
    p.queue.url()?;
    let from = From::parse(p.from.ok_or_else(|| TaskError::property("from", "the messages are required"))?)?;
    Ok(Box::new(Publish { aws: p.aws, queue: p.queue, from }))
}

/// Sends what is pending as one batch; how many were sent.
async fn flush(
    client: &aws_sdk_sqs::Client,
    url: &str,
    pending: &mut Vec<SendMessageBatchRequestEntry>,
) -> Result<usize, TaskError> {
    if pending.is_empty() {
        return Ok(0);
    }
    let answer = client
        .send_message_batch()
        .queue_url(url)
        .set_entries(Some(std::mem::take(pending)))
        .send()
        .await
        .map_err(|e| sdk_error("SQS", &format!("cannot send messages to {url}"), e))?;
    if let Some(f) = answer.failed().first() {
        return Err(TaskError::failed(format!(
            "SQS refused message {} of {url}: {} ({}){}",
            f.id(),
            f.message().unwrap_or("no reason given"),
            f.code(),
            if answer.failed().len() > 1 {
                format!(", and {} more of the batch", answer.failed().len() - 1)
            } else {
                String::new()
            }
        )));
    }
    Ok(answer.successful().len())
}

#[async_trait]
impl RunnableTask for Publish {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let url = self.queue.url()?;
        let client = self.aws.sqs(self.queue.connect_timeout()).await?;
        let mut pending = Vec::with_capacity(MAX_PER_REQUEST);
        let mut sent = 0usize;
        let mut n = 0usize;
        match &self.from {
            From::Inline(messages) => {
                for m in messages {
                    n += 1;
                    pending.push(entry(m, n).map_err(|e| TaskError::property("from", e))?);
                    if pending.len() == MAX_PER_REQUEST {
                        sent += flush(&client, url, &mut pending).await?;
                    }
                }
            }
            From::File(uri) => {
                let mut file = IonFile::open(cx, "from", uri, MAX_LINE_BYTES).await?;
                while let Some(value) = file.next().await? {
                    let Value::Object(m) = value else { return Err(file.error("is not a message (an Ion struct)")) };
                    n += 1;
                    // Kestra renders each message's fields
                    let rendered = match cx.render_value(&Value::Object(m))? {
                        Value::Object(m) => m,
                        _ => Map::new(),
                    };
                    pending.push(entry(&rendered, n).map_err(|e| file.error(&format!("({e})")))?);
                    if pending.len() == MAX_PER_REQUEST {
                        sent += flush(&client, url, &mut pending).await?;
                    }
                }
            }
        }
        sent += flush(&client, url, &mut pending).await?;
        cx.counter("sqs.publish.messages", sent as f64, &[("queue", url)]);
        cx.info(&format!("Sent {sent} messages to {url}"));
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

    #[test]
    fn from_takes_a_message_a_list_or_a_json_string() {
        assert!(matches!(From::parse(json!({"data": "hi"})).unwrap(), From::Inline(v) if v.len() == 1));
        assert!(
            matches!(From::parse(json!("[{\"data\": 1}, {\"data\": 2}]")).unwrap(), From::Inline(v) if v.len() == 2)
        );
        assert!(matches!(From::parse(json!(" kestra:///a/b.ion")).unwrap(), From::File(u) if u == "kestra:///a/b.ion"));
        let err = |v: Value| From::parse(v).err().expect("refused").to_string();
        assert!(err(json!("hello")).contains("neither a kestra:// URI"));
        assert!(err(json!([{"data": 1}, {"body": 2}])).contains("message 2: unknown field 'body'"));
        assert!(err(json!({"groupId": "g"})).contains("needs 'data'"));
        assert!(from_ok(&json!([1])).unwrap_err().contains("must be a map"));
    }

    #[test]
    fn a_message_becomes_an_entry() {
        let m = |v: Value| v.as_object().expect("map").clone();
        let e = entry(&m(json!({"data": {"a": 1}, "groupId": "g", "delaySeconds": "5"})), 3).expect("entry");
        assert_eq!((e.id(), e.message_body(), e.message_group_id()), ("3", "{\"a\":1}", Some("g")));
        assert_eq!(e.delay_seconds(), Some(5));
        assert_eq!(entry(&m(json!({"data": "text"})), 1).expect("entry").message_body(), "text");
        let bad = entry(&m(json!({"data": "x", "delaySeconds": 901})), 2).unwrap_err();
        assert!(bad.contains("message 2: 'delaySeconds'"), "{bad}");
    }
}
