//! Graphs of typical flows checked node by node and edge by edge against
//! Kestra's rules (the counts match what Kestra's own `FlowGraphTest`
//! asserts for flows of the same structure).

use chrono::{TimeZone, Utc};
use serde_json::{Value, json};

use super::*;
use crate::model::{Execution, Flow, State, StateType, TaskRun};

fn flow(yaml: &str) -> Flow {
    let (v, _) = crate::yaml::parse(yaml).expect("yaml");
    let (f, problems) = Flow::from_value(&v, yaml);
    assert!(problems.is_empty(), "{problems:?}");
    f.expect("flow")
}

fn graph_of(f: &Flow, input: &GraphInput) -> Value {
    let mut n = 0;
    let mut ids = || {
        n += 1;
        format!("id{n}")
    };
    flow_graph_with_ids(f, input, &mut ids).expect("graph")
}

fn graph(yaml: &str) -> Value {
    graph_of(&flow(yaml), &GraphInput::default())
}

fn counts(g: &Value) -> (usize, usize, usize) {
    let len = |k: &str| g[k].as_array().map_or(0, Vec::len);
    (len("nodes"), len("edges"), len("clusters"))
}

fn uids(g: &Value) -> Vec<String> {
    g["nodes"].as_array().unwrap().iter().map(|n| n["uid"].as_str().unwrap().to_string()).collect()
}

fn node<'a>(g: &'a Value, uid: &str) -> &'a Value {
    g["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["uid"] == uid)
        .unwrap_or_else(|| panic!("node {uid} in {:?}", uids(g)))
}

/// The edge whose source and target match (`*` ends a prefix match).
fn edge<'a>(g: &'a Value, source: &str, target: &str) -> &'a Value {
    let m = |v: &Value, p: &str| {
        let s = v.as_str().unwrap();
        p.strip_suffix('*').map_or(s == p, |p| s.starts_with(p))
    };
    g["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| m(&e["source"], source) && m(&e["target"], target))
        .unwrap_or_else(|| panic!("edge {source} -> {target} in {}", g["edges"]))
}

fn rel(e: &Value) -> Option<&str> {
    e["relation"]["relationType"].as_str()
}

fn cluster<'a>(g: &'a Value, uid: &str) -> &'a Value {
    g["clusters"].as_array().unwrap().iter().find(|c| c["cluster"]["uid"] == uid).expect("cluster")
}

/// Every edge's ends are nodes, every node but the root's start is
/// reached, and every cluster's nodes are nodes or clusters.
fn consistent(g: &Value) {
    let all = uids(g);
    let clusters: Vec<&str> =
        g["clusters"].as_array().unwrap().iter().map(|c| c["cluster"]["uid"].as_str().unwrap()).collect();
    for e in g["edges"].as_array().unwrap() {
        for k in ["source", "target"] {
            assert!(all.iter().any(|u| e[k] == u.as_str()), "edge {k} {} is a node", e[k]);
        }
    }
    let targets: Vec<&str> = g["edges"].as_array().unwrap().iter().map(|e| e["target"].as_str().unwrap()).collect();
    let unreached: Vec<&String> =
        all.iter().filter(|u| !targets.contains(&u.as_str()) && !u.starts_with("root.root-")).collect();
    assert!(unreached.iter().all(|u| u.contains(".Triggers.root-")), "only starts are unreached: {unreached:?}");
    for c in g["clusters"].as_array().unwrap() {
        for n in c["nodes"].as_array().unwrap() {
            let n = n.as_str().unwrap();
            assert!(all.iter().any(|u| u == n) || clusters.contains(&n), "cluster member {n}");
        }
    }
}

#[test]
fn sequential_tasks_chain_from_the_root_to_the_end() {
    let g = graph(
        "id: f\nnamespace: n\ntasks:\n  - {id: a, type: io.kestra.plugin.core.log.Log, message: x}\n  - {id: b, type: io.kestra.plugin.core.log.Log, message: y}\n  - {id: c, type: io.kestra.plugin.core.debug.Return, format: z}\n",
    );
    assert_eq!(counts(&g), (5, 4, 0));
    assert_eq!(uids(&g), ["root.root-id1", "root.end-id4", "root.a", "root.b", "root.c"]);
    let a = node(&g, "root.a");
    assert_eq!(a["type"], "io.kestra.core.models.hierarchies.GraphTask");
    assert_eq!(a["relationType"], "SEQUENTIAL");
    assert_eq!(a["task"], json!({"id": "a", "type": "io.kestra.plugin.core.log.Log", "message": "x"}));
    assert!(a.get("taskRun").is_none() && a.get("values").is_none() && a.get("branchType").is_none());
    assert_eq!(node(&g, "root.root-id1")["type"], "io.kestra.core.models.hierarchies.GraphClusterRoot");
    assert_eq!(rel(edge(&g, "root.root-id1", "root.a")), None, "the first task carries the root's (none)");
    assert_eq!(rel(edge(&g, "root.a", "root.b")), Some("SEQUENTIAL"));
    assert_eq!(edge(&g, "root.c", "root.end-id4")["relation"], json!({}));
    consistent(&g);
}

const PARALLEL: &str = r#"id: p
namespace: n
tasks:
  - id: par
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - {id: t1, type: io.kestra.plugin.core.log.Log, message: "1"}
      - {id: t2, type: io.kestra.plugin.core.log.Log, message: "2"}
      - {id: t3, type: io.kestra.plugin.core.log.Log, message: "3"}
      - {id: t4, type: io.kestra.plugin.core.log.Log, message: "4"}
      - {id: t5, type: io.kestra.plugin.core.log.Log, message: "5"}
      - {id: t6, type: io.kestra.plugin.core.log.Log, message: "6"}
  - {id: last, type: io.kestra.plugin.core.log.Log, message: done}
"#;

#[test]
fn parallel_children_start_from_the_task_and_each_reach_the_end() {
    let g = graph(PARALLEL);
    assert_eq!(counts(&g), (12, 16, 1));
    let c = cluster(&g, "cluster_root.par");
    assert_eq!(c["cluster"]["type"], "io.kestra.core.models.hierarchies.GraphCluster");
    assert_eq!(c["cluster"]["relationType"], "PARALLEL");
    assert_eq!(c["cluster"]["taskNode"]["uid"], "root.par");
    assert_eq!(c["parents"], json!([]));
    let (start, end) = (c["start"].as_str().unwrap(), c["end"].as_str().unwrap());
    assert!(start.starts_with("root.par.root-") && end.starts_with("root.par.end-"), "{start} {end}");
    for t in ["t1", "t2", "t6"] {
        assert_eq!(rel(edge(&g, "root.par", &format!("root.par.{t}"))), Some("PARALLEL"));
        assert_eq!(rel(edge(&g, &format!("root.par.{t}"), end)), None);
    }
    assert_eq!(rel(edge(&g, "root.root-*", start)), None);
    assert_eq!(rel(edge(&g, end, "root.last")), Some("SEQUENTIAL"));
    assert_eq!(node(&g, "root.par")["relationType"], "PARALLEL");
    assert_eq!(node(&g, "root.par.t1")["relationType"], "PARALLEL");
    assert_eq!(c["nodes"].as_array().unwrap().len(), 9, "start, end, the task and its 6 children");
    consistent(&g);
}

#[test]
fn errors_start_from_the_root_and_nested_clusters_list_their_parents() {
    let g = graph(
        r#"id: e
namespace: n
tasks:
  - {id: failed, type: io.kestra.plugin.core.execution.Fail}
errors:
  - {id: report, type: io.kestra.plugin.core.log.Log, message: oops}
  - id: p1
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: p2
        type: io.kestra.plugin.core.flow.Parallel
        tasks:
          - id: p3
            type: io.kestra.plugin.core.flow.Parallel
            tasks:
              - id: p4
                type: io.kestra.plugin.core.flow.Parallel
                tasks:
                  - {id: deep, type: io.kestra.plugin.core.log.Log, message: deep}
"#,
    );
    assert_eq!(counts(&g), (17, 17, 4));
    assert_eq!(rel(edge(&g, "root.root-*", "root.report")), Some("ERROR"));
    assert_eq!(rel(edge(&g, "root.root-*", "root.failed")), None);
    assert_eq!(rel(edge(&g, "root.report", "root.p1.root-*")), Some("ERROR"));
    assert_eq!(node(&g, "root.report")["branchType"], "ERROR");
    assert_eq!(node(&g, "root.report")["relationType"], "ERROR");
    assert_eq!(node(&g, "root.failed").get("branchType"), None);
    let c1 = cluster(&g, "cluster_root.p1");
    assert_eq!(c1["cluster"]["branchType"], "ERROR");
    let c4 = cluster(&g, "cluster_root.p1.p2.p3.p4");
    assert_eq!(c4["parents"], json!(["cluster_root.p1", "cluster_root.p1.p2", "cluster_root.p1.p2.p3"]));
    assert!(c1["nodes"].as_array().unwrap().contains(&json!("cluster_root.p1.p2")));
    assert_eq!(node(&g, "root.p1.p2.p3.p4.deep")["task"]["message"], "deep");
    consistent(&g);
}

const SWITCH: &str = r#"id: s
namespace: n
inputs:
  - {id: which, type: STRING}
tasks:
  - id: choose
    type: io.kestra.plugin.core.flow.Switch
    value: "{{ inputs.which }}"
    cases:
      ONE:
        - {id: one, type: io.kestra.plugin.core.log.Log, message: "1"}
      TWO:
        - {id: two_a, type: io.kestra.plugin.core.log.Log, message: "2a"}
        - {id: two_b, type: io.kestra.plugin.core.log.Log, message: "2b"}
      THREE:
        - id: three
          type: io.kestra.plugin.core.flow.Sequential
          tasks:
            - {id: boom, type: io.kestra.plugin.core.execution.Fail}
          errors:
            - {id: caught, type: io.kestra.plugin.core.log.Log, message: caught}
    defaults:
      - {id: other, type: io.kestra.plugin.core.log.Log, message: other}
triggers:
  - id: hourly
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 * * * *"
"#;

#[test]
fn switch_cases_are_choices_with_their_value_and_triggers_lead_to_the_root() {
    let g = graph(SWITCH);
    assert_eq!(counts(&g), (17, 20, 3));
    for (target, value) in [("root.choose.one", "ONE"), ("root.choose.two_a", "TWO"), ("root.choose.other", "defaults")]
    {
        let e = edge(&g, "root.choose", target);
        assert_eq!((rel(e), e["relation"]["value"].as_str()), (Some("CHOICE"), Some(value)), "{target}");
    }
    let e = edge(&g, "root.choose", "root.choose.three.root-*");
    assert_eq!((rel(e), e["relation"]["value"].as_str()), (Some("CHOICE"), Some("THREE")));
    let e = edge(&g, "root.choose.two_a", "root.choose.two_b");
    assert_eq!((rel(e), e["relation"]["value"].as_str()), (Some("SEQUENTIAL"), Some("TWO")));
    assert_eq!(node(&g, "root.choose")["relationType"], "CHOICE");
    assert_eq!(rel(edge(&g, "root.choose.three.root-*", "root.choose.three.caught")), Some("ERROR"));
    // triggers: their own cluster, its end leading to the flow's start
    let t = node(&g, "root.Triggers.hourly");
    assert_eq!(t["type"], "io.kestra.core.models.hierarchies.GraphTrigger");
    assert_eq!(t["triggerDeclaration"]["cron"], "0 * * * *");
    assert!(t.get("trigger").is_none(), "no state given");
    let tc = cluster(&g, "cluster_root.Triggers");
    assert!(tc["cluster"].get("relationType").is_none());
    edge(&g, tc["end"].as_str().unwrap(), "root.root-*");
    consistent(&g);
}

#[test]
fn if_branches_are_choices_then_and_else() {
    let g = graph(
        r#"id: i
namespace: n
tasks:
  - id: check
    type: io.kestra.plugin.core.flow.If
    condition: "{{ true }}"
    then:
      - {id: yes1, type: io.kestra.plugin.core.log.Log, message: y}
      - {id: yes2, type: io.kestra.plugin.core.log.Log, message: y}
    else:
      - {id: no, type: io.kestra.plugin.core.log.Log, message: n}
"#,
    );
    // start, end; cluster start, end, the If, 3 children
    assert_eq!(counts(&g), (8, 8, 1));
    let e = edge(&g, "root.check", "root.check.yes1");
    assert_eq!((rel(e), e["relation"]["value"].as_str()), (Some("CHOICE"), Some("then")));
    let e = edge(&g, "root.check", "root.check.no");
    assert_eq!((rel(e), e["relation"]["value"].as_str()), (Some("CHOICE"), Some("else")));
    assert_eq!(rel(edge(&g, "root.check.yes1", "root.check.yes2")), Some("SEQUENTIAL"));
    let end = cluster(&g, "cluster_root.check")["end"].as_str().unwrap().to_string();
    edge(&g, "root.check.yes2", &end);
    edge(&g, "root.check.no", &end);
    consistent(&g);
}

const EACH_NESTED: &str = r#"id: each
namespace: n
tasks:
  - id: outer
    type: io.kestra.plugin.core.flow.EachSequential
    value: ["a", "b"]
    tasks:
      - {id: first, type: io.kestra.plugin.core.debug.Return, format: "{{ taskrun.value }}"}
      - id: inner
        type: io.kestra.plugin.core.flow.EachSequential
        value: '["x", "y"]'
        tasks:
          - {id: i1, type: io.kestra.plugin.core.debug.Return, format: "1"}
          - {id: i2, type: io.kestra.plugin.core.debug.Return, format: "2"}
      - {id: third, type: io.kestra.plugin.core.debug.Return, format: "3"}
  - {id: after, type: io.kestra.plugin.core.debug.Return, format: "4"}
"#;

#[test]
fn for_each_clusters_are_dynamic_throughout() {
    let g = graph(EACH_NESTED);
    assert_eq!(counts(&g), (13, 12, 2));
    assert_eq!(rel(edge(&g, "root.outer.first", "root.outer.inner.root-*")), Some("DYNAMIC"));
    assert_eq!(rel(edge(&g, "root.outer.inner", "root.outer.inner.i1")), Some("DYNAMIC"));
    assert_eq!(rel(edge(&g, "root.outer.inner.i1", "root.outer.inner.i2")), Some("DYNAMIC"));
    assert_eq!(cluster(&g, "cluster_root.outer")["cluster"]["relationType"], "DYNAMIC");
    // ForEach: sequential with concurrencyLimit 1 (the default), parallel otherwise
    let fe = |limit: &str| {
        graph(&format!(
            "id: f\nnamespace: n\ntasks:\n  - id: loop\n    type: io.kestra.plugin.core.flow.ForEach\n    values: [1, 2]\n{limit}    tasks:\n      - {{id: a, type: io.kestra.plugin.core.log.Log, message: x}}\n      - {{id: b, type: io.kestra.plugin.core.log.Log, message: y}}\n"
        ))
    };
    let seq = fe("");
    edge(&seq, "root.loop.a", "root.loop.b");
    let par = fe("    concurrencyLimit: 0\n");
    edge(&par, "root.loop", "root.loop.b");
    assert_eq!(rel(edge(&par, "root.loop", "root.loop.b")), Some("DYNAMIC"));
    assert_eq!(node(&par, "root.loop.b")["relationType"], "PARALLEL");
    consistent(&seq);
    consistent(&par);
}

#[test]
fn working_directory_is_a_sequential_cluster() {
    let g = graph(
        "id: w\nnamespace: n\ntasks:\n  - id: wd\n    type: io.kestra.plugin.core.flow.WorkingDirectory\n    tasks:\n      - {id: a, type: io.kestra.plugin.core.log.Log, message: x}\n      - {id: b, type: io.kestra.plugin.core.log.Log, message: y}\n",
    );
    assert_eq!(counts(&g), (7, 6, 1));
    assert_eq!(rel(edge(&g, "root.wd", "root.wd.a")), Some("SEQUENTIAL"));
    assert_eq!(rel(edge(&g, "root.wd.a", "root.wd.b")), Some("SEQUENTIAL"));
    consistent(&g);
}

#[test]
fn finally_runs_after_the_tasks_and_the_errors() {
    let g = graph(
        r#"id: fin
namespace: n
tasks:
  - id: seq
    type: io.kestra.plugin.core.flow.Sequential
    tasks:
      - {id: t1, type: io.kestra.plugin.core.log.Log, message: x}
      - {id: t2, type: io.kestra.plugin.core.log.Log, message: x}
    errors:
      - {id: e1, type: io.kestra.plugin.core.log.Log, message: x}
      - {id: e2, type: io.kestra.plugin.core.log.Log, message: x}
    finally:
      - {id: a1, type: io.kestra.plugin.core.log.Log, message: x}
      - {id: a2, type: io.kestra.plugin.core.log.Log, message: x}
finally:
  - {id: bye, type: io.kestra.plugin.core.log.Log, message: bye}
"#,
    );
    // root: start, finally, end, bye; seq: start, finally, end, seq + 6 tasks
    assert_eq!(counts(&g), (14, 14, 1));
    assert_eq!(rel(edge(&g, "root.seq.e1", "root.seq.e2")), Some("ERROR"));
    assert_eq!(rel(edge(&g, "root.seq.e2", "root.seq.finally-*")), None);
    assert_eq!(rel(edge(&g, "root.seq.t2", "root.seq.finally-*")), None);
    assert_eq!(rel(edge(&g, "root.seq.finally-*", "root.seq.a1")), Some("SEQUENTIAL"));
    assert_eq!(rel(edge(&g, "root.seq.a1", "root.seq.a2")), Some("FINALLY"));
    assert_eq!(rel(edge(&g, "root.seq.a2", "root.seq.end-*")), None);
    assert_eq!(node(&g, "root.seq.a1")["branchType"], "FINALLY");
    assert_eq!(node(&g, "root.seq.finally-id6")["type"], "io.kestra.core.models.hierarchies.GraphClusterFinally");
    // the flow's finally: after the tasks, before the end
    edge(&g, "root.seq.end-*", "root.finally-*");
    assert_eq!(rel(edge(&g, "root.finally-*", "root.bye")), None, "the root has no relation type");
    edge(&g, "root.bye", "root.end-*");
    consistent(&g);
}

#[test]
fn after_execution_runs_last_with_its_own_branch() {
    let g = graph(
        "id: ae\nnamespace: n\ntasks:\n  - {id: a, type: io.kestra.plugin.core.log.Log, message: x}\nafterExecution:\n  - {id: notify, type: io.kestra.plugin.core.log.Log, message: done}\n  - {id: notify2, type: io.kestra.plugin.core.log.Log, message: done}\n",
    );
    assert_eq!(counts(&g), (6, 5, 0));
    edge(&g, "root.a", "root.after-execution-*");
    edge(&g, "root.after-execution-*", "root.notify");
    assert_eq!(rel(edge(&g, "root.notify", "root.notify2")), Some("AFTER_EXECUTION"));
    edge(&g, "root.notify2", "root.end-*");
    assert_eq!(node(&g, "root.notify")["branchType"], "AFTER_EXECUTION");
    consistent(&g);
}

const CALLER: &str = r#"id: caller
namespace: n
tasks:
  - id: launch
    type: io.kestra.plugin.core.flow.Subflow
    namespace: n
    flowId: s
    wait: true
triggers:
  - id: hourly
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 * * * *"
"#;

#[test]
fn subflows_are_nodes_until_expanded_into_the_called_flows_graph() {
    let caller = flow(CALLER);
    let g = graph_of(&caller, &GraphInput::default());
    assert_eq!(counts(&g), (6, 5, 1));
    assert_eq!(node(&g, "root.launch")["type"], "io.kestra.core.models.hierarchies.SubflowGraphTask");
    let mut input = GraphInput { expand: vec!["root.launch".into()], ..GraphInput::default() };
    let mut ids = || "x".to_string();
    match flow_graph_with_ids(&caller, &input, &mut ids) {
        Err(GraphError::SubflowMissing { namespace, flow_id, task }) => {
            assert_eq!((namespace.as_str(), flow_id.as_str(), task.as_str()), ("n", "s", "launch"))
        }
        other => panic!("{other:?}"),
    }
    input.subflows.insert(flow_key("n", "s"), flow(SWITCH));
    let g = graph_of(&caller, &input);
    assert_eq!(counts(&g), (23, 26, 5));
    let c = cluster(&g, "cluster_root.launch");
    assert_eq!(c["cluster"]["type"], "io.kestra.core.models.hierarchies.SubflowGraphCluster");
    assert_eq!(c["cluster"]["relationType"], "SEQUENTIAL");
    assert_eq!(node(&g, "root.launch")["relationType"], "SEQUENTIAL");
    assert_eq!(node(&g, "root.launch.choose")["relationType"], "CHOICE");
    node(&g, "root.launch.Triggers.hourly");
    assert_eq!(
        cluster(&g, "cluster_root.launch.choose.three")["parents"],
        json!(["cluster_root.launch", "cluster_root.launch.choose"])
    );
    consistent(&g);
    let dynamic = flow(&CALLER.replace("flowId: s", "flowId: \"{{ inputs.x }}\""));
    let mut ids = || "x".to_string();
    assert!(matches!(flow_graph_with_ids(&dynamic, &input, &mut ids), Err(GraphError::DynamicSubflow { .. })));
}

#[test]
fn plugin_defaults_show_in_the_task_and_trigger_states_on_the_trigger() {
    let f = flow(
        "id: d\nnamespace: n\npluginDefaults:\n  - type: io.kestra.plugin.core.log.Log\n    values: {level: WARN}\ntasks:\n  - {id: a, type: io.kestra.plugin.core.log.Log, message: x}\ntriggers:\n  - {id: t, type: io.kestra.plugin.core.trigger.Schedule, cron: '0 1 * * *'}\n",
    );
    let mut input = GraphInput::default();
    input.trigger_states.insert("t".into(), json!({"triggerId": "t", "disabled": true}));
    let g = graph_of(&f, &input);
    assert_eq!(node(&g, "root.a")["task"]["level"], "WARN");
    assert_eq!(node(&g, "root.Triggers.t")["trigger"]["disabled"], true);
}

fn run(id: &str, task: &str, parent: Option<&str>, value: Option<&str>, state: StateType) -> TaskRun {
    let at = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).single().unwrap();
    TaskRun {
        id: id.into(),
        execution_id: "ex".into(),
        namespace: "n".into(),
        flow_id: "f".into(),
        task_id: task.into(),
        parent_task_run_id: parent.map(str::to_string),
        value: value.map(str::to_string),
        attempts: Default::default(),
        outputs: None,
        state: State::new(state, at),
        iteration: None,
        next_retry_date: None,
        error: None,
        evaluated: None,
    }
}

#[test]
fn an_execution_graph_has_a_node_per_task_run_with_its_values() {
    let f = flow(
        "id: f\nnamespace: n\ntasks:\n  - id: loop\n    type: io.kestra.plugin.core.flow.ForEach\n    values: [\"a\", \"b\"]\n    tasks:\n      - {id: t, type: io.kestra.plugin.core.log.Log, message: x}\n  - {id: last, type: io.kestra.plugin.core.log.Log, message: y}\n  - {id: never, type: io.kestra.plugin.core.log.Log, message: z}\n",
    );
    let at = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).single().unwrap();
    let mut e = Execution::new("ex".into(), "n", "f", 1, Default::default(), Vec::new(), at);
    e.task_run_list = vec![
        run("r1", "loop", None, None, StateType::Success),
        run("r2", "t", Some("r1"), Some("a"), StateType::Success),
        run("r3", "t", Some("r1"), Some("b"), StateType::Failed),
        run("r4", "last", None, None, StateType::Running),
    ];
    let g = graph_of(&f, &GraphInput { execution: Some(&e), for_execution: true, ..GraphInput::default() });
    let a = node(&g, "root.loop.t_a");
    assert_eq!(a["taskRun"]["id"], "r2");
    assert_eq!(a["values"], json!(["a"]));
    assert_eq!(a["task"], json!({"id": "t", "type": "io.kestra.plugin.core.log.Log"}), "reduced for an execution");
    assert_eq!(node(&g, "root.loop.t_b")["taskRun"]["state"]["current"], "FAILED");
    assert_eq!(node(&g, "root.loop")["values"], json!([]));
    assert_eq!(node(&g, "root.last")["taskRun"]["state"]["current"], "RUNNING");
    assert!(node(&g, "root.never").get("taskRun").is_none());
    assert_eq!(node(&g, "root.loop")["task"]["tasks"][0]["id"], "t");
    assert_eq!(edge(&g, "root.loop", "root.loop.t_a")["relation"]["value"], "a");
    assert_eq!(
        edge(&g, "root.loop.t_a", "root.loop.t_b")["relation"],
        json!({"relationType": "DYNAMIC", "value": "b"})
    );
    assert!(cluster(&g, "cluster_root.loop")["cluster"].get("taskNode").is_none());
    consistent(&g);
}
