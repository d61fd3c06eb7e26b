//! Pause and resume on `baton server local` (shared/src/api/resume.rs):
//! a Pause with `onResume` inputs pauses the execution; resuming a running
//! one answers 409 with Kestra's message; `/resume/validate` names a
//! missing required input; `POST /executions/{id}/resume` as Kestra's
//! multipart form (a STRING field and a FILE part) resumes it and the next
//! task reads both; `resume/by-ids` refuses what is not PAUSED and resumes
//! the rest; a Pause with a duration resumes by itself.

use std::time::Duration;

use serde_json::{Value, json};

use crate::sched_support::{api_server, wait_ended};

const ASK: &str = "id: ask\nnamespace: test.pause\ntasks:\n  - id: pause\n    type: io.kestra.plugin.core.flow.Pause\n    onResume:\n      - id: asked\n        type: STRING\n      - id: data\n        type: FILE\n        required: false\n  - id: last\n    type: io.kestra.plugin.core.output.OutputValues\n    values:\n      asked: \"{{outputs.pause.onResume.asked}}\"\n      data: \"{{ read(outputs.pause.onResume.data) }}\"\n";
const PLAIN: &str = "id: plain\nnamespace: test.pause\ntasks:\n  - id: pause\n    type: io.kestra.plugin.core.flow.Pause\n  - id: last\n    type: io.kestra.plugin.core.log.Log\n    message: after\n";
const TIMED: &str = "id: timed\nnamespace: test.pause\ntasks:\n  - id: pause\n    type: io.kestra.plugin.core.flow.Pause\n    pauseDuration: PT1S\n    behavior: WARN\n  - id: last\n    type: io.kestra.plugin.core.log.Log\n    message: after\n";

async fn state_of(http: &reqwest::Client, base: &str, id: &str) -> Value {
    http.get(format!("{base}/api/v1/executions/{id}")).send().await.expect("get").json().await.expect("json")
}

async fn wait_state(http: &reqwest::Client, base: &str, id: &str, want: &str) -> Value {
    for _ in 0..200 {
        let e = state_of(http, base, id).await;
        if e["state"]["current"] == want {
            return e;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("execution {id} never {want}: {}", state_of(http, base, id).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn paused_executions_resume_through_the_api() {
    let (server, _dir) =
        api_server("baton-pause", &[("ask.yml", ASK), ("plain.yml", PLAIN), ("timed.yml", TIMED)], None).await;
    let base = server.url().trim_end_matches('/').to_string();
    let http = reqwest::Client::new();
    let start = |flow: &str| {
        let (http, base, flow) = (http.clone(), base.clone(), flow.to_string());
        async move {
            let e: Value = http
                .post(format!("{base}/api/v1/executions/test.pause/{flow}"))
                .send()
                .await
                .expect("start")
                .json()
                .await
                .expect("json");
            e["id"].as_str().expect("id").to_string()
        }
    };

    let id = start("ask").await;
    let paused = wait_state(&http, &base, &id, "PAUSED").await;
    assert_eq!(paused["taskRunList"].as_array().map(Vec::len), Some(1), "{paused}");
    assert_eq!(paused["taskRunList"][0]["state"]["current"], "PAUSED");

    // validate: the required input is missing
    let v = http.post(format!("{base}/api/v1/executions/{id}/resume/validate")).json(&json!({})).send().await;
    let v = v.expect("validate");
    assert_eq!(v.status().as_u16(), 200);
    let v: Value = v.json().await.expect("json");
    assert_eq!(v["inputs"][0]["errors"][0]["message"], "Missing required input 'asked'", "{v}");
    // resuming without it is refused, nothing changes
    let r = http.post(format!("{base}/api/v1/executions/{id}/resume")).json(&json!({})).send().await.expect("resume");
    assert_eq!(r.status().as_u16(), 422);
    assert_eq!(state_of(&http, &base, &id).await["state"]["current"], "PAUSED");

    // Kestra's multipart form: a field and a file part
    let b = "XpauseX";
    let body = format!(
        "--{b}\r\ncontent-disposition: form-data; name=\"asked\"\r\n\r\nrestarted\r\n--{b}\r\ncontent-disposition: form-data; name=\"data\"; filename=\"d.txt\"\r\n\r\n{id}\r\n--{b}--\r\n"
    );
    let r = http
        .post(format!("{base}/api/v1/executions/{id}/resume"))
        .header("content-type", format!("multipart/form-data; boundary={b}"))
        .body(body)
        .send()
        .await
        .expect("resume");
    assert_eq!(r.status().as_u16(), 204, "{}", r.text().await.unwrap_or_default());
    let done = wait_ended(&server.engine, &id).await;
    assert_eq!(done.state.current, shared::model::StateType::Success);
    let last = done.task_run_list.iter().find(|t| t.task_id == "last").expect("last ran");
    let values = &last.outputs.as_ref().expect("outputs")["values"];
    assert_eq!(values["asked"], "restarted");
    assert_eq!(values["data"], id.as_str(), "the uploaded file reached the next task");

    // resuming an execution that is not paused: 409, Kestra's message
    let r = http.post(format!("{base}/api/v1/executions/{id}/resume")).send().await.expect("resume");
    assert_eq!(r.status().as_u16(), 409);
    let text = r.text().await.unwrap_or_default();
    assert!(text.contains(&format!("Execution '{id}' is not paused, can't resume it")), "{text}");

    // bulk: one paused, one ended → 400, nothing resumed; then the paused one alone
    let p = start("plain").await;
    wait_state(&http, &base, &p, "PAUSED").await;
    let r = http.post(format!("{base}/api/v1/executions/resume/by-ids")).json(&json!([p, id])).send().await;
    let r = r.expect("bulk");
    assert_eq!(r.status().as_u16(), 400);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["message"], "invalid bulk resume");
    assert_eq!(state_of(&http, &base, &p).await["state"]["current"], "PAUSED");
    let r = http.post(format!("{base}/api/v1/executions/resume/by-ids")).json(&json!([p])).send().await;
    let body: Value = r.expect("bulk").json().await.expect("json");
    assert_eq!(body["count"], 1);
    assert_eq!(wait_ended(&server.engine, &p).await.state.current, shared::model::StateType::Success);

    // a duration resumes by itself, per its behavior
    let t = start("timed").await;
    wait_state(&http, &base, &t, "PAUSED").await;
    let done = wait_ended(&server.engine, &t).await;
    assert_eq!(done.state.current, shared::model::StateType::Warning);
    assert_eq!(done.task_run_list.len(), 2);
}
