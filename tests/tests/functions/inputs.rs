//! Dynamic inputs and metrics on the GCP shape (the api, executor and
//! worker functions in-process on the emulators): the execute form's
//! `POST …/validate` and a start whose SELECT is filled by `subflow()` —
//! the api function launches the subflow and waits for its end through
//! Firestore while the executor and worker functions run it — and the
//! api function's `GET /metrics/{executionId}` serving what the worker
//! recorded.

use e2e::functions::{Cluster, ClusterOptions};
use serde_json::{Value, json};
use shared::model::StateType;

const REGIONS: &str = r#"
id: regions
namespace: test.dyn
inputs:
  - id: cloud
    type: STRING
    defaults: eu
tasks:
  - id: r
    type: io.kestra.plugin.core.debug.Return
    format: "{{ inputs.cloud }}"
outputs:
  - id: regions
    type: JSON
    value: '["{{ outputs.r.value }}-east", "{{ outputs.r.value }}-west"]'
"#;

const PICK: &str = r#"
id: pick
namespace: test.dyn
inputs:
  - id: cloud
    type: SELECT
    values: [aws, gcp]
  - id: region
    type: SELECT
    expression: "{{ subflow(namespace='test.dyn', id='regions', inputs={'cloud': inputs.cloud}).outputs.regions }}"
    dependsOn:
      inputs: [cloud]
tasks:
  - id: say
    type: io.kestra.plugin.core.debug.Return
    format: "{{ inputs.region }}"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn subflow_inputs_and_metrics_through_the_api_function() {
    let cluster = Cluster::start(ClusterOptions {
        flows: vec![("regions.yml".into(), REGIONS.into()), ("pick.yml".into(), PICK.into())],
        ..ClusterOptions::default()
    })
    .await;
    let api = format!("{}api/v1", cluster.api.url);
    let form: Value = cluster
        .http
        .post(format!("{api}/executions/test.dyn/pick/validate"))
        .json(&json!({"cloud": "gcp"}))
        .send()
        .await
        .expect("validate")
        .json()
        .await
        .expect("json");
    assert_eq!(form["inputs"][1]["input"]["values"], json!(["gcp-east", "gcp-west"]), "{form}");

    let id = cluster.launch("test.dyn", "pick", json!({"cloud": "aws", "region": "aws-west"})).await;
    let e = cluster.wait(&id).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", cluster.logs(&id).await);
    let say = e.task_run_list.iter().find(|t| t.task_id == "say").expect("say");
    assert_eq!(say.outputs.as_ref().map(|o| o["value"].clone()), Some(json!("aws-west")));

    // the Return task's metrics (length, duration), served by the api function
    let metrics: Value =
        cluster.http.get(format!("{api}/metrics/{id}")).send().await.expect("metrics").json().await.expect("json");
    let results = metrics["results"].as_array().cloned().unwrap_or_default();
    let length = results.iter().find(|m| m["name"] == "length" && m["taskId"] == "say");
    assert_eq!(length.map(|m| m["value"].clone()), Some(json!(8.0)), "{metrics}");
}
