//! A flow's concurrency slots, shared by every instance: one small record
//! per flow (`concurrency/{namespace}:{flow}`: who holds a slot, who waits,
//! in order) changed only by compare-and-swap, so two executors admitting
//! two executions of one flow at the same instant cannot both take the
//! last slot. The decisions are `executor::concurrency::Slots`; this reads,
//! decides and writes until the write wins.
//!
//! Admission takes the slot before the execution is saved RUNNING; an
//! executor that dies in between leaves the slot to the same execution,
//! whose redelivered event is admitted again without change. A slot is
//! freed when the execution ends ([`release`]), and again, idempotently,
//! whenever an event of an ended execution arrives, so a crash between the
//! end and the release cannot leak a slot.

use serde_json::Value;

use super::engine::Engine;
use crate::backend::BackendError;
use crate::executor::concurrency::{Admission, Slots};
use crate::model::Concurrency;

/// The record kind of concurrency slots.
pub const KIND: &str = "concurrency";
/// Attempts before a contended record is reported (the event is retried).
const ATTEMPTS: usize = 32;

fn key(namespace: &str, flow_id: &str) -> String {
    format!("{namespace}:{flow_id}")
}

async fn load(engine: &Engine, key: &str) -> Result<(u64, Slots), BackendError> {
    match engine.state.load_record(KIND, key).await? {
        None => Ok((0, Slots::default())),
        Some((v, body)) => {
            let slots = serde_json::from_value(body).map_err(|e| BackendError::Database {
                what: format!("concurrency record {key}"),
                message: e.to_string(),
            })?;
            Ok((v, slots))
        }
    }
}

async fn store(engine: &Engine, key: &str, version: u64, slots: &Slots) -> Result<bool, BackendError> {
    let body = serde_json::to_value(slots).unwrap_or(Value::Null);
    match engine.state.save_record(KIND, key, version, &body).await {
        Ok(_) => Ok(true),
        Err(BackendError::Conflict { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

fn contended(key: &str) -> BackendError {
    BackendError::Database {
        what: format!("concurrency record {key}"),
        message: format!("still contended after {ATTEMPTS} attempts"),
    }
}

/// Admits execution `id` of `namespace.flow_id` under `c`, atomically.
pub async fn admit(
    engine: &Engine,
    namespace: &str,
    flow_id: &str,
    id: &str,
    c: &Concurrency,
) -> Result<Admission, BackendError> {
    let key = key(namespace, flow_id);
    for _ in 0..ATTEMPTS {
        let (version, mut slots) = load(engine, &key).await?;
        let (decision, changed) = slots.admit(id, c);
        if !changed || store(engine, &key, version, &slots).await? {
            super::metrics::admission(namespace, flow_id, &decision);
            return Ok(decision);
        }
    }
    Err(contended(&key))
}

/// Frees what execution `id` holds; returns the queued execution to wake
/// (the oldest, when a slot is free), whether or not `id` held anything.
pub async fn release(
    engine: &Engine,
    namespace: &str,
    flow_id: &str,
    id: &str,
    limit: u32,
) -> Result<Option<String>, BackendError> {
    let key = key(namespace, flow_id);
    for _ in 0..ATTEMPTS {
        let (version, mut slots) = load(engine, &key).await?;
        if !slots.release(id) || store(engine, &key, version, &slots).await? {
            return Ok(slots.next_to_wake(limit).map(str::to_string));
        }
    }
    Err(contended(&key))
}
