//! The api function: it starts, shows executions (a disabled flow too) and
//! serves the KV store.

use e2e::functions::{Cluster, ClusterOptions, Effects};
use serde_json::{Value, json};
use shared::model::StateType;

use super::{AT_LEAST_ONCE, NS};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_starts_and_shows_executions_and_serves_the_kv_store() {
    let effects = Effects::start().await;
    let disabled = "id: off\nnamespace: test.functions\ndisabled: true\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: x\n";
    let cluster = Cluster::start(ClusterOptions {
        flows: vec![("ok.yaml".into(), AT_LEAST_ONCE.into()), ("off.yaml".into(), disabled.into())],
        ..ClusterOptions::default()
    })
    .await;
    let http = &cluster.http;
    let api = &cluster.api.url;
    // inputs as a form, labels in the query, as Kestra's API takes them
    let resp = http
        .post(format!("{api}api/v1/executions/{NS}/at_least_once?labels=env:test&labels=team:data"))
        .form(&[("server", effects.url.as_str()), ("tag", "api")])
        .send()
        .await
        .expect("start");
    assert_eq!(resp.status(), 200);
    let started: Value = resp.json().await.expect("json");
    let id = started["id"].as_str().expect("id").to_string();
    assert_eq!(started["state"]["current"], "CREATED");
    let exec = cluster.wait(&id).await;
    assert_eq!(exec.state.current, StateType::Success);
    let shown: Value =
        http.get(format!("{api}api/v1/executions/{id}")).send().await.expect("get").json().await.expect("json");
    assert_eq!(shown["state"]["current"], "SUCCESS");
    assert_eq!(shown["flowId"], "at_least_once");
    let labels = shown["labels"].as_array().expect("labels");
    assert!(
        labels.contains(&json!({"key": "env", "value": "test"}))
            && labels.contains(&json!({"key": "team", "value": "data"}))
    );

    let status = |path: String| {
        let http = http.clone();
        async move { http.post(path).json(&json!({})).send().await.expect("post").status().as_u16() }
    };
    assert_eq!(status(format!("{api}api/v1/executions/{NS}/nope")).await, 404);
    assert_eq!(status(format!("{api}api/v1/executions/{NS}/off")).await, 409);
    assert_eq!(status(format!("{api}api/v1/executions/{NS}/at_least_once")).await, 422, "required inputs missing");
    assert_eq!(http.get(format!("{api}api/v1/executions/nope")).send().await.expect("get").status(), 404);

    let kv = format!("{api}api/v1/main/namespaces/{NS}/kv");
    let put = http.put(format!("{kv}/answer")).body("42").send().await.expect("put");
    assert_eq!(put.status(), 200);
    let put = http.put(format!("{kv}/creds")).header("ttl", "PT1H").body(r#"{"user":"u"}"#).send().await.expect("put");
    assert_eq!(put.status(), 200);
    let got: Value = http.get(format!("{kv}/answer")).send().await.expect("get").json().await.expect("json");
    assert_eq!((&got["type"], &got["value"]), (&json!("NUMBER"), &json!(42)), "{got}");
    let got: Value = http.get(format!("{kv}/creds")).send().await.expect("get").json().await.expect("json");
    assert_eq!((&got["type"], &got["value"]), (&json!("JSON"), &json!({"user": "u"})), "{got}");
    let listed: Value = http.get(&kv).send().await.expect("list").json().await.expect("json");
    let keys: Vec<&str> = listed.as_array().expect("list").iter().filter_map(|e| e["key"].as_str()).collect();
    assert!(keys.contains(&"answer") && keys.contains(&"creds") && keys.contains(&"last_api"), "{keys:?}");
    assert_eq!(http.delete(format!("{kv}/answer")).send().await.expect("delete").text().await.expect("body"), "true");
    assert_eq!(http.get(format!("{kv}/answer")).send().await.expect("get").status(), 404);
    assert_eq!(http.put(format!("{kv}/-bad")).body("1").send().await.expect("put").status(), 422);
    assert_eq!(http.put(format!("{kv}/k")).header("ttl", "soon").body("1").send().await.expect("put").status(), 422);
    effects.release();
}
