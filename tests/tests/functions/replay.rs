//! Replay from a task run on GCP: the api function's `POST
//! /api/v1/executions/{id}/replay?taskRunId=` (the local server's code)
//! creates a new execution the executor and worker functions run on from
//! that task run: the task before it is not called again, the rest is.

use e2e::functions::{Cluster, ClusterOptions, Effects};
use serde_json::{Value, json};
use shared::model::StateType;

const STEPS: &str = r#"
id: replay_steps
namespace: test.functions
inputs:
  - id: server
    type: STRING
tasks:
  - id: first
    type: io.kestra.plugin.core.http.Request
    uri: "{{ inputs.server }}/hit/replay/first"
  - id: second
    type: io.kestra.plugin.core.http.Request
    uri: "{{ inputs.server }}/hit/replay/second"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_function_replays_an_execution_from_a_task_run() {
    let effects = Effects::start().await;
    let cluster = Cluster::start(ClusterOptions {
        flows: vec![("steps.yaml".into(), STEPS.into())],
        ..ClusterOptions::default()
    })
    .await;
    let id = cluster.launch("test.functions", "replay_steps", json!({"server": effects.url})).await;
    let orig = cluster.wait(&id).await;
    assert_eq!(orig.state.current, StateType::Success, "{:?}", orig.error);
    let second = orig.task_run_list.iter().find(|t| t.task_id == "second").expect("second").id.clone();
    let url = format!("{}api/v1/executions/{id}/replay?taskRunId={second}", cluster.api.url);
    let resp = cluster.http.post(url).send().await.expect("replay");
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(
        (body["state"]["current"].as_str(), body["originalId"].as_str()),
        (Some("RESTARTED"), Some(id.as_str()))
    );
    let replay = cluster.wait(body["id"].as_str().expect("id")).await;
    assert_eq!(replay.state.current, StateType::Success, "{:?}", replay.error);
    assert_eq!(effects.count("hit/replay/first"), 1, "first is kept, not called again");
    assert_eq!(effects.count("hit/replay/second"), 2, "second runs again");
    effects.release();
}
