//! The Kafka triggers' reads.
//!
//! [`receive`]: a `kafka.Trigger`'s, the same on both runtimes: an
//! evaluation (`super::http::evaluate`, one per slot of `interval`) joins
//! the trigger's consumer group, reads until a poll brings nothing,
//! `maxRecords` or `maxDuration` (at most the interval) and writes the
//! records to the execution's `trigger/{trigger}/kafka.ion`. The offsets
//! are committed ([`Taken::settle`]) only once that execution is stored —
//! or `when` rejected it —; otherwise nothing is committed and the next
//! evaluation reads the same records again. A process killed in between
//! commits nothing either.
//!
//! [`listen`]: a `kafka.RealtimeTrigger`'s, on `baton server local` (its
//! poller evaluates it continuously): the consumer stays in its group from
//! one evaluation to the next ([`Held`]; opened again when the rendered
//! properties change or after an error); each evaluation reads up to
//! `max.poll.records` (500) records, waiting up to a second for the first,
//! each record one execution whose id derives from the group, topic,
//! partition and offset — a record read again starts nothing new —, and
//! commits the offsets of the records whose executions are stored.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use super::{EventError, launch_event, render_props, trigger_file};
use crate::model::Flow;
use crate::model::ids::derived_id;
use crate::plugins::TaskError;
use crate::plugins::kafka::pull::{self, DeadLetter, Read, Shared};
use crate::plugins::kafka::rdkafka::Message;
use crate::runtime::engine::Engine;
use crate::triggers::kafka::{REALTIME_TYPE, Spec};

/// How many records one realtime evaluation reads without `max.poll.records`.
const LISTEN_BATCH: usize = 500;

/// A realtime trigger's consumer, kept in its group across evaluations,
/// with the rendered properties it was opened for.
pub type Held = Arc<tokio::sync::Mutex<Option<(String, Shared, Spec)>>>;

/// Records read and not yet committed.
pub struct Taken {
    consumer: Shared,
    spec: Spec,
    next: BTreeMap<(String, i32), i64>,
    dead: Vec<DeadLetter>,
}

impl std::fmt::Debug for Taken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Taken").field("partitions", &self.next.len()).finish()
    }
}

impl Taken {
    /// Commits the offsets read when `kept` (their execution is stored),
    /// after sending the dead letters; else commits nothing, so that they
    /// are read again. A failure is logged.
    pub async fn settle(self, flow: &Flow, trigger_id: &str, kept: bool) {
        if !kept {
            tracing::warn!(namespace = %flow.namespace, flow_id = %flow.id, trigger_id,
                "kafka: no execution stored for the records: nothing committed, they are read again");
            return;
        }
        let done = match pull::dead_letters(&self.spec.config, &self.spec.subscribe, &self.dead).await {
            Ok(()) => pull::commit(&self.consumer, &self.spec.subscribe, &self.next).await,
            Err(e) => Err(e),
        };
        if let Err(e) = done {
            tracing::error!(namespace = %flow.namespace, flow_id = %flow.id, trigger_id, error = %e,
                "kafka: the offsets could not be committed: the records are read again");
        }
    }
}

/// Reads the batch of `kafka.Trigger` `trigger_id` of `flow` for the
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
    let consumer = pull::open(&spec.config, &spec.subscribe).await.map_err(&fail)?;
    let got = pull::pull(&consumer, &spec.subscribe, &spec.limits, Some(cap)).await.map_err(&fail)?;
    let mut out = Map::new();
    out.insert("messagesCount".into(), Value::from(got.count));
    let taken = Taken { consumer, spec, next: got.next, dead: got.dead };
    if got.count == 0 {
        // what was read and left out (filters, skipped values) is committed
        taken.settle(flow, trigger_id, true).await;
        return Ok((out, None));
    }
    let path = trigger_file(flow, trigger_id, execution_id, "kafka.ion");
    engine.storage.put(&path, Box::pin(std::io::Cursor::new(got.lines))).await?;
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
    let mut slot = held.lock().await;
    if slot.as_ref().is_none_or(|(k, ..)| *k != key) {
        *slot = None;
        let spec = Spec::read(&rendered).map_err(&fail)?;
        let consumer = pull::open(&spec.config, &spec.subscribe).await.map_err(&fail)?;
        *slot = Some((key, consumer, spec));
    }
    let Some((_, consumer, spec)) = slot.as_ref() else { return Ok(Vec::new()) };
    let (consumer, spec) = (consumer.clone(), spec.clone());
    let s = &spec.subscribe;
    let batch = spec.config.max_poll_records.unwrap_or(LISTEN_BATCH);
    let mut started = Vec::new();
    let mut next = BTreeMap::new();
    let mut dead = Vec::new();
    let mut outcome = Ok(());
    for i in 0..batch {
        let wait = if i == 0 { Duration::from_secs(1) } else { Duration::from_millis(5) };
        let m = match tokio::time::timeout(wait, consumer.recv()).await {
            Err(_) => break,
            Ok(Err(e)) => {
                outcome = Err(fail(TaskError::failed(format!("cannot read from Kafka: {e}"))));
                break;
            }
            Ok(Ok(m)) => m,
        };
        let at = (m.topic().to_string(), m.partition());
        let offset = m.offset();
        let vars = match pull::read(&m, s) {
            Ok(Read::Kept(r)) => r,
            Ok(Read::Left) => {
                next.insert(at, offset + 1);
                continue;
            }
            Ok(Read::Dead(d)) => {
                dead.push(d);
                next.insert(at, offset + 1);
                continue;
            }
            Err(e) => {
                outcome = Err(fail(e));
                break;
            }
        };
        let group = s.group.as_deref().unwrap_or_default();
        let seed = format!("{group}\n{}\n{}\n{offset}", at.0, at.1);
        let id = derived_id(&format!("kafka.RealtimeTrigger\n{}\n{}\n{trigger_id}\n{seed}", flow.namespace, flow.id));
        match launch_event(engine, flow, trigger_id, REALTIME_TYPE, &id, vars).await {
            Ok(created) => {
                if created {
                    started.push(id);
                }
                next.insert(at, offset + 1);
            }
            Err(e) => {
                outcome = Err(e);
                break;
            }
        }
    }
    // what is stored is committed; after an error the consumer is opened
    // again and reads on from there
    let committed = match pull::dead_letters(&spec.config, s, &dead).await {
        Ok(()) => pull::commit(&consumer, s, &next).await,
        Err(e) => Err(e),
    };
    if outcome.is_err() || committed.is_err() {
        *slot = None;
    }
    outcome?;
    committed.map_err(&fail)?;
    Ok(started)
}
