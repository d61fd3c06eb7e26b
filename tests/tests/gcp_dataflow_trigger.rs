//! `io.kestra.plugin.gcp.dataflow.Trigger` against the Google REST APIs
//! fake (every `jobs.list` call checked against the Dataflow v1b3
//! discovery document), polled as the scheduler polls it (one evaluation a
//! slot of `interval`): the jobs are listed page by page with Kestra's
//! `TERMINATED` filter, the latest matching job that reached the target
//! state within `lookback` starts one execution (`trigger.jobId`,
//! `jobName`, `state`), and the jobs recorded then do not fire again at
//! the next poll, while a job that reaches the state later does.

use std::sync::{Arc, Mutex};

use chrono::{SecondsFormat, Utc};
use e2e::google_apis_fake::FakeGoogleApis;
use serde_json::{Value, json};
use shared::model::StateType;
use shared::plugins::PluginConfig;
use shared::plugins::gcp::GcpConfig;
use shared::runtime::events::http::{Evaluated, evaluate};
use shared::triggers::http::HttpTrigger;

use crate::ai::service_account_key;
use crate::sched_support::{at, wait_ended};
use crate::support::{harness_with_plugins, runs};

/// A job named `name` that reached `state` `ago_s` seconds ago.
fn job(id: &str, name: &str, state: &str, ago_s: i64) -> Value {
    let t = (Utc::now() - chrono::Duration::seconds(ago_s)).to_rfc3339_opts(SecondsFormat::Millis, true);
    json!({"id": id, "name": name, "currentState": state, "type": "JOB_TYPE_BATCH", "currentStateTime": t})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dataflow_trigger_fires_once_for_the_latest_job_that_reached_its_state() {
    let fake = FakeGoogleApis::start(&["dataflow.v1b3.json"]).await;
    let gcp = GcpConfig { apis_url: Some(fake.url()), ..GcpConfig::default() };
    let h = harness_with_plugins(PluginConfig { gcp, ..PluginConfig::default() });
    let dir = std::env::temp_dir().join(format!("baton-dataflow-trigger-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    let key = std::fs::read_to_string(service_account_key(&dir)).expect("key");
    // two pages: the second holds the latest job
    let pages: Arc<Mutex<Vec<Vec<Value>>>> = Arc::new(Mutex::new(vec![
        vec![job("j1", "my-etl-a", "JOB_STATE_DONE", 300), job("j2", "other-b", "JOB_STATE_DONE", 10)],
        vec![job("j3", "my-etl-c", "JOB_STATE_DONE", 60), job("j4", "my-etl-d", "JOB_STATE_DONE", 7200)],
    ]));
    let p = pages.clone();
    fake.on("dataflow.projects.locations.jobs.list", move |c| {
        let pages = p.lock().expect("pages");
        let n =
            c.query.get("pageToken").and_then(|t| t.strip_prefix("page-")).and_then(|n| n.parse().ok()).unwrap_or(0);
        let mut body = json!({"jobs": pages.get(n).cloned().unwrap_or_default()});
        if n + 1 < pages.len() {
            body["nextPageToken"] = json!(format!("page-{}", n + 1));
        }
        (200, body)
    });
    let flow = format!(
        r#"
id: dataflow_job_completion_trigger
namespace: test.gcp
tasks:
  - id: notify
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ trigger.jobId }}}} {{{{ trigger.jobName }}}} {{{{ trigger.state }}}}"
triggers:
  - id: on_job_done
    type: io.kestra.plugin.gcp.dataflow.Trigger
    projectId: df-proj
    serviceAccount: '{key}'
    location: us-central1
    jobNamePrefix: my-etl-
    targetState: JOB_STATE_DONE
    lookback: PT1H
    interval: PT2M
"#
    );
    let engine = &h.embedded.engine;
    let flow = h.flow(&flow);
    let trig = HttpTrigger::of(&flow.triggers[0]).expect("a polled trigger").expect("valid");
    let r = evaluate(engine, &flow, &trig, at("2026-01-01T10:00:00Z")).await.expect("evaluate");
    let Evaluated::Started(id) = r else { panic!("a job reached the state: {r:?}") };
    let e = wait_ended(engine, &id).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    let vars = Value::Object(e.trigger.as_ref().expect("trigger").variables.clone());
    assert_eq!(
        vars,
        json!({"jobId": "j3", "jobName": "my-etl-c", "state": "JOB_STATE_DONE"}),
        "the latest of j1 and j3"
    );
    assert_eq!(
        runs(&e, "notify")[0].outputs.as_deref().cloned().unwrap_or_default()["value"],
        "j3 my-etl-c JOB_STATE_DONE"
    );

    let calls = fake.calls();
    assert_eq!(calls.len(), 2, "two pages: {:?}", calls.iter().map(|c| &c.query).collect::<Vec<_>>());
    assert!(calls.iter().all(|c| c.path == "/v1b3/projects/df-proj/locations/us-central1/jobs"), "{calls:?}");
    assert_eq!(calls[0].query.get("filter").map(String::as_str), Some("TERMINATED"));
    assert_eq!(calls[1].query.get("pageToken").map(String::as_str), Some("page-1"));
    assert!(calls.iter().all(|c| c.authorization.as_deref().is_some_and(|a| a.starts_with("Bearer "))));

    // the next slot: j1 and j3 are recorded, nothing fires
    let r = evaluate(engine, &flow, &trig, at("2026-01-01T10:02:00Z")).await.expect("evaluate");
    assert_eq!(r, Evaluated::ConditionFalse, "recorded jobs do not fire again");
    // a job reaching the state later fires
    pages.lock().expect("pages")[0].push(job("j5", "my-etl-e", "JOB_STATE_DONE", 5));
    let r = evaluate(engine, &flow, &trig, at("2026-01-01T10:04:00Z")).await.expect("evaluate");
    let Evaluated::Started(id) = r else { panic!("j5 fires: {r:?}") };
    let e = wait_ended(engine, &id).await;
    assert_eq!(e.trigger.as_ref().expect("trigger").variables["jobId"], "j5");
    assert!(fake.violations().is_empty(), "{:?}", fake.violations());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Kestra's required properties and its enumerations are validation
/// errors naming the property.
#[test]
fn the_dataflow_trigger_s_properties_are_checked_at_validation() {
    let flow = "id: d\nnamespace: test.gcp\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: hi\ntriggers:\n  - id: watch\n    type: io.kestra.plugin.gcp.dataflow.Trigger\n    location: us-central1\n    projectId: p\n    jobNamePrefix: etl-\n    targetState: DONE\n";
    let registry = shared::plugins::Registry::builtin();
    let renderer = shared::template::Renderer::new();
    let r = shared::validate::validate_source_with("d.yaml", flow, &registry, &renderer, shared::dialect::Policy::AUTO);
    let shown: Vec<String> = r.diagnostics.iter().map(|d| d.to_string()).collect();
    assert!(shown.iter().any(|d| d.contains("targetState") && d.contains("JOB_STATE_DONE")), "{shown:#?}");
    assert!(!shown.iter().any(|d| d.contains("jobNamePrefix") || d.contains("projectId")), "{shown:#?}");
}
