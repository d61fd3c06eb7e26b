//! Builds the cluster tree of a flow graph: nodes, the clusters that own
//! them and each cluster's edges, following Kestra's `GraphUtils` rules
//! (see the module header of [`super`]).

use serde_json::{Map, Value, json};

use super::{BranchType, GraphInput, RelationType, flow_key};
use crate::model::flow::Children;
use crate::model::types::FlowableKind;
use crate::model::{Execution, Flow, Task, TaskRun};

/// Why a graph cannot be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GraphError {
    /// An expanded Subflow names its flow with a template.
    #[error(
        "Can't expand subflow task '{task}' because namespace and/or flowId contains dynamic values. This can only be viewed on an execution."
    )]
    DynamicSubflow { task: String },
    /// An expanded Subflow's flow is not in [`GraphInput::subflows`]: the
    /// caller loads `namespace.flow_id` and builds again (or answers 404).
    #[error("Unable to find subflow {namespace}.{flow_id} for task {task}")]
    SubflowMissing { namespace: String, flow_id: String, task: String },
}

/// A relation on an edge.
#[derive(Debug, Clone, PartialEq)]
pub struct Relation {
    pub relation_type: Option<RelationType>,
    pub value: Option<String>,
}

impl Relation {
    fn none() -> Relation {
        Relation { relation_type: None, value: None }
    }
}

/// What a node is.
#[derive(Debug, Clone)]
pub enum NodeKind {
    Root,
    Finally,
    AfterExecution,
    End,
    Task {
        task: Value,
        relation_type: RelationType,
        task_run: Option<Box<TaskRun>>,
        values: Option<Vec<String>>,
        subflow: bool,
    },
    Trigger {
        declaration: Value,
        state: Option<Value>,
    },
}

/// One node: its full uid (values appended for a task node).
#[derive(Debug, Clone)]
pub struct Node {
    pub uid: String,
    pub kind: NodeKind,
    pub branch_type: Option<BranchType>,
}

/// A member of a cluster's graph, in insertion order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Member {
    Node(usize),
    Cluster(usize),
}

/// A cluster: a flowable task's sub-graph, the triggers, an expanded
/// subflow, or the flow itself (cluster 0).
#[derive(Debug, Clone)]
pub struct Cluster {
    /// Without Kestra's `cluster_` prefix.
    pub uid: String,
    pub relation_type: Option<RelationType>,
    pub task_node: Option<usize>,
    pub root: usize,
    pub finally: usize,
    pub after_execution: Option<usize>,
    pub end: usize,
    pub members: Vec<Member>,
    pub edges: Vec<(usize, usize, Relation)>,
    pub branch_type: Option<BranchType>,
    pub subflow: bool,
}

/// The whole graph: cluster 0 is the flow's root cluster.
pub struct Graph {
    pub nodes: Vec<Node>,
    pub clusters: Vec<Cluster>,
}

/// An edge end: a node, or a cluster entered at its root / left at its end.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Item {
    Node(usize),
    Cluster(usize),
}

pub struct Builder<'a, 'b> {
    input: &'a GraphInput<'a>,
    new_id: &'b mut dyn FnMut() -> String,
    g: Graph,
}

impl<'a, 'b> Builder<'a, 'b> {
    pub fn build(
        flow: &Flow,
        input: &'a GraphInput<'a>,
        new_id: &'b mut dyn FnMut() -> String,
    ) -> Result<Graph, GraphError> {
        let mut b = Builder { input, new_id, g: Graph { nodes: Vec::new(), clusters: Vec::new() } };
        let root = b.cluster("root", None, None, true);
        b.flow_into(root, flow, input.execution, "root")?;
        Ok(b.g)
    }

    fn node(&mut self, uid: String, kind: NodeKind) -> usize {
        self.g.nodes.push(Node { uid, kind, branch_type: None });
        self.g.nodes.len() - 1
    }

    /// A new cluster `uid` with its start, finally (and, for a flow,
    /// afterExecution) and end nodes.
    fn cluster(
        &mut self,
        uid: &str,
        relation_type: Option<RelationType>,
        task_node: Option<usize>,
        flow: bool,
    ) -> usize {
        let id = (self.new_id)();
        let root = self.node(format!("{uid}.root-{id}"), NodeKind::Root);
        let id = (self.new_id)();
        let finally = self.node(format!("{uid}.finally-{id}"), NodeKind::Finally);
        let after_execution = flow.then(|| {
            let id = (self.new_id)();
            self.node(format!("{uid}.after-execution-{id}"), NodeKind::AfterExecution)
        });
        let id = (self.new_id)();
        let end = self.node(format!("{uid}.end-{id}"), NodeKind::End);
        let mut members = vec![Member::Node(root), Member::Node(finally)];
        members.extend(after_execution.map(Member::Node));
        members.push(Member::Node(end));
        self.g.clusters.push(Cluster {
            uid: uid.to_string(),
            relation_type,
            task_node,
            root,
            finally,
            after_execution,
            end,
            members,
            edges: Vec::new(),
            branch_type: None,
            subflow: false,
        });
        let c = self.g.clusters.len() - 1;
        match after_execution {
            Some(a) => {
                self.edge(c, Item::Node(finally), Item::Node(a), Relation::none());
                self.edge(c, Item::Node(a), Item::Node(end), Relation::none());
            }
            None => self.edge(c, Item::Node(finally), Item::Node(end), Relation::none()),
        }
        if let Some(t) = task_node {
            self.g.clusters[c].members.push(Member::Node(t));
            self.edge(c, Item::Node(root), Item::Node(t), Relation::none());
        }
        c
    }

    /// Adds an edge in cluster `c`, its ends joining the cluster's graph.
    fn edge(&mut self, c: usize, from: Item, to: Item, relation: Relation) {
        let from = match from {
            Item::Node(n) => n,
            Item::Cluster(k) => self.g.clusters[k].end,
        };
        let to = match to {
            Item::Node(n) => n,
            Item::Cluster(k) => self.g.clusters[k].root,
        };
        let cl = &mut self.g.clusters[c];
        for n in [from, to] {
            if !cl.members.contains(&Member::Node(n)) {
                cl.members.push(Member::Node(n));
            }
        }
        cl.edges.retain(|(f, t, _)| !(*f == from && *t == to));
        cl.edges.push((from, to, relation));
    }

    /// The triggers, tasks, errors, finally and afterExecution of `flow`
    /// into cluster `c` (the flow's root, or an expanded subflow's).
    fn flow_into(&mut self, c: usize, flow: &Flow, exec: Option<&Execution>, prefix: &str) -> Result<(), GraphError> {
        if !flow.triggers.is_empty() {
            let t = self.triggers(flow, prefix, c == 0);
            self.g.clusters[c].members.push(Member::Cluster(t));
            let root = self.g.clusters[c].root;
            self.edge(c, Item::Cluster(t), Item::Node(root), Relation::none());
        }
        let raw = crate::yaml::parse(&flow.source).map(|(v, _)| v).unwrap_or(Value::Null);
        self.fill(c, &flow.tasks, raw.get("tasks"), RelationType::Sequential, None, exec, None, prefix)?;
        self.alternatives(c, &flow.errors, raw.get("errors"), &flow.finally, raw.get("finally"), None, exec, prefix)?;
        if !flow.after_execution.is_empty() && self.g.clusters[c].after_execution.is_some() {
            let raw_after = raw.get("afterExecution");
            self.fill(c, &flow.after_execution, raw_after, RelationType::AfterExecution, None, exec, None, prefix)?;
        } else {
            self.remove_after_execution(c);
        }
        Ok(())
    }

    fn triggers(&mut self, flow: &Flow, prefix: &str, with_state: bool) -> usize {
        let uid = format!("{prefix}.Triggers");
        let c = self.cluster(&uid, None, None, false);
        let raw = crate::yaml::parse(&flow.source).map(|(v, _)| v).unwrap_or(Value::Null);
        for (i, t) in flow.triggers.iter().enumerate() {
            let declaration = raw
                .get("triggers")
                .and_then(|l| l.get(i))
                .filter(|v| v.get("id").and_then(Value::as_str) == Some(&t.id))
                .cloned()
                .unwrap_or_else(|| json!({"id": t.id, "type": t.type_}));
            let state = if with_state { self.input.trigger_states.get(&t.id).cloned() } else { None };
            let n = self.node(format!("{uid}.{}", t.id), NodeKind::Trigger { declaration, state });
            self.g.clusters[c].members.push(Member::Node(n));
            let (root, end) = (self.g.clusters[c].root, self.g.clusters[c].end);
            self.edge(c, Item::Node(root), Item::Node(n), Relation::none());
            self.edge(c, Item::Node(n), Item::Node(end), Relation::none());
        }
        self.remove_finally(c);
        c
    }

    /// `errors` then `finally` of cluster `c` (Kestra's `fillAlternativePaths`).
    #[allow(clippy::too_many_arguments)]
    fn alternatives(
        &mut self,
        c: usize,
        errors: &[Task],
        raw_errors: Option<&Value>,
        finally: &[Task],
        raw_finally: Option<&Value>,
        parent: Option<&TaskRun>,
        exec: Option<&Execution>,
        prefix: &str,
    ) -> Result<(), GraphError> {
        if !errors.is_empty() {
            self.fill(c, errors, raw_errors, RelationType::Error, parent, exec, None, prefix)?;
        }
        if !finally.is_empty() {
            self.fill(c, finally, raw_finally, RelationType::Finally, parent, exec, None, prefix)?;
        } else {
            self.remove_finally(c);
        }
        Ok(())
    }

    /// Re-links edges into `node` to `to`, then drops `node` and its edges.
    fn bypass(&mut self, c: usize, node: usize, to: usize) {
        let cl = &mut self.g.clusters[c];
        let incoming: Vec<(usize, Relation)> =
            cl.edges.iter().filter(|(_, t, _)| *t == node).map(|(f, _, r)| (*f, r.clone())).collect();
        cl.edges.retain(|(f, t, _)| *f != node && *t != node);
        cl.members.retain(|m| *m != Member::Node(node));
        for (from, relation) in incoming {
            self.edge(c, Item::Node(from), Item::Node(to), relation);
        }
    }

    fn remove_finally(&mut self, c: usize) {
        let cl = &self.g.clusters[c];
        let (finally, next) = (cl.finally, cl.after_execution.unwrap_or(cl.end));
        if cl.members.contains(&Member::Node(finally)) {
            self.bypass(c, finally, next);
        }
    }

    fn remove_after_execution(&mut self, c: usize) {
        let cl = &self.g.clusters[c];
        if let Some(a) = cl.after_execution
            && cl.members.contains(&Member::Node(a))
        {
            let end = cl.end;
            self.bypass(c, a, end);
        }
    }

    /// Kestra's `fillGraph`: `tasks` into cluster `c` on a branch of type
    /// `relation_type` (`value`: the Switch case or If branch).
    #[allow(clippy::too_many_arguments)]
    fn fill(
        &mut self,
        c: usize,
        tasks: &[Task],
        raw: Option<&Value>,
        relation_type: RelationType,
        parent: Option<&TaskRun>,
        exec: Option<&Execution>,
        value: Option<&str>,
        prefix: &str,
    ) -> Result<(), GraphError> {
        let cl = &self.g.clusters[c];
        let cluster_relation = cl.relation_type;
        let mut previous = Item::Node(cl.task_node.unwrap_or(cl.root));
        // after the branch: finally's tasks lead to afterExecution (flow) or
        // the end; every other branch leads to finally
        let (after, next) = match relation_type {
            RelationType::Finally => (cl.finally, cl.after_execution.unwrap_or(cl.end)),
            RelationType::AfterExecution => (cl.after_execution.unwrap_or(cl.end), cl.end),
            _ => (cl.finally, cl.finally),
        };
        if matches!(relation_type, RelationType::Finally | RelationType::AfterExecution) {
            previous = Item::Node(after);
            self.g.clusters[c].edges.retain(|(f, t, _)| !(*f == after && *t == next));
        }
        let link_all = matches!(relation_type, RelationType::Parallel | RelationType::Choice);
        let mut first = true;
        for (i, task) in tasks.iter().enumerate() {
            // a Dag's entries wrap their task: `{task, dependsOn}`
            let raw_task = raw
                .and_then(|r| r.get(i))
                .map(|r| if r.get("type").is_none() { r.get("task").unwrap_or(r) } else { r });
            let last = i + 1 == tasks.len();
            for run in task_runs(task, exec, parent) {
                let mut rel = cluster_relation;
                if relation_type == RelationType::Error
                    || (!first
                        && relation_type != RelationType::Parallel
                        && cluster_relation != Some(RelationType::Dynamic))
                {
                    rel = Some(relation_type);
                }
                let relation =
                    Relation { relation_type: rel, value: run.map_or(value.map(str::to_string), |r| r.value.clone()) };
                let values = match (exec, run) {
                    (Some(e), Some(r)) => Some(parent_values(e, r)),
                    _ => None,
                };
                let current = self.task(task, raw_task, run, values, relation_type, exec, prefix)?;
                match current {
                    Item::Node(n) => self.g.clusters[c].members.push(Member::Node(n)),
                    Item::Cluster(k) => self.g.clusters[c].members.push(Member::Cluster(k)),
                }
                let branch = match relation_type {
                    RelationType::Error => Some(BranchType::Error),
                    RelationType::Finally => Some(BranchType::Finally),
                    RelationType::AfterExecution => Some(BranchType::AfterExecution),
                    _ => None,
                };
                if let Some(b) = branch {
                    self.set_branch(current, b);
                }
                if relation_type == RelationType::Error && first {
                    previous = Item::Node(self.g.clusters[c].root);
                }
                self.edge(c, previous, current, relation);
                if relation_type != RelationType::Parallel {
                    previous = current;
                }
                if link_all || last {
                    self.edge(c, current, Item::Node(next), Relation::none());
                }
                first = false;
            }
        }
        Ok(())
    }

    fn set_branch(&mut self, item: Item, b: BranchType) {
        match item {
            Item::Node(n) => self.g.nodes[n].branch_type = Some(b),
            Item::Cluster(k) => {
                let cl = &mut self.g.clusters[k];
                cl.branch_type = Some(b);
                let ids = [cl.task_node, Some(cl.root), Some(cl.end)];
                for n in ids.into_iter().flatten() {
                    self.g.nodes[n].branch_type = Some(b);
                }
            }
        }
    }

    /// The node, or the cluster, of one run of `task`.
    #[allow(clippy::too_many_arguments)]
    fn task(
        &mut self,
        task: &Task,
        raw: Option<&Value>,
        run: Option<&TaskRun>,
        values: Option<Vec<String>>,
        relation_type: RelationType,
        exec: Option<&Execution>,
        prefix: &str,
    ) -> Result<Item, GraphError> {
        let path = format!("{prefix}.{}", task.id);
        let uid = match values.as_deref() {
            Some(v) if !v.is_empty() => format!("{path}_{}", v.join("_")),
            _ => path.clone(),
        };
        let subflow = task.flowable_kind() == Some(FlowableKind::Subflow);
        let kind = |relation_type| NodeKind::Task {
            task: task_json(task, raw),
            relation_type,
            task_run: run.cloned().map(Box::new),
            values: values.clone(),
            subflow,
        };
        // a Pause without child tasks is one node, as in Kestra
        let lone_pause = task.flowable_kind() == Some(FlowableKind::Pause) && task.all_children().is_empty();
        let Some(flowable) = task.flowable_kind().filter(|_| !subflow && !lone_pause) else {
            let n = self.node(uid.clone(), kind(relation_type));
            if subflow && self.input.expand.contains(&uid) {
                return self.expand_subflow(task, n, &uid).map(Item::Cluster);
            }
            return Ok(Item::Node(n));
        };
        let cluster_relation = match flowable {
            FlowableKind::Parallel => RelationType::Parallel,
            FlowableKind::If | FlowableKind::Switch => RelationType::Choice,
            FlowableKind::ForEach => RelationType::Dynamic,
            _ => RelationType::Sequential,
        };
        let task_node = self.node(uid, kind(cluster_relation));
        let c = self.cluster(&path, Some(cluster_relation), Some(task_node), false);
        let child = |k: &str| raw.and_then(|r| r.get(k));
        match (&task.children, flowable) {
            (Children::If { then, else_ }, _) => {
                self.fill(c, then, child("then"), RelationType::Sequential, run, exec, Some("then"), &path)?;
                if !else_.is_empty() {
                    self.fill(c, else_, child("else"), RelationType::Sequential, run, exec, Some("else"), &path)?;
                }
            }
            (Children::Switch { cases, defaults }, _) => {
                for (case, tasks) in cases {
                    let raw_case = child("cases").and_then(|m| m.get(case));
                    self.fill(c, tasks, raw_case, RelationType::Sequential, run, exec, Some(case), &path)?;
                }
                if !defaults.is_empty() {
                    let raw_defaults = child("defaults");
                    self.fill(c, defaults, raw_defaults, RelationType::Sequential, run, exec, Some("defaults"), &path)?;
                }
            }
            (Children::Tasks(tasks), kind) => {
                let parallel = match kind {
                    FlowableKind::Parallel => true,
                    FlowableKind::ForEach if task.kind.ends_with("EachParallel") => true,
                    FlowableKind::ForEach if task.kind.ends_with("EachSequential") => false,
                    FlowableKind::ForEach => concurrency_limit(task) != 1,
                    _ => false,
                };
                let branch = if parallel { RelationType::Parallel } else { RelationType::Sequential };
                self.fill(c, tasks, child("tasks"), branch, run, exec, None, &path)?;
            }
            (Children::None, _) => {}
        }
        self.alternatives(c, &task.errors, child("errors"), &task.finally, child("finally"), run, exec, &path)?;
        Ok(Item::Cluster(c))
    }

    /// A `SubflowGraphCluster` in place of Subflow node `n`: the called
    /// flow's graph (without an execution), its nested expansions included.
    fn expand_subflow(&mut self, task: &Task, n: usize, uid: &str) -> Result<usize, GraphError> {
        let text = |k: &str| task.props.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let (namespace, flow_id) = (text("namespace"), text("flowId"));
        if namespace.contains("{{") || flow_id.contains("{{") {
            return Err(GraphError::DynamicSubflow { task: task.id.clone() });
        }
        let Some(flow) = self.input.subflows.get(&flow_key(&namespace, &flow_id)) else {
            return Err(GraphError::SubflowMissing { namespace, flow_id, task: task.id.clone() });
        };
        let c = self.cluster(uid, Some(RelationType::Sequential), Some(n), false);
        self.g.clusters[c].subflow = true;
        self.flow_into(c, flow, None, uid)?;
        Ok(c)
    }
}

/// A task as written, with pluginDefaults applied to its properties.
fn task_json(task: &Task, raw: Option<&Value>) -> Value {
    let mut v = match raw {
        Some(Value::Object(m)) => m.clone(),
        _ => {
            let mut m = Map::new();
            m.insert("id".into(), json!(task.id));
            m.insert("type".into(), json!(task.type_));
            m
        }
    };
    for (k, p) in &task.props {
        v.insert(k.clone(), p.clone());
    }
    Value::Object(v)
}

fn concurrency_limit(task: &Task) -> u64 {
    match task.props.get("concurrencyLimit") {
        Some(Value::Number(n)) => n.as_u64().unwrap_or(1),
        Some(Value::String(s)) => s.trim().parse().unwrap_or(1),
        _ => 1,
    }
}

/// Kestra's `findTaskRuns`: the runs of `task` under `parent` (any parent
/// at the top), or one node without a run when there is none.
fn task_runs<'e>(task: &Task, exec: Option<&'e Execution>, parent: Option<&TaskRun>) -> Vec<Option<&'e TaskRun>> {
    let Some(e) = exec else { return vec![None] };
    let all: Vec<&TaskRun> = e.task_run_list.iter().filter(|t| t.task_id == task.id).collect();
    if all.is_empty() {
        return vec![None];
    }
    all.into_iter()
        .filter(|t| parent.is_none_or(|p| t.parent_task_run_id.as_deref() == Some(p.id.as_str())))
        .map(Some)
        .collect()
}

/// Kestra's `findParentsValues(taskRun, true)`: the iteration values of
/// the run's parents, outermost first, then its own.
fn parent_values(e: &Execution, run: &TaskRun) -> Vec<String> {
    let mut chain = vec![run];
    let mut current = run;
    while let Some(p) = current.parent_task_run_id.as_deref().and_then(|id| e.task_run(id)) {
        if chain.iter().any(|c| c.id == p.id) {
            break;
        }
        chain.push(p);
        current = p;
    }
    chain.iter().rev().filter_map(|t| t.value.clone()).collect()
}
