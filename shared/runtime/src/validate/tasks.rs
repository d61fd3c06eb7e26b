//! Task checks: ids (pattern, duplicates across the whole flow), known
//! types with "did you mean" hints, plugin properties against the
//! registry's schema, and what each flowable needs.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use super::{Sink, lookup, suggest};
use crate::model::duration;
use crate::model::flow::{Flow, TASK_COMMON_KEYS, Task, kind_of};
use crate::model::types::FlowableKind;
use crate::plugins::{PluginDef, PropKind, Registry};
use crate::template::is_template;
use crate::yaml::child_key;

static TASK_ID: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[a-zA-Z0-9][a-zA-Z0-9_-]*$").expect("static regex"));

/// Runs every task check.
pub(crate) fn check(flow: &Flow, root: &Value, registry: &Registry, sink: &mut Sink<'_>) {
    let mut seen: HashMap<&str, &str> = HashMap::new();
    // a ForEachItem's internal tasks are checked as its properties
    for task in flow.all_tasks().into_iter().filter(|t| !crate::model::for_each_item::is_internal(&t.kind)) {
        let id_path = child_key(&task.path, "id");
        let raw = lookup(root, &task.path).and_then(Value::as_object);
        let written = |k: &str| raw.and_then(|r| r.get(k));
        if written("id").is_some_and(Value::is_string) {
            if !TASK_ID.is_match(&task.id) {
                sink.at(&id_path, format!("invalid task id '{}': it must match ^[a-zA-Z0-9][a-zA-Z0-9_-]*", task.id));
            }
            match seen.get(task.id.as_str()) {
                Some(first) => {
                    sink.at(&id_path, format!("Duplicate task id with name [{}] (also used at {first})", task.id))
                }
                None => {
                    seen.insert(&task.id, &task.path);
                }
            }
        }
        super::flowables::check_worker_group(task, written("workerGroup"), sink);
        if let Some(kind) = task.flowable_kind() {
            check_flowable(task, kind, &written, sink);
        } else if let Some(def) = registry.get(&task.type_) {
            for spec in def.props {
                if spec.required && task.props.get(spec.name).is_none_or(Value::is_null) {
                    sink.at(&task.path, format!("missing required property '{}' for {}", spec.name, def.type_name));
                }
            }
            for key in task.props.keys() {
                let Some(v) = written(key) else { continue };
                let path = child_key(&task.path, key);
                match def.props.iter().find(|s| s.name == key) {
                    None => sink.at(
                        &path,
                        unknown_prop_or(key, def.type_name, def.props.iter().map(|s| s.name), TASK_COMMON_KEYS),
                    ),
                    Some(spec) => {
                        if let Err(why) = kind_ok(spec.kind, v)
                            .and_then(|()| values_ok(def.type_name, key, v))
                            .and_then(|()| plugin_value_ok(def, key, v))
                        {
                            sink.at(&path, format!("property '{key}' of {}: {why}", def.type_name));
                        } else if key == "taskRunner" {
                            check_task_runner(&path, v, sink);
                        }
                    }
                }
            }
        } else {
            let mut msg = format!("unknown task type '{}'", task.type_);
            // a type of a family this build leaves out: say how to get
            // it, not which other type it resembles
            if let Some(why) = crate::plugins::left_out(&task.type_) {
                msg.push_str(&format!(": {why}"));
            } else if let Some(s) = suggest::closest(
                &task.type_,
                // current names only: a hint never proposes a legacy alias
                registry
                    .canonical_names()
                    .iter()
                    .copied()
                    .chain(crate::model::flowable::defs().iter().map(|d| d.decl.type_name)),
            ) {
                msg.push_str(&format!(" (did you mean {s}?)"));
            }
            sink.located(&child_key(&task.path, "type"), &task.path, msg);
        }
    }
}

/// Kestra 1.2's task property declaring the assets a task reads and
/// writes: an Enterprise Edition feature that the open-source edition
/// refuses with this message (kestra.io/docs/enterprise/governance/assets).
const ASSETS: &str = "assets";
const ASSETS_EE: &str = "assets are only available in Enterprise Edition";

/// An unknown property's message, with the nearest known one ("did you
/// mean") and the list of the known ones.
pub(super) fn unknown_prop<'a>(key: &str, type_name: &str, known: impl Iterator<Item = &'a str>) -> String {
    unknown_prop_or(key, type_name, known, &[])
}

/// [`unknown_prop`] whose "did you mean" also looks at `also` (a task's
/// common keys: `alowFailure` is a typo of `allowFailure`, not unknown).
pub(super) fn unknown_prop_or<'a>(
    key: &str,
    type_name: &str,
    known: impl Iterator<Item = &'a str>,
    also: &[&'a str],
) -> String {
    if key == ASSETS {
        return format!("property 'assets' of {type_name}: {ASSETS_EE}");
    }
    let known: Vec<&str> = known.collect();
    let hint = suggest::closest(key, known.iter().chain(also).copied())
        .map(|s| format!("did you mean '{s}'? "))
        .unwrap_or_default();
    let known = if known.is_empty() { "none".to_string() } else { known.join(", ") };
    format!("unknown property '{key}' for {type_name} ({hint}known: {known})")
}

/// A written value against the values its description lists
/// (`crate::schema::docs`), ignoring case, `_` and `-` as the tasks do
/// (`fetch-one` is `FETCH_ONE`); templates fit.
fn values_ok(type_name: &str, key: &str, v: &Value) -> Result<(), String> {
    let Some(doc) = crate::schema::docs::prop_doc(type_name, key) else { return Ok(()) };
    let canon = |s: &str| s.chars().filter(|c| !matches!(c, '_' | '-')).collect::<String>().to_ascii_uppercase();
    match v.as_str() {
        Some(s) if !doc.values.is_empty() && !is_template(s) && !doc.values.iter().any(|x| canon(x) == canon(s)) => {
            Err(format!("'{s}' is not one of {}", doc.values.join(", ")))
        }
        _ => Ok(()),
    }
}

/// A plugin's own check of a written value Baton refuses beyond its kind
/// and listed values, as its declaration says (`#[prop(check = ...)]`).
fn plugin_value_ok(def: &PluginDef, key: &str, v: &Value) -> Result<(), String> {
    def.decl.prop(key).and_then(|p| p.check).map_or(Ok(()), |check| check(v))
}

/// A `taskRunner` mapping: a runner type Baton has, and only its
/// properties (`crate::schema::runners`), each of its kind.
fn check_task_runner(path: &str, v: &Value, sink: &mut Sink<'_>) {
    let Some(m) = v.as_object() else { return };
    let Some(t) = m.get("type").and_then(Value::as_str).filter(|t| !is_template(t)) else {
        if m.get("type").is_none() {
            sink.at(path, "missing required property 'type' of taskRunner");
        }
        return;
    };
    let Some(def) = crate::schema::runners::find(t) else {
        let mut msg = format!("unknown task runner type '{t}'");
        if let Some(s) = suggest::closest(t, crate::schema::runners::defs().iter().map(|d| d.type_name)) {
            msg.push_str(&format!(" (did you mean {s}?)"));
        }
        sink.at(&child_key(path, "type"), msg);
        return;
    };
    for (k, v) in m.iter().filter(|(k, _)| k.as_str() != "type") {
        let at = child_key(path, k);
        match def.props.iter().find(|p| p.name == k) {
            None => sink.at(&at, unknown_prop(k, def.type_name, def.props.iter().map(|p| p.name))),
            Some(spec) => {
                if let Err(why) = kind_ok(spec.kind, v).and_then(|()| values_ok(def.type_name, k, v)) {
                    sink.at(&at, format!("property '{k}' of {}: {why}", def.type_name));
                }
            }
        }
    }
}

/// What each flowable needs and accepts besides its child task lists.
fn check_flowable<'v>(
    task: &Task,
    kind: FlowableKind,
    written: &dyn Fn(&str) -> Option<&'v Value>,
    sink: &mut Sink<'_>,
) {
    // the flowable's own properties, as its type declares them (`model::flowable`)
    let Some(def) = crate::model::flowable::find(&task.kind) else { return };
    let required = def.required_any;
    for alternatives in required {
        if !alternatives.iter().any(|k| task.props.get(*k).is_some_and(|v| !v.is_null())) {
            let name = alternatives.join("' or '");
            sink.at(&task.path, format!("missing required property '{name}' for {}", task.kind));
        }
    }
    for key in task.props.keys() {
        let Some(v) = written(key) else { continue };
        match def.prop(key) {
            None => {
                let message = match not_supported(kind, key) {
                    Some(hint) => format!("property '{key}' of {} is not supported by Baton yet: {hint}", task.kind),
                    None => unknown_prop_or(key, &task.kind, def.props.iter().map(|p| p.name), TASK_COMMON_KEYS),
                };
                sink.at(&child_key(&task.path, key), message);
            }
            Some(spec) => {
                if let Err(why) = kind_ok(spec.kind, v) {
                    sink.at(&child_key(&task.path, key), format!("property '{key}' of {}: {why}", task.kind));
                }
            }
        }
    }
    match kind {
        FlowableKind::Pause => check_pause(task, written, sink),
        FlowableKind::WaitFor => super::flowables::check_wait_for(task, written, sink),
        FlowableKind::Dag => super::flowables::check_dag(task, sink),
        FlowableKind::Exit => super::flowables::check_exit(task, written, sink),
        FlowableKind::WorkingDirectory => super::flowables::check_working_directory(task, sink),
        _ => {}
    }
    if kind == FlowableKind::ForEachItem {
        super::for_each_item::check(task, written, sink);
    }
    if task.kind == crate::model::types::LOOP_TYPE {
        super::flowables::check_loop(task, written, sink);
    }
    // a Loop (Kestra 2.0) also iterates a map, its entries in order (`item.key`)
    let is_loop = task.kind == crate::model::types::LOOP_TYPE;
    if kind == FlowableKind::ForEach
        && let Some(v) = written("values").or_else(|| written("value"))
        && !matches!(v, Value::Array(_) | Value::String(_) | Value::Null)
        && !(is_loop && v.is_object())
    {
        let what = if is_loop { "a list, a map or a string" } else { "a list or a string" };
        sink.at(&task.path, format!("'values' must be {what}, got {}", kind_of(v)));
    }
}

/// Kestra properties of a flowable that Baton does not honour yet, with
/// what to do instead: refused, never accepted and ignored.
fn not_supported(kind: FlowableKind, key: &str) -> Option<&'static str> {
    match (kind, key) {
        (FlowableKind::ForEachItem, "restartBehavior") => {
            Some("a failed ForEachItem is not restarted in place: replay the execution from the task (POST …/replay)")
        }
        (FlowableKind::ForEachItem | FlowableKind::Subflow, "scheduleDate") => {
            Some("its subflow executions start at once (put a flow.Sleep or a Pause before the task to start later)")
        }
        _ => None,
    }
}

/// A Pause's durations, `behavior` and `onResume` input definitions.
fn check_pause<'v>(task: &Task, written: &dyn Fn(&str) -> Option<&'v Value>, sink: &mut Sink<'_>) {
    // its durations' kinds are checked with the other properties
    if let Some(v) = written("behavior")
        && !v.as_str().is_some_and(is_template)
    {
        let b = crate::model::flow::scalar_string(v);
        if !crate::executor::BEHAVIORS.iter().any(|(name, _)| *name == b) {
            sink.at(
                &child_key(&task.path, "behavior"),
                format!("property 'behavior' of {}: '{b}' is not one of RESUME, WARN, FAIL, CANCEL", task.kind),
            );
        }
    }
    let Some(raw) = written("onResume") else { return };
    let path = child_key(&task.path, "onResume");
    let Some(items) = raw.as_array() else {
        sink.at(&path, format!("'onResume' must be a list of inputs, got {}", kind_of(raw)));
        return;
    };
    let mut defs = Vec::new();
    let mut index = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match crate::model::flow::Input::read(item) {
            Ok(d) => {
                defs.push(d);
                index.push(i);
            }
            Err(e) => sink.at(&crate::yaml::child_index(&path, i), format!("invalid onResume input: {e}")),
        }
    }
    for (i, message) in crate::inputs::check_definitions(&defs) {
        sink.at(&crate::yaml::child_index(&path, index[i]), message);
    }
}

/// Checks an unrendered value against a property kind. Null and template
/// strings fit any kind. Scalars fit a string, as Jackson coerces them.
pub(crate) fn kind_ok(kind: PropKind, v: &Value) -> Result<(), String> {
    if v.is_null() || v.as_str().is_some_and(is_template) {
        return Ok(());
    }
    let scalar = matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_));
    let fits = match kind {
        PropKind::Any => true,
        PropKind::String => scalar,
        PropKind::Integer => match v {
            Value::Number(n) => n.is_i64() || n.is_u64(),
            Value::String(s) => s.trim().parse::<i64>().is_ok(),
            _ => false,
        },
        PropKind::Number => match v {
            Value::Number(_) => true,
            Value::String(s) => s.trim().parse::<f64>().is_ok(),
            _ => false,
        },
        PropKind::Boolean => match v {
            Value::Bool(_) => true,
            Value::String(s) => s == "true" || s == "false",
            _ => false,
        },
        PropKind::Duration => match v {
            Value::String(s) => return duration::parse_iso(s).map(|_| ()),
            _ => false,
        },
        PropKind::List => v.is_array(),
        PropKind::Map => v.is_object(),
        PropKind::StringOrList => {
            scalar || v.as_array().is_some_and(|a| a.iter().all(|x| !x.is_array() && !x.is_object()))
        }
    };
    if fits {
        return Ok(());
    }
    let expected = match kind {
        PropKind::String => "a string",
        PropKind::Integer => "an integer",
        PropKind::Number => "a number",
        PropKind::Boolean => "true or false",
        PropKind::Duration => "an ISO-8601 duration such as PT5M",
        PropKind::List => "a list",
        PropKind::Map => "a mapping",
        PropKind::StringOrList => "a string or a list of strings",
        PropKind::Any => "anything",
    };
    Err(format!("expected {expected}, got {}", describe(v)))
}

fn describe(v: &Value) -> String {
    match v {
        Value::String(s) => format!("'{s}'"),
        Value::Number(n) => format!("a number ({n})"),
        other => kind_of(other).to_string(),
    }
}
