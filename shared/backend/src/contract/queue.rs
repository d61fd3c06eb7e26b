//! The queue contract: every message published on a topic is delivered on
//! that topic and no other, at least once, read through a [`QueueProbe`].

use std::collections::BTreeSet;
use std::time::Duration;

use async_trait::async_trait;

use super::unique;
use crate::{Queue, Topic};

/// Reads the messages a [`Queue`] delivered, for [`queue_contract`]: locally
/// the topic's channel; on GCP a pull subscription on the topic.
#[async_trait]
pub trait QueueProbe: Send {
    /// The next message delivered on `topic` (`None` if the topic closed).
    async fn next(&mut self, topic: &Topic) -> Option<Vec<u8>>;
}

/// Every message published on a topic is delivered on that topic and no
/// other (at least once: duplicates and reordering are tolerated, as Pub/Sub
/// allows). Foreign messages (not from this run) are ignored.
///
/// # Panics
/// When the queue breaks the contract or a message is not delivered within
/// 30 seconds.
pub async fn queue_contract(queue: &dyn Queue, probe: &mut dyn QueueProbe) {
    let run = unique();
    let topics = [Topic::Executions, Topic::Tasks("core".into())];
    let payload = |t: usize, i: usize| format!("{run}:{t}:{i}").into_bytes();
    for i in 0..20 {
        for (t, topic) in topics.iter().enumerate() {
            queue.publish(topic, payload(t, i)).await.expect("publish");
        }
    }
    for (t, topic) in topics.iter().enumerate() {
        let mut missing: BTreeSet<Vec<u8>> = (0..20).map(|i| payload(t, i)).collect();
        while !missing.is_empty() {
            let msg = tokio::time::timeout(Duration::from_secs(30), probe.next(topic))
                .await
                .unwrap_or_else(|_| panic!("{} messages never delivered on {}", missing.len(), topic.name()))
                .unwrap_or_else(|| panic!("topic {} closed with {} messages missing", topic.name(), missing.len()));
            let text = String::from_utf8_lossy(&msg);
            if let Some(rest) = text.strip_prefix(&format!("{run}:")) {
                assert!(
                    rest.starts_with(&format!("{t}:")),
                    "message {text} delivered on the wrong topic {}",
                    topic.name()
                );
                missing.remove(&msg);
            }
        }
    }
}
