//! The flow graph and namespace update routes on `baton server local`
//! (issue 14): `GET /flows/{ns}/{id}/graph` (revision, expanded subflows,
//! refused parameters), `POST /flows/graph` (422 `Invalid entity` for a bad
//! flow), `GET /executions/{id}/graph` and `/flow` after a run, and
//! `POST /flows/{namespace}` with a multi-document YAML body (every document
//! checked before anything is written; flows absent from the body deleted
//! unless `delete=false`).

use serde_json::{Value, json};

use crate::sched_support::api_server;

const MAIN: &str = r#"id: main
namespace: graph.test
tasks:
  - id: fan
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - {id: a, type: io.kestra.plugin.core.log.Log, message: a}
      - {id: b, type: io.kestra.plugin.core.log.Log, message: b}
  - id: loop
    type: io.kestra.plugin.core.flow.ForEach
    values: ["x", "y"]
    tasks:
      - {id: each, type: io.kestra.plugin.core.debug.Return, format: "{{ taskrun.value }}"}
  - id: check
    type: io.kestra.plugin.core.flow.If
    condition: "{{ true }}"
    then:
      - {id: yes, type: io.kestra.plugin.core.log.Log, message: yes}
    else:
      - {id: no, type: io.kestra.plugin.core.log.Log, message: no}
errors:
  - {id: alert, type: io.kestra.plugin.core.log.Log, message: failed}
triggers:
  - id: nightly
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 2 * * *"
"#;

const CALLER: &str = r#"id: caller
namespace: graph.test
tasks:
  - id: launch
    type: io.kestra.plugin.core.flow.Subflow
    namespace: graph.test
    flowId: main
"#;

const OTHER: &str = r#"id: other
namespace: graph.test
tasks:
  - {id: hi, type: io.kestra.plugin.core.log.Log, message: hi}
"#;

fn uids(g: &Value) -> Vec<&str> {
    g["nodes"].as_array().expect("nodes").iter().filter_map(|n| n["uid"].as_str()).collect()
}

fn node<'a>(g: &'a Value, uid: &str) -> &'a Value {
    g["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .find(|n| n["uid"] == uid)
        .unwrap_or_else(|| panic!("{uid} in {:?}", uids(g)))
}

fn edge<'a>(g: &'a Value, source: &str, target: &str) -> &'a Value {
    g["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .find(|e| e["source"] == source && e["target"] == target)
        .unwrap_or_else(|| panic!("edge {source} -> {target} in {}", g["edges"]))
}

fn cluster_uids(g: &Value) -> Vec<&str> {
    g["clusters"].as_array().expect("clusters").iter().filter_map(|c| c["cluster"]["uid"].as_str()).collect()
}

async fn call(req: reqwest::RequestBuilder) -> (u16, Value) {
    let r = req.send().await.expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flow_graphs_in_kestras_shape_for_a_stored_flow_a_source_and_an_expanded_subflow() {
    let (server, _dir) = api_server("graph", &[("main.yml", MAIN), ("caller.yml", CALLER)], None).await;
    let http = reqwest::Client::new();
    let api = format!("{}/api/v1", server.url());
    let (status, g) = call(http.get(format!("{api}/flows/graph.test/main/graph"))).await;
    assert_eq!(status, 200, "{g}");
    for uid in ["root.fan", "root.fan.a", "root.loop.each", "root.check.yes", "root.alert", "root.Triggers.nightly"] {
        node(&g, uid);
    }
    assert_eq!(node(&g, "root.fan")["type"], "io.kestra.core.models.hierarchies.GraphTask");
    assert_eq!(
        node(&g, "root.fan.a")["task"],
        json!({"id": "a", "type": "io.kestra.plugin.core.log.Log", "message": "a"})
    );
    assert_eq!(node(&g, "root.alert")["branchType"], "ERROR");
    assert_eq!(node(&g, "root.Triggers.nightly")["type"], "io.kestra.core.models.hierarchies.GraphTrigger");
    assert_eq!(edge(&g, "root.fan", "root.fan.b")["relation"]["relationType"], "PARALLEL");
    assert_eq!(edge(&g, "root.check", "root.check.no")["relation"], json!({"relationType": "CHOICE", "value": "else"}));
    assert_eq!(
        cluster_uids(&g),
        ["cluster_root.Triggers", "cluster_root.fan", "cluster_root.loop", "cluster_root.check"]
    );
    // the tenant form, a revision, and a parameter Baton does not have
    let (status, same) =
        call(http.get(format!("{}/api/v1/main/flows/graph.test/main/graph?revision=1", server.url()))).await;
    assert_eq!(status, 200, "{same}");
    assert_eq!(uids(&same).len(), uids(&g).len());
    let (status, v) = call(http.get(format!("{api}/flows/graph.test/main/graph?revision=7"))).await;
    assert_eq!(status, 404, "{v}");
    assert!(v["message"].as_str().unwrap_or("").contains("revision 7"), "{v}");
    let (status, v) = call(http.get(format!("{api}/flows/graph.test/main/graph?bogus=1"))).await;
    assert_eq!(status, 400, "{v}");
    assert!(v["message"].as_str().unwrap_or("").contains("'bogus'"), "{v}");
    let (status, v) = call(http.get(format!("{api}/flows/graph.test/nope/graph"))).await;
    assert_eq!(status, 404, "{v}");
    // a Subflow node, then expanded into the called flow's graph
    let (_, g) = call(http.get(format!("{api}/flows/graph.test/caller/graph"))).await;
    assert_eq!(node(&g, "root.launch")["type"], "io.kestra.core.models.hierarchies.SubflowGraphTask");
    let (status, g) = call(http.get(format!("{api}/flows/graph.test/caller/graph?subflows=root.launch"))).await;
    assert_eq!(status, 200, "{g}");
    node(&g, "root.launch.fan.a");
    assert!(cluster_uids(&g).contains(&"cluster_root.launch"), "{:?}", cluster_uids(&g));
    // a YAML source
    let yaml = "id: draft\nnamespace: graph.test\ntasks:\n  - {id: one, type: io.kestra.plugin.core.log.Log, message: x}\n  - {id: two, type: io.kestra.plugin.core.log.Log, message: y}\n";
    let post = |body: &str| {
        http.post(format!("{api}/flows/graph")).header("content-type", "application/x-yaml").body(body.to_string())
    };
    let (status, g) = call(post(yaml)).await;
    assert_eq!(status, 200, "{g}");
    assert_eq!(edge(&g, "root.one", "root.two")["relation"]["relationType"], "SEQUENTIAL");
    let (status, v) =
        call(post(&yaml.replace("io.kestra.plugin.core.log.Log, message: y", "io.kestra.plugin.core.log.Nope"))).await;
    assert_eq!(status, 422, "{v}");
    assert!(v["message"].as_str().unwrap_or("").starts_with("Invalid entity: "), "{v}");
    let errors = v["_embedded"]["errors"].as_array().expect("errors");
    assert!(errors.iter().any(|e| e["path"].as_str().unwrap_or("").starts_with("tasks[1]")), "{v}");
    assert_eq!(v["_links"]["self"]["href"], "/api/v1/flows/graph");
    // GET /flows/graph stays the flows of namespace "graph"
    let (status, v) = call(http.get(format!("{api}/flows/graph"))).await;
    assert_eq!((status, v), (200, json!([])));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_executions_graph_carries_its_task_runs_and_its_flow_is_kestras_flow_for_execution() {
    let (server, _dir) = api_server("graph-exec", &[("main.yml", MAIN)], None).await;
    let http = reqwest::Client::new();
    let api = format!("{}/api/v1", server.url());
    let (status, e) = call(http.post(format!("{api}/executions/graph.test/main?wait=true"))).await;
    assert_eq!((status, &e["state"]["current"]), (200, &json!("SUCCESS")), "{e}");
    let id = e["id"].as_str().expect("id");
    let (status, g) = call(http.get(format!("{api}/executions/{id}/graph"))).await;
    assert_eq!(status, 200, "{g}");
    for uid in ["root.fan.a", "root.loop.each_x", "root.loop.each_y", "root.check.yes"] {
        assert_eq!(node(&g, uid)["taskRun"]["state"]["current"], "SUCCESS", "{uid}");
    }
    assert_eq!(node(&g, "root.loop.each_y")["values"], json!(["y"]));
    assert!(node(&g, "root.check.no").get("taskRun").is_none(), "the else branch did not run");
    assert!(node(&g, "root.alert").get("taskRun").is_none());
    assert_eq!(node(&g, "root.fan.a")["task"], json!({"id": "a", "type": "io.kestra.plugin.core.log.Log"}));
    assert_eq!(
        node(&g, "root.Triggers.nightly")["triggerDeclaration"],
        json!({"id": "nightly", "type": "io.kestra.plugin.core.trigger.Schedule"})
    );
    let (status, f) = call(http.get(format!("{api}/executions/{id}/flow"))).await;
    assert_eq!(status, 200, "{f}");
    assert_eq!((&f["id"], &f["namespace"], &f["revision"]), (&json!("main"), &json!("graph.test"), &e["flowRevision"]));
    assert_eq!(
        f["tasks"][0],
        json!({"id": "fan", "type": "io.kestra.plugin.core.flow.Parallel", "tasks": [
        {"id": "a", "type": "io.kestra.plugin.core.log.Log"}, {"id": "b", "type": "io.kestra.plugin.core.log.Log"}]})
    );
    assert_eq!(f["triggers"], json!([{"id": "nightly", "type": "io.kestra.plugin.core.trigger.Schedule"}]));
    let (status, same) = call(http.get(format!("{api}/executions/flows/graph.test/main"))).await;
    assert_eq!((status, &same["tasks"]), (200, &f["tasks"]));
    let (status, v) = call(http.get(format!("{api}/executions/nope/graph"))).await;
    assert_eq!(status, 404, "{v}");
    let (status, v) = call(http.get(format!("{api}/executions/{id}/nope"))).await;
    assert_eq!(status, 404, "{v}");
    assert!(v["message"].as_str().unwrap_or("").contains("no route"), "{v}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_is_updated_from_one_yaml_checked_whole_before_anything_is_written() {
    let (server, dir) = api_server("graph-ns", &[("main.yml", MAIN), ("other.yml", OTHER)], None).await;
    let http = reqwest::Client::new();
    let api = format!("{}/api/v1", server.url());
    let update = |query: &str, body: String| {
        http.post(format!("{api}/flows/graph.test{query}")).header("content-type", "application/x-yaml").body(body)
    };
    let names = |v: &Value| -> Vec<String> {
        let mut n: Vec<String> =
            v.as_array().expect("flows").iter().map(|f| f["id"].as_str().unwrap_or("").to_string()).collect();
        n.sort();
        n
    };
    let list = || async { call(http.get(format!("{api}/flows/graph.test"))).await.1 };
    // refused whole: a document of another namespace, an invalid one, an id twice
    let foreign = OTHER.replace("namespace: graph.test", "namespace: elsewhere");
    let (status, v) = call(update("", format!("{CALLER}---\n{foreign}"))).await;
    assert_eq!(status, 422, "{v}");
    assert!(v["message"].as_str().unwrap_or("").contains("Flow namespace is invalid"), "{v}");
    assert_eq!(v["_embedded"]["errors"][0]["path"], "flow.namespace");
    let (status, v) =
        call(update("", format!("{CALLER}---\n{}", OTHER.replace("core.log.Log", "core.log.Nope")))).await;
    assert_eq!(status, 422, "{v}");
    let (status, v) = call(update("", format!("{CALLER}---\n{CALLER}"))).await;
    assert_eq!(status, 422, "{v}");
    assert!(v["message"].as_str().unwrap_or("").contains("Duplicate flow id"), "{v}");
    assert_eq!(names(&list().await), ["main", "other"], "nothing was written");
    // delete=false: created and updated, the rest kept
    let renamed = OTHER.replace("message: hi", "message: hello");
    let (status, v) = call(update("?delete=false", format!("{CALLER}\n---\n{renamed}"))).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(names(&v), ["caller", "other"]);
    assert!(v[0]["source"].as_str().is_some_and(|s| s.contains("id: caller")), "{v}");
    assert_eq!(names(&list().await), ["caller", "main", "other"]);
    let (_, got) = call(http.get(format!("{api}/flows/graph.test/other?source=true"))).await;
    assert!(got["source"].as_str().unwrap_or("").contains("hello"), "{got}");
    // the default deletes the namespace's flows absent from the body
    let (status, v) = call(update("", OTHER.to_string())).await;
    assert_eq!(status, 200, "{v}");
    let deleted: Vec<&str> =
        v.as_array().expect("list").iter().filter(|f| f["deleted"] == true).filter_map(|f| f["id"].as_str()).collect();
    assert_eq!(deleted, ["caller", "main"], "{v}");
    assert_eq!(names(&list().await), ["other"]);
    assert!(!dir.join("flows/main.yml").exists(), "the deleted flow's file is gone");
    let (status, v) = call(update("?bogus=true", OTHER.to_string())).await;
    assert_eq!(status, 400, "{v}");
    server.shutdown().await;
}
