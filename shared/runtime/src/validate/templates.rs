//! Template syntax checks on every string a flow renders: task properties
//! (child task lists are checked as their own tasks), variables, triggers,
//! pluginDefaults, labels, outputs and input defaults.

use serde_json::Value;

use super::{Sink, lookup};
use crate::model::flow::Flow;
use crate::model::types::FlowableKind;
use crate::template::Renderer;
use crate::yaml::{child_key, push_index};

/// Flow-level keys whose strings may be rendered.
const FLOW_KEYS: &[&str] = &["variables", "triggers", "pluginDefaults", "taskDefaults", "labels", "outputs", "inputs"];

/// Runs every template check.
pub(crate) fn check(flow: &Flow, root: &Value, renderer: &Renderer, sink: &mut Sink<'_>) {
    for key in FLOW_KEYS {
        if let Some(v) = root.get(*key) {
            walk(v, &mut key.to_string(), renderer, sink);
        }
    }
    for task in flow.all_tasks() {
        let Some(raw) = lookup(root, &task.path).and_then(Value::as_object) else { continue };
        let children: &[&str] = FlowableKind::child_keys(task.flowable_kind());
        for (k, v) in raw {
            let skip = ["id", "type", "description", "errors", "finally"];
            if skip.contains(&k.as_str()) || children.contains(&k.as_str()) {
                continue;
            }
            walk(v, &mut child_key(&task.path, k), renderer, sink);
        }
    }
}

/// `path` is one buffer, extended for a child and cut back after it (a
/// list of 100,000 values would otherwise make 100,000 paths).
fn walk(v: &Value, path: &mut String, renderer: &Renderer, sink: &mut Sink<'_>) {
    match v {
        Value::String(s) => {
            if let Err(e) = renderer.check_syntax(s) {
                sink.at(path, format!("template error: {e}"));
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                if matches!(x, Value::String(_) | Value::Array(_) | Value::Object(_)) {
                    let len = path.len();
                    push_index(path, i);
                    walk(x, path, renderer, sink);
                    path.truncate(len);
                }
            }
        }
        Value::Object(m) => {
            for (k, x) in m {
                if path.starts_with("inputs") && k == "description" {
                    continue;
                }
                let len = path.len();
                crate::yaml::push_key(path, k);
                walk(x, path, renderer, sink);
                path.truncate(len);
            }
        }
        _ => {}
    }
}
