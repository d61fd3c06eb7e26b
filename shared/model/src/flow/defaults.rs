//! `pluginDefaults` applied to a raw task or trigger, as Kestra applies
//! them: by type or package prefix, absent keys filled, `forced` ones
//! overriding.

use serde_json::{Map, Value};

use super::PluginDefault;
use crate::types;

/// Applies pluginDefaults to a raw task or trigger: a default matches when
/// its type equals the task's type (as written or normalized) or is a
/// package prefix of it. Defaults fill absent keys (maps merge recursively);
/// `forced` defaults override.
pub fn apply_defaults(
    raw: &Map<String, Value>,
    written: &str,
    normalized: &str,
    defaults: &[PluginDefault],
) -> Map<String, Value> {
    let matches = |d: &PluginDefault| {
        let t = d.type_.as_str();
        [written, normalized].iter().any(|x| *x == t || (x.starts_with(t) && x[t.len()..].starts_with('.')))
    };
    let mut obj = raw.clone();
    for d in defaults.iter().filter(|d| matches(d)) {
        for (k, v) in &d.values {
            if d.forced {
                obj.insert(k.clone(), v.clone());
            } else {
                match obj.get_mut(k) {
                    None => {
                        obj.insert(k.clone(), v.clone());
                    }
                    Some(existing) => merge_missing(existing, v),
                }
            }
        }
    }
    apply_nested_defaults(&mut obj, defaults);
    obj
}

/// Applies pluginDefaults to the plugins nested in a task's properties
/// (objects with a dotted `type`, e.g. an AI task's `provider:
/// {type: io.kestra.plugin.ai.provider.GoogleGemini}`), as Kestra does for
/// its sub-plugins, when a default names that exact type. Flowable children
/// are tasks and get theirs on their own.
fn apply_nested_defaults(obj: &mut Map<String, Value>, defaults: &[PluginDefault]) {
    fn walk(v: &mut Value, defaults: &[PluginDefault]) {
        match v {
            Value::Array(a) => a.iter_mut().for_each(|x| walk(x, defaults)),
            Value::Object(m) => {
                let t = m.get("type").and_then(Value::as_str).filter(|t| t.contains('.')).map(str::to_string);
                if let Some(t) = t {
                    // exact type only: a package default (`io.kestra.plugin.scripts`)
                    // must not push a task's keys into its `taskRunner`
                    let norm = types::normalize(&t);
                    let exact: Vec<PluginDefault> =
                        defaults.iter().filter(|d| d.type_ == t || d.type_ == norm).cloned().collect();
                    let merged = apply_defaults(m, &t, norm, &exact);
                    *m = merged;
                    // what is inside it may match other defaults
                    m.values_mut().for_each(|x| walk(x, defaults));
                } else {
                    m.values_mut().for_each(|x| walk(x, defaults));
                }
            }
            _ => {}
        }
    }
    if defaults.is_empty() {
        return;
    }
    for (k, v) in obj.iter_mut() {
        if !matches!(k.as_str(), "tasks" | "then" | "else" | "cases" | "defaults" | "errors" | "finally") {
            walk(v, defaults);
        }
    }
}

fn merge_missing(target: &mut Value, default: &Value) {
    if let (Value::Object(t), Value::Object(d)) = (target, default) {
        for (k, v) in d {
            match t.get_mut(k) {
                None => {
                    t.insert(k.clone(), v.clone());
                }
                Some(existing) => merge_missing(existing, v),
            }
        }
    }
}
