//! The flow graph and namespace update on GCP: the api function serves the
//! local server's routes (`POST /api/v1/flows/{namespace}` writing through
//! its flow source, `GET /flows/{ns}/{id}/graph`, and an execution's graph
//! once the executor and worker functions have run it).

use e2e::functions::{Cluster, ClusterOptions};
use serde_json::{Value, json};
use shared::model::StateType;

const OLD: &str =
    "id: old\nnamespace: test.graph\ntasks:\n  - {id: hi, type: io.kestra.plugin.core.log.Log, message: hi}\n";

const FAN: &str = r#"id: fan
namespace: test.graph
tasks:
  - id: both
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - {id: a, type: io.kestra.plugin.core.log.Log, message: a}
      - {id: b, type: io.kestra.plugin.core.log.Log, message: b}
"#;

fn node<'a>(g: &'a Value, uid: &str) -> &'a Value {
    g["nodes"].as_array().expect("nodes").iter().find(|n| n["uid"] == uid).unwrap_or_else(|| panic!("{uid} in {g}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_function_updates_a_namespace_and_draws_flow_and_execution_graphs() {
    let cluster =
        Cluster::start(ClusterOptions { flows: vec![("old.yml".into(), OLD.into())], ..ClusterOptions::default() })
            .await;
    let api = format!("{}api/v1", cluster.api.url);
    let resp = cluster
        .http
        .post(format!("{api}/flows/test.graph"))
        .header("content-type", "application/x-yaml")
        .body(FAN.to_string())
        .send()
        .await
        .expect("namespace update");
    assert_eq!(resp.status(), 200);
    let written: Value = resp.json().await.expect("json");
    let ids: Vec<(&str, bool)> = written
        .as_array()
        .expect("list")
        .iter()
        .map(|f| (f["id"].as_str().unwrap_or(""), f["deleted"] == true))
        .collect();
    assert_eq!(ids, [("old", true), ("fan", false)], "{written}");
    let resp = cluster.http.get(format!("{api}/flows/test.graph/old")).send().await.expect("get old");
    assert_eq!(resp.status(), 404, "the flow absent from the body is deleted");
    let g: Value = cluster
        .http
        .get(format!("{api}/flows/test.graph/fan/graph"))
        .send()
        .await
        .expect("graph")
        .json()
        .await
        .expect("json");
    assert_eq!(node(&g, "root.both.a")["relationType"], "PARALLEL", "{g}");
    let id = cluster.launch("test.graph", "fan", json!({})).await;
    assert_eq!(cluster.wait(&id).await.state.current, StateType::Success);
    let g: Value = cluster
        .http
        .get(format!("{api}/executions/{id}/graph"))
        .send()
        .await
        .expect("graph")
        .json()
        .await
        .expect("json");
    for uid in ["root.both", "root.both.a", "root.both.b"] {
        assert_eq!(node(&g, uid)["taskRun"]["state"]["current"], "SUCCESS", "{uid}: {g}");
    }
}
