//! Replay on the local server (`POST /api/v1/executions/{id}/replay`), with
//! and without `taskRunId`: a new execution; from a task run, what ran
//! before it is kept (a shell task appending to a file is not run again,
//! an output keeps the original's value) and the rest runs again; the
//! original is marked `system.replayed`. And enabling / disabling a
//! trigger with Kestra's bulk routes, which the scheduler then follows.

use std::time::Duration;

use serde_json::{Map, Value};
use shared::model::{Execution, StateType};
use shared::server::client::Client;

use crate::sched_support::{api_server, executions_of};

fn steps(dir: &std::path::Path) -> String {
    let file = dir.join("runs.txt");
    let file = file.display();
    format!(
        r#"id: steps
namespace: test.replay
tasks:
  - id: first
    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    outputFiles: ["out.txt"]
    commands:
      - echo first >> {file}
      - echo made by first > out.txt
  - id: stamp
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ execution.id }}}}"
  - id: second
    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    commands:
      - echo second >> {file}
  - id: last
    type: io.kestra.plugin.core.debug.Return
    format: "made by {{{{ outputs.stamp.value }}}}"
"#
    )
}

/// Polls execution `id` until it ends (a failure guard of a minute).
async fn ended(client: &Client, id: &str) -> Execution {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(e) = client.execution(id).await.expect("get").filter(|e| e.state.is_terminal()) {
            return e;
        }
        assert!(tokio::time::Instant::now() < deadline, "execution {id} never ended");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn run<'e>(e: &'e Execution, task: &str) -> &'e shared::model::TaskRun {
    e.task_run_list.iter().find(|t| t.task_id == task).unwrap_or_else(|| panic!("no task run {task} in {}", e.id))
}

fn label(v: &Value, key: &str) -> Option<String> {
    v["labels"].as_array()?.iter().find(|l| l["key"] == key).and_then(|l| l["value"].as_str().map(String::from))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_replay_from_a_task_run_keeps_what_ran_before_and_runs_the_rest_again_in_a_new_execution() {
    let work = crate::sched_support::temp_dir("replay-work");
    let flow = steps(&work);
    let (server, _dir) = api_server("replay", &[("steps.yml", &flow)], None).await;
    let client = Client::new(&server.url());
    let http = reqwest::Client::new();
    let runs = || std::fs::read_to_string(work.join("runs.txt")).unwrap_or_default();
    let orig = client.start_execution("test.replay", "steps", &Map::new(), &[], true).await.expect("start");
    assert_eq!(orig.state.current, StateType::Success, "{:?}", orig.error);
    assert_eq!(runs(), "first\nsecond\n");

    let replay = |query: String| {
        let http = http.clone();
        let url = format!("{}/api/v1/executions/{}/replay{query}", server.url(), orig.id);
        async move {
            let r = http.post(url).send().await.expect("replay");
            (r.status().as_u16(), r.json::<Value>().await.expect("json"))
        }
    };
    let (status, body) = replay(format!("?taskRunId={}", run(&orig, "second").id)).await;
    assert_eq!(status, 200, "{body}");
    let id = body["id"].as_str().expect("id").to_string();
    assert_ne!(id, orig.id);
    assert_eq!(body["originalId"], orig.id.as_str());
    assert_eq!(body["state"]["current"], "RESTARTED", "{body}");
    assert_eq!(label(&body, "system.replay").as_deref(), Some("true"), "{body}");
    let shown: Vec<(&str, &str)> = body["taskRunList"]
        .as_array()
        .expect("task runs")
        .iter()
        .map(|t| (t["taskId"].as_str().unwrap_or(""), t["state"]["current"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(shown, [("first", "SUCCESS"), ("stamp", "SUCCESS"), ("second", "RESTARTED")], "last is gone");

    let done = ended(&client, &id).await;
    assert_eq!(done.state.current, StateType::Success, "{:?}", done.error);
    assert_eq!(runs(), "first\nsecond\nsecond\n", "first is not run again, second is");
    let value = |e: &Execution, task: &str| run(e, task).outputs.as_ref().map(|o| o["value"].clone());
    assert_eq!(value(&done, "stamp"), Some(Value::from(orig.id.clone())), "the kept output is the original's");
    assert_eq!(value(&done, "last"), Some(Value::from(format!("made by {}", orig.id))), "last ran again, reading it");
    assert_eq!((run(&done, "first").attempts.len(), run(&done, "second").attempts.len()), (1, 2));
    let original: Value = http
        .get(format!("{}/api/v1/executions/{}", server.url(), orig.id))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(label(&original, "system.replayed").as_deref(), Some("true"), "{original}");

    // the kept output file is the original's, and can be read from the replay
    let uri = run(&done, "first").outputs.as_ref().map(|o| o["outputFiles"]["out.txt"].clone()).expect("outputFiles");
    let uri = uri.as_str().expect("a kestra:// URI").to_string();
    assert!(uri.contains(&orig.id), "{uri}");
    let preview = |exec: String, uri: String| {
        let http = http.clone();
        let url = format!("{}/api/v1/executions/{exec}/file/preview", server.url());
        async move {
            let r = http.get(url).query(&[("path", uri)]).send().await.expect("preview");
            (r.status().as_u16(), r.json::<Value>().await.expect("json"))
        }
    };
    let (status, v) = preview(id.clone(), uri.clone()).await;
    assert_eq!(status, 200, "{v}");
    assert!(v["content"].as_str().unwrap_or("").contains("made by first"), "{v}");

    // the whole flow again: CREATED, every task runs, stamp is the new id
    let (status, body) = replay(String::new()).await;
    assert_eq!((status, body["state"]["current"].as_str()), (200, Some("CREATED")), "{body}");
    assert_eq!(body["originalId"], orig.id.as_str());
    assert_eq!(label(&body, "system.replay").as_deref(), Some("true"), "{body}");
    let whole = ended(&client, body["id"].as_str().expect("id")).await;
    assert_eq!(value(&whole, "stamp"), Some(Value::from(whole.id.clone())));
    assert_eq!(runs(), "first\nsecond\nsecond\nfirst\nsecond\n");

    // refusals that say why; another execution's file is not this replay's
    let other = client.start_execution("test.replay", "steps", &Map::new(), &[], true).await.expect("start");
    let theirs = run(&other, "first").outputs.as_ref().map(|o| o["outputFiles"]["out.txt"].clone()).expect("files");
    let (status, v) = preview(id.clone(), theirs.as_str().unwrap_or("").to_string()).await;
    assert_eq!(status, 403, "{v}");
    let (status, body) = replay("?taskRunId=nope".into()).await;
    assert_eq!(status, 404, "{body}");
    assert!(body["message"].as_str().unwrap_or("").contains("has no task run 'nope'"), "{body}");
    let (status, body) = replay(format!("?taskRunId={}&revision=9", run(&orig, "second").id)).await;
    assert_eq!(status, 404, "{body}");

    // with a revision 2 saved, a whole replay of the original runs its
    // revision 1 and saves no revision 3
    let v2 = flow.replace("format: \"made by", "format: \"v2 made by");
    let r = http
        .put(format!("{}/api/v1/flows/test.replay/steps", server.url()))
        .header("content-type", "application/x-yaml")
        .body(v2)
        .send()
        .await
        .expect("update");
    assert_eq!(r.status().as_u16(), 200, "{:?}", r.text().await);
    let (status, body) = replay(String::new()).await;
    assert_eq!(status, 200, "{body}");
    let again = ended(&client, body["id"].as_str().expect("id")).await;
    assert_eq!(again.flow_revision, orig.flow_revision, "the original's revision runs");
    assert_eq!(value(&again, "last"), Some(Value::from(format!("made by {}", again.id))), "revision 1's task");
    let revisions: Value = http
        .get(format!("{}/api/v1/flows/test.replay/steps/revisions", server.url()))
        .send()
        .await
        .expect("revisions")
        .json()
        .await
        .expect("json");
    assert_eq!(revisions.as_array().map(Vec::len), Some(2), "no revision saved by the replay: {revisions}");
    server.shutdown().await;
}

const TICKING: &str = r#"id: ticking
namespace: test.replay
tasks:
  - id: out
    type: io.kestra.plugin.core.debug.Return
    format: "{{ trigger.date }}"
triggers:
  - id: every_second
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "* * * * * *"
    withSeconds: true
    recoverMissedSchedules: NONE
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trigger_disabled_by_kestras_bulk_route_stops_firing_until_enabled_again() {
    let (server, _dir) = api_server("set-disabled", &[("ticking.yml", TICKING)], None).await;
    let engine = server.engine.clone();
    let http = reqwest::Client::new();
    let count = || async { executions_of(&engine, "test.replay", "ticking").await.len() };
    let wait_for = |n: usize| async move {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while count().await < n {
            assert!(tokio::time::Instant::now() < deadline, "fewer than {n} scheduled executions");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    wait_for(1).await;
    let post = |path: &str, body: &str| {
        let req = http.post(format!("{}/api/v1{path}", server.url()));
        let req =
            if body.is_empty() { req } else { req.header("content-type", "application/json").body(body.to_string()) };
        async move {
            let r = req.send().await.expect("post");
            (r.status().as_u16(), r.json::<Value>().await.expect("json"))
        }
    };
    let key = r#"{"namespace": "test.replay", "flowId": "ticking", "triggerId": "every_second"}"#;
    let (status, v) =
        post("/triggers/set-disabled/by-triggers", &format!(r#"{{"triggers": [{key}], "disabled": true}}"#)).await;
    assert_eq!((status, &v["count"]), (200, &Value::from(1)), "{v}");
    let got: Value = http
        .get(format!("{}/api/v1/triggers/test.replay/ticking/every_second", server.url()))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(got["disabled"], true, "{got}");
    // a tick under way when it was disabled may still land
    tokio::time::sleep(Duration::from_millis(600)).await;
    let stopped = count().await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(count().await, stopped, "a disabled trigger does not fire");

    let (status, v) = post("/triggers/set-disabled/by-query?namespace=test.replay&disabled=false", "").await;
    assert_eq!((status, &v["count"]), (200, &Value::from(1)), "{v}");
    wait_for(stopped + 2).await;
    let (status, v) = post(
        "/triggers/set-disabled/by-triggers",
        r#"{"triggers": [{"namespace": "test.replay", "flowId": "ticking", "triggerId": "nope"}], "disabled": true}"#,
    )
    .await;
    assert_eq!(status, 404, "{v}");
    assert!(v["message"].as_str().unwrap_or("").contains("no trigger 'nope'"), "{v}");
    server.shutdown().await;
}
