//! What the purge tasks over stored history share (`log.PurgeLogs`,
//! `execution.PurgeExecutions`, `metric.PurgeMetrics`): their scope
//! (`namespace`, `flowId` — which needs `namespace`, as Kestra's
//! `PurgeMetrics` requires and its other purges document), their window
//! (`startDate` optional, `endDate` required, ISO-8601 date-times with a
//! zone as Kestra's `ZonedDateTime.parse`), list properties written as a
//! list or rendered as a JSON list, and the state store they reach through
//! the runtime.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use crate::{RunContext, TaskError, de};
use baton_backend::StateStore;

/// A date-time property, named in the error.
pub fn date(property: &str, s: &str) -> Result<DateTime<Utc>, TaskError> {
    baton_template::conditions::dates::parse_date_time(s.trim())
        .map(|d| d.with_timezone(&Utc))
        .ok_or_else(|| TaskError::property(property, format!("'{s}' is not an ISO-8601 date-time with a zone")))
}

/// A blank string is no value.
pub fn blank(o: Option<String>) -> Option<String> {
    o.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// The scope and window every purge has, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Scope {
    pub namespace: Option<String>,
    pub flow_id: Option<String>,
    pub start: Option<DateTime<Utc>>,
    pub end: DateTime<Utc>,
}

impl Scope {
    /// From the rendered properties.
    pub fn new(
        namespace: Option<String>,
        flow_id: Option<String>,
        start: Option<String>,
        end: &str,
    ) -> Result<Scope, TaskError> {
        let (namespace, flow_id) = (blank(namespace), blank(flow_id));
        if flow_id.is_some() && namespace.is_none() {
            return Err(TaskError::property("namespace", "'namespace' is required when 'flowId' is set."));
        }
        let start = blank(start).map(|s| date("startDate", &s)).transpose()?;
        let end = date("endDate", end)?;
        if start.is_some_and(|s| s > end) {
            return Err(TaskError::property("startDate", "'startDate' is after 'endDate': the window is empty"));
        }
        Ok(Scope { namespace, flow_id, start, end })
    }

    /// `[namespace=…, flowId=…] window=[start, end]` for the task's log.
    pub fn describe(&self) -> String {
        format!(
            "scope=[namespace={}, flowId={}] window=[{}, {}]",
            self.namespace.as_deref().unwrap_or("*"),
            self.flow_id.as_deref().unwrap_or("*"),
            self.start.map(|d| d.to_rfc3339()).unwrap_or_else(|| "-".into()),
            self.end.to_rfc3339()
        )
    }
}

/// A list of strings, or a rendered template holding a JSON list.
pub fn string_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let v = Value::deserialize(d)?;
    let v = match v {
        Value::String(s) if s.trim_start().starts_with('[') => {
            serde_json::from_str(&s).map_err(|e| serde::de::Error::custom(format!("not a JSON list: {e}")))?
        }
        other => other,
    };
    de::string_or_list(v).map_err(serde::de::Error::custom)
}

/// The state store the runtime gives, or an error naming the task.
pub async fn store(cx: &RunContext, task: &str) -> Result<Arc<dyn StateStore>, TaskError> {
    let control = cx.services.executions.as_ref();
    let store = control.and_then(|c| c.state_store()).ok_or_else(|| {
        TaskError::failed(format!("{task} needs the runtime's state store, and this runtime gives the task none"))
    })?;
    if let Some(c) = control {
        c.flush_logs().await;
    }
    Ok(store)
}

/// A backend error while purging, naming the task and what it was doing.
pub fn failed(task: &str, doing: &str, e: impl std::fmt::Display) -> TaskError {
    TaskError::failed(format!("{task}: cannot {doing}: {e}"))
}

/// The static check of a written `batchSize`: an integer from 1 to `max`
/// (a template is checked when rendered).
pub fn check_batch_size(v: &Value, max: u64) -> Result<(), String> {
    match v {
        Value::Number(n) if n.as_u64().is_none_or(|n| n == 0 || n > max) => Err(if max == u64::MAX {
            format!("must be a positive integer, got {n}")
        } else {
            format!("must be between 1 and {max}, got {n}")
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purge_scopes_are_checked_and_named() {
        let s = Scope::new(Some(" company ".into()), None, Some(String::new()), "2026-01-01T00:00:00Z").unwrap();
        assert_eq!((s.namespace.as_deref(), s.start), (Some("company"), None));
        let e = Scope::new(None, Some("f".into()), None, "2026-01-01T00:00:00Z").unwrap_err();
        assert!(e.to_string().contains("'namespace' is required when 'flowId' is set"), "{e}");
        let e = Scope::new(None, None, None, "last week").unwrap_err();
        assert!(e.to_string().contains("endDate") && e.to_string().contains("'last week'"), "{e}");
        let e = Scope::new(None, None, Some("2026-02-01T00:00:00Z".into()), "2026-01-01T00:00:00+01:00").unwrap_err();
        assert!(e.to_string().contains("startDate"), "{e}");
    }
}
