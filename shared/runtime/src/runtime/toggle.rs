//! Enabling or disabling a flow's trigger, of any type, from a task
//! (`io.kestra.plugin.core.trigger.Toggle`), through the trigger store the
//! scheduler, the event triggers and the API share: disabling is kept in
//! the trigger's state as a stop (as the API's `PUT /triggers` does), which
//! every trigger type reads before it starts an execution, until enabled
//! again or until the flow's source changes.

use chrono::Utc;

use super::engine::Engine;
use super::scheduler::source_hash;
use crate::backend::schedule::{Stopped, TriggerKey, TriggerState};

/// The reason stored when a Toggle task disables a trigger.
pub const DISABLED_BY_TASK: &str = "disabled by a trigger.Toggle task";

/// Sets trigger `trigger_id` of flow `namespace.flow_id` enabled or not.
pub async fn set_enabled(
    engine: &Engine,
    namespace: &str,
    flow_id: &str,
    trigger_id: &str,
    enabled: bool,
) -> Result<(), String> {
    let store = engine.trigger_store.as_ref().ok_or_else(|| {
        "this runtime keeps no trigger state (run it with `baton server local`): the trigger cannot be toggled"
            .to_string()
    })?;
    let flow = engine.flows.get(namespace, flow_id).ok_or_else(|| {
        format!("Unable to find flow {namespace}.{flow_id}. Make sure the flow exists and the current execution is authorized to access it.")
    })?;
    flow.triggers
        .iter()
        .find(|t| t.id == trigger_id)
        .ok_or_else(|| format!("Unable to find trigger {trigger_id} for the flow {namespace}.{flow_id}"))?;
    let key = TriggerKey {
        namespace: namespace.to_string(),
        flow_id: flow_id.to_string(),
        trigger_id: trigger_id.to_string(),
    };
    let now = Utc::now();
    let mut state = store
        .load_trigger_state(&key)
        .await
        .map_err(|e| e.to_string())?
        .unwrap_or_else(|| TriggerState::fresh(key.clone(), now));
    state.stopped =
        (!enabled).then(|| Stopped { reason: DISABLED_BY_TASK.into(), flow_hash: source_hash(&flow.source) });
    state.updated = now;
    store.save_trigger_state(&state).await.map_err(|e| e.to_string())
}
