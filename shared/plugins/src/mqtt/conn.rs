//! What every MQTT type shares (plugin-mqtt `AbstractMqttConnection`,
//! `MqttConnectionInterface`): the connection properties and one session
//! with the broker, MQTT 3.1.1 or 5 (`mqttVersion`, V5 by default), over
//! TCP (`tcp://`, port 1883) or TLS (`ssl://`, port 8883).
//!
//! Baton speaks MQTT through `rumqttc` (both protocol versions) with
//! rustls for TLS. A [`Session`] drives the client's event loop on a task
//! of its own and hands its events over a bounded channel, so a reader
//! that stops reading stops the broker's flow (TCP back-pressure) rather
//! than growing a buffer. Messages bigger than [`MAX_PACKET_BYTES`] end
//! the session with an error naming the bound.
//!
//! `crt` (the CA certificate of `ssl://`) is PEM text, a `kestra://` file
//! or a local path, as Kestra reads it; without it the system's roots are
//! used. `httpsHostnameVerificationEnabled: false` skips the check of the
//! server's name against its certificate (the chain is still verified).
//! `authMethod` is MQTT 5's extended authentication method, sent in the
//! CONNECT packet as Kestra's client sends it; with V3 it is refused
//! (Kestra ignores it there).

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;
use rumqttc::v5::mqttbytes::v5::{Filter, PublishProperties, RetainForwardRule};

pub use super::driver::Message;
use super::driver::{AckOf, Ev, drive_v3, drive_v5};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::{Declare, TaskError, de};

/// The largest MQTT packet a session sends or takes (MQTT allows 256 MB).
pub const MAX_PACKET_BYTES: usize = 16 * 1024 * 1024;
/// Kestra's (Paho's) connection timeout when none is given.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// How many events the session's task may hold for its reader.
const EVENTS: usize = 256;
/// How long a broker may take to answer a SUBSCRIBE.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// The connection properties, `#[serde(flatten)]`ed into each MQTT type's.
#[derive(Debug, Default, Clone, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
pub struct ConnProps {
    /// The broker's address: tcp://host[:port] (1883 by default) or ssl://host[:port] (TLS, 8883 by default).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic, required, check = server_ok)]
    pub server: Option<String>,
    /// The MQTT protocol version: V5 (MQTT 5) or V3 (MQTT 3.1.1).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic, values = ["V3", "V5"], default = "\"V5\"")]
    pub mqtt_version: Option<String>,
    /// The client identifier, unique on the broker (a fresh one when absent; a trigger derives a fixed one from its flow and id).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    pub client_id: Option<String>,
    /// How long connecting may take (PT0S: no limit).
    #[serde(default, deserialize_with = "de::opt_duration")]
    #[prop(dynamic, kind = "Duration", default = "\"PT30S\"")]
    pub connection_timeout: Option<chrono::TimeDelta>,
    /// With ssl://, whether the server's name must match its certificate (false: only the chain is verified).
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(dynamic, default = "true")]
    pub https_hostname_verification_enabled: Option<bool>,
    /// MQTT 5's extended authentication method, sent with the CONNECT packet (V5 only).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    pub auth_method: Option<String>,
    /// The user name.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    pub username: Option<String>,
    /// The password.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    pub password: Option<String>,
    /// With ssl://, the CA certificate that signs the broker's: PEM text, a kestra:// file or a local path (else the system's roots).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    pub crt: Option<String>,
}

fn server_ok(v: &Value) -> Result<(), String> {
    match v.as_str() {
        Some(s) if baton_model::expr::is_template(s) => Ok(()),
        Some(s) => Server::parse(s).map(|_| ()),
        None => Err(format!("expected tcp://host[:port] or ssl://host[:port], found {v}")),
    }
}

/// The broker's address, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    pub host: String,
    pub port: u16,
    pub tls: bool,
}

impl Server {
    pub fn parse(s: &str) -> Result<Server, String> {
        let s = s.trim();
        let (tls, rest) = if let Some(r) = s.strip_prefix("tcp://") {
            (false, r)
        } else if let Some(r) = s.strip_prefix("ssl://") {
            (true, r)
        } else if s.starts_with("ws://") || s.starts_with("wss://") {
            return Err("MQTT over WebSocket (ws://, wss://) is not supported by Baton: use tcp:// or ssl://".into());
        } else {
            return Err(format!("'{s}' is not tcp://host[:port] or ssl://host[:port]"));
        };
        let rest = rest.trim_end_matches('/');
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => {
                (h, p.parse::<u16>().map_err(|_| format!("'{p}' is not a port (in '{s}')"))?)
            }
            _ => (rest, if tls { 8883 } else { 1883 }),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() || host.contains('/') {
            return Err(format!("'{s}' names no host"));
        }
        Ok(Server { host: host.to_string(), port, tls })
    }
}

/// The protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V3,
    V5,
}

/// How a session is opened besides the connection properties.
#[derive(Debug, Clone)]
pub struct Open {
    pub client_id: String,
    /// A clean session (the broker forgets it at disconnect) or a persistent one.
    pub clean: bool,
    /// Messages are acknowledged by [`Session::ack`] rather than on receipt.
    pub manual_acks: bool,
    /// The CA certificate (PEM), read by the caller from `crt`.
    pub ca: Option<Vec<u8>>,
}

/// How long a persistent MQTT 5 session outlives its connection at the broker.
pub const SESSION_EXPIRY_SECS: u32 = 7 * 24 * 3600;

impl ConnProps {
    pub fn version(&self) -> Result<Version, TaskError> {
        match self.mqtt_version.as_deref().map(str::trim) {
            None | Some("") | Some("V5") => Ok(Version::V5),
            Some("V3") => Ok(Version::V3),
            Some(other) => Err(TaskError::property("mqttVersion", format!("unknown '{other}': V3 or V5"))),
        }
    }

    pub fn server(&self) -> Result<Server, TaskError> {
        let s = self.server.as_deref().ok_or_else(|| TaskError::property("server", "is required"))?;
        Server::parse(s).map_err(|e| TaskError::property("server", e))
    }

    fn connect_timeout(&self) -> Result<Duration, TaskError> {
        match self.connection_timeout {
            None => Ok(DEFAULT_CONNECT_TIMEOUT),
            Some(d) if d.is_zero() => Ok(Duration::from_secs(365 * 24 * 3600)),
            Some(d) => d.to_std().map_err(|_| TaskError::property("connectionTimeout", "must not be negative")),
        }
    }

    /// Everything read and checked, before any connection.
    pub fn check(&self) -> Result<(), TaskError> {
        let v = self.version()?;
        self.server()?;
        self.connect_timeout()?;
        if v == Version::V3 && self.auth_method.is_some() {
            return Err(TaskError::property("authMethod", "is MQTT 5's extended authentication: set mqttVersion V5"));
        }
        if self.password.is_some() && self.username.is_none() {
            return Err(TaskError::property("password", "needs 'username'"));
        }
        Ok(())
    }

    /// Connects; the session is ready once the broker accepted it.
    pub async fn connect(&self, open: Open) -> Result<Session, TaskError> {
        self.check()?;
        let server = self.server()?;
        let timeout = self.connect_timeout()?;
        let transport = if server.tls {
            let verify = self.https_hostname_verification_enabled.unwrap_or(true);
            let config = super::tls::client_config(open.ca.as_deref(), verify).map_err(|e| {
                let property = if open.ca.is_some() { "crt" } else { "server" };
                TaskError::property(property, e)
            })?;
            Some(config)
        } else {
            None
        };
        let mut net = rumqttc::NetworkOptions::new();
        net.set_connection_timeout(timeout.as_secs().max(1));
        let address = format!("{}:{}", server.host, server.port);
        let (client, driver, events) = match self.version()? {
            Version::V3 => {
                let mut o = rumqttc::MqttOptions::new(open.client_id.clone(), server.host.clone(), server.port);
                o.set_clean_session(open.clean)
                    .set_manual_acks(open.manual_acks)
                    .set_max_packet_size(MAX_PACKET_BYTES, MAX_PACKET_BYTES)
                    .set_keep_alive(Duration::from_secs(30));
                if let Some(u) = &self.username {
                    o.set_credentials(u.clone(), self.password.clone().unwrap_or_default());
                }
                if let Some(c) = transport {
                    o.set_transport(rumqttc::Transport::tls_with_config(rumqttc::TlsConfiguration::Rustls(c)));
                }
                let (client, mut eventloop) = rumqttc::AsyncClient::new(o, EVENTS);
                eventloop.set_network_options(net);
                let (tx, rx) = mpsc::channel(EVENTS);
                (Client::V3(client), tokio::spawn(drive_v3(eventloop, tx)), rx)
            }
            Version::V5 => {
                let mut o = rumqttc::v5::MqttOptions::new(open.client_id.clone(), server.host.clone(), server.port);
                o.set_clean_start(open.clean)
                    .set_manual_acks(open.manual_acks)
                    .set_max_packet_size(Some(MAX_PACKET_BYTES as u32))
                    .set_keep_alive(Duration::from_secs(30));
                if !open.clean {
                    o.set_session_expiry_interval(Some(SESSION_EXPIRY_SECS));
                }
                if let Some(u) = &self.username {
                    o.set_credentials(u.clone(), self.password.clone().unwrap_or_default());
                }
                if let Some(m) = &self.auth_method {
                    o.set_authentication_method(Some(m.clone()));
                }
                if let Some(c) = transport {
                    o.set_transport(rumqttc::Transport::tls_with_config(rumqttc::TlsConfiguration::Rustls(c)));
                }
                o.set_network_options(net);
                let (client, eventloop) = rumqttc::v5::AsyncClient::new(o, EVENTS);
                let (tx, rx) = mpsc::channel(EVENTS);
                (Client::V5(client), tokio::spawn(drive_v5(eventloop, tx)), rx)
            }
        };
        let mut session = Session {
            client,
            events,
            driver,
            address,
            manual_acks: open.manual_acks,
            session_present: false,
            backlog: VecDeque::new(),
        };
        // the first event is the broker's CONNACK, or why there is none
        match tokio::time::timeout(timeout + Duration::from_secs(5), session.events.recv()).await {
            Ok(Some(Ev::Connected(present))) => {
                session.session_present = present;
                Ok(session)
            }
            Ok(Some(Ev::Closed(e))) => Err(session.failed("cannot connect", &e)),
            Ok(_) => Err(session.failed("cannot connect", "the connection closed")),
            Err(_) => Err(session.failed("cannot connect", &format!("no answer within {}", fmt_secs(timeout)))),
        }
    }
}

fn fmt_secs(d: Duration) -> String {
    format!("{} s", d.as_secs_f64())
}

/// The client half of a session.
#[derive(Clone)]
enum Client {
    V3(rumqttc::AsyncClient),
    V5(rumqttc::v5::AsyncClient),
}

/// One connection with the broker (see the module documentation); its
/// task ends when the session is dropped.
pub struct Session {
    client: Client,
    events: mpsc::Receiver<Ev>,
    driver: JoinHandle<()>,
    /// host:port, for errors.
    pub address: String,
    manual_acks: bool,
    /// The broker kept a session for this client (its subscriptions among it).
    pub session_present: bool,
    /// Messages that came while waiting for another answer.
    backlog: VecDeque<Message>,
}

impl Drop for Session {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

/// A QoS level, checked.
pub fn qos(v: Option<u64>) -> Result<u8, TaskError> {
    match v.unwrap_or(1) {
        q @ 0..=2 => Ok(q as u8),
        q => Err(TaskError::property("qos", format!("must be 0, 1 or 2, got {q}"))),
    }
}

fn qos3(q: u8) -> rumqttc::QoS {
    match q {
        0 => rumqttc::QoS::AtMostOnce,
        1 => rumqttc::QoS::AtLeastOnce,
        _ => rumqttc::QoS::ExactlyOnce,
    }
}

fn qos5(q: u8) -> rumqttc::v5::mqttbytes::QoS {
    match q {
        0 => rumqttc::v5::mqttbytes::QoS::AtMostOnce,
        1 => rumqttc::v5::mqttbytes::QoS::AtLeastOnce,
        _ => rumqttc::v5::mqttbytes::QoS::ExactlyOnce,
    }
}

/// A message to publish.
#[derive(Debug, Clone, Default)]
pub struct Outgoing {
    pub payload: Vec<u8>,
    pub qos: u8,
    pub retain: bool,
    pub response_topic: Option<String>,
    pub correlation_data: Option<Vec<u8>>,
}

impl Session {
    fn failed(&self, what: &str, why: &str) -> TaskError {
        TaskError::failed(format!("MQTT broker {}: {what}: {why}", self.address))
    }

    fn client_error(&self, what: &str, e: impl std::fmt::Display) -> TaskError {
        self.failed(what, &e.to_string())
    }

    /// The next event; `None` once `until` passed.
    async fn event(&mut self, until: tokio::time::Instant) -> Result<Option<Ev>, TaskError> {
        match tokio::time::timeout_at(until, self.events.recv()).await {
            Err(_) => Ok(None),
            Ok(Some(Ev::Closed(e))) => Err(self.failed("the connection ended", &e)),
            Ok(Some(ev)) => Ok(Some(ev)),
            Ok(None) => Err(self.failed("the connection ended", "its task stopped")),
        }
    }

    /// Subscribes to `topics` at `qos` and waits for the broker's answer;
    /// a filter it refuses is an error naming it. `retained_once`: an MQTT
    /// 5 broker sends the topics' retained messages only when the
    /// subscription is new (not again to a persistent session).
    pub async fn subscribe(&mut self, topics: &[String], qos: u8, retained_once: bool) -> Result<(), TaskError> {
        let sent = match &self.client {
            Client::V3(c) => c
                .subscribe_many(topics.iter().map(|t| rumqttc::SubscribeFilter::new(t.clone(), qos3(qos))))
                .await
                .map_err(|e| e.to_string()),
            Client::V5(c) => {
                let filter = |t: &String| {
                    let mut f = Filter::new(t.clone(), qos5(qos));
                    if retained_once {
                        f.retain_forward_rule = RetainForwardRule::OnNewSubscribe;
                    }
                    f
                };
                c.subscribe_many(topics.iter().map(filter)).await.map_err(|e| e.to_string())
            }
        };
        sent.map_err(|e| self.client_error("cannot subscribe", e))?;
        let until = tokio::time::Instant::now() + ANSWER_TIMEOUT;
        loop {
            match self.event(until).await? {
                None => return Err(self.failed("cannot subscribe", "no SUBACK within 30 s")),
                Some(Ev::Message(m)) => self.backlog.push_back(*m),
                Some(Ev::Subscribed(codes)) => {
                    for (topic, code) in topics.iter().zip(codes) {
                        if let Err(why) = code {
                            return Err(TaskError::property("topic", format!("'{topic}': {why}")));
                        }
                    }
                    return Ok(());
                }
                Some(_) => {}
            }
        }
    }

    /// The next message, waiting until `until`; `None` when none came.
    pub async fn next_message(&mut self, until: tokio::time::Instant) -> Result<Option<Message>, TaskError> {
        if let Some(m) = self.backlog.pop_front() {
            return Ok(Some(m));
        }
        loop {
            match self.event(until).await? {
                None => return Ok(None),
                Some(Ev::Message(m)) => return Ok(Some(*m)),
                Some(_) => {}
            }
        }
    }

    /// Acknowledges `m` (a session opened with manual acknowledgements).
    pub async fn ack(&self, m: &Message) -> Result<(), TaskError> {
        if !self.manual_acks || m.qos == 0 {
            return Ok(());
        }
        let sent = match (&self.client, &m.ack) {
            (Client::V3(c), AckOf::V3(p)) => c.ack(p).await.map_err(|e| e.to_string()),
            (Client::V5(c), AckOf::V5(p)) => c.ack(p).await.map_err(|e| e.to_string()),
            _ => Err("the message came from another session".into()),
        };
        sent.map_err(|e| self.failed("cannot acknowledge a message", &e))
    }

    /// Publishes `m` on `topic`; [`Session::flush`] waits until the broker has them.
    pub async fn publish(&self, topic: &str, m: Outgoing) -> Result<(), TaskError> {
        let sent = match &self.client {
            Client::V3(c) => c.publish(topic, qos3(m.qos), m.retain, m.payload).await.map_err(|e| e.to_string()),
            Client::V5(c) => if m.response_topic.is_some() || m.correlation_data.is_some() {
                let props = PublishProperties {
                    response_topic: m.response_topic,
                    correlation_data: m.correlation_data.map(Bytes::from),
                    ..PublishProperties::default()
                };
                c.publish_with_properties(topic, qos5(m.qos), m.retain, m.payload, props).await
            } else {
                c.publish(topic, qos5(m.qos), m.retain, m.payload).await
            }
            .map_err(|e| e.to_string()),
        };
        sent.map_err(|e| self.failed(&format!("cannot publish on '{topic}'"), &e))
    }

    /// Waits until `n` publishes are done (each acknowledged per its QoS).
    pub async fn flush(&mut self, n: u64, timeout: Duration) -> Result<(), TaskError> {
        let until = tokio::time::Instant::now() + timeout;
        let mut done = 0;
        while done < n {
            match self.event(until).await? {
                None => {
                    return Err(self.failed(
                        "publish not acknowledged",
                        &format!("{} of {n} messages unanswered after {}", n - done, fmt_secs(timeout)),
                    ));
                }
                Some(Ev::Delivered) => done += 1,
                Some(Ev::Message(m)) => self.backlog.push_back(*m),
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// Disconnects once every request before it (acknowledgements, publishes) was written.
    pub async fn close(mut self) -> Result<(), TaskError> {
        let sent = match &self.client {
            Client::V3(c) => c.disconnect().await.map_err(|e| e.to_string()),
            Client::V5(c) => c.disconnect().await.map_err(|e| e.to_string()),
        };
        sent.map_err(|e| self.failed("cannot disconnect", &e))?;
        let until = tokio::time::Instant::now() + ANSWER_TIMEOUT;
        loop {
            match self.event(until).await {
                Ok(Some(Ev::Disconnected)) => return Ok(()),
                Ok(Some(_)) => {}
                Ok(None) => return Err(self.failed("cannot disconnect", "the DISCONNECT was not written within 30 s")),
                // the broker closing the connection after our DISCONNECT is the end we wanted
                Err(_) => return Ok(()),
            }
        }
    }
}

/// A client id for a task run: `baton-` and a random suffix (23 characters at most, as MQTT 3.1.1 servers must accept).
pub fn fresh_client_id() -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("baton-{}", &id[..17])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_are_read_as_paho_reads_them() {
        assert_eq!(
            Server::parse("tcp://localhost:1883").unwrap(),
            Server { host: "localhost".into(), port: 1883, tls: false }
        );
        assert_eq!(Server::parse("ssl://broker").unwrap(), Server { host: "broker".into(), port: 8883, tls: true });
        assert_eq!(Server::parse("tcp://h").unwrap().port, 1883);
        assert!(Server::parse("ws://h:80").unwrap_err().contains("WebSocket"));
        assert!(Server::parse("localhost:1883").unwrap_err().contains("tcp://"));
        assert!(Server::parse("tcp://h:x").unwrap_err().contains("port"));
        assert!(Server::parse("tcp://").unwrap_err().contains("no host"));
    }

    #[test]
    fn checks_name_the_property() {
        let p = |v: serde_json::Value| -> ConnProps { crate::parse_props(v.as_object().unwrap()).unwrap() };
        assert!(p(serde_json::json!({"server": "tcp://h"})).check().is_ok());
        let err = |v| p(v).check().unwrap_err().to_string();
        assert!(err(serde_json::json!({"server": "tcp://h", "mqttVersion": "V4"})).contains("'mqttVersion'"));
        assert!(
            err(serde_json::json!({"server": "tcp://h", "mqttVersion": "V3", "authMethod": "SCRAM"}))
                .contains("'authMethod'")
        );
        assert!(err(serde_json::json!({"server": "tcp://h", "password": "p"})).contains("'password'"));
        assert!(fresh_client_id().len() <= 23);
        assert!(qos(Some(3)).is_err() && qos(None).unwrap() == 1);
    }
}
