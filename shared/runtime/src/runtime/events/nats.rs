//! The NATS triggers' pulls.
//!
//! [`receive`]: a `nats.Trigger`'s, the same on both runtimes: an
//! evaluation (`super::http::evaluate`, one per slot of `interval`) opens
//! the trigger's pull consumer (durable with `durableId`), pulls until a
//! fetch brings nothing, `maxRecords` or `maxDuration` (at most the
//! interval) and writes the records to the execution's
//! `trigger/{trigger}/nats.ion`. The messages are acknowledged
//! ([`Taken::settle`]) only once that execution is stored — or `when`
//! rejected it — and asked to be delivered again at once otherwise. A
//! process killed in between leaves them unacknowledged: JetStream
//! delivers them again after their ack wait (30 s).
//!
//! [`listen`]: a `nats.RealtimeTrigger`'s, on `baton server local` (its
//! poller evaluates it continuously): the consumer is kept from one
//! evaluation to the next ([`Held`]; opened again when the rendered
//! properties change or after an error); each evaluation fetches one batch
//! (`batchSize`, waiting up to a second), each message one execution whose
//! id derives from its stream and sequence — a message delivered again
//! starts nothing new —, acknowledged once stored.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use serde_json::{Map, Value};

use super::{EventError, launch_event, render_props, trigger_file};
use crate::model::Flow;
use crate::model::ids::derived_id;
use crate::plugins::TaskError;
use crate::plugins::nats::async_nats;
use crate::plugins::nats::consume::{self, PullConsumer};
use crate::runtime::engine::Engine;
use crate::triggers::nats::{REALTIME_TYPE, Spec};

/// A realtime trigger's open consumer, kept across its evaluations, with
/// the rendered properties it was opened for.
pub type Held = Arc<tokio::sync::Mutex<Option<(String, async_nats::Client, PullConsumer)>>>;

/// Messages pulled and not yet acknowledged.
pub struct Taken {
    client: async_nats::Client,
    messages: Vec<async_nats::jetstream::Message>,
}

impl std::fmt::Debug for Taken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Taken").field("messages", &self.messages.len()).finish()
    }
}

impl Taken {
    /// Acknowledges the messages when `kept` (their execution is stored),
    /// else asks for their delivery again; a failure is logged.
    pub async fn settle(self, flow: &Flow, trigger_id: &str, kept: bool) {
        let n = self.messages.len();
        let done = match consume::settle(&self.messages, kept).await {
            Ok(()) => self.client.flush().await.map_err(|e| TaskError::failed(e.to_string())),
            Err(e) => Err(e),
        };
        match done {
            Ok(()) if kept => {}
            Ok(()) => tracing::warn!(namespace = %flow.namespace, flow_id = %flow.id, trigger_id, messages = n,
                "nats: no execution stored for the messages: delivered again"),
            Err(e) => tracing::error!(namespace = %flow.namespace, flow_id = %flow.id, trigger_id, messages = n,
                error = %e, "nats: the messages could not be settled: JetStream delivers them again after their ack wait"),
        }
    }
}

/// Pulls the batch of `nats.Trigger` `trigger_id` of `flow` for the
/// execution `execution_id`, waiting at most `cap`; its outputs (`uri`,
/// `messagesCount`) and what to settle, `None` when nothing came.
pub async fn receive(
    engine: &Arc<Engine>,
    flow: &Flow,
    trigger_id: &str,
    execution_id: &str,
    props: &Map<String, Value>,
    cap: Duration,
) -> Result<(Map<String, Value>, Option<Taken>), EventError> {
    let fail = EventError::of_task(flow, trigger_id);
    let rendered = render_props(engine, flow, trigger_id, props.clone())?;
    let spec = Spec::read(&rendered).map_err(&fail)?;
    let client = spec.conn.connect().await.map_err(&fail)?;
    let consumer = consume::consumer(&client, &spec.subscribe).await.map_err(&fail)?;
    let got = consume::pull(&consumer, &spec.subscribe, &spec.limits, Some(cap)).await.map_err(&fail)?;
    let mut out = Map::new();
    out.insert("messagesCount".into(), Value::from(got.messages.len()));
    if got.messages.is_empty() {
        return Ok((out, None));
    }
    let path = trigger_file(flow, trigger_id, execution_id, "nats.ion");
    let taken = Taken { client, messages: got.messages };
    if let Err(e) = engine.storage.put(&path, Box::pin(std::io::Cursor::new(got.lines))).await {
        taken.settle(flow, trigger_id, false).await;
        return Err(e.into());
    }
    out.insert("uri".into(), Value::String(format!("kestra://{path}")));
    Ok((out, Some(taken)))
}

/// One evaluation of `RealtimeTrigger` `trigger_id` of `flow` (see the
/// module documentation); the ids of the executions it started.
pub async fn listen(
    engine: &Arc<Engine>,
    flow: &Flow,
    trigger_id: &str,
    props: &Map<String, Value>,
    held: &Held,
) -> Result<Vec<String>, EventError> {
    let fail = EventError::of_task(flow, trigger_id);
    let rendered = render_props(engine, flow, trigger_id, props.clone())?;
    let key = Value::Object(rendered.clone()).to_string();
    let spec = Spec::read(&rendered).map_err(&fail)?;
    let mut slot = held.lock().await;
    if slot.as_ref().is_none_or(|(k, ..)| *k != key) {
        *slot = None;
        let client = spec.conn.connect().await.map_err(&fail)?;
        let consumer = consume::consumer(&client, &spec.subscribe).await.map_err(&fail)?;
        *slot = Some((key, client, consumer));
    }
    let Some((_, client, consumer)) = slot.as_ref() else { return Ok(Vec::new()) };
    let fetched = consumer.fetch().max_messages(spec.subscribe.batch).expires(Spec::listen_wait()).messages().await;
    let mut batch = match fetched {
        Ok(b) => b,
        Err(e) => {
            *slot = None;
            return Err(fail(TaskError::failed(format!("cannot fetch from '{}': {e}", spec.subscribe.subject))));
        }
    };
    let client = client.clone();
    let mut started = Vec::new();
    while let Some(m) = batch.next().await {
        let m = match m {
            Ok(m) => m,
            Err(e) => {
                *slot = None;
                return Err(fail(TaskError::failed(format!("cannot fetch from '{}': {e}", spec.subscribe.subject))));
            }
        };
        let seed = match m.info() {
            Ok(i) => format!("{}\n{}", i.stream, i.stream_sequence),
            Err(_) => crate::model::ids::new_id(),
        };
        let id = derived_id(&format!("nats.RealtimeTrigger\n{}\n{}\n{trigger_id}\n{seed}", flow.namespace, flow.id));
        let vars = consume::record(&m);
        match launch_event(engine, flow, trigger_id, REALTIME_TYPE, &id, vars).await {
            Ok(created) => {
                if created {
                    started.push(id);
                }
                consume::settle(std::slice::from_ref(&m), true).await.map_err(&fail)?;
            }
            Err(e) => {
                let _ = consume::settle(std::slice::from_ref(&m), false).await;
                return Err(e);
            }
        }
    }
    let _ = client.flush().await;
    Ok(started)
}
