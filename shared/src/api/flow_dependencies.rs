//! `GET /flows/{namespace}/{id}/dependencies` (`destinationOnly`,
//! `expandAll`): Kestra's `FlowTopologyGraph` of a flow — the flows it
//! calls (`Subflow`, `ForEachItem`: a `FLOW_TASK` edge from caller to
//! called), the flows whose Flow triggers react to it (a `FLOW_TRIGGER`
//! edge from the upstream flow to the triggered one), and the same the
//! other way round. Nodes are `{uid, tenantId, namespace, id}` with
//! Kestra's uid `main_{namespace}_{id}`.
//!
//! The relation is decided statically, as Kestra's topology service does,
//! by [`relation`]: a subflow call counts when its `namespace` and `flowId`
//! are literal and name the flow; a Flow trigger counts when every
//! condition that names an upstream flow or namespace (`ExecutionFlow`,
//! `ExecutionNamespace`, the trigger's own `Flow`/`FlowNamespace`,
//! `MultipleCondition` entries: any) admits it, and its `preconditions`
//! (`flows`: any) or 2.0 `dependsOn` (any entry) admit it. Conditions on
//! the execution itself (state, labels, dates, expressions) are filters
//! and do not decide a dependency. A trigger with none of these depends
//! on every flow, as in Kestra.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::ApiState;
use super::error::ApiResult;
use super::query::Params;
use crate::conditions::{Comparison, Condition, Prop};
use crate::model::Flow;
use crate::model::types::FlowableKind;
use crate::triggers::flow::spec::{self, FlowTriggerSpec};

pub fn routes() -> Router<ApiState> {
    Router::new().route("/flows/{namespace}/{id}/dependencies", get(dependencies))
}

/// How `parent` leads to `child` (Kestra's `FlowRelation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Relation {
    /// `parent` calls `child` as a subflow.
    FlowTask,
    /// An execution of `parent` may fire one of `child`'s Flow triggers.
    FlowTrigger,
}

impl Relation {
    fn name(self) -> &'static str {
        match self {
            Relation::FlowTask => "FLOW_TASK",
            Relation::FlowTrigger => "FLOW_TRIGGER",
        }
    }
}

fn fixed(p: &Prop<String>) -> Option<&str> {
    match p {
        Prop::Fixed(s) => Some(s),
        Prop::Template(_) => None,
    }
}

/// Whether `parent` calls `child`, or its executions may trigger it.
pub fn relation(parent: &Flow, child: &Flow) -> Option<Relation> {
    if parent.namespace == child.namespace && parent.id == child.id {
        return None;
    }
    let calls = parent.all_tasks().into_iter().any(|t| {
        matches!(t.flowable_kind(), Some(FlowableKind::Subflow | FlowableKind::ForEachItem))
            && t.props.get("namespace").and_then(Value::as_str) == Some(child.namespace.as_str())
            && t.props.get("flowId").and_then(Value::as_str) == Some(child.id.as_str())
    });
    if calls {
        return Some(Relation::FlowTask);
    }
    let specs: Vec<FlowTriggerSpec> = child
        .triggers
        .iter()
        .filter(|t| crate::triggers::find(&t.type_).is_some_and(|d| d.type_name == crate::triggers::flow::TYPE))
        .filter_map(|t| spec::parse(t).ok())
        .collect();
    if specs.is_empty() {
        return None;
    }
    let conditions = specs.iter().flat_map(|s| s.conditions.iter()).all(|c| admits(c, parent, child))
        && specs.iter().flat_map(|s| s.multiple.iter()).all(|m| {
            let naming: Vec<&Condition> = m.conditions.iter().map(|(_, c)| c).filter(|c| names_flow(c)).collect();
            naming.is_empty() || naming.iter().any(|c| admits(c, parent, child))
        });
    let preconditions = specs.iter().any(|s| {
        let pre = s.preconditions.as_ref().is_none_or(|p| {
            p.flows
                .iter()
                .any(|u| u.namespace == parent.namespace && u.flow_id.as_deref().is_none_or(|f| f == parent.id))
        });
        let depends = s.depends_on.as_ref().is_none_or(|d| {
            d.entries.is_empty()
                || d.entries.iter().any(|e| {
                    e.namespace.as_deref().is_none_or(|n| n == parent.namespace)
                        && e.flow_id.as_deref().is_none_or(|f| f == parent.id)
                })
        });
        pre && depends
    });
    (conditions && preconditions).then_some(Relation::FlowTrigger)
}

/// Whether a condition says which upstream flow or namespace it reacts to.
fn names_flow(c: &Condition) -> bool {
    matches!(c, Condition::ExecutionFlow { .. } | Condition::ExecutionNamespace { .. })
}

/// Whether condition `c` of `child`'s trigger admits executions of `parent`
/// (a condition on anything else is a filter: it admits).
fn admits(c: &Condition, parent: &Flow, child: &Flow) -> bool {
    match c {
        Condition::ExecutionFlow { namespace, flow_id } => {
            fixed(namespace).is_none_or(|n| n == parent.namespace) && fixed(flow_id).is_none_or(|f| f == parent.id)
        }
        Condition::ExecutionNamespace { namespace, comparison } => match comparison {
            Comparison::Equals => parent.namespace == *namespace,
            Comparison::Prefix => parent.namespace.starts_with(namespace.as_str()),
            Comparison::Suffix => parent.namespace.ends_with(namespace.as_str()),
        },
        Condition::Flow { namespace, flow_id } => child.namespace == *namespace && child.id == *flow_id,
        Condition::FlowNamespace { namespace, prefix } => match (fixed(namespace), prefix) {
            (Some(n), Prop::Fixed(true)) => super::query::in_namespace(&child.namespace, n),
            (Some(n), _) => child.namespace == n,
            (None, _) => true,
        },
        Condition::Or { conditions } => conditions.iter().any(|c| admits(c, parent, child)),
        _ => true,
    }
}

/// Every edge between two of `flows` (source, target, relation).
pub fn edges(flows: &[Arc<Flow>]) -> Vec<(usize, usize, Relation)> {
    let mut out = Vec::new();
    for (i, p) in flows.iter().enumerate() {
        for (j, c) in flows.iter().enumerate() {
            if let Some(r) = relation(p, c) {
                out.push((i, j, r));
            }
        }
    }
    out
}

/// The edges reachable from flow `start`: the direct ones (outgoing only
/// with `destination_only`), or all transitively with `expand_all`.
pub fn reachable(
    all: &[(usize, usize, Relation)],
    start: usize,
    destination_only: bool,
    expand_all: bool,
) -> BTreeSet<(usize, usize, Relation)> {
    let mut seen = BTreeSet::from([start]);
    let mut queue = VecDeque::from([start]);
    let mut out = BTreeSet::new();
    while let Some(n) = queue.pop_front() {
        for &(a, b, r) in all {
            let next = if a == n {
                b
            } else if b == n && !destination_only {
                a
            } else {
                continue;
            };
            out.insert((a, b, r));
            if expand_all && seen.insert(next) {
                queue.push_back(next);
            }
        }
    }
    out
}

fn node(f: &Flow) -> Value {
    json!({"uid": format!("main_{}_{}", f.namespace, f.id), "tenantId": "main", "namespace": f.namespace, "id": f.id})
}

async fn dependencies(
    State(s): State<ApiState>,
    Path((namespace, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let p =
        Params::parse(raw.as_deref(), "GET /flows/{namespace}/{id}/dependencies", &["destinationOnly", "expandAll"])?;
    let (destination_only, expand_all) = (p.flag("destinationOnly", false)?, p.flag("expandAll", false)?);
    let this = s.host.flow(&namespace, &id).await?;
    let mut flows = s.host.flows().await?;
    let start = match flows.iter().position(|f| f.namespace == namespace && f.id == id) {
        Some(i) => i,
        None => {
            flows.push(this);
            flows.len() - 1
        }
    };
    let edges = reachable(&edges(&flows), start, destination_only, expand_all);
    let mut nodes = BTreeMap::new();
    for &(a, b, _) in &edges {
        for i in [a, b] {
            nodes.entry(i).or_insert_with(|| node(&flows[i]));
        }
    }
    let uid = |i: usize| format!("main_{}_{}", flows[i].namespace, flows[i].id);
    Ok(Json(json!({
        "nodes": nodes.into_values().collect::<Vec<_>>(),
        "edges": edges.iter().map(|&(a, b, r)| json!({"source": uid(a), "target": uid(b), "relation": r.name()})).collect::<Vec<_>>(),
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::Registry;
    use crate::template::Renderer;

    fn flow(src: &str) -> Arc<Flow> {
        let registry = Registry::builtin();
        let renderer = Renderer::new();
        match crate::runtime::flows::parse_flow("test", src, &registry, &renderer) {
            Ok(f) => Arc::new(f),
            Err(d) => panic!("{d:?}"),
        }
    }

    const LOG: &str = "  - id: l\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n";

    #[test]
    fn subflow_calls_and_flow_triggers_are_relations_filters_are_not() {
        let parent = flow(
            "id: parent\nnamespace: a.b\ntasks:\n  - id: call\n    type: io.kestra.plugin.core.flow.Subflow\n    namespace: a.b\n    flowId: child\n",
        );
        let child = flow(&format!("id: child\nnamespace: a.b\ntasks:\n{LOG}"));
        let on_parent = flow(&format!(
            "id: after\nnamespace: z\ntasks:\n{LOG}triggers:\n  - id: t\n    type: io.kestra.plugin.core.trigger.Flow\n    conditions:\n      - type: io.kestra.plugin.core.condition.ExecutionFlow\n        namespace: a.b\n        flowId: parent\n      - type: io.kestra.plugin.core.condition.ExecutionStatus\n        in: [SUCCESS]\n"
        ));
        let on_ns = flow(&format!(
            "id: ns\nnamespace: z\ntasks:\n{LOG}triggers:\n  - id: t\n    type: io.kestra.plugin.core.trigger.Flow\n    preconditions:\n      id: p\n      flows:\n        - namespace: a.b\n"
        ));
        let on_all = flow(&format!(
            "id: all\nnamespace: z\ntasks:\n{LOG}triggers:\n  - id: t\n    type: io.kestra.plugin.core.trigger.Flow\n"
        ));
        assert_eq!(relation(&parent, &child), Some(Relation::FlowTask));
        assert_eq!(relation(&child, &parent), None);
        assert_eq!(relation(&parent, &on_parent), Some(Relation::FlowTrigger));
        assert_eq!(relation(&child, &on_parent), None, "ExecutionFlow names parent only");
        assert_eq!(relation(&child, &on_ns), Some(Relation::FlowTrigger), "preconditions on the namespace");
        assert_eq!(relation(&on_parent, &on_ns), None, "z is not a.b");
        assert_eq!(relation(&child, &on_all), Some(Relation::FlowTrigger), "no condition: every flow");
        assert_eq!(relation(&on_all, &on_all), None, "no self link");
    }

    #[test]
    fn reachable_edges_are_direct_or_transitive_and_one_way_when_asked() {
        // 0 -> 1 -> 2, 3 -> 0
        let all = vec![(0, 1, Relation::FlowTask), (1, 2, Relation::FlowTrigger), (3, 0, Relation::FlowTask)];
        let direct = reachable(&all, 0, false, false);
        assert_eq!(direct.len(), 2, "{direct:?}");
        assert!(direct.contains(&(3, 0, Relation::FlowTask)) && direct.contains(&(0, 1, Relation::FlowTask)));
        assert_eq!(reachable(&all, 0, true, false).len(), 1, "destinationOnly: what it leads to");
        assert_eq!(reachable(&all, 0, false, true).len(), 3, "expandAll: the whole chain");
        assert_eq!(reachable(&all, 0, true, true).len(), 2);
    }
}
