//! The bound on executions descending from one root execution: a Subflow
//! or a `ForEachItem` batch started anywhere under a root counts against
//! that root, so a flow that starts itself from a ForEach stops at
//! [`MAX_DESCENDANTS`] instead of growing as values ^ depth. The count is
//! a CAS record (`fanout/<root id>`). A Subflow raises it once per
//! execution actually created (a duplicate start finds the execution and
//! counts nothing); it is checked before each start, so concurrent starts
//! may pass it by at most the number running at once. A ForEachItem
//! reserves all its batches at once, before any starts ([`reserve`]: one
//! write for the whole range, checked and raised in the same CAS, under
//! the `_items` task run's key so a duplicate message reserves nothing).

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
        super::metrics::refused("max_descendants");
        Err(format!(
            "{what} not started: execution {root} already has {n} descendant executions \
             (at most {max}, MAX_DESCENDANTS; set {ENV} to change it)"
        ))
    } else {
        Ok(())
    })
}

/// Reserves `n` executions under `root` for `key` (a ForEachItem's
/// `_items` task run), checked against the bound in the same CAS: `Err`
/// with the message naming the bound when they do not fit (nothing is
/// reserved then). A key already reserved is not counted again.
pub async fn reserve(
    engine: &Engine,
    root: &str,
    key: &str,
    n: u64,
    what: &str,
) -> Result<Result<(), String>, BackendError> {
    let max = engine.max_descendants();
    for _ in 0..ATTEMPTS {
        let (version, mut body) = match engine.state.load_record(KIND, root).await? {
            Some((v, body)) => (v, body),
            None => (0, json!({"count": 0})),
        };
        if !body.is_object() {
            body = json!({});
        }
        if body["reserved"].get(key).is_some() {
            return Ok(Ok(()));
        }
        let count = body["count"].as_u64().unwrap_or(0);
        if count + n > max {
            super::metrics::refused("max_descendants");
            return Ok(Err(format!(
                "{what}: {n} executions not started: execution {root} already has {count} descendant executions \
                 (at most {max}, MAX_DESCENDANTS; set {ENV} to change it)"
            )));
        }
        body["count"] = json!(count + n);
        if !body["reserved"].is_object() {
            body["reserved"] = json!({});
        }
        body["reserved"][key] = json!(n);
        match engine.state.save_record(KIND, root, version, &body).await {
            Ok(_) => return Ok(Ok(())),
            Err(BackendError::Conflict { .. }) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(BackendError::Database {
        what: format!("fan-out record {root}"),
        message: format!("still contended after {ATTEMPTS} attempts"),
    })
}

/// Counts one more execution created under `root`.
pub async fn add(engine: &Engine, root: &str) -> Result<(), BackendError> {
    for _ in 0..ATTEMPTS {
        let (version, mut body) = match engine.state.load_record(KIND, root).await? {
            Some((v, body)) => (v, body),
            None => (0, json!({})),
        };
        if !body.is_object() {
            body = json!({});
        }
        let n = body["count"].as_u64().unwrap_or(0);
        body["count"] = json!(n + 1);
        match engine.state.save_record(KIND, root, version, &body).await {
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
