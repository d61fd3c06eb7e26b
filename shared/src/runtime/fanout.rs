//! The bound on executions descending from one root execution: a Subflow
//! (or a `ForEachItem` batch) started anywhere under a root counts against
//! that root, so a flow that starts itself from a ForEach stops at
//! [`MAX_DESCENDANTS`] instead of growing as values ^ depth. The count is
//! a CAS record (`fanout/<root id>`), raised once per execution actually
//! created (a duplicate start finds the execution and counts nothing);
//! it is checked before each start, so concurrent starts may pass it by
//! at most the number running at once.

use serde_json::json;

use super::engine::Engine;
use crate::backend::BackendError;

/// Executions that may descend from one root execution (children,
/// grandchildren…), unless `BATON_MAX_DESCENDANTS` says otherwise.
pub const MAX_DESCENDANTS: u64 = 10_000;
/// The environment variable overriding [`MAX_DESCENDANTS`].
pub const ENV: &str = "BATON_MAX_DESCENDANTS";
const KIND: &str = "fanout";
const ATTEMPTS: usize = 20;

/// The bound this process applies: `BATON_MAX_DESCENDANTS` or the default.
pub fn configured() -> u64 {
    std::env::var(ENV).ok().and_then(|v| v.trim().parse().ok()).unwrap_or(MAX_DESCENDANTS)
}

/// How many executions descend from `root` so far.
pub async fn count(engine: &Engine, root: &str) -> Result<u64, BackendError> {
    Ok(engine.state.load_record(KIND, root).await?.and_then(|(_, v)| v["count"].as_u64()).unwrap_or(0))
}

/// `Err` with the message naming the bound when `root` may start no more.
pub async fn check(engine: &Engine, root: &str, what: &str) -> Result<Result<(), String>, BackendError> {
    let max = engine.max_descendants();
    let n = count(engine, root).await?;
    Ok(if n >= max {
        Err(format!(
            "{what} not started: execution {root} already has {n} descendant executions \
             (at most {max}, MAX_DESCENDANTS; set {ENV} to change it)"
        ))
    } else {
        Ok(())
    })
}

/// Counts one more execution created under `root`.
pub async fn add(engine: &Engine, root: &str) -> Result<(), BackendError> {
    for _ in 0..ATTEMPTS {
        let (version, n) = match engine.state.load_record(KIND, root).await? {
            Some((v, body)) => (v, body["count"].as_u64().unwrap_or(0)),
            None => (0, 0),
        };
        match engine.state.save_record(KIND, root, version, &json!({"count": n + 1})).await {
            Ok(_) => return Ok(()),
            Err(BackendError::Conflict { .. }) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(BackendError::Database {
        what: format!("fan-out record {root}"),
        message: format!("still contended after {ATTEMPTS} attempts"),
    })
}
