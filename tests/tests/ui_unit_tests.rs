//! The Tests tab of the web UI in a real browser (tests/ui/tests.mjs,
//! driven as [`crate::ui`]): a flow's test suite, kept beside it in the
//! flows folder, run from its Tests tab with one passing and one failing
//! case, the failure's expected and actual value shown; the Tests page
//! shows the kept result. The API then agrees, and no test execution is
//! among the server's. The test editor completes an assertion operator
//! and the flow's task ids, underlines an unknown key, and saves.

use serde_json::{Value, json};

use crate::sched_support::api_server;
use crate::server_unit_tests::{FLOW, SUITE};
use crate::ui::drive;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tests_tab_runs_a_suite_and_shows_a_passing_and_a_failing_case() {
    let (server, home) =
        api_server("ui-unit-tests", &[("greet.yml", FLOW), ("greet_tests.test.yml", SUITE)], None).await;
    drive(&server.url(), "tests", &home.join("shots")).await;
    let http = reqwest::Client::new();
    let last: Value = http
        .post(format!("{}/api/v1/tests/results/search/last", server.url()))
        .json(&json!({"testSuiteIds": [{"namespace": "company.team", "id": "greet_tests"}]}))
        .send()
        .await
        .expect("POST")
        .json()
        .await
        .expect("JSON");
    assert_eq!(last["results"][0]["state"], json!("FAILED"), "{last}");
    let execs: Value = reqwest::get(format!("{}/api/v1/executions/search", server.url()))
        .await
        .expect("GET")
        .json()
        .await
        .expect("JSON");
    assert_eq!(execs["total"], json!(0), "the test executions are not the server's: {execs}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_test_editor_completes_assertion_operators_and_task_ids() {
    let (server, home) =
        api_server("ui-test-editor", &[("greet.yml", FLOW), ("greet_tests.test.yml", SUITE)], None).await;
    let out = drive(&server.url(), "test-editor", &home.join("shots")).await;
    for line in out.lines().filter(|l| l.starts_with("test editor:")) {
        eprintln!("{line}");
    }
    assert!(out.contains("operator completion offered in"), "{out}");
    let kept = std::fs::read_dir(home.join("flows"))
        .expect("flows folder")
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
        .any(|s| s.contains("flowId: greet") && s.contains("taskId: greeting"));
    assert!(kept, "the edited suite is kept in the flows folder\n{out}");
    server.shutdown().await;
}
