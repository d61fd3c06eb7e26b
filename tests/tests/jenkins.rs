//! Jenkins (`io.kestra.plugin.jenkins.JobBuild`, `JobInfo`) in flows,
//! against a local server answering as Jenkins' remote API does: Kestra's
//! `jenkins-event-driven-job` blueprint (the build enqueued with its form
//! parameters and Basic auth, `lastBuild` read and asserted to have a
//! result, then Slack told), a folder job's path, `JobInfo`, and a refused
//! call's error.
//!
//! The blueprint puts its `retry` on the `Sequential` that reads
//! `lastBuild` and asserts it ended. Kestra applies a flowable's retry to
//! the child that fails, not to the block: the `Assert` is retried with
//! the outputs it had, so the flow waits for nothing — it succeeds when
//! the first read already has a result (as here) and fails after its
//! retries otherwise, in Kestra and in Baton alike. Its `lastBuild` body
//! is read with `fromJson`: a Request's `body` is a string, in Kestra as in
//! Baton, so the blueprint's `outputs.last_build.body.result` is undefined.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;
use shared::model::StateType;
use shared::runtime::secrets::Secrets;

use crate::support::{harness_with, runs, secret};

/// What the fake saw: each call with its form, and `lastBuild` reads.
#[derive(Default)]
struct Seen {
    calls: Vec<String>,
    forms: Vec<HashMap<String, String>>,
    polls: usize,
}

type Shared = Arc<Mutex<Seen>>;

const BASIC: &str = "Basic amVua2luczpqay10b2tlbg=="; // jenkins:jk-token

fn authorized(h: &HeaderMap) -> bool {
    h.get("authorization").and_then(|v| v.to_str().ok()) == Some(BASIC)
}

async fn build(
    State(s): State<Shared>,
    Path(p): Path<String>,
    h: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let mut seen = s.lock().unwrap();
    seen.calls.push(format!("POST /job/{p}"));
    if !authorized(&h) {
        return (StatusCode::FORBIDDEN, "No valid crumb was included in the request").into_response();
    }
    seen.forms.push(f);
    (StatusCode::CREATED, [("location", "/queue/item/12/")]).into_response()
}

/// `GET /job/{…}`: `lastBuild/api/json` is build 7, ended; `{n}/api/json`
/// is build n.
async fn read(State(s): State<Shared>, Path(p): Path<String>, h: HeaderMap) -> Response {
    let mut seen = s.lock().unwrap();
    seen.calls.push(format!("GET /job/{p}"));
    if !authorized(&h) {
        return (StatusCode::FORBIDDEN, "denied").into_response();
    }
    if p.ends_with("lastBuild/api/json") {
        seen.polls += 1;
        return axum::Json(json!({"number": 7, "building": false, "result": "SUCCESS"})).into_response();
    }
    match p.strip_suffix("/api/json").and_then(|x| x.rsplit('/').next()).and_then(|n| n.parse::<u64>().ok()) {
        Some(n) => axum::Json(json!({"number": n, "result": "FAILURE", "duration": 1234, "url": format!("/job/{p}")}))
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such job").into_response(),
    }
}

async fn fake() -> (String, Shared) {
    let seen: Shared = Arc::default();
    let app = Router::new().route("/job/{*path}", post(build).get(read)).with_state(seen.clone());
    (crate::support::serve_app(app).await, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kestra_s_event_driven_blueprint_builds_waits_and_notifies() {
    let (base, seen) = fake().await;
    let (hook, posted) = e2e::webhook::receiver().await;
    let h = harness_with(Secrets::from_vars([
        secret("JENKINS_USERNAME", "jenkins"),
        secret("JENKINS_API_TOKEN", "jk-token"),
        secret("JENKINS_TRIGGER_KEY", "k"),
        secret("SLACK_WEBHOOK_URL", &hook),
    ]));
    // Kestra's blueprint jenkins-event-driven-job, its retry interval
    // shortened from PT15S and its body read with fromJson
    let flow = r#"
id: jenkins-event-driven-job
namespace: company.team
inputs:
  - id: job_name
    type: STRING
  - id: jenkins_url
    type: STRING
    defaults: https://jenkins.example.com
triggers:
  - id: on_event
    type: io.kestra.plugin.core.trigger.Webhook
    key: "{{ secret('JENKINS_TRIGGER_KEY') }}"
tasks:
  - id: enqueue_build
    type: io.kestra.plugin.jenkins.JobBuild
    serverUrl: "{{ inputs.jenkins_url }}"
    jobName: "{{ inputs.job_name }}"
    username: "{{ secret('JENKINS_USERNAME') }}"
    apiToken: "{{ secret('JENKINS_API_TOKEN') }}"
    parameters:
      branch: "{{ trigger.body.branch ?? 'main' }}"
      triggered_by: kestra
  - id: wait_for_completion
    type: io.kestra.plugin.core.flow.Sequential
    retry:
      type: constant
      interval: PT0.2S
      maxAttempt: 80
    tasks:
      - id: last_build
        type: io.kestra.plugin.core.http.Request
        uri: "{{ inputs.jenkins_url }}/job/{{ inputs.job_name }}/lastBuild/api/json"
        method: GET
        options:
          auth:
            type: BASIC
            username: "{{ secret('JENKINS_USERNAME') }}"
            password: "{{ secret('JENKINS_API_TOKEN') }}"
      - id: assert_terminal
        type: io.kestra.plugin.core.execution.Assert
        conditions:
          - "{{ (fromJson(outputs.last_build.body).result ?? '') != '' }}"
  - id: notify
    type: io.kestra.plugin.slack.notifications.SlackIncomingWebhook
    url: "{{ secret('SLACK_WEBHOOK_URL') }}"
    payload: |
      {
        "text": "Jenkins job {{ inputs.job_name }} finished with result {{ fromJson(outputs.last_build.body).result }} (execution {{ execution.id }})."
      }
errors:
  - id: alert_on_failure
    type: io.kestra.plugin.slack.notifications.SlackIncomingWebhook
    url: "{{ secret('SLACK_WEBHOOK_URL') }}"
    payload: |
      {
        "text": "Jenkins flow failed for {{ inputs.job_name }} (execution {{ execution.id }})."
      }
"#;
    let e = h.run(flow, json!({"job_name": "deploy", "jenkins_url": base})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}\n{:?}", e.error, h.logs(&e.id).await);
    assert_eq!(runs(&e, "enqueue_build")[0].outputs.as_deref().cloned().unwrap_or_default()["status"], 201);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.calls[0], "POST /job/deploy/buildWithParameters");
    assert_eq!(seen.forms[0]["branch"], "main");
    assert_eq!(seen.forms[0]["triggered_by"], "kestra");
    assert_eq!(seen.polls, 1, "lastBuild read once: it had its result");
    let posted = posted.lock().unwrap();
    assert_eq!(posted.len(), 1, "{posted:?}");
    assert!(posted[0].contains("finished with result SUCCESS"), "{posted:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_folder_job_its_build_info_and_a_refused_call() {
    let (base, seen) = fake().await;
    let h = harness_with(Secrets::default());
    let flow = format!(
        "id: jk\nnamespace: company.team\ntasks:\n\
         \x20 - id: build\n    type: io.kestra.plugin.jenkins.JobBuild\n    serverUrl: {base}/\n    jobName: team/my app\n    \
         username: jenkins\n    apiToken: jk-token\n    parameters:\n      count: 3\n      dry: true\n\
         \x20 - id: info\n    type: io.kestra.plugin.jenkins.JobInfo\n    serverUrl: {base}\n    jobName: team/my app\n    \
         buildNumber: 42\n    username: jenkins\n    apiToken: jk-token\n"
    );
    let e = h.run(&flow, json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}\n{:?}", e.error, h.logs(&e.id).await);
    let info = runs(&e, "info")[0].outputs.as_deref().cloned().unwrap_or_default();
    assert_eq!(info["info"]["number"], 42);
    assert_eq!(info["info"]["result"], "FAILURE");
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen.calls[0], "POST /job/team/job/my app/buildWithParameters");
        assert_eq!(seen.calls[1], "GET /job/team/job/my app/42/api/json");
        assert_eq!((seen.forms[0]["count"].as_str(), seen.forms[0]["dry"].as_str()), ("3", "true"));
    }

    let denied = format!(
        "id: denied\nnamespace: company.team\ntasks:\n  - id: build\n    type: io.kestra.plugin.jenkins.JobBuild\n    \
         serverUrl: {base}\n    jobName: deploy\n    username: jenkins\n    apiToken: wrong\n"
    );
    let e = h.run(&denied, json!({})).await;
    assert_eq!(e.state.current, StateType::Failed);
    let logs = h.logs(&e.id).await.join("\n");
    assert!(logs.contains("Request failed '403'") && logs.contains("No valid crumb"), "{logs}");
}
