//! `LocalQueue`: the embedded runtime's message bus, one unbounded tokio
//! channel per topic. Messages published before anyone subscribes are
//! buffered in the channel; delivery is in publish order, exactly once per
//! receiver (no redelivery, unlike Pub/Sub).
//!
//! A topic has one receiver. A worker pool shares it through
//! [`LocalQueue::subscribe_shared`] (a [`SharedReceiver`]: every call for the
//! same topic returns the same handle, and each message goes to one caller).
//!
//! A topic carries [`LocalMessage`]s: bytes, as Pub/Sub would, or a value
//! handed over as it is ([`LocalQueue::publish_value`]: the runtime's own
//! events and jobs, which then cost no JSON encoding and decoding in
//! process; in debug builds the runtime hands over each one read back from
//! its JSON, so tests see what Pub/Sub would deliver).
//!
//! The queue counts the work waiting in it ([`LocalQueue::waiting`]): one
//! more for each message published, one less for each one its consumer
//! says it [`handled`](LocalQueue::handled). `baton server local` refuses
//! new executions while that backlog is at its bound (back-pressure).

use std::any::Any;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use baton_backend::{BackendError, LocalPublish, Queue, Result, Topic};

/// One message of a topic.
pub enum LocalMessage {
    /// Bytes, as `Queue::publish` gives them.
    Bytes(Vec<u8>),
    /// A value handed over as it is ([`LocalQueue::publish_value`]).
    Value(Box<dyn Any + Send>),
}

impl LocalMessage {
    /// The message as a `T`: the value itself, or its bytes decoded as JSON.
    pub fn decode<T: serde::de::DeserializeOwned + 'static>(self) -> std::result::Result<T, String> {
        match self {
            LocalMessage::Bytes(b) => serde_json::from_slice(&b).map_err(|e| e.to_string()),
            LocalMessage::Value(v) => v
                .downcast::<T>()
                .map(|v| *v)
                .map_err(|_| format!("a value that is not a {}", std::any::type_name::<T>())),
        }
    }

    /// The message's bytes, when it was published as bytes.
    pub fn bytes(self) -> Option<Vec<u8>> {
        match self {
            LocalMessage::Bytes(b) => Some(b),
            LocalMessage::Value(_) => None,
        }
    }
}

impl std::fmt::Debug for LocalMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LocalMessage::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            LocalMessage::Value(_) => f.write_str("Value(..)"),
        }
    }
}

/// The receiving end of one topic.
enum Receiving {
    /// Nobody subscribed yet: messages wait in the channel.
    Pending(UnboundedReceiver<LocalMessage>),
    /// Handed out by [`LocalQueue::subscribe`].
    Taken,
    /// Handed out by [`LocalQueue::subscribe_shared`].
    Shared(SharedReceiver),
}

struct Channel {
    tx: UnboundedSender<LocalMessage>,
    rx: Receiving,
}

impl Channel {
    fn new() -> Channel {
        let (tx, rx) = unbounded_channel();
        Channel { tx, rx: Receiving::Pending(rx) }
    }
}

/// The receiver of one topic shared by several consumers (a worker pool):
/// each message is received by exactly one of them.
#[derive(Clone)]
pub struct SharedReceiver(Arc<tokio::sync::Mutex<UnboundedReceiver<LocalMessage>>>);

impl SharedReceiver {
    /// Wraps a receiver for sharing.
    pub fn new(rx: UnboundedReceiver<LocalMessage>) -> Self {
        SharedReceiver(Arc::new(tokio::sync::Mutex::new(rx)))
    }

    /// The next message, or `None` once the topic is closed and drained.
    /// Consumers waiting concurrently are served one message each.
    pub async fn recv(&self) -> Option<LocalMessage> {
        self.0.lock().await.recv().await
    }
}

impl std::fmt::Debug for SharedReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedReceiver")
    }
}

/// In-process topics on tokio channels.
#[derive(Default)]
pub struct LocalQueue {
    topics: Mutex<HashMap<Topic, Channel>>,
    /// Messages published and not yet handled, over every topic.
    waiting: AtomicUsize,
}

impl std::fmt::Debug for LocalQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalQueue").finish_non_exhaustive()
    }
}

impl LocalQueue {
    /// A queue with no topics yet (they are created on first use).
    pub fn new() -> Self {
        Self::default()
    }

    fn with_channel<T>(&self, topic: &Topic, f: impl FnOnce(&mut Channel) -> T) -> T {
        let mut topics = self.topics.lock().unwrap_or_else(PoisonError::into_inner);
        f(topics.entry(topic.clone()).or_insert_with(Channel::new))
    }

    /// The topic's receiver, with every message published so far still in it.
    ///
    /// A topic has one receiver: subscribing again (exclusively or shared)
    /// starts a fresh channel for the topic, and the previous receiver ends
    /// (`None`) once it has drained what it already held.
    pub fn subscribe(&self, topic: &Topic) -> UnboundedReceiver<LocalMessage> {
        self.with_channel(topic, |ch| match std::mem::replace(&mut ch.rx, Receiving::Taken) {
            Receiving::Pending(rx) => rx,
            Receiving::Taken | Receiving::Shared(_) => {
                let (tx, rx) = unbounded_channel();
                ch.tx = tx;
                rx
            }
        })
    }

    /// The topic's receiver shared by a pool of consumers; every call for the
    /// same topic returns the same handle. If the topic was already taken by
    /// [`LocalQueue::subscribe`], the topic starts a fresh channel.
    pub fn subscribe_shared(&self, topic: &Topic) -> SharedReceiver {
        self.with_channel(topic, |ch| {
            let shared = match std::mem::replace(&mut ch.rx, Receiving::Taken) {
                Receiving::Shared(s) => s,
                Receiving::Pending(rx) => SharedReceiver::new(rx),
                Receiving::Taken => {
                    let (tx, rx) = unbounded_channel();
                    ch.tx = tx;
                    SharedReceiver::new(rx)
                }
            };
            ch.rx = Receiving::Shared(shared.clone());
            shared
        })
    }

    /// Publishes `value` itself: its consumer takes it with
    /// [`LocalMessage::decode`] as the same type.
    pub fn publish_value<T: Any + Send>(&self, topic: &Topic, value: T) -> Result<()> {
        self.send(topic, LocalMessage::Value(Box::new(value)))
    }

    fn send(&self, topic: &Topic, message: LocalMessage) -> Result<()> {
        // counted before it can be received: a consumer on another thread
        // may take it and report it handled before `send` returns, and a
        // count raised after that would never come down again
        self.waiting.fetch_add(1, Ordering::Relaxed);
        self.with_channel(topic, |ch| ch.tx.send(message)).map_err(|_| {
            self.handled(1);
            BackendError::Queue(format!("topic {} has no receiver any more", topic.name()))
        })
    }

    /// Its consumer is done with `n` messages (handled them, or took them
    /// for good): they leave the backlog.
    pub fn handled(&self, n: usize) {
        // never below zero: a message published before a `close` may still
        // be reported after it
        let _ = self.waiting.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |w| Some(w.saturating_sub(n)));
    }

    /// Messages published and not yet [`handled`](LocalQueue::handled).
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Closes every topic: receivers end once drained, publishing recreates
    /// the topic. Used at shutdown so consumer loops stop.
    pub fn close(&self) {
        self.topics.lock().unwrap_or_else(PoisonError::into_inner).clear();
        self.waiting.store(0, Ordering::Relaxed);
    }
}

impl LocalPublish for LocalQueue {
    fn publish_any(&self, topic: &Topic, value: Box<dyn Any + Send>) -> Result<()> {
        self.send(topic, LocalMessage::Value(value))
    }

    fn waiting(&self) -> usize {
        LocalQueue::waiting(self)
    }
}

#[async_trait]
impl Queue for LocalQueue {
    async fn publish(&self, topic: &Topic, payload: Vec<u8>) -> Result<()> {
        self.send(topic, LocalMessage::Bytes(payload))
    }

    fn local(&self) -> Option<&dyn LocalPublish> {
        Some(self)
    }
}

/// A [`baton_backend::contract::QueueProbe`] reading a [`LocalQueue`].
#[cfg(test)]
struct Probe {
    queue: Arc<LocalQueue>,
    receivers: HashMap<Topic, UnboundedReceiver<LocalMessage>>,
}

#[cfg(test)]
#[async_trait]
impl baton_backend::contract::QueueProbe for Probe {
    async fn next(&mut self, topic: &Topic) -> Option<Vec<u8>> {
        let queue = &self.queue;
        self.receivers.entry(topic.clone()).or_insert_with(|| queue.subscribe(topic)).recv().await?.bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_backend::contract;

    #[tokio::test]
    async fn queue_contract() {
        let queue = Arc::new(LocalQueue::new());
        let mut probe = Probe { queue: queue.clone(), receivers: HashMap::new() };
        contract::queue_contract(queue.as_ref(), &mut probe).await;
    }

    #[tokio::test]
    async fn buffered_in_order_and_shared_by_a_pool() {
        let queue = LocalQueue::new();
        let core = Topic::Tasks("core".into());
        for i in 0..10u8 {
            queue.publish(&core, vec![i]).await.expect("publish");
        }
        let shared = queue.subscribe_shared(&core);
        let again = queue.subscribe_shared(&core);
        let mut got = Vec::new();
        for _ in 0..5 {
            got.push(shared.recv().await.and_then(LocalMessage::bytes).expect("message"));
            got.push(again.recv().await.and_then(LocalMessage::bytes).expect("message"));
        }
        assert_eq!(got, (0..10u8).map(|i| vec![i]).collect::<Vec<_>>());

        let pool: Vec<_> = (0..4)
            .map(|_| {
                let rx = queue.subscribe_shared(&core);
                tokio::spawn(async move {
                    let mut n = 0;
                    while rx.recv().await.is_some() {
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        for i in 0..100u8 {
            queue.publish(&core, vec![i]).await.expect("publish");
        }
        queue.close();
        let mut total = 0;
        for worker in pool {
            total += worker.await.expect("join");
        }
        assert_eq!(total, 100, "each message delivered to exactly one worker");
    }

    #[tokio::test]
    async fn resubscribing_replaces_the_receiver() {
        let queue = LocalQueue::new();
        let mut first = queue.subscribe(&Topic::Executions);
        queue.publish(&Topic::Executions, b"a".to_vec()).await.expect("publish");
        let mut second = queue.subscribe(&Topic::Executions);
        queue.publish(&Topic::Executions, b"b".to_vec()).await.expect("publish");
        assert_eq!(first.recv().await.and_then(LocalMessage::bytes), Some(b"a".to_vec()));
        assert!(first.recv().await.is_none());
        assert_eq!(second.recv().await.and_then(LocalMessage::bytes), Some(b"b".to_vec()));
    }

    #[tokio::test]
    async fn values_are_handed_over_and_decoded_as_their_type_or_from_json() {
        let queue = LocalQueue::new();
        let mut rx = queue.subscribe(&Topic::Executions);
        queue.publish_value(&Topic::Executions, vec![1u32, 2]).expect("publish");
        queue.publish(&Topic::Executions, b"[3,4]".to_vec()).await.expect("publish");
        queue.publish_value(&Topic::Executions, "not a list".to_string()).expect("publish");
        assert_eq!(rx.recv().await.expect("value").decode::<Vec<u32>>(), Ok(vec![1, 2]));
        assert_eq!(rx.recv().await.expect("bytes").decode::<Vec<u32>>(), Ok(vec![3, 4]));
        let wrong = rx.recv().await.expect("value").decode::<Vec<u32>>().expect_err("a String is no Vec<u32>");
        assert!(wrong.contains("Vec<u32>"), "{wrong}");
    }

    /// A consumer on another thread that reports each message handled the
    /// moment it takes it: once all are taken, none waits. (Counted after
    /// the send, a message taken first left one behind for good, and the
    /// API's back-pressure and the loops' pacing read a backlog that grew.)
    #[test]
    fn the_backlog_is_back_to_zero_once_a_fast_consumer_took_everything() {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
        rt.block_on(async {
            let queue = Arc::new(LocalQueue::new());
            let mut rx = queue.subscribe(&Topic::Executions);
            let consumer = {
                let queue = queue.clone();
                tokio::spawn(async move {
                    let mut n = 0;
                    while n < 200_000 && rx.recv().await.is_some() {
                        queue.handled(1);
                        n += 1;
                    }
                })
            };
            let producer = {
                let queue = queue.clone();
                std::thread::spawn(move || {
                    for i in 0..200_000u32 {
                        queue.publish_value(&Topic::Executions, i).expect("publish");
                    }
                })
            };
            producer.join().expect("producer");
            consumer.await.expect("consumer");
            assert_eq!(queue.waiting(), 0);
        });
    }
}
