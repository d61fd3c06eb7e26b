//! The AMQP triggers' consumes.
//!
//! [`receive`]: an `amqp.Trigger`'s, the same on both runtimes: an
//! evaluation (`super::http::evaluate`, one per slot of `interval`)
//! consumes the trigger's queue until `maxRecords` or `maxDuration` (at
//! most the interval) and writes the records to the execution's
//! `trigger/{trigger}/amqp.ion`. Without `autoAck` the messages are
//! acknowledged ([`Taken::settle`]) only once that execution is stored —
//! or `when` rejected it — and given back to the queue otherwise (a
//! process killed in between leaves them unacknowledged: the broker gives
//! them back when the connection drops).
//!
//! [`listen`]: an `amqp.RealtimeTrigger`'s, on `baton server local` (its
//! poller evaluates it continuously): each evaluation connects, consumes
//! until no message came for a second, and starts one execution per
//! message, acknowledged once stored; a message whose execution cannot be
//! stored goes back to the queue.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use serde_json::{Map, Value};

use super::{EventError, launch_event, render_props, trigger_file};
use crate::model::Flow;
use crate::plugins::TaskError;
use crate::plugins::amqp::consume::QueueSpec;
use crate::plugins::amqp::consume::{self, Session};
use crate::plugins::amqp::lapin::options::{BasicAckOptions, BasicCancelOptions, BasicNackOptions};
use crate::plugins::amqp::message::record;
use crate::runtime::engine::Engine;
use crate::triggers::amqp::{REALTIME_TYPE, Spec};

/// How many messages a realtime consumer holds unacknowledged.
const REALTIME_PREFETCH: u16 = 100;

/// Messages consumed and not yet acknowledged.
pub struct Taken {
    /// Boxed: a connection and its channel are large.
    session: Box<Session>,
    spec: QueueSpec,
    last_tag: Option<u64>,
    count: u64,
}

impl std::fmt::Debug for Taken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Taken").field("messages", &self.count).finish()
    }
}

impl Taken {
    /// Acknowledges the messages when `kept` (their execution is stored),
    /// else gives them back to the queue; a failure is logged.
    pub async fn settle(self, flow: &Flow, trigger_id: &str, kept: bool) {
        let n = self.count;
        let done = consume::settle(*self.session, &self.spec, self.last_tag, kept).await;
        match done {
            true if kept => {}
            true => tracing::warn!(namespace = %flow.namespace, flow_id = %flow.id, trigger_id, messages = n,
                "amqp: no execution stored for the messages: back to the queue"),
            false => tracing::error!(namespace = %flow.namespace, flow_id = %flow.id, trigger_id, messages = n,
                "amqp: the messages could not be settled: the broker gives them back as the connection closes"),
        }
    }
}

/// Consumes the batch of `amqp.Trigger` `trigger_id` of `flow` for the
/// execution `execution_id`, waiting at most `cap`; its outputs (`uri`,
/// `count`) and what to settle, `None` when nothing came.
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
    let spec = Spec::read(&rendered, false).map_err(&fail)?;
    let limits = spec.limits.ok_or_else(|| fail(TaskError::property("maxRecords", "is required")))?;
    let (session, got) = consume::pull(&spec.conn, &spec.queue, &limits, Some(cap)).await.map_err(&fail)?;
    let mut out = Map::new();
    out.insert("count".into(), Value::from(got.count));
    let taken = Taken { session: Box::new(session), spec: spec.queue, last_tag: got.last_tag, count: got.count };
    if got.count == 0 {
        taken.settle(flow, trigger_id, true).await;
        return Ok((out, None));
    }
    let path = trigger_file(flow, trigger_id, execution_id, "amqp.ion");
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
) -> Result<Vec<String>, EventError> {
    let fail = EventError::of_task(flow, trigger_id);
    let rendered = render_props(engine, flow, trigger_id, props.clone())?;
    let spec = Spec::read(&rendered, true).map_err(&fail)?;
    let q = &spec.queue;
    let (session, mut consumer) = consume::open(&spec.conn, q, REALTIME_PREFETCH).await.map_err(&fail)?;
    let mut started = Vec::new();
    let mut failure = None;
    while let Ok(next) = tokio::time::timeout(Spec::listen_wait(), consumer.next()).await {
        let d = match next {
            None => break,
            Some(Ok(d)) => d,
            Some(Err(e)) => {
                failure = Some(fail(TaskError::failed(format!("cannot consume queue '{}': {e}", q.queue))));
                break;
            }
        };
        let tag = d.delivery_tag;
        let launched = match record(&d.data, &d.properties, q.serde) {
            Ok(vars) => {
                let id = crate::model::ids::new_id();
                launch_event(engine, flow, trigger_id, REALTIME_TYPE, &id, vars).await.map(|created| (created, id))
            }
            Err(e) => Err(fail(TaskError::failed(format!("a message of queue '{}': {e}", q.queue)))),
        };
        match launched {
            Ok((created, id)) => {
                if created {
                    started.push(id);
                }
                if !q.auto_ack {
                    let _ = session.channel.basic_ack(tag, BasicAckOptions::default()).await;
                }
            }
            Err(e) => {
                if !q.auto_ack {
                    let _ = session.channel.basic_nack(tag, BasicNackOptions { multiple: false, requeue: true }).await;
                }
                failure = Some(e);
                break;
            }
        }
    }
    // the deliveries not read yet go back to the queue as the channel closes
    let _ = session.channel.basic_cancel(&q.tag, BasicCancelOptions::default()).await;
    consume::settle(session, q, None, true).await;
    match failure {
        Some(e) => Err(e),
        None => Ok(started),
    }
}
