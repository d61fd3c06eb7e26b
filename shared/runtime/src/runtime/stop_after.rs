//! `stopAfter` on the event triggers (`Flow`, `Webhook`): once an execution
//! the trigger started ends in one of the listed states, the trigger is
//! stopped (Kestra disables it) and starts nothing more until its flow
//! changes — the same rule, kept in the same stored trigger state, as the
//! Schedule and `http.Trigger` polling triggers (`scheduler`,
//! `events::http`). The trigger's state records the last execution it
//! started; it is read before each start, so a stop is seen at the next
//! event after that execution ended. Triggers without `stopAfter` keep no
//! state here (no store write per event).

use std::sync::Arc;

use chrono::Utc;
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

/// Whether `trig` is stopped by its `stopAfter`; stores the stop when the
/// execution it started last has just been found ended in a listed state.
pub async fn is_stopped(engine: &Arc<Engine>, flow: &Flow, trig: &Trigger) -> Result<bool, BackendError> {
    let listed = states(trig);
    let Some(store) = engine.trigger_store.as_ref().filter(|_| !listed.is_empty()) else { return Ok(false) };
    let Some(mut state) = store.load_trigger_state(&key(flow, trig)).await? else { return Ok(false) };
    let flow_hash = source_hash(&flow.source);
    if let Some(stopped) = &state.stopped {
        if stopped.flow_hash == flow_hash {
            return Ok(true);
        }
        // the flow changed: the trigger runs again, from a clean slate
        state.stopped = None;
        state.last_execution_id = None;
        state.updated = Utc::now();
        store.save_trigger_state(&state).await?;
        return Ok(false);
    }
    let Some(id) = state.last_execution_id.clone() else { return Ok(false) };
    let Some(exec) = engine.state.load_execution(&id).await? else { return Ok(false) };
    let s = exec.state.current;
    if !(s.is_terminal() && listed.contains(&s)) {
        return Ok(false);
    }
    let reason = format!("execution {id} ended {s}");
    tracing::warn!(namespace = %flow.namespace, flow_id = %flow.id, trigger_id = %trig.id, %reason,
        "trigger stopped (stopAfter); it runs again when the flow changes");
    state.stopped = Some(Stopped { reason, flow_hash });
    state.updated = Utc::now();
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
