//! Pause and resume on `baton server local` (shared/src/api/resume.rs):
//! a Pause with `onResume` inputs pauses the execution; resuming a running
//! one answers 409 with Kestra's message; `/resume/validate` names a
//! missing required input; `POST /executions/{id}/resume` as Kestra's
//! multipart form (a STRING field and a FILE part) resumes it and the next
//! task reads both; `resume/by-ids` refuses what is not PAUSED and resumes
//! the rest; a Pause with a duration resumes by itself. Kestra 2.0's
//! `POST /api/v1/main/executions/{id}/actions/resume` (kestrapy's
//! `resume_execution`) resumes with the same form and answers the execution.

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

/// Kestra 2.0's paths, as kestrapy 2.0.3 calls them: `actions/resume/validate`
/// and `actions/resume` under the tenant, a multipart form, the execution
/// in the answer (the client parses it as an `Execution`).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kestra_2_actions_resume_resumes_and_answers_the_execution() {
    let approve = "id: ask\nnamespace: test.pause\ntasks:\n  - id: pause\n    type: io.kestra.plugin.core.flow.Pause\n    onResume:\n      - id: asked\n        type: STRING\n  - id: last\n    type: io.kestra.plugin.core.output.OutputValues\n    values:\n      asked: \"{{outputs.pause.onResume.asked}}\"\n";
    let (server, dir) = api_server("baton-pause-v2", &[("ask.yml", approve)], None).await;
    let base = server.url().trim_end_matches('/').to_string();
    let http = reqwest::Client::new();
    let id = start_flow(&http, &base, "test.pause", "ask", json!({})).await;
    wait_state(&http, &base, &id, "PAUSED").await;
    let b = "Xv2X";
    let form = |v: &str| format!("--{b}\r\ncontent-disposition: form-data; name=\"asked\"\r\n\r\n{v}\r\n--{b}--\r\n");
    let multipart = format!("multipart/form-data; boundary={b}");
    let post = |action: &'static str, value: &str| {
        let req = http
            .post(format!("{base}/api/v1/main/executions/{id}/actions/{action}"))
            .header("content-type", &multipart)
            .body(form(value));
        async move { req.send().await.expect(action) }
    };
    let v = post("resume/validate", "checked").await;
    assert_eq!(v.status().as_u16(), 200);
    let v: Value = v.json().await.expect("json");
    assert_eq!(v["inputs"][0]["errors"], json!([]), "{v}");
    assert_eq!(state_of(&http, &base, &id).await["state"]["current"], "PAUSED", "validate resumes nothing");
    let r = post("resume", "from python").await;
    assert_eq!(r.status().as_u16(), 200);
    let answered: Value = r.json().await.expect("the execution");
    assert_eq!(answered["id"], id.as_str());
    assert_eq!(answered["namespace"], "test.pause");
    let done = wait_ended(&server.engine, &id).await;
    assert_eq!(done.state.current, shared::model::StateType::Success);
    let last = done.task_run_list.iter().find(|t| t.task_id == "last").expect("last ran");
    assert_eq!(last.outputs.as_ref().expect("outputs")["values"]["asked"], "from python");
    let r = http.post(format!("{base}/api/v1/main/executions/{id}/actions/resume")).send().await.expect("again");
    assert_eq!(r.status().as_u16(), 409, "an ended execution is not resumed twice");
    server.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}

const WAITER: &str = "id: waiter\nnamespace: test.pause\ntasks:\n  - id: pause\n    type: io.kestra.plugin.core.flow.Pause\n    onResume:\n      - id: answer\n        type: STRING\n      - id: count\n        type: INT\n        defaults: 1\n  - id: last\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ outputs.pause.onResume.answer }} x{{ outputs.pause.onResume.count }}\"\n";
const RESUMER: &str = "id: resumer\nnamespace: test.other\ninputs:\n  - id: target\n    type: STRING\n  - id: flow\n    type: STRING\n    defaults: waiter\ntasks:\n  - id: resume\n    type: io.kestra.plugin.core.execution.Resume\n    executionId: \"{{ inputs.target }}\"\n    namespace: test.pause\n    flowId: \"{{ inputs.flow }}\"\n    inputs:\n      answer: \"yes from {{ flow.id }}\"\n      count: 3\n";

/// Starts `ns.flow` with JSON `inputs`; its id.
async fn start_flow(http: &reqwest::Client, base: &str, ns: &str, flow: &str, inputs: Value) -> String {
    let r = http.post(format!("{base}/api/v1/executions/{ns}/{flow}")).json(&inputs).send().await.expect("start");
    let e: Value = r.json().await.expect("json");
    e["id"].as_str().unwrap_or_else(|| panic!("no id: {e}")).to_string()
}

fn pause_outputs(e: &shared::model::Execution) -> Value {
    let tr = e.task_run_list.iter().find(|t| t.task_id == "pause").expect("pause ran");
    Value::Object(*tr.outputs.clone().expect("pause outputs"))
}

/// Flow B's `execution.Resume` resumes flow A's paused execution with
/// inputs; A ends SUCCESS with them (and, as in Kestra, no `resumed.by`).
/// A Resume of an execution that is not PAUSED, or of another flow's,
/// fails B's task with a clear message.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_resume_task_resumes_another_flows_paused_execution() {
    let (server, _dir) =
        api_server("baton-resume-task", &[("waiter.yml", WAITER), ("resumer.yml", RESUMER)], None).await;
    let base = server.url().trim_end_matches('/').to_string();
    let http = reqwest::Client::new();

    let a = start_flow(&http, &base, "test.pause", "waiter", json!({})).await;
    wait_state(&http, &base, &a, "PAUSED").await;
    let b = start_flow(&http, &base, "test.other", "resumer", json!({"target": a})).await;
    let b_done = wait_ended(&server.engine, &b).await;
    assert_eq!(b_done.state.current, shared::model::StateType::Success, "{b_done:?}");
    let a_done = wait_ended(&server.engine, &a).await;
    assert_eq!(a_done.state.current, shared::model::StateType::Success);
    let out = pause_outputs(&a_done);
    assert_eq!(out["onResume"], json!({"answer": "yes from resumer", "count": 3}), "{out}");
    assert!(out["resumed"].get("by").is_none(), "Kestra's Resume task records no user: {out}");
    assert_eq!(out["resumed"]["to"], "SUCCESS");
    let last = a_done.task_run_list.iter().find(|t| t.task_id == "last").expect("last ran");
    assert_eq!(last.outputs.as_ref().expect("outputs")["value"], "yes from resumer x3");

    // A has ended: resuming it again fails B's task, saying why
    let again = start_flow(&http, &base, "test.other", "resumer", json!({"target": a})).await;
    let failed = wait_ended(&server.engine, &again).await;
    assert_eq!(failed.state.current, shared::model::StateType::Failed);
    let logs = http.get(format!("{base}/api/v1/logs/{again}")).send().await.expect("logs").text().await.expect("text");
    assert!(logs.contains(&format!("Execution '{a}' is not paused, can't resume it")), "{logs}");

    // another flow's execution: refused by flowId, the paused one untouched
    let c = start_flow(&http, &base, "test.pause", "waiter", json!({})).await;
    wait_state(&http, &base, &c, "PAUSED").await;
    let wrong = start_flow(&http, &base, "test.other", "resumer", json!({"target": c, "flow": "other"})).await;
    assert_eq!(wait_ended(&server.engine, &wrong).await.state.current, shared::model::StateType::Failed);
    let logs = http.get(format!("{base}/api/v1/logs/{wrong}")).send().await.expect("logs").text().await.expect("text");
    assert!(logs.contains("flowId") && logs.contains("not to flowId 'other'"), "{logs}");
    assert_eq!(state_of(&http, &base, &c).await["state"]["current"], "PAUSED");
    server.shutdown().await;
}

/// `resumed.by` is the basic-auth user who resumed through the API, and
/// absent for the timer (Kestra records no user there).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_authenticated_resume_records_its_user() {
    let (server, _dir) =
        api_server("baton-resume-by", &[("waiter.yml", WAITER)], Some("admin@kestra.io:Admin1234!")).await;
    let base = server.url().trim_end_matches('/').to_string();
    let http = reqwest::Client::builder()
        .default_headers({
            let mut h = reqwest::header::HeaderMap::new();
            let token = base64_basic("admin@kestra.io:Admin1234!");
            h.insert(reqwest::header::AUTHORIZATION, format!("Basic {token}").parse().expect("header"));
            h
        })
        .build()
        .expect("client");
    let a = start_flow(&http, &base, "test.pause", "waiter", json!({})).await;
    wait_state(&http, &base, &a, "PAUSED").await;
    let r = http.post(format!("{base}/api/v1/executions/{a}/resume")).json(&json!({"answer": "ok"})).send().await;
    let r = r.expect("resume");
    assert_eq!(r.status().as_u16(), 204, "{}", r.text().await.unwrap_or_default());
    let done = wait_ended(&server.engine, &a).await;
    let out = pause_outputs(&done);
    assert_eq!(out["resumed"]["by"], "admin@kestra.io", "{out}");
    assert_eq!(out["onResume"]["answer"], "ok");
    server.shutdown().await;
}

fn base64_basic(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}
