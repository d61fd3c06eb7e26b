//! `io.kestra.plugin.gcp.dataflow.*` and `io.kestra.plugin.gcp.dataform.InvokeWorkflow`
//! against the Google REST APIs fake (`e2e::google_apis_fake`, which checks
//! every path, query parameter, body and answer against the Dataflow v1b3
//! and Dataform v1beta1 discovery documents): a Classic Template launched
//! with Kestra's mapping of `parameters` and `environment`, waited for,
//! read and drained; a Flex Template's `launchParameter`; a job ending
//! `JOB_STATE_FAILED` failing `WaitForJob`; a Dataform invocation followed
//! while it runs, its `FAILED` end as output (as Kestra), and a refused
//! create failing the task.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use e2e::google_apis_fake::{Call, FakeGoogleApis};
use serde_json::{Value, json};
use shared::model::StateType;
use shared::plugins::PluginConfig;
use shared::plugins::gcp::GcpConfig;

use crate::ai::service_account_key;
use crate::support::{Harness, harness_with_plugins, outputs};

async fn setup(dir_name: &str) -> (FakeGoogleApis, Harness, String, std::path::PathBuf) {
    let fake = FakeGoogleApis::start(&["dataflow.v1b3.json", "dataform.v1beta1.json"]).await;
    let gcp = GcpConfig { apis_url: Some(fake.url()), ..GcpConfig::default() };
    let h = harness_with_plugins(PluginConfig { gcp, ..PluginConfig::default() });
    let dir = std::env::temp_dir().join(format!("baton-{dir_name}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    let key = std::fs::read_to_string(service_account_key(&dir)).expect("key");
    (fake, h, key, dir)
}

fn job(id: &str, state: &str) -> Value {
    json!({"id": id, "name": format!("name-{id}"), "currentState": state, "type": "JOB_TYPE_BATCH",
           "createTime": "2026-12-03T10:00:00Z", "currentStateTime": "2026-12-03T10:05:00.123Z"})
}

fn bodies(fake: &FakeGoogleApis, id: &str) -> Vec<Call> {
    fake.calls().into_iter().filter(|c| c.id == id).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dataflow_templates_launch_wait_get_and_cancel_with_kestra_s_mapping() {
    let (fake, h, key, dir) = setup("dataflow").await;
    fake.on("dataflow.projects.locations.templates.launch", |c| {
        (200, json!({"job": job(&format!("{}-1", c.body["jobName"].as_str().unwrap_or("x")), "JOB_STATE_PENDING")}))
    });
    fake.on("dataflow.projects.locations.flexTemplates.launch", |_| {
        (200, json!({"job": job("flex-1", "JOB_STATE_QUEUED")}))
    });
    let polls = Arc::new(AtomicUsize::new(0));
    let p = polls.clone();
    fake.on("dataflow.projects.locations.jobs.get", move |c| {
        let id = c.params[2].clone();
        let state = match id.as_str() {
            "bad-1" => "JOB_STATE_FAILED",
            _ if p.fetch_add(1, Ordering::SeqCst) < 2 => "JOB_STATE_RUNNING",
            _ => "JOB_STATE_DONE",
        };
        (200, job(&id, state))
    });
    fake.on("dataflow.projects.locations.jobs.getMetrics", |_| {
        (200, json!({"metrics": [{"name": {"name": "ElementCount", "origin": "dataflow/v1b3"}, "scalar": 42}]}))
    });
    fake.on("dataflow.projects.locations.jobs.update", |c| (200, job(&c.params[2], "JOB_STATE_DRAINING")));

    let conn = format!("    projectId: df-proj\n    location: europe-west1\n    serviceAccount: '{key}'\n");
    let flow = format!(
        r#"
id: dataflow
namespace: test.gcp
tasks:
  - id: launch
    type: io.kestra.plugin.gcp.dataflow.LaunchTemplate
{conn}    jobName: etl
    gcsPath: gs://my-bucket/templates/word count
    parameters:
      inputFile: gs://my-bucket/in.csv
      shards: 3
      dryRun: false
    environment:
      maxWorkers: "{{{{ 2 + 3 }}}}"
      tempLocation: gs://my-bucket/tmp
      additionalUserLabels:
        team: data
  - id: wait
    type: io.kestra.plugin.gcp.dataflow.WaitForJob
{conn}    jobId: "{{{{ outputs.launch.jobId }}}}"
    pollInterval: PT0.05S
  - id: get
    type: io.kestra.plugin.gcp.dataflow.GetJob
{conn}    jobId: "{{{{ outputs.wait.jobId }}}}"
  - id: cancel
    type: io.kestra.plugin.gcp.dataflow.CancelJob
{conn}    jobId: etl-1
    drain: true
  - id: flex
    type: io.kestra.plugin.gcp.dataflow.LaunchFlexTemplate
{conn}    jobName: streamer
    containerSpecGcsPath: gs://my-bucket/flex/spec.json
    parameters:
      outputTable: p:d.t
    environment:
      maxWorkers: 10
      launcherMachineType: n1-standard-2
      flexrsGoal: FLEXRS_COST_OPTIMIZED
"#
    );
    let e = h.run(&flow, json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", h.logs(&e.id).await);
    assert_eq!(outputs(&e, "launch")["jobId"], json!("etl-1"));
    assert_eq!(outputs(&e, "launch")["jobState"], json!("JOB_STATE_PENDING"));
    let wait = outputs(&e, "wait");
    assert_eq!((&wait["jobId"], &wait["state"]), (&json!("etl-1"), &json!("JOB_STATE_DONE")));
    assert_eq!(wait["metrics"], json!({"ElementCount": 42}));
    assert_eq!(polls.load(Ordering::SeqCst), 4, "polled until DONE, then read by GetJob");
    let get = outputs(&e, "get");
    assert_eq!(get["currentState"], json!("JOB_STATE_DONE"));
    assert_eq!((&get["type"], &get["createTime"]), (&json!("JOB_TYPE_BATCH"), &json!("2026-12-03T10:00:00Z")));
    assert_eq!(outputs(&e, "cancel")["currentState"], json!("JOB_STATE_DRAINING"));
    assert_eq!(outputs(&e, "flex")["jobId"], json!("flex-1"));

    let launch = &bodies(&fake, "dataflow.projects.locations.templates.launch")[0];
    assert_eq!(launch.path, "/v1b3/projects/df-proj/locations/europe-west1/templates:launch");
    assert_eq!(launch.query.get("gcsPath").map(String::as_str), Some("gs://my-bucket/templates/word count"));
    assert_eq!(
        launch.body,
        json!({"jobName": "etl",
               "parameters": {"inputFile": "gs://my-bucket/in.csv", "shards": "3", "dryRun": "false"},
               "environment": {"maxWorkers": 5, "tempLocation": "gs://my-bucket/tmp", "additionalUserLabels": {"team": "data"}}})
    );
    assert!(launch.authorization.as_deref().unwrap_or_default().starts_with("Bearer "), "{launch:?}");
    let cancel = &bodies(&fake, "dataflow.projects.locations.jobs.update")[0];
    assert_eq!((cancel.method.as_str(), cancel.params[2].as_str()), ("PUT", "etl-1"));
    assert_eq!(cancel.body, json!({"requestedState": "JOB_STATE_DRAINING"}));
    let flex = &bodies(&fake, "dataflow.projects.locations.flexTemplates.launch")[0];
    assert_eq!(
        flex.body,
        json!({"launchParameter": {"jobName": "streamer", "containerSpecGcsPath": "gs://my-bucket/flex/spec.json",
               "parameters": {"outputTable": "p:d.t"},
               "environment": {"maxWorkers": 10, "launcherMachineType": "n1-standard-2", "flexrsGoal": "FLEXRS_COST_OPTIMIZED"}}})
    );

    // a job ending JOB_STATE_FAILED fails WaitForJob, naming the state
    let failed = format!(
        "id: dataflow_failed\nnamespace: test.gcp\ntasks:\n  - id: launch\n    type: io.kestra.plugin.gcp.dataflow.LaunchTemplate\n{conn}    jobName: bad\n    gcsPath: gs://my-bucket/templates/t\n  - id: wait\n    type: io.kestra.plugin.gcp.dataflow.WaitForJob\n{conn}    jobId: \"{{{{ outputs.launch.jobId }}}}\"\n    pollInterval: PT0.05S\n"
    );
    let e = h.run(&failed, json!({})).await;
    assert_eq!(e.state.current, StateType::Failed);
    let logs = h.logs(&e.id).await.join("\n");
    assert!(logs.contains("Dataflow job 'bad-1' ended JOB_STATE_FAILED"), "{logs}");
    let launch = bodies(&fake, "dataflow.projects.locations.templates.launch");
    assert_eq!(launch[1].body, json!({"jobName": "bad"}), "no parameters nor environment when none is set");

    assert!(fake.violations().is_empty(), "{:#?}", fake.violations());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dataform_invocation_is_followed_while_running_and_its_end_is_the_output() {
    let (fake, h, key, dir) = setup("dataform").await;
    let base = "projects/df-proj/locations/europe-west1/repositories/my-repo";
    fake.on("dataform.projects.locations.repositories.workflowInvocations.create", move |c| {
        let config = c.body["workflowConfig"].as_str().unwrap_or_default().to_string();
        if config.ends_with("/missing") {
            return (404, json!({"error": {"status": "NOT_FOUND", "message": "workflow config not found"}}));
        }
        let id = if config.ends_with("/nightly") { "inv-ok" } else { "inv-bad" };
        (200, json!({"name": format!("{base}/workflowInvocations/{id}"), "workflowConfig": config, "state": "RUNNING"}))
    });
    let gets = Arc::new(AtomicUsize::new(0));
    let g = gets.clone();
    fake.on("dataform.projects.locations.repositories.workflowInvocations.get", move |c| {
        let id = c.params[3].clone();
        let state = match id.as_str() {
            "inv-bad" => "FAILED",
            _ if g.fetch_add(1, Ordering::SeqCst) < 1 => "RUNNING",
            _ => "SUCCEEDED",
        };
        (200, json!({"name": format!("{base}/workflowInvocations/{id}"), "state": state}))
    });
    let flow = |id: &str, config: &str| {
        format!(
            "id: {id}\nnamespace: test.gcp\ntasks:\n  - id: transform\n    type: io.kestra.plugin.gcp.dataform.InvokeWorkflow\n    projectId: df-proj\n    serviceAccount: '{key}'\n    location: europe-west1\n    repositoryId: my-repo\n    workflowConfigId: {config}\n"
        )
    };

    let e = h.run(&flow("dataform_ok", "nightly"), json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", h.logs(&e.id).await);
    let out = outputs(&e, "transform");
    assert_eq!(out["workflowInvocationName"], json!(format!("{base}/workflowInvocations/inv-ok")));
    assert_eq!(out["workflowInvocationState"], json!("SUCCEEDED"));
    assert_eq!(gets.load(Ordering::SeqCst), 2, "read while RUNNING, once more when it ended");
    let create = &bodies(&fake, "dataform.projects.locations.repositories.workflowInvocations.create")[0];
    assert_eq!(create.path, format!("/v1beta1/{base}/workflowInvocations"));
    assert_eq!(create.body, json!({"workflowConfig": format!("{base}/workflowConfigs/nightly")}));

    // as Kestra: a FAILED invocation is the task's output state, with a warning
    let e = h.run(&flow("dataform_failed", "broken"), json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", h.logs(&e.id).await);
    assert_eq!(outputs(&e, "transform")["workflowInvocationState"], json!("FAILED"));
    let logs = h.logs(&e.id).await.join("\n");
    assert!(logs.contains("workflowInvocations/inv-bad' ended FAILED"), "{logs}");

    // a create Dataform refuses fails the task with Google's message
    let e = h.run(&flow("dataform_missing", "missing"), json!({})).await;
    assert_eq!(e.state.current, StateType::Failed);
    let logs = h.logs(&e.id).await.join("\n");
    assert!(logs.contains("Dataform: NOT_FOUND (404): workflow config not found"), "{logs}");

    assert!(fake.violations().is_empty(), "{:#?}", fake.violations());
    let _ = std::fs::remove_dir_all(&dir);
}

/// An environment key Google's RuntimeEnvironment does not have is a
/// validation error naming it.
#[test]
fn dataflow_environment_keys_are_checked_at_validation() {
    let flow = "id: v\nnamespace: test.gcp\ntasks:\n  - id: launch\n    type: io.kestra.plugin.gcp.dataflow.LaunchTemplate\n    location: us-central1\n    jobName: j\n    gcsPath: gs://b/t\n    environment:\n      workers: 3\n";
    let registry = shared::plugins::Registry::builtin();
    let renderer = shared::template::Renderer::new();
    let r = shared::validate::validate_source_with("v.yaml", flow, &registry, &renderer, shared::dialect::Policy::AUTO);
    let shown: Vec<String> = r.diagnostics.iter().map(|d| d.to_string()).collect();
    assert!(shown.iter().any(|d| d.contains("environment.workers")), "{shown:#?}");
}
