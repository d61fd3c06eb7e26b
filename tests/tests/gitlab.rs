//! GitLab (`io.kestra.plugin.gitlab.issues.Create`, `issues.Search`,
//! `mergerequests.Create`) in flows, against a local server answering as
//! GitLab's REST API v4 does: Kestra's `gitlab-issue-on-failure` blueprint
//! (its job made to fail, the issue opened by the errors branch, Slack
//! told), a namespaced project path, a search over two pages, a merge
//! request, and a refused token.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Map, Value, json};
use shared::model::StateType;
use shared::runtime::secrets::Secrets;

use crate::support::{harness_with, outputs, secret};

/// Each call: the method and the path as sent (encoded), and the body.
type Seen = Arc<Mutex<Vec<(String, Value)>>>;

fn refused(h: &HeaderMap) -> Option<Response> {
    (h.get("private-token").and_then(|v| v.to_str().ok()) != Some("gl-token"))
        .then(|| (StatusCode::UNAUTHORIZED, r#"{"message":"401 Unauthorized"}"#).into_response())
}

/// A created issue or merge request; `seen` keeps the raw (encoded) path.
fn created(s: &Seen, uri: &Uri, project: &str, kind: &str, h: &HeaderMap, body: &str) -> Response {
    s.lock().unwrap().push((format!("POST {}", uri.path()), serde_json::from_str(body).unwrap_or(Value::Null)));
    if let Some(r) = refused(h) {
        return r;
    }
    let web = format!("https://gitlab.example/{project}/-/{kind}/5");
    (StatusCode::CREATED, axum::Json(json!({"id": 9001, "iid": 5, "web_url": web}))).into_response()
}

async fn issue(State(s): State<Seen>, uri: Uri, Path(project): Path<String>, h: HeaderMap, body: String) -> Response {
    created(&s, &uri, &project, "issues", &h, &body)
}

async fn merge_request(
    State(s): State<Seen>,
    uri: Uri,
    Path(project): Path<String>,
    h: HeaderMap,
    body: String,
) -> Response {
    created(&s, &uri, &project, "merge_requests", &h, &body)
}

/// 150 open issues, 100 a page, with `x-next-page` as GitLab sends it.
async fn search(
    State(s): State<Seen>,
    Path(project): Path<String>,
    Query(q): Query<Map<String, Value>>,
    h: HeaderMap,
) -> Response {
    s.lock().unwrap().push((format!("GET {project}/issues"), Value::Object(q.clone())));
    if let Some(r) = refused(&h) {
        return r;
    }
    let page: usize = q.get("page").and_then(Value::as_str).and_then(|p| p.parse().ok()).unwrap_or(1);
    let all: Vec<Value> =
        (1..=150).map(|i| json!({"iid": i, "title": format!("issue {i}"), "state": "opened"})).collect();
    let items: Vec<Value> = all.into_iter().skip((page - 1) * 100).take(100).collect();
    let next = if page == 1 { "2" } else { "" };
    ([("x-next-page", next)], axum::Json(Value::Array(items))).into_response()
}

async fn fake() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let app = Router::new()
        .route("/api/v4/projects/{project}/issues", get(search).post(issue))
        .route("/api/v4/projects/{project}/merge_requests", post(merge_request))
        .with_state(seen.clone());
    (crate::support::serve_app(app).await, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kestra_s_failure_blueprint_opens_an_issue_and_tells_slack() {
    let (base, seen) = fake().await;
    let (hook, posted) = e2e::webhook::receiver().await;
    let h = harness_with(Secrets::from_vars([
        secret("GITLAB_TOKEN", "gl-token"),
        secret("GITLAB_PROJECT_ID", "data/pipelines"),
        secret("SLACK_WEBHOOK_URL", &hook),
    ]));
    // Kestra's blueprint gitlab-issue-on-failure, its job made to fail and
    // the GitLab URL set by pluginDefaults
    let flow = format!(
        r#"
id: gitlab-issue-on-failure
namespace: company.team
inputs:
  - id: service_name
    type: STRING
    defaults: data-pipeline
pluginDefaults:
  - type: io.kestra.plugin.gitlab
    values:
      url: {base}
tasks:
  - id: monitored_job
    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    commands:
      - echo "Running {{{{ inputs.service_name }}}}..."
      - exit 1
errors:
  - id: open_issue
    type: io.kestra.plugin.gitlab.issues.Create
    token: "{{{{ secret('GITLAB_TOKEN') }}}}"
    projectId: "{{{{ secret('GITLAB_PROJECT_ID') }}}}"
    title: "[Incident] {{{{ inputs.service_name }}}} failed, {{{{ execution.startDate | date('yyyy-MM-dd HH:mm') }}}}"
    issueDescription: |
      ## Pipeline failure

      The monitored job **{{{{ inputs.service_name }}}}** failed.
    labels:
      - incident
      - "{{{{ inputs.service_name }}}}"
  - id: notify
    type: io.kestra.plugin.slack.notifications.SlackIncomingWebhook
    url: "{{{{ secret('SLACK_WEBHOOK_URL') }}}}"
    payload: |
      {{
        "text": "Opened a GitLab incident issue for {{{{ inputs.service_name }}}}: {{{{ outputs.open_issue.webUrl }}}}"
      }}
"#
    );
    let e = h.run(&flow, json!({})).await;
    assert_eq!(e.state.current, StateType::Failed, "the job failed: {:?}", h.logs(&e.id).await);
    let issue = outputs(&e, "open_issue");
    assert_eq!(issue["issueId"], "9001");
    assert_eq!(issue["statusCode"], 201);
    let seen = seen.lock().unwrap();
    assert_eq!(
        seen[0].0, "POST /api/v4/projects/data%2Fpipelines/issues",
        "the namespaced path is one encoded segment"
    );
    assert!(seen[0].1["title"].as_str().unwrap().starts_with("[Incident] data-pipeline failed, "));
    assert_eq!(seen[0].1["description"], "## Pipeline failure\n\nThe monitored job **data-pipeline** failed.\n");
    assert_eq!(seen[0].1["labels"], json!(["incident", "data-pipeline"]));
    let posted = posted.lock().unwrap();
    // the project path came from a secret: masked in what leaves the task
    assert!(posted[0].contains("for data-pipeline: https://gitlab.example/******/-/issues/5"), "{posted:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_search_over_pages_a_merge_request_and_a_refused_token() {
    let (base, seen) = fake().await;
    let h = crate::support::harness();
    let flow = format!(
        r#"
id: gl
namespace: company.team
pluginDefaults:
  - type: io.kestra.plugin.gitlab
    values:
      url: {base}
      token: gl-token
      projectId: "42"
tasks:
  - id: search
    type: io.kestra.plugin.gitlab.issues.Search
    search: time out
    labels: [bug, p1]
  - id: mr
    type: io.kestra.plugin.gitlab.mergerequests.Create
    title: Update flows
    sourceBranch: kestra/update
    targetBranch: main
    mergeRequestDescription: From Kestra
"#
    );
    let e = h.run_ok(&flow).await;
    assert_eq!(outputs(&e, "search")["count"], 150, "both pages are read");
    assert_eq!(outputs(&e, "search")["issues"][149]["iid"], 150);
    assert_eq!(outputs(&e, "mr")["mergeReqID"], "9001");
    {
        let seen = seen.lock().unwrap();
        assert_eq!(
            seen[0].1,
            json!({"search": "time out", "state": "opened", "labels": "bug,p1", "per_page": "100", "page": "1"})
        );
        assert_eq!(seen[1].1["page"], "2");
        assert_eq!(
            seen[2],
            (
                "POST /api/v4/projects/42/merge_requests".to_string(),
                json!({"title": "Update flows", "source_branch": "kestra/update", "target_branch": "main", "description": "From Kestra"})
            )
        );
    }
    let e = h.run(&flow.replace("token: gl-token", "token: wrong"), json!({})).await;
    assert_eq!(e.state.current, StateType::Failed);
    let logs = h.logs(&e.id).await.join("\n");
    assert!(logs.contains("Request failed '401'") && logs.contains("401 Unauthorized"), "{logs}");
}
