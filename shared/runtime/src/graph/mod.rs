//! Kestra's flow graph (`FlowGraph`): what `GET /flows/{ns}/{id}/graph`,
//! `POST /flows/graph` and `GET /executions/{id}/graph` answer and what the
//! UI's topology draws. Pure: built from a parsed [`Flow`] (and, for an
//! execution, its task runs), no I/O; the caller passes in what needs I/O
//! (trigger states, the flows of expanded subflows) and the id generator.
//!
//! The JSON is Kestra 1.x's: `{nodes, edges, clusters}` where
//! - a node is `{uid, type, …}` with `type` the Java class name
//!   (`io.kestra.core.models.hierarchies.GraphTask`, `SubflowGraphTask`,
//!   `GraphTrigger`, `GraphClusterRoot`, `GraphClusterEnd`,
//!   `GraphClusterFinally`, `GraphClusterAfterExecution`), a task node with
//!   `task`, `relationType`, and with an execution `taskRun` and `values`
//!   (the iteration values of its parents and itself, also appended to its
//!   uid as `_value`);
//! - uids are dotted paths from `root` (`root.parallel.t1`), a cluster's
//!   `cluster_root.parallel`, the start and end of a cluster `…root-<id>`
//!   and `…end-<id>`;
//! - an edge is `{source, target, relation: {relationType, value}}`;
//! - a cluster is `{cluster: {uid, type, relationType, taskNode,
//!   branchType}, nodes, parents, start, end}` for every flowable task
//!   (Sequential, Parallel, If, Switch, ForEach, EachSequential,
//!   EachParallel, WorkingDirectory), the `Triggers` and each expanded
//!   Subflow (`SubflowGraphCluster`); the flow's own root cluster is not
//!   listed, as in Kestra.
//!
//! The construction follows Kestra's `GraphUtils` rules: the first task of
//! a branch carries the cluster's relation type, later ones the branch's;
//! Parallel and Switch/If children each link to the cluster's end; `errors`
//! start from the cluster's root (ERROR), `finally` and the flow's
//! `afterExecution` run after everything else (FINALLY, AFTER_EXECUTION)
//! and are dropped, edges re-linked, when empty. Edge order is insertion
//! order (Kestra's is a hash set's: unordered).

mod build;
mod json;
#[cfg(test)]
mod tests;

use std::collections::HashMap;

use serde::Serialize;
use serde_json::Value;

use crate::model::{Execution, Flow};

pub use build::GraphError;
pub use json::task_for_execution;

/// Kestra's `RelationType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RelationType {
    Sequential,
    Choice,
    Error,
    Finally,
    AfterExecution,
    Parallel,
    Dynamic,
}

/// Kestra's `AbstractGraph.BranchType`: which alternative path a node is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BranchType {
    Error,
    Finally,
    AfterExecution,
}

/// What a graph is built from besides the flow.
#[derive(Default)]
pub struct GraphInput<'a> {
    /// The execution whose task runs the nodes carry (execution graph).
    pub execution: Option<&'a Execution>,
    /// Trigger states (Kestra's `Trigger` JSON) by trigger id.
    pub trigger_states: HashMap<String, Value>,
    /// Uids of Subflow task nodes to expand (`subflows` query parameter).
    pub expand: Vec<String>,
    /// The flows those subflows call, by `namespace.flowId`.
    pub subflows: HashMap<String, Flow>,
    /// The execution graph's shape: tasks reduced to `{id, type, tasks…}`,
    /// triggers to `{id, type}`, clusters without their task node (Kestra's
    /// `FlowGraph.forExecution`).
    pub for_execution: bool,
}

/// The flow graph as Kestra's JSON, with fresh random ids for the
/// clusters' start and end nodes.
pub fn flow_graph(flow: &Flow, input: &GraphInput) -> Result<Value, GraphError> {
    let mut ids = crate::model::ids::new_id;
    flow_graph_with_ids(flow, input, &mut ids)
}

/// [`flow_graph`] with the ids of start and end nodes from `new_id`
/// (deterministic in tests).
pub fn flow_graph_with_ids(
    flow: &Flow,
    input: &GraphInput,
    new_id: &mut dyn FnMut() -> String,
) -> Result<Value, GraphError> {
    let graph = build::Builder::build(flow, input, new_id)?;
    Ok(json::to_json(&graph, input.for_execution))
}

/// `namespace.flowId`, how [`GraphInput::subflows`] is keyed.
pub fn flow_key(namespace: &str, id: &str) -> String {
    format!("{namespace}.{id}")
}
