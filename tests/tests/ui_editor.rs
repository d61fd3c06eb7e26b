//! The flow editor's completion in a real browser (tests/ui/expressions.mjs,
//! driven as [`crate::ui`]): `{{ outputs.` offers the flow's task ids but
//! not the task being written, also in an expression opened on an earlier
//! line; `{{ inputs.` its input ids, a task's declared outputs and the
//! filters follow; ForEach's `values` is marked required; an input's
//! `type:` offers the validator's types; Enter breaks the line with a
//! suggestion open, Tab accepts it, and `tasks:` + Enter indents. A whole
//! monthly flow (an input, a ForEach reading an iteration's output, a
//! retried task, a Schedule) is written with completion alone, run, and
//! its Gantt nests the iterations and shows the attempts apart
//! (tests/ui/authoring.mjs).

use crate::sched_support::api_server;
use crate::ui::drive;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_flow_editor_completes_task_ids_input_ids_and_outputs_inside_expressions() {
    let (server, home) = api_server("ui-editor-expressions", &[], None).await;
    let out = drive(&server.url(), "editor-expressions", &home.join("shots")).await;
    for line in out.lines().filter(|l| l.starts_with("expression completion")) {
        eprintln!("{line}");
    }
    assert!(out.contains("expression completion ms"), "{out}");
    server.shutdown().await;
}

/// A Kestra user's monthly flow written from an empty editor with
/// completion alone (tests/ui/authoring.mjs): an input whose type and keys
/// come from the list, a ForEach over `{{ inputs.months }}` whose second
/// task reads `{{ outputs.x[taskrun.value].value }}`, a task retried once
/// and a Schedule, every key and expression picked from what the list
/// offers. It runs from the execute dialog, and the API agrees with the
/// Gantt: each month's task runs nested under the ForEach, two attempts of
/// the retried task.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_monthly_flow_is_written_with_completion_alone_and_its_gantt_nests_iterations_and_attempts() {
    let (server, home) = api_server("ui-editor-authoring", &[], None).await;
    let out = drive(&server.url(), "editor-authoring", &home.join("shots")).await;
    let id = out.lines().find_map(|l| l.strip_prefix("execution ")).expect("the execution's id").trim().to_string();
    let e: serde_json::Value = reqwest::get(format!("{}/api/v1/executions/{id}", server.url()))
        .await
        .expect("the API answers")
        .json()
        .await
        .expect("an execution");
    assert_eq!(e["state"]["current"], "SUCCESS", "{e}");
    let runs = e["taskRunList"].as_array().expect("task runs");
    let shown: Vec<&str> = runs.iter().filter(|r| r["taskId"] == "show").filter_map(|r| r["value"].as_str()).collect();
    assert_eq!(shown, ["2024-01", "2024-02"], "{e}");
    let flaky = runs.iter().find(|r| r["taskId"] == "flaky").expect("the retried task");
    assert_eq!(flaky["attempts"].as_array().map(Vec::len), Some(2), "{e}");
    let logs: serde_json::Value = reqwest::get(format!("{}/api/v1/logs/{id}", server.url()))
        .await
        .expect("the API answers")
        .json()
        .await
        .expect("logs");
    let text = logs.to_string();
    assert!(text.contains("2024-01 read") && text.contains("2024-02 read"), "each month's output read: {text}");
    server.shutdown().await;
}
