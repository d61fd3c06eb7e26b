//! Pub/Sub trigger events: messages → executions with Kestra's variables.
//!
//! - [`fire_message`]: one message of a `RealtimeTrigger` → one execution
//!   (`trigger.data`, `attributes`, `messageId`, `orderingKey`), id derived
//!   from the message id: a redelivery creates nothing.
//! - [`fire_batch`]: messages of a polling `Trigger` → one execution
//!   (`trigger.count`, `trigger.uri`: the messages as an Ion file in
//!   internal storage), id derived from the message ids. Before creating
//!   it, the batch is recorded as pending in the state store record
//!   `pubsub-trigger/{namespace}/{flow}/{trigger}`; once created, its ids
//!   join the record's recently handled ids (at most [`MAX_RECENT`]), which
//!   later polls drop — so a redelivered message is not run twice, even in
//!   a different batch after a crash.
//! - [`poll`]: Kestra's polling evaluation (`baton server local`): pulls up
//!   to `maxRecords` (bounded by `MAX_RECORDS_BOUND`) for at most
//!   `maxDuration` (bounded by `MAX_BATCH_WAIT`), fires them, acks them
//!   after.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{EventError, launch_event, trigger_file};
use crate::backend::gcp::pubsub::{MessageStream, PubSubAdmin, PubSubTarget};
use crate::backend::{BackendError, ByteStream};
use crate::model::Flow;
use crate::runtime::engine::Engine;
use crate::triggers::pubsub::{PubSubTrigger, REALTIME_TYPE, Received, TYPE, execution_id, message_value};

/// The state store record kind of a polling trigger's state.
pub const RECORD_KIND: &str = "pubsub-trigger";
/// Message ids a polling trigger remembers as handled.
pub const MAX_RECENT: usize = 10_000;
/// The ack deadline of a subscription the local poller creates.
const ACK_DEADLINE: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct PendingBatch {
    execution_id: String,
    uri: String,
    count: usize,
    ids: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct BatchState {
    #[serde(default)]
    recent: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pending: Option<PendingBatch>,
}

fn record_key(flow: &Flow, trigger_id: &str) -> String {
    format!("{}/{}/{trigger_id}", flow.namespace, flow.id)
}

/// One message of a `RealtimeTrigger` → its execution; `Ok(false)` for a duplicate.
pub async fn fire_message(
    engine: &Arc<Engine>,
    flow: &Flow,
    trig: &PubSubTrigger,
    m: &Received,
) -> Result<(String, bool), EventError> {
    let id = execution_id(flow, &trig.id, std::slice::from_ref(&m.message_id));
    let vars = match message_value(trig.serde, m).map_err(|e| EventError::config(flow, &trig.id, e))? {
        Value::Object(o) => o,
        _ => Map::new(),
    };
    let created = launch_event(engine, flow, &trig.id, REALTIME_TYPE, &id, vars).await?;
    Ok((id, created))
}

/// One pushed message of a polling `Trigger` (Google Cloud: a push
/// subscription delivers messages one by one) → its execution, with
/// `trigger.count` 1 and `trigger.uri`; id derived from the message id, so
/// a redelivery creates nothing (no shared record to contend on).
pub async fn fire_pushed(
    engine: &Arc<Engine>,
    flow: &Flow,
    trig: &PubSubTrigger,
    m: &Received,
) -> Result<(String, bool), EventError> {
    let id = execution_id(flow, &trig.id, std::slice::from_ref(&m.message_id));
    if engine.state.load_execution(&id).await?.is_some() {
        return Ok((id, false));
    }
    let uri = write_messages(engine, flow, trig, &id, &[m]).await?;
    let mut vars = Map::new();
    vars.insert("count".into(), Value::from(1));
    vars.insert("uri".into(), Value::String(uri));
    let created = launch_event(engine, flow, &trig.id, TYPE, &id, vars).await?;
    Ok((id, created))
}

/// Messages of a polling `Trigger` → one execution (see the module
/// documentation); returns its id and whether it was created, or `None`
/// when every message was handled before.
pub async fn fire_batch(
    engine: &Arc<Engine>,
    flow: &Flow,
    trig: &PubSubTrigger,
    messages: &[Received],
) -> Result<Option<(String, bool)>, EventError> {
    let key = record_key(flow, &trig.id);
    for _ in 0..8 {
        let (ver, mut state) = match engine.state.load_record(RECORD_KIND, &key).await? {
            None => (0, BatchState::default()),
            Some((v, json)) => (v, serde_json::from_value(json).unwrap_or_default()),
        };
        if let Some(p) = state.pending.take() {
            let mut vars = Map::new();
            vars.insert("count".into(), Value::from(p.count));
            vars.insert("uri".into(), Value::String(p.uri.clone()));
            let created = launch_event(engine, flow, &trig.id, TYPE, &p.execution_id, vars).await?;
            state.recent.extend(p.ids.iter().cloned());
            let excess = state.recent.len().saturating_sub(MAX_RECENT);
            state.recent.drain(..excess);
            if save(engine, &key, ver, &state).await? {
                let mine = p.ids.iter().any(|i| messages.iter().any(|m| &m.message_id == i));
                if mine || messages.is_empty() {
                    return Ok(Some((p.execution_id, created)));
                }
            }
            continue;
        }
        let mut seen = std::collections::HashSet::new();
        let fresh: Vec<&Received> = messages
            .iter()
            .filter(|m| !state.recent.contains(&m.message_id) && seen.insert(m.message_id.as_str()))
            .collect();
        if fresh.is_empty() {
            return Ok(None);
        }
        let ids: Vec<String> = fresh.iter().map(|m| m.message_id.clone()).collect();
        let id = execution_id(flow, &trig.id, &ids);
        let uri = write_messages(engine, flow, trig, &id, &fresh).await?;
        state.pending = Some(PendingBatch { execution_id: id, uri, count: fresh.len(), ids });
        let _ = save(engine, &key, ver, &state).await?;
    }
    Err(EventError::Contention { key })
}

async fn save(engine: &Engine, key: &str, version: u64, state: &BatchState) -> Result<bool, EventError> {
    let json = serde_json::to_value(state).unwrap_or_default();
    match engine.state.save_record(RECORD_KIND, key, version, &json).await {
        Ok(_) => Ok(true),
        Err(BackendError::Conflict { .. }) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// The messages as an Ion file (one struct per line) in internal storage.
async fn write_messages(
    engine: &Engine,
    flow: &Flow,
    trig: &PubSubTrigger,
    execution_id: &str,
    messages: &[&Received],
) -> Result<String, EventError> {
    let mut buf = Vec::new();
    for m in messages {
        let v = message_value(trig.serde, m).map_err(|e| EventError::config(flow, &trig.id, e))?;
        serde_json::to_writer(&mut buf, &v).map_err(|e| EventError::config(flow, &trig.id, e.to_string()))?;
        buf.push(b'\n');
    }
    let path = trigger_file(flow, &trig.id, execution_id, "messages.ion");
    let reader: ByteStream = Box::pin(std::io::Cursor::new(buf));
    engine.storage.put(&path, reader).await?;
    Ok(format!("kestra://{path}"))
}

/// Where the local poller finds Pub/Sub: the emulator of the engine's
/// endpoints (`PUBSUB_EMULATOR_HOST`) when there is one, in the trigger's
/// `projectId` (else `GOOGLE_CLOUD_PROJECT`).
pub fn target(engine: &Engine, flow: &Flow, trig: &PubSubTrigger) -> Result<PubSubTarget, EventError> {
    let project = trig
        .auth
        .project_id
        .clone()
        .or_else(|| engine.plugins.gcp.default_project.clone())
        .ok_or_else(|| EventError::config(flow, &trig.id, "no project: set projectId or GOOGLE_CLOUD_PROJECT"))?;
    if trig.auth.service_account.is_some() || trig.auth.impersonated_service_account.is_some() {
        return Err(EventError::config(
            flow,
            &trig.id,
            "the local Pub/Sub poller uses Application Default Credentials (or the emulator): remove serviceAccount / \
             impersonatedServiceAccount, or run on Google Cloud where the subscription pushes",
        ));
    }
    Ok(PubSubTarget { project, emulator: engine.plugins.gcp.endpoints.pubsub_emulator.clone() })
}

/// Creates the subscription when `autoCreateSubscription` (Kestra's default).
pub async fn ensure_subscription(target: &PubSubTarget, trig: &PubSubTrigger) -> Result<(), EventError> {
    if !trig.auto_create {
        return Ok(());
    }
    let admin = PubSubAdmin::connect(target.clone()).await.map_err(|e| EventError::PubSub(e.to_string()))?;
    admin
        .ensure_subscription_on(&trig.subscription, &target.topic_path(&trig.topic), ACK_DEADLINE)
        .await
        .map_err(|e| EventError::PubSub(e.to_string()))?;
    Ok(())
}

/// One evaluation on the trigger's subscription `stream` (kept open
/// across evaluations by the poller, so no message is left on a closed
/// stream): takes messages, fires them (one execution for a polling
/// `Trigger`, one per message for a `RealtimeTrigger`), then acks them —
/// only once their execution exists, so an instance dying before leaves
/// them to be redelivered. Returns the executions created.
///
/// A `Trigger` takes messages until `maxRecords` arrived or `maxDuration`
/// passed, as Kestra's Consume: with `maxRecords` alone it waits for them,
/// at most [`crate::triggers::pubsub::MAX_BATCH_WAIT`] (then fires what it
/// has). A `RealtimeTrigger` takes what arrives within `realtime_window`.
/// Messages that arrive meanwhile stay leased on the stream for the next
/// evaluation.
pub async fn poll(
    engine: &Arc<Engine>,
    flow: &Flow,
    trig: &PubSubTrigger,
    stream: &mut MessageStream,
    realtime_window: Duration,
) -> Result<Vec<String>, EventError> {
    let limit = trig.batch_limit();
    let window = if trig.realtime { realtime_window } else { trig.batch_wait() };
    let deadline = tokio::time::Instant::now() + window;
    let mut got = Vec::new();
    let mut handlers = Vec::new();
    while got.len() < limit {
        let next = match tokio::time::timeout_at(deadline, stream.next()).await {
            Err(_) | Ok(None) => break,
            Ok(Some(r)) => r.map_err(|e| EventError::PubSub(format!("pull {}: {e}", trig.subscription)))?,
        };
        let (m, h) = next;
        got.push(Received {
            message_id: m.message_id.clone(),
            data: m.data.to_vec(),
            attributes: m.attributes.into_iter().collect(),
            ordering_key: Some(m.ordering_key).filter(|k| !k.is_empty()),
        });
        handlers.push(h);
    }
    let mut created = Vec::new();
    if trig.realtime {
        for (m, h) in got.iter().zip(handlers) {
            let (id, new) = fire_message(engine, flow, trig, m).await?;
            h.ack();
            if new {
                created.push(id);
            }
        }
    } else {
        if !got.is_empty()
            && let Some((id, new)) = fire_batch(engine, flow, trig, &got).await?
            && new
        {
            created.push(id);
        }
        for h in handlers {
            h.ack();
        }
    }
    Ok(created)
}
