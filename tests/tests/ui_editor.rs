//! The flow editor's completion in a real browser (tests/ui/expressions.mjs,
//! driven as [`crate::ui`]): `{{ outputs.` offers the flow's task ids but
//! not the task being written, also in an expression opened on an earlier
//! line; `{{ inputs.` its input ids, a task's declared outputs and the
//! filters follow; ForEach's `values` is marked required; an input's
//! `type:` offers the validator's types; Enter breaks the line with a
//! suggestion open, Tab accepts it, and `tasks:` + Enter indents.

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
