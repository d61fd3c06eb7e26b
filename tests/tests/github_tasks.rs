//! The GitHub tasks (`io.kestra.plugin.github.*`) in flows, against a
//! local fake of GitHub's REST API (`endpoint` pointed at it): the exact
//! requests Kestra's tasks send (method, path, query, `Authorization`,
//! JSON body), the outputs they make of GitHub's answers, searches over
//! several pages stored as Ion, and a failed call naming GitHub's answer.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::IntoResponse;
use serde_json::{Value, json};
use shared::model::{Execution, StateType};
use shared::runtime::secrets::Secrets;

use crate::support::{harness, harness_with, runs};

/// One request the fake got: `METHOD /path?query`, `Authorization`, JSON body.
#[derive(Debug, Clone)]
struct Call {
    line: String,
    authorization: Option<String>,
    accept: Option<String>,
    body: Value,
}

#[derive(Clone, Default)]
struct Fake {
    base: Arc<Mutex<String>>,
    calls: Arc<Mutex<Vec<Call>>>,
}

fn repo(base: &str, full: &str, stars: u64) -> Value {
    let name = full.split('/').nth(1).unwrap_or_default();
    json!({
        "id": stars, "name": name, "full_name": full, "private": false,
        "owner": {"login": full.split('/').next().unwrap_or_default(), "type": "Organization"},
        "html_url": format!("https://github.com/{full}"), "url": format!("{base}/repos/{full}"),
        "description": format!("{name} repository"), "fork": false, "created_at": "2019-08-24T10:00:00Z",
        "updated_at": "2026-11-01T08:00:00Z", "stargazers_count": stars, "forks_count": 3, "language": "Java",
        "open_issues_count": 12, "archived": false, "disabled": false, "is_template": false,
        "default_branch": "develop", "visibility": "public", "permissions": {"admin": false, "push": true, "pull": true}
    })
}

fn issue(base: &str, number: u64, pull: bool) -> Value {
    let mut i = json!({
        "number": number, "title": format!("Issue {number}"), "state": "closed", "state_reason": "completed",
        "user": {"login": "alice"}, "assignee": {"login": "bob"}, "assignees": [{"login": "bob"}],
        "created_at": "2026-10-01T09:00:00Z", "closed_at": "2026-10-02T09:00:00Z", "comments": 4,
        "labels": [{"name": "bug"}, {"name": "area/backend"}],
        "repository_url": format!("{base}/repos/kestra-io/kestra"),
        "html_url": format!("https://github.com/kestra-io/kestra/issues/{number}")
    });
    if pull {
        i["pull_request"] = json!({"url": format!("{base}/repos/kestra-io/kestra/pulls/{number}")});
    }
    i
}

async fn handle(
    State(fake): State<Fake>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: String,
) -> axum::response::Response {
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).map(str::to_string);
    let line = format!("{method} {}", uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"));
    let parsed = serde_json::from_str(&body).unwrap_or(Value::Null);
    let call = Call { line, authorization: header("authorization"), accept: header("accept"), body: parsed };
    fake.calls.lock().unwrap().push(call);
    let base = fake.base.lock().unwrap().clone();
    let ok = |v: Value| (StatusCode::OK, axum::Json(v)).into_response();
    let created = |v: Value| (StatusCode::CREATED, axum::Json(v)).into_response();
    let path = uri.path();
    let query = uri.query().unwrap_or_default();
    match (method.as_str(), path) {
        ("GET", "/repos/kestra-io/kestra") => ok(repo(&base, "kestra-io/kestra", 20000)),
        ("GET", "/repos/my-org/my-app") => ok(repo(&base, "my-org/my-app", 5)),
        ("GET", "/repos/kestra-io/locked") => {
            let mut r = repo(&base, "kestra-io/locked", 1);
            r["permissions"]["pull"] = json!(false);
            ok(r)
        }
        ("POST", "/repos/kestra-io/kestra/issues") => created(json!({
            "number": 1347, "html_url": "https://github.com/kestra-io/kestra/issues/1347", "state": "open"
        })),
        ("GET", "/repos/kestra-io/kestra/issues/1347") => ok(issue(&base, 1347, false)),
        ("POST", "/repos/kestra-io/kestra/issues/1347/comments") => created(json!({
            "id": 99, "html_url": "https://github.com/kestra-io/kestra/issues/1347#issuecomment-99"
        })),
        ("POST", "/repos/kestra-io/kestra/pulls") => created(json!({
            "number": 7, "html_url": "https://github.com/kestra-io/kestra/pull/7",
            "issue_url": format!("{base}/repos/kestra-io/kestra/issues/7")
        })),
        ("POST", "/repos/kestra-io/kestra/pulls/7/requested_reviewers") => created(json!({"number": 7})),
        ("GET", "/repos/my-org/my-app/actions/workflows/deploy.yml") => {
            ok(json!({"id": 161335, "name": "Deploy", "path": ".github/workflows/deploy.yml", "state": "active"}))
        }
        ("POST", "/repos/my-org/my-app/actions/workflows/161335/dispatches") => StatusCode::NO_CONTENT.into_response(),
        ("GET", "/search/repositories") if query.contains("page=2") => {
            ok(json!({"total_count": 2, "incomplete_results": false, "items": [repo(&base, "my-org/my-app", 5)]}))
        }
        ("GET", "/search/repositories") => {
            let next = format!("<{base}/search/repositories?{query}&page=2>; rel=\"next\"");
            let page = json!({"total_count": 2, "incomplete_results": false, "items": [repo(&base, "kestra-io/kestra", 20000)]});
            (StatusCode::OK, [("link", next)], axum::Json(page)).into_response()
        }
        ("GET", "/repos/kestra-io/kestra/pulls" | "/repos/my-org/my-app/pulls") => {
            ok(json!([{"number": 1, "state": "open"}, {"number": 2, "state": "open"}]))
        }
        ("GET", "/search/issues") => ok(json!({
            "total_count": 2, "incomplete_results": false,
            "items": [issue(&base, 11, query.contains("is%3Apr")), issue(&base, 12, query.contains("is%3Apr"))]
        })),
        _ => (StatusCode::NOT_FOUND, axum::Json(json!({"message": "Not Found"}))).into_response(),
    }
}

/// The fake on a free local port: its base URL and what it got.
async fn github() -> (String, Fake) {
    let fake = Fake::default();
    let app = Router::new().fallback(handle).with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    *fake.base.lock().unwrap() = base.clone();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (base, fake)
}

fn calls(fake: &Fake) -> Vec<Call> {
    fake.calls.lock().unwrap().clone()
}

fn lines(fake: &Fake) -> Vec<String> {
    calls(fake).into_iter().map(|c| c.line).collect()
}

fn outputs(e: &Execution, task: &str) -> serde_json::Map<String, Value> {
    runs(e, task)[0].outputs.as_deref().cloned().unwrap_or_default()
}

fn secrets() -> Secrets {
    Secrets::from_vars([("SECRET_GITHUB_TOKEN".to_string(), "Z2hwX3Rlc3Q=".to_string())])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_create_and_comment_send_kestras_requests() {
    let (base, fake) = github().await;
    let h = harness_with(secrets());
    let yaml = r#"
id: issues
namespace: company.team
tasks:
  - id: create_issue
    type: io.kestra.plugin.github.issues.Create
    jwtToken: "{{ secret('GITHUB_TOKEN') }}"
    endpoint: BASE
    repository: kestra-io/kestra
    title: Kestra Workflow Failure
    body: "{{ execution.id }} has failed"
    labels:
      - bug
      - workflow
  - id: comment
    type: io.kestra.plugin.github.issues.Comment
    login: alice
    oauthToken: plain-token
    endpoint: BASE/
    repository: kestra-io/kestra
    issueNumber: "{{ outputs.create_issue.issueNumber }}"
    body: "Looking into it"
"#
    .replace("BASE", &base);
    let e = h.run(&yaml, json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    assert_eq!(
        Value::Object(outputs(&e, "create_issue")),
        json!({"issueUrl": "https://github.com/kestra-io/kestra/issues/1347", "issueNumber": 1347})
    );
    assert_eq!(
        Value::Object(outputs(&e, "comment")),
        json!({
            "issueUrl": "https://github.com/kestra-io/kestra/issues/1347",
            "commentUrl": "https://github.com/kestra-io/kestra/issues/1347#issuecomment-99"
        })
    );
    let got = calls(&fake);
    let seen: Vec<&str> = got.iter().map(|c| c.line.as_str()).collect();
    assert_eq!(
        seen,
        [
            "GET /repos/kestra-io/kestra",
            "POST /repos/kestra-io/kestra/issues",
            "GET /repos/kestra-io/kestra",
            "GET /repos/kestra-io/kestra/issues/1347",
            "POST /repos/kestra-io/kestra/issues/1347/comments",
        ]
    );
    assert_eq!(
        got[1].body,
        json!({"title": "Kestra Workflow Failure", "body": format!("{} has failed", e.id), "labels": ["bug", "workflow"], "assignees": []})
    );
    assert_eq!(got[1].authorization.as_deref(), Some("Bearer ghp_test"));
    assert_eq!(got[1].accept.as_deref(), Some("application/vnd.github+json"));
    assert_eq!(got[4].body, json!({"body": "Looking into it"}));
    assert_eq!(got[4].authorization.as_deref(), Some("token plain-token"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_request_and_workflow_dispatch() {
    let (base, fake) = github().await;
    let h = harness();
    let yaml = r#"
id: pulls
namespace: company.team
tasks:
  - id: create_pr
    type: io.kestra.plugin.github.pulls.Create
    oauthToken: tok
    endpoint: BASE
    repository: kestra-io/kestra
    sourceBranch: dev
    targetBranch: main
    title: Merge flows into main
    body: Request to merge changes from develop into main
    draft: true
    reviewers:
      - carol
      - team:backend
  - id: dispatch_deploy
    type: io.kestra.plugin.github.actions.RunWorkflow
    appInstallationToken: inst
    oauthToken: tok
    endpoint: BASE
    repository: my-org/my-app
    workflowId: deploy.yml
    ref: main
    inputs:
      triggered_by: kestra
      dbt_execution: "{{ execution.id }}"
  - id: locked
    type: io.kestra.plugin.github.pulls.Create
    oauthToken: tok
    endpoint: BASE
    repository: kestra-io/locked
    sourceBranch: dev
    targetBranch: main
    title: Never opened
"#
    .replace("BASE", &base);
    let e = h.run(&yaml, json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    assert_eq!(
        Value::Object(outputs(&e, "create_pr")),
        json!({"issueUrl": format!("{base}/repos/kestra-io/kestra/issues/7"), "pullRequestUrl": "https://github.com/kestra-io/kestra/pull/7"})
    );
    assert!(outputs(&e, "locked").is_empty());
    let got = calls(&fake);
    let seen: Vec<&str> = got.iter().map(|c| c.line.as_str()).collect();
    assert_eq!(
        seen,
        [
            "GET /repos/kestra-io/kestra",
            "POST /repos/kestra-io/kestra/pulls",
            "POST /repos/kestra-io/kestra/pulls/7/requested_reviewers",
            "POST /repos/kestra-io/kestra/pulls/7/requested_reviewers",
            "GET /repos/my-org/my-app",
            "GET /repos/my-org/my-app/actions/workflows/deploy.yml",
            "POST /repos/my-org/my-app/actions/workflows/161335/dispatches",
            "GET /repos/kestra-io/locked",
        ]
    );
    assert_eq!(
        got[1].body,
        json!({
            "title": "Merge flows into main", "head": "dev", "base": "main",
            "body": "Request to merge changes from develop into main", "maintainer_can_modify": false, "draft": true
        })
    );
    assert_eq!(got[2].body, json!({"reviewers": ["carol"]}));
    assert_eq!(got[3].body, json!({"team_reviewers": ["backend"]}));
    assert_eq!(got[6].body, json!({"ref": "main", "inputs": {"triggered_by": "kestra", "dbt_execution": e.id}}));
    assert_eq!(got[6].authorization.as_deref(), Some("token inst"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repository_search_stores_every_page_as_ion_and_fans_out() {
    let (base, fake) = github().await;
    let h = harness();
    let yaml = r#"
id: search
namespace: company.team
tasks:
  - id: top_kestra_repos
    type: io.kestra.plugin.github.repositories.Search
    endpoint: BASE
    query: "org:kestra-io"
    visibility: PUBLIC
    sort: STARS
    order: DESC
  - id: to_json
    type: io.kestra.plugin.serdes.json.IonToJson
    from: "{{ outputs.top_kestra_repos.uri }}"
  - id: log_json
    type: io.kestra.plugin.core.log.Log
    message: "first: {{ read(outputs.to_json.uri) | jq('.name') | first }}"
  - id: find_repositories
    type: io.kestra.plugin.github.repositories.Search
    oauthToken: tok
    endpoint: BASE
    query: "org:my-org topic:kestra-managed"
    fetchType: FETCH
  - id: dispatch_each
    type: io.kestra.plugin.core.flow.ForEach
    values: "{{ outputs.find_repositories.rows | jq('[.[].full_name]') | first }}"
    # both at once: one after the other, the first failure would stop the loop
    concurrencyLimit: 0
    tasks:
      - id: dispatch
        type: io.kestra.plugin.github.actions.RunWorkflow
        oauthToken: tok
        endpoint: BASE
        repository: "{{ taskrun.value }}"
        workflowId: deploy.yml
        ref: main
"#
    .replace("BASE", &base);
    let e = h.run(&yaml, json!({})).await;
    assert_eq!(e.state.current, StateType::Failed, "the fake has no kestra-io/kestra workflow");
    let stored = outputs(&e, "top_kestra_repos");
    assert_eq!(stored["size"], json!(2));
    let ion = String::from_utf8(h.read_storage(stored["uri"].as_str().unwrap()).await).unwrap();
    let rows: Vec<Value> = ion.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(
        rows[0],
        json!({
            "name": "kestra", "full_name": "kestra-io/kestra", "url": "https://github.com/kestra-io/kestra",
            "description": "kestra repository", "owner": null, "forks_count": 3, "stars_count": 20000,
            "pull_request_count": 0, "issues_count": 12, "updated": "2026-11-01T08:00:00Z",
            "created": "2019-08-24T10:00:00Z", "language": "Java", "archived": false, "fork": false,
            "disabled": false, "template": false, "default_branch": "develop", "visibility": "PUBLIC"
        })
    );
    assert_eq!(rows[1]["full_name"], "my-org/my-app");
    let logs = h.logs(&e.id).await;
    assert!(logs.iter().any(|l| l.starts_with("first: ") && l.contains("kestra")), "{logs:?}");
    let fetched = outputs(&e, "find_repositories");
    assert_eq!(fetched["size"], json!(2));
    assert_eq!(fetched["rows"][0]["owner"], "kestra-io");
    assert_eq!(fetched["rows"][0]["pull_request_count"], json!(2));
    let seen = lines(&fake);
    assert_eq!(seen[0], "GET /search/repositories?sort=stars&order=desc&q=is%3Apublic+org%3Akestra-io");
    assert_eq!(seen[1], "GET /search/repositories?sort=stars&order=desc&q=is%3Apublic+org%3Akestra-io&page=2");
    assert_eq!(seen[2], "GET /search/repositories?sort=updated&order=asc&q=org%3Amy-org+topic%3Akestra-managed");
    assert!(seen.contains(&"GET /repos/kestra-io/kestra/pulls?state=open".to_string()), "{seen:?}");
    assert!(seen.contains(&"POST /repos/my-org/my-app/actions/workflows/161335/dispatches".to_string()), "{seen:?}");
    let failed =
        runs(&e, "dispatch").into_iter().find(|r| r.state.current == StateType::Failed).expect("a failed dispatch");
    assert!(
        logs.iter()
            .any(|l| l.contains("GitHub answered 404 to GET /repos/kestra-io/kestra/actions/workflows/deploy.yml")),
        "{logs:?} ({failed:?})"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_and_pull_searches_make_kestras_rows() {
    let (base, fake) = github().await;
    let h = harness();
    let yaml = r#"
id: issue_search
namespace: company.team
tasks:
  - id: issues
    type: io.kestra.plugin.github.issues.Search
    endpoint: BASE
    query: "is:closed"
    repository: kestra-io/kestra
    fetchType: FETCH_ONE
  - id: pulls
    type: io.kestra.plugin.github.pulls.Search
    oauthToken: tok
    endpoint: BASE
    repository: kestra-io/kestra
    merged: true
    sort: UPDATED
    order: DESC
    fetchType: FETCH
  - id: none
    type: io.kestra.plugin.github.issues.Search
    endpoint: BASE
    query: anything
    fetchType: NONE
"#
    .replace("BASE", &base);
    let e = h.run(&yaml, json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    let one = outputs(&e, "issues");
    assert_eq!(one["size"], json!(1));
    assert_eq!(
        one["row"],
        json!({
            "number": 11, "title": "Issue 11", "state": "CLOSED", "state_reason": "COMPLETED", "owner": "alice",
            "assignee": "bob", "assignees": ["bob"], "created_at": "2026-10-01T09:00:00Z",
            "closed_at": "2026-10-02T09:00:00Z", "closed_by": null, "comments": 4, "labels": ["bug", "area/backend"],
            "repository_name": null, "repository_url": null, "url": "https://github.com/kestra-io/kestra/issues/11"
        })
    );
    let pulls = outputs(&e, "pulls");
    assert_eq!(pulls["size"], json!(2));
    let row = &pulls["rows"][1];
    assert_eq!(
        (row["repository_name"].as_str(), row["repository_url"].as_str()),
        (Some("kestra"), Some("https://github.com/kestra-io/kestra"))
    );
    assert_eq!((&row["base"], &row["head"], &row["requested_reviewers"]), (&Value::Null, &Value::Null, &json!([])));
    assert_eq!(Value::Object(outputs(&e, "none")), json!({"size": 0}));
    let seen = lines(&fake);
    assert_eq!(seen[0], "GET /search/issues?sort=created&order=asc&q=is%3Aclosed+repo%3Akestra-io%2Fkestra");
    assert_eq!(seen[1], "GET /search/issues?sort=updated&order=desc&q=is%3Amerged+repo%3Akestra-io%2Fkestra+is%3Apr");
    // the repository of both hits is read once
    assert_eq!(seen[2], "GET /repos/kestra-io/kestra");
    assert_eq!(seen[3], "GET /search/issues?sort=created&order=asc&q=anything");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_types_and_bad_repositories() {
    let registry = shared::plugins::Registry::builtin();
    let renderer = shared::template::Renderer::new();
    let yaml = r#"
id: refused
namespace: company.team
tasks:
  - id: users
    type: io.kestra.plugin.github.users.Search
    query: kestra
  - id: fields
    type: io.kestra.plugin.github.issues.Create
    repository: kestra-io/kestra
    title: t
    fields:
      Customer: Kestra
"#;
    let (_, diags) = shared::validate::validate_source("refused.yaml", yaml, &registry, &renderer);
    let text = format!("{diags:?}");
    assert!(text.contains("user search"), "{text}");
    assert!(text.contains("fields"), "{text}");

    let (base, _fake) = github().await;
    let h = harness();
    let yaml = r#"
id: bad
namespace: company.team
tasks:
  - id: create_issue
    type: io.kestra.plugin.github.issues.Create
    endpoint: BASE
    repository: kestra-io/missing
    title: t
"#
    .replace("BASE", &base);
    let e = h.run(&yaml, json!({})).await;
    assert_eq!(e.state.current, StateType::Failed);
    let logs = h.logs(&e.id).await;
    assert!(logs.iter().any(|l| l.contains("GitHub answered 404 to GET /repos/kestra-io/missing")), "{logs:?}");
}
