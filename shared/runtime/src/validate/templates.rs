//! Template syntax checks on every string a flow renders: task properties
//! (child task lists are checked as their own tasks), variables, triggers,
//! pluginDefaults, labels, outputs and input defaults.

use serde_json::Value;

use super::{Sink, lookup};
use crate::model::flow::Flow;
use crate::model::types::FlowableKind;
use crate::template::Renderer;
use crate::yaml::{child_index, child_key};

/// Flow-level keys whose strings may be rendered.
const FLOW_KEYS: &[&str] = &["variables", "triggers", "pluginDefaults", "taskDefaults", "labels", "outputs", "inputs"];

/// Runs every template check.
pub(crate) fn check(flow: &Flow, root: &Value, renderer: &Renderer, sink: &mut Sink<'_>) {
    for key in FLOW_KEYS {
        if let Some(v) = root.get(*key) {
            walk(v, key, renderer, sink);
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
            walk(v, &child_key(&task.path, k), renderer, sink);
        }
    }
}

fn walk(v: &Value, path: &str, renderer: &Renderer, sink: &mut Sink<'_>) {
    match v {
        Value::String(s) => {
            if let Err(e) = renderer.check_syntax(s) {
                sink.at(path, format!("template error: {e}"));
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                walk(x, &child_index(path, i), renderer, sink);
            }
        }
        Value::Object(m) => {
            for (k, x) in m {
                if path.starts_with("inputs") && k == "description" {
                    continue;
                }
                walk(x, &child_key(path, k), renderer, sink);
            }
        }
        _ => {}
    }
}
