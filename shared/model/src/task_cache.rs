//! Kestra's task-level `taskCache: {enabled, ttl}`: a runnable task whose
//! rendered properties (and `taskrun.value`) are the same as those of an
//! earlier successful run of the same flow's task, within `ttl`, is not run
//! again: its outputs are the earlier run's (the worker keeps them in the
//! state store, `runtime::task_cache`). Without `ttl` a cached run never
//! expires. Pure: this module only reads the key.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::duration;

/// An enabled `taskCache`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskCache {
    /// How long a cached run is used, in milliseconds; none: for ever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_ms: Option<i64>,
}

/// Reads `taskCache`: `Ok(None)` when absent or `enabled` is not true;
/// `Err((sub-key, message))` when malformed.
pub fn read(v: Option<&Value>) -> Result<Option<TaskCache>, (&'static str, String)> {
    let m = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(m)) => m,
        Some(_) => return Err(("", "'taskCache' must be a mapping {enabled, ttl}".into())),
    };
    if let Some(k) = m.keys().find(|k| !matches!(k.as_str(), "enabled" | "ttl")) {
        return Err(("", format!("unknown key '{k}' in taskCache (enabled, ttl)")));
    }
    let enabled = match m.get("enabled") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) if s == "true" || s == "false" => s == "true",
        Some(other) => return Err(("enabled", format!("taskCache.enabled must be true or false, got {other}"))),
    };
    let ttl_ms = match m.get("ttl") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => match duration::parse_iso(s) {
            Ok(d) if d.num_milliseconds() > 0 => Some(d.num_milliseconds()),
            Ok(_) => return Err(("ttl", format!("taskCache.ttl must be positive, got {s}"))),
            Err(e) => return Err(("ttl", format!("invalid taskCache.ttl: {e}"))),
        },
        Some(other) => {
            return Err(("ttl", format!("taskCache.ttl must be an ISO-8601 duration such as PT1H, got {other}")));
        }
    };
    Ok(enabled.then_some(TaskCache { ttl_ms }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_kestra_s_shape() {
        assert_eq!(
            read(Some(&json!({"enabled": true, "ttl": "PT1H"}))),
            Ok(Some(TaskCache { ttl_ms: Some(3_600_000) }))
        );
        assert_eq!(read(Some(&json!({"enabled": false, "ttl": "PT1H"}))), Ok(None));
        assert_eq!(read(Some(&json!({"enabled": true}))), Ok(Some(TaskCache { ttl_ms: None })));
        assert_eq!(read(None), Ok(None));
        assert!(read(Some(&json!({"enabled": true, "ttl": "soon"}))).is_err());
        assert!(read(Some(&json!({"enabled": true, "size": 3}))).is_err());
        assert!(read(Some(&json!("yes"))).is_err());
    }
}
