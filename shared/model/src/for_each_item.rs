//! `io.kestra.plugin.core.flow.ForEachItem` as Kestra models it: a
//! flowable whose children are three internal tasks, run in order —
//! `{id}_split` (a worker splits `items` into batch files), `{id}_items`
//! (the executor starts one subflow execution per batch) and `{id}_merge`
//! (a worker joins the subflows' outputs into `subflowOutputs`). The
//! children exist in the parsed flow so that task runs, events and
//! `outputs.{id}_items…` find them like any other task. Pure.

use serde_json::{Map, Value};

use super::flow::{Children, Task};

/// The internal split task's type (Kestra's nested class name).
pub const SPLIT_TYPE: &str = "io.kestra.plugin.core.flow.ForEachItem$ForEachItemSplit";
/// The internal executable task's type: also the `trigger.type` of the
/// subflow executions it starts.
pub const ITEMS_TYPE: &str = "io.kestra.plugin.core.flow.ForEachItem$ForEachItemExecutable";
/// The internal merge task's type.
pub const MERGE_TYPE: &str = "io.kestra.plugin.core.flow.ForEachItem$ForEachItemMergeOutputs";

/// The prefix every internal ForEachItem type shares.
pub const INTERNAL_PREFIX: &str = "io.kestra.plugin.core.flow.ForEachItem$";

/// The properties of a ForEachItem that go to its `_items` task.
const ITEMS_PROPS: &[&str] =
    &["namespace", "flowId", "revision", "inputs", "labels", "wait", "transmitFailed", "inheritLabels"];

/// True for the internal task types (never written by a user).
pub fn is_internal(kind: &str) -> bool {
    kind.starts_with(INTERNAL_PREFIX)
}

/// The three children of the ForEachItem `id` with properties `props`,
/// at `path` (the ForEachItem's own, for messages).
pub fn children(id: &str, props: &Map<String, Value>, path: &str) -> Children {
    let pick = |keys: &[&str]| -> Map<String, Value> {
        keys.iter().filter_map(|k| props.get(*k).map(|v| (k.to_string(), v.clone()))).collect()
    };
    let task = |suffix: &str, kind: &str, props: Map<String, Value>| Task {
        id: format!("{id}{suffix}"),
        type_: kind.to_string(),
        kind: kind.to_string(),
        flowable: None,
        description: None,
        disabled: false,
        allow_failure: false,
        allow_warning: false,
        retry: None,
        timeout: None,
        run_if: None,
        worker_group: None,
        log_level: None,
        log_to_file: false,
        task_cache: None,
        props,
        children: Children::None,
        errors: Vec::new(),
        finally: Vec::new(),
        depends_on: Vec::new(),
        path: path.to_string(),
    };
    let mut split = pick(&["items"]);
    // Kestra's `batch` defaults to one row per batch
    let batch = props.get("batch").and_then(Value::as_object).cloned().unwrap_or_default();
    for (k, v) in batch {
        split.insert(k, v);
    }
    Children::Tasks(vec![
        task("_split", SPLIT_TYPE, split),
        task("_items", ITEMS_TYPE, pick(ITEMS_PROPS)),
        task("_merge", MERGE_TYPE, Map::new()),
    ])
}

/// The URI of batch `iteration` from the split's `batchUri` output.
pub fn batch_uri(pattern: &str, iteration: u64) -> String {
    pattern.replace("{iteration}", &iteration.to_string())
}

/// Where the outputs of the subflow of batch `iteration` are written (one
/// Ion line), under the `_items` task run's prefix, as Kestra does.
pub fn outputs_path(execution_prefix: &str, items_task_id: &str, items_task_run_id: &str, iteration: u64) -> String {
    format!("{}/{iteration}/outputs.ion", outputs_base(execution_prefix, items_task_id, items_task_run_id))
}

/// The folder of the subflows' outputs of one `_items` task run.
pub fn outputs_base(execution_prefix: &str, items_task_id: &str, items_task_run_id: &str) -> String {
    format!("{execution_prefix}/tasks/{}/{items_task_run_id}", super::ids::slugify(items_task_id))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_for_each_item_has_kestras_three_children() {
        let props = json!({"items": "{{ inputs.file }}", "batch": {"rows": 4}, "namespace": "n", "flowId": "c",
            "wait": true, "inputs": {"x": "{{ taskrun.items }}"}})
        .as_object()
        .cloned()
        .unwrap();
        let Children::Tasks(t) = children("each", &props, "tasks[0]") else { panic!() };
        let ids: Vec<&str> = t.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ids, ["each_split", "each_items", "each_merge"]);
        assert_eq!(t[0].props, json!({"items": "{{ inputs.file }}", "rows": 4}).as_object().cloned().unwrap());
        assert!(t[1].props.contains_key("inputs") && !t[1].props.contains_key("items"));
        assert!(t.iter().all(|t| is_internal(&t.kind)));
        assert_eq!(batch_uri("kestra:///a/{iteration}.csv", 7), "kestra:///a/7.csv");
        assert_eq!(
            outputs_path("/n/f/executions/e", "each_items", "tr", 3),
            "/n/f/executions/e/tasks/each_items/tr/3/outputs.ion"
        );
    }
}
