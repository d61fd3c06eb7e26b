//! Unit tests of the schedule module: cron syntax, nicknames, seconds,
//! daylight-saving gaps and overlaps in America/New_York and Europe/Berlin,
//! trigger parsing and context, missed-schedule recovery, backfill planning.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Map, Value, json};

use super::backfill::{Bound, PlanError, merge_inputs, parse_bound, plan_ticks};
use super::cron::{Cron, CronError};
use super::recover::{Arrival, plan_due};
use super::trigger::{RecoverMissedSchedules, SCHEDULE_TYPE, ScheduleError, ScheduleTrigger};
use crate::model::{StateType, Trigger};

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap_or_else(|e| panic!("bad test date {s}: {e}")).with_timezone(&Utc)
}

fn cron(expr: &str, tz: Option<&str>) -> Cron {
    Cron::parse(expr, false, tz).unwrap_or_else(|e| panic!("{expr} should parse: {e}"))
}

/// The ticks in `[start, end]`, formatted in the cron's zone.
fn ticks(c: &Cron, start: &str, end: &str) -> Vec<String> {
    c.ticks_between(at(start), at(end)).map(|t| c.format(t)).collect()
}

/// Every consecutive pair of ticks is exactly `step` apart on the time line.
fn assert_steady(c: &Cron, start: &str, end: &str, step: TimeDelta) {
    let list: Vec<DateTime<Utc>> = c.ticks_between(at(start), at(end)).collect();
    let expected = (at(end) - at(start)).num_seconds() / step.num_seconds() + 1;
    assert_eq!(list.len() as i64, expected, "{}: one tick per {step} of real time", c.expr());
    for w in list.windows(2) {
        assert_eq!(w[1] - w[0], step, "{}: {} → {}", c.expr(), c.format(w[0]), c.format(w[1]));
    }
}

/// `next_after` and `previous_before` walk the same sequence both ways,
/// from each tick and from between ticks.
fn assert_consistent(c: &Cron, start: &str, end: &str) {
    let list: Vec<DateTime<Utc>> = c.ticks_between(at(start), at(end)).collect();
    assert!(list.len() >= 2, "{}: need ticks to compare", c.expr());
    for w in list.windows(2) {
        assert_eq!(c.next_after(w[0]), Some(w[1]), "{}: next after {}", c.expr(), c.format(w[0]));
        assert_eq!(c.previous_before(w[1]), Some(w[0]), "{}: previous before {}", c.expr(), c.format(w[1]));
        let mid = w[0] + (w[1] - w[0]) / 2;
        assert_eq!(c.next_after(mid), Some(w[1]), "{}: next after {}", c.expr(), mid);
        assert_eq!(c.previous_before(mid), Some(w[0]), "{}: previous before {}", c.expr(), mid);
        assert!(c.is_tick(w[0]) && !c.is_tick(mid) || w[1] - w[0] <= TimeDelta::seconds(1));
    }
}

// ------------------------------------------------------------- syntax ---

#[test]
fn five_field_monthly_cron_of_the_taxi_flows() {
    let c = cron("0 9 1 * *", None);
    let year = ticks(&c, "2019-01-01T00:00:00Z", "2019-12-31T23:59:00Z");
    assert_eq!(year.len(), 12);
    assert_eq!(year[0], "2019-01-01T09:00:00Z");
    assert_eq!(year[2], "2019-03-01T09:00:00Z");
    assert_eq!(year[11], "2019-12-01T09:00:00Z");
}

#[test]
fn nicknames_are_kestras() {
    let count = |e: &str, s: &str, t: &str| cron(e, None).ticks_between(at(s), at(t)).count();
    assert_eq!(count("@monthly", "2024-01-01T00:00:00Z", "2024-12-31T23:59:59Z"), 12, "@monthly over a year");
    assert_eq!(count("@monthly", "2024-01-01T00:00:01Z", "2025-01-01T00:00:00Z"), 12, "start and end inclusive");
    assert_eq!(count("@yearly", "2020-01-01T00:00:00Z", "2022-12-31T00:00:00Z"), 3);
    assert_eq!(count("@annually", "2020-01-01T00:00:00Z", "2022-12-31T00:00:00Z"), 3);
    assert_eq!(count("@daily", "2024-02-01T00:00:00Z", "2024-02-29T23:00:00Z"), 29, "leap February");
    assert_eq!(count("@midnight", "2024-02-01T00:00:00Z", "2024-02-29T23:00:00Z"), 29);
    assert_eq!(count("@hourly", "2024-05-01T00:00:00Z", "2024-05-01T23:59:59Z"), 24);
    let weekly = ticks(&cron("@weekly", None), "2024-05-01T00:00:00Z", "2024-05-31T00:00:00Z");
    assert_eq!(
        weekly,
        ["2024-05-05T00:00:00Z", "2024-05-12T00:00:00Z", "2024-05-19T00:00:00Z", "2024-05-26T00:00:00Z"]
    );
    assert_eq!(
        ticks(&cron("@MONTHLY", None), "2024-05-01T00:00:00Z", "2024-05-02T00:00:00Z"),
        ["2024-05-01T00:00:00Z"]
    );
    let with_seconds = Cron::parse("@hourly", true, None).expect("nickname with withSeconds");
    assert_eq!(with_seconds.ticks_between(at("2024-05-01T00:00:00Z"), at("2024-05-01T02:00:00Z")).count(), 3);
}

#[test]
fn with_seconds_takes_six_fields() {
    let c = Cron::parse("*/20 * * * * *", true, None).expect("6 fields");
    assert_eq!(
        ticks(&c, "2024-05-01T00:00:00Z", "2024-05-01T00:01:00Z"),
        ["2024-05-01T00:00:00Z", "2024-05-01T00:00:20Z", "2024-05-01T00:00:40Z", "2024-05-01T00:01:00Z"]
    );
    let c = Cron::parse("30 15 10 * * *", true, None).expect("6 fields");
    assert_eq!(ticks(&c, "2024-05-01T00:00:00Z", "2024-05-02T00:00:00Z"), ["2024-05-01T10:15:30Z"]);
    let five = Cron::parse("0 9 * * *", true, None).expect_err("5 fields with withSeconds");
    assert!(five.to_string().contains("expected 6 fields (withSeconds: true), got 5"), "{five}");
    let six = Cron::parse("0 0 9 * * *", false, None).expect_err("6 fields without withSeconds");
    assert!(six.to_string().contains("expected 5 fields, got 6"), "{six}");
}

#[test]
fn day_of_week_zero_and_seven_are_sunday_and_lists_work() {
    let sun0 = ticks(&cron("0 0 * * 0", None), "2024-05-01T00:00:00Z", "2024-05-31T00:00:00Z");
    let sun7 = ticks(&cron("0 0 * * 7", None), "2024-05-01T00:00:00Z", "2024-05-31T00:00:00Z");
    assert_eq!(sun0, sun7);
    assert_eq!(sun0.len(), 4);
    assert_eq!(
        cron("0 6,18 * * *", None).ticks_between(at("2024-05-01T00:00:00Z"), at("2024-05-03T00:00:00Z")).count(),
        4
    );
    let weekdays = cron("0 8 * * MON-FRI", None);
    assert_eq!(weekdays.ticks_between(at("2024-05-06T00:00:00Z"), at("2024-05-12T23:00:00Z")).count(), 5);
    assert_eq!(
        ticks(&cron("0 0 ? * *", None), "2024-05-01T00:00:00Z", "2024-05-01T00:00:00Z"),
        ["2024-05-01T00:00:00Z"]
    );
    assert_eq!(
        cron("0/30 * * * *", None).ticks_between(at("2024-05-01T00:00:00Z"), at("2024-05-01T01:00:00Z")).count(),
        3
    );
}

#[test]
fn invalid_expressions_and_zones_are_explained() {
    let err = |e: &str| Cron::parse(e, false, None).expect_err(e);
    assert!(matches!(err("61 * * * *"), CronError::Invalid { .. }));
    assert!(err("@often").to_string().contains("unknown nickname (expected one of @yearly"), "{}", err("@often"));
    assert!(err("0 0 30 2 *").to_string().contains("never matches"), "{}", err("0 0 30 2 *"));
    assert!(err("").to_string().contains("expected 5 fields, got 0"));
    let zone = Cron::parse("0 9 * * *", false, Some("Mars/Olympus")).expect_err("zone");
    assert_eq!(zone, CronError::Timezone("Mars/Olympus".into()));
    assert!(zone.to_string().contains("IANA"));
}

// ------------------------------------------------ daylight saving time ---

#[test]
fn new_york_spring_forward_daily_0230_runs_once_each_day() {
    // 2024-03-10 02:00 EST jumps to 03:00 EDT: 02:30 does not exist that day.
    let c = cron("30 2 * * *", Some("America/New_York"));
    assert_eq!(
        ticks(&c, "2024-03-08T12:00:00Z", "2024-03-12T12:00:00Z"),
        [
            "2024-03-09T02:30:00-05:00",
            "2024-03-10T03:30:00-04:00", // shifted by the gap, not skipped
            "2024-03-11T02:30:00-04:00",
            "2024-03-12T02:30:00-04:00",
        ]
    );
    assert_consistent(&c, "2024-03-01T00:00:00Z", "2024-03-20T00:00:00Z");
}

#[test]
fn new_york_fall_back_daily_0130_runs_once_each_day() {
    // 2024-11-03 02:00 EDT falls back to 01:00 EST: 01:30 happens twice.
    let c = cron("30 1 * * *", Some("America/New_York"));
    assert_eq!(
        ticks(&c, "2024-11-01T12:00:00Z", "2024-11-05T12:00:00Z"),
        [
            "2024-11-02T01:30:00-04:00",
            "2024-11-03T01:30:00-04:00", // the first pass only
            "2024-11-04T01:30:00-05:00",
            "2024-11-05T01:30:00-05:00",
        ]
    );
    assert_consistent(&c, "2024-10-25T00:00:00Z", "2024-11-10T00:00:00Z");
}

#[test]
fn new_york_hourly_neither_skips_nor_doubles() {
    let c = cron("0 * * * *", Some("America/New_York"));
    assert_steady(&c, "2024-03-09T00:00:00Z", "2024-03-11T23:00:00Z", TimeDelta::hours(1));
    assert_eq!(
        ticks(&c, "2024-03-10T06:00:00Z", "2024-03-10T08:00:00Z"),
        ["2024-03-10T01:00:00-05:00", "2024-03-10T03:00:00-04:00", "2024-03-10T04:00:00-04:00"]
    );
    assert_steady(&c, "2024-11-02T00:00:00Z", "2024-11-04T23:00:00Z", TimeDelta::hours(1));
    assert_eq!(
        ticks(&c, "2024-11-03T04:00:00Z", "2024-11-03T08:00:00Z"),
        [
            "2024-11-03T00:00:00-04:00",
            "2024-11-03T01:00:00-04:00",
            "2024-11-03T01:00:00-05:00",
            "2024-11-03T02:00:00-05:00",
            "2024-11-03T03:00:00-05:00",
        ]
    );
    assert_consistent(&c, "2024-03-09T20:00:00Z", "2024-03-10T12:00:00Z");
    assert_consistent(&c, "2024-11-02T20:00:00Z", "2024-11-03T12:00:00Z");
    let half = cron("30 * * * *", Some("America/New_York"));
    assert_steady(&half, "2024-03-10T00:30:00Z", "2024-03-10T12:30:00Z", TimeDelta::hours(1));
    assert_steady(&half, "2024-11-03T00:30:00Z", "2024-11-03T12:30:00Z", TimeDelta::hours(1));
    assert_eq!(
        cron("@hourly", Some("America/New_York"))
            .ticks_between(at("2024-11-03T00:00:00Z"), at("2024-11-03T23:59:59Z"))
            .count(),
        24
    );
}

#[test]
fn new_york_every_15_minutes_follows_real_time() {
    let c = cron("*/15 * * * *", Some("America/New_York"));
    assert_steady(&c, "2024-03-10T05:00:00Z", "2024-03-10T09:00:00Z", TimeDelta::minutes(15));
    assert_steady(&c, "2024-11-03T04:00:00Z", "2024-11-03T08:00:00Z", TimeDelta::minutes(15));
    assert_consistent(&c, "2024-11-03T04:00:00Z", "2024-11-03T08:00:00Z");
    assert_consistent(&c, "2024-03-10T05:00:00Z", "2024-03-10T09:00:00Z");
}

#[test]
fn berlin_spring_forward_and_fall_back() {
    // 2024-03-31 02:00 CET → 03:00 CEST; 2024-10-27 03:00 CEST → 02:00 CET.
    let daily = cron("30 2 * * *", Some("Europe/Berlin"));
    assert_eq!(
        ticks(&daily, "2024-03-30T00:00:00Z", "2024-04-01T12:00:00Z"),
        ["2024-03-30T02:30:00+01:00", "2024-03-31T03:30:00+02:00", "2024-04-01T02:30:00+02:00"]
    );
    assert_eq!(
        ticks(&daily, "2024-10-26T00:00:00Z", "2024-10-28T12:00:00Z"),
        ["2024-10-26T02:30:00+02:00", "2024-10-27T02:30:00+02:00", "2024-10-28T02:30:00+01:00"]
    );
    assert_consistent(&daily, "2024-03-25T00:00:00Z", "2024-04-05T00:00:00Z");
    assert_consistent(&daily, "2024-10-20T00:00:00Z", "2024-11-01T00:00:00Z");
    let hourly = cron("0 * * * *", Some("Europe/Berlin"));
    assert_steady(&hourly, "2024-03-30T12:00:00Z", "2024-04-01T12:00:00Z", TimeDelta::hours(1));
    assert_steady(&hourly, "2024-10-26T12:00:00Z", "2024-10-28T12:00:00Z", TimeDelta::hours(1));
    assert_eq!(
        ticks(&hourly, "2024-10-27T00:00:00Z", "2024-10-27T02:00:00Z"),
        ["2024-10-27T02:00:00+02:00", "2024-10-27T02:00:00+01:00", "2024-10-27T03:00:00+01:00"]
    );
    assert_consistent(&hourly, "2024-10-26T20:00:00Z", "2024-10-27T06:00:00Z");
    // a fixed-hour job inside the overlapping hour runs once per slot
    let twice_hourly_at_two = cron("*/30 2 * * *", Some("Europe/Berlin"));
    assert_eq!(
        ticks(&twice_hourly_at_two, "2024-10-26T22:00:00Z", "2024-10-27T03:00:00Z"),
        ["2024-10-27T02:00:00+02:00", "2024-10-27T02:30:00+02:00"]
    );
    assert_eq!(
        ticks(&twice_hourly_at_two, "2024-03-30T22:00:00Z", "2024-03-31T03:00:00Z"),
        ["2024-03-31T03:00:00+02:00", "2024-03-31T03:30:00+02:00"]
    );
}

#[test]
fn monthly_in_a_zone_with_dst_is_twelve_local_midnights() {
    let c = cron("@monthly", Some("Europe/Berlin"));
    let year = ticks(&c, "2023-12-31T23:00:00Z", "2024-12-31T22:59:59Z");
    assert_eq!(year.len(), 12);
    assert_eq!(year[0], "2024-01-01T00:00:00+01:00");
    assert_eq!(year[3], "2024-04-01T00:00:00+02:00");
    assert_eq!(year[11], "2024-12-01T00:00:00+01:00");
    assert_consistent(&c, "2023-01-01T00:00:00Z", "2025-01-01T00:00:00Z");
}

#[test]
fn default_zone_is_utc_and_format_keeps_offsets() {
    let c = cron("0 9 * * *", None);
    assert_eq!(c.timezone(), chrono_tz::Tz::UTC);
    assert_eq!(c.format(at("2019-03-01T09:00:00Z")), "2019-03-01T09:00:00Z");
    let ny = cron("0 9 * * *", Some("America/New_York"));
    assert_eq!(ny.format(at("2019-03-01T14:00:00Z")), "2019-03-01T09:00:00-05:00");
}

// ------------------------------------------------------------ trigger ---

fn trigger(props: Value) -> Trigger {
    let props: Map<String, Value> = props.as_object().cloned().unwrap_or_default();
    Trigger {
        id: props.get("id").and_then(Value::as_str).unwrap_or("schedule").to_string(),
        type_: props.get("type").and_then(Value::as_str).unwrap_or(SCHEDULE_TYPE).to_string(),
        disabled: props.get("disabled").and_then(Value::as_bool).unwrap_or(false),
        props,
        path: "triggers[0]".into(),
    }
}

fn schedule(props: Value) -> ScheduleTrigger {
    ScheduleTrigger::from_trigger(&trigger(props)).expect("valid").expect("a Schedule")
}

#[test]
fn trigger_reads_every_kestra_property() {
    let t = schedule(json!({
        "id": "green_schedule", "type": SCHEDULE_TYPE, "cron": "0 9 1 * *", "timezone": "America/Asuncion",
        "inputs": {"taxi": "green"}, "disabled": true, "recoverMissedSchedules": "LAST",
        "lateMaximumDelay": "PT1H", "stopAfter": ["FAILED", "warning"],
        "conditions": [{"type": "io.kestra.plugin.core.condition.DayWeekInMonth", "dayOfWeek": "MONDAY", "dayInMonth": "FIRST"}],
        "description": "d"
    }));
    assert_eq!(t.id, "green_schedule");
    assert_eq!(t.cron.timezone(), chrono_tz::America::Asuncion);
    assert_eq!(t.inputs["taxi"], "green");
    assert!(t.disabled);
    assert_eq!(t.recover_missed_schedules, RecoverMissedSchedules::Last);
    assert_eq!(t.late_maximum_delay, Some(TimeDelta::hours(1)));
    assert_eq!(t.stop_after, [StateType::Failed, StateType::Warning]);
    assert_eq!(t.conditions.len(), 1);
    let defaults = schedule(json!({"cron": "@daily"}));
    assert_eq!(defaults.recover_missed_schedules, RecoverMissedSchedules::All);
    assert!(!defaults.disabled && defaults.inputs.is_empty() && defaults.stop_after.is_empty());
    assert_eq!(defaults.late_maximum_delay, None);
    let secs = schedule(json!({"cron": "0 0 9 * * *", "withSeconds": true}));
    assert_eq!(secs.cron.ticks_between(at("2024-01-01T00:00:00Z"), at("2024-01-02T00:00:00Z")).count(), 1);
    let other = trigger(json!({"type": "io.kestra.plugin.core.trigger.Flow"}));
    assert!(ScheduleTrigger::from_trigger(&other).expect("ok").is_none(), "not a Schedule");
}

#[test]
fn trigger_problems_name_the_trigger_and_property() {
    let err = |p: Value| ScheduleTrigger::from_trigger(&trigger(p)).expect_err("invalid");
    let e = err(json!({"id": "t1"}));
    assert_eq!(e.to_string(), "trigger 't1': property 'cron' is required");
    let e = err(json!({"id": "t2", "cron": "0 9 * * *", "recoverMissedSchedules": "SOME"}));
    assert!(matches!(&e, ScheduleError::Property { property: "recoverMissedSchedules", .. }), "{e}");
    assert!(e.to_string().contains("must be ALL, LAST or NONE"));
    let e = err(json!({"id": "t3", "cron": "0 9 * * *", "lateMaximumDelay": "1 hour"}));
    assert!(e.to_string().contains("'lateMaximumDelay' is invalid"), "{e}");
    let e = err(json!({"id": "t4", "cron": "0 9 * * *", "stopAfter": ["BROKEN"]}));
    assert!(e.to_string().contains("'stopAfter' must list execution states"), "{e}");
    let e = err(json!({"id": "t5", "cron": "0 9 * *"}));
    assert_eq!(e.to_string(), "trigger 't5': invalid cron expression '0 9 * *': expected 5 fields, got 4");
    let e = err(json!({"id": "t6", "cron": "0 9 * * *", "timezone": "Nowhere"}));
    assert!(e.to_string().starts_with("trigger 't6': unknown time zone 'Nowhere'"), "{e}");
}

#[test]
fn trigger_context_matches_kestras_execution_trigger() {
    let t = schedule(json!({"id": "green_schedule", "cron": "0 9 1 * *"}));
    let ctx = t.context(at("2019-03-01T09:00:00Z"));
    assert_eq!(ctx.id, "green_schedule");
    assert_eq!(ctx.type_, "io.kestra.plugin.core.trigger.Schedule");
    assert_eq!(
        Value::Object(ctx.variables.clone()),
        json!({"date": "2019-03-01T09:00:00Z", "next": "2019-04-01T09:00:00Z", "previous": "2019-02-01T09:00:00Z"})
    );
    let json = serde_json::to_value(&ctx).expect("serialise");
    assert_eq!(json["type"], SCHEDULE_TYPE);
    assert_eq!(json["variables"]["date"], "2019-03-01T09:00:00Z");
    let ny = schedule(json!({"cron": "30 2 * * *", "timezone": "America/New_York"}));
    let v = ny.variables(at("2024-03-10T07:30:00Z"));
    assert_eq!(v["date"], "2024-03-10T03:30:00-04:00");
    assert_eq!(v["previous"], "2024-03-09T02:30:00-05:00");
    assert_eq!(v["next"], "2024-03-11T02:30:00-04:00");
}

// ----------------------------------------------------------- recovery ---

const PASS: Arrival = Arrival::Pass { on_time: TimeDelta::seconds(15) };

#[test]
fn the_first_tick_a_trigger_receives_fires() {
    let t = schedule(json!({"cron": "0 9 1 * *"}));
    // Cloud Scheduler's first tick after a deploy: the instant it stands for runs
    let p = plan_due(&t, None, at("2019-03-01T09:00:02.5Z"), Arrival::Tick, 100);
    assert_eq!(p.fire, [at("2019-03-01T09:00:00Z")]);
    assert_eq!(p.handled_until, Some(at("2019-03-01T09:00:00Z")));
    assert_eq!(p.next, Some(at("2019-04-01T09:00:00Z")));
    assert_eq!(p.dropped, 0);
    // a duplicate of it, or the same tick again later, fires nothing
    let again = plan_due(&t, p.handled_until, at("2019-03-01T09:07:00Z"), Arrival::Tick, 100);
    assert!(again.fire.is_empty());
    assert_eq!(again.handled_until, None);
    // every policy fires its on-time tick, also on a cold instance
    for policy in ["ALL", "LAST", "NONE"] {
        let t = schedule(json!({"cron": "0 9 1 * *", "recoverMissedSchedules": policy}));
        let p = plan_due(&t, Some(at("2019-02-01T09:00:00Z")), at("2019-03-01T09:00:01Z"), Arrival::Tick, 100);
        assert_eq!(p.fire, [at("2019-03-01T09:00:00Z")], "{policy}");
        assert_eq!(p.dropped, 0, "{policy}");
    }
}

#[test]
fn a_pass_fires_only_on_time_ticks_of_a_new_trigger() {
    let t = schedule(json!({"cron": "0 * * * *"}));
    // the local server starts mid-hour: nothing fires, the hour is the baseline
    let p = plan_due(&t, None, at("2024-05-01T10:20:00Z"), PASS, 100);
    assert!(p.fire.is_empty());
    assert_eq!(p.dropped, 0);
    assert_eq!(p.handled_until, Some(at("2024-05-01T10:00:00Z")));
    assert_eq!(p.next, Some(at("2024-05-01T11:00:00Z")));
    let p = plan_due(&t, Some(at("2024-05-01T10:00:00Z")), at("2024-05-01T10:59:59Z"), PASS, 100);
    assert!(p.fire.is_empty(), "not due yet");
    assert_eq!(p.next, Some(at("2024-05-01T11:00:00Z")));
    let p = plan_due(&t, Some(at("2024-05-01T10:00:00Z")), at("2024-05-01T11:00:00.300Z"), PASS, 100);
    assert_eq!(p.fire, [at("2024-05-01T11:00:00Z")]);
    assert_eq!(p.next, Some(at("2024-05-01T12:00:00Z")));
    // started right on a tick: it is on time
    let p = plan_due(&t, None, at("2024-05-01T11:00:03Z"), PASS, 100);
    assert_eq!(p.fire, [at("2024-05-01T11:00:00Z")]);
}

#[test]
fn recover_missed_schedules_all_last_none_from_stored_state() {
    let last = Some(at("2024-05-01T07:00:00Z"));
    let hourly = |policy: &str| schedule(json!({"cron": "0 * * * *", "recoverMissedSchedules": policy}));
    // a pass after downtime: 08..11 were all missed (11:00 is 30 minutes old)
    let now = at("2024-05-01T11:30:00Z");
    let all = plan_due(&hourly("ALL"), last, now, PASS, 100);
    assert_eq!(all.fire, ["08", "09", "10", "11"].map(|h| at(&format!("2024-05-01T{h}:00:00Z"))));
    assert_eq!(all.dropped, 0);
    assert_eq!(all.next, Some(at("2024-05-01T12:00:00Z")));
    let l = plan_due(&hourly("LAST"), last, now, PASS, 100);
    assert_eq!(l.fire, [at("2024-05-01T11:00:00Z")]);
    assert_eq!(l.dropped, 3);
    let none = plan_due(&hourly("NONE"), last, now, PASS, 100);
    assert!(none.fire.is_empty());
    assert_eq!(none.dropped, 4);
    assert_eq!(none.handled_until, Some(at("2024-05-01T11:00:00Z")));
    assert_eq!(none.next, Some(at("2024-05-01T12:00:00Z")));
    // a Cloud Scheduler tick after missed ones: 11:00 is the tick itself
    let now = at("2024-05-01T11:00:04Z");
    let all = plan_due(&hourly("ALL"), last, now, Arrival::Tick, 100);
    assert_eq!(all.fire, ["08", "09", "10", "11"].map(|h| at(&format!("2024-05-01T{h}:00:00Z"))));
    let l = plan_due(&hourly("LAST"), last, now, Arrival::Tick, 100);
    assert_eq!(l.fire, [at("2024-05-01T10:00:00Z"), at("2024-05-01T11:00:00Z")]);
    assert_eq!(l.dropped, 2);
    let none = plan_due(&hourly("NONE"), last, now, Arrival::Tick, 100);
    assert_eq!(none.fire, [at("2024-05-01T11:00:00Z")], "NONE drops missed ticks, never the one that came");
    assert_eq!(none.dropped, 3);
    assert_eq!(none.handled_until, Some(at("2024-05-01T11:00:00Z")));
    // LAST or NONE after a long outage of a fast cron counts, does not list
    let secs = schedule(json!({"cron": "* * * * *", "recoverMissedSchedules": "NONE"}));
    let p = plan_due(&secs, Some(at("2024-01-01T00:00:00Z")), at("2024-05-01T11:30:00Z"), Arrival::Tick, 10);
    assert_eq!(p.fire, [at("2024-05-01T11:30:00Z")]);
    assert_eq!(p.dropped, 10_000);
}

#[test]
fn all_replays_in_bounded_batches() {
    let t = schedule(json!({"cron": "* * * * *"}));
    let now = at("2024-05-01T12:00:00Z");
    let mut last = Some(at("2024-05-01T09:59:00Z"));
    let mut fired = Vec::new();
    for _ in 0..20 {
        let p = plan_due(&t, last, now, Arrival::Tick, 50);
        assert!(p.fire.len() <= 51);
        fired.extend(p.fire);
        last = p.handled_until.or(last);
    }
    assert_eq!(fired.len(), 121, "every minute from 10:00 to 12:00, once");
    assert!(fired.windows(2).all(|w| w[1] - w[0] == TimeDelta::minutes(1)));
    assert_eq!(last, Some(now));
}

#[test]
fn late_maximum_delay_skips_late_ticks() {
    let t = schedule(json!({"cron": "0 * * * *", "lateMaximumDelay": "PT30M"}));
    let p = plan_due(&t, Some(at("2024-05-01T08:00:00Z")), at("2024-05-01T11:10:00Z"), PASS, 100);
    assert_eq!(p.late, [at("2024-05-01T09:00:00Z"), at("2024-05-01T10:00:00Z")]);
    assert_eq!(p.fire, [at("2024-05-01T11:00:00Z")]);
    assert_eq!(p.next, Some(at("2024-05-01T12:00:00Z")));
    // a tick delivered late (Pub/Sub retries) beyond the delay is skipped too
    let p = plan_due(&t, Some(at("2024-05-01T10:00:00Z")), at("2024-05-01T11:45:00Z"), Arrival::Tick, 100);
    assert!(p.fire.is_empty());
    assert_eq!(p.late, [at("2024-05-01T11:00:00Z")]);
    assert_eq!(p.handled_until, Some(at("2024-05-01T11:00:00Z")));
}

#[test]
fn plan_due_never_fires_a_tick_twice_over_any_sequence_of_arrivals() {
    // exhaustive over a day of 5-minute ticks: arrivals at random-ish moments,
    // each plan fed the state the previous one stored
    for policy in ["ALL", "LAST", "NONE"] {
        let t = schedule(json!({"cron": "*/5 * * * *", "recoverMissedSchedules": policy}));
        let mut last = None;
        let mut fired = std::collections::BTreeSet::new();
        let mut now = at("2024-05-01T00:00:00Z");
        for i in 0..500i64 {
            now += TimeDelta::seconds(37 + (i * 7919) % 900);
            let arrival = if i % 3 == 0 { PASS } else { Arrival::Tick };
            let p = plan_due(&t, last, now, arrival, 20);
            for f in &p.fire {
                assert!(fired.insert(*f), "{policy}: {f} fired twice");
                assert!(*f <= now, "{policy}: {f} fired before it came");
            }
            if let Some(h) = p.handled_until {
                assert!(last.is_none_or(|l| h > l), "{policy}: the stored tick went back");
                last = Some(h);
            }
        }
        if policy == "ALL" {
            let first = *fired.first().expect("some");
            assert_eq!(
                fired.len() as i64,
                (*fired.last().expect("some") - first).num_minutes() / 5 + 1,
                "ALL misses none"
            );
        }
    }
}

// ----------------------------------------------------------- backfill ---

#[test]
fn backfill_plan_is_inclusive_and_ordered() {
    let c = cron("0 9 1 * *", None);
    let year = plan_ticks(&c, at("2019-01-01T00:00:00Z"), at("2019-12-31T23:59:00Z")).expect("plan");
    assert_eq!(year.len(), 12);
    assert!(year.windows(2).all(|w| w[0] < w[1]));
    let exact = plan_ticks(&c, at("2019-01-01T09:00:00Z"), at("2019-03-01T09:00:00Z")).expect("plan");
    assert_eq!(exact, [at("2019-01-01T09:00:00Z"), at("2019-02-01T09:00:00Z"), at("2019-03-01T09:00:00Z")]);
    assert!(plan_ticks(&c, at("2019-01-02T00:00:00Z"), at("2019-01-03T00:00:00Z")).expect("plan").is_empty());
    let err = plan_ticks(&c, at("2019-02-01T00:00:00Z"), at("2019-01-01T00:00:00Z")).expect_err("reversed");
    assert!(matches!(err, PlanError::Window { .. }));
    let secs = Cron::parse("* * * * * *", true, None).expect("cron");
    let too_many = plan_ticks(&secs, at("2019-01-01T00:00:00Z"), at("2019-12-31T00:00:00Z"));
    assert!(matches!(too_many, Err(PlanError::TooMany { .. })));
}

#[test]
fn backfill_bounds_and_inputs() {
    let utc = cron("0 9 1 * *", None);
    let start = |s: &str, c: &Cron| parse_bound(s, c, Bound::Start);
    assert_eq!(start("2019-01-01", &utc).expect("date"), at("2019-01-01T00:00:00Z"));
    assert_eq!(parse_bound("2019-12-31", &utc, Bound::End).expect("end date"), at("2019-12-31T23:59:59Z"));
    assert_eq!(start("2019-01-01T09:30", &utc).expect("minutes"), at("2019-01-01T09:30:00Z"));
    assert_eq!(parse_bound("2019-01-01T09:30", &utc, Bound::End).expect("minutes"), at("2019-01-01T09:30:00Z"));
    assert_eq!(start("2019-01-01T09:30:15", &utc).expect("seconds"), at("2019-01-01T09:30:15Z"));
    assert_eq!(start("2019-01-01T09:30:00+02:00", &utc).expect("offset"), at("2019-01-01T07:30:00Z"));
    let ny = cron("0 9 1 * *", Some("America/New_York"));
    assert_eq!(start("2019-01-01", &ny).expect("local midnight"), at("2019-01-01T05:00:00Z"));
    assert_eq!(parse_bound("2019-01-01", &ny, Bound::End).expect("local end of day"), at("2019-01-02T04:59:59Z"));
    assert_eq!(start("2024-03-10T02:30", &ny).expect("in the gap"), at("2024-03-10T07:00:00Z"));
    assert!(matches!(start("January", &utc), Err(PlanError::Date(_))));
    let year = plan_ticks(
        &cron("0 9 31 12 *", None),
        start("2019-01-01", &utc).expect("s"),
        parse_bound("2019-12-31", &utc, Bound::End).expect("e"),
    );
    assert_eq!(year.expect("plan"), [at("2019-12-31T09:00:00Z")], "a bare end date includes its day");
    let t = Map::from_iter([("taxi".to_string(), json!("green")), ("month".to_string(), json!("01"))]);
    let b = Map::from_iter([("taxi".to_string(), json!("yellow"))]);
    let m = merge_inputs(&t, &b);
    assert_eq!(Value::Object(m), json!({"taxi": "yellow", "month": "01"}));
}
