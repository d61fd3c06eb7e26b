//! Checks a test suite against the flow it tests, before anything runs: a
//! fixture for a task id the flow lacks (or for a flowable, which no worker
//! runs), an input the flow does not declare, an assertion on an unknown
//! task, a mocked task's literal `outputs.executionId` (it points at no
//! execution of the case's isolated home). Each problem names the file position of the property at fault.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use super::model::TestSuite;
use crate::model::Flow;
use crate::validate::Diagnostic;
use crate::yaml::{Locations, child_key};

/// `outputs.id` or `outputs['id']` / `outputs["id"]` in an expression.
static OUTPUT_REF: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"\boutputs\s*(?:\.\s*([A-Za-z0-9_][A-Za-z0-9_-]*)|\[\s*['"]([^'"]+)['"]\s*\])"#).expect("static regex")
});

/// The task ids an expression reads the outputs of, in order.
pub fn output_refs(expr: &str) -> Vec<String> {
    OUTPUT_REF
        .captures_iter(expr)
        .filter_map(|c| c.get(1).or_else(|| c.get(2)).map(|m| m.as_str().to_string()))
        .collect()
}

/// Every problem of `suite` against `flow`, positioned in `source`.
pub fn check(file: &str, source: &str, suite: &TestSuite, flow: &Flow) -> Vec<Diagnostic> {
    let locs = crate::yaml::parse(source).map(|(_, l)| l).unwrap_or_default();
    let at = |path: &str, message: String| {
        let pos = locs_find(&locs, path);
        Diagnostic {
            file: file.to_string(),
            line: Some(pos.0),
            column: Some(pos.1),
            path: path.to_string(),
            task_id: None,
            message,
        }
    };
    let mut out = Vec::new();
    let flow_name = format!("{}.{}", flow.namespace, flow.id);
    let tasks: HashMap<&str, &crate::model::flow::Task> =
        flow.all_tasks().into_iter().map(|t| (t.id.as_str(), t)).collect();
    let known = |id: &str| tasks.contains_key(id);
    let ids = || {
        let mut v: Vec<&str> = tasks.keys().copied().collect();
        v.sort_unstable();
        v.join(", ")
    };
    for case in &suite.test_cases {
        let fx = child_key(&case.path, "fixtures");
        for name in case.fixtures.inputs.keys() {
            if !flow.inputs.iter().any(|i| &i.id == name) {
                let declared: Vec<&str> = flow.inputs.iter().map(|i| i.id.as_str()).collect();
                let declared = if declared.is_empty() { "none".to_string() } else { declared.join(", ") };
                out.push(at(
                    &child_key(&child_key(&fx, "inputs"), name),
                    format!("input '{name}': flow {flow_name} has no such input (it declares: {declared})"),
                ));
            }
        }
        for t in &case.fixtures.tasks {
            match tasks.get(t.id.as_str()) {
                None => out.push(at(
                    &child_key(&t.path, "id"),
                    format!("fixture for task '{}': flow {flow_name} has no such task (its tasks: {})", t.id, ids()),
                )),
                Some(task) if task.flowable.is_some() => out.push(at(
                    &child_key(&t.path, "id"),
                    format!(
                        "fixture for task '{}': it is a flowable ({}), which no worker runs; mock the tasks inside it",
                        t.id, task.type_
                    ),
                )),
                Some(_) => {}
            }
            // a literal id: the mocked subflow's execution never exists in the isolated home
            if let Some(Value::String(id)) = t.outputs.get("executionId")
                && !id.contains("{{")
            {
                out.push(at(
                    &child_key(&child_key(&t.path, "outputs"), "executionId"),
                    format!(
                        "fixture for task '{}': outputs.executionId '{id}' is dangling: {}",
                        t.id,
                        super::parse::dangling_execution("a mocked task's outputs")
                    ),
                ));
            }
        }
        for a in &case.assertions {
            if let Some(id) = &a.task_id
                && !known(id)
            {
                out.push(at(
                    &child_key(&a.path, "taskId"),
                    format!("assertion on task '{id}': flow {flow_name} has no such task (its tasks: {})", ids()),
                ));
            }
            for id in output_refs(&a.value) {
                if !known(&id) {
                    out.push(at(
                        &child_key(&a.path, "value"),
                        format!(
                            "assertion reads outputs.{id}: flow {flow_name} has no task '{id}' (its tasks: {})",
                            ids()
                        ),
                    ));
                }
            }
        }
    }
    out
}

fn locs_find(locs: &Locations, path: &str) -> (usize, usize) {
    locs.find(path).map_or((1, 1), |p| (p.line, p.column))
}

#[cfg(test)]
mod tests {
    use super::output_refs;

    #[test]
    fn output_references_are_found_in_both_notations() {
        assert_eq!(output_refs("{{ outputs.a.value ~ outputs['b-c'].x }}"), vec!["a", "b-c"]);
        assert_eq!(output_refs("{{ inputs.x }}"), Vec::<String>::new());
    }
}
