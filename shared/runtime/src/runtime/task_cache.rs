//! Kestra's `taskCache` on the worker: before a task with an enabled cache
//! runs, its key — the namespace, flow, task id, `taskrun.value` and the
//! task's rendered properties — is looked up in the state store (records
//! of kind `task-cache`); a successful run stored within its `ttl` gives
//! its outputs at once, and the task does not run (its files are the
//! earlier execution's, readable from the same namespace). A run that ends
//! SUCCESS stores its outputs. The store's records work the same on both
//! runtimes (SQLite, Firestore); a store error never fails the task — it is
//! logged and the task runs uncached.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::engine::Engine;
use crate::model::wire::messages::WorkerJob;
use crate::plugins::RunContext;

const KIND: &str = "task-cache";

/// The cache key of `job` run with `rendered` properties.
pub fn key(job: &WorkerJob, context: &Value, rendered: &Map<String, Value>) -> String {
    let value = context.get("taskrun").and_then(|t| t.get("value")).cloned().unwrap_or(Value::Null);
    let text = json!([job.namespace, job.flow_id, job.task.id, job.task.kind, value, rendered]).to_string();
    let digest = Sha256::digest(text.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("{}|{}|{}|{hex}", job.namespace, job.flow_id, job.task.id)
}

/// The outputs of a cached run of `key` still within its ttl.
pub async fn lookup(engine: &Engine, cx: &RunContext, key: &str, now: DateTime<Utc>) -> Option<Map<String, Value>> {
    let stored = match engine.state.load_record(KIND, key).await {
        Ok(r) => r?.1,
        Err(e) => {
            cx.warn(&format!("taskCache: cannot read the cache ({e}); the task runs"));
            return None;
        }
    };
    let fresh = match stored.get("expires").and_then(Value::as_str) {
        Some(t) => DateTime::parse_from_rfc3339(t).is_ok_and(|t| t.with_timezone(&Utc) > now),
        None => true,
    };
    if !fresh {
        return None;
    }
    let outputs = stored.get("outputs")?.as_object()?.clone();
    let from = stored.get("executionId").and_then(Value::as_str).unwrap_or("an earlier execution");
    cx.info(&format!("taskCache: outputs taken from the run of {from}; the task does not run"));
    Some(outputs)
}

/// Stores the outputs of a successful run under `key`.
pub async fn store(
    engine: &Engine,
    cx: &RunContext,
    key: &str,
    outputs: &Map<String, Value>,
    ttl_ms: Option<i64>,
    now: DateTime<Utc>,
) {
    let expires = ttl_ms.map(|ms| (now + Duration::milliseconds(ms)).to_rfc3339());
    let body = json!({"outputs": outputs, "executionId": cx.execution_id, "expires": expires});
    let result = async {
        let version = engine.state.load_record(KIND, key).await?.map_or(0, |(v, _)| v);
        engine.state.save_record(KIND, key, version, &body).await
    }
    .await;
    if let Err(e) = result {
        cx.warn(&format!("taskCache: cannot store the outputs ({e})"));
    }
}
