//! The local event poller of `baton server local`: every enabled
//! `gcs.Trigger`, `http.Trigger`, `s3.Trigger`, `pubsub.Trigger` and `pubsub.RealtimeTrigger` of the
//! loaded flows (and the JDBC, BigQuery and Redis list triggers, polled as
//! an `http.Trigger`) is evaluated every `interval` (Kestra's polling; 60 s
//! by default), one evaluation at a time per trigger, each on its own task.
//! A `RealtimeTrigger` (Pub/Sub's, Redis's, SQS's, MQTT's, NATS's, AMQP's, the TCP
//! and UDP listeners of `fs`) is pulled continuously (one-second windows);
//! a socket stays bound, an MQTT session connected and a NATS consumer open
//! from one window to the next (`super::socket`, `super::mqtt`,
//! `super::nats`). A
//! Pub/Sub `Trigger` with `maxRecords` and no `maxDuration` waits for its
//! messages as Kestra's does (`super::pubsub::poll`): the next evaluation
//! starts only once it is done. A Pub/Sub trigger's subscription stream
//! stays open from one evaluation to the next (opened again when the
//! trigger's project or subscription changes, or after a stream error).
//!
//! A failing evaluation is logged once per distinct error and retried at
//! the next interval. What an evaluation decides comes from the state
//! store (`super::gcs`, `super::pubsub`), so a restarted server goes on
//! where the previous one stopped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::EventError;
#[cfg(feature = "gcp")]
use crate::backend::gcp::pubsub::{MessageStream, PubSubPull};
use crate::model::Flow;
use crate::runtime::engine::Engine;
#[cfg(feature = "gcp")]
use crate::triggers::gcs::GcsTrigger;
use crate::triggers::http::HttpTrigger;
#[cfg(feature = "gcp")]
use crate::triggers::pubsub::PubSubTrigger;
use crate::triggers::socket::Protocol;
#[cfg(feature = "gcp")]
use crate::triggers::{gcs, pubsub};

/// The pull window of a `RealtimeTrigger` evaluation.
#[cfg(feature = "gcp")]
const REALTIME_WINDOW: Duration = Duration::from_secs(1);

/// One event trigger of one flow.
#[derive(Debug, Clone)]
enum EventTrigger {
    #[cfg(feature = "gcp")]
    Gcs(GcsTrigger),
    Http(HttpTrigger),
    #[cfg(feature = "gcp")]
    PubSub(PubSubTrigger),
    /// An `s3.Trigger` (its id) and its interval; the rest is rendered at each poll.
    #[cfg(feature = "aws")]
    S3(String, Duration),
    /// An `fs.local.Trigger` (its id) and its interval; the rest is rendered at each poll.
    Local(String, Duration),
    /// A `redis.list.RealtimeTrigger` (its id) and its properties, rendered at each evaluation.
    #[cfg(feature = "redis")]
    RedisRealtime(String, serde_json::Map<String, serde_json::Value>),
    /// An `sqs.RealtimeTrigger` (its id) and its properties, rendered at each evaluation.
    #[cfg(feature = "aws")]
    SqsRealtime(String, serde_json::Map<String, serde_json::Value>),
    /// An `mqtt.RealtimeTrigger` (its id) and its properties, rendered at each evaluation.
    #[cfg(feature = "mqtt")]
    MqttRealtime(String, serde_json::Map<String, serde_json::Value>),
    /// A `nats.RealtimeTrigger` (its id) and its properties, rendered at each evaluation.
    #[cfg(feature = "nats")]
    NatsRealtime(String, serde_json::Map<String, serde_json::Value>),
    /// An `amqp.RealtimeTrigger` (its id) and its properties, rendered at each evaluation.
    #[cfg(feature = "amqp")]
    AmqpRealtime(String, serde_json::Map<String, serde_json::Value>),
    /// A `kafka.RealtimeTrigger` (its id) and its properties, rendered at each evaluation.
    #[cfg(feature = "kafka")]
    KafkaRealtime(String, serde_json::Map<String, serde_json::Value>),
    /// An `fs.tcp.RealtimeTrigger` or `fs.udp.RealtimeTrigger` (its id) and its properties.
    Socket(String, Protocol, serde_json::Map<String, serde_json::Value>),
}

impl EventTrigger {
    fn of(t: &crate::model::Trigger) -> Option<EventTrigger> {
        if t.disabled {
            return None;
        }
        if let Some(h) = HttpTrigger::of(t) {
            return h.ok().map(EventTrigger::Http);
        }
        #[cfg(feature = "redis")]
        if let Some(props) = crate::triggers::redis::realtime_props(t) {
            return Some(EventTrigger::RedisRealtime(t.id.clone(), props));
        }
        #[cfg(feature = "aws")]
        if let Some(props) = crate::triggers::sqs::realtime_props(t) {
            return Some(EventTrigger::SqsRealtime(t.id.clone(), props));
        }
        #[cfg(feature = "mqtt")]
        if let Some(props) = crate::triggers::mqtt::realtime_props(t) {
            return Some(EventTrigger::MqttRealtime(t.id.clone(), props));
        }
        #[cfg(feature = "nats")]
        if let Some(props) = crate::triggers::nats::realtime_props(t) {
            return Some(EventTrigger::NatsRealtime(t.id.clone(), props));
        }
        #[cfg(feature = "amqp")]
        if let Some(props) = crate::triggers::amqp::realtime_props(t) {
            return Some(EventTrigger::AmqpRealtime(t.id.clone(), props));
        }
        #[cfg(feature = "kafka")]
        if let Some(props) = crate::triggers::kafka::realtime_props(t) {
            return Some(EventTrigger::KafkaRealtime(t.id.clone(), props));
        }
        if let Some((protocol, props)) = crate::triggers::socket::listen_props(t) {
            return Some(EventTrigger::Socket(t.id.clone(), protocol, props));
        }
        match crate::triggers::find(&t.type_)?.type_name {
            #[cfg(feature = "gcp")]
            gcs::TYPE => GcsTrigger::from_trigger(t).ok().map(EventTrigger::Gcs),
            #[cfg(feature = "gcp")]
            pubsub::TYPE | pubsub::REALTIME_TYPE => PubSubTrigger::from_trigger(t).ok().map(EventTrigger::PubSub),
            crate::triggers::fs_local::TYPE => {
                crate::triggers::stateful::interval(t).ok().map(|i| EventTrigger::Local(t.id.clone(), i))
            }
            #[cfg(feature = "aws")]
            crate::triggers::s3::TYPE => {
                crate::triggers::stateful::interval(t).ok().map(|i| EventTrigger::S3(t.id.clone(), i))
            }
            _ => None,
        }
    }

    /// How long until the next evaluation: an `http.Trigger` is evaluated
    /// at the start of each slot of its interval (its executions are one
    /// per slot), the others `interval` after this one.
    fn until_next(&self) -> Duration {
        match self {
            EventTrigger::Http(h) => {
                let now = chrono::Utc::now();
                let next = h.slot(now) + h.interval;
                (next - now).to_std().unwrap_or_default() + Duration::from_millis(5)
            }
            other => other.interval(),
        }
    }

    /// The id of a trigger that listens continuously (a Redis list's or
    /// an SQS queue's `RealtimeTrigger`, a socket's), `None` for the polled ones.
    fn listener_id(&self) -> Option<&str> {
        match self {
            EventTrigger::Socket(id, ..) => Some(id),
            #[cfg(feature = "redis")]
            EventTrigger::RedisRealtime(id, _) => Some(id),
            #[cfg(feature = "aws")]
            EventTrigger::SqsRealtime(id, _) => Some(id),
            #[cfg(feature = "mqtt")]
            EventTrigger::MqttRealtime(id, _) => Some(id),
            #[cfg(feature = "nats")]
            EventTrigger::NatsRealtime(id, _) => Some(id),
            #[cfg(feature = "amqp")]
            EventTrigger::AmqpRealtime(id, _) => Some(id),
            #[cfg(feature = "kafka")]
            EventTrigger::KafkaRealtime(id, _) => Some(id),
            _ => None,
        }
    }

    fn interval(&self) -> Duration {
        match self {
            #[cfg(feature = "gcp")]
            EventTrigger::Gcs(g) => g.interval,
            EventTrigger::Http(h) => h.interval.to_std().unwrap_or(Duration::from_secs(60)),
            #[cfg(feature = "gcp")]
            EventTrigger::PubSub(p) if p.realtime => Duration::ZERO,
            #[cfg(feature = "gcp")]
            EventTrigger::PubSub(p) => p.interval,
            #[cfg(feature = "aws")]
            EventTrigger::S3(_, i) => *i,
            EventTrigger::Local(_, i) => *i,
            #[cfg(feature = "redis")]
            EventTrigger::RedisRealtime(..) => Duration::ZERO,
            #[cfg(feature = "aws")]
            EventTrigger::SqsRealtime(..) => Duration::ZERO,
            #[cfg(feature = "mqtt")]
            EventTrigger::MqttRealtime(..) => Duration::ZERO,
            #[cfg(feature = "nats")]
            EventTrigger::NatsRealtime(..) => Duration::ZERO,
            #[cfg(feature = "amqp")]
            EventTrigger::AmqpRealtime(..) => Duration::ZERO,
            #[cfg(feature = "kafka")]
            EventTrigger::KafkaRealtime(..) => Duration::ZERO,
            EventTrigger::Socket(..) => Duration::ZERO,
        }
    }
}

/// A Pub/Sub trigger's open subscription stream, kept across its
/// evaluations (a stream closed between polls could be sent messages no
/// one reads until their ack deadline), with what it was opened for.
#[cfg(feature = "gcp")]
type Stream = Arc<tokio::sync::Mutex<Option<(String, MessageStream)>>>;
#[cfg(not(feature = "gcp"))]
type Stream = Arc<()>;

#[derive(Default)]
struct Slot {
    running: Option<JoinHandle<()>>,
    next: Option<Instant>,
    last_error: Option<String>,
    stream: Stream,
    /// A socket trigger's listener, bound across evaluations.
    socket: super::socket::Held,
    /// An MQTT realtime trigger's session, connected across evaluations.
    mqtt: Mqtt,
    /// A NATS realtime trigger's consumer, open across evaluations.
    nats: Nats,
    /// A Kafka realtime trigger's consumer, in its group across evaluations.
    kafka: Kafka,
}

#[cfg(feature = "nats")]
type Nats = super::nats::Held;
#[cfg(not(feature = "nats"))]
type Nats = Arc<()>;
#[cfg(feature = "kafka")]
type Kafka = super::kafka::Held;
#[cfg(not(feature = "kafka"))]
type Kafka = Arc<()>;

#[cfg(feature = "mqtt")]
type Mqtt = super::mqtt::Held;
#[cfg(not(feature = "mqtt"))]
type Mqtt = Arc<()>;

/// The event triggers' evaluations.
pub struct EventPoller {
    engine: Arc<Engine>,
    slots: Mutex<HashMap<String, Slot>>,
    errors: Arc<Mutex<HashMap<String, String>>>,
}

impl EventPoller {
    pub fn new(engine: Arc<Engine>) -> EventPoller {
        EventPoller { engine, slots: Mutex::new(HashMap::new()), errors: Arc::default() }
    }

    /// Starts the evaluations that are due (a trigger still evaluating is left alone).
    pub fn pass(&self) {
        let now = Instant::now();
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        let mut live = std::collections::HashSet::new();
        for flow in self.engine.flows.all() {
            if flow.disabled {
                continue;
            }
            for t in &flow.triggers {
                let Some(ev) = EventTrigger::of(t) else { continue };
                let key = format!("{}/{}/{}", flow.namespace, flow.id, t.id);
                live.insert(key.clone());
                let slot = slots.entry(key.clone()).or_default();
                if slot.running.as_ref().is_some_and(|h| !h.is_finished()) || slot.next.is_some_and(|n| n > now) {
                    continue;
                }
                slot.next = Some(now + ev.until_next());
                slot.last_error = None;
                let (engine, flow, errors) = (self.engine.clone(), flow.clone(), self.errors.clone());
                let held = Held {
                    stream: slot.stream.clone(),
                    socket: slot.socket.clone(),
                    mqtt: slot.mqtt.clone(),
                    nats: slot.nats.clone(),
                    kafka: slot.kafka.clone(),
                };
                slot.running = Some(tokio::spawn(async move {
                    let result = evaluate(&engine, &flow, &ev, &held).await;
                    let mut errs = errors.lock().unwrap_or_else(PoisonError::into_inner);
                    match result {
                        Ok(ids) => {
                            errs.remove(&key);
                            if !ids.is_empty() {
                                tracing::info!(trigger = %key, executions = ?ids, "event trigger started executions");
                            }
                        }
                        Err(e) => {
                            let msg = e.to_string();
                            if errs.get(&key) != Some(&msg) {
                                tracing::error!(trigger = %key, error = %msg, "event trigger evaluation failed (retried)");
                                errs.insert(key, msg);
                            }
                        }
                    }
                }));
            }
        }
        // a trigger gone (its flow deleted or disabled, the trigger
        // disabled or changed to another type): its evaluation stops and
        // what it held (a bound socket, a subscription stream) is closed
        slots.retain(|key, slot| {
            let keep = live.contains(key);
            if let (false, Some(h)) = (keep, &slot.running) {
                h.abort();
            }
            keep
        });
    }

    /// Runs passes every `every` until aborted.
    pub fn spawn(self: Arc<Self>, every: Duration) -> JoinHandle<()> {
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(every);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                interval.tick().await;
                self.pass();
            }
        })
    }

    /// Stops every evaluation now.
    pub fn abort_all(&self) {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        for (_, s) in slots.drain() {
            if let Some(h) = s.running {
                h.abort();
            }
        }
    }
}

/// What a trigger's evaluations keep from one to the next.
struct Held {
    stream: Stream,
    socket: super::socket::Held,
    mqtt: Mqtt,
    nats: Nats,
    kafka: Kafka,
}

/// One evaluation; the ids of the executions it created.
async fn evaluate(
    engine: &Arc<Engine>,
    flow: &Flow,
    ev: &EventTrigger,
    held: &Held,
) -> Result<Vec<String>, EventError> {
    let Held { stream, socket, mqtt, nats, kafka } = held;
    #[cfg(not(feature = "gcp"))]
    let _ = stream;
    #[cfg(not(feature = "mqtt"))]
    let _ = mqtt;
    #[cfg(not(feature = "nats"))]
    let _ = nats;
    #[cfg(not(feature = "kafka"))]
    let _ = kafka;
    // an http.Trigger and an s3.Trigger test their stop and conditions
    // themselves (on both runtimes); a RealtimeTrigger has no conditions
    #[cfg(feature = "gcp")]
    if let EventTrigger::Gcs(GcsTrigger { id, .. }) | EventTrigger::PubSub(PubSubTrigger { id, .. }) = ev {
        let conditions = !matches!(ev, EventTrigger::PubSub(p) if p.realtime);
        if let Some(why) = super::held_back(engine, flow, id, conditions, chrono::Utc::now()).await? {
            tracing::debug!(namespace = %flow.namespace, flow_id = %flow.id, trigger_id = %id, "not polled: {why}");
            return Ok(Vec::new());
        }
    }
    // a listener (Redis's, a socket's) has no conditions either
    if let Some(id) = ev.listener_id()
        && let Some(why) = super::held_back(engine, flow, id, false, chrono::Utc::now()).await?
    {
        tracing::debug!(namespace = %flow.namespace, flow_id = %flow.id, trigger_id = %id, "not listened: {why}");
        return Ok(Vec::new());
    }
    match ev {
        EventTrigger::Socket(id, protocol, props) => {
            super::socket::listen(engine, flow, id, *protocol, props, socket).await
        }
        #[cfg(feature = "redis")]
        EventTrigger::RedisRealtime(id, props) => super::redis::listen(engine, flow, id, props).await,
        #[cfg(feature = "aws")]
        EventTrigger::SqsRealtime(id, props) => super::sqs::listen(engine, flow, id, props).await,
        #[cfg(feature = "mqtt")]
        EventTrigger::MqttRealtime(id, props) => super::mqtt::listen(engine, flow, id, props, mqtt).await,
        #[cfg(feature = "nats")]
        EventTrigger::NatsRealtime(id, props) => super::nats::listen(engine, flow, id, props, nats).await,
        #[cfg(feature = "amqp")]
        EventTrigger::AmqpRealtime(id, props) => super::amqp::listen(engine, flow, id, props).await,
        #[cfg(feature = "kafka")]
        EventTrigger::KafkaRealtime(id, props) => super::kafka::listen(engine, flow, id, props, kafka).await,
        EventTrigger::Local(id, _) => Ok(super::fs_local::poll(engine, flow, id)
            .await?
            .filter(|f| f.created)
            .map(|f| f.execution_id)
            .into_iter()
            .collect()),
        #[cfg(feature = "aws")]
        EventTrigger::S3(id, _) => Ok(super::s3::poll(engine, flow, id)
            .await?
            .filter(|f| f.created)
            .map(|f| f.execution_id)
            .into_iter()
            .collect()),
        #[cfg(feature = "gcp")]
        EventTrigger::Gcs(g) => Ok(super::gcs::poll(engine, flow, g)
            .await?
            .filter(|f| f.created)
            .map(|f| f.execution_id)
            .into_iter()
            .collect()),
        EventTrigger::Http(h) => match super::http::evaluate(engine, flow, h, chrono::Utc::now()).await? {
            super::http::Evaluated::Started(id) => Ok(vec![id]),
            _ => Ok(Vec::new()),
        },
        #[cfg(feature = "gcp")]
        EventTrigger::PubSub(p) => {
            let target = super::pubsub::target(engine, flow, p)?;
            let opened_for = format!("{target:?} {}", p.subscription);
            let mut open = stream.lock().await;
            if open.as_ref().is_none_or(|(k, _)| *k != opened_for) {
                *open = None;
                super::pubsub::ensure_subscription(&target, p).await?;
                let pull = PubSubPull::connect(target).await.map_err(|e| EventError::PubSub(e.to_string()))?;
                *open = Some((opened_for, pull.messages(&p.subscription)));
            }
            let Some((_, s)) = open.as_mut() else { return Ok(Vec::new()) };
            let result = super::pubsub::poll(engine, flow, p, s, REALTIME_WINDOW).await;
            if matches!(result, Err(EventError::PubSub(_))) {
                // a broken stream is opened again at the next evaluation
                *open = None;
            }
            result
        }
    }
}
