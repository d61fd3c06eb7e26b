//! The GCP message bus: [`PubSubQueue`] publishes each [`Topic`] on the
//! Pub/Sub topic `projects/{project}/topics/{Topic::name()}` (one tasks
//! topic per worker group), with one publisher per topic, cached, on one
//! shared connection. Delivery is not the queue's business: in production
//! Pub/Sub pushes to the Cloud Run functions. [`PubSubAdmin`] creates topics
//! and pull subscriptions (emulator set-up, tests) and [`PubSubPull`] reads a
//! subscription with streaming pull, for tests and a pull-mode runtime.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use google_cloud_auth::credentials::Credentials;
use google_cloud_pubsub::client::{BasePublisher, Publisher, Subscriber, SubscriptionAdmin, TopicAdmin};
use google_cloud_pubsub::model::Message;
pub use google_cloud_pubsub::subscriber::MessageStream;

use baton_backend::{BackendError, Queue, Result, Topic};

/// Where Pub/Sub is and how to authenticate.
#[derive(Clone, Debug)]
pub struct PubSubTarget {
    pub project: String,
    /// `http://host:port` of an emulator; `None` for production.
    pub emulator: Option<String>,
}

impl PubSubTarget {
    /// `projects/{project}/topics/{name}`.
    pub fn topic_path(&self, name: &str) -> String {
        format!("projects/{}/topics/{name}", self.project)
    }

    /// `projects/{project}/subscriptions/{name}`.
    pub fn subscription_path(&self, name: &str) -> String {
        format!("projects/{}/subscriptions/{name}", self.project)
    }

    fn credentials(&self) -> Option<Credentials> {
        self.emulator.as_ref().map(|_| google_cloud_auth::credentials::anonymous::Builder::new().build())
    }
}

fn queue_error(what: &str, e: impl std::fmt::Display) -> BackendError {
    BackendError::Queue(format!("Pub/Sub {what}: {e}"))
}

/// Publishes on Pub/Sub.
pub struct PubSubQueue {
    target: PubSubTarget,
    client: BasePublisher,
    publishers: Mutex<HashMap<Topic, Publisher>>,
}

impl std::fmt::Debug for PubSubQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PubSubQueue").field("target", &self.target).finish_non_exhaustive()
    }
}

impl PubSubQueue {
    /// Connects the publishing client.
    pub async fn connect(target: PubSubTarget) -> Result<PubSubQueue> {
        let mut b = BasePublisher::builder();
        if let Some(ep) = &target.emulator {
            b = b.with_endpoint(ep.clone());
        }
        if let Some(c) = target.credentials() {
            b = b.with_credentials(c);
        }
        let client = b.build().await.map_err(|e| queue_error("create the publisher client", e))?;
        Ok(PubSubQueue { target, client, publishers: Mutex::new(HashMap::new()) })
    }

    /// Where it publishes.
    pub fn target(&self) -> &PubSubTarget {
        &self.target
    }

    fn publisher(&self, topic: &Topic) -> Publisher {
        let mut map = self.publishers.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        map.entry(topic.clone())
            .or_insert_with(|| {
                // every publish is awaited by its caller: send at once rather
                // than wait for a batch to fill
                self.client
                    .publisher(self.target.topic_path(&topic.name()))
                    .set_message_count_threshold(1)
                    .set_delay_threshold(Duration::from_millis(1))
                    .build()
            })
            .clone()
    }
}

#[async_trait]
impl Queue for PubSubQueue {
    /// Publishes and waits for Pub/Sub's acknowledgement (the message id).
    async fn publish(&self, topic: &Topic, payload: Vec<u8>) -> Result<()> {
        let publisher = self.publisher(topic);
        publisher
            .publish(Message::new().set_data(payload))
            .await
            .map(|_| ())
            .map_err(|e| queue_error(&format!("publish on {}", self.target.topic_path(&topic.name())), e))
    }
}

/// Topic and subscription administration (emulator set-up, tests; in
/// production Terraform owns them).
pub struct PubSubAdmin {
    target: PubSubTarget,
    topics: TopicAdmin,
    subscriptions: SubscriptionAdmin,
}

impl std::fmt::Debug for PubSubAdmin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PubSubAdmin").field("target", &self.target).finish_non_exhaustive()
    }
}

impl PubSubAdmin {
    /// Connects the admin clients.
    pub async fn connect(target: PubSubTarget) -> Result<PubSubAdmin> {
        let mut t = TopicAdmin::builder();
        let mut s = SubscriptionAdmin::builder();
        if let Some(ep) = &target.emulator {
            t = t.with_endpoint(ep.clone());
            s = s.with_endpoint(ep.clone());
        }
        if let Some(c) = target.credentials() {
            t = t.with_credentials(c.clone());
            s = s.with_credentials(c);
        }
        let topics = t.build().await.map_err(|e| queue_error("create the topic admin client", e))?;
        let subscriptions = s.build().await.map_err(|e| queue_error("create the subscription admin client", e))?;
        Ok(PubSubAdmin { target, topics, subscriptions })
    }

    /// Creates the topic of `topic` unless it exists.
    pub async fn ensure_topic(&self, topic: &Topic) -> Result<()> {
        let path = self.target.topic_path(&topic.name());
        if let Err(e) = self.topics.create_topic().set_name(&path).send().await {
            // already there is fine; anything else shows on the lookup
            self.topics
                .get_topic()
                .set_topic(&path)
                .send()
                .await
                .map_err(|_| queue_error(&format!("create {path}"), e))?;
        }
        Ok(())
    }

    /// Creates a pull subscription `name` on `topic` unless it exists.
    pub async fn ensure_pull_subscription(&self, name: &str, topic: &Topic, ack_deadline: Duration) -> Result<String> {
        self.ensure_subscription_on(name, &self.target.topic_path(&topic.name()), ack_deadline).await
    }

    /// Creates a pull subscription `name` on the topic `projects/…/topics/…` unless it exists.
    pub async fn ensure_subscription_on(&self, name: &str, topic_path: &str, ack_deadline: Duration) -> Result<String> {
        let path = self.target.subscription_path(name);
        let secs = i32::try_from(ack_deadline.as_secs()).unwrap_or(600).clamp(10, 600);
        let created = self
            .subscriptions
            .create_subscription()
            .set_name(&path)
            .set_topic(topic_path)
            .set_ack_deadline_seconds(secs)
            .send()
            .await;
        if let Err(e) = created {
            self.subscriptions
                .get_subscription()
                .set_subscription(&path)
                .send()
                .await
                .map_err(|_| queue_error(&format!("create subscription {path} on {topic_path}"), e))?;
        }
        Ok(path)
    }

    /// Deletes a subscription (absent is fine).
    pub async fn delete_subscription(&self, name: &str) -> Result<()> {
        let path = self.target.subscription_path(name);
        let _ = self.subscriptions.delete_subscription().set_subscription(&path).send().await;
        Ok(())
    }
}

/// Reads subscriptions with streaming pull.
pub struct PubSubPull {
    target: PubSubTarget,
    subscriber: Subscriber,
}

impl std::fmt::Debug for PubSubPull {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PubSubPull").field("target", &self.target).finish_non_exhaustive()
    }
}

impl PubSubPull {
    /// Connects the subscriber client.
    pub async fn connect(target: PubSubTarget) -> Result<PubSubPull> {
        let mut b = Subscriber::builder();
        if let Some(ep) = &target.emulator {
            b = b.with_endpoint(ep.clone());
        }
        if let Some(c) = target.credentials() {
            b = b.with_credentials(c);
        }
        let subscriber = b.build().await.map_err(|e| queue_error("create the subscriber client", e))?;
        Ok(PubSubPull { target, subscriber })
    }

    /// A stream of `(message, ack handler)` from subscription `name`; each
    /// message must be acked (or nacked for redelivery).
    pub fn messages(&self, name: &str) -> MessageStream {
        self.subscriber.subscribe(self.target.subscription_path(name)).build()
    }
}
