//! ForEachItem and storage.Split on the embedded runtime (SQLite,
//! in-process queues), with Kestra's corpus flows and the assertions of
//! Kestra's `ForEachItemCaseTest`: 102 rows in batches of 4 make 26
//! subflow executions; the parent's four task runs (`each`, `each_split`,
//! `each_items`, `each_merge`), `iterations` per state, failures
//! transmitted, `wait: false`, merged `subflowOutputs`, `allowFailure`;
//! and a 1,000-batch fan-out whose duplicated messages change nothing.

use std::time::Duration;

use serde_json::{Value, json};
use shared::backend::ExecutionFilter;
use shared::model::{Execution, StateType};
use shared::runtime::messages::ExecutionEvent;

use crate::support::{Harness, harness, runs};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/kestra-corpus/valids");

fn corpus(name: &str) -> String {
    std::fs::read_to_string(format!("{CORPUS}/{name}")).expect("corpus flow")
}

/// Kestra's test file: `rows` lines of 20 characters, stored in the namespace.
async fn items(h: &Harness, rows: usize, flow: &str) -> String {
    let body: String = (0..rows).map(|i| format!("{i:>20}\n")).collect();
    let path = format!("/io/kestra/tests/{flow}/executions/upload/inputs/file/file.txt");
    let stream = Box::pin(std::io::Cursor::new(body.into_bytes()));
    h.embedded.engine.storage.put(&path, stream).await.expect("store the items");
    format!("kestra://{path}")
}

fn output(e: &Execution, task: &str) -> serde_json::Map<String, Value> {
    runs(e, task)[0].outputs.as_deref().cloned().unwrap_or_default()
}

async fn children(h: &Harness, flow_id: &str) -> Vec<Execution> {
    let filter = ExecutionFilter { flow_id: Some(flow_id.into()), limit: Some(100_000), ..Default::default() };
    let list = h.embedded.engine.state.list_executions(&filter).await.expect("list");
    let mut out = Vec::new();
    for s in list {
        out.push(h.embedded.engine.state.load_execution(&s.id).await.expect("load").expect("child"));
    }
    out
}

/// Waits until `n` executions of `flow_id` have ended.
async fn ended_children(h: &Harness, flow_id: &str, n: usize) -> Vec<Execution> {
    for _ in 0..2_400 {
        let c = children(h, flow_id).await;
        if c.len() >= n && c.iter().all(|e| e.state.is_terminal()) {
            return c;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{flow_id}: {n} executions did not end");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corpus_for_each_item_runs_26_subflows_as_kestras_test_expects() {
    let h = harness();
    h.flow(&corpus("for-each-item-subflow.yaml"));
    let file = items(&h, 102, "for-each-item").await;
    let e = h.run(&corpus("for-each-item.yaml"), json!({"file": file, "batch": 4})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    let ids: Vec<&str> = e.task_run_list.iter().map(|t| t.task_id.as_str()).collect();
    assert_eq!(ids, ["each", "each_split", "each_items", "each_merge"]);
    let items = &e.task_run_list[2];
    assert_eq!(items.attempts.len(), 1);
    assert_eq!(items.attempts[0].state.current, StateType::Success);
    let out = output(&e, "each_items");
    assert_eq!(out["numberOfBatches"], 26);
    assert_eq!(out["iterations"], json!({"CREATED": 0, "RUNNING": 0, "SUCCESS": 26}));
    let kids = children(&h, "for-each-item-subflow").await;
    assert_eq!(kids.len(), 26);
    let mut iterations: Vec<u64> =
        kids.iter().map(|k| k.trigger.as_ref().unwrap().variables["taskRunIteration"].as_u64().unwrap()).collect();
    iterations.sort();
    assert_eq!(iterations, (0..26).collect::<Vec<u64>>());
    let first = kids.iter().find(|k| k.trigger.as_ref().unwrap().variables["taskRunIteration"] == 0).unwrap();
    assert_eq!(first.state.current, StateType::Success);
    assert_eq!(first.task_run_list.len(), 1);
    let batch = first.inputs["items"].as_str().unwrap();
    assert!(
        batch.starts_with(&format!("kestra:///io/kestra/tests/for-each-item/executions/{}/tasks/each_split/", e.id))
            && batch.ends_with(".txt"),
        "{batch}"
    );
    assert_eq!(h.read_storage(batch).await, format!("{:>20}\n{:>20}\n{:>20}\n{:>20}\n", 0, 1, 2, 3).into_bytes());
    assert_eq!(first.labels_map()["system.correlationId"], json!(e.id));
    assert_eq!(first.parent_id.as_deref(), Some(e.id.as_str()));
    // the log line of the subflow shows the batch's URI
    assert!(h.logs(&first.id).await.iter().any(|l| l == batch));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corpus_failed_subflows_fail_the_parent_or_warn_with_allow_failure() {
    let h = harness();
    h.flow(&corpus("for-each-item-subflow-failed.yaml"));
    let file = items(&h, 102, "for-each-item-failed").await;
    let e = h.run(&corpus("for-each-item-failed.yaml"), json!({"file": file})).await;
    assert_eq!(e.state.current, StateType::Failed);
    assert_eq!(e.task_run_list.len(), 3, "no merge after a failure");
    assert_eq!(e.task_run_list[2].attempts[0].state.current, StateType::Failed);
    let out = output(&e, "each_items");
    assert_eq!(out["numberOfBatches"], 26);
    assert_eq!(out["iterations"], json!({"CREATED": 0, "RUNNING": 0, "FAILED": 26}));
    assert!(e.error.as_deref().unwrap_or_default().contains("26 of 26"), "{:?}", e.error);

    let file = items(&h, 102, "task-allow-failure-executable-foreachitem").await;
    let e = h.run(&corpus("task-allow-failure-executable-foreachitem.yml"), json!({"file": file})).await;
    assert_eq!(e.state.current, StateType::Warning, "{:?}", e.error);
    assert_eq!(runs(&e, "each")[0].state.current, StateType::Warning);
    assert_eq!(runs(&e, "log-allowed")[0].state.current, StateType::Success);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corpus_subflow_outputs_are_merged_one_line_per_subflow() {
    let h = harness();
    h.flow(&corpus("for-each-item-outputs-subflow.yaml"));
    let file = items(&h, 102, "for-each-item-outputs").await;
    let e = h.run(&corpus("for-each-item-outputs.yaml"), json!({"file": file})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    assert_eq!(e.task_run_list.len(), 5);
    assert_eq!(output(&e, "each_items")["iterations"]["SUCCESS"], 26);
    let merged = output(&e, "each_merge")["subflowOutputs"].as_str().unwrap().to_string();
    let text = String::from_utf8(h.read_storage(&merged).await).unwrap();
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 26);
    // in batch order: the first holds rows 0..3
    assert_eq!(lines[0]["value"], json!(format!("{:>20}\n{:>20}\n{:>20}\n{:>20}\n", 0, 1, 2, 3)));
    assert_eq!(output(&e, "return")["value"], json!(merged));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corpus_no_wait_and_empty_items() {
    let h = harness();
    h.flow(&corpus("for-each-item-subflow.yaml"));
    let file = items(&h, 102, "for-each-item-no-wait").await;
    let e = h.run(&corpus("for-each-item-no-wait.yaml"), json!({"file": file})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    assert_eq!(e.task_run_list.len(), 4);
    assert_eq!(output(&e, "each_items")["iterations"], json!({"RUNNING": 0, "SUCCESS": 26}));
    let kids = ended_children(&h, "for-each-item-subflow", 26).await;
    assert!(kids.iter().all(|k| k.state.current == StateType::Success));

    let file = items(&h, 0, "for-each-item").await;
    let e = h.run(&corpus("for-each-item.yaml"), json!({"file": file, "batch": 4})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    assert_eq!(e.task_run_list.len(), 4);
    assert_eq!(runs(&e, "each_items")[0].outputs, None);
}

/// 1,000 batches of one row; then every fan-out message and every end
/// delivered again: no new execution, the same counts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_batches_fan_out_and_duplicates_change_nothing() {
    let h = harness();
    h.flow(&corpus("for-each-item-subflow.yaml"));
    let file = items(&h, 1_000, "for-each-item").await;
    let started = std::time::Instant::now();
    let e = h.run(&corpus("for-each-item.yaml"), json!({"file": file, "batch": 1})).await;
    eprintln!("1,000 batches: {:?}", started.elapsed());
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    let out = output(&e, "each_items");
    assert_eq!(out["numberOfBatches"], 1_000);
    assert_eq!(out["iterations"], json!({"CREATED": 0, "RUNNING": 0, "SUCCESS": 1_000}));
    // the parent holds counters: its document does not grow with the batches
    let size = serde_json::to_vec(&e).unwrap().len();
    assert!(size < 16_000, "parent execution is {size} bytes");
    let kids = children(&h, "for-each-item-subflow").await;
    assert_eq!(kids.len(), 1_000);
    let items_tr = e.task_run_list[2].id.clone();
    let engine = &h.embedded.engine;
    let publish = |ev: ExecutionEvent| async move {
        shared::runtime::launcher::publish_event(engine, &ev).await.expect("publish");
    };
    publish(ExecutionEvent::StartBatches {
        execution_id: e.id.clone(),
        task_run_id: items_tr.clone(),
        from: 0,
        to: 1_000,
    })
    .await;
    for k in kids.iter().take(50) {
        publish(ExecutionEvent::SubflowEnded {
            execution_id: e.id.clone(),
            task_run_id: items_tr.clone(),
            child_execution_id: k.id.clone(),
            state: StateType::Failed,
            outputs: Default::default(),
            iteration: k.trigger.as_ref().unwrap().variables["taskRunIteration"].as_u64(),
        })
        .await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(children(&h, "for-each-item-subflow").await.len(), 1_000);
    let again = engine.state.load_execution(&e.id).await.unwrap().unwrap();
    assert_eq!(again.version, e.version);
    assert_eq!(output(&again, "each_items")["iterations"]["SUCCESS"], 1_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_split_and_a_missing_subflow_are_explained() {
    let h = harness();
    let file = items(&h, 10, "split").await;
    let e = h
        .run(
            "id: split\nnamespace: io.kestra.tests\ninputs:\n  - id: file\n    type: STRING\ntasks:\n  - id: s\n    type: io.kestra.plugin.core.storage.Split\n    from: \"{{ inputs.file }}\"\n    rows: 3\n  - id: n\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ outputs.s.uris | length }}\"\n",
            json!({"file": file}),
        )
        .await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    assert_eq!(output(&e, "n")["value"], "4");

    let file = items(&h, 3, "missing").await;
    let e = h
        .run(
            "id: missing\nnamespace: io.kestra.tests\ninputs:\n  - id: file\n    type: STRING\ntasks:\n  - id: each\n    type: io.kestra.plugin.core.flow.ForEachItem\n    items: \"{{ inputs.file }}\"\n    namespace: io.kestra.tests\n    flowId: nowhere\n",
            json!({"file": file}),
        )
        .await;
    assert_eq!(e.state.current, StateType::Failed);
    assert!(e.error.as_deref().unwrap_or_default().contains("io.kestra.tests.nowhere not found"), "{:?}", e.error);
}
