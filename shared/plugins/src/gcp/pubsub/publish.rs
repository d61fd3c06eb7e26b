//! `io.kestra.plugin.gcp.pubsub.Publish`: publishes messages on `topic`
//! (plugin-gcp `pubsub/Publish.java`). `from` is Kestra's `Data.From`: a
//! list of messages, one message (a map), or a `kestra://` Ion file of
//! messages (one a line, streamed; their string fields rendered, as Kestra
//! renders each message's fields). Message fields and `serdeType` as in
//! [`super::message`]. Every publish is awaited, at most [`IN_FLIGHT`] at
//! a time, so the task succeeds only once Pub/Sub has them all. Output
//! `messagesCount`; metric `records` (tag `topic`).

use std::sync::LazyLock;

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::super::common::GcpProps;
use super::message::{self, Serde};
use crate::core::ion_file::IonFile;
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};
use baton_gcp::pubsub::{Message, PubSubError, PublishFuture, Publisher};

/// Publishes awaited at once (memory: the messages of this many).
pub const IN_FLIGHT: usize = 1000;
/// The longest line of a `from` file, in bytes (Pub/Sub's message limit is 10 MB).
pub const MAX_LINE_BYTES: u64 = 16 * 1024 * 1024;

/// `from` as written: a kestra:// URI, a message, or a list of messages.
fn from_ok(v: &Value) -> Result<(), String> {
    match v {
        Value::String(s) if baton_model::expr::is_template(s) || s.trim().starts_with("kestra://") => Ok(()),
        Value::String(s) => Err(format!(
            "'{s}' is not a kestra:// URI: give an Ion file of internal storage, a message (a map) or a list of them"
        )),
        Value::Object(m) => message::check_fields(m),
        Value::Array(items) => items.iter().enumerate().try_for_each(|(i, item)| match item {
            Value::Object(m) => message::check_fields(m).map_err(|e| format!("message {}: {e}", i + 1)),
            Value::String(s) if baton_model::expr::is_template(s) => Ok(()),
            other => Err(format!("message {} must be a map, found {other}", i + 1)),
        }),
        other => Err(format!("expected a kestra:// URI, a message or a list of messages, found {other}")),
    }
}

fn serde_ok(v: &Value) -> Result<(), String> {
    match v.as_str() {
        Some(s) if !baton_model::expr::is_template(s) => Serde::parse(Some(s)).map(|_| ()),
        _ => Ok(()),
    }
}

/// Publish messages to Pub/Sub.
///
/// Publishes a list of messages, one message, or an Ion file of messages to a topic; outputs messagesCount.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.gcp.pubsub.Publish",
    group = "gcp",
    example = "id: publish\ntype: io.kestra.plugin.gcp.pubsub.Publish\ntopic: orders\nfrom:\n  - data: \"{{ 'order 1' | base64encode }}\"\n    attributes:\n      source: kestra\n  - data: order 2\n    orderingKey: customer-7\n",
    outputs(messagesCount(Integer, "The messages published."))
)]
struct Props {
    #[serde(flatten)]
    gcp: GcpProps,
    /// The topic (its name, without projects/…/topics/).
    #[serde(deserialize_with = "de::string_lenient")]
    topic: String,
    /// The messages: a list of {data, attributes, messageId, orderingKey}, one such map, or a kestra:// Ion file of them.
    #[prop(kind = "Any", check = from_ok)]
    from: Value,
    /// How non-string data is serialized.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(values = ["STRING", "JSON"], default = "\"STRING\"", check = serde_ok)]
    serde_type: Option<String>,
}

enum From {
    Inline(Vec<Message>),
    File(String),
}

struct Publish {
    gcp: GcpProps,
    topic: String,
    from: From,
    serde: Serde,
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    let serde = Serde::parse(p.serde_type.as_deref()).map_err(|e| TaskError::property("serdeType", e))?;
    let topic = p.topic.trim().to_string();
    if topic.is_empty() {
        return Err(TaskError::property("topic", "the topic is empty"));
    }
    from_ok(&p.from).map_err(|e| TaskError::property("from", e))?;
    let from = match p.from {
        Value::String(s) => From::File(s.trim().to_string()),
        Value::Object(m) => From::Inline(vec![message::to_pubsub(&m, serde, 1).map_err(|e| prop_err(&e))?]),
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let m = item.as_object().ok_or_else(|| prop_err(&format!("message {} must be a map", i + 1)))?;
                out.push(message::to_pubsub(m, serde, i + 1).map_err(|e| prop_err(&e))?);
            }
            From::Inline(out)
        }
        _ => return Err(prop_err("expected a kestra:// URI, a message or a list of messages")),
    };
    Ok(Box::new(Publish { gcp: p.gcp, topic, from, serde }))
}

fn prop_err(e: &str) -> TaskError {
    TaskError::property("from", e)
}

/// Publishes, keeping at most [`IN_FLIGHT`] publishes outstanding.
struct Sender {
    publisher: Publisher,
    pending: FuturesUnordered<PublishFuture>,
    topic: String,
    done: usize,
}

impl Sender {
    async fn send(&mut self, m: Message) -> Result<(), TaskError> {
        while self.pending.len() >= IN_FLIGHT {
            self.settle_one().await?;
        }
        self.pending.push(self.publisher.publish(m));
        Ok(())
    }

    async fn settle_one(&mut self) -> Result<(), TaskError> {
        match self.pending.next().await {
            Some(Ok(_id)) => {
                self.done += 1;
                Ok(())
            }
            Some(Err(e)) => Err(TaskError::failed(format!("publishing on {} failed: {e}", self.topic))),
            None => Ok(()),
        }
    }

    async fn finish(mut self) -> Result<usize, TaskError> {
        while !self.pending.is_empty() {
            self.settle_one().await?;
        }
        Ok(self.done)
    }
}

impl Publish {
    /// Streams the messages of a kestra:// Ion file into `sender`.
    async fn send_file(&self, cx: &RunContext, uri: &str, sender: &mut Sender) -> Result<(), TaskError> {
        let mut file = IonFile::open(cx, "from", uri, MAX_LINE_BYTES).await?;
        while let Some(value) = file.next().await? {
            let Value::Object(item) = value else { return Err(file.error("is not a message (an Ion struct)")) };
            // Kestra renders each message's string fields
            let rendered = match cx.render_value(&Value::Object(item))? {
                Value::Object(m) => m,
                _ => Map::new(),
            };
            let m = message::to_pubsub(&rendered, self.serde, file.line)
                .map_err(|e| TaskError::failed(format!("{uri}: {e}")))?;
            sender.send(m).await?;
        }
        Ok(())
    }
}

#[async_trait]
impl RunnableTask for Publish {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let r = self.gcp.resolve(cx)?;
        let client = r.pubsub(cx)?;
        let path = client.topic_path(&self.topic);
        let publisher = client.publisher(&self.topic).await.map_err(pubsub_error)?;
        let mut sender = Sender { publisher, pending: FuturesUnordered::new(), topic: path.clone(), done: 0 };
        match &self.from {
            From::Inline(messages) => {
                for m in messages {
                    sender.send(m.clone()).await?;
                }
            }
            From::File(uri) => self.send_file(cx, uri, &mut sender).await?,
        }
        let count = sender.finish().await?;
        cx.counter("records", count as f64, &[("topic", self.topic.as_str())]);
        cx.info(&format!("Published {count} messages on {path}"));
        let mut out = Map::new();
        out.insert("messagesCount".into(), Value::from(count));
        Ok(TaskOutput::with(out))
    }
}

/// A Pub/Sub failure as a task error.
pub fn pubsub_error(e: PubSubError) -> TaskError {
    TaskError::failed(e.to_string())
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));
