//! What Kestra's validators check on some flowables and task keys, with
//! Kestra's messages: a `WaitFor`'s `checkFrequency`, a `Dag`'s
//! `dependsOn` (unknown ids, cycles), an `Exit`'s `state`, the children of
//! a `WorkingDirectory` (runnable tasks only) and a task's `workerGroup`
//! (an Enterprise Edition feature, refused by Kestra's open-source build).

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::Sink;
use super::tasks::{kind_ok, unknown_prop};
use crate::model::flow::{Children, Task, kind_of, scalar_string};
use crate::plugins::PropKind;
use crate::template::is_template;
use crate::yaml::child_key;

/// `checkFrequency`'s keys and kinds.
const CHECK_FREQUENCY: &[(&str, PropKind)] =
    &[("maxIterations", PropKind::Integer), ("maxDuration", PropKind::Duration), ("interval", PropKind::Duration)];

pub(crate) use crate::model::types::EXIT_STATES;

/// A WaitFor's `checkFrequency` (its other kinds are checked by `tasks`).
pub(super) fn check_wait_for<'v>(task: &Task, written: &dyn Fn(&str) -> Option<&'v Value>, sink: &mut Sink<'_>) {
    let Some(freq) = written("checkFrequency") else { return };
    let path = child_key(&task.path, "checkFrequency");
    let Some(m) = freq.as_object() else {
        sink.at(&path, format!("'checkFrequency' must be a mapping, got {}", kind_of(freq)));
        return;
    };
    for (k, v) in m {
        let at = child_key(&path, k);
        match CHECK_FREQUENCY.iter().find(|(name, _)| name == k) {
            None => sink.at(&at, unknown_prop(k, "checkFrequency", CHECK_FREQUENCY.iter().map(|(n, _)| *n))),
            Some((_, kind)) => {
                if let Err(why) = kind_ok(*kind, v) {
                    sink.at(&at, format!("property 'checkFrequency.{k}' of {}: {why}", task.kind));
                }
            }
        }
    }
}

/// A Dag's `dependsOn`: every id names a task of the
/// Dag, and no task depends on itself through others.
pub(super) fn check_dag(task: &Task, sink: &mut Sink<'_>) {
    let Children::Tasks(tasks) = &task.children else { return };
    let ids: HashSet<&str> = tasks.iter().map(|t| t.id.as_str()).collect();
    let missing: Vec<&str> =
        tasks.iter().flat_map(|t| t.depends_on.iter()).map(String::as_str).filter(|d| !ids.contains(d)).collect();
    if !missing.is_empty() {
        sink.at(&task.path, format!("{}: Not existing task id in dependency: {}", task.id, missing.join(", ")));
        return;
    }
    let cyclic = cyclic_tasks(tasks);
    if !cyclic.is_empty() {
        sink.at(&task.path, format!("{}: Cyclic dependency detected: {}", task.id, cyclic.join(", ")));
    }
}

/// The tasks of a Dag that depend on themselves, in the Dag's order.
pub(crate) fn cyclic_tasks(tasks: &[Task]) -> Vec<&str> {
    let deps: HashMap<&str, &[String]> = tasks.iter().map(|t| (t.id.as_str(), t.depends_on.as_slice())).collect();
    tasks
        .iter()
        .filter(|t| {
            let mut seen: HashSet<&str> = HashSet::new();
            let mut todo: Vec<&str> = t.depends_on.iter().map(String::as_str).collect();
            while let Some(d) = todo.pop() {
                if d == t.id {
                    return true;
                }
                if seen.insert(d) {
                    todo.extend(deps.get(d).into_iter().flat_map(|v| v.iter()).map(String::as_str));
                }
            }
            false
        })
        .map(|t| t.id.as_str())
        .collect()
}

/// An Exit's `state`: one of Kestra's exit states (or a template).
pub(super) fn check_exit<'v>(task: &Task, written: &dyn Fn(&str) -> Option<&'v Value>, sink: &mut Sink<'_>) {
    let Some(v) = written("state") else { return };
    if v.as_str().is_some_and(is_template) {
        return;
    }
    let s = scalar_string(v);
    if !EXIT_STATES.contains(&s.as_str()) {
        sink.at(
            &child_key(&task.path, "state"),
            format!("property 'state' of {}: '{s}' is not one of {}", task.kind, EXIT_STATES.join(", ")),
        );
    }
}

/// A WorkingDirectory runs its tasks on one worker: runnable tasks only.
pub(super) fn check_working_directory(task: &Task, sink: &mut Sink<'_>) {
    let Children::Tasks(tasks) = &task.children else { return };
    if tasks.iter().any(|t| t.flowable.is_some()) {
        sink.at(
            &task.path,
            format!("{}: Only runnable tasks are allowed as children of a WorkingDirectory task", task.id),
        );
    }
    // its `cache` and `namespaceFiles` mappings: only the keys Kestra has
    for (prop, known, required) in [
        ("cache", &["patterns", "ttl"][..], Some("patterns")),
        ("namespaceFiles", &["enabled", "include", "exclude"][..], None),
    ] {
        let Some(Value::Object(m)) = task.props.get(prop) else { continue };
        for k in m.keys().filter(|k| !known.contains(&k.as_str())) {
            sink.at(
                &child_key(&child_key(&task.path, prop), k),
                format!("unknown property '{k}' in {prop} of {} (known: {})", task.kind, known.join(", ")),
            );
        }
        if let Some(r) = required
            && m.get(r).is_none_or(Value::is_null)
        {
            sink.at(
                &child_key(&task.path, prop),
                format!("missing required property '{r}' in {prop} of {}", task.kind),
            );
        }
    }
    if let Some(Value::Object(m)) = task.props.get("cache")
        && let Some(ttl) = m.get("ttl").and_then(Value::as_str)
        && !is_template(ttl)
        && let Err(e) = crate::model::duration::parse_iso(ttl)
    {
        sink.at(&child_key(&child_key(&task.path, "cache"), "ttl"), format!("cache.ttl of {}: {e}", task.kind));
    }
}

/// A task's `workerGroup` with a key: Kestra's open-source edition refuses it.
pub(super) fn check_worker_group(task: &Task, written: Option<&Value>, sink: &mut Sink<'_>) {
    let keyed = match written {
        Some(Value::Object(m)) => m.get("key").is_some_and(|k| !k.is_null()),
        Some(Value::Null) | None => false,
        Some(_) => true,
    };
    if keyed {
        sink.at(&child_key(&task.path, "workerGroup"), "Worker Group is an Enterprise Edition functionality");
    }
}

/// Output types a Loop's declared `outputs` may give (Kestra's output types).
const LOOP_OUTPUT_TYPES: &[&str] = &[
    "STRING", "INT", "FLOAT", "BOOLEAN", "BOOL", "JSON", "ARRAY", "DATETIME", "DATE", "TIME", "DURATION", "URI", "FILE",
];

/// A Loop's `outputs` (a list of `{id, value, type}`) and `fetchType`
/// (AUTO, FETCH or STORE; not dynamic in Kestra, so a template is refused).
pub(super) fn check_loop<'v>(task: &Task, written: &dyn Fn(&str) -> Option<&'v Value>, sink: &mut Sink<'_>) {
    if let Some(v) = written("fetchType") {
        let s = scalar_string(v);
        if !["AUTO", "FETCH", "STORE"].contains(&s.as_str()) {
            sink.at(
                &child_key(&task.path, "fetchType"),
                format!("property 'fetchType' of {}: '{s}' is not one of AUTO, FETCH, STORE", task.kind),
            );
        }
    }
    let Some(v) = written("outputs") else { return };
    let key = child_key(&task.path, "outputs");
    let Some(list) = v.as_array() else {
        sink.at(&key, format!("property 'outputs' of {} must be a list of {{id, type, value}}", task.kind));
        return;
    };
    for (i, o) in list.iter().enumerate() {
        let Some(m) = o.as_object() else {
            sink.at(&key, format!("outputs[{i}] of {} must be a map with 'id' and 'value'", task.id));
            continue;
        };
        for k in m.keys() {
            if !["id", "type", "value", "description", "displayName", "required"].contains(&k.as_str()) {
                sink.at(&key, format!("outputs[{i}] of {}: unknown property '{k}' (known: id, type, value, description, displayName, required)", task.id));
            }
        }
        if !m.get("id").is_some_and(Value::is_string) {
            sink.at(&key, format!("outputs[{i}] of {}: missing required property 'id'", task.id));
        }
        if !m.contains_key("value") {
            sink.at(&key, format!("outputs[{i}] of {}: missing required property 'value'", task.id));
        }
        if let Some(t) = m.get("type").map(scalar_string)
            && !LOOP_OUTPUT_TYPES.contains(&t.as_str())
        {
            sink.at(
                &key,
                format!("outputs[{i}] of {}: type '{t}' is not one of {}", task.id, LOOP_OUTPUT_TYPES.join(", ")),
            );
        }
    }
}
