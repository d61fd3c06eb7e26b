//! The built graph as Kestra's `FlowGraph` JSON: nodes flattened depth
//! first (each once), every cluster's edges, and the clusters below the
//! flow's root with their parents.

use serde_json::{Map, Value, json};

use super::build::{Cluster, Graph, Member, NodeKind, Relation};

const PKG: &str = "io.kestra.core.models.hierarchies";

pub fn to_json(g: &Graph, for_execution: bool) -> Value {
    let mut nodes = Vec::new();
    let mut seen = vec![false; g.nodes.len()];
    flatten(g, 0, &mut seen, &mut nodes);
    let nodes: Vec<Value> = nodes.into_iter().map(|n| node_json(g, n, for_execution)).collect();
    let mut edges = Vec::new();
    edges_of(g, 0, &mut edges);
    let mut clusters = Vec::new();
    clusters_of(g, 0, &[], for_execution, &mut clusters);
    json!({"nodes": nodes, "edges": edges, "clusters": clusters})
}

fn flatten(g: &Graph, c: usize, seen: &mut [bool], out: &mut Vec<usize>) {
    for m in &g.clusters[c].members {
        match *m {
            Member::Node(n) if !seen[n] => {
                seen[n] = true;
                out.push(n);
            }
            Member::Node(_) => {}
            Member::Cluster(k) => flatten(g, k, seen, out),
        }
    }
}

fn relation_json(r: &Relation) -> Value {
    let mut m = Map::new();
    if let Some(t) = r.relation_type {
        m.insert("relationType".into(), json!(t));
    }
    if let Some(v) = &r.value {
        m.insert("value".into(), json!(v));
    }
    Value::Object(m)
}

fn edges_of(g: &Graph, c: usize, out: &mut Vec<Value>) {
    let cl = &g.clusters[c];
    for (from, to, rel) in &cl.edges {
        out.push(json!({"source": g.nodes[*from].uid, "target": g.nodes[*to].uid, "relation": relation_json(rel)}));
    }
    for m in &cl.members {
        if let Member::Cluster(k) = *m {
            edges_of(g, k, out);
        }
    }
}

fn cluster_uid(cl: &Cluster) -> String {
    format!("cluster_{}", cl.uid)
}

fn clusters_of(g: &Graph, c: usize, parents: &[String], for_execution: bool, out: &mut Vec<Value>) {
    for m in &g.clusters[c].members {
        let Member::Cluster(k) = *m else { continue };
        let cl = &g.clusters[k];
        let mut cluster = Map::new();
        cluster.insert("uid".into(), json!(cluster_uid(cl)));
        let kind = if cl.subflow { "SubflowGraphCluster" } else { "GraphCluster" };
        cluster.insert("type".into(), json!(format!("{PKG}.{kind}")));
        if let Some(t) = cl.relation_type {
            cluster.insert("relationType".into(), json!(t));
        }
        if let Some(b) = cl.branch_type {
            cluster.insert("branchType".into(), json!(b));
        }
        if let (Some(t), false) = (cl.task_node, for_execution) {
            cluster.insert("taskNode".into(), node_json(g, t, false));
        }
        let nodes: Vec<String> = cl
            .members
            .iter()
            .map(|m| match *m {
                Member::Node(n) => g.nodes[n].uid.clone(),
                Member::Cluster(k) => cluster_uid(&g.clusters[k]),
            })
            .collect();
        out.push(json!({
            "cluster": cluster,
            "nodes": nodes,
            "parents": parents,
            "start": g.nodes[cl.root].uid,
            "end": g.nodes[cl.end].uid,
        }));
        let mut inner = parents.to_vec();
        inner.push(cluster_uid(cl));
        clusters_of(g, k, &inner, for_execution, out);
    }
}

fn node_json(g: &Graph, n: usize, for_execution: bool) -> Value {
    let node = &g.nodes[n];
    let mut m = Map::new();
    m.insert("uid".into(), json!(node.uid));
    let kind = match &node.kind {
        NodeKind::Root => "GraphClusterRoot",
        NodeKind::Finally => "GraphClusterFinally",
        NodeKind::AfterExecution => "GraphClusterAfterExecution",
        NodeKind::End => "GraphClusterEnd",
        NodeKind::Task { subflow: true, .. } => "SubflowGraphTask",
        NodeKind::Task { .. } => "GraphTask",
        NodeKind::Trigger { .. } => "GraphTrigger",
    };
    m.insert("type".into(), json!(format!("{PKG}.{kind}")));
    if let Some(b) = node.branch_type {
        m.insert("branchType".into(), json!(b));
    }
    match &node.kind {
        NodeKind::Task { task, relation_type, task_run, values, .. } => {
            let task = if for_execution { task_for_execution(task) } else { task.clone() };
            m.insert("task".into(), task);
            if let Some(r) = task_run {
                m.insert("taskRun".into(), serde_json::to_value(r).unwrap_or(Value::Null));
            }
            if let Some(v) = values {
                m.insert("values".into(), json!(v));
            }
            m.insert("relationType".into(), json!(relation_type));
        }
        NodeKind::Trigger { declaration, state } => {
            let decl = if for_execution {
                json!({"id": declaration.get("id"), "type": declaration.get("type")})
            } else {
                declaration.clone()
            };
            m.insert("triggerDeclaration".into(), decl);
            if let Some(s) = state {
                m.insert("trigger".into(), s.clone());
            }
        }
        _ => {}
    }
    Value::Object(m)
}

/// Kestra's `TaskForExecution`: id, type, child tasks (every branch,
/// errors and finally), a Subflow's `subflowId`, a Pause's `onResume`
/// inputs.
pub fn task_for_execution(task: &Value) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), task.get("id").cloned().unwrap_or(Value::Null));
    m.insert("type".into(), task.get("type").cloned().unwrap_or(Value::Null));
    let mut children = Vec::new();
    for k in ["tasks", "then", "else", "defaults", "errors", "finally"] {
        if let Some(list) = task.get(k).and_then(Value::as_array) {
            children.extend(list.iter().map(task_for_execution));
        }
    }
    if let Some(cases) = task.get("cases").and_then(Value::as_object) {
        for list in cases.values().filter_map(Value::as_array) {
            children.extend(list.iter().map(task_for_execution));
        }
    }
    if !children.is_empty() {
        m.insert("tasks".into(), Value::Array(children));
    }
    if let Some(inputs) = task.get("onResume") {
        m.insert("inputs".into(), inputs.clone());
    }
    let t = task.get("type").and_then(Value::as_str).unwrap_or("");
    if t.ends_with(".Subflow") || t.ends_with("flows.Flow") || t == "io.kestra.plugin.core.flow.Flow" {
        let mut id = Map::new();
        id.insert("namespace".into(), task.get("namespace").cloned().unwrap_or(Value::Null));
        id.insert("flowId".into(), task.get("flowId").cloned().unwrap_or(Value::Null));
        if let Some(r) = task.get("revision") {
            id.insert("revision".into(), r.clone());
        }
        m.insert("subflowId".into(), Value::Object(id));
    }
    Value::Object(m)
}
