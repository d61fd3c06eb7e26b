//! Webhooks on GCP's shape: the api function (the local server's code)
//! takes a webhook whose key is a `secret()`, and the executor and worker
//! functions run the execution over pushes delivered twice each — one
//! request, one execution; `wait` + `returnOutputs` answers the flow's
//! outputs through the function. The webhook-only service
//! (`BATON_API_ROUTES=webhooks`, what Terraform exposes publicly with
//! `webhooks_public`) serves the same webhook and nothing else of the API.

use base64::Engine as _;
use e2e::functions::{Cluster, ClusterOptions, serve};
use serde_json::{Value, json};
use shared::backend::StateStore as _;
use shared::functions::relay::RelayOptions;
use shared::model::StateType;
use shared::runtime::secrets::Secrets;

const HOOKED: &str = r#"
id: hooked
namespace: test.functions
tasks:
  - id: echo
    type: io.kestra.plugin.core.debug.Return
    format: "{{ trigger.body.name }} via {{ trigger.id }}"
outputs:
  - id: said
    type: STRING
    value: "{{ outputs.echo.value }}"
triggers:
  - id: hook
    type: io.kestra.plugin.core.trigger.Webhook
    key: "{{ secret('HOOK_KEY') }}"
  - id: waiting
    type: io.kestra.plugin.core.trigger.Webhook
    key: "{{ secret('HOOK_KEY') }}-wait"
    wait: true
    returnOutputs: true
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_function_serves_webhooks_once_per_request() {
    let key = base64::engine::general_purpose::STANDARD.encode("s3cr3t");
    let cluster = Cluster::start(ClusterOptions {
        flows: vec![("hooked.yaml".into(), HOOKED.into())],
        relay: RelayOptions { duplicate: true, ..RelayOptions::default() },
        secrets: Secrets::from_vars([("SECRET_HOOK_KEY".to_string(), key)]),
        ..ClusterOptions::default()
    })
    .await;
    let http = &cluster.http;
    let hook = |base: &str, key: &str| format!("{base}api/v1/executions/webhook/test.functions/hooked/{key}");

    let r = http.post(hook(&cluster.api.url, "s3cr3t")).json(&json!({"name": "Ada"})).send().await.expect("post");
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.expect("json");
    let id = v["id"].as_str().expect("id").to_string();
    let e = cluster.wait(&id).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    assert_eq!(e.outputs.as_ref().expect("outputs")["said"], "Ada via hook");
    let all = cluster.backends.state.list_executions(&Default::default()).await.expect("list");
    assert_eq!(all.len(), 1, "every push twice, still one execution for one request");

    let r = http.post(hook(&cluster.api.url, "s3cr3t-wait")).json(&json!({"name": "Bo"})).send().await.expect("post");
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.expect("json"), json!({"said": "Bo via waiting"}));
    assert_eq!(http.post(hook(&cluster.api.url, "s3cr3")).send().await.expect("post").status(), 404);

    // the public, webhook-only service over the same backends and flows
    let public = serve(shared::functions::api::webhooks_router(cluster.backends.engine()).await).await;
    let r = http.post(hook(&public.url, "s3cr3t")).json(&json!({"name": "Cy"})).send().await.expect("post");
    assert_eq!(r.status(), 200);
    let id = r.json::<Value>().await.expect("json")["id"].as_str().expect("id").to_string();
    assert_eq!(cluster.wait(&id).await.outputs.expect("outputs")["said"], "Cy via hook");
    for path in ["api/v1/flows/search", "api/v1/executions/search", "api/v1/main/namespaces/test.functions/kv", ""] {
        let r = http.get(format!("{}{path}", public.url)).send().await.expect("get");
        assert_eq!(r.status(), 404, "{path} is not served by the webhook-only service");
    }
    assert_eq!(http.get(format!("{}healthz", public.url)).send().await.expect("get").status(), 200);
}
