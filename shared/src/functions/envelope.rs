//! The Pub/Sub push envelope: what Pub/Sub POSTs to a push endpoint,
//! `{"message":{"data","attributes","messageId","publishTime"},"subscription","deliveryAttempt"}`,
//! decoded into a [`Delivery`] (the message bytes, base64-decoded).
//!
//! Pub/Sub sends both spellings of some fields (`messageId` and
//! `message_id`, `publishTime` and `publish_time`), so each is its own
//! optional field here rather than a serde alias (an alias would reject the
//! real envelope as a duplicate field).

use std::collections::BTreeMap;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The JSON body of a push request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PushEnvelope {
    pub message: PushMessage,
    /// `projects/{project}/subscriptions/{name}`.
    #[serde(default)]
    pub subscription: String,
    /// How many times Pub/Sub has tried to deliver this message (1 on the
    /// first try). Only present when the subscription has a dead-letter policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_attempt: Option<u32>,
}

/// The message inside a push envelope.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PushMessage {
    /// The payload, base64 (absent for an attributes-only message).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub attributes: BTreeMap<String, String>,
    #[serde(rename = "messageId", default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    #[serde(rename = "message_id", default, skip_serializing_if = "Option::is_none")]
    pub message_id_snake: Option<String>,
    #[serde(rename = "publishTime", default, skip_serializing_if = "Option::is_none")]
    pub publish_time: Option<DateTime<Utc>>,
    #[serde(rename = "publish_time", default, skip_serializing_if = "Option::is_none")]
    pub publish_time_snake: Option<DateTime<Utc>>,
    #[serde(rename = "orderingKey", default, skip_serializing_if = "Option::is_none")]
    pub ordering_key: Option<String>,
}

fn null_as_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    Ok(Option::<BTreeMap<String, String>>::deserialize(d)?.unwrap_or_default())
}

/// Why a push body could not be decoded (the message is acked and logged).
#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    #[error("the request body is not a Pub/Sub push envelope: {0}")]
    Json(#[from] serde_json::Error),
    #[error("message {message_id}: `data` is not valid base64: {source}")]
    Base64 {
        message_id: String,
        #[source]
        source: base64::DecodeError,
    },
}

/// One delivered message, decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub message_id: String,
    pub publish_time: DateTime<Utc>,
    pub attributes: BTreeMap<String, String>,
    /// The message payload (the JSON the engine published).
    pub data: Vec<u8>,
    /// 1 on the first delivery; higher on a redelivery (when Pub/Sub says).
    pub delivery_attempt: u32,
    pub subscription: String,
}

impl PushEnvelope {
    /// Parses a push request body.
    pub fn parse(body: &[u8]) -> Result<PushEnvelope, EnvelopeError> {
        Ok(serde_json::from_slice(body)?)
    }

    /// Decodes the message; `received` stands in for a missing publish time.
    pub fn into_delivery(self, received: DateTime<Utc>) -> Result<Delivery, EnvelopeError> {
        let m = self.message;
        let message_id = m.message_id.or(m.message_id_snake).unwrap_or_default();
        let data = match &m.data {
            Some(b64) => base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|source| EnvelopeError::Base64 { message_id: message_id.clone(), source })?,
            None => Vec::new(),
        };
        Ok(Delivery {
            message_id,
            publish_time: m.publish_time.or(m.publish_time_snake).unwrap_or(received),
            attributes: m.attributes,
            data,
            delivery_attempt: self.delivery_attempt.unwrap_or(1).max(1),
            subscription: self.subscription,
        })
    }

    /// The envelope Pub/Sub would push for `data` (both field spellings, as
    /// Pub/Sub sends them): used by the local relay and by tests.
    pub fn wrap(
        data: &[u8],
        attributes: BTreeMap<String, String>,
        message_id: &str,
        publish_time: DateTime<Utc>,
        subscription: &str,
        delivery_attempt: Option<u32>,
    ) -> PushEnvelope {
        PushEnvelope {
            message: PushMessage {
                data: Some(base64::engine::general_purpose::STANDARD.encode(data)),
                attributes,
                message_id: Some(message_id.to_string()),
                message_id_snake: Some(message_id.to_string()),
                publish_time: Some(publish_time),
                publish_time_snake: Some(publish_time),
                ordering_key: None,
            },
            subscription: subscription.to_string(),
            delivery_attempt,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_envelope_pubsub_really_sends() {
        // as pushed by Pub/Sub (and its emulator): both spellings of id and time
        let body = br#"{"message":{"attributes":{"group":"core"},"data":"eyJ0eXBlIjoid2FrZSJ9",
            "messageId":"2070443601311540","message_id":"2070443601311540",
            "publishTime":"2021-02-26T19:13:55.749Z","publish_time":"2021-02-26T19:13:55.749Z"},
            "subscription":"projects/p/subscriptions/baton-executions-push","deliveryAttempt":3}"#;
        let d = PushEnvelope::parse(body).expect("parse").into_delivery(Utc::now()).expect("decode");
        assert_eq!(d.message_id, "2070443601311540");
        assert_eq!(d.data, br#"{"type":"wake"}"#);
        assert_eq!(d.attributes["group"], "core");
        assert_eq!(d.delivery_attempt, 3);
        assert_eq!(d.publish_time.to_rfc3339(), "2021-02-26T19:13:55.749+00:00");
        assert_eq!(d.subscription, "projects/p/subscriptions/baton-executions-push");
    }

    #[test]
    fn minimal_and_broken_envelopes() {
        let now = Utc::now();
        let d = PushEnvelope::parse(br#"{"message":{"messageId":"1","attributes":null}}"#)
            .expect("parse")
            .into_delivery(now)
            .expect("decode");
        assert_eq!((d.data.len(), d.delivery_attempt, d.publish_time), (0, 1, now));
        assert!(PushEnvelope::parse(b"not json").is_err());
        assert!(PushEnvelope::parse(br#"{"subscription":"s"}"#).is_err(), "no message");
        let bad = PushEnvelope::parse(br#"{"message":{"messageId":"7","data":"%%%"}}"#).expect("parse");
        let err = bad.into_delivery(now).expect_err("bad base64");
        assert!(err.to_string().contains("message 7"), "{err}");
    }

    #[test]
    fn wrap_round_trips() {
        let t = Utc::now();
        let env = PushEnvelope::wrap(b"{}", BTreeMap::new(), "42", t, "sub", Some(2));
        let json = serde_json::to_vec(&env).expect("json");
        let text = String::from_utf8_lossy(&json);
        assert!(text.contains("\"messageId\":\"42\"") && text.contains("\"message_id\":\"42\""), "{text}");
        let d = PushEnvelope::parse(&json).expect("parse").into_delivery(Utc::now()).expect("decode");
        assert_eq!((d.data, d.message_id, d.delivery_attempt, d.publish_time), (b"{}".to_vec(), "42".into(), 2, t));
    }
}
