//! Kestra's flow-level rules (its `FlowValidator` and task constraints)
//! that the model does not already enforce: reserved `system.*` labels
//! (only `system.readOnly` may be written), a Subflow calling its own flow
//! (a recursive call), and a Switch with no case and no default (it could
//! never run anything).

use serde_json::Value;

use super::Sink;
use crate::model::flow::Flow;
use crate::model::types::FlowableKind;
use crate::template::is_template;
use crate::yaml::child_key;

/// The one `system.*` label a flow may set.
const READ_ONLY: &str = "system.readOnly";

/// Runs every rule.
pub(crate) fn check(flow: &Flow, root: &Value, sink: &mut Sink<'_>) {
    check_system_labels(root, sink);
    for task in flow.all_tasks() {
        let Some(raw) = super::lookup(root, &task.path).and_then(Value::as_object) else { continue };
        match task.flowable_kind() {
            Some(FlowableKind::Subflow) => {
                let lit = |k: &str| raw.get(k).and_then(Value::as_str).filter(|s| !is_template(s));
                if lit("flowId") == Some(flow.id.as_str()) && lit("namespace") == Some(flow.namespace.as_str()) {
                    sink.at(
                        &task.path,
                        format!(
                            "Recursive call to flow [{}.{}]: a Subflow cannot run its own flow",
                            flow.namespace, flow.id
                        ),
                    );
                }
            }
            Some(FlowableKind::Switch) => {
                let empty = |k: &str| match raw.get(k) {
                    None | Some(Value::Null) => true,
                    Some(Value::Object(m)) => m.is_empty(),
                    Some(Value::Array(a)) => a.is_empty(),
                    Some(_) => false,
                };
                if empty("cases") && empty("defaults") {
                    sink.at(
                        &child_key(&task.path, "cases"),
                        "a Switch needs at least one case or 'defaults': with neither it can run nothing".to_string(),
                    );
                }
            }
            _ => {}
        }
    }
}

fn check_system_labels(root: &Value, sink: &mut Sink<'_>) {
    let offending = |k: &str| k.starts_with("system.") && k != READ_ONLY;
    match root.get("labels") {
        Some(Value::Object(m)) => {
            for (k, v) in m {
                if offending(k) {
                    sink.at(&child_key("labels", k), system_label_message(k, v));
                }
            }
        }
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                if let Some(k) = item.get("key").and_then(Value::as_str)
                    && offending(k)
                {
                    let v = item.get("value").cloned().unwrap_or(Value::Null);
                    sink.at(&crate::yaml::child_index("labels", i), system_label_message(k, &v));
                }
            }
        }
        _ => {}
    }
}

fn system_label_message(k: &str, v: &Value) -> String {
    let v = v.as_str().map_or_else(|| v.to_string(), str::to_string);
    format!("System labels can only be set by Kestra itself, offending label: {k}={v} (only {READ_ONLY} may be set)")
}
