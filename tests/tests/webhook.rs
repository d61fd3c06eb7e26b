//! `Webhook` triggers on `baton server local` (issue 21, item 2), driven
//! over HTTP as a caller would: Kestra's own webhook flows (`webhook.yaml`,
//! `webhook-dynamic-key.yaml`, `webhook-secret-key.yaml`) with a JSON
//! body, a JSON array, a text body, a GET with repeated parameters; a
//! wrong key, an unknown flow, a disabled trigger, a disabled flow and the
//! `/{key}/{path}` form refused as Kestra refuses them; `wait` +
//! `returnOutputs` answering the flow's outputs with trigger `inputs`
//! rendered from the body; a body over the limit refused with 413; and
//! basic auth not asked of a webhook; `conditions` (Kestra's
//! `webhook-with-condition.yaml`) answering 204 when they do not hold.

use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};
use shared::model::Execution;
use shared::runtime::secrets::Secrets;
use shared::server::guard::BasicAuth;
use shared::server::{LocalServer, ServerOptions};

use crate::sched_support::temp_dir;

const WEBHOOK: &str = r#"
id: webhook
namespace: io.kestra.tests
labels:
  flow-label-1: flow-label-1
  flow-label-2: flow-label-2

tasks:
  - id: out
    type: io.kestra.plugin.core.debug.Return
    format: "{{trigger | json }}"

triggers:
  - id: webhook
    type: io.kestra.plugin.core.trigger.Webhook
    key: a-secret-key
"#;

const DYNAMIC_KEY: &str = r#"
id: webhook-dynamic-key
namespace: io.kestra.tests
tasks:
  - id: out
    type: io.kestra.plugin.core.debug.Return
    format: "{{trigger | json }}"
triggers:
  - id: webhook
    type: io.kestra.plugin.core.trigger.Webhook
    key: "{{ flow.id }}"
"#;

const SECRET_KEY: &str = r#"
id: webhook-secret-key
namespace: io.kestra.tests
tasks:
  - id: out
    type: io.kestra.plugin.core.debug.Return
    format: "{{trigger | json }}"
triggers:
  - id: webhook
    type: io.kestra.plugin.core.trigger.Webhook
    key: "{{ secret('WEBHOOK_KEY') }}"
"#;

const DISABLED_TRIGGER: &str = r#"
id: webhook-off
namespace: io.kestra.tests
tasks:
  - id: out
    type: io.kestra.plugin.core.debug.Return
    format: x
triggers:
  - id: off
    type: io.kestra.plugin.core.trigger.Webhook
    key: offkey
    disabled: true
"#;

const DISABLED_FLOW: &str = r#"
id: webhook-flow-off
namespace: io.kestra.tests
disabled: true
tasks:
  - id: out
    type: io.kestra.plugin.core.debug.Return
    format: x
triggers:
  - id: hook
    type: io.kestra.plugin.core.trigger.Webhook
    key: flowoffkey
"#;

const WITH_CONDITION: &str = r#"
id: webhook-with-condition
namespace: io.kestra.tests
tasks:
  - id: out
    type: io.kestra.plugin.core.debug.Return
    format: "{{ trigger | json }}"
triggers:
  - id: webhook
    type: io.kestra.plugin.core.trigger.Webhook
    key: webhookKey
    conditions:
      - type: io.kestra.plugin.core.condition.ExpressionCondition
        expression: "{{trigger.body.hello == 'world'}}"
"#;

const WAIT_OUTPUTS: &str = r#"
id: webhook-wait
namespace: io.kestra.tests
inputs:
  - id: who
    type: STRING
tasks:
  - id: hello
    type: io.kestra.plugin.core.debug.Return
    format: "hello {{ inputs.who }} ({{ trigger.parameters.lang[0] }})"
outputs:
  - id: greeting
    type: STRING
    value: "{{ outputs.hello.value }}"
triggers:
  - id: hook
    type: io.kestra.plugin.core.trigger.Webhook
    key: waitkey
    wait: true
    returnOutputs: true
    inputs:
      who: "{{ trigger.body.name }}"
"#;

const WAIT_FAILS: &str = r#"
id: webhook-fails
namespace: io.kestra.tests
tasks:
  - id: boom
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: "no luck"
triggers:
  - id: hook
    type: io.kestra.plugin.core.trigger.Webhook
    key: failkey
    wait: true
"#;

/// Kestra's `responseCode`: the status of a `wait` answer, rendered
/// against the ended execution.
const WAIT_CODE: &str = r#"
id: webhook-created
namespace: io.kestra.tests
tasks:
  - id: code
    type: io.kestra.plugin.core.debug.Return
    format: "{{ trigger.body.code }}"
outputs:
  - id: made
    type: STRING
    value: "{{ outputs.code.value }}"
triggers:
  - id: hook
    type: io.kestra.plugin.core.trigger.Webhook
    key: createdkey
    wait: true
    returnOutputs: true
    responseCode: "{{ outputs.code.value }}"
"#;

/// A webhook with Kestra's common trigger properties: `labels` (rendered
/// with the trigger's variables) and `stopAfter`.
const STOP_AFTER: &str = r#"
id: webhook-stop-after
namespace: io.kestra.tests
labels:
  team: data
tasks:
  - id: check
    type: io.kestra.plugin.core.execution.Fail
    runIf: "{{ trigger.body.fail ?? false }}"
triggers:
  - id: hook
    type: io.kestra.plugin.core.trigger.Webhook
    key: stopkey
    labels:
      source: "{{ trigger.body.source }}"
      team: ops
    stopAfter:
      - FAILED
"#;

async fn start(auth: Option<BasicAuth>) -> LocalServer {
    let home = temp_dir("baton-webhook");
    let flows = home.join("flows");
    std::fs::create_dir_all(&flows).expect("flows");
    for (name, text) in [
        ("webhook.yaml", WEBHOOK),
        ("webhook-dynamic-key.yaml", DYNAMIC_KEY),
        ("webhook-secret-key.yaml", SECRET_KEY),
        ("off.yaml", DISABLED_TRIGGER),
        ("flow-off.yaml", DISABLED_FLOW),
        ("webhook-with-condition.yaml", WITH_CONDITION),
        ("wait.yaml", WAIT_OUTPUTS),
        ("fails.yaml", WAIT_FAILS),
        ("created.yaml", WAIT_CODE),
        ("stop-after.yaml", STOP_AFTER),
    ] {
        write(&flows, name, text);
    }
    let mut opts = ServerOptions::new(home.join("home"));
    opts.flows_dir = flows;
    opts.port = 0;
    opts.workers = 2;
    opts.tick = Duration::from_millis(200);
    opts.basic_auth = auth;
    let key = base64::engine::general_purpose::STANDARD.encode("secretKey");
    opts.secrets = Secrets::from_vars([("SECRET_WEBHOOK_KEY".to_string(), key)]);
    LocalServer::start(opts).await.expect("server starts")
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).expect("write flow");
}

fn hook_url(server: &LocalServer, tail: &str) -> String {
    format!("{}/api/v1/main/executions/webhook/io.kestra.tests/{tail}", server.url())
}

async fn json_of(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let text = r.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// The execution `id` once it has ended, through the API.
pub(crate) async fn ended(server: &LocalServer, id: &str) -> Execution {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(e) = server.engine.state.load_execution(id).await.expect("load")
            && e.state.is_terminal()
        {
            return e;
        }
        assert!(tokio::time::Instant::now() < deadline, "execution {id} never ended");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn executions_of(server: &LocalServer, flow_id: &str) -> usize {
    let all = server.engine.state.list_executions(&Default::default()).await.expect("list");
    all.iter().filter(|e| e.flow_id == flow_id).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_bodies_parameters_and_headers_reach_the_execution() {
    let server = start(None).await;
    let http = reqwest::Client::new();

    // POST JSON with repeated parameters, as Kestra's ExecutionControllerTest.webhook
    let r = http
        .post(hook_url(&server, "webhook/a-secret-key?name=john&age=12&age=13"))
        .header("x-custom", "one")
        .json(&json!({"a": 1, "b": true}))
        .send()
        .await
        .expect("post");
    let (status, v) = json_of(r).await;
    assert_eq!(status, 200, "{v}");
    let id = v["id"].as_str().expect("execution id").to_string();
    assert_eq!(v["namespace"], "io.kestra.tests");
    assert_eq!(v["flowId"], "webhook");
    assert_eq!(v["trigger"]["id"], "webhook");
    assert_eq!(v["trigger"]["type"], "io.kestra.plugin.core.trigger.Webhook");
    assert_eq!(v["trigger"]["variables"]["body"], json!({"a": 1, "b": true}));
    assert_eq!(v["trigger"]["variables"]["parameters"], json!({"name": ["john"], "age": ["12", "13"]}));
    assert_eq!(v["trigger"]["variables"]["headers"]["x-custom"], json!(["one"]));
    assert_eq!(v["state"]["current"], "CREATED");
    assert!(
        v["url"].as_str().expect("url").ends_with(&format!(
            "/executions/{}/{}/{id}",
            v["namespace"].as_str().unwrap_or(""),
            v["flowId"].as_str().unwrap_or("")
        )),
        "{v}"
    );
    let labels: Vec<(String, String)> = v["labels"]
        .as_array()
        .expect("labels")
        .iter()
        .map(|l| (l["key"].as_str().unwrap().to_string(), l["value"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(labels[0], ("flow-label-1".into(), "flow-label-1".into()));
    assert_eq!(labels[1], ("flow-label-2".into(), "flow-label-2".into()));
    assert!(labels.contains(&("system.from".into(), "trigger".into())), "{labels:?}");
    let e = ended(&server, &id).await;
    assert_eq!(e.state.current, shared::model::StateType::Success);
    // the flow renders {{ trigger | json }}: the request as the task saw it
    let seen: Value =
        serde_json::from_str(e.task_run_list[0].outputs.as_ref().expect("outputs")["value"].as_str().unwrap())
            .expect("json");
    assert_eq!(seen["body"], json!({"a": 1, "b": true}));
    assert_eq!(seen["parameters"]["age"], json!(["12", "13"]));
    assert_eq!(seen["id"], "webhook");

    // PUT a JSON array; POST text; GET without a body
    let r = http.put(hook_url(&server, "webhook/a-secret-key")).json(&json!([{"a": 1}])).send().await.expect("put");
    let (status, v) = json_of(r).await;
    assert_eq!((status, &v["trigger"]["variables"]["body"]), (200, &json!([{"a": 1}])), "{v}");
    let r = http
        .post(hook_url(&server, "webhook/a-secret-key"))
        .header("content-type", "text/plain")
        .body(r#"{\"a\":\"\"}"#)
        .send()
        .await
        .expect("text");
    let (status, v) = json_of(r).await;
    assert_eq!((status, &v["trigger"]["variables"]["body"]), (200, &json!(r#"{\"a\":\"\"}"#)), "{v}");
    let r = http.get(hook_url(&server, "webhook/a-secret-key?x=1")).send().await.expect("get");
    let (status, v) = json_of(r).await;
    assert_eq!(status, 200, "{v}");
    assert!(v["trigger"]["variables"].get("body").is_none(), "no body: {v}");
    assert_eq!(v["trigger"]["variables"]["parameters"], json!({"x": ["1"]}));
    assert_eq!(executions_of(&server, "webhook").await, 4, "one execution per request");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_keys_unknown_flows_and_disabled_triggers_start_nothing() {
    let server = start(None).await;
    let http = reqwest::Client::new();
    for (method, tail) in [
        ("POST", "webhook/not-the-key"),
        ("GET", "webhook/a-secret-ke"),
        ("POST", "webhook/a-secret-key/more/path"),
        ("POST", "webhook-off/offkey"),
        ("PUT", "not-found/a-secret-key"),
        ("GET", "webhook-secret-key/wrong"),
    ] {
        let url = hook_url(&server, tail);
        let req = match method {
            "GET" => http.get(&url),
            "PUT" => http.put(&url).json(&json!({})),
            _ => http.post(&url).json(&json!({"a": 1})),
        };
        let (status, v) = json_of(req.send().await.expect("send")).await;
        assert_eq!(status, 404, "{method} {tail}: {v}");
        let message = v["message"].as_str().unwrap_or_default();
        let expected = if tail.starts_with("not-found") { "Flow not found" } else { "Webhook not found" };
        assert!(message.contains(expected), "{method} {tail}: {v}");
    }
    let (status, v) =
        json_of(http.post(hook_url(&server, "webhook-flow-off/flowoffkey")).send().await.expect("send")).await;
    assert_eq!(status, 409, "a disabled flow, as Kestra answers: {v}");
    assert!(v["message"].as_str().unwrap().contains("disabled"), "{v}");
    for flow in ["webhook", "webhook-off", "webhook-flow-off", "webhook-secret-key"] {
        assert_eq!(executions_of(&server, flow).await, 0, "{flow}");
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn template_keys_are_rendered_from_the_flow_and_secrets() {
    let server = start(None).await;
    let http = reqwest::Client::new();
    let r = http.get(hook_url(&server, "webhook-dynamic-key/webhook-dynamic-key")).send().await.expect("get");
    let (status, v) = json_of(r).await;
    assert_eq!(status, 200, "{v}");
    assert!(v["id"].is_string());
    // SECRET_WEBHOOK_KEY is base64 of "secretKey", as in Kestra's test
    let r = http.get(hook_url(&server, "webhook-secret-key/secretKey")).send().await.expect("get");
    let (status, v) = json_of(r).await;
    assert_eq!(status, 200, "{v}");
    // the template itself is no key
    let r = http.get(hook_url(&server, "webhook-dynamic-key/%7B%7B%20flow.id%20%7D%7D")).send().await.expect("get");
    assert_eq!(r.status().as_u16(), 404);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_and_return_outputs_answer_when_the_execution_ends() {
    let server = start(None).await;
    let http = reqwest::Client::new();
    let r = http
        .post(hook_url(&server, "webhook-wait/waitkey?lang=en"))
        .json(&json!({"name": "Ada"}))
        .send()
        .await
        .expect("post");
    let (status, v) = json_of(r).await;
    assert_eq!((status, v), (200, json!({"greeting": "hello Ada (en)"})), "the flow's outputs, inputs from the body");

    // wait without returnOutputs: the ended execution; FAILED answers 500
    let r = http.post(hook_url(&server, "webhook-fails/failkey")).send().await.expect("post");
    let (status, v) = json_of(r).await;
    assert_eq!(status, 500, "{v}");
    assert_eq!(v["state"]["current"], "FAILED", "{v}");

    // an input the body does not give: 422, nothing started
    let r = http.post(hook_url(&server, "webhook-wait/waitkey")).json(&json!({"other": 1})).send().await.expect("post");
    let (status, v) = json_of(r).await;
    assert_eq!(status, 422, "{v}");
    assert_eq!(executions_of(&server, "webhook-wait").await, 1);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn response_code_renders_the_status_of_a_wait_answer() {
    let server = start(None).await;
    let http = reqwest::Client::new();
    let post =
        |code: &str| http.post(hook_url(&server, "webhook-created/createdkey")).json(&json!({"code": code})).send();
    let (status, v) = json_of(post("201").await.expect("post")).await;
    assert_eq!((status, v), (201, json!({"made": "201"})), "responseCode rendered from the execution's outputs");
    let (status, v) = json_of(post("299").await.expect("post")).await;
    assert_eq!(status, 299, "{v}");
    // not a status code: 500, as Kestra's fallback
    let (status, v) = json_of(post("nope").await.expect("post")).await;
    assert_eq!(status, 500, "{v}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_are_bounded_and_webhooks_need_no_basic_auth() {
    let auth = BasicAuth::parse("admin@kestra.io:Admin1234!").expect("auth");
    let server = start(Some(auth)).await;
    let http = reqwest::Client::new();
    // the rest of the API asks for the password…
    let r = http.get(format!("{}/api/v1/flows/search", server.url())).send().await.expect("get");
    assert_eq!(r.status().as_u16(), 401);
    // …a webhook does not: its key is the credential (and a foreign page's Origin does not matter)
    let r = http
        .post(hook_url(&server, "webhook/a-secret-key"))
        .header("origin", "https://hooks.example")
        .json(&json!({"a": 1}))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 200);
    let big = vec![b'x'; shared::api::webhook::MAX_BODY + 1];
    let r = http
        .post(hook_url(&server, "webhook/a-secret-key"))
        .header("content-type", "text/plain")
        .body(big)
        .send()
        .await
        .expect("post");
    let (status, v) = json_of(r).await;
    assert_eq!(status, 413, "{v}");
    assert!(v["message"].as_str().unwrap().contains("10485760"), "names the limit: {v}");
    assert_eq!(executions_of(&server, "webhook").await, 1);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conditions_decide_whether_a_request_starts_an_execution() {
    let server = start(None).await;
    let http = reqwest::Client::new();
    let url = hook_url(&server, "webhook-with-condition/webhookKey");
    let r = http.post(&url).json(&json!({"hello": "world"})).send().await.expect("post");
    let (status, v) = json_of(r).await;
    assert_eq!(status, 200, "{v}");
    assert!(v["id"].is_string(), "{v}");
    // Kestra's ExecutionControllerTest.webhookWithCondition: 204, no body, no execution
    let r = http.post(&url).json(&json!({"hello": "webhook"})).send().await.expect("post");
    assert_eq!(r.status().as_u16(), 204);
    assert!(r.text().await.expect("body").is_empty());
    assert_eq!(executions_of(&server, "webhook-with-condition").await, 1);
    server.shutdown().await;
}

/// A trigger's `labels` go onto every execution it starts (rendered with
/// the trigger's variables, over the flow's labels of the same key), and
/// `stopAfter: [FAILED]` stops the webhook once an execution it started
/// failed: it then answers as a disabled trigger and starts nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trigger_labels_and_stop_after() {
    let server = start(None).await;
    let http = reqwest::Client::new();
    let url = hook_url(&server, "webhook-stop-after/stopkey");
    let (status, v) = json_of(http.post(&url).json(&json!({"source": "crm"})).send().await.expect("send")).await;
    assert_eq!(status, 200, "{v}");
    let first = ended(&server, v["id"].as_str().expect("id")).await;
    assert_eq!(first.state.current, shared::model::StateType::Success);
    let label = |e: &Execution, k: &str| e.labels.iter().find(|l| l.key == k).map(|l| l.value.clone());
    assert_eq!(label(&first, "source").as_deref(), Some("crm"));
    assert_eq!(label(&first, "team").as_deref(), Some("ops"), "the trigger's label over the flow's");

    // a failed execution stops the trigger
    let (status, v) =
        json_of(http.post(&url).json(&json!({"source": "x", "fail": true})).send().await.expect("send")).await;
    assert_eq!(status, 200, "{v}");
    let failed = ended(&server, v["id"].as_str().expect("id")).await;
    assert_eq!(failed.state.current, shared::model::StateType::Failed);
    let (status, v) = json_of(http.post(&url).json(&json!({"source": "y"})).send().await.expect("send")).await;
    assert_eq!(status, 404, "stopped by stopAfter: {v}");
    assert!(v["message"].as_str().unwrap_or_default().contains("Webhook not found"), "{v}");
    assert_eq!(executions_of(&server, "webhook-stop-after").await, 2);
    server.shutdown().await;
}
