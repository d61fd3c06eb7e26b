//! ForEachItem on the Cloud Run functions with every message delivered
//! twice and out of order: each batch's launch is its own push (the fan
//! out cut down to one batch a message), a batch's subflow is created
//! once whatever the duplicates, and its end is counted once.

use e2e::functions::{Cluster, ClusterOptions};
use serde_json::json;
use shared::backend::{ExecutionFilter, StateStore};
use shared::functions::relay::RelayOptions;
use shared::model::StateType;

const CHILD: &str = r#"
id: fei_child
namespace: test.functions
inputs:
  - id: items
    type: STRING
tasks:
  - id: ret
    type: io.kestra.plugin.core.debug.Return
    format: "{{ read(inputs.items) | trim }}"
outputs:
  - id: value
    type: STRING
    value: "{{ outputs.ret.value }}"
"#;

const PARENT: &str = r#"
id: fei_parent
namespace: test.functions
inputs:
  - id: file
    type: STRING
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEachItem
    items: "{{ inputs.file }}"
    batch:
      rows: 3
    namespace: test.functions
    flowId: fei_child
    inputs:
      items: "{{ taskrun.items }}"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_start_and_count_once_with_every_message_twice() {
    let relay = RelayOptions { duplicate: true, shuffle_seed: Some(22), ..RelayOptions::default() };
    let cluster = Cluster::start(ClusterOptions {
        relay,
        flows: vec![("child.yaml".into(), CHILD.into()), ("parent.yaml".into(), PARENT.into())],
        ..ClusterOptions::default()
    })
    .await;
    let path = "/test/functions/fei_parent/executions/upload/inputs/file/rows.txt";
    let body: String = (0..40).map(|i| format!("row{i}\n")).collect();
    let storage = &cluster.backends.storage;
    shared::backend::Storage::put(storage.as_ref(), path, Box::pin(std::io::Cursor::new(body.into_bytes())))
        .await
        .expect("store the items");
    let id = cluster.launch("test.functions", "fei_parent", json!({"file": format!("kestra://{path}")})).await;
    let e = cluster.wait(&id).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    let items = e.task_run_list.iter().find(|t| t.task_id == "each_items").expect("each_items");
    let out = items.outputs.as_deref().cloned().unwrap_or_default();
    assert_eq!(out["numberOfBatches"], 14);
    assert_eq!(out["iterations"], json!({"CREATED": 0, "RUNNING": 0, "SUCCESS": 14}));
    let merge = e.task_run_list.iter().find(|t| t.task_id == "each_merge").expect("each_merge");
    let merged = merge.outputs.as_ref().unwrap()["subflowOutputs"].as_str().unwrap().to_string();
    let mut r =
        shared::backend::Storage::get(storage.as_ref(), merged.strip_prefix("kestra://").unwrap()).await.unwrap();
    let mut text = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut r, &mut text).await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 14, "{text}");
    assert_eq!(lines[0], r#"{"value":"row0\nrow1\nrow2"}"#);
    assert_eq!(lines[13], r#"{"value":"row39"}"#);
    let filter = ExecutionFilter { flow_id: Some("fei_child".into()), ..Default::default() };
    let kids = cluster.backends.state.list_executions(&filter).await.expect("list");
    assert_eq!(kids.len(), 14, "one subflow execution per batch, whatever the duplicates");
    assert!(kids.iter().all(|k| k.state == StateType::Success));
}
