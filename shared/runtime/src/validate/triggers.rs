//! Trigger checks: ids (pattern, duplicates), known types (from
//! `crate::triggers`, with "did you mean" hints), every property known to
//! its type and of the right kind, then the type's own checks.
//!
//! The trigger's properties include its `pluginDefaults` (as Kestra's
//! `PluginDefaultService` applies them to triggers too): a required
//! property may come from them, the checks see the merged values, and a
//! default's key the type does not have is not the trigger's (a package
//! default such as `io.kestra.plugin.gcp` serves tasks and triggers alike)
//! and is left out, as for tasks; only a key written on the trigger must be
//! known.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use super::{Sink, lookup, suggest};
use crate::model::flow::Flow;
use crate::triggers;
use crate::yaml::child_key;

static TRIGGER_ID: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-zA-Z0-9][a-zA-Z0-9_-]*$").expect("static regex"));

/// Runs every trigger check.
pub(crate) fn check(flow: &Flow, root: &Value, sink: &mut Sink<'_>) {
    let mut seen: HashMap<&str, &str> = HashMap::new();
    for trig in &flow.triggers {
        let id_path = child_key(&trig.path, "id");
        if !TRIGGER_ID.is_match(&trig.id) {
            sink.at(&id_path, format!("invalid trigger id '{}': it must match ^[a-zA-Z0-9][a-zA-Z0-9_-]*", trig.id));
        }
        match seen.get(trig.id.as_str()) {
            Some(first) => {
                sink.at(&id_path, format!("Duplicate trigger id with name [{}] (also used at {first})", trig.id))
            }
            None => {
                seen.insert(&trig.id, &trig.path);
            }
        }
        let Some(def) = triggers::find(&trig.type_) else {
            let mut msg = format!("unknown trigger type '{}'", trig.type_);
            // a type of a family this build leaves out: say how to get
            // it, not which other type it resembles
            if let Some(why) = crate::plugins::left_out(&trig.type_) {
                msg.push_str(&format!(": {why}"));
            } else if let Some(s) = suggest::closest(&trig.type_, triggers::defs().iter().map(|d| d.type_name)) {
                msg.push_str(&format!(" (did you mean {s}?)"));
            }
            sink.located(&child_key(&trig.path, "type"), &trig.path, msg);
            continue;
        };
        let raw = lookup(root, &trig.path).and_then(Value::as_object);
        for (key, v) in &trig.props {
            let written = raw.is_none_or(|r| r.contains_key(key));
            let path = if written { child_key(&trig.path, key) } else { trig.path.clone() };
            let from = if written { "" } else { " (from pluginDefaults)" };
            match triggers::prop_spec(def, key) {
                None if written => {
                    let known = def.props.iter().chain(triggers::COMMON.iter()).map(|s| s.name);
                    sink.at(&path, super::tasks::unknown_prop(key, def.type_name, known));
                }
                None => {}
                Some(spec) => {
                    if let Err(why) = super::tasks::kind_ok(spec.kind, v) {
                        sink.at(&path, format!("property '{key}' of {}{from}: {why}", def.type_name));
                    }
                }
            }
        }
        let checks = (def.check)(trig, flow).into_iter().chain(triggers::check_conditions(trig, def));
        for p in checks.chain(triggers::check_common(trig)) {
            let path = if p.path.is_empty() { trig.path.clone() } else { child_key(&trig.path, &p.path) };
            sink.at(&path, p.message);
        }
    }
}
