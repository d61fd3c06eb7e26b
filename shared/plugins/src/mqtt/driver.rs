//! A session's event loop, driven on a task of its own: `rumqttc`'s MQTT
//! 3.1.1 and MQTT 5 events (two crates' types) read into one [`Ev`] for
//! the session (`super::conn::Session`), received messages into one
//! [`Message`] that remembers the packet its acknowledgement names.

use bytes::Bytes;
use rumqttc::v5::mqttbytes::v5::{Packet as Packet5, SubscribeReasonCode as Code5};
use tokio::sync::mpsc;

/// The packet a manual acknowledgement names.
#[derive(Debug, Clone)]
pub(super) enum AckOf {
    V3(rumqttc::Publish),
    V5(rumqttc::v5::mqttbytes::v5::Publish),
}

/// A message the broker delivered.
#[derive(Debug, Clone)]
pub struct Message {
    pub topic: String,
    /// The packet identifier (0 at QoS 0).
    pub id: u16,
    pub qos: u8,
    pub retain: bool,
    pub payload: Bytes,
    /// MQTT 5: the topic a reply is asked on.
    pub response_topic: Option<String>,
    /// MQTT 5: the correlation data, raw.
    pub correlation_data: Option<Bytes>,
    /// MQTT 5: the identifiers of the properties the message carries.
    pub property_ids: Option<Vec<u8>>,
    pub(super) ack: AckOf,
}

/// What the session's task reports.
#[derive(Debug)]
pub(super) enum Ev {
    /// The broker accepted the connection; whether it kept a session for this client.
    Connected(bool),
    Message(Box<Message>),
    /// A publish of ours is done: PUBACK (QoS 1), PUBCOMP (QoS 2) or, at
    /// QoS 0, written out.
    Delivered,
    /// The broker's answer to a SUBSCRIBE: the granted QoS, or why a filter was refused.
    Subscribed(Vec<Result<u8, String>>),
    /// The DISCONNECT packet was written: every request before it was.
    Disconnected,
    Closed(String),
}

pub(super) async fn drive_v3(mut el: rumqttc::EventLoop, tx: mpsc::Sender<Ev>) {
    use rumqttc::{Event, Outgoing, Packet, SubscribeReasonCode};
    loop {
        let ev = match el.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(c))) => Ev::Connected(c.session_present),
            Ok(Event::Incoming(Packet::Publish(p))) => Ev::Message(Box::new(Message {
                topic: p.topic.clone(),
                id: p.pkid,
                qos: p.qos as u8,
                retain: p.retain,
                payload: p.payload.clone(),
                response_topic: None,
                correlation_data: None,
                property_ids: None,
                ack: AckOf::V3(p),
            })),
            Ok(Event::Incoming(Packet::PubAck(_) | Packet::PubComp(_))) | Ok(Event::Outgoing(Outgoing::Publish(0))) => {
                Ev::Delivered
            }
            Ok(Event::Incoming(Packet::SubAck(s))) => Ev::Subscribed(
                s.return_codes
                    .iter()
                    .map(|c| match c {
                        SubscribeReasonCode::Success(q) => Ok(*q as u8),
                        SubscribeReasonCode::Failure => Err("refused by the broker".to_string()),
                    })
                    .collect(),
            ),
            Ok(Event::Outgoing(Outgoing::Disconnect)) => Ev::Disconnected,
            Ok(_) => continue,
            Err(e) => {
                let _ = tx.send(Ev::Closed(e.to_string())).await;
                return;
            }
        };
        let last = matches!(ev, Ev::Disconnected);
        if tx.send(ev).await.is_err() || last {
            return;
        }
    }
}

pub(super) async fn drive_v5(mut el: rumqttc::v5::EventLoop, tx: mpsc::Sender<Ev>) {
    use rumqttc::Outgoing;
    use rumqttc::v5::Event;
    loop {
        let ev = match el.poll().await {
            Ok(Event::Incoming(Packet5::ConnAck(c))) => Ev::Connected(c.session_present),
            Ok(Event::Incoming(Packet5::Publish(p))) => Ev::Message(Box::new(message_v5(p))),
            Ok(Event::Incoming(Packet5::PubAck(_) | Packet5::PubComp(_)))
            | Ok(Event::Outgoing(Outgoing::Publish(0))) => Ev::Delivered,
            Ok(Event::Incoming(Packet5::SubAck(s))) => Ev::Subscribed(
                s.return_codes
                    .iter()
                    .map(|c| match c {
                        Code5::Success(q) => Ok(*q as u8),
                        other => Err(format!("refused by the broker ({other:?})")),
                    })
                    .collect(),
            ),
            Ok(Event::Outgoing(Outgoing::Disconnect)) => Ev::Disconnected,
            Ok(_) => continue,
            Err(e) => {
                let _ = tx.send(Ev::Closed(e.to_string())).await;
                return;
            }
        };
        let last = matches!(ev, Ev::Disconnected);
        if tx.send(ev).await.is_err() || last {
            return;
        }
    }
}

fn message_v5(p: rumqttc::v5::mqttbytes::v5::Publish) -> Message {
    let props = p.properties.clone().unwrap_or_default();
    let ids = [
        (props.payload_format_indicator.is_some(), 1u8),
        (props.message_expiry_interval.is_some(), 2),
        (props.content_type.is_some(), 3),
        (props.response_topic.is_some(), 8),
        (props.correlation_data.is_some(), 9),
        (!props.subscription_identifiers.is_empty(), 11),
        (props.topic_alias.is_some(), 35),
        (!props.user_properties.is_empty(), 38),
    ];
    Message {
        topic: String::from_utf8_lossy(&p.topic).into_owned(),
        id: p.pkid,
        qos: p.qos as u8,
        retain: p.retain,
        payload: p.payload.clone(),
        response_topic: props.response_topic,
        correlation_data: props.correlation_data,
        property_ids: Some(ids.iter().filter(|(on, _)| *on).map(|(_, id)| *id).collect()),
        ack: AckOf::V5(p),
    }
}
