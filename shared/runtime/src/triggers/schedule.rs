//! `io.kestra.plugin.core.trigger.Schedule` and `ScheduleOnDates` as
//! trigger types: their properties and checks. What a tick does is in `crate::schedule` (the
//! trigger's model) and `crate::runtime::scheduler` (firing ticks).

use std::sync::LazyLock;

use serde::Deserialize;
use serde_json::Value;

use super::{InputsProp, StopAfterProp, TriggerDef, TriggerProblem, WhenProp, prop};
use crate::model::flow::kind_of;
use crate::model::{Flow, Trigger};
use crate::plugins::Declare;
use crate::schedule::{CronError, ScheduleError, ScheduleTrigger};
use crate::template::is_template;

/// Start executions on a cron schedule.
///
/// Starts an execution at each tick of a cron expression; backfills replay past ticks.
#[derive(Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
#[plugin(
    type = crate::schedule::SCHEDULE_TYPE,
    aliases = ["io.kestra.core.models.triggers.types.Schedule", "io.kestra.core.tasks.triggers.Schedule"],
    example = "id: daily\ntype: io.kestra.plugin.core.trigger.Schedule\ncron: \"0 9 * * *\"\ntimezone: Europe/Paris\n",
)]
struct ScheduleProps {
    /// The cron expression (5 fields, 6 withSeconds; @daily, @hourly…).
    #[prop(kind = "String", required)]
    cron: Option<Value>,
    /// The cron has a seconds field first.
    #[prop(kind = "Boolean", default = "false")]
    with_seconds: Option<Value>,
    /// The time zone the cron is read in.
    #[prop(kind = "String", default = "\"UTC\"")]
    timezone: Option<Value>,
    #[serde(flatten)]
    inputs: InputsProp,
    /// What to do with ticks missed while down.
    #[prop(kind = "String", values = ["LAST", "NONE", "ALL"], default = "\"ALL\"")]
    recover_missed_schedules: Option<Value>,
    /// Skip a tick that could not start within this delay.
    // a String here: its own check says what is wrong with the duration
    #[prop(kind = "String")]
    late_maximum_delay: Option<Value>,
    #[serde(flatten)]
    stop_after: StopAfterProp,
    #[serde(flatten)]
    when: WhenProp,
}

pub static DEF: LazyLock<TriggerDef> =
    LazyLock::new(|| TriggerDef::declare::<ScheduleProps>(check, crate::conditions::ConditionUse::Schedule));

/// Start executions at a list of dates.
///
/// Starts an execution at each of a list of dates (ISO-8601 with an offset); missed dates are recovered per recoverMissedSchedules.
#[derive(Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
#[plugin(
    type = crate::schedule::trigger::SCHEDULE_ON_DATES_TYPE,
    example = "id: holidays\ntype: io.kestra.plugin.core.trigger.ScheduleOnDates\ntimezone: Europe/Paris\ndates:\n  - 2026-12-24T18:00:00+01:00\n  - 2026-12-31T23:00:00+01:00\n",
)]
struct ScheduleOnDatesProps {
    /// The dates, ISO-8601 with an offset (a `[Zone/Id]` suffix is accepted); written out, not a template.
    #[prop(kind = "List", required)]
    dates: Option<Value>,
    /// The zone `trigger.date` is shown in (else each date's own offset).
    #[prop(kind = "String", default = "\"UTC\"")]
    timezone: Option<Value>,
    #[serde(flatten)]
    inputs: InputsProp,
    /// What to do with dates missed while down.
    #[prop(kind = "String", values = ["LAST", "NONE", "ALL"], default = "\"ALL\"")]
    recover_missed_schedules: Option<Value>,
    #[serde(flatten)]
    stop_after: StopAfterProp,
    #[serde(flatten)]
    when: WhenProp,
}

pub static ON_DATES_DEF: LazyLock<TriggerDef> = LazyLock::new(|| {
    TriggerDef::declare::<ScheduleOnDatesProps>(check_on_dates, crate::conditions::ConditionUse::Schedule)
});

fn check_on_dates(trig: &Trigger, flow: &Flow) -> Vec<TriggerProblem> {
    let mut out = Vec::new();
    check_schedule_properties(trig, &mut out);
    check_trigger_inputs(flow, prop(trig, "inputs"), &mut out);
    out
}

fn check(trig: &Trigger, flow: &Flow) -> Vec<TriggerProblem> {
    let mut out = Vec::new();
    match prop(trig, "cron") {
        None => out.push(TriggerProblem::at("", format!("trigger '{}': a Schedule needs 'cron'", trig.id))),
        Some(Value::String(c)) => {
            let seconds = prop(trig, "withSeconds").and_then(Value::as_bool).unwrap_or(false);
            if let Err(e) = check_cron(c, seconds) {
                out.push(TriggerProblem::at("cron", format!("trigger '{}': {e}", trig.id)));
            } else if !is_template(c) {
                check_schedule_properties(trig, &mut out);
            }
        }
        Some(other) => out.push(TriggerProblem::at(
            "cron",
            format!("trigger '{}': 'cron' must be a string, got {}", trig.id, kind_of(other)),
        )),
    }
    check_trigger_inputs(flow, prop(trig, "inputs"), &mut out);
    out
}

/// The cron check of the scheduler itself (`crate::schedule::Cron`): 5
/// fields (6 with `withSeconds`), Kestra's nicknames, ranges that can match.
fn check_cron(c: &str, with_seconds: bool) -> Result<(), String> {
    if is_template(c) {
        return Ok(());
    }
    crate::schedule::Cron::parse(c, with_seconds, None).map(|_| ()).map_err(|e| match e {
        CronError::Invalid { expr, reason } => format!("invalid cron expression '{expr}': {reason}"),
        other => other.to_string(),
    })
}

/// The other Schedule properties the scheduler reads (`timezone`,
/// `recoverMissedSchedules`, `lateMaximumDelay`, `stopAfter`…), once the cron is valid.
fn check_schedule_properties(trig: &Trigger, out: &mut Vec<TriggerProblem>) {
    match ScheduleTrigger::from_trigger(trig) {
        Ok(_) => {}
        // conditions are checked, with their own paths, by `check_conditions`
        Err(ScheduleError::Property { property: "cron" | "conditions", .. }) => {}
        Err(e @ ScheduleError::Property { property, .. }) => out.push(TriggerProblem::at(property, e.to_string())),
        Err(e @ ScheduleError::Cron { source: CronError::Timezone(_), .. }) => {
            out.push(TriggerProblem::at("timezone", e.to_string()))
        }
        Err(ScheduleError::Cron { .. }) => {}
    }
}

/// Values a trigger passes for declared inputs must fit their types (shared
/// by every trigger type that takes `inputs`).
pub fn check_trigger_inputs(flow: &Flow, given: Option<&Value>, out: &mut Vec<TriggerProblem>) {
    let Some(given) = given else { return };
    let Some(map) = given.as_object() else {
        out.push(TriggerProblem::at("inputs", format!("'inputs' must be a mapping, got {}", kind_of(given))));
        return;
    };
    for (k, v) in map {
        let Some(input) = flow.inputs.iter().find(|i| &i.id == k) else { continue };
        if v.is_null() || v.as_str().is_some_and(is_template) {
            continue;
        }
        if let Err(e) = crate::inputs::check_value(input, v) {
            out.push(TriggerProblem::at(format!("inputs.{k}"), e.to_string()));
        }
    }
}
