//! `io.kestra.plugin.core.flow.PurgeFlows`: deletes old revisions of flows
//! — one flow (`namespace` + `flowId`), a namespace and its children
//! (`namespace`), or every flow (neither) — per `behavior`:
//! `{keepAmount: N}` keeps the newest N (at least 1), `{before: instant}`
//! deletes those recorded at or before it, neither deletes every old one
//! (Kestra's default is `keepAmount: 1`). The latest revision of a flow is
//! never deleted (Baton has no drafts, so it is also the latest non-draft
//! one). Output `size`: the revisions deleted.
//!
//! It reads the flows the runtime serving the API knows (`FlowStore`:
//! `baton server local`, the GCP api); `baton run` has none and the task
//! fails saying so. A flow's revisions are listed up to the API's bound
//! (500, the newest): older ones are left.

use std::sync::LazyLock;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::Declare;
use crate::de::{opt_string_lenient, opt_u64_lenient};
use crate::registry::PluginDef;
use crate::{RunContext, RunnableTask, TaskError, TaskOutput, parse_props};

/// Delete old revisions of flows.
///
/// Deletes old revisions of one flow (`namespace` and `flowId`), of a namespace and its children (`namespace`) or of every flow, per `behavior`: `keepAmount` keeps the newest N, `before` deletes those recorded at or before an instant; the latest revision is always kept. Needs a server's flow store. Output `size`: the revisions deleted.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.core.flow.PurgeFlows",
    group = "core",
    example = "id: purge_flows\ntype: io.kestra.plugin.core.flow.PurgeFlows\nnamespace: company\nbehavior:\n  keepAmount: 2\n",
    outputs(size(Integer, "The number of revisions deleted."))
)]
struct Props {
    /// The namespace (and its children), or the flow's namespace with flowId.
    #[serde(default, deserialize_with = "opt_string_lenient")]
    namespace: Option<String>,
    /// One flow of `namespace`.
    #[serde(default, deserialize_with = "opt_string_lenient")]
    flow_id: Option<String>,
    /// {keepAmount: N} or {before: instant}; neither deletes every old revision.
    #[serde(default)]
    #[prop(kind = "Map", default = "{keepAmount: 1}")]
    behavior: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct BehaviorProps {
    #[serde(default, rename = "type", deserialize_with = "opt_string_lenient")]
    kind: Option<String>,
    #[serde(default, deserialize_with = "opt_u64_lenient")]
    keep_amount: Option<u64>,
    #[serde(default, deserialize_with = "opt_string_lenient")]
    before: Option<String>,
}

/// Which old revisions go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behavior {
    /// Keep the newest N.
    Keep(usize),
    /// Those recorded at or before this instant.
    Before(DateTime<Utc>),
    /// Every old one.
    AllOld,
}

fn behavior(v: Option<Value>) -> Result<Behavior, TaskError> {
    let Some(v) = v else { return Ok(Behavior::Keep(1)) };
    let v = match v {
        Value::String(s) => serde_json::from_str(&s).map_err(|_| {
            TaskError::property("behavior", format!("expected {{keepAmount}} or {{before}}, found \"{s}\""))
        })?,
        other => other,
    };
    let b: BehaviorProps = serde_json::from_value(v).map_err(|e| TaskError::property("behavior", e.to_string()))?;
    if let Some(k) = b.kind.as_deref().filter(|k| !k.eq_ignore_ascii_case("version")) {
        return Err(TaskError::property("behavior.type", format!("only 'version' purges flow revisions, found '{k}'")));
    }
    match (b.keep_amount, b.before) {
        (Some(_), Some(_)) => {
            Err(TaskError::property("behavior", "Cannot set both 'before' and 'keepAmount' properties"))
        }
        (Some(0), None) => Err(TaskError::property("behavior.keepAmount", "must be at least 1")),
        (Some(n), None) => Ok(Behavior::Keep(usize::try_from(n).unwrap_or(usize::MAX))),
        (None, Some(d)) => DateTime::parse_from_rfc3339(d.trim())
            .map(|d| Behavior::Before(d.with_timezone(&Utc)))
            .map_err(|_| TaskError::property("behavior.before", format!("'{d}' is not an ISO-8601 instant"))),
        (None, None) => Ok(Behavior::AllOld),
    }
}

/// The revisions `b` purges of `revisions` (number, recorded), never the latest.
pub fn to_purge(revisions: &[(u32, Option<DateTime<Utc>>)], b: Behavior) -> Vec<u32> {
    let Some(latest) = revisions.iter().map(|r| r.0).max() else { return Vec::new() };
    let mut newest_first: Vec<&(u32, Option<DateTime<Utc>>)> = revisions.iter().collect();
    newest_first.sort_by_key(|r| std::cmp::Reverse(r.0));
    let old = newest_first.into_iter().filter(|r| r.0 != latest);
    match b {
        Behavior::Keep(n) => {
            let mut all: Vec<u32> = revisions.iter().map(|r| r.0).collect();
            all.sort_unstable_by(|a, b| b.cmp(a));
            all.into_iter().skip(n).filter(|r| *r != latest).collect()
        }
        Behavior::Before(at) => old.filter(|r| r.1.is_some_and(|d| d <= at)).map(|r| r.0).collect(),
        Behavior::AllOld => old.map(|r| r.0).collect(),
    }
}

struct PurgeFlows {
    namespace: Option<String>,
    flow_id: Option<String>,
    behavior: Behavior,
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    let blank = |s: Option<String>| s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let (namespace, flow_id) = (blank(p.namespace), blank(p.flow_id));
    if namespace.is_none() && flow_id.is_some() {
        return Err(TaskError::property("namespace", "Property `namespace` is required when `flowId` is set."));
    }
    Ok(Box::new(PurgeFlows { namespace, flow_id, behavior: behavior(p.behavior)? }))
}

#[async_trait]
impl RunnableTask for PurgeFlows {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let store = cx.services.flows.clone().ok_or_else(|| {
            TaskError::failed("PurgeFlows needs the flow store of a server (`baton server local` or the GCP api); `baton run` has none")
        })?;
        let scope = self.namespace.as_deref().unwrap_or("");
        let flows = store.list(scope, self.flow_id.is_none()).await.map_err(|e| TaskError::failed(e.to_string()))?;
        let flows: Vec<_> = flows.into_iter().filter(|f| self.flow_id.as_ref().is_none_or(|id| &f.id == id)).collect();
        cx.log("INFO", &format!("purging old revisions from {} flows", flows.len()));
        let mut size = 0usize;
        for f in &flows {
            let revisions = store.revisions(&f.namespace, &f.id).await.map_err(|e| TaskError::failed(e.to_string()))?;
            let purge = to_purge(&revisions, self.behavior);
            if !purge.is_empty() {
                size += store
                    .delete_revisions(&f.namespace, &f.id, &purge)
                    .await
                    .map_err(|e| TaskError::failed(e.to_string()))?;
            }
        }
        cx.log("INFO", &format!("purged {size} flow revisions"));
        Ok(TaskOutput::with(json!({"size": size}).as_object().cloned().unwrap_or_default()))
    }
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).expect("date").with_timezone(&Utc)
    }

    #[test]
    fn behaviors_choose_old_revisions_never_the_latest() {
        let revs = vec![
            (1, Some(at("2025-01-01T00:00:00Z"))),
            (2, Some(at("2025-02-01T00:00:00Z"))),
            (3, Some(at("2025-03-01T00:00:00Z"))),
            (4, Some(at("2025-04-01T00:00:00Z"))),
        ];
        assert_eq!(to_purge(&revs, Behavior::Keep(1)), [3, 2, 1]);
        assert_eq!(to_purge(&revs, Behavior::Keep(2)), [2, 1]);
        assert_eq!(to_purge(&revs, Behavior::Keep(9)), Vec::<u32>::new());
        assert_eq!(to_purge(&revs, Behavior::Before(at("2025-02-01T00:00:00Z"))), [2, 1]);
        assert_eq!(to_purge(&revs, Behavior::Before(at("2030-01-01T00:00:00Z"))), [3, 2, 1], "never the latest");
        assert_eq!(to_purge(&revs, Behavior::AllOld), [3, 2, 1]);
        assert!(to_purge(&revs[..1], Behavior::AllOld).is_empty());
        assert!(to_purge(&[], Behavior::Keep(1)).is_empty());
    }

    #[test]
    fn behavior_is_read_as_kestra_writes_it() {
        assert_eq!(behavior(None).expect("default"), Behavior::Keep(1));
        assert_eq!(behavior(Some(json!({"keepAmount": 2}))).expect("keep"), Behavior::Keep(2));
        assert_eq!(behavior(Some(json!({"type": "version", "keepAmount": "3"}))).expect("typed"), Behavior::Keep(3));
        assert_eq!(
            behavior(Some(json!({"before": "2026-01-01T00:00:00Z"}))).expect("before"),
            Behavior::Before(at("2026-01-01T00:00:00Z"))
        );
        assert_eq!(behavior(Some(json!({}))).expect("none"), Behavior::AllOld);
        for (v, want) in [
            (json!({"keepAmount": 1, "before": "2026-01-01T00:00:00Z"}), "both"),
            (json!({"keepAmount": 0}), "at least 1"),
            (json!({"before": "yesterday"}), "ISO-8601"),
            (json!({"type": "key"}), "only 'version'"),
            (json!({"keep": 1}), "unknown field"),
        ] {
            let e = behavior(Some(v)).expect_err("refused").to_string();
            assert!(e.contains(want), "{e}");
        }
        let e = build(&json!({"flowId": "f"}).as_object().cloned().unwrap()).err().expect("refused").to_string();
        assert!(e.contains("`namespace` is required"), "{e}");
    }
}
