//! The notification families beyond plugin-notifications' webhooks —
//! Telegram (`io.kestra.plugin.telegram`), Twilio Notify and SendGrid
//! (`io.kestra.plugin.twilio`), WhatsApp (`io.kestra.plugin.meta.whatsapp`)
//! and Tencent QQ (`io.kestra.plugin.tencent.qq`) — in flows, against a
//! local server answering as each service does: the exact request each
//! task sends (path, body, form, auth header), the execution summaries of
//! a failed execution, the failure on an error answer naming its status,
//! and the masking of `secret()` values only.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use serde_json::{Value, json};
use shared::model::StateType;
use shared::plugins::PluginConfig;
use shared::runtime::secrets::Secrets;

use crate::notifications::{failed_execution, hms, notify_flow};
use crate::support::{Harness, harness, harness_with_secrets_and_plugins, runs};

/// One request: path, Content-Type, Authorization, body as sent.
#[derive(Debug, Clone)]
struct Hit {
    path: String,
    content_type: String,
    authorization: Option<String>,
    body: String,
}

impl Hit {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    /// The form's fields, decoded, in order.
    fn form(&self) -> Vec<(String, String)> {
        let decode = |s: &str| {
            let s = s.replace('+', " ");
            let mut out = Vec::new();
            let b = s.as_bytes();
            let mut i = 0;
            while i < b.len() {
                if b[i] == b'%' {
                    out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                    i += 3;
                } else {
                    out.push(b[i]);
                    i += 1;
                }
            }
            String::from_utf8(out).unwrap()
        };
        self.body
            .split('&')
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap();
                (decode(k), decode(v))
            })
            .collect()
    }
}

type Hits = Arc<Mutex<Vec<Hit>>>;

/// Answers as the services do: Telegram `{"ok": true}`, SendGrid 202
/// with an `X-Message-Id`, Twilio 201; `…-down` paths 500, `…-bad` 400,
/// `qq-created` 201.
async fn service(State(hits): State<Hits>, Path(path): Path<String>, headers: HeaderMap, body: String) -> Response {
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).map(str::to_string);
    hits.lock().unwrap().push(Hit {
        path: path.clone(),
        content_type: header("content-type").unwrap_or_default(),
        authorization: header("authorization"),
        body,
    });
    if path.ends_with("-down") {
        return (StatusCode::INTERNAL_SERVER_ERROR, "service is down").into_response();
    }
    if path.contains("-bad") {
        return (StatusCode::BAD_REQUEST, r#"{"ok": false, "description": "Bad Request"}"#).into_response();
    }
    if path.ends_with("/sendMessage") {
        return (StatusCode::OK, r#"{"ok": true, "result": {"message_id": 7}}"#).into_response();
    }
    if path.ends_with("v3/mail/send") {
        return (StatusCode::ACCEPTED, [("x-message-id", "m-1")], "").into_response();
    }
    match path.as_str() {
        "twilio" => (StatusCode::CREATED, r#"{"sid": "NT1"}"#).into_response(),
        "qq-created" => (StatusCode::CREATED, "created").into_response(),
        _ => (StatusCode::OK, r#"{"ActionStatus": "OK"}"#).into_response(),
    }
}

async fn services() -> (String, Hits) {
    let hits: Hits = Arc::default();
    let app = Router::new().route("/{*path}", post(service)).with_state(hits.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), hits)
}

fn on(hits: &Hits, path: &str) -> Vec<Hit> {
    hits.lock().unwrap().iter().filter(|h| h.path == path).cloned().collect()
}

const TG_TOKEN: &str = "123:tg-secret-token";
const TW_TOKEN: &str = "tw-secret-token";

/// A harness with the secrets `TG_TOKEN` and `TW_TOKEN`, a UI URL, and
/// SendGrid's API at `{base}/sendgrid`.
fn harness_for(base: &str) -> Harness {
    let b64 = |v: &str| base64::engine::general_purpose::STANDARD.encode(v);
    let secrets = Secrets::from_vars([
        ("SECRET_TG_TOKEN".to_string(), b64(TG_TOKEN)),
        ("SECRET_TW_TOKEN".to_string(), b64(TW_TOKEN)),
    ]);
    let plugins = PluginConfig {
        url: Some("http://baton.test/".into()),
        sendgrid_url: Some(format!("{base}/sendgrid")),
        ..Default::default()
    };
    harness_with_secrets_and_plugins(secrets, plugins)
}

fn succeeded(e: &shared::model::Execution) {
    assert_eq!(
        e.state.current,
        StateType::Success,
        "{:?}",
        e.task_run_list.iter().map(|t| &t.error).collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_tasks_post_kestra_s_requests() {
    let (base, hits) = services().await;
    let h = harness_for(&base);
    let task = format!(
        r#"  - id: telegram
    type: io.kestra.plugin.telegram.TelegramSend
    token: "{{{{ secret('TG_TOKEN') }}}}"
    channel: "@data"
    parseMode: MARKDOWNV2
    endpointOverride: {base}
    payload: "Data synced by {{{{ flow.id }}}}"
  - id: twilio
    type: io.kestra.plugin.notifications.twilio.TwilioAlert
    url: {base}/twilio
    accountSID: AC1
    authToken: "{{{{ secret('TW_TOKEN') }}}}"
    payload: '{{"identity": "0000001", "body": "a & b", "priority": 5}}'
  - id: sendgrid
    type: io.kestra.plugin.twilio.sendgrid.SendGridMailSend
    sendgridApiKey: SG.key
    from: baton@example.com
    to: [a@example.com, b@example.com]
    cc: [c@example.com]
    subject: "Flow {{{{ flow.id }}}}"
    htmlContent: "<p>hi</p>"
    textContent: ""
  - id: whatsapp
    type: io.kestra.plugin.meta.whatsapp.WhatsAppIncomingWebhook
    url: {base}/whatsapp
    payload: '{{"profileName": "Baton", "whatsAppIds": ["w1"], "from": 380999999999}}'
  - id: qq
    type: io.kestra.plugin.tencent.qq.QQIncomingWebhook
    url: {base}/qq
    token: qq-token
    payload: '{{"To_Account": ["u1"], "MsgContent": {{"Text": "hi"}}}}'
"#
    );
    let e = h.run(&notify_flow(&task), json!({"id": "x"})).await;
    succeeded(&e);

    let tg = &on(&hits, &format!("bot{TG_TOKEN}/sendMessage"))[0];
    assert_eq!(tg.content_type, "application/json");
    assert_eq!(tg.json(), json!({"chat_id": "@data", "text": "Data synced by notify", "parse_mode": "MarkdownV2"}));

    let tw = &on(&hits, "twilio")[0];
    assert_eq!(tw.content_type, "application/x-www-form-urlencoded");
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("AC1:{TW_TOKEN}"));
    assert_eq!(tw.authorization, Some(format!("Basic {basic}")));
    let field = |k: &str, v: &str| (k.to_string(), v.to_string());
    assert_eq!(tw.form(), vec![field("identity", "0000001"), field("body", "a & b"), field("priority", "5")]);

    let sg = &on(&hits, "sendgrid/v3/mail/send")[0];
    assert_eq!(sg.authorization.as_deref(), Some("Bearer SG.key"));
    assert_eq!(
        sg.json(),
        json!({
            "from": {"email": "baton@example.com"},
            "personalizations": [{"to": [{"email": "a@example.com"}, {"email": "b@example.com"}],
                                  "cc": [{"email": "c@example.com"}], "subject": "Flow notify"}],
            "content": [{"type": "text/plain", "value": "Please view this email in a modern email client"},
                        {"type": "text/html", "value": "<p>hi</p>"}],
        })
    );
    let out = runs(&e, "sendgrid")[0].outputs.clone().expect("outputs");
    assert_eq!(out["statusCode"], json!(202));
    assert_eq!(out["body"], json!(""));
    assert_eq!(out["headers"]["x-message-id"], json!("m-1"));

    let wa = &on(&hits, "whatsapp")[0];
    assert_eq!(wa.json(), json!({"profileName": "Baton", "whatsAppIds": ["w1"], "from": 380999999999u64}));

    let qq = &on(&hits, "qq")[0];
    assert_eq!(qq.authorization.as_deref(), Some("Bearer qq-token"));
    assert_eq!(qq.json(), json!({"To_Account": ["u1"], "MsgContent": {"Text": "hi"}}));

    // the secret token went out in clear, and is masked in what is kept
    let logs = h.logs(&e.id).await.join("\n");
    assert!(!logs.contains(TG_TOKEN) && !logs.contains(TW_TOKEN), "{logs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn execution_tasks_send_kestra_s_summaries() {
    let (base, hits) = services().await;
    let h = harness_for(&base);
    let failed = failed_execution(&h).await;
    let task = format!(
        r#"  - id: telegram
    type: io.kestra.plugin.telegram.TelegramExecution
    token: plain-token
    channel: "2072728690"
    endpointOverride: {base}
    payload: replaced
    executionId: "{{{{ inputs.id }}}}"
  - id: twilio
    type: io.kestra.plugin.twilio.notify.TwilioExecution
    url: {base}/twilio
    accountSID: AC1
    authToken: t
    identity: "0000001"
    body: "Failure of {{{{ inputs.id }}}}"
    executionId: "{{{{ inputs.id }}}}"
  - id: sendgrid
    type: io.kestra.plugin.notifications.sendgrid.SendGridMailExecution
    sendgridApiKey: SG.key
    from: baton@example.com
    to: [oncall@example.com]
    subject: failed
    customMessage: Please look
    executionId: "{{{{ inputs.id }}}}"
  - id: whatsapp
    type: io.kestra.plugin.meta.whatsapp.WhatsAppExecution
    url: {base}/whatsapp
    profileName: MyProfile
    from: "1234567890"
    whatsAppIds: [w1, w2]
    executionId: "{{{{ inputs.id }}}}"
  - id: whatsapp_plain
    type: io.kestra.plugin.meta.whatsapp.WhatsAppExecution
    url: {base}/whatsapp-plain
    executionId: "{{{{ inputs.id }}}}"
  - id: qq
    type: io.kestra.plugin.tencent.qq.QQExecution
    url: {base}/qq
    recipientIds: [u1, u2]
    payload: "{{}}"
    customMessage: Please look
    customFields:
      Team: Data
    executionId: "{{{{ inputs.id }}}}"
"#
    );
    let e = h.run(&notify_flow(&task), json!({"id": failed.id})).await;
    succeeded(&e);
    let link = format!("http://baton.test/ui/main/executions/company.team/nightly/{}", failed.id);
    let d = hms(&failed);
    let outcome = format!("Failed on task `boom` after {d}");
    let id = &failed.id;

    let tg = &on(&hits, "botplain-token/sendMessage")[0];
    assert_eq!(
        tg.json(),
        json!({"chat_id": "2072728690",
               "text": format!("\"<company.team nightly {id} ➛ FAILED - Final task ID ➛ boom> {outcome} ({link})\"")})
    );

    let tw = &on(&hits, "twilio")[0];
    let form = tw.form();
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert_eq!(
        get("body").as_deref(),
        Some(
            format!(
                "Namespace company.team, Flow ID nightly, Execution ID {id}, Execution Status FAILED, Final task ID boom. *<{link}|[company.team] nightly ➛ FAILED>*\n> {outcome}"
            )
            .as_str()
        )
    );
    assert_eq!(get("Body"), Some(format!("Failure of {id}")));
    assert_eq!(get("Identity").as_deref(), Some("0000001"));
    assert_eq!(form.len(), 3, "{form:?}");

    let sg = on(&hits, "sendgrid/v3/mail/send")[0].json();
    assert_eq!(sg["personalizations"], json!([{"to": [{"email": "oncall@example.com"}], "subject": "failed"}]));
    assert_eq!(
        sg["content"][0],
        json!({"type": "text/plain", "value": "Please view this email in a modern email client"})
    );
    let html = sg["content"][1]["value"].as_str().unwrap();
    assert_eq!(sg["content"][1]["type"], "text/html");
    for part in ["[company.team] nightly ➛ ", "FAILED", "Please look", "boom", &link, &d] {
        assert!(html.contains(part), "{part} not in {html}");
    }

    let text_body = json!({"body": [
        "Namespace company.team", "Flow ID nightly", format!("Execution ID {id}"), "Execution Status FAILED",
        "Final task ID boom", format!("*<{link}|[company.team] nightly ➛ FAILED>*\n> {outcome}"),
    ]});
    assert_eq!(
        on(&hits, "whatsapp")[0].json(),
        json!({
            "contacts": [{"profile": {"name": "MyProfile"}, "wa_id": "w1"}, {"profile": {"name": "MyProfile"}, "wa_id": "w2"}],
            "messages": [{"from": "1234567890", "text": text_body, "type": "text"}],
        })
    );
    assert_eq!(
        on(&hits, "whatsapp-plain")[0].json(),
        json!({"contacts": [], "messages": [{"text": text_body, "type": "text"}]})
    );

    let qq = on(&hits, "qq");
    assert_eq!(qq.len(), 2);
    for (hit, who) in qq.iter().zip(["u1", "u2"]) {
        let m = hit.json();
        assert_eq!(m["To_Account"], who);
        assert!(m["MsgRandom"].as_u64().is_some_and(|r| r < i32::MAX as u64), "{m}");
        assert_eq!(m["MsgBody"][0]["MsgType"], "TIMTextElem");
        let text = m["MsgBody"][0]["MsgContent"]["Text"].as_str().unwrap();
        assert!(
            text.starts_with(&format!(
                "Namespace: company.team\nFlow: nightly\nExecution ID: {id}\n\nStatus: FAILED\nStarted At: "
            )),
            "{text}"
        );
        assert!(
            text.ends_with(&format!(
                "Duration: {d}\nFinal task ID: boom\n\n\nFailed Task: boom\n\n\nView Execution: {link}\n\n\nMessage:\nPlease look\n\n\n\nAdditional Info:\n\n- Team: Data\n\n\n"
            )),
            "{text:?}"
        );
    }
    let logs = h.logs(&e.id).await.join("\n");
    assert!(logs.contains("payload is replaced by the execution summary"), "{logs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_answer_fails_the_task_naming_its_status() {
    let (base, hits) = services().await;
    let h = harness_for(&base);
    let cases = [
        (
            format!(
                "type: io.kestra.plugin.telegram.TelegramSend\n    token: \"{{{{ secret('TG_TOKEN') }}}}\"\n    channel: c\n    endpointOverride: {base}/tg-bad\n    payload: x"
            ),
            "'400'",
        ),
        (
            format!(
                "type: io.kestra.plugin.twilio.notify.TwilioAlert\n    url: {base}/twilio-down\n    accountSID: A\n    authToken: t\n    payload: '{{\"body\": \"x\"}}'"
            ),
            "'500'",
        ),
        (
            format!(
                "type: io.kestra.plugin.meta.whatsapp.WhatsAppIncomingWebhook\n    url: {base}/whatsapp-down\n    payload: '{{}}'"
            ),
            "'500'",
        ),
        (
            format!(
                "type: io.kestra.plugin.tencent.qq.QQIncomingWebhook\n    url: {base}/qq-created\n    payload: '{{}}'"
            ),
            "answered 201 (not 200)",
        ),
    ];
    for (task, named) in &cases {
        let yaml = format!("id: fails\nnamespace: company.team\ntasks:\n  - id: send\n    {task}\n");
        let e = h.run(&yaml, json!({})).await;
        let err = runs(&e, "send")[0].error.clone().unwrap_or_default();
        assert_eq!(e.state.current, StateType::Failed, "{task}");
        assert!(err.contains(named), "{task}: {err}");
        let logs = h.logs(&e.id).await.join("\n");
        assert!(!logs.contains(TG_TOKEN) && !err.contains(TG_TOKEN), "{logs}");
    }
    // a token written in clear is not a secret: it is shown as written
    let yaml = format!(
        "id: fails\nnamespace: company.team\ntasks:\n  - id: send\n    type: io.kestra.plugin.telegram.TelegramSend\n    token: plain-token\n    channel: c\n    endpointOverride: {base}/tg-bad\n    payload: x\n"
    );
    let e = h.run(&yaml, json!({})).await;
    let logs = h.logs(&e.id).await.join("\n");
    assert!(logs.contains("botplain-token"), "{logs}");
    // SendGrid's refusal names its status
    let bad = harness_with_secrets_and_plugins(
        Secrets::default(),
        PluginConfig { sendgrid_url: Some(format!("{base}/sendgrid-bad")), ..Default::default() },
    );
    let yaml = "id: fails\nnamespace: company.team\ntasks:\n  - id: send\n    type: io.kestra.plugin.twilio.sendgrid.SendGridMailSend\n    sendgridApiKey: k\n    from: a@b.c\n    to: [d@e.f]\n    htmlContent: x\n";
    let e = bad.run(yaml, json!({})).await;
    assert_eq!(e.state.current, StateType::Failed);
    let err = runs(&e, "send")[0].error.clone().unwrap_or_default();
    assert!(err.contains("'400'") && err.contains("Bad Request"), "{err}");
    assert!(hits.lock().unwrap().iter().any(|h| h.path == "tg-bad/botplain-token/sendMessage"));
}

#[test]
fn kestra_s_names_and_refusals() {
    let validate = |task: &str| {
        let yaml = format!("id: f\nnamespace: t\ntasks:\n  - id: n\n    {task}\n");
        shared::validate::validate_source(
            "f.yaml",
            &yaml,
            &shared::plugins::Registry::builtin(),
            &shared::template::Renderer::new(),
        )
        .1
        .iter()
        .map(|d| d.message.clone())
        .collect::<Vec<_>>()
    };
    for old in [
        "type: io.kestra.plugin.notifications.telegram.TelegramSend\n    token: t\n    channel: c\n    payload: p",
        "type: io.kestra.plugin.notifications.twilio.TwilioExecution\n    url: u\n    accountSID: a\n    authToken: t",
        "type: io.kestra.plugin.notifications.sendgrid.SendGridMailSend\n    sendgridApiKey: k\n    from: a\n    to: [b]",
        "type: io.kestra.plugin.notifications.whatsapp.WhatsAppExecution\n    url: u",
    ] {
        assert_eq!(validate(old), Vec::<String>::new(), "{old}");
    }
    let d = validate(
        "type: io.kestra.plugin.telegram.TelegramSend\n    token: t\n    channel: c\n    payload: p\n    parseMode: Markdown",
    );
    assert!(d.iter().any(|m| m.contains("parseMode")), "{d:?}");
    let d = validate("type: io.kestra.plugin.tencent.qq.QQExecution\n    url: u\n    recipientIds: [a]");
    assert!(d.iter().any(|m| m.contains("payload")), "{d:?}");
    let d = validate(
        "type: io.kestra.plugin.tencent.qq.QQIncomingWebhook\n    url: u\n    payload: p\n    options:\n      readTimeout: PT1S",
    );
    assert!(d.iter().any(|m| m.contains("options.readTimeout")), "{d:?}");
    let d = validate(
        "type: io.kestra.plugin.twilio.notify.TwilioAlert\n    url: u\n    accountSID: a\n    authToken: t\n    payload: not json",
    );
    assert!(d.iter().any(|m| m.contains("payload")), "{d:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qq_execution_without_recipients_sends_nothing_as_kestra() {
    let (base, hits) = services().await;
    let h = harness();
    let task = format!(
        "  - id: qq\n    type: io.kestra.plugin.tencent.qq.QQExecution\n    url: {base}/qq\n    token: t\n    payload: x\n"
    );
    let e = h.run(&notify_flow(&task), json!({"id": ""})).await;
    succeeded(&e);
    assert!(hits.lock().unwrap().is_empty());
    let logs = h.logs(&e.id).await.join("\n");
    assert!(logs.contains("recipientIds is empty") && logs.contains("token is not sent"), "{logs}");
}
