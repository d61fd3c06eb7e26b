//! Kestra's execution actions on the local server, at Kestra 1.x's paths
//! and 2.0's `/actions/` paths, with and without the `/main` tenant:
//! `replay-with-inputs` (a replay whose inputs are the ones sent, from the
//! start or from a task run) and `change-status` (an ended execution said
//! to have ended otherwise), one by one and in bulk; and the bulk replay
//! and labels routes.

use serde_json::{Value, json};
use shared::server::client::Client;

use crate::sched_support::api_server;

const GREET: &str = r#"id: greet
namespace: test.actions
inputs:
  - id: name
    type: STRING
  - id: times
    type: INT
    defaults: 1
tasks:
  - id: first
    type: io.kestra.plugin.core.debug.Return
    format: "first saw {{ inputs.name }}"
  - id: second
    type: io.kestra.plugin.core.debug.Return
    format: "{{ inputs.name }} x{{ inputs.times }}"
"#;

const BOUNDARY: &str = "Xact1X";

/// Kestra's multipart inputs form, as kestrapy sends it.
fn form(fields: &[(&str, &str)]) -> String {
    let mut s = String::new();
    for (k, v) in fields {
        s.push_str(&format!("--{BOUNDARY}\r\ncontent-disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"));
    }
    s + &format!("--{BOUNDARY}--\r\n")
}

async fn post_form(http: &reqwest::Client, url: String, fields: &[(&str, &str)]) -> (u16, Value) {
    let r = http
        .post(url)
        .header("content-type", format!("multipart/form-data; boundary={BOUNDARY}"))
        .body(form(fields))
        .send()
        .await
        .expect("post");
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn post(http: &reqwest::Client, url: String, body: Option<Value>) -> (u16, Value) {
    let req = http.post(url);
    let req = match body {
        Some(b) => req.json(&b),
        None => req,
    };
    let r = req.send().await.expect("post");
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

fn output(e: &shared::model::Execution, task: &str) -> Option<Value> {
    e.task_run_list.iter().find(|t| t.task_id == task)?.outputs.as_ref().map(|o| o["value"].clone())
}

/// How many executions the server has.
async fn count(http: &reqwest::Client, base: &str) -> u64 {
    let r = http.get(format!("{base}/api/v1/executions/search?size=1")).send().await.expect("search");
    let v: Value = r.json().await.expect("json");
    v["total"].as_u64().unwrap_or_else(|| panic!("no total: {v}"))
}

/// Polls until execution `id` has ended.
async fn ended(client: &Client, id: &str) -> shared::model::Execution {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        if let Some(e) = client.execution(id).await.expect("get").filter(|e| e.state.is_terminal()) {
            return e;
        }
        assert!(tokio::time::Instant::now() < deadline, "execution {id} never ended");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replay_with_inputs_runs_again_with_the_inputs_sent() {
    let (server, dir) = api_server("actions-replay", &[("greet.yml", GREET)], None).await;
    let base = server.url().trim_end_matches('/').to_string();
    let client = Client::new(&server.url());
    let http = reqwest::Client::new();
    let mut inputs = serde_json::Map::new();
    inputs.insert("name".into(), json!("Ada"));
    let orig = client.start_execution("test.actions", "greet", &inputs, &[], true).await.expect("start");
    assert_eq!(output(&orig, "second"), Some(json!("Ada x1")));

    // Kestra 2.0's path under the tenant, from the start: every task sees the new inputs
    let url = format!("{base}/api/v1/main/executions/{}/actions/replay-with-inputs", orig.id);
    let (status, body) = post_form(&http, url, &[("name", "Grace"), ("times", "3")]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["inputs"], json!({"name": "Grace", "times": 3}), "{body}");
    assert_eq!(body["originalId"], orig.id.as_str());
    let done = ended(&client, body["id"].as_str().expect("id")).await;
    assert_eq!(output(&done, "first"), Some(json!("first saw Grace")));
    assert_eq!(output(&done, "second"), Some(json!("Grace x3")));
    assert!(done.labels.iter().any(|l| l.key == "system.replay" && l.value == "true"), "{:?}", done.labels);

    // Kestra 1.x's path from a task run: what ran before it is kept as it was
    let second = orig.task_run_list.iter().find(|t| t.task_id == "second").expect("second").id.clone();
    let url = format!("{base}/api/v1/executions/{}/replay-with-inputs?taskRunId={second}", orig.id);
    let (status, body) = post_form(&http, url, &[("name", "Linus")]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["state"]["current"], "RESTARTED", "{body}");
    let done = ended(&client, body["id"].as_str().expect("id")).await;
    assert_eq!(output(&done, "first"), Some(json!("first saw Ada")), "kept from the original");
    assert_eq!(output(&done, "second"), Some(json!("Linus x1")), "ran again with the new inputs and defaults");

    // an input that does not fit is named, and nothing starts
    let before = count(&http, &base).await;
    let url = format!("{base}/api/v1/executions/{}/replay-with-inputs", orig.id);
    let (status, body) = post_form(&http, url, &[("name", "x"), ("times", "many")]).await;
    assert_eq!(status, 422, "{body}");
    assert!(body["message"].as_str().is_some_and(|m| m.contains("times")), "{body}");
    let (status, body) = post_form(&http, format!("{base}/api/v1/executions/nope/replay-with-inputs"), &[]).await;
    assert_eq!(status, 404, "{body}");
    let url = format!("{base}/api/v1/executions/{}/replay-with-inputs?breakpoints=second", orig.id);
    let (status, body) = post_form(&http, url, &[("name", "x")]).await;
    assert_eq!(status, 501, "breakpoints are refused, not ignored: {body}");
    assert_eq!(count(&http, &base).await, before);
    server.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn change_status_says_an_ended_execution_ended_otherwise() {
    let pause = "id: held\nnamespace: test.actions\ntasks:\n  - id: wait\n    type: io.kestra.plugin.core.flow.Pause\n";
    let (server, dir) = api_server("actions-status", &[("greet.yml", GREET), ("held.yml", pause)], None).await;
    let base = server.url().trim_end_matches('/').to_string();
    let client = Client::new(&server.url());
    let http = reqwest::Client::new();
    let mut inputs = serde_json::Map::new();
    inputs.insert("name".into(), json!("Ada"));
    let a = client.start_execution("test.actions", "greet", &inputs, &[], true).await.expect("a");
    let b = client.start_execution("test.actions", "greet", &inputs, &[], true).await.expect("b");
    assert_eq!((a.state.current.as_str(), b.state.current.as_str()), ("SUCCESS", "SUCCESS"));

    let (status, body) =
        post(&http, format!("{base}/api/v1/main/executions/{}/actions/change-status?status=FAILED", a.id), None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["state"]["current"], "FAILED", "{body}");
    let stored = client.execution(&a.id).await.expect("get").expect("a");
    assert_eq!(stored.state.current.as_str(), "FAILED");
    let last: Vec<&str> = stored.state.histories.iter().rev().take(2).map(|h| h.state.as_str()).collect();
    assert_eq!(last, ["FAILED", "SUCCESS"], "the change is in the history");
    assert!(
        stored.task_run_list.iter().all(|t| t.state.current.as_str() == "SUCCESS"),
        "task runs are left as they are"
    );
    // Kestra 1.x's path, without the tenant
    let (status, body) =
        post(&http, format!("{base}/api/v1/executions/{}/change-status?status=WARNING", a.id), None).await;
    assert_eq!((status, body["state"]["current"].clone()), (200, json!("WARNING")), "{body}");

    // refused: a state that is not an end, an execution still running, an unknown one
    let (status, body) =
        post(&http, format!("{base}/api/v1/executions/{}/change-status?status=RUNNING", a.id), None).await;
    assert_eq!(status, 400, "{body}");
    let held = client.start_execution("test.actions", "held", &serde_json::Map::new(), &[], false).await.expect("held");
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while client.execution(&held.id).await.expect("get").is_none_or(|e| e.state.current.as_str() != "PAUSED") {
        assert!(tokio::time::Instant::now() < deadline, "never paused");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (status, body) =
        post(&http, format!("{base}/api/v1/executions/{}/change-status?status=SUCCESS", held.id), None).await;
    assert_eq!(status, 409, "{body}");
    let (status, _) = post(&http, format!("{base}/api/v1/executions/nope/change-status?status=SUCCESS"), None).await;
    assert_eq!(status, 404);

    // in bulk: all or nothing
    let url = format!("{base}/api/v1/main/executions/change-status/by-ids?newStatus=CANCELLED");
    let (status, body) = post(&http, url.clone(), Some(json!([a.id, held.id]))).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["invalids"][0]["invalidValue"], held.id.as_str(), "{body}");
    assert_eq!(client.execution(&b.id).await.expect("get").expect("b").state.current.as_str(), "SUCCESS");
    let (status, body) = post(&http, url, Some(json!([a.id, b.id]))).await;
    assert_eq!((status, body), (200, json!({"count": 2})));
    for id in [&a.id, &b.id] {
        assert_eq!(client.execution(id).await.expect("get").expect("e").state.current.as_str(), "CANCELLED");
    }
    let url =
        format!("{base}/api/v1/executions/change-status/by-query?newStatus=SUCCESS&filters[state][EQUALS]=CANCELLED");
    let (status, body) = post(&http, url, None).await;
    assert_eq!((status, body), (200, json!({"count": 2})));
    assert_eq!(client.execution(&b.id).await.expect("get").expect("b").state.current.as_str(), "SUCCESS");

    // labels in bulk: ended executions only, merged by key, system labels kept
    let url = format!("{base}/api/v1/main/executions/labels/by-ids");
    let body = json!({"executionsId": [a.id, b.id], "executionLabels": [{"key": "reviewed", "value": "yes"}]});
    let (status, answer) = post(&http, url.clone(), Some(body)).await;
    assert_eq!((status, answer), (200, json!({"count": 2})));
    let labelled = client.execution(&b.id).await.expect("get").expect("b");
    assert!(labelled.labels.iter().any(|l| l.key == "reviewed" && l.value == "yes"), "{:?}", labelled.labels);
    let body = json!({"executionsId": [a.id, held.id], "executionLabels": [{"key": "x", "value": "1"}]});
    let (status, answer) = post(&http, url.clone(), Some(body)).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["invalids"][0]["invalidValue"], held.id.as_str(), "{answer}");
    // as Kestra: a system label may be sent as it is, never with another value; nothing changed then
    let before = client.execution(&a.id).await.expect("get").expect("a").labels;
    let own = before.iter().find(|l| l.key.starts_with("system.")).map(|l| json!({"key": l.key, "value": l.value}));
    for sent in [json!({"key": "system.replay", "value": "true"}), json!({"key": "team", "value": ""})] {
        let body = json!({"executionsId": [a.id], "executionLabels": [{"key": "y", "value": "1"}, sent]});
        let (status, answer) = post(&http, url.clone(), Some(body)).await;
        assert_eq!(status, 422, "{answer}");
        assert!(answer["message"].as_str().is_some_and(|m| m.contains(a.id.as_str())), "{answer}");
    }
    assert_eq!(client.execution(&a.id).await.expect("get").expect("a").labels, before, "nothing changed");
    let query = format!("{base}/api/v1/executions/labels/by-query?filters[labels][EQUALS][reviewed]=yes");
    let sent = json!([{"key": "batch", "value": "7"}, {"key": "reviewed", "value": "twice"}]);
    let (status, answer) = post(&http, query, Some(sent)).await;
    assert_eq!((status, answer), (200, json!({"count": 2})));
    // merged, not replaced: the sent values win, the other labels (system ones too) stay
    let labelled = client.execution(&a.id).await.expect("get").expect("a").labels;
    let value = |k: &str| labelled.iter().find(|l| l.key == k).map(|l| l.value.as_str());
    assert_eq!((value("batch"), value("reviewed")), (Some("7"), Some("twice")), "{labelled:?}");
    for l in &before {
        assert!(l.key == "reviewed" || labelled.contains(l), "{l:?} kept: {labelled:?}");
    }
    // an execution's own system label sent back as it is: accepted
    if let Some(own) = own {
        let body = json!({"executionsId": [a.id], "executionLabels": [own, {"key": "batch", "value": "7"}]});
        let (status, answer) = post(&http, url, Some(body)).await;
        assert_eq!((status, answer), (200, json!({"count": 1})));
    }
    let url_replay = format!("{base}/api/v1/executions/replay/by-query?filters[labels][EQUALS][reviewed]=twice");

    // replays in bulk: each a new execution from the start (labels copied)
    let before = count(&http, &base).await;
    let (status, answer) = post(&http, url_replay, None).await;
    assert_eq!((status, answer), (200, json!({"count": 2})));
    assert_eq!(count(&http, &base).await, before + 2);
    let url = format!("{base}/api/v1/main/executions/replay/by-ids?latestRevision=true");
    let (status, answer) = post(&http, url.clone(), Some(json!([a.id, "nope"]))).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(count(&http, &base).await, before + 2, "nothing replayed when an id is unknown");
    let (status, answer) = post(&http, url, Some(json!([a.id]))).await;
    assert_eq!((status, answer), (200, json!({"count": 1})));
    assert_eq!(count(&http, &base).await, before + 3);
    server.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}

/// As Kestra's executor does with the changed execution: a `Flow` trigger
/// listening for the new state starts, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_changed_status_starts_the_flow_triggers_of_the_new_state() {
    let alert = r#"id: alert
namespace: test.actions
tasks:
  - id: say
    type: io.kestra.plugin.core.debug.Return
    format: "{{ trigger.executionId }} {{ trigger.state }}"
triggers:
  - id: on_failure
    type: io.kestra.plugin.core.trigger.Flow
    preconditions:
      id: greet_failed
      flows:
        - namespace: test.actions
          flowId: greet
          states: [FAILED]
"#;
    let (server, dir) = api_server("actions-trigger", &[("greet.yml", GREET), ("alert.yml", alert)], None).await;
    let base = server.url().trim_end_matches('/').to_string();
    let client = Client::new(&server.url());
    let http = reqwest::Client::new();
    let mut inputs = serde_json::Map::new();
    inputs.insert("name".into(), json!("Ada"));
    let a = client.start_execution("test.actions", "greet", &inputs, &[], true).await.expect("a");
    let alerts = || {
        let http = http.clone();
        let url = format!("{base}/api/v1/executions/search?filters[flowId][EQUALS]=alert");
        async move {
            let v: Value = http.get(url).send().await.expect("search").json().await.expect("json");
            v["results"].as_array().cloned().unwrap_or_default()
        }
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(alerts().await.is_empty(), "greet succeeded: no alert");
    let url = format!("{base}/api/v1/main/executions/{}/actions/change-status?status=FAILED", a.id);
    assert_eq!(post(&http, url, None).await.0, 200);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    let alert = loop {
        if let Some(e) = alerts().await.into_iter().next() {
            break e;
        }
        assert!(tokio::time::Instant::now() < deadline, "no alert started for the FAILED state");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let done = ended(&client, alert["id"].as_str().expect("id")).await;
    assert_eq!(output(&done, "say"), Some(json!(format!("{} FAILED", a.id))));
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(alerts().await.len(), 1, "started once");
    server.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}
