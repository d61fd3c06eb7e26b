//! `stopAfter` on the event triggers (`Flow`, `Webhook`): once an execution
//! the trigger started ends in one of the listed states, the trigger is
//! stopped (Kestra disables it) and starts nothing more until its flow
//! changes — the same rule, kept in the same stored trigger state, as the
//! Schedule and `http.Trigger` polling triggers (`scheduler`,
//! `events::http`). The trigger's state records the last execution it
//! started; it is read before each start, so a stop is seen at the next
//! event after that execution ended. Triggers without `stopAfter` keep no
//! state here (no store write per event), but their state is read: a
//! trigger disabled through the API or a `Toggle` task is a stored stop too.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::engine::Engine;
use super::scheduler::source_hash;
use crate::backend::BackendError;
use crate::backend::schedule::{Stopped, TriggerKey, TriggerState};
use crate::model::{Flow, StateType, Trigger};

/// The trigger's `stopAfter` states (validated: unknown names are skipped).
pub fn states(trig: &Trigger) -> Vec<StateType> {
    match trig.props.get("stopAfter") {
        Some(Value::Array(items)) => items.iter().filter_map(|v| v.as_str().and_then(StateType::parse)).collect(),
        _ => Vec::new(),
    }
}

fn key(flow: &Flow, trig: &Trigger) -> TriggerKey {
    TriggerKey { namespace: flow.namespace.clone(), flow_id: flow.id.clone(), trigger_id: trig.id.clone() }
}

/// A stored stop, seen against the flow as it is now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held {
    /// No stop is stored.
    No,
    /// The stop holds: the flow is the one that was stopped.
    Yes,
    /// The flow changed since: the stop and the last execution are cleared
    /// from `state` (not saved), and the trigger runs again.
    Lifted,
}

/// Whether the stop stored in `state` holds for the flow whose source
/// hashes to `flow_hash` (the rule every trigger with `stopAfter` keeps).
pub fn held(state: &mut TriggerState, flow_hash: &str) -> Held {
    match &state.stopped {
        None => Held::No,
        Some(stopped) if stopped.flow_hash == flow_hash => Held::Yes,
        Some(_) => {
            state.stopped = None;
            state.last_execution_id = None;
            Held::Lifted
        }
    }
}

/// Why the trigger stops: its last execution `id` ended in `s`, one of `listed`.
pub fn reason(listed: &[StateType], id: &str, s: StateType) -> Option<String> {
    (s.is_terminal() && listed.contains(&s)).then(|| format!("execution {id} ended {s}"))
}

/// Why the trigger stops, reading its last execution from the state store.
pub async fn last_ended(
    engine: &Engine,
    listed: &[StateType],
    state: &TriggerState,
) -> Result<Option<String>, BackendError> {
    if listed.is_empty() {
        return Ok(None);
    }
    let Some(id) = &state.last_execution_id else { return Ok(None) };
    let Some(exec) = engine.state.load_execution(id).await? else { return Ok(None) };
    Ok(reason(listed, id, exec.state.current))
}

/// Stores the stop in `state` (not saved) and says so in the log.
pub fn mark(state: &mut TriggerState, reason: String, flow_hash: String, now: DateTime<Utc>) {
    tracing::warn!(namespace = %state.key.namespace, flow_id = %state.key.flow_id, trigger_id = %state.key.trigger_id,
        %reason, "trigger stopped (stopAfter); it runs again when the flow changes");
    state.stopped = Some(Stopped { reason, flow_hash });
    state.updated = now;
}

/// Whether `trig` is stopped: disabled through the API or a `Toggle` task
/// (a stop stored in its state, whatever its type), or by its `stopAfter`;
/// stores the stop when the execution it started last has just been found
/// ended in a listed state. One read of the trigger's state per call.
pub async fn is_stopped(engine: &Engine, flow: &Flow, trig: &Trigger) -> Result<bool, BackendError> {
    let listed = states(trig);
    let Some(store) = engine.trigger_store.as_ref() else { return Ok(false) };
    let Some(mut state) = store.load_trigger_state(&key(flow, trig)).await? else { return Ok(false) };
    let flow_hash = source_hash(&flow.source);
    match held(&mut state, &flow_hash) {
        Held::Yes => return Ok(true),
        Held::Lifted => {
            state.updated = Utc::now();
            store.save_trigger_state(&state).await?;
            return Ok(false);
        }
        Held::No => {}
    }
    let Some(reason) = last_ended(engine, &listed, &state).await? else { return Ok(false) };
    mark(&mut state, reason, flow_hash, Utc::now());
    store.save_trigger_state(&state).await?;
    Ok(true)
}

/// Records `execution_id` as the last execution `trig` started (only for a
/// trigger with `stopAfter`).
pub async fn record(engine: &Arc<Engine>, flow: &Flow, trig: &Trigger, execution_id: &str) -> Result<(), BackendError> {
    let Some(store) = engine.trigger_store.as_ref().filter(|_| !states(trig).is_empty()) else { return Ok(()) };
    let now = Utc::now();
    let k = key(flow, trig);
    let mut state = store.load_trigger_state(&k).await?.unwrap_or_else(|| TriggerState::fresh(k, now));
    state.last_execution_id = Some(execution_id.to_string());
    state.updated = now;
    store.save_trigger_state(&state).await
}
