//! The MQTT triggers' sessions.
//!
//! [`receive`]: an `mqtt.Trigger`'s, the same on both runtimes: an
//! evaluation (`super::http::evaluate`, one per slot of `interval`, on
//! `baton server local`'s poller or a Cloud Scheduler tick) connects with
//! the trigger's persistent session, subscribes when the broker holds no
//! session for it (else the session's subscription stands, and the
//! messages kept for it while no one was connected come first), receives
//! until `maxRecords` or `maxDuration` (at most the interval) and writes
//! the records to the execution's `trigger/{trigger}/mqtt.ion`. A message
//! is acknowledged only once it is stored in the trigger's spool
//! (`…/{flow}/triggers/{trigger}/mqtt-spool/`, in chunks: a broker sends
//! only so many unacknowledged messages), and the spool is removed
//! ([`Taken::settle`]) only once the batch's execution is stored — or
//! `when` rejected it; otherwise the next evaluation's batch starts with
//! it. A process killed at any point leaves each message at the broker or
//! in the spool (QoS 1 and 2; QoS 0 is at most once by definition): at
//! least once.
//!
//! [`listen`]: an `mqtt.RealtimeTrigger`'s, on `baton server local` (its
//! poller evaluates it continuously): the session stays connected from one
//! evaluation to the next ([`Held`]; opened again when the rendered
//! properties change or after an error), each evaluation takes what
//! arrives within one second (at most [`LISTEN_BATCH`] messages), each
//! message one execution (a fresh id: MQTT has no message id that
//! survives a redelivery), acknowledged once stored. An execution that
//! cannot be stored drops the connection unacknowledged: the message comes
//! again.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use super::{EventError, launch_event, render_props, trigger_file};
use crate::model::Flow;
use crate::model::ids::slugify;
use crate::plugins::TaskError;
use crate::plugins::mqtt::conn::{Message, Open, Session};
use crate::plugins::mqtt::message::{self, Crt};
use crate::plugins::mqtt::subscribe;
use crate::runtime::engine::Engine;
use crate::triggers::mqtt::{REALTIME_TYPE, Spec};

/// How long one `RealtimeTrigger` evaluation waits for messages.
pub const LISTEN_WINDOW: Duration = Duration::from_secs(1);
/// The most messages one `RealtimeTrigger` evaluation takes.
pub const LISTEN_BATCH: usize = 100;
/// How many messages a polled trigger spools before acknowledging them.
const SPOOL_CHUNK: usize = 16;
/// How long a polled trigger waits for more before spooling what it has
/// (a broker sends only so many unacknowledged messages).
const SPOOL_QUIET: Duration = Duration::from_millis(200);

/// A realtime trigger's connected session, kept across its evaluations,
/// with the rendered properties it was opened for.
pub type Held = Arc<tokio::sync::Mutex<Option<(String, Session)>>>;

/// A batch in a stored file whose spool is removed once its execution is stored.
pub struct Taken {
    spool: String,
    engine: Arc<Engine>,
}

impl std::fmt::Debug for Taken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Taken").field("spool", &self.spool).finish()
    }
}

impl Taken {
    /// Removes the batch's spool when `kept` (its execution is stored);
    /// else leaves it, and the next evaluation starts with it.
    pub async fn settle(self, flow: &Flow, trigger_id: &str, kept: bool) {
        if !kept {
            tracing::warn!(namespace = %flow.namespace, flow_id = %flow.id, trigger_id,
                "mqtt: no execution stored for the batch: its messages stay spooled for the next evaluation");
            return;
        }
        if let Err(e) = self.engine.storage.delete_prefix(&self.spool).await {
            tracing::error!(namespace = %flow.namespace, flow_id = %flow.id, trigger_id, error = %e,
                "mqtt: the batch's spool could not be removed: its messages come again in the next execution");
        }
    }
}

/// `crt` read for a trigger (a kestra:// file of the flow's namespace).
async fn crt(engine: &Engine, flow: &Flow, spec: &Spec) -> Result<Option<Vec<u8>>, TaskError> {
    let Some(crt) = spec.conn.crt.as_deref().map(Crt::parse).transpose()?.flatten() else { return Ok(None) };
    let path = |uri: &str| {
        let path = crate::backend::storage_path(uri.trim()).map_err(|e| TaskError::property("crt", e.to_string()))?;
        crate::backend::scope::check(&path, &flow.namespace, None)
            .map_err(|e| TaskError::property("crt", e.to_string()))?;
        Ok(path)
    };
    crt.read(&*engine.storage, path).await.map(Some)
}

/// Connects the trigger's persistent session and subscribes where needed.
async fn open(engine: &Engine, flow: &Flow, spec: &Spec) -> Result<Session, TaskError> {
    let open =
        Open { client_id: spec.client_id.clone(), clean: false, manual_acks: true, ca: crt(engine, flow, spec).await? };
    let mut session = spec.conn.connect(open).await?;
    // a derived client id names these topics: a session the broker kept has their subscription
    if !(spec.derived && session.session_present) {
        session.subscribe(&spec.subscribe.topics, spec.subscribe.qos, true).await?;
    }
    Ok(session)
}

/// Where a polled trigger keeps the messages it acknowledged and no
/// stored execution holds yet.
fn spool_prefix(flow: &Flow, trigger_id: &str) -> String {
    format!("/{}/{}/triggers/{}/mqtt-spool/", flow.namespace.replace('.', "/"), slugify(&flow.id), slugify(trigger_id))
}

/// Receives the batch of `mqtt.Trigger` `trigger_id` of `flow` for the
/// execution `execution_id`, waiting at most `cap`; its outputs (`uri`,
/// `messagesCount`) and what to settle, `None` when nothing came.
///
/// Messages are acknowledged in chunks, each once it is stored in the
/// trigger's spool (so a broker's window of unacknowledged messages — 20
/// for mosquitto — does not bound a batch); a batch starts with what an
/// earlier evaluation spooled and no stored execution holds.
pub async fn receive(
    engine: &Arc<Engine>,
    flow: &Flow,
    trigger_id: &str,
    execution_id: &str,
    props: &Map<String, Value>,
    cap: Duration,
) -> Result<(Map<String, Value>, Option<Taken>), EventError> {
    let fail = EventError::of_task(flow, trigger_id);
    let rendered = render_props(engine, flow, trigger_id, props.clone())?;
    let spec = Spec::read(&rendered, flow, trigger_id).map_err(&fail)?;
    let spool = spool_prefix(flow, trigger_id);
    let mut lines = Vec::new();
    let mut count = 0u64;
    let mut chunks = engine.storage.list(&spool).await?;
    chunks.sort();
    for chunk in &chunks {
        let mut text = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut engine.storage.get(chunk).await?, &mut text)
            .await
            .map_err(|e| EventError::config(flow, trigger_id, format!("cannot read the spool {chunk}: {e}")))?;
        count += text.iter().filter(|b| **b == b'\n').count() as u64;
        lines.extend_from_slice(&text);
    }
    let mut session = open(engine, flow, &spec).await.map_err(&fail)?;
    let s = &spec.subscribe;
    let until = tokio::time::Instant::now() + s.max_duration.map_or(cap, |d| d.min(cap));
    let mut pending: Vec<Message> = Vec::new();
    let mut pending_lines = Vec::new();
    let mut seq = chunks.len();
    loop {
        let full = s.max_records.is_some_and(|n| count >= n) || lines.len() >= subscribe::MAX_SUBSCRIBE_BYTES;
        let quiet = (tokio::time::Instant::now() + SPOOL_QUIET).min(until);
        let next = if full {
            None
        } else {
            session.next_message(if pending.is_empty() { until } else { quiet }).await.map_err(&fail)?
        };
        let over = next.is_none() && (full || tokio::time::Instant::now() >= until);
        if let Some(m) = next {
            let payload = subscribe::payload_or_text(&m, s.serde, trigger_id);
            subscribe::record_line(&m, payload, &mut pending_lines).map_err(&fail)?;
            pending.push(m);
            count += 1;
            if pending.len() < SPOOL_CHUNK && s.max_records.is_none_or(|n| count < n) {
                continue;
            }
        }
        if !pending.is_empty() {
            // stored, then acknowledged: a message is in the spool or still at the broker
            seq += 1;
            let chunk = format!("{spool}{seq:08}-{}.ion", crate::model::ids::new_id());
            engine.storage.put(&chunk, Box::pin(std::io::Cursor::new(pending_lines.clone()))).await?;
            for m in pending.drain(..) {
                session.ack(&m).await.map_err(&fail)?;
            }
            lines.append(&mut pending_lines);
        }
        if over {
            break;
        }
    }
    let _ = session.close().await;
    let mut out = Map::new();
    out.insert("messagesCount".into(), Value::from(count));
    if count == 0 {
        return Ok((out, None));
    }
    let path = trigger_file(flow, trigger_id, execution_id, "mqtt.ion");
    // not written: the spool stays for the next evaluation
    engine.storage.put(&path, Box::pin(std::io::Cursor::new(lines))).await?;
    out.insert("uri".into(), Value::String(format!("kestra://{path}")));
    Ok((out, Some(Taken { spool, engine: engine.clone() })))
}

/// One evaluation of `RealtimeTrigger` `trigger_id` of `flow` (see the
/// module documentation); the ids of the executions it started.
pub async fn listen(
    engine: &Arc<Engine>,
    flow: &Flow,
    trigger_id: &str,
    props: &Map<String, Value>,
    held: &Held,
) -> Result<Vec<String>, EventError> {
    let fail = EventError::of_task(flow, trigger_id);
    let rendered = render_props(engine, flow, trigger_id, props.clone())?;
    let key = Value::Object(rendered.clone()).to_string();
    let spec = Spec::read(&rendered, flow, trigger_id).map_err(&fail)?;
    let mut slot = held.lock().await;
    if slot.as_ref().is_none_or(|(k, _)| *k != key) {
        *slot = None;
        *slot = Some((key, open(engine, flow, &spec).await.map_err(&fail)?));
    }
    let Some((_, session)) = slot.as_mut() else { return Ok(Vec::new()) };
    let until = tokio::time::Instant::now() + LISTEN_WINDOW;
    let mut started = Vec::new();
    for _ in 0..LISTEN_BATCH {
        let m = match session.next_message(until).await {
            Ok(Some(m)) => m,
            Ok(None) => break,
            Err(e) => {
                *slot = None;
                return Err(fail(e));
            }
        };
        let vars = message::record(&m, subscribe::payload_or_text(&m, spec.subscribe.serde, trigger_id));
        let id = crate::model::ids::new_id();
        match launch_event(engine, flow, trigger_id, REALTIME_TYPE, &id, vars).await {
            Ok(created) => {
                if created {
                    started.push(id);
                }
                if let Err(e) = session.ack(&m).await {
                    *slot = None;
                    return Err(fail(e));
                }
            }
            Err(e) => {
                // unacknowledged: the broker delivers it again to the next connection
                *slot = None;
                return Err(e);
            }
        }
    }
    Ok(started)
}
