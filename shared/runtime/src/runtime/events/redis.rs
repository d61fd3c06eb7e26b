//! The Redis list triggers' pops.
//!
//! [`pop`]: a `redis.list.Trigger`'s, the same on both runtimes: an evaluation of
//! the trigger (`super::http::evaluate`, one per slot of `interval`, on
//! `baton server local`'s poller or a Cloud Scheduler tick) calls [`pop`],
//! then starts the slot's execution with its outputs.
//!
//! A pop renders the trigger's pop properties (`url` may use `secret()`),
//! LPOPs the batch (`crate::plugins::redis::batch`) and writes the elements
//! to the execution's `trigger/{trigger}/` folder, one Ion line each; its
//! outputs are `uri` and `count` (no file and `count: 0` for an empty
//! list: nothing starts).
//!
//! At least once: Kestra's trigger pops then emits, so an element popped
//! by an evaluation that cannot store its execution would be lost. Here
//! the batch is kept in memory until the execution is stored; when the
//! file cannot be written or the execution cannot be created (a backend
//! error, another error of the launcher) the batch is pushed back onto the
//! head of the list in its order ([`Popped::give_back`]) and the error is
//! reported (logged and retried at the next interval, or a FAILED
//! execution with `failOnTriggerError`). A pop that fails half-way gives
//! back what it popped. A process killed between the pop and the
//! execution's creation loses the batch, as Kestra's worker does; a batch
//! the trigger's `when` rejects is consumed (no execution, as Kestra 2.0).
//!
//! [`listen`]: a `redis.list.RealtimeTrigger`'s, on `baton server local`
//! (its poller evaluates it continuously): BLPOPs for up to
//! [`LISTEN_WINDOW`], each element at once one execution with
//! `trigger.value` (a fresh execution id: the same text pushed twice is two
//! executions). At least once as above: an element whose execution cannot
//! be stored is pushed back onto the head of the list and the evaluation
//! ends with the error (logged, retried at the next evaluation).

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use super::{EventError, launch_event, trigger_file};
use crate::model::Flow;
use crate::plugins::redis::batch;
use crate::runtime::engine::Engine;
use crate::triggers::redis::{ListSpec, REALTIME_TYPE};

/// How long one `RealtimeTrigger` evaluation waits for elements.
pub const LISTEN_WINDOW: Duration = Duration::from_secs(1);
/// The most elements one `RealtimeTrigger` evaluation takes.
const LISTEN_BATCH: usize = 100;

/// A batch popped and not yet in a stored execution.
#[derive(Debug)]
pub struct Popped {
    url: String,
    key: String,
    /// The elements as they were stored, byte for byte.
    values: Vec<Vec<u8>>,
}

impl Popped {
    /// Pushes the batch back onto the head of its list (in its order);
    /// a failure is logged with what is lost.
    pub async fn give_back(self, flow: &Flow, trigger_id: &str) {
        let result = match batch::connect(&self.url).await {
            Ok(mut con) => batch::give_back(&mut con, &self.key, &self.values).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => tracing::warn!(namespace = %flow.namespace, flow_id = %flow.id, trigger_id, key = %self.key,
                elements = self.values.len(), "redis.list.Trigger: no execution stored; the elements were pushed back"),
            Err(e) => tracing::error!(namespace = %flow.namespace, flow_id = %flow.id, trigger_id, key = %self.key,
                elements = self.values.len(), error = %e,
                "redis.list.Trigger: no execution stored and the elements could not be pushed back: they are lost"),
        }
    }
}

/// The trigger's properties rendered and read.
fn spec(engine: &Engine, flow: &Flow, trigger_id: &str, props: &Map<String, Value>) -> Result<ListSpec, EventError> {
    let rendered = super::render_props(engine, flow, trigger_id, props.clone())?;
    ListSpec::from_rendered(&rendered).map_err(|e| EventError::config(flow, trigger_id, e))
}

/// One evaluation of `RealtimeTrigger` `trigger_id` of `flow` (see the
/// module documentation); the ids of the executions it started.
pub async fn listen(
    engine: &Arc<Engine>,
    flow: &Flow,
    trigger_id: &str,
    props: &Map<String, Value>,
) -> Result<Vec<String>, EventError> {
    let spec = spec(engine, flow, trigger_id, props)?;
    let fail = |e: crate::plugins::TaskError| EventError::config(flow, trigger_id, e.to_string());
    let mut con = batch::connect(&spec.pop.url).await.map_err(fail)?;
    let until = tokio::time::Instant::now() + LISTEN_WINDOW;
    let mut started = Vec::new();
    while started.len() < LISTEN_BATCH {
        let left = until.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            break;
        }
        let Some(raw) = batch::blpop(&mut con, &spec.pop.key, left).await.map_err(fail)? else { break };
        let mut vars = Map::new();
        vars.insert("value".into(), batch::decode(spec.serde, &raw));
        let id = crate::model::ids::new_id();
        match launch_event(engine, flow, trigger_id, REALTIME_TYPE, &id, vars).await {
            Ok(true) => started.push(id),
            Ok(false) => {}
            Err(e) => {
                Popped { url: spec.pop.url.clone(), key: spec.pop.key.clone(), values: vec![raw] }
                    .give_back(flow, trigger_id)
                    .await;
                return Err(e);
            }
        }
    }
    Ok(started)
}

/// Pops the batch of trigger `trigger_id` of `flow` for the execution
/// `execution_id`; its outputs (`uri`, `count`) and the batch, `None`
/// when the list was empty.
pub async fn pop(
    engine: &Arc<Engine>,
    flow: &Flow,
    trigger_id: &str,
    execution_id: &str,
    props: &Map<String, Value>,
) -> Result<(Map<String, Value>, Option<Popped>), EventError> {
    let spec = spec(engine, flow, trigger_id, props)?;
    let values = batch::pop(&spec.pop).await.map_err(|e| EventError::config(flow, trigger_id, e.to_string()))?;
    let mut out = Map::new();
    out.insert("count".into(), Value::from(values.len()));
    if values.is_empty() {
        return Ok((out, None));
    }
    let popped = Popped { url: spec.pop.url.clone(), key: spec.pop.key.clone(), values };
    let path = trigger_file(flow, trigger_id, execution_id, "redis-list.ion");
    let stored = match batch::ion_lines(spec.serde, &popped.values) {
        Ok(lines) => engine.storage.put(&path, Box::pin(std::io::Cursor::new(lines))).await.map_err(EventError::from),
        Err(e) => Err(EventError::config(flow, trigger_id, e.to_string())),
    };
    if let Err(e) = stored {
        popped.give_back(flow, trigger_id).await;
        return Err(e);
    }
    out.insert("uri".into(), Value::String(format!("kestra://{path}")));
    Ok((out, Some(popped)))
}
