//! `LocalQueue`: the embedded runtime's message bus, one unbounded tokio
//! channel per topic. Messages published before anyone subscribes are
//! buffered in the channel; delivery is in publish order, exactly once per
//! receiver (no redelivery, unlike Pub/Sub).
//!
//! A topic has one receiver. A worker pool shares it through
//! [`LocalQueue::subscribe_shared`] (a [`SharedReceiver`]: every call for the
//! same topic returns the same handle, and each message goes to one caller).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use crate::backend::{BackendError, Queue, Result, Topic};

/// The receiving end of one topic.
enum Receiving {
    /// Nobody subscribed yet: messages wait in the channel.
    Pending(UnboundedReceiver<Vec<u8>>),
    /// Handed out by [`LocalQueue::subscribe`].
    Taken,
    /// Handed out by [`LocalQueue::subscribe_shared`].
    Shared(SharedReceiver),
}

struct Channel {
    tx: UnboundedSender<Vec<u8>>,
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
pub struct SharedReceiver(Arc<tokio::sync::Mutex<UnboundedReceiver<Vec<u8>>>>);

impl SharedReceiver {
    /// Wraps a receiver for sharing.
    pub fn new(rx: UnboundedReceiver<Vec<u8>>) -> Self {
        SharedReceiver(Arc::new(tokio::sync::Mutex::new(rx)))
    }

    /// The next message, or `None` once the topic is closed and drained.
    /// Consumers waiting concurrently are served one message each.
    pub async fn recv(&self) -> Option<Vec<u8>> {
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
    pub fn subscribe(&self, topic: &Topic) -> UnboundedReceiver<Vec<u8>> {
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

    /// Closes every topic: receivers end once drained, publishing recreates
    /// the topic. Used at shutdown so consumer loops stop.
    pub fn close(&self) {
        self.topics.lock().unwrap_or_else(PoisonError::into_inner).clear();
    }
}

#[async_trait]
impl Queue for LocalQueue {
    async fn publish(&self, topic: &Topic, payload: Vec<u8>) -> Result<()> {
        self.with_channel(topic, |ch| ch.tx.send(payload))
            .map_err(|_| BackendError::Queue(format!("topic {} has no receiver any more", topic.name())))
    }
}

/// A [`crate::backend::contract::QueueProbe`] reading a [`LocalQueue`].
#[cfg(test)]
struct Probe {
    queue: Arc<LocalQueue>,
    receivers: HashMap<Topic, UnboundedReceiver<Vec<u8>>>,
}

#[cfg(test)]
#[async_trait]
impl crate::backend::contract::QueueProbe for Probe {
    async fn next(&mut self, topic: &Topic) -> Option<Vec<u8>> {
        let queue = &self.queue;
        self.receivers.entry(topic.clone()).or_insert_with(|| queue.subscribe(topic)).recv().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::contract;

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
            got.push(shared.recv().await.expect("message"));
            got.push(again.recv().await.expect("message"));
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
        assert_eq!(first.recv().await, Some(b"a".to_vec()));
        assert_eq!(first.recv().await, None);
        assert_eq!(second.recv().await, Some(b"b".to_vec()));
    }
}
