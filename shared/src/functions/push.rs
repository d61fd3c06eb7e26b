//! The contract between the push server and a function's handler: a
//! [`PushHandler`] gets one decoded [`Delivery`] and answers an [`Outcome`],
//! which the server turns into the HTTP status Pub/Sub acts on.
//!
//! | outcome | status | Pub/Sub |
//! |---|---|---|
//! | `Done`, `Duplicate` | 204 | ack |
//! | `Ignored` (unknown or malformed message, logged) | 204 | ack — never an endless redelivery loop |
//! | `Retry` (backend unavailable, compare-and-swap contention exhausted…) | 503 | nack: redelivered with the subscription's backoff |
//!
//! A message that keeps failing is a poison message: with a dead-letter
//! policy on the subscription, Pub/Sub itself moves it to the dead-letter
//! topic after `max_delivery_attempts` non-2xx answers (and then stamps
//! `deliveryAttempt` on each push). Only the 503 path gets a message there;
//! an acked message is gone.

use async_trait::async_trait;

use super::envelope::Delivery;

/// What became of a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Processed.
    Done,
    /// Already processed or being processed elsewhere (an at-least-once
    /// duplicate): acked without doing anything.
    Duplicate(String),
    /// Not something this function can ever process: logged and acked.
    Ignored(String),
    /// A transient failure: not acked, so that Pub/Sub redelivers it.
    Retry(String),
    /// Ordinary at-least-once traffic asked again later (a copy of a job
    /// whose first copy still runs, a lost compare-and-swap race): not
    /// acked, logged at INFO, for nothing is wrong.
    Later(String),
}

impl Outcome {
    /// Whether the message is acknowledged (a 2xx answer).
    pub fn acks(&self) -> bool {
        !matches!(self, Outcome::Retry(_) | Outcome::Later(_))
    }
}

/// One function's message handler.
#[async_trait]
pub trait PushHandler: Send + Sync + 'static {
    /// The function's name, for logs.
    fn name(&self) -> &'static str;
    /// Handles one message. Runs on its own task: a caller hanging up
    /// (Pub/Sub's ack deadline passing) does not cancel it halfway.
    async fn handle(&self, delivery: Delivery) -> Outcome;
}
