//! `io.kestra.plugin.gcp.pubsub.Consume`: pulls messages of
//! `subscription` (created on `topic` when missing and
//! `autoCreateSubscription`, the default) until `maxRecords` arrived or
//! `maxDuration` passed — one of them is required, as in Kestra — and
//! stores them as an Ion file (one message a line, see
//! [`super::message::from_pubsub`]). Outputs `uri` and `count`; metric
//! `records` (tag `topic`).
//!
//! At least once: the messages are acknowledged only after the file is in
//! internal storage; on any failure before (a JSON message that is not
//! JSON, a bound reached, storage down) every message taken is handed back
//! (ack deadline 0), so Pub/Sub delivers it again. Pulls are unary (see
//! `baton_gcp::pubsub` for why not streaming pull).
//!
//! Bounds (Kestra has none): `maxRecords` at most [`MAX_RECORDS`] (with
//! `maxDuration` alone, a pull stops there), `maxDuration` at most
//! [`MAX_WAIT`] (with `maxRecords` alone, the pull waits that long at most,
//! then stores what came: Pub/Sub stops extending held messages' leases
//! after an hour), and at most [`MAX_BYTES`] of message data and
//! attributes (more fails the task, naming the bound). Each pull asks for
//! what is left to take, so Pub/Sub never leases more to this task; the
//! messages held have their leases extended every 20 s until stored.

use std::sync::LazyLock;
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};
use tokio::io::AsyncWriteExt;

use super::super::common::GcpProps;
use super::message::{self, Serde};
use super::publish::pubsub_error;
use crate::core::ion_text;
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};
use baton_backend::ByteStream;
use baton_gcp::pubsub::PubSubClient;
use tokio::time::Instant;

/// The most messages one Consume takes.
pub const MAX_RECORDS: u64 = 100_000;
/// The most message bytes (data and attributes) one Consume holds.
pub const MAX_BYTES: u64 = 512 * 1024 * 1024;
/// The longest one Consume pulls.
pub const MAX_WAIT: Duration = Duration::from_secs(55 * 60);
/// Messages asked for per pull.
const PULL_BATCH: usize = 1000;
/// How long a pulled message stays leased before the task extends it.
const LEASE: u32 = 60;
/// How often the leases of the messages held are extended.
const EXTEND_EVERY: Duration = Duration::from_secs(20);
/// The lease given while the file is stored.
const STORE_LEASE: u32 = 600;
/// The wait between pulls that found nothing.
const IDLE_POLL: Duration = Duration::from_millis(500);

fn templated(v: &Value) -> bool {
    v.as_str().is_some_and(baton_model::expr::is_template)
}

fn max_records_ok(v: &Value) -> Result<(), String> {
    if templated(v) {
        return Ok(());
    }
    match v.as_u64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok())) {
        Some(n) if n > MAX_RECORDS => {
            Err(format!("{n} is above {MAX_RECORDS}, the most messages Baton's Consume takes"))
        }
        Some(0) => Err("must be at least 1".into()),
        _ => Ok(()),
    }
}

fn max_duration_ok(v: &Value) -> Result<(), String> {
    match v.as_str() {
        Some(s) if !baton_model::expr::is_template(s) => match baton_model::duration::parse_iso(s) {
            Ok(d) if d.num_seconds() > MAX_WAIT.as_secs() as i64 => Err(
                "is at most PT55M (Baton's bound: Pub/Sub stops extending the leases of held messages after an hour)"
                    .into(),
            ),
            Ok(d) if d.num_milliseconds() <= 0 => Err("must be positive".into()),
            _ => Ok(()),
        },
        _ => Ok(()),
    }
}

/// Consume messages from Pub/Sub.
///
/// Pulls messages from a subscription until maxRecords or maxDuration, stores them as an Ion file (uri, count), then acknowledges them.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.gcp.pubsub.Consume",
    group = "gcp",
    example = "id: consume\ntype: io.kestra.plugin.gcp.pubsub.Consume\ntopic: orders\nsubscription: baton-orders\nmaxRecords: 10\nmaxDuration: PT30S\n",
    outputs(
        uri(String, "The messages: an Ion file, one {data, attributes, messageId, orderingKey} a line."),
        count(Integer, "The messages taken.")
    )
)]
struct Props {
    #[serde(flatten)]
    gcp: GcpProps,
    /// The topic (its name, without projects/…/topics/).
    #[serde(deserialize_with = "de::string_lenient")]
    topic: String,
    /// The subscription to pull from.
    #[serde(deserialize_with = "de::string_lenient")]
    subscription: String,
    /// Create the subscription on the topic when it does not exist.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "true")]
    auto_create_subscription: Option<bool>,
    /// Stop after this many messages.
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    #[prop(check = max_records_ok)]
    max_records: Option<u64>,
    /// Stop after this long.
    #[serde(default, deserialize_with = "de::opt_duration")]
    #[prop(kind = "Duration", check = max_duration_ok)]
    max_duration: Option<chrono::Duration>,
    /// How message data is read: STRING (bytes, base64 in the file) or JSON (parsed).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(values = ["STRING", "JSON"], default = "\"STRING\"")]
    serde_type: Option<String>,
}

struct Consume {
    gcp: GcpProps,
    topic: String,
    subscription: String,
    auto_create: bool,
    limit: u64,
    wait: Duration,
    serde: Serde,
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    if p.max_records.is_none() && p.max_duration.is_none() {
        return Err(TaskError::property(
            "",
            "'maxDuration' or 'maxRecords' must be set to avoid an infinite loop (as in Kestra)",
        ));
    }
    if let Some(n) = p.max_records {
        max_records_ok(&Value::from(n)).map_err(|e| TaskError::property("maxRecords", e))?;
    }
    let wait = match p.max_duration {
        Some(d) => {
            let d = d.to_std().map_err(|_| TaskError::property("maxDuration", "must be positive"))?;
            if d > MAX_WAIT || d.is_zero() {
                return Err(TaskError::property("maxDuration", "is at most PT55M and positive"));
            }
            d
        }
        None => MAX_WAIT,
    };
    let (topic, subscription) = (p.topic.trim().to_string(), p.subscription.trim().to_string());
    for (k, v) in [("topic", &topic), ("subscription", &subscription)] {
        if v.is_empty() {
            return Err(TaskError::property(k, format!("the {k} is empty")));
        }
    }
    Ok(Box::new(Consume {
        gcp: p.gcp,
        topic,
        subscription,
        auto_create: p.auto_create_subscription.unwrap_or(true),
        limit: p.max_records.unwrap_or(MAX_RECORDS),
        wait,
        serde: Serde::parse(p.serde_type.as_deref()).map_err(|e| TaskError::property("serdeType", e))?,
    }))
}

/// The messages taken so far: their ack ids and the file they go to.
struct Taken {
    ack_ids: Vec<String>,
    bytes: u64,
    /// Messages in the stored file.
    stored: u64,
    file: tokio::io::BufWriter<tokio::fs::File>,
}

impl Consume {
    /// Pulls into `taken` until the limit or the deadline; the messages
    /// held have their leases extended meanwhile.
    async fn pull(&self, client: &PubSubClient, taken: &mut Taken, cx: &RunContext) -> Result<(), TaskError> {
        let deadline = Instant::now() + self.wait;
        let mut next_extend = Instant::now() + EXTEND_EVERY;
        let mut line = Vec::new();
        while (taken.ack_ids.len() as u64) < self.limit {
            let want = (self.limit - taken.ack_ids.len() as u64).min(PULL_BATCH as u64) as usize;
            let got = client.pull(&self.subscription, want).await.map_err(pubsub_error)?;
            let now = Instant::now();
            if now >= next_extend && !taken.ack_ids.is_empty() {
                client.modify_deadline(&self.subscription, &taken.ack_ids, LEASE).await.map_err(pubsub_error)?;
                next_extend = now + EXTEND_EVERY;
            }
            if got.is_empty() {
                if now >= deadline {
                    break;
                }
                tokio::time::sleep(IDLE_POLL.min(deadline - now)).await;
                continue;
            }
            let ids: Vec<String> = got.iter().map(|p| p.ack_id.clone()).collect();
            taken.ack_ids.extend(ids.iter().cloned());
            client.modify_deadline(&self.subscription, &ids, LEASE).await.map_err(pubsub_error)?;
            for p in got {
                let m = &p.message;
                let size = m.data.len() + m.attributes.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>();
                taken.bytes += size as u64;
                if taken.bytes > MAX_BYTES {
                    return Err(TaskError::failed(format!(
                        "the messages taken exceed {MAX_BYTES} bytes, the most Baton's Consume holds: lower \
                         maxRecords (they were not acknowledged, Pub/Sub delivers them again)"
                    )));
                }
                let v = message::from_pubsub(m, self.serde).map_err(TaskError::failed)?;
                line.clear();
                ion_text::write_line(&v, &mut line).map_err(|e| TaskError::failed(e.to_string()))?;
                taken
                    .file
                    .write_all(&line)
                    .await
                    .map_err(|e| TaskError::failed(format!("cannot write messages: {e}")))?;
            }
            if Instant::now() >= deadline {
                break;
            }
        }
        if taken.ack_ids.len() as u64 >= MAX_RECORDS {
            cx.warn(&format!("took {MAX_RECORDS} messages, the most Baton's Consume takes: the rest stay for later"));
        }
        Ok(())
    }

    /// Pulls, stores the file, then acknowledges; on a failure before the
    /// file is stored, hands every message taken back.
    async fn take(&self, cx: &RunContext, taken: &mut Taken, tmp: &std::path::Path) -> Result<String, TaskError> {
        let r = self.gcp.resolve(cx)?;
        let client = r.pubsub(cx)?;
        if self.auto_create
            && client.ensure_subscription(&self.subscription, &self.topic).await.map_err(pubsub_error)?
        {
            cx.info(&format!("Created subscription {}", client.subscription_path(&self.subscription)));
        }
        let stored = match self.pull(&client, taken, cx).await {
            Ok(()) => self.store(cx, &client, taken, tmp).await,
            Err(e) => Err(e),
        };
        match &stored {
            Ok(_) => {
                taken.stored = taken.ack_ids.len() as u64;
                if let Err(e) = client.acknowledge(&self.subscription, &taken.ack_ids).await {
                    cx.warn(&format!(
                        "the messages are stored but acknowledging them failed, Pub/Sub may deliver them again: {e}"
                    ));
                }
            }
            Err(_) => {
                if let Err(e) = client.modify_deadline(&self.subscription, &taken.ack_ids, 0).await {
                    cx.warn(&format!("handing the messages back failed, they come again after their deadline: {e}"));
                }
            }
        }
        stored
    }

    async fn store(
        &self,
        cx: &RunContext,
        client: &PubSubClient,
        taken: &mut Taken,
        tmp: &std::path::Path,
    ) -> Result<String, TaskError> {
        if !taken.ack_ids.is_empty() {
            client.modify_deadline(&self.subscription, &taken.ack_ids, STORE_LEASE).await.map_err(pubsub_error)?;
        }
        taken.file.flush().await.map_err(|e| TaskError::failed(format!("cannot write messages: {e}")))?;
        let f =
            tokio::fs::File::open(tmp).await.map_err(|e| TaskError::failed(format!("cannot read messages: {e}")))?;
        let reader: ByteStream = Box::pin(f);
        let (uri, _) = cx.put_file("messages.ion", reader).await?;
        Ok(uri)
    }
}

#[async_trait]
impl RunnableTask for Consume {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let tmp = cx.working_dir()?.join(format!("pubsub-{}.ion", uuid::Uuid::new_v4().simple()));
        let file = tokio::fs::File::create(&tmp)
            .await
            .map_err(|e| TaskError::failed(format!("cannot create {}: {e}", tmp.display())))?;
        let mut taken = Taken { ack_ids: Vec::new(), bytes: 0, stored: 0, file: tokio::io::BufWriter::new(file) };
        let result = self.take(cx, &mut taken, &tmp).await;
        let count = taken.stored;
        drop(taken);
        let _ = tokio::fs::remove_file(&tmp).await;
        let uri = result?;
        cx.counter("records", count as f64, &[("topic", self.topic.as_str())]);
        cx.info(&format!("Consumed {count} messages from {}", self.subscription));
        let mut out = Map::new();
        out.insert("uri".into(), Value::String(uri));
        out.insert("count".into(), Value::from(count));
        Ok(TaskOutput::with(out))
    }
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));
