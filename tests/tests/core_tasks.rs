//! Kestra's core runnable tasks and template functions on the embedded
//! runtime (SQLite, in-process queues), with Kestra's corpus flows where
//! one exists: `debug.Echo` + `log.Fetch`, the state store, `LocalFiles`
//! in a WorkingDirectory, the storage file tasks, `errorLogs()`, and the
//! script protocol on stderr.

use serde_json::{Value, json};
use shared::model::StateType;

use crate::support::{harness, runs};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/kestra-corpus/valids");

fn corpus(name: &str) -> String {
    std::fs::read_to_string(format!("{CORPUS}/{name}")).expect("corpus flow")
}

fn output(e: &shared::model::Execution, task: &str, key: &str) -> Value {
    runs(e, task)[0].outputs.as_ref().and_then(|o| o.get(key)).cloned().unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_then_fetch_logs_as_kestra_tests_expect() {
    let h = harness();
    let e = h.run(&corpus("get-log-taskid.yaml"), json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    assert_eq!(e.task_run_list.len(), 4);
    assert_eq!(output(&e, "get-log-task", "size"), json!(1));
    let e = h.run(&corpus("get-log.yaml"), json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    let size = output(&e, "get-log-task", "size").as_u64().unwrap();
    assert!(size >= 2, "both Echo lines are fetched: {size}");
    let uri = output(&e, "get-log-task", "uri");
    assert!(uri.as_str().unwrap().ends_with(".ion"), "{uri}");
    let e = h.run(&corpus("get-log-executionid.yaml"), json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    assert!(output(&e, "get-log-task", "size").as_u64().unwrap() >= 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_store_create_update_delete_across_executions() {
    let h = harness();
    let flow = corpus("state.yaml");
    let name = format!("s{}", std::process::id());
    let e = h.run(&flow, json!({"state": name})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    assert_eq!(e.task_run_list.len(), 5);
    assert_eq!(output(&e, "createGet", "data")["value"], json!(1));
    let e = h.run(&flow, json!({"state": name})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    assert_eq!(output(&e, "updateGet", "data")["value"], json!("2"));
    let e = h.run(&flow, json!({"state": name})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    assert_eq!(output(&e, "deleteGet", "count"), json!(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_files_in_a_working_directory() {
    let h = harness();
    let e = h
        .run(
            r#"
id: local-files
namespace: test
tasks:
  - id: wd
    type: io.kestra.plugin.core.flow.WorkingDirectory
    tasks:
      - id: input_files
        type: io.kestra.plugin.core.storage.LocalFiles
        inputs:
          hello.txt: "Hello {{ flow.id }}"
      - id: shell
        type: io.kestra.plugin.scripts.shell.Commands
        taskRunner:
          type: io.kestra.plugin.core.runner.Process
        commands:
          - mkdir -p sub && cp hello.txt sub/copy.txt
      - id: output_files
        type: io.kestra.plugin.core.storage.LocalFiles
        outputs:
          - sub/**
  - id: size
    type: io.kestra.plugin.core.storage.Size
    uri: "{{ outputs.output_files.uris['sub/copy.txt'] }}"
  - id: concat
    type: io.kestra.plugin.core.storage.Concat
    files:
      - "{{ outputs.output_files.uris['sub/copy.txt'] }}"
      - "{{ outputs.output_files.uris['sub/copy.txt'] }}"
    separator: "|"
  - id: check
    type: io.kestra.plugin.core.log.Log
    message: "{{ read(outputs.concat.uri) }} {{ fileSize(outputs.concat.uri) }} {{ fileExists(outputs.concat.uri) }} {{ isFileEmpty(outputs.concat.uri) }}"
"#,
            json!({}),
        )
        .await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    assert_eq!(output(&e, "size", "size"), json!(17));
    assert!(h.logs(&e.id).await.iter().any(|l| l == "Hello local-files|Hello local-files| 36 true false"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_logs_in_errors_and_script_protocol_on_stderr() {
    let h = harness();
    let e = h
        .run(
            r#"
id: alert
namespace: test
tasks:
  - id: script
    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    commands:
      - echo '::{"logs":[{"level":"WARN","message":"from the library"}],"metrics":[{"name":"rows","type":"counter","value":3}]}::' >&2
      - echo '::{"outputs":{"n":3}}::' >&2
  - id: boom
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: "it broke {{ outputs.script.vars.n }}"
errors:
  - id: alert
    type: io.kestra.plugin.core.log.Log
    message: "{{ errorLogs()[0].message }} in {{ errorLogs()[0].taskId }}"
"#,
            json!({}),
        )
        .await;
    assert_eq!(e.state.current, StateType::Failed);
    assert_eq!(runs(&e, "script")[0].state.current, StateType::Success);
    let logs = h.logs(&e.id).await;
    assert!(logs.iter().any(|l| l == "from the library"), "{logs:?}");
    assert!(!logs.iter().any(|l| l.starts_with("::")), "protocol lines are parsed, not logged: {logs:?}");
    // the metric is kept in the metric store, not logged
    assert!(!logs.iter().any(|l| l.starts_with("metric rows")), "{logs:?}");
    let kept = h.embedded.engine.state.metrics().execution_metrics(&e.id).await.expect("metrics").entries;
    assert!(
        kept.iter().any(|m| m.name == "rows" && m.value == 3.0 && m.task_id.as_deref() == Some("script")),
        "{kept:?}"
    );
    assert!(logs.iter().any(|l| l.contains("it broke 3") && l.ends_with("in boom")), "{logs:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn toggle_disables_and_enables_a_schedule_through_the_trigger_store() {
    let h = harness();
    let store = h.embedded.engine.trigger_store.as_ref().cloned().expect("the embedded runtime has a trigger store");
    let flow = r#"
id: trigger-toggle
namespace: test
inputs:
  - id: on
    type: BOOLEAN
tasks:
  - id: toggle
    type: io.kestra.core.tasks.trigger.Toggle
    trigger: schedule
    enabled: "{{ inputs.on }}"
triggers:
  - id: schedule
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 0 1 1 *"
"#;
    let key = shared::backend::schedule::TriggerKey {
        namespace: "test".into(),
        flow_id: "trigger-toggle".into(),
        trigger_id: "schedule".into(),
    };
    let e = h.run(flow, json!({"on": false})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    let st = store.load_trigger_state(&key).await.unwrap().expect("state written");
    assert!(st.stopped.is_some(), "disabled");
    let e = h.run(flow, json!({"on": true})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    assert!(store.load_trigger_state(&key).await.unwrap().unwrap().stopped.is_none(), "enabled again");
    let e = h.run(&flow.replace("trigger: schedule", "trigger: nope"), json!({"on": true})).await;
    assert_eq!(e.state.current, StateType::Failed);
    let logs = h.logs(&e.id).await;
    assert!(logs.iter().any(|l| l.contains("Unable to find trigger nope")), "{logs:?}");
}
