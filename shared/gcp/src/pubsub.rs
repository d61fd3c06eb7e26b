//! The Pub/Sub client of the Pub/Sub tasks (`pubsub.Publish`,
//! `pubsub.Consume`) for one credential, on Google's service or an
//! emulator (`PUBSUB_EMULATOR_HOST`, anonymous):
//!
//! - publishing and subscription administration through Google's
//!   `google-cloud-pubsub` crate;
//! - pulling through Pub/Sub's unary REST methods (`:pull`,
//!   `:acknowledge`, `:modifyAckDeadline`), not the crate's streaming pull:
//!   a task pulls a bounded batch and goes, and a streaming pull left
//!   behind stays open on the connection the crate keeps (measured on the
//!   emulator: the messages published next went to the finished task's
//!   stream and no later Consume got them). Unary calls hold nothing once
//!   answered, and the task decides exactly when each message is
//!   acknowledged, extended or handed back.
//!
//! The runtime's own bus is elsewhere ([`crate::store::pubsub`]).

use std::time::Duration;

use base64::Engine as _;
pub use google_cloud_pubsub::client::Publisher;
use google_cloud_pubsub::client::SubscriptionAdmin;
pub use google_cloud_pubsub::model::Message;
pub use google_cloud_pubsub::publisher::PublishFuture;
use serde_json::{Value, json};

use super::auth::GcpCredentials;

/// Pub/Sub's production root.
pub const PUBSUB_DEFAULT: &str = "https://pubsub.googleapis.com";
/// Ack ids per acknowledge / modifyAckDeadline call (the request stays far under Pub/Sub's 512 KB).
const ACK_BATCH: usize = 1000;

/// A failed Pub/Sub call. Messages carry no credentials.
#[derive(Debug, thiserror::Error)]
pub enum PubSubError {
    #[error("{op}: {message}")]
    Call { op: String, message: String },
}

fn err(op: impl Into<String>, e: impl std::fmt::Display) -> PubSubError {
    PubSubError::Call { op: op.into(), message: e.to_string() }
}

/// A pulled message and the id that acknowledges it.
#[derive(Debug, Clone)]
pub struct Pulled {
    pub ack_id: String,
    pub message: Message,
}

/// Pub/Sub for one project and credential.
#[derive(Clone, Debug)]
pub struct PubSubClient {
    project: String,
    /// `http://host:port` of an emulator; `None` for Google's service.
    emulator: Option<String>,
    creds: GcpCredentials,
    http: reqwest::Client,
}

impl PubSubClient {
    /// A client of `project`, with these credentials (anonymous ones on an emulator).
    pub fn new(project: &str, emulator: Option<&str>, creds: &GcpCredentials, http: reqwest::Client) -> PubSubClient {
        PubSubClient {
            project: project.to_string(),
            emulator: emulator.map(str::to_string),
            creds: creds.clone(),
            http,
        }
    }

    /// `projects/{project}/topics/{name}` (a full path is kept as it is).
    pub fn topic_path(&self, name: &str) -> String {
        if name.starts_with("projects/") {
            name.to_string()
        } else {
            format!("projects/{}/topics/{name}", self.project)
        }
    }

    /// `projects/{project}/subscriptions/{name}` (a full path is kept as it is).
    pub fn subscription_path(&self, name: &str) -> String {
        if name.starts_with("projects/") {
            name.to_string()
        } else {
            format!("projects/{}/subscriptions/{name}", self.project)
        }
    }

    /// A publisher on `topic`, sending a batch at 100 messages or after
    /// 10 ms (the task awaits every publish: a longer wait only adds latency).
    pub async fn publisher(&self, topic: &str) -> Result<Publisher, PubSubError> {
        let path = self.topic_path(topic);
        let mut b = Publisher::builder(path.clone())
            .set_message_count_threshold(100)
            .set_delay_threshold(Duration::from_millis(10))
            .with_credentials(self.creds.for_client_libraries());
        if let Some(ep) = &self.emulator {
            b = b.with_endpoint(ep.clone());
        }
        b.build().await.map_err(|e| err(format!("create the publisher of {path}"), e))
    }

    /// Creates the pull subscription `name` on `topic` unless it exists;
    /// true when it was created.
    pub async fn ensure_subscription(&self, name: &str, topic: &str) -> Result<bool, PubSubError> {
        let (sub, topic) = (self.subscription_path(name), self.topic_path(topic));
        let mut b = SubscriptionAdmin::builder().with_credentials(self.creds.for_client_libraries());
        if let Some(ep) = &self.emulator {
            b = b.with_endpoint(ep.clone());
        }
        let admin = b.build().await.map_err(|e| err("create the subscription admin client", e))?;
        if admin.get_subscription().set_subscription(&sub).send().await.is_ok() {
            return Ok(false);
        }
        match admin.create_subscription().set_name(&sub).set_topic(&topic).send().await {
            Ok(_) => Ok(true),
            // created by someone else meanwhile: the lookup says so
            Err(e) => match admin.get_subscription().set_subscription(&sub).send().await {
                Ok(_) => Ok(false),
                Err(_) => Err(err(format!("create subscription {sub} on {topic}"), e)),
            },
        }
    }

    fn root(&self) -> &str {
        self.emulator.as_deref().unwrap_or(PUBSUB_DEFAULT)
    }

    /// `POST {root}/v1/{subscription}:{method}` with `body`.
    async fn call(&self, subscription: &str, method: &str, body: &Value) -> Result<Value, PubSubError> {
        let path = self.subscription_path(subscription);
        let op = format!("{method} {path}");
        let url = format!("{}/v1/{path}:{method}", self.root());
        let rb = self.creds.authorize(self.http.post(&url).json(body)).await.map_err(|e| err(&op, e))?;
        let resp = rb.send().await.map_err(|e| err(&op, super::causes(&e)))?;
        let status = resp.status();
        let text = resp.text().await.map_err(|e| err(&op, e))?;
        if !status.is_success() {
            return Err(err(&op, format!("HTTP {}: {}", status.as_u16(), super::gcs::error_message(&text))));
        }
        Ok(if text.trim().is_empty() { Value::Null } else { serde_json::from_str(&text).map_err(|e| err(&op, e))? })
    }

    /// Up to `max` messages of `subscription`, at once (none when none wait).
    pub async fn pull(&self, subscription: &str, max: usize) -> Result<Vec<Pulled>, PubSubError> {
        let body = json!({"maxMessages": max.max(1), "returnImmediately": true});
        let v = self.call(subscription, "pull", &body).await?;
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut out = Vec::new();
        for r in v["receivedMessages"].as_array().into_iter().flatten() {
            let m = &r["message"];
            let data = b64.decode(m["data"].as_str().unwrap_or_default()).map_err(|e| {
                err(
                    format!("pull {}", self.subscription_path(subscription)),
                    format!("message data is not base64: {e}"),
                )
            })?;
            let attributes = m["attributes"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()));
            let mut message = Message::new().set_data(data).set_attributes(attributes);
            message.message_id = m["messageId"].as_str().unwrap_or_default().to_string();
            message.ordering_key = m["orderingKey"].as_str().unwrap_or_default().to_string();
            out.push(Pulled { ack_id: r["ackId"].as_str().unwrap_or_default().to_string(), message });
        }
        Ok(out)
    }

    /// Acknowledges these messages: Pub/Sub will not deliver them again.
    pub async fn acknowledge(&self, subscription: &str, ack_ids: &[String]) -> Result<(), PubSubError> {
        for chunk in ack_ids.chunks(ACK_BATCH) {
            self.call(subscription, "acknowledge", &json!({"ackIds": chunk})).await?;
        }
        Ok(())
    }

    /// Sets these messages' ack deadline to `seconds` from now (0: hand
    /// them back for redelivery at once; at most 600).
    pub async fn modify_deadline(
        &self,
        subscription: &str,
        ack_ids: &[String],
        seconds: u32,
    ) -> Result<(), PubSubError> {
        for chunk in ack_ids.chunks(ACK_BATCH) {
            let body = json!({"ackIds": chunk, "ackDeadlineSeconds": seconds.min(600)});
            self.call(subscription, "modifyAckDeadline", &body).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_paths() {
        let c =
            PubSubClient::new("p1", Some("http://127.0.0.1:1"), &GcpCredentials::anonymous(), reqwest::Client::new());
        assert_eq!(c.topic_path("orders"), "projects/p1/topics/orders");
        assert_eq!(c.topic_path("projects/p2/topics/x"), "projects/p2/topics/x");
        assert_eq!(c.subscription_path("s"), "projects/p1/subscriptions/s");
        assert_eq!(c.root(), "http://127.0.0.1:1");
    }
}
