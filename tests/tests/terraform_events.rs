//! The Terraform wiring of GCS and Pub/Sub triggers: `modules/events`,
//! evaluated offline by terraform on flow files, gives each enabled
//! gcs.Trigger its bucket, prefix, event types and the push subscription
//! name the scheduler function reads (`functions::events::gcs_subscription`),
//! and each Pub/Sub trigger its topic and `subscription`; `events.tf`
//! (python-hcl2) wires every one to the scheduler with the OIDC identity.

use serde_json::Value;
use std::collections::BTreeMap;

use crate::terraform::{TempDir, both, copy_config, hcl_json, repo, run, terraform};

const FLOW: &str = r#"
id: ingest
namespace: company.team
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "{{ trigger.blobs | length }}"
triggers:
  - id: watch
    type: io.kestra.plugin.gcp.gcs.Trigger
    from: gs://landing/in/
    on: CREATE
    action: MOVE
    moveDirectory: gs://archive/done/
  - id: updates
    type: io.kestra.plugin.gcp.gcs.Trigger
    from: gs://landing/other/
  - id: off
    type: io.kestra.plugin.gcp.gcs.Trigger
    from: gs://landing/off/
    disabled: true
  - id: poll
    type: io.kestra.plugin.gcp.pubsub.Trigger
    topic: orders
    subscription: orders-baton
    maxRecords: 10
  - id: live
    type: io.kestra.plugin.gcp.pubsub.RealtimeTrigger
    projectId: other-project
    topic: clicks
    subscription: clicks-baton
"#;

/// Zoomcamp style: the project (and a key only tasks use) in pluginDefaults,
/// a forced default overriding what a trigger says.
const DEFAULTS_FLOW: &str = r#"
id: defaults
namespace: company.team
pluginDefaults:
  - type: io.kestra.plugin.gcp
    values:
      projectId: zoomcamp-project
      location: EU
  - type: io.kestra.plugin.gcp.pubsub
    values:
      projectId: not-the-first
  - type: io.kestra.plugin.gcp.gcs.Trigger
    forced: true
    values:
      from: gs://forced-bucket/in/
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: hi
triggers:
  - id: watch
    type: io.kestra.plugin.gcp.gcs.Trigger
    from: gs://written/in/
  - id: poll
    type: io.kestra.plugin.gcp.pubsub.Trigger
    topic: orders
    subscription: zoom-orders
    maxRecords: 10
"#;

fn evaluate(flows: &std::path::Path) -> BTreeMap<String, Value> {
    let tmp = TempDir::new("tf-events");
    let root = &tmp.0;
    copy_config(&repo().join("terraform/modules/events"), &root.join("modules/events"));
    let main = format!(
        "module \"events\" {{\n  source     = \"./modules/events\"\n  flows_dir  = \"{}\"\n  project_id = \"proj\"\n}}\n\n\
         output \"gcs\" {{\n  value = module.events.gcs\n}}\n\noutput \"pubsub\" {{\n  value = module.events.pubsub\n}}\n",
        flows.display()
    );
    std::fs::write(root.join("main.tf"), main).expect("main.tf");
    let init = run(terraform(true).current_dir(root).args(["init", "-input=false", "-no-color"]), "terraform");
    assert!(init.status.success(), "terraform init failed:\n{}", both(&init));
    let apply = run(
        terraform(true).current_dir(root).args(["apply", "-auto-approve", "-input=false", "-no-color"]),
        "terraform",
    );
    assert!(apply.status.success(), "terraform apply of modules/events failed:\n{}", both(&apply));
    let out = run(terraform(true).current_dir(root).args(["output", "-json"]), "terraform");
    let all: BTreeMap<String, Value> = serde_json::from_slice(&out.stdout).expect("output -json");
    all.into_iter().map(|(k, v)| (k, v["value"].clone())).collect()
}

#[test]
fn event_triggers_become_notifications_and_push_subscriptions() {
    let tmp = TempDir::new("tf-events-flows");
    std::fs::write(tmp.0.join("ingest.yml"), FLOW).expect("flow");
    std::fs::write(tmp.0.join("defaults.yml"), DEFAULTS_FLOW).expect("flow");
    let out = evaluate(&tmp.0);
    let gcs = out["gcs"].as_object().expect("gcs map");
    assert_eq!(gcs.len(), 3, "the disabled trigger gets nothing: {gcs:?}");
    let w = &gcs["company.team/ingest/watch"];
    assert_eq!((w["bucket"].as_str(), w["prefix"].as_str()), (Some("landing"), Some("in/")));
    assert_eq!(w["event_types"], serde_json::json!(["OBJECT_FINALIZE"]), "on: CREATE");
    assert_eq!(w["move_bucket"], "archive");
    assert_eq!(
        w["subscription"].as_str(),
        Some(shared::functions::events::gcs_subscription("company.team", "ingest", "watch").as_str())
    );
    assert!(w["topic"].as_str().is_some_and(|t| t.starts_with("baton-gcs-") && t.len() == 26));
    let u = &gcs["company.team/ingest/updates"];
    assert_eq!(u["event_types"], serde_json::json!(["OBJECT_FINALIZE", "OBJECT_METADATA_UPDATE"]));
    let ps = out["pubsub"].as_object().expect("pubsub map");
    assert_eq!(ps["company.team/ingest/poll"]["topic"], "projects/proj/topics/orders");
    assert_eq!(ps["company.team/ingest/poll"]["subscription"], "orders-baton");
    assert_eq!(ps["company.team/ingest/live"]["topic"], "projects/other-project/topics/clicks");
    assert_eq!(ps["company.team/ingest/live"]["realtime"], true);
    // pluginDefaults, as the runtimes see them (shared::model::flow::apply_defaults)
    assert_eq!(
        ps["company.team/defaults/poll"]["topic"], "projects/zoomcamp-project/topics/orders",
        "first default wins"
    );
    assert_eq!(gcs["company.team/defaults/watch"]["bucket"], "forced-bucket", "a forced default overrides");
    let (flow, diags) = shared::validate::validate_source(
        "defaults.yml",
        DEFAULTS_FLOW,
        &shared::plugins::Registry::builtin(),
        &shared::template::Renderer::new(),
    );
    assert!(diags.is_empty(), "{diags:?}");
    let flow = flow.expect("flow");
    assert_eq!(flow.triggers[1].props["projectId"], "zoomcamp-project");
    assert_eq!(flow.triggers[0].props["from"], "gs://forced-bucket/in/");
}

#[test]
fn event_subscriptions_push_to_the_scheduler_with_oidc() {
    let parsed = hcl_json(&[repo().join("terraform/events.tf")]);
    let text = serde_json::to_string(&parsed).expect("json");
    for needle in [
        "google_storage_notification",
        "JSON_API_V1",
        "google_cloud_run_v2_service.push[\\\"scheduler\\\"].uri",
        "google_service_account.invoker.email",
        "local.push_audiences[\\\"scheduler\\\"]",
        "google_pubsub_topic.dead_letter.id",
        "google_storage_project_service_account",
    ] {
        assert!(
            text.contains(needle) || text.contains(&needle.replace("\\\"", "\"")),
            "events.tf lacks {needle}: {text}"
        );
    }
}
