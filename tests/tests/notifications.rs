//! The notification tasks (`io.kestra.plugin.notifications.*`) in flows:
//! the exact JSON the webhook tasks post to a local server, their failure
//! on a 4xx/5xx answer, the execution summaries of a failed execution, and
//! the mail tasks against a real local SMTP server (aiosmtpd,
//! `tests/fixtures/smtp/capture.py`; `scripts/setup/smtp.sh` installs it).

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::{Value, json};
use shared::model::{Execution, StateType};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::support::{Harness, harness, harness_with_plugins, runs};

/// One request the webhook server got: path, Content-Type, `X-Team`,
/// `Authorization`, body.
#[derive(Debug, Clone)]
pub struct Hit {
    pub path: String,
    pub content_type: String,
    pub team: Option<String>,
    pub authorization: Option<String>,
    pub body: Value,
}

pub type Hits = Arc<Mutex<Vec<Hit>>>;

async fn hook(
    State(hits): State<Hits>,
    Path(path): Path<String>,
    headers: HeaderMap,
    body: String,
) -> (StatusCode, String) {
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).map(str::to_string);
    let parsed = serde_json::from_str(&body).unwrap_or(Value::String(body));
    hits.lock().unwrap().push(Hit {
        path: path.clone(),
        content_type: header("content-type").unwrap_or_default(),
        team: header("x-team"),
        authorization: header("authorization"),
        body: parsed,
    });
    match path.as_str() {
        "bad" => (StatusCode::BAD_REQUEST, "invalid_payload".into()),
        "down" => (StatusCode::INTERNAL_SERVER_ERROR, "webhook is down".into()),
        _ => (StatusCode::OK, "ok".into()),
    }
}

/// A webhook server on a free local port: its base URL and what it got.
pub async fn webhooks() -> (String, Hits) {
    let hits: Hits = Arc::default();
    let app = Router::new().route("/{*path}", post(hook)).with_state(hits.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), hits)
}

pub fn hits_on(hits: &Hits, path: &str) -> Vec<Hit> {
    hits.lock().unwrap().iter().filter(|h| h.path == path).cloned().collect()
}

/// A harness whose engine knows its UI's URL (`BATON_URL`).
pub fn harness_with_url() -> Harness {
    harness_with_plugins(shared::plugins::PluginConfig { url: Some("http://baton.test/".into()), ..Default::default() })
}

const FAILING: &str = r#"
id: nightly
namespace: company.team
tasks:
  - id: ok
    type: io.kestra.plugin.core.debug.Return
    format: fine
  - id: boom
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: broken
"#;

/// Runs the failing flow: the execution the summaries report on.
pub async fn failed_execution(h: &Harness) -> Execution {
    let e = h.run(FAILING, json!({})).await;
    assert_eq!(e.state.current, StateType::Failed, "{:?}", e.error);
    e
}

/// Kestra's `H:mm:ss.SSS` of an ended execution.
pub fn hms(e: &Execution) -> String {
    let (first, last) = (&e.state.histories[0], e.state.histories.last().unwrap());
    let ms = (last.date - first.date).num_milliseconds();
    format!("{}:{:02}:{:02}.{:03}", ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000)
}

/// A flow `notify` running `task` (YAML, indented as a task) with input `id`.
pub fn notify_flow(task: &str) -> String {
    format!("id: notify\nnamespace: company.team\ninputs:\n  - id: id\n    type: STRING\ntasks:\n{task}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incoming_webhooks_post_their_payloads() {
    let (base, hits) = webhooks().await;
    let h = harness();
    let yaml = r#"
id: hooks
namespace: company.team
tasks:
  - id: slack
    type: io.kestra.plugin.notifications.slack.SlackIncomingWebhook
    url: "BASE/slack"
    payload: |
      {"text": "Flow {{ flow.id }} ran", "blocks": [{"type": "divider"}]}
    options:
      headers:
        X-Team: data
  - id: slack_text
    type: io.kestra.plugin.notifications.slack.SlackIncomingWebhook
    url: "BASE/slack_text"
    messageText: "**Done** in __{{ flow.namespace }}__, see [the docs](https://kestra.io)"
  - id: teams
    type: io.kestra.plugin.notifications.teams.TeamsIncomingWebhook
    url: "BASE/teams"
    payload: '{"text": "hello {{ flow.id }}"}'
  - id: chat
    type: io.kestra.plugin.notifications.google.GoogleChatIncomingWebhook
    url: "BASE/chat"
    payload: '{"text": "hello chat"}'
  - id: discord
    type: io.kestra.plugin.notifications.discord.DiscordIncomingWebhook
    url: "BASE/discord"
    payload: '{"content": "hello discord", "tts": false}'
"#
    .replace("BASE", &base);
    let e = h.run(&yaml, json!({})).await;
    assert_eq!(
        e.state.current,
        StateType::Success,
        "{:?}",
        e.task_run_list.iter().map(|t| &t.error).collect::<Vec<_>>()
    );

    let slack = hits_on(&hits, "slack");
    assert_eq!(slack.len(), 1);
    assert_eq!(slack[0].body, json!({"text": "Flow hooks ran", "blocks": [{"type": "divider"}]}));
    assert_eq!(slack[0].content_type, "application/json");
    assert_eq!(slack[0].team.as_deref(), Some("data"));
    assert_eq!(
        hits_on(&hits, "slack_text")[0].body,
        json!({"text": "*Done* in _company.team_, see <https://kestra.io|the docs>"})
    );
    assert_eq!(hits_on(&hits, "teams")[0].body, json!({"text": "hello hooks"}));
    assert_eq!(hits_on(&hits, "chat")[0].body, json!({"text": "hello chat"}));
    assert_eq!(hits_on(&hits, "discord")[0].body, json!({"content": "hello discord", "tts": false}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_4xx_or_5xx_answer_fails_the_task_naming_status_and_body() {
    let (base, hits) = webhooks().await;
    let h = harness();
    for (path, kind, code, body) in [
        ("bad", "slack.SlackIncomingWebhook", "400", "invalid_payload"),
        ("down", "teams.TeamsIncomingWebhook", "500", "webhook is down"),
    ] {
        let yaml = format!(
            "id: fails\nnamespace: company.team\ntasks:\n  - id: send\n    type: io.kestra.plugin.notifications.{kind}\n    url: {base}/{path}\n    payload: '{{\"text\": \"x\"}}'\n"
        );
        let e = h.run(&yaml, json!({})).await;
        assert_eq!(e.state.current, StateType::Failed, "{kind}");
        let err = runs(&e, "send")[0].error.clone().unwrap_or_default();
        assert!(err.contains(&format!("'{code}'")) && err.contains(body), "{kind}: {err}");
    }
    assert_eq!(hits.lock().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_execution_posts_the_summary_of_a_failed_execution() {
    let (base, hits) = webhooks().await;
    let h = harness_with_url();
    let failed = failed_execution(&h).await;
    let task = format!(
        r##"  - id: alert
    type: io.kestra.plugin.notifications.slack.SlackExecution
    url: {base}/slack
    executionId: "{{{{ inputs.id }}}}"
    channel: "#alerts"
    username: Baton
    customMessage: Nightly run broke
    customFields:
      env: prod
"##
    );
    let e = h.run(&notify_flow(&task), json!({"id": failed.id})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", runs(&e, "alert")[0].error);

    let link = format!("http://baton.test/ui/main/executions/company.team/nightly/{}", failed.id);
    let text = format!("*<{link}|[company.team] nightly ➛ FAILED>*\n> Failed on task `boom` after {}", hms(&failed));
    let field = |t: &str, v: &str| json!({"title": t, "value": v, "short": true});
    let expected = json!({
        "text": text,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": "Nightly run broke"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": text},
             "accessory": {"type": "button", "text": {"type": "plain_text", "text": "Details"}, "url": link}},
        ],
        "attachments": [{
            "color": "danger",
            "fields": [
                field("Namespace", "company.team"), field("Flow ID", "nightly"), field("Execution ID", &failed.id),
                field("Execution Status", "FAILED"), field("env", "prod"), field("Final task ID", "boom"),
            ],
            "ts": failed.state.histories[0].date.timestamp(),
        }],
        "channel": "#alerts",
        "username": "Baton",
    });
    assert_eq!(hits_on(&hits, "slack")[0].body, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_current_execution_is_summarized_while_it_runs_without_a_link_when_no_url_is_known() {
    let (base, hits) = webhooks().await;
    let h = harness();
    let task = format!(
        "  - id: alert\n    type: io.kestra.plugin.notifications.slack.SlackExecution\n    url: {base}/slack\n"
    );
    let e = h.run(&notify_flow(&task), json!({"id": "x"})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", runs(&e, "alert")[0].error);
    let body = hits_on(&hits, "slack")[0].body.clone();
    let text = body["text"].as_str().unwrap();
    assert!(text.starts_with("*[company.team] notify ➛ RUNNING*\n> Succeeded after 0:00:"), "{text}");
    assert!(body["blocks"][0].get("accessory").is_none(), "{body}");
    // as Kestra: the last task run of the current execution is this one
    assert_eq!(body["attachments"][0]["fields"][4], json!({"title": "Final task ID", "value": "alert", "short": true}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn teams_google_chat_and_discord_post_the_summary() {
    let (base, hits) = webhooks().await;
    let h = harness_with_url();
    let failed = failed_execution(&h).await;
    let task = format!(
        r#"  - id: teams
    type: io.kestra.plugin.notifications.teams.TeamsExecution
    url: {base}/teams
    executionId: "{{{{ inputs.id }}}}"
    activityTitle: Nightly
    payload: '{{"text": "replaced by the summary"}}'
  - id: chat
    type: io.kestra.plugin.notifications.google.GoogleChatExecution
    url: {base}/chat
    executionId: "{{{{ inputs.id }}}}"
  - id: discord
    type: io.kestra.plugin.notifications.discord.DiscordExecution
    url: {base}/discord
    executionId: "{{{{ inputs.id }}}}"
    username: Baton
    content: Nightly run
    embedList:
      - title: Nightly
        color: [255, 0, 0]
"#
    );
    let e = h.run(&notify_flow(&task), json!({"id": failed.id})).await;
    assert_eq!(
        e.state.current,
        StateType::Success,
        "{:?}",
        e.task_run_list.iter().map(|t| &t.error).collect::<Vec<_>>()
    );
    let link = format!("http://baton.test/ui/main/executions/company.team/nightly/{}", failed.id);
    let outcome = format!("Failed on task `boom` after {}", hms(&failed));
    let fact = |n: &str, v: &str| json!({"name": n, "value": v});
    assert_eq!(
        hits_on(&hits, "teams")[0].body,
        json!({
            "@type": "MessageCard",
            "@context": "http://schema.org/extensions",
            "themeColor": "0076D7",
            "summary": format!("[[company.team] nightly ➛ FAILED]({link})\n> {outcome}"),
            "sections": [{
                "activityTitle": "Nightly",
                "facts": [fact("Namespace", "company.team"), fact("Flow ID", "nightly"), fact("Execution ID", &failed.id),
                          fact("Execution Status", "FAILED"), fact("Final task ID", "boom")],
                "markdown": true,
            }],
        })
    );
    let chat = hits_on(&hits, "chat")[0].body["text"].as_str().unwrap().to_string();
    assert_eq!(
        chat,
        format!(
            "Execution {} of flow nightly in namespace company.team: status FAILED, final task ID boom.\n*<{link}|[company.team] nightly ➛ FAILED>*\n> {outcome}",
            failed.id
        )
    );
    let discord = hits_on(&hits, "discord")[0].body.clone();
    let description = format!(
        "Namespace: company.team\nFlow ID: nightly\nExecution ID: {}\nExecution Status: FAILED\nFinal task ID: boom\n\n[Open the execution]({link})",
        failed.id
    );
    assert_eq!(
        discord,
        json!({
            "embeds": [{"title": "Nightly", "color": 16711680, "description": description, "footer": {"text": outcome}}],
            "username": "Baton",
            "tts": false,
            "content": "Nightly run",
        })
    );
}

#[test]
fn payload_on_the_execution_tasks_is_accepted_as_kestra_accepts_it() {
    // Kestra's Slack, Teams and Google Chat `…Execution` tasks inherit
    // `payload` from their webhook task and overwrite it with the summary
    // (Baton warns when it runs); MailExecution has none
    let validate = |yaml: &str| {
        shared::validate::validate_source(
            "f.yaml",
            yaml,
            &shared::plugins::Registry::builtin(),
            &shared::template::Renderer::new(),
        )
        .1
    };
    for t in ["slack.SlackExecution", "teams.TeamsExecution", "google.GoogleChatExecution"] {
        let yaml = format!(
            "id: f\nnamespace: t\ntasks:\n  - id: a\n    type: io.kestra.plugin.notifications.{t}\n    url: http://127.0.0.1:1/x\n    payload: '{{}}'\n"
        );
        let diags = validate(&yaml);
        assert!(diags.is_empty(), "{t}: {diags:?}");
    }
    let yaml = "id: f\nnamespace: t\ntasks:\n  - id: a\n    type: io.kestra.plugin.notifications.mail.MailExecution\n    host: localhost\n    to: a@b.c\n    payload: '{}'\n";
    let diags = validate(yaml);
    assert!(diags.iter().any(|d| d.message.contains("unknown property 'payload'")), "{diags:?}");
}

/// aiosmtpd on a free local port, saving each message as JSON in a folder.
struct Smtp {
    port: u16,
    dir: PathBuf,
    _child: tokio::process::Child,
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn smtp() -> Smtp {
    let dir = std::env::temp_dir().join(format!("baton-smtp-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/smtp/capture.py");
    let mut child = tokio::process::Command::new("python3")
        .arg(&script)
        .arg(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("python3 (scripts/setup/smtp.sh installs aiosmtpd)");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line()).await;
    let line = first.expect("the SMTP server starts").unwrap().unwrap_or_default();
    let port = line.strip_prefix("PORT ").and_then(|p| p.parse().ok());
    let port =
        port.unwrap_or_else(|| panic!("no SMTP server (is aiosmtpd installed? scripts/setup/smtp.sh): {line:?}"));
    Smtp { port, dir, _child: child }
}

impl Smtp {
    /// The messages received, in order.
    fn messages(&self) -> Vec<Value> {
        let mut out = Vec::new();
        for n in 1.. {
            let Ok(text) = std::fs::read_to_string(self.dir.join(format!("{n}.json"))) else { break };
            out.push(serde_json::from_str(&text).unwrap());
        }
        out
    }
}

fn part<'a>(m: &'a Value, content_type: &str) -> &'a Value {
    let parts = m["parts"].as_array().unwrap();
    parts.iter().find(|p| p["contentType"] == content_type).unwrap_or_else(|| panic!("no {content_type} part in {m}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_send_delivers_bodies_attachment_and_embedded_image() {
    let server = smtp().await;
    let h = harness();
    let yaml = r#"
id: report
namespace: company.team
tasks:
  - id: csv
    type: io.kestra.plugin.core.storage.Write
    content: "id,name\n1,baton\n"
    extension: .csv
  - id: logo
    type: io.kestra.plugin.core.storage.Write
    content: "not really a png"
    extension: .png
  - id: mail
    type: io.kestra.plugin.notifications.mail.MailSend
    host: 127.0.0.1
    port: PORT
    transportStrategy: SMTP
    from: "Baton <baton@example.com>"
    to: "a@example.com; b@example.com"
    cc: c@example.com
    subject: "Report of {{ flow.id }}"
    htmlTextContent: '<p>See the report <img src="cid:logo"></p>'
    plainTextContent: "See the report."
    attachments:
      - name: report.csv
        uri: "{{ outputs.csv.uri }}"
        contentType: text/csv
    embeddedImages:
      - name: logo
        uri: "{{ outputs.logo.uri }}"
        contentType: image/png
"#
    .replace("PORT", &server.port.to_string());
    let e = h.run(&yaml, json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", runs(&e, "mail")[0].error);
    let m = &server.messages()[0];
    assert_eq!(m["mailFrom"], "baton@example.com");
    assert_eq!(m["rcptTos"], json!(["a@example.com", "b@example.com", "c@example.com"]));
    let headers = &m["headers"];
    assert_eq!(headers["From"], "Baton <baton@example.com>");
    assert_eq!(headers["To"], "a@example.com, b@example.com");
    assert_eq!(headers["Cc"], "c@example.com");
    assert_eq!(headers["Subject"], "Report of report");
    assert_eq!(headers["Return-Receipt-To"], "Baton <baton@example.com>");
    assert_eq!(m["contentType"], "multipart/mixed");
    assert_eq!(part(m, "text/plain")["text"].as_str().unwrap().trim_end(), "See the report.");
    assert_eq!(
        part(m, "text/html")["text"].as_str().unwrap().trim_end(),
        r#"<p>See the report <img src="cid:logo"></p>"#
    );
    let csv = part(m, "text/csv");
    assert_eq!((csv["filename"].as_str(), csv["text"].as_str()), (Some("report.csv"), Some("id,name\n1,baton\n")));
    assert_eq!(csv["disposition"], "attachment");
    let png = part(m, "image/png");
    assert_eq!(png["contentId"], "<logo>");
    assert_eq!(png["disposition"], "inline");
    assert_eq!(png["base64"], "bm90IHJlYWxseSBhIHBuZw==");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_execution_sends_the_summary_and_a_refused_server_fails() {
    let server = smtp().await;
    let h = harness_with_url();
    let failed = failed_execution(&h).await;
    let task = format!(
        r#"  - id: mail
    type: io.kestra.plugin.notifications.mail.MailExecution
    host: 127.0.0.1
    port: {}
    transportStrategy: SMTP
    from: baton@example.com
    to: oncall@example.com
    subject: "Execution {{{{ inputs.id }}}} failed"
    executionId: "{{{{ inputs.id }}}}"
    customMessage: "Nightly <run> broke"
"#,
        server.port
    );
    let e = h.run(&notify_flow(&task), json!({"id": failed.id})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", runs(&e, "mail")[0].error);
    let m = &server.messages()[0];
    assert_eq!(m["headers"]["Subject"], format!("Execution {} failed", failed.id));
    let html = part(m, "text/html")["text"].as_str().unwrap();
    assert!(html.contains("Nightly &lt;run&gt; broke"), "{html}");
    assert!(html.contains(&format!("Failed on task <code>boom</code> after {}", hms(&failed))), "{html}");
    let link = format!("http://baton.test/ui/main/executions/company.team/nightly/{}", failed.id);
    assert!(html.contains(&format!("href=\"{link}\"")), "{html}");
    let text = part(m, "text/plain")["text"].as_str().unwrap().replace("\r\n", "\n");
    assert!(text.starts_with("[company.team] nightly ➛ FAILED\n\nNightly <run> broke\n"), "{text}");
    assert!(text.contains(&format!("Execution: {}\nStatus: FAILED\nFinal task ID: boom\n", failed.id)), "{text}");

    // nobody listens on port 1: the task fails naming the server
    let refused = task.replace(&format!("port: {}", server.port), "port: 1");
    let e = h.run(&notify_flow(&refused), json!({"id": failed.id})).await;
    assert_eq!(e.state.current, StateType::Failed);
    let err = runs(&e, "mail")[0].error.clone().unwrap_or_default();
    assert!(err.contains("cannot send the mail through 127.0.0.1:1"), "{err}");
}
