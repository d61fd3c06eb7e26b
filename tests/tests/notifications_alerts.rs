//! The alerting and chat tasks split from Kestra's plugin-notifications
//! (`io.kestra.plugin.zulip`, `.zenduty`, `.pagerduty`, `.opsgenie`,
//! `.sentry`, `.line`) in flows, against the local webhook server of
//! `notifications`: the exact JSON each posts for a failed execution, the
//! headers carrying their tokens, the Sentry envelope, and the payloads
//! of the `…Alert` tasks as written.

use serde_json::{Value, json};
use shared::model::StateType;

use crate::notifications::{failed_execution, harness_with_url, hits_on, hms, notify_flow, webhooks};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alert_tasks_post_their_payloads_with_their_tokens() {
    let (base, hits) = webhooks().await;
    let h = harness_with_url();
    let task = format!(
        r#"  - id: zulip
    type: io.kestra.plugin.zulip.ZulipIncomingWebhook
    url: {base}/zulip
    payload: '{{"text": "hello {{{{ flow.id }}}}"}}'
  - id: zenduty
    type: io.kestra.plugin.notifications.zenduty.ZendutyAlert
    url: {base}/zenduty
    payload: '{{"alert_type": "info", "message": "m"}}'
  - id: pagerduty
    type: io.kestra.plugin.pagerduty.PagerDutyAlert
    url: {base}/pagerduty
    payload: '{{"routing_key": "rk", "event_action": "trigger"}}'
  - id: opsgenie
    type: io.kestra.plugin.opsgenie.OpsgenieAlert
    url: {base}/opsgenie
    authorizationToken: GenieKey k-1
    payload: '{{"message": "m"}}'
  - id: sentry
    type: io.kestra.plugin.sentry.SentryAlert
    dsn: {base}/sentry
    endpointType: STORE
"#
    );
    let e = h.run(&notify_flow(&task), json!({"id": "x"})).await;
    assert_eq!(
        e.state.current,
        StateType::Success,
        "{:?}",
        e.task_run_list.iter().map(|t| &t.error).collect::<Vec<_>>()
    );
    assert_eq!(hits_on(&hits, "zulip")[0].body, json!({"text": "hello notify"}));
    assert_eq!(hits_on(&hits, "zenduty")[0].body, json!({"alert_type": "info", "message": "m"}));
    assert_eq!(hits_on(&hits, "pagerduty")[0].body, json!({"routing_key": "rk", "event_action": "trigger"}));
    let ops = &hits_on(&hits, "opsgenie")[0];
    assert_eq!(ops.authorization.as_deref(), Some("GenieKey k-1"));
    assert_eq!(ops.body, json!({"message": "m"}));
    // Kestra's default event, sent as is to the store endpoint
    let sentry = hits_on(&hits, "sentry")[0].body.clone();
    assert_eq!(sentry["message"]["message"], json!(format!("Execution {} failed", e.id)));
    assert_eq!(sentry["extra"], json!({"Namespace": "company.team", "Flow ID": "notify", "Execution ID": e.id}));
    assert_eq!(sentry["level"], "error");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn execution_tasks_send_kestra_s_summaries() {
    let (base, hits) = webhooks().await;
    let h = harness_with_url();
    let failed = failed_execution(&h).await;
    let task = format!(
        r##"  - id: zulip
    type: io.kestra.plugin.zulip.ZulipExecution
    url: {base}/zulip
    channel: "#data"
    executionId: "{{{{ inputs.id }}}}"
  - id: zenduty
    type: io.kestra.plugin.zenduty.ZendutyExecution
    url: {base}/zenduty
    executionId: "{{{{ inputs.id }}}}"
  - id: pagerduty
    type: io.kestra.plugin.pagerduty.PagerDutyExecution
    url: {base}/pagerduty
    routingKey: rk
    payloadSummary: nightly failed
    executionId: "{{{{ inputs.id }}}}"
  - id: opsgenie
    type: io.kestra.plugin.opsgenie.OpsgenieExecution
    url: {base}/opsgenie
    authorizationToken: GenieKey k-2
    message: nightly failed
    responders:
      t-1: team
    tags: [etl, nightly]
    priority: P2
    executionId: "{{{{ inputs.id }}}}"
  - id: sentry
    type: io.kestra.plugin.sentry.SentryExecution
    dsn: {base}/sentry
    level: WARNING
    transaction: /nightly
    extra:
      owner: data
    executionId: "{{{{ inputs.id }}}}"
  - id: line
    type: io.kestra.plugin.line.LineExecution
    url: {base}/line
    channelAccessToken: line-token
    customMessage: Please look
    customFields:
      Team: Data
    executionId: "{{{{ inputs.id }}}}"
"##
    );
    let e = h.run(&notify_flow(&task), json!({"id": failed.id})).await;
    assert_eq!(
        e.state.current,
        StateType::Success,
        "{:?}",
        e.task_run_list.iter().map(|t| &t.error).collect::<Vec<_>>()
    );
    let link = format!("http://baton.test/ui/main/executions/company.team/nightly/{}", failed.id);
    let d = hms(&failed);
    let outcome = format!("Failed on task `boom` after {d}");

    let zulip = hits_on(&hits, "zulip")[0].body.clone();
    assert_eq!(zulip["channel"], "#data");
    assert_eq!(zulip["text"], json!(format!("*<{link}|[company.team] nightly ➛ FAILED>*\n> {outcome}")));

    assert_eq!(
        hits_on(&hits, "zenduty")[0].body,
        json!({
            "message": "Kestra workflow execution",
            "alert_type": "error",
            "entity_id": failed.id,
            "urls": [{"link_url": link, "link_text": "Execution link"}],
            "payload": {"Namespace": "company.team", "Flow ID": "nightly", "Execution ID": failed.id,
                        "Execution Status": "FAILED", "Final task ID": "boom", "Duration": d},
            "summary": format!("Kestra workflow execution {} of a flow nightly in the namespace company.team changed status to FAILED", failed.id),
        })
    );

    let mut pd = hits_on(&hits, "pagerduty")[0].body.clone();
    assert!(pd["payload"]["timestamp"].as_str().is_some_and(|t| t.len() == 23), "{pd}");
    pd["payload"].as_object_mut().unwrap().remove("timestamp");
    assert_eq!(
        pd,
        json!({
            "routing_key": "rk",
            "event_action": "trigger",
            "payload": {"summary": "nightly failed", "source": format!("company.team {}", failed.id), "severity": "error",
                        "custom_details": [{"title": "Flow ID", "value": "nightly"}, {"title": "Execution Status", "value": "FAILED"},
                                           {"title": "Final task ID", "value": "boom"}]},
            "links": [{"href": format!("*<{link}|[company.team] nightly ➛ FAILED>*\n>"), "text": outcome}],
        })
    );

    let ops = &hits_on(&hits, "opsgenie")[0];
    assert_eq!(ops.authorization.as_deref(), Some("GenieKey k-2"));
    assert_eq!(
        ops.body,
        json!({
            "description": format!("*<{link}|[company.team] nightly ➛ FAILED - Final task ID boom>*\n> {outcome}"),
            "message": "nightly failed",
            "responders": [{"id": "t-1", "type": "team"}],
            "tags": ["etl", "nightly"],
            "priority": "P2",
        })
    );

    // the envelope: a header, an item header with the event's length, the event
    let Value::String(envelope) = hits_on(&hits, "sentry")[0].body.clone() else { panic!("not an envelope") };
    let lines: Vec<&str> = envelope.lines().collect();
    assert_eq!(lines.len(), 3, "{envelope}");
    let header: Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(header["dsn"], json!(format!("{base}/sentry")));
    let item: Value = serde_json::from_str(lines[1]).unwrap();
    assert_eq!(item["length"], json!(lines[2].len()));
    let event: Value = serde_json::from_str(lines[2]).unwrap();
    assert_eq!(event["level"], "warning");
    assert_eq!(event["platform"], "java");
    assert_eq!(event["transaction"], "/nightly");
    assert_eq!(event["exception"]["values"][0]["type"], "nightly ➛ FAILED");
    assert_eq!(event["exception"]["values"][0]["value"], json!(outcome));
    assert_eq!(event["extra"]["Link"], json!(link));
    assert_eq!(event["extra"]["owner"], "data");
    assert_eq!(event["event_id"].as_str().map(str::len), Some(32));

    let line = &hits_on(&hits, "line")[0];
    assert_eq!(line.authorization.as_deref(), Some("Bearer line-token"));
    let text = line.body["messages"][0]["text"].as_str().unwrap();
    assert!(
        text.starts_with(&format!(
            "Execution FAILED\n\nDetails:\n- ID: {}\n- Namespace: company.team\n- Flow: nightly\n- Started: ",
            failed.id
        )),
        "{text}"
    );
    assert!(
        text.ends_with(&format!(
            "- Duration: {d}\n- Failed Task: boom\n\nPlease look\n\n- Team: Data\n\nView Execution: {link}"
        )),
        "{text}"
    );
}

#[test]
fn a_bad_event_id_and_a_missing_token_are_named() {
    let validate = |task: &str| {
        let yaml = format!("id: f\nnamespace: t\ntasks:\n{task}");
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
    let d = validate("  - id: l\n    type: io.kestra.plugin.line.LineExecution\n");
    assert!(d.iter().any(|m| m.contains("channelAccessToken")), "{d:?}");
    let d = validate("  - id: s\n    type: io.kestra.plugin.sentry.SentryExecution\n    dsn: x\n    level: LOUD\n");
    assert!(d.iter().any(|m| m.contains("level")), "{d:?}");
}
