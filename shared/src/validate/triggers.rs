//! Trigger checks: ids, known types (Schedule, Flow, Webhook), a Schedule's
//! `cron` and the `inputs` it passes, a Webhook's `key`.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use super::{Sink, suggest};
use crate::inputs;
use crate::model::flow::{Flow, kind_of};
use crate::template::is_template;
use crate::yaml::child_key;

static TRIGGER_ID: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-zA-Z0-9][a-zA-Z0-9_-]*$").expect("static regex"));

const SCHEDULE: &str = "io.kestra.plugin.core.trigger.Schedule";
const FLOW: &str = "io.kestra.plugin.core.trigger.Flow";
const WEBHOOK: &str = "io.kestra.plugin.core.trigger.Webhook";
const KNOWN: &[&str] = &[SCHEDULE, FLOW, WEBHOOK];

/// The current name for a trigger type (legacy Flow/Webhook names included;
/// the model already normalizes legacy Schedule names).
fn canonical(t: &str) -> &str {
    match t {
        "io.kestra.core.models.triggers.types.Flow" => FLOW,
        "io.kestra.core.models.triggers.types.Webhook" => WEBHOOK,
        other => other,
    }
}

/// Runs every trigger check.
pub(crate) fn check(flow: &Flow, _root: &Value, sink: &mut Sink<'_>) {
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
        let type_ = canonical(&trig.type_);
        let prop = |k: &str| trig.props.get(k).filter(|v| !v.is_null());
        match type_ {
            SCHEDULE => {
                match prop("cron") {
                    None => sink.at(&trig.path, format!("trigger '{}': a Schedule needs 'cron'", trig.id)),
                    Some(Value::String(c)) => {
                        let seconds = prop("withSeconds").and_then(Value::as_bool).unwrap_or(false);
                        if let Err(e) = check_cron(c, seconds) {
                            sink.at(&child_key(&trig.path, "cron"), format!("trigger '{}': {e}", trig.id));
                        } else if !is_template(c) {
                            check_schedule_properties(trig, sink);
                        }
                    }
                    Some(other) => sink.at(
                        &child_key(&trig.path, "cron"),
                        format!("trigger '{}': 'cron' must be a string, got {}", trig.id, kind_of(other)),
                    ),
                }
                check_trigger_inputs(flow, &trig.path, prop("inputs"), sink);
            }
            WEBHOOK => {
                if prop("key").is_none() {
                    sink.at(&trig.path, format!("trigger '{}': a Webhook needs 'key'", trig.id));
                }
            }
            FLOW => {}
            other => {
                let mut msg = format!("unknown trigger type '{other}'");
                if let Some(s) = suggest::closest(other, KNOWN.iter().copied()) {
                    msg.push_str(&format!(" (did you mean {s}?)"));
                }
                sink.located(&child_key(&trig.path, "type"), &trig.path, msg);
            }
        }
    }
}

/// The cron check of the scheduler itself (`crate::schedule::Cron`): 5
/// fields (6 with `withSeconds`), Kestra's nicknames, ranges that can match.
fn check_cron(c: &str, with_seconds: bool) -> Result<(), String> {
    if is_template(c) {
        return Ok(());
    }
    crate::schedule::Cron::parse(c, with_seconds, None).map(|_| ()).map_err(|e| match e {
        crate::schedule::CronError::Invalid { expr, reason } => format!("invalid cron expression '{expr}': {reason}"),
        other => other.to_string(),
    })
}

/// The other Schedule properties the scheduler reads (`timezone`,
/// `recoverMissedSchedules`, `lateMaximumDelay`, `stopAfter`…), once the cron is valid.
fn check_schedule_properties(trig: &crate::model::Trigger, sink: &mut Sink<'_>) {
    use crate::schedule::{CronError, ScheduleError, ScheduleTrigger};
    match ScheduleTrigger::from_trigger(trig) {
        Ok(_) => {}
        Err(ScheduleError::Property { property: "cron", .. }) => {}
        Err(e @ ScheduleError::Property { property, .. }) => sink.at(&child_key(&trig.path, property), e.to_string()),
        Err(e @ ScheduleError::Cron { source: CronError::Timezone(_), .. }) => {
            sink.at(&child_key(&trig.path, "timezone"), e.to_string())
        }
        Err(ScheduleError::Cron { .. }) => {}
    }
}

/// Values a Schedule passes for declared inputs must fit their types.
fn check_trigger_inputs(flow: &Flow, path: &str, given: Option<&Value>, sink: &mut Sink<'_>) {
    let Some(given) = given else { return };
    let Some(map) = given.as_object() else {
        sink.at(&child_key(path, "inputs"), format!("'inputs' must be a mapping, got {}", kind_of(given)));
        return;
    };
    for (k, v) in map {
        let Some(input) = flow.inputs.iter().find(|i| &i.id == k) else { continue };
        if v.is_null() || v.as_str().is_some_and(is_template) {
            continue;
        }
        if let Err(e) = inputs::check_value(input, v) {
            sink.at(&child_key(&child_key(path, "inputs"), k), e.to_string());
        }
    }
}
