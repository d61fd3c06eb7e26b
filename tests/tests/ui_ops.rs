//! The execution and trigger actions of the web UI in a real browser
//! (tests/ui/drive.mjs, as [`crate::ui`]): kill a running execution,
//! restart a failed one, replay one whole and from a task run in the Gantt,
//! delete an ended one, disable and enable a trigger, resume a paused one
//! with its onResume inputs (logged in with basic auth: `resumed.by`);
//! render a debug expression, set labels and remove one, change the state of an ended
//! one, see a retried task's attempts apart and a ForEach's iterations
//! nested in the Gantt, a row opened to its logs (tests/ui/actions.mjs).
//! Each scenario asserts on what the page shows; each test then checks the
//! API agrees.

use serde_json::Value;

use crate::sched_support::api_server;
use crate::ui::{NIGHTLY, drive, drive_as, shots};

const SLOW: &str = "id: slow\nnamespace: ui.ops\ntasks:\n  - id: nap\n    type: io.kestra.plugin.core.flow.Sleep\n    duration: PT30S\n";

const FLAKY: &str = r#"id: flaky
namespace: ui.ops
tasks:
  - id: gate
    type: io.kestra.plugin.core.execution.Fail
    condition: "{{ kv('go', errorOnMissing=false) == null }}"
    errorMessage: not yet
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: through
"#;

const STEPS: &str = r#"id: steps
namespace: ui.ops
tasks:
  - id: stamp
    type: io.kestra.plugin.core.debug.Return
    format: "{{ execution.id }}"
  - id: middle
    type: io.kestra.plugin.core.log.Log
    message: middle
  - id: last
    type: io.kestra.plugin.core.debug.Return
    format: "made by {{ outputs.stamp.value }}"
"#;

const RETRYING: &str = "id: retrying\nnamespace: ui.ops\ntasks:\n  - id: flaky\n    type: io.kestra.plugin.core.execution.Fail\n    errorMessage: boom\n    retry:\n      type: constant\n      interval: PT0.5S\n      maxAttempts: 2\n";

const LOOPING: &str = "id: looping\nnamespace: ui.ops\ntasks:\n  - id: each\n    type: io.kestra.plugin.core.flow.ForEach\n    values: [a, b]\n    tasks:\n      - id: show\n        type: io.kestra.plugin.core.log.Log\n        message: \"value is {{ taskrun.value }}\"\n";

const APPROVE: &str = r#"id: approve
namespace: ui.ops
tasks:
  - id: pause
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: asked
        type: STRING
        description: Why it goes on
      - id: count
        type: INT
        defaults: 2
      - id: approved
        type: BOOLEAN
        defaults: true
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.pause.onResume.asked }} x{{ outputs.pause.onResume.count }}"
"#;

/// Runs `scenario` against a fresh local server; returns its printed
/// `name id` lines and a GET on the server's API.
async fn run(scenario: &str, check: impl AsyncFnOnce(&dyn Fn(&str) -> String, Get)) {
    let flows = [
        ("slow.yml", SLOW),
        ("flaky.yml", FLAKY),
        ("steps.yml", STEPS),
        ("nightly.yml", NIGHTLY),
        ("retrying.yml", RETRYING),
        ("looping.yml", LOOPING),
    ];
    let (server, home) = api_server("ui-ops", &flows, None).await;
    let out = drive(&server.url(), scenario, &shots(&home)).await;
    let printed = move |name: &str| -> String {
        out.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .unwrap_or_else(|| panic!("the scenario printed no '{name}': {out}"))
            .to_string()
    };
    check(&printed, Get(server.url())).await;
    server.shutdown().await;
}

struct Get(String);

impl Get {
    async fn json(&self, path: &str) -> Value {
        reqwest::get(format!("{}/api/v1{path}", self.0)).await.expect("GET").json().await.expect("json")
    }
    async fn execution(&self, id: &str) -> Value {
        self.json(&format!("/executions/{id}")).await
    }
}

fn task_run<'v>(e: &'v Value, task: &str) -> &'v Value {
    e["taskRunList"]
        .as_array()
        .and_then(|a| a.iter().find(|t| t["taskId"] == task))
        .unwrap_or_else(|| panic!("no task run {task}: {e}"))
}

fn has_label(e: &Value, key: &str) -> bool {
    e["labels"].as_array().is_some_and(|a| a.iter().any(|l| l["key"] == key && l["value"] == "true"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_button_stops_a_running_execution() {
    run("kill", async |printed, api| {
        let e = api.execution(&printed("execution")).await;
        assert_eq!(e["state"]["current"], "KILLED", "{e}");
        assert_eq!(task_run(&e, "nap")["state"]["current"], "KILLED", "{e}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_button_deletes_an_ended_execution_with_its_logs() {
    run("delete", async |printed, api| {
        let id = printed("execution");
        let status = reqwest::get(format!("{}/api/v1/executions/{id}", api.0)).await.expect("GET").status();
        assert_eq!(status, 404);
        // its logs went with it (server_bulk:: reads the store): none is served
        let logs = api.json(&format!("/logs/{id}")).await;
        assert!(logs.as_array().is_none_or(Vec::is_empty), "{logs}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_button_runs_the_failed_task_again_in_the_same_execution() {
    run("restart", async |printed, api| {
        let e = api.execution(&printed("execution")).await;
        assert_eq!(e["state"]["current"], "SUCCESS", "{e}");
        let states: Vec<&str> =
            e["state"]["histories"].as_array().expect("histories").iter().filter_map(|h| h["state"].as_str()).collect();
        assert!(states.contains(&"FAILED") && states.contains(&"RESTARTED"), "{states:?}");
        assert_eq!(task_run(&e, "gate")["attempts"].as_array().map(Vec::len), Some(2), "{e}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_buttons_replay_a_whole_execution_and_from_a_task_run_in_the_gantt() {
    run("replay", async |printed, api| {
        let orig = printed("original");
        let original = api.execution(&orig).await;
        assert!(has_label(&original, "system.replayed"), "{original}");
        let whole = api.execution(&printed("whole")).await;
        assert_eq!(whole["originalId"], orig.as_str());
        assert_eq!(task_run(&whole, "stamp")["outputs"]["value"], whole["id"], "a whole replay runs everything again");
        let from = api.execution(&printed("from")).await;
        assert!(has_label(&from, "system.replay"), "{from}");
        assert_eq!(
            (&from["originalId"], &from["state"]["current"]),
            (&Value::from(orig.clone()), &Value::from("SUCCESS"))
        );
        assert_eq!(task_run(&from, "stamp")["outputs"]["value"], orig.as_str(), "stamp was kept, not run again");
        assert_eq!(task_run(&from, "stamp")["attempts"].as_array().map(Vec::len), Some(1));
        assert_eq!(task_run(&from, "middle")["attempts"].as_array().map(Vec::len), Some(2), "middle ran again");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn triggers_page_disables_and_enables_a_trigger() {
    run("toggle", async |_, api| {
        let t = api.json("/triggers/ui.test/nightly/daily").await;
        assert_eq!(t["disabled"], true, "the scenario ends with it disabled: {t}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_button_resumes_a_paused_execution_with_its_inputs() {
    const AUTH: &str = "admin@kestra.io:Admin1234!";
    let (server, home) = api_server("ui-resume", &[("approve.yml", APPROVE)], Some(AUTH)).await;
    let out = drive_as(&server.url(), "resume", &home.join("shots"), Some(AUTH)).await;
    let printed = |name: &str| -> String {
        out.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .unwrap_or_else(|| panic!("the scenario printed no '{name}': {out}"))
            .to_string()
    };
    let load = |id: String| {
        let engine = server.engine.clone();
        async move { engine.state.load_execution(&id).await.expect("load").expect("execution") }
    };
    let e = load(printed("execution")).await;
    assert_eq!(e.state.current, shared::model::StateType::Success);
    let pause = e.task_run_list.iter().find(|t| t.task_id == "pause").expect("pause");
    let outputs = serde_json::Value::Object(*pause.outputs.clone().expect("outputs"));
    assert_eq!(outputs["onResume"], serde_json::json!({"asked": "approved by ui", "count": 5, "approved": true}));
    assert_eq!(outputs["resumed"]["by"], "admin@kestra.io", "the logged-in user resumed it: {outputs}");
    // the other one was resumed by the API call, not by the refused dialog
    let other = load(printed("other")).await;
    let pause = other.task_run_list.iter().find(|t| t.task_id == "pause").expect("pause");
    assert_eq!(pause.outputs.as_ref().expect("outputs")["onResume"]["asked"], "from the api");
    server.shutdown().await;
}

/// The execution page's debug-expression box, Set labels and Change state
/// (tests/ui/actions.mjs), a retried task run drawn as one Gantt bar per
/// attempt and a ForEach's iterations nested, a row opened to its logs;
/// the API agrees with what the page showed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debug_expression_set_labels_change_state_and_attempts_in_the_gantt() {
    run("execution-actions", async |printed, api| {
        let e = api.execution(&printed("execution")).await;
        assert_eq!(e["state"]["current"], "WARNING", "{e}");
        let label = |k: &str, v: &str| {
            e["labels"].as_array().is_some_and(|a| a.iter().any(|l| l["key"] == k && l["value"] == v))
        };
        assert!(label("reviewed", "yes") && !label("team", "ui"), "the removed label stays removed: {e}");
        let r = api.execution(&printed("retried")).await;
        assert_eq!(task_run(&r, "flaky")["attempts"].as_array().map(Vec::len), Some(2), "{r}");
    })
    .await;
}
