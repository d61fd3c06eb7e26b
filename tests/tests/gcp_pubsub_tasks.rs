//! `pubsub.Publish` and `pubsub.Consume` end to end on Google's Pub/Sub
//! emulator (`e2e::gcp_emulators`, each test in its own project): one flow
//! publishes three messages (a list, a single map, an Ion file), another
//! consumes them — bytes, attributes and ordering keys checked in the
//! stored file; a JSON Consume that meets a message that is not JSON fails
//! and leaves every message it took for the next Consume (acknowledged
//! only once stored); autoCreateSubscription; and what validation refuses.

use base64::Engine as _;
use e2e::gcp_emulators::{fresh_project, gcp_emulators};
use serde_json::{Value, json};
use shared::model::{Execution, StateType};
use shared::plugins::PluginConfig;
use shared::plugins::gcp::GcpConfig;

use crate::support::{Harness, harness_with_plugins, runs};

fn harness() -> Harness {
    let mut gcp = GcpConfig::emulators(None, None);
    gcp.endpoints = gcp.endpoints.with_pubsub_emulator(&gcp_emulators().pubsub_host);
    harness_with_plugins(PluginConfig { gcp, ..PluginConfig::default() })
}

fn output(e: &Execution, task: &str) -> Value {
    let r = runs(e, task);
    assert!(!r.is_empty(), "task {task} did not run: {:?}", e.error);
    Value::Object(r[0].outputs.as_deref().cloned().unwrap_or_default())
}

/// Creates topic `topic` and pull subscription `sub` on it in `project`.
async fn topic_and_subscription(project: &str, topic: &str, sub: Option<&str>) {
    let http = reqwest::Client::new();
    let base = format!("http://{}/v1/projects/{project}", gcp_emulators().pubsub_host);
    let r = http.put(format!("{base}/topics/{topic}")).send().await.expect("create topic");
    assert!(r.status().is_success(), "topic: {}", r.status());
    if let Some(sub) = sub {
        let body = json!({"topic": format!("projects/{project}/topics/{topic}"), "ackDeadlineSeconds": 10});
        let r = http.put(format!("{base}/subscriptions/{sub}")).json(&body).send().await.expect("subscribe");
        assert!(r.status().is_success(), "subscription: {}", r.text().await.unwrap_or_default());
    }
}

async fn lines(h: &Harness, uri: &str) -> Vec<Value> {
    let text = String::from_utf8(h.read_storage(uri).await).unwrap();
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn data(m: &Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD.decode(m["data"].as_str().unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flow_publishes_three_messages_and_another_consumes_them() {
    let h = harness();
    let project = fresh_project("pst");
    topic_and_subscription(&project, "orders", Some("orders-sub")).await;
    let publish = format!(
        r#"
id: publish
namespace: test.pubsub
tasks:
  - id: file
    type: io.kestra.plugin.core.storage.Write
    extension: .ion
    content: |
      {{"data": "from a file {{{{ '{{{{ 1 + 1 }}}}' }}}}", "attributes": {{"line": "1"}}}}
  - id: list
    type: io.kestra.plugin.gcp.pubsub.Publish
    topic: orders
    from:
      - data: "{{{{ 'order 1' | base64encode }}}}"
        attributes:
          source: kestra
          n: 1
      - data:
          id: 2
          items: [a, b]
        orderingKey: customer-7
    serdeType: JSON
  - id: ion
    type: io.kestra.plugin.gcp.pubsub.Publish
    topic: orders
    from: "{{{{ outputs.file.uri }}}}"
pluginDefaults:
  - type: io.kestra.plugin.gcp
    values:
      projectId: {project}
"#
    );
    let e = h.run(&publish, json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    assert_eq!(output(&e, "list")["messagesCount"], json!(2));
    assert_eq!(output(&e, "ion")["messagesCount"], json!(1));

    let consume = format!(
        r#"
id: consume
namespace: test.pubsub
tasks:
  - id: consume
    type: io.kestra.plugin.gcp.pubsub.Consume
    projectId: {project}
    topic: orders
    subscription: orders-sub
    maxRecords: 3
    maxDuration: PT60S
"#
    );
    let e = h.run(&consume, json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    let out = output(&e, "consume");
    assert_eq!(out["count"], json!(3));
    let mut got = lines(&h, out["uri"].as_str().unwrap()).await;
    got.sort_by_key(data);
    assert_eq!(got.len(), 3);
    // a string is sent as it is: the base64 text Kestra's example makes
    assert_eq!(data(&got[0]), b"b3JkZXIgMQ==");
    assert_eq!(got[0]["attributes"], json!({"n": "1", "source": "kestra"}));
    // a map with serdeType JSON: its JSON
    assert_eq!(data(&got[2]), br#"{"id":2,"items":["a","b"]}"#);
    assert_eq!(got[2]["orderingKey"], json!("customer-7"));
    // the Ion file's message, its fields rendered as Kestra renders them
    assert_eq!(data(&got[1]), b"from a file 2");
    assert_eq!(got[1]["attributes"], json!({"line": "1"}));
    assert!(got.iter().all(|m| !m["messageId"].as_str().unwrap().is_empty()));

    // all acknowledged: nothing comes again
    let again = consume.replace("maxRecords: 3\n    maxDuration: PT60S", "maxDuration: PT3S");
    let e = h.run(&again, json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    assert_eq!(output(&e, "consume")["count"], json!(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_are_acknowledged_only_once_stored() {
    let h = harness();
    let project = fresh_project("psa");
    topic_and_subscription(&project, "events", None).await;
    // autoCreateSubscription (the default) creates it: nothing to take yet
    let flow = |serde: &str, limit: &str| {
        format!(
            "id: take\nnamespace: test.pubsub\ntasks:\n  - id: take\n    type: io.kestra.plugin.gcp.pubsub.Consume\n    \
             projectId: {project}\n    topic: events\n    subscription: events-sub\n    serdeType: {serde}\n{limit}"
        )
    };
    let e = h.run(&flow("STRING", "    maxDuration: PT2S\n"), json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    assert_eq!(output(&e, "take")["count"], json!(0));

    let publish = format!(
        "id: pub\nnamespace: test.pubsub\ntasks:\n  - id: pub\n    type: io.kestra.plugin.gcp.pubsub.Publish\n    \
         projectId: {project}\n    topic: events\n    from:\n      - data: '{{\"ok\": true}}'\n      - data: not json\n"
    );
    let e = h.run(&publish, json!({})).await;
    assert_eq!(output(&e, "pub")["messagesCount"], json!(2));

    // JSON: the second message is not JSON; the task fails, nothing is acknowledged
    let e = h.run(&flow("JSON", "    maxRecords: 2\n    maxDuration: PT20S\n"), json!({})).await;
    let logs = h.logs(&e.id).await.join("\n");
    assert_eq!(e.state.current, StateType::Failed, "{:?} {logs}", runs(&e, "take")[0].outputs);
    assert!(logs.contains("serdeType is JSON, but its data is not JSON"), "{logs}");

    // both come again to a STRING Consume
    let e = h.run(&flow("STRING", "    maxRecords: 2\n    maxDuration: PT30S\n"), json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    let out = output(&e, "take");
    assert_eq!(out["count"], json!(2));
    let mut got: Vec<Vec<u8>> = lines(&h, out["uri"].as_str().unwrap()).await.iter().map(data).collect();
    got.sort();
    assert_eq!(got, [b"not json".to_vec(), br#"{"ok": true}"#.to_vec()]);
}

#[test]
fn validation_refuses_what_pubsub_tasks_do_not_have() {
    let registry = shared::plugins::Registry::builtin();
    let renderer = shared::template::Renderer::new();
    let flow = r#"
id: bad
namespace: test.pubsub
tasks:
  - id: pub
    type: io.kestra.plugin.gcp.pubsub.Publish
    topic: t
    from:
      - data: x
        key: k
  - id: pub_uri
    type: io.kestra.plugin.gcp.pubsub.Publish
    topic: t
    from: gs://b/f.ion
  - id: consume
    type: io.kestra.plugin.gcp.pubsub.Consume
    topic: t
    subscription: s
    maxRecords: 1000000
    maxDuration: PT2H
    groupId: g
"#;
    let (_, diags) = shared::validate::validate_source("f.yaml", flow, &registry, &renderer);
    let all = diags.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n");
    assert!(all.contains("unknown message property 'key'"), "{all}");
    assert!(all.contains("'gs://b/f.ion' is not a kestra:// URI"), "{all}");
    assert!(all.contains("above 100000, the most messages Baton's Consume takes"), "{all}");
    assert!(all.contains("is at most PT55M"), "{all}");
    assert!(all.contains("unknown property 'groupId' for io.kestra.plugin.gcp.pubsub.Consume"), "{all}");
}
