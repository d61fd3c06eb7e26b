//! Jira (`io.kestra.plugin.jira.issues.Create`, `CreateComment`) in flows,
//! against a local server answering as Jira's REST API v2 does: Kestra's
//! `incident-response-jira-slack` blueprint's ticket (Basic auth, Kestra's
//! fields, `kestra-bot` first among the labels, the issue type, the new
//! key given to the Slack message), a comment with a Bearer token, a
//! `payload` sent as written, and a refused call.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use serde_json::{Value, json};
use shared::model::StateType;
use shared::runtime::secrets::Secrets;

use crate::support::{harness_with, outputs, secret};

/// Each call's path, authorization header and body.
type Seen = Arc<Mutex<Vec<(String, String, Value)>>>;

fn keep(s: &Seen, path: String, h: &HeaderMap, body: &str) {
    let auth = h.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    s.lock().unwrap().push((path, auth, serde_json::from_str(body).unwrap_or(Value::Null)));
}

async fn issue(State(s): State<Seen>, h: HeaderMap, body: String) -> Response {
    keep(&s, "/rest/api/2/issue/".into(), &h, &body);
    if h.get("authorization").is_none() {
        return (StatusCode::UNAUTHORIZED, "Client must be authenticated to access this resource.").into_response();
    }
    (
        StatusCode::CREATED,
        axum::Json(json!({"id": "10042", "key": "OPS-42", "self": "http://jira/rest/api/2/issue/10042"})),
    )
        .into_response()
}

async fn comment(State(s): State<Seen>, Path(key): Path<String>, h: HeaderMap, body: String) -> Response {
    keep(&s, format!("/rest/api/2/issue/{key}/comment"), &h, &body);
    if key != "OPS-42" {
        return (
            StatusCode::NOT_FOUND,
            r#"{"errorMessages":["Issue does not exist or you do not have permission to see it."]}"#,
        )
            .into_response();
    }
    (StatusCode::CREATED, axum::Json(json!({"id": "1"}))).into_response()
}

async fn fake() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let app = Router::new()
        .route("/rest/api/2/issue/", post(issue))
        .route("/rest/api/2/issue/{key}/comment", post(comment))
        .with_state(seen.clone());
    (crate::support::serve_app(app).await, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kestra_s_incident_blueprint_opens_a_ticket_and_tells_slack_its_key() {
    let (base, seen) = fake().await;
    let (hook, posted) = e2e::webhook::receiver().await;
    let h = harness_with(Secrets::from_vars([
        secret("JIRA_USERNAME", "ops@example.com"),
        secret("JIRA_API_TOKEN", "jira-token"),
        secret("SLACK_WEBHOOK_URL", &hook),
    ]));
    // the first two tasks of Kestra's incident-response-jira-slack; its
    // baseUrl (https://{domain}.atlassian.net) points at the local server
    let flow = format!(
        r#"
id: incident-response-jira-slack
namespace: company.team
inputs:
  - id: service
    type: STRING
    defaults: "payment-api"
  - id: severity
    type: SELECT
    values: [P1 - Critical, P2 - High, P3 - Medium, P4 - Low]
    defaults: "P2 - High"
  - id: description
    type: STRING
    defaults: "Service returning 500 errors with elevated error rate above 10%"
  - id: jira_project_key
    type: STRING
    defaults: "OPS"
tasks:
  - id: create_jira_ticket
    type: io.kestra.plugin.jira.issues.Create
    baseUrl: "{base}"
    username: "{{{{ secret('JIRA_USERNAME') }}}}"
    password: "{{{{ secret('JIRA_API_TOKEN') }}}}"
    projectKey: "{{{{ inputs.jira_project_key }}}}"
    summary: "[{{{{ inputs.severity }}}}] Incident: {{{{ inputs.service }}}}"
    description: |
      *Incident Report*

      *Service:* {{{{ inputs.service }}}} "quoted"
    issueTypeId: "10001"
    labels:
      - incident
      - "{{{{ inputs.severity | lower | replace(' ', '-') | replace(':', '') }}}}"
  - id: alert_slack
    type: io.kestra.plugin.slack.notifications.SlackIncomingWebhook
    url: "{{{{ secret('SLACK_WEBHOOK_URL') }}}}"
    payload: |
      {{"text": "Incident {{{{ inputs.severity }}}}: Jira Ticket {{{{ outputs.create_jira_ticket.key }}}}"}}
"#
    );
    let e = h.run(&flow, json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}\n{:?}", e.error, h.logs(&e.id).await);
    assert_eq!(Value::Object(outputs(&e, "create_jira_ticket").clone()), json!({"key": "OPS-42", "id": "10042"}));
    let seen = seen.lock().unwrap();
    let (path, auth, body) = &seen[0];
    assert_eq!(path, "/rest/api/2/issue/");
    let basic = base64::engine::general_purpose::STANDARD.encode("ops@example.com:jira-token");
    assert_eq!(auth, &format!("Basic {basic}"));
    assert_eq!(
        body,
        &json!({"fields": {
            "project": {"key": "OPS"},
            "summary": "[P2 - High] Incident: payment-api",
            "description": "*Incident Report*\n\n*Service:* payment-api \"quoted\"\n",
            "issuetype": {"id": 10001},
            "labels": ["kestra-bot", "incident", "p2---high"]
        }})
    );
    let posted = posted.lock().unwrap();
    assert!(posted[0].contains("Jira Ticket OPS-42"), "{posted:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_comment_a_payload_and_a_refused_call() {
    let (base, seen) = fake().await;
    let h = crate::support::harness();
    let flow = format!(
        r#"
id: comments
namespace: company.team
tasks:
  - id: raw
    type: io.kestra.plugin.jira.issues.Create
    baseUrl: {base}
    accessToken: oauth-token
    projectKey: OPS
    payload: '{{"fields": {{"project": {{"key": "OPS"}}, "summary": "as written", "issuetype": {{"name": "Bug"}}}}}}'
  - id: comment
    type: io.kestra.plugin.jira.issues.CreateComment
    baseUrl: {base}
    accessToken: oauth-token
    projectKey: OPS
    issueIdOrKey: "{{{{ outputs.raw.key }}}}"
    body: "Seen again in {{{{ execution.id }}}}"
"#
    );
    let e = h.run_ok(&flow).await;
    {
        let seen = seen.lock().unwrap();
        assert_eq!(
            seen[0].2,
            json!({"fields": {"project": {"key": "OPS"}, "summary": "as written", "issuetype": {"name": "Bug"}}})
        );
        assert_eq!(seen[1].0, "/rest/api/2/issue/OPS-42/comment");
        assert_eq!(seen[1].1, "Bearer oauth-token");
        assert_eq!(seen[1].2, json!({"body": format!("Seen again in {}", e.id)}));
    }
    let missing = flow.replace("{{ outputs.raw.key }}", "OPS-404");
    let e = h.run(&missing, json!({})).await;
    assert_eq!(e.state.current, StateType::Failed);
    let logs = h.logs(&e.id).await.join("\n");
    assert!(logs.contains("Request failed '404'") && logs.contains("Issue does not exist"), "{logs}");
}
