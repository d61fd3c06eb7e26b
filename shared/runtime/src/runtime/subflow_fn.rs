//! The host of a launch's input rendering: the runtime's services, plus
//! Kestra 2.0's `subflow()` (`template::subflow_fn` checks its arguments):
//! the flow is launched like any execution (labelled `system.from:
//! subflow`), awaited up to the call's `timeout` (PT1M by default, PT5M at
//! most), and answered as `{id, state, outputs, labels}` when it ended
//! SUCCESS or WARNING. A subflow whose own inputs call `subflow()` nests at
//! most [`MAX_DEPTH`] deep. Only launches from a request (API, CLI, UI)
//! get this host: a Subflow task or a trigger creating an execution must
//! not block its executor on another execution (Kestra refuses it too).

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};

use super::engine::Engine;
use super::launcher::{LaunchRequest, launch, wait_for_end};
use crate::model::{Label, StateType};
use crate::template::{SubflowCall, TemplateHost};

/// Kestra's `kestra.pebble.subflow-function.max-depth`.
pub const MAX_DEPTH: u32 = 3;

/// The launch's template host.
pub struct LaunchHost {
    pub engine: Arc<Engine>,
    /// How many `subflow()` calls this launch sits under.
    pub depth: u32,
}

fn block_on<F: std::future::Future>(f: F) -> Result<F::Output, String> {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            Ok(tokio::task::block_in_place(|| h.block_on(f)))
        }
        _ => Err("subflow() needs the multi-threaded runtime".to_string()),
    }
}

impl LaunchHost {
    async fn run(&self, call: &SubflowCall) -> Result<Value, String> {
        let (ns, id) = (&call.namespace, &call.id);
        let engine = &self.engine;
        let flow = match call.revision {
            Some(r) => super::flows::at_revision(engine, ns, id, r)
                .await
                .map_err(|_| format!("Unable to find flow '{ns}'.'{id}' with revision {r}."))?,
            None => engine.latest_flow(ns, id).await.ok_or_else(|| format!("Unable to find flow '{ns}'.'{id}'."))?,
        };
        if flow.disabled {
            return Err(format!("Cannot run the disabled flow '{ns}'.'{id}'."));
        }
        let inputs: Map<String, Value> = serde_json::from_str(&call.inputs).unwrap_or_default();
        let mut labels: Vec<Label> =
            call.labels.iter().map(|(k, v)| Label { key: k.clone(), value: v.clone() }).collect();
        labels.push(Label { key: "system.from".into(), value: "subflow".into() });
        let updates = engine.notable.subscribe();
        let req = LaunchRequest { inputs, labels, subflow_depth: self.depth + 1, ..LaunchRequest::default() };
        let started = Box::pin(launch(engine, &flow, req)).await.map_err(|e| match e {
            super::launcher::LaunchError::Inputs { .. } => format!("Invalid inputs for subflow '{ns}'.'{id}': {e}"),
            e => format!("Failed to run subflow '{ns}'.'{id}': {e}"),
        })?;
        let wait = Duration::from_millis(call.timeout_ms);
        let ended = match tokio::time::timeout(wait, wait_for_end(engine, &started.id, updates)).await {
            Ok(r) => r.map_err(|e| format!("Failed to run subflow '{ns}'.'{id}': {e}"))?,
            Err(_) => {
                return Err(format!(
                    "Failed to run subflow '{ns}'.'{id}': execution {} did not end within {} s (the call's \
                     'timeout'); it goes on running",
                    started.id,
                    wait.as_secs()
                ));
            }
        };
        let state = ended.state.current;
        if !matches!(state, StateType::Success | StateType::Warning) {
            return Err(format!("Subflow '{ns}'.'{id}' ended in state {state} (execution {}).", ended.id));
        }
        let labels: Map<String, Value> = ended.labels.iter().map(|l| (l.key.clone(), json!(l.value))).collect();
        Ok(json!({
            "id": ended.id,
            "state": state.to_string(),
            "outputs": ended.outputs.clone().unwrap_or_default(),
            "labels": labels,
        }))
    }
}

impl TemplateHost for LaunchHost {
    fn kv(&self, namespace: &str, key: &str) -> Result<Option<Value>, String> {
        self.engine.host.kv(namespace, key)
    }
    fn secret(&self, key: &str) -> Result<String, String> {
        self.engine.host.secret(key)
    }
    fn read(&self, namespace: &str, path: &str) -> Result<String, String> {
        self.engine.host.read(namespace, path)
    }
    fn read_revision(&self, namespace: &str, path: &str, revision: u32) -> Result<String, String> {
        self.engine.host.read_revision(namespace, path, revision)
    }
    fn secret_values(&self) -> Vec<String> {
        self.engine.host.secret_values()
    }
    fn file_size(&self, namespace: &str, path: &str) -> Result<Option<u64>, String> {
        self.engine.host.file_size(namespace, path)
    }
    fn subflow(&self, call: &SubflowCall) -> Result<Value, String> {
        if self.depth >= MAX_DEPTH {
            return Err(format!(
                "The 'subflow' function exceeded the maximum nesting depth of {MAX_DEPTH} (a subflow's inputs likely \
                 call subflow() recursively)."
            ));
        }
        block_on(self.run(call))?
    }
}
