//! Disabling a trigger of any type, as Kestra's API and `Toggle` task do
//! (not only a Schedule): a Webhook disabled through `PUT /api/v1/triggers`
//! answers 404 until enabled again, and a Flow trigger disabled by the
//! bulk route starts nothing.

use std::time::Duration;

use serde_json::Value;

use crate::sched_support::{api_server, executions_of};

const HOOK: &str = r#"id: hooked
namespace: test.disable
tasks:
  - id: hi
    type: io.kestra.plugin.core.log.Log
    message: "{{ trigger.body.name }}"
triggers:
  - id: hook
    type: io.kestra.plugin.core.trigger.Webhook
    key: a-secret-key
"#;

const LISTENER: &str = r#"id: listener
namespace: test.disable
tasks:
  - id: hi
    type: io.kestra.plugin.core.log.Log
    message: "{{ trigger.executionId }}"
triggers:
  - id: after_hooked
    type: io.kestra.plugin.core.trigger.Flow
    preconditions:
      id: upstream
      flows:
        - namespace: test.disable
          flowId: hooked
          states: [SUCCESS]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_and_flow_triggers_are_disabled_through_the_api_until_enabled_again() {
    let (server, _dir) = api_server("trigger-disable", &[("hooked.yml", HOOK), ("listener.yml", LISTENER)], None).await;
    let engine = server.engine.clone();
    let http = reqwest::Client::new();
    let api = |path: &str| format!("{}/api/v1{path}", server.url());
    let hook = || {
        http.post(api("/executions/webhook/test.disable/hooked/a-secret-key"))
            .header("content-type", "application/json")
            .body(r#"{"name": "ada"}"#)
            .send()
    };
    let put = |trigger: &str, disabled: bool| {
        http.put(api("/triggers"))
            .header("content-type", "application/json")
            .body(format!(
                r#"{{"namespace": "test.disable", "flowId": "{}", "triggerId": "{trigger}", "disabled": {disabled}}}"#,
                if trigger == "hook" { "hooked" } else { "listener" }
            ))
            .send()
    };
    let wait_for = |flow: &'static str, n: usize| {
        let engine = engine.clone();
        async move {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
            while executions_of(&engine, "test.disable", flow).await.len() < n {
                assert!(tokio::time::Instant::now() < deadline, "fewer than {n} executions of {flow}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };

    // the Webhook disabled: 404, nothing starts
    let r = put("hook", true).await.expect("put");
    assert_eq!(r.status().as_u16(), 200);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["disabled"], true, "{v}");
    let r = hook().await.expect("webhook");
    assert_eq!(r.status().as_u16(), 404, "a disabled Webhook is not found, as in Kestra");
    assert!(executions_of(&engine, "test.disable", "hooked").await.is_empty());

    // enabled again: it starts its flow; the Flow trigger, disabled by
    // Kestra's bulk route, does not start the listener
    let r = http
        .post(api("/triggers/set-disabled/by-triggers"))
        .header("content-type", "application/json")
        .body(r#"{"triggers": [{"namespace": "test.disable", "flowId": "listener", "triggerId": "after_hooked"}], "disabled": true}"#)
        .send()
        .await
        .expect("bulk");
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(put("hook", false).await.expect("put").status().as_u16(), 200);
    let r = hook().await.expect("webhook");
    assert_eq!(r.status().as_u16(), 200);
    wait_for("hooked", 1).await;
    let ended =
        crate::sched_support::wait_ended(&engine, &executions_of(&engine, "test.disable", "hooked").await[0].id).await;
    assert_eq!(ended.state.current, shared::model::StateType::Success);
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(
        executions_of(&engine, "test.disable", "listener").await.is_empty(),
        "a disabled Flow trigger starts nothing"
    );

    // the Flow trigger enabled again: the next upstream success starts it
    assert_eq!(put("after_hooked", false).await.expect("put").status().as_u16(), 200);
    assert_eq!(hook().await.expect("webhook").status().as_u16(), 200);
    wait_for("listener", 1).await;
    server.shutdown().await;
}
