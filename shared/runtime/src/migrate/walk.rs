//! Finding the parts of a flow the rules work on: every task (with the
//! flowable tasks and 1.x loops around it), every trigger, every typed
//! plugin mapping, and the scalars that belong to one task rather than to
//! its children.

use super::tree::{Kind, Node};

/// The keys of a task (or of the flow) that hold child task lists.
pub const TASK_LIST_KEYS: &[&str] = &["tasks", "then", "else", "errors", "finally", "afterExecution", "defaults"];

/// The 1.x iteration types (old and new names) that 2.0 replaces by `Loop`.
pub const LOOP_TYPES: &[&str] = &[
    "io.kestra.plugin.core.flow.ForEach",
    "io.kestra.plugin.core.flow.EachSequential",
    "io.kestra.plugin.core.flow.EachParallel",
    "io.kestra.core.tasks.flows.ForEach",
    "io.kestra.core.tasks.flows.EachSequential",
    "io.kestra.core.tasks.flows.EachParallel",
];

/// Whether `t` is a 1.x iteration task.
pub fn is_loop(t: &Node) -> bool {
    t.get_str("type").is_some_and(|ty| LOOP_TYPES.contains(&ty))
}

/// One task with what surrounds it.
#[derive(Clone)]
pub struct TaskAt<'a> {
    pub node: &'a Node,
    /// The flowable tasks around it, outermost first.
    pub parents: Vec<&'a Node>,
}

impl<'a> TaskAt<'a> {
    /// The 1.x loops around this task, outermost first.
    pub fn loops(&self) -> Vec<&'a Node> {
        self.parents.iter().copied().filter(|p| is_loop(p)).collect()
    }
}

/// Whether `n` is a list of tasks (mappings with a `type`).
fn is_task_list(n: &Node) -> bool {
    !n.items().is_empty() && n.items().iter().all(|t| t.is_map() && t.get("type").is_some())
}

/// The child task lists of a task (or of the flow's root).
pub fn child_lists(t: &Node) -> Vec<&Node> {
    let mut out = Vec::new();
    for (k, v) in t.entries() {
        let Some(key) = k.str() else { continue };
        if TASK_LIST_KEYS.contains(&key) && is_task_list(v) {
            out.push(v);
        } else if key == "cases" && v.is_map() {
            out.extend(v.entries().iter().map(|(_, l)| l).filter(|l| is_task_list(l)));
        }
    }
    out
}

/// Every task of the flow, depth first, in source order.
pub fn tasks(root: &Node) -> Vec<TaskAt<'_>> {
    let mut out = Vec::new();
    for list in child_lists(root) {
        for t in list.items() {
            visit(t, &mut Vec::new(), &mut out);
        }
    }
    out
}

fn visit<'a>(t: &'a Node, parents: &mut Vec<&'a Node>, out: &mut Vec<TaskAt<'a>>) {
    out.push(TaskAt { node: t, parents: parents.clone() });
    let lists = child_lists(t);
    if lists.is_empty() {
        return;
    }
    parents.push(t);
    for l in lists {
        for c in l.items() {
            visit(c, parents, out);
        }
    }
    parents.pop();
}

/// The triggers of the flow.
pub fn triggers(root: &Node) -> &[Node] {
    root.get("triggers").map(Node::items).unwrap_or(&[])
}

/// The scalars that belong to task `t` itself (not to its child tasks).
pub fn own_scalars(t: &Node) -> Vec<&Node> {
    let children: Vec<*const Node> = child_lists(t).into_iter().map(|n| n as *const Node).collect();
    let mut out = Vec::new();
    for (k, v) in t.entries() {
        if children.contains(&(v as *const Node)) {
            continue;
        }
        if k.str() == Some("cases") && v.is_map() {
            continue;
        }
        v.scalars(&mut out);
    }
    out
}

/// Every mapping with a `type` under tasks and triggers (tasks, triggers,
/// task runners, conditions…), in source order.
pub fn typed_maps(root: &Node) -> Vec<&Node> {
    let mut out = Vec::new();
    for key in ["tasks", "errors", "finally", "afterExecution", "triggers"] {
        if let Some(n) = root.get(key) {
            collect_typed(n, &mut out);
        }
    }
    out
}

fn collect_typed<'a>(n: &'a Node, out: &mut Vec<&'a Node>) {
    match &n.kind {
        Kind::Map(entries) => {
            if n.get_str("type").is_some() {
                out.push(n);
            }
            for (_, v) in entries {
                collect_typed(v, out);
            }
        }
        Kind::Seq(items) => items.iter().for_each(|i| collect_typed(i, out)),
        Kind::Scalar { .. } => {}
    }
}
