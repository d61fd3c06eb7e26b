//! Kestra 2.0 flows written from Kestra 2.0's documentation
//! (`tests/fixtures/flows/v2docs/`, each naming its page): every fixture
//! validates as the page says (or is refused as it says), and the runnable
//! ones run on the embedded runtime to the state, outputs and log lines the
//! page describes.

use std::time::Duration;

use serde_json::{Value, json};
use shared::dialect::{Dialect, Policy};
use shared::model::{Execution, StateType};
use shared::runtime::launcher::{LaunchError, LaunchRequest};

use crate::flow_triggers::ended;
use crate::support::{Harness, harness, runs};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/flows/v2docs");

fn source(name: &str) -> String {
    std::fs::read_to_string(format!("{DIR}/{name}.yaml")).expect("fixture")
}

/// The `value` output of the single run of `task`.
fn value(e: &Execution, task: &str) -> Value {
    let r = runs(e, task);
    assert_eq!(r.len(), 1, "one run of {task}");
    r[0].outputs.as_ref().and_then(|o| o.get("value")).cloned().unwrap_or(Value::Null)
}

/// Runs a fixture to its end, checking that it is in the dialect its page is.
async fn run(h: &Harness, name: &str, dialect: Dialect) -> Execution {
    let flow = h.flow(&source(name));
    assert_eq!(flow.dialect.resolve(Policy::AUTO).dialect, dialect, "{name}");
    h.run_flow(&flow, json!({})).await
}

/// Every log line of an execution, sorted (iterations run concurrently).
async fn sorted_logs(h: &Harness, e: &Execution) -> Vec<String> {
    let mut l = h.logs(&e.id).await;
    l.sort();
    l
}

#[test]
fn every_fixture_validates_as_its_page_says() {
    let registry = shared::plugins::Registry::builtin();
    let renderer = shared::template::Renderer::new();
    let mut names: Vec<String> = std::fs::read_dir(DIR)
        .expect("fixtures")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.len() >= 25, "{names:?}");
    for name in names {
        let text = std::fs::read_to_string(format!("{DIR}/{name}")).expect("read");
        assert!(text.starts_with("# From: "), "{name} names its page");
        let (_, diags) = shared::validate::validate_source(&name, &text, &registry, &renderer);
        let errors: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
        if name == "inputs_defaults_required.yaml" {
            // 2.0: an input with defaults is required
            assert_eq!(errors.len(), 1, "{errors:?}");
            assert!(errors[0].contains("inputs_defaults_required.yaml:8:5: inputs[0].required"), "{errors:?}");
            assert!(errors[0].contains("inputs with defaults are required in 2.0"), "{errors:?}");
        } else {
            assert!(errors.is_empty(), "{name}: {errors:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loop_examples_run_as_the_loop_page_says() {
    let h = harness();
    let e = run(&h, "loop_list", Dialect::V2).await;
    assert_eq!(e.state.current, StateType::Success);
    let mut before: Vec<Value> =
        runs(&e, "before_if").iter().filter_map(|r| r.outputs.as_ref()?.get("value").cloned()).collect();
    before.sort_by_key(Value::to_string);
    assert_eq!(before, [json!("Before if value 1"), json!("Before if value 2"), json!("Before if value 3")]);
    assert_eq!(value(&e, "after_if"), json!("After if value 2"), "only value 2 enters the If");

    let e = run(&h, "loop_map", Dialect::V2).await;
    assert_eq!(e.state.current, StateType::Success);
    assert_eq!(sorted_logs(&h, &e).await, ["0 dev -> https://dev.example.com", "1 prod -> https://prod.example.com"]);

    let e = run(&h, "loop_concurrency", Dialect::V2).await;
    assert_eq!(e.state.current, StateType::Success);
    assert_eq!(runs(&e, "return").len(), 4);
    let loop_out = runs(&e, "loop")[0].outputs.clone().expect("loop outputs");
    assert_eq!(loop_out["iterationCount"], json!(4));

    let e = run(&h, "loop_outputs", Dialect::V2).await;
    assert_eq!(e.state.current, StateType::Success);
    assert!(
        h.logs(&e.id)
            .await
            .contains(&r#"All results: ["processed alpha","processed beta","processed gamma"]"#.to_string()),
        "{:?}",
        h.logs(&e.id).await
    );

    let e = run(&h, "loop_break_when", Dialect::V2).await;
    assert_eq!(e.state.current, StateType::Success);
    let logs = h.logs(&e.id).await;
    assert!(logs.contains(&"iteration 2".to_string()) && !logs.contains(&"iteration 3".to_string()), "{logs:?}");
    assert!(logs.iter().any(|l| l.contains("Loop stopped by breakWhen: 2 of 5 iterations ran")), "{logs:?}");

    let e = run(&h, "loop_nested_parents", Dialect::V2).await;
    assert_eq!(e.state.current, StateType::Success);
    let names: Vec<String> =
        sorted_logs(&h, &e).await.iter().filter_map(|l| l.lines().next().map(str::to_string)).collect();
    assert_eq!(names.len(), 8);
    assert!(names.contains(&"Full table name: bucket2_2026_April".to_string()), "{names:?}");
    assert!(names.contains(&"Full table name: bucket1_2025_March".to_string()), "{names:?}");

    let e = run(&h, "loop_parallel", Dialect::V2).await;
    assert_eq!(e.state.current, StateType::Success);
    assert_eq!(runs(&e, "log").len(), 10);
    assert_eq!(runs(&e, "sleep").len(), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn functions_inputs_and_states_run_as_the_migration_guide_says() {
    let h = harness();
    let e = run(&h, "date_helpers", Dialect::V2).await;
    assert_eq!(e.state.current, StateType::Success);
    assert_eq!(value(&e, "helpers"), json!("true true true true true MONDAY 7 9 10"));

    let e = run(&h, "select_label_value", Dialect::V2).await;
    assert_eq!(value(&e, "show"), json!("europe-west9 a,b"), "the flow gets the value, not the label");

    let e = run(&h, "json_schema", Dialect::V2).await;
    assert_eq!(value(&e, "hello"), json!("Ada is 36"));
    let flow = h.flow(&source("json_schema"));
    let req = LaunchRequest {
        inputs: json!({"customer": {"age": 3}}).as_object().cloned().unwrap_or_default(),
        ..LaunchRequest::default()
    };
    let refused = h.embedded.launch(&flow, req).await.expect_err("the schema requires a name");
    assert!(refused.to_string().contains("jsonSchema"), "{refused}");

    let e = run(&h, "to_json_from_json", Dialect::V1).await;
    assert_eq!(value(&e, "parsed"), json!("fr"));
    assert_eq!(value(&e, "serialized"), json!(r#"{"a":1}"#));

    // kv() errors on a missing key; errorOnMissing=false gives null
    let e = run(&h, "kv_missing", Dialect::V1).await;
    assert_eq!(e.state.current, StateType::Failed);
    assert_eq!(value(&e, "optional"), json!("none"));
    assert!(
        h.logs(&e.id).await.iter().any(|l| l.contains("Cannot find the KV 'never_set'")),
        "{:?}",
        h.logs(&e.id).await
    );

    // CANCELLED, 2.0's spelling, on an Exit
    let e = run(&h, "exit_cancelled", Dialect::V2).await;
    assert_eq!(e.state.current, StateType::Cancelled);
    assert!(runs(&e, "never").is_empty());

    // afterExecution sees the final state; its errors do not change it
    let e = run(&h, "after_execution", Dialect::V1).await;
    assert_eq!(e.state.current, StateType::Failed);
    assert_eq!(runs(&e, "onSuccess")[0].state.current, StateType::Skipped);
    assert_eq!(runs(&e, "onFailure")[0].state.current, StateType::Success);
    assert!(h.logs(&e.id).await.contains(&"Oh no, company.team.alerts_demo failed!!!".to_string()));

    let e = run(&h, "purge_storage", Dialect::V2).await;
    assert_eq!(e.state.current, StateType::Success);
    let out = runs(&e, "purge")[0].outputs.clone().expect("outputs");
    assert_eq!((out["purgedCount"].clone(), out["deletedFilesCount"].clone()), (json!(0), json!(0)), "{out:?}");

    // checks `when`: false blocks the execution with its message
    let flow = h.flow(&source("checks_when"));
    match h.embedded.launch(&flow, LaunchRequest::default()).await {
        Err(e @ LaunchError::Blocked { .. }) => assert!(e.to_string().contains("This flow can only run in production")),
        other => panic!("expected the check to block, got {other:?}"),
    }
    let e = h.run_flow(&flow, json!({"environment": "production"})).await;
    assert_eq!(e.state.current, StateType::Success);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flow_trigger_examples_fire_as_the_flow_trigger_page_says() {
    let h = harness();
    h.flow(&source("flow_trigger_depends_on"));
    h.flow(&source("flow_trigger_labels"));
    h.flow(&source("flow_trigger_alert_when"));
    h.flow(&source("flow_trigger_invalid_inputs"));
    // example 1: the upstream's flow output `date` becomes the input
    let up = run(&h, "flow_trigger_extract", Dialect::V1).await;
    let date = up.outputs.as_ref().and_then(|o| o.get("date")).cloned().expect("a flow output");
    let down = ended(&h, "company.team", "transform", 1).await;
    assert_eq!(down.len(), 1);
    assert_eq!(down[0].state.current, StateType::Success);
    assert_eq!(down[0].inputs.get("date"), Some(&date));
    let result = value(&down[0], "run_transform");
    assert!(result.as_str().is_some_and(|s| s.contains(&format!("Ingestion done in {}.", up.id))), "{result}");

    // 2.0: inputs that do not render create a FAILED execution naming why
    let load = ended(&h, "company.team", "load", 1).await;
    assert_eq!(load.len(), 1);
    assert_eq!(load[0].state.current, StateType::Failed);
    assert!(load[0].task_run_list.is_empty(), "nothing runs");
    let why = h.logs(&load[0].id).await;
    assert!(
        why.iter()
            .any(|l| l.contains("Failed to trigger flow company.team.load for trigger after_extract, invalid inputs")),
        "{why:?}"
    );

    // example 5: labels must match
    run(&h, "flow_trigger_labels_upstream", Dialect::V1).await;
    assert_eq!(ended(&h, "company.team", "flow_b", 1).await.len(), 1);

    // example 3: a system flow alerting on failures in company.*
    let failing =
        "id: broken\nnamespace: company.team\ntasks:\n  - id: fail\n    type: io.kestra.plugin.core.execution.Fail\n";
    let f = h.run(failing, json!({})).await;
    assert_eq!(f.state.current, StateType::Failed);
    let alerts = ended(&h, "system", "alert", 1).await;
    assert_eq!(alerts.len(), 1);
    let logs = h.logs(&alerts[0].id).await;
    assert_eq!(logs, [format!("company.team.broken ended FAILED ({})", f.id)]);
    tokio::time::sleep(Duration::from_millis(200)).await;
    // a success does not alert, nor does a failure elsewhere
    h.run(
        "id: elsewhere\nnamespace: other\ntasks:\n  - id: fail\n    type: io.kestra.plugin.core.execution.Fail\n",
        json!({}),
    )
    .await;
    assert_eq!(ended(&h, "system", "alert", 1).await.len(), 1, "only company.* alerts");
}
