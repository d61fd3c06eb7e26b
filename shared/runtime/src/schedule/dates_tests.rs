//! Unit tests of `ScheduleOnDates`: its dates as ticks (sorted, distinct,
//! whole seconds, shown with their own offset or in `timezone`), missed
//! dates recovered per `recoverMissedSchedules`, the trigger context, and
//! validation of what Baton cannot take.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};

use super::recover::{Arrival, plan_due};
use super::trigger::{RecoverMissedSchedules, SCHEDULE_ON_DATES_TYPE, ScheduleTrigger};
use crate::model::Trigger;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap_or_else(|e| panic!("bad test date {s}: {e}")).with_timezone(&Utc)
}

fn trigger(props: Value) -> Trigger {
    let mut props = props.as_object().cloned().unwrap_or_default();
    props.entry("id").or_insert(json!("dates"));
    props.entry("type").or_insert(json!(SCHEDULE_ON_DATES_TYPE));
    Trigger {
        id: props["id"].as_str().unwrap_or("dates").to_string(),
        type_: SCHEDULE_ON_DATES_TYPE.to_string(),
        disabled: false,
        props,
        path: "triggers[0]".into(),
    }
}

fn on_dates(props: Value) -> ScheduleTrigger {
    ScheduleTrigger::from_trigger(&trigger(props)).expect("valid").expect("a ScheduleOnDates")
}

#[test]
fn dates_are_sorted_distinct_whole_seconds_with_their_own_offset() {
    let t = on_dates(json!({"dates": [
        "2025-12-31T23:00:00+01:00",
        "2025-12-24T18:00:00.750+01:00",
        "2025-12-31T22:00:00Z",
        "2026-03-29T03:30:00+02:00[Europe/Paris]"
    ]}));
    assert_eq!(t.type_name, SCHEDULE_ON_DATES_TYPE);
    let c = &t.cron;
    assert!(c.is_dates());
    let all: Vec<String> =
        c.ticks_between(at("2000-01-01T00:00:00Z"), at("2100-01-01T00:00:00Z")).map(|d| c.format(d)).collect();
    assert_eq!(all, ["2025-12-24T18:00:00+01:00", "2025-12-31T23:00:00+01:00", "2026-03-29T03:30:00+02:00"]);
    assert_eq!(c.next_after(at("2025-12-24T17:00:00Z")), Some(at("2025-12-31T22:00:00Z")));
    assert_eq!(c.previous_before(at("2025-12-31T22:00:00Z")), Some(at("2025-12-24T17:00:00Z")));
    assert_eq!(c.previous_before(at("2025-12-24T17:00:00Z")), None);
    assert_eq!(c.next_after(at("2026-03-29T01:30:00Z")), None);
    assert!(c.is_tick(at("2025-12-24T17:00:00Z")));
    assert!(!c.is_tick(at("2025-12-24T17:00:01Z")));
    // a named zone shows every date in it
    let z = on_dates(json!({"dates": ["2025-12-24T17:00:00Z"], "timezone": "America/New_York"}));
    assert_eq!(z.cron.format(at("2025-12-24T17:00:00Z")), "2025-12-24T12:00:00-05:00");
    // the trigger context: its type, and the date with the next and previous ones
    let ctx = t.context(at("2025-12-31T22:00:00Z"));
    assert_eq!(ctx.type_, SCHEDULE_ON_DATES_TYPE);
    assert_eq!(ctx.variables["date"], "2025-12-31T23:00:00+01:00");
    assert_eq!(ctx.variables["next"], "2026-03-29T03:30:00+02:00");
    assert_eq!(ctx.variables["previous"], "2025-12-24T18:00:00+01:00");
    // a changed list is a changed schedule
    let other = on_dates(json!({"dates": ["2025-12-24T18:00:00+01:00"]}));
    assert_ne!(t.cron.signature(), other.cron.signature());
    let same = on_dates(json!({"dates": [
        "2026-03-29T03:30:00+02:00", "2025-12-24T18:00:00+01:00", "2025-12-31T23:00:00+01:00"
    ]}));
    assert_eq!(t.cron.signature(), same.cron.signature(), "the order written does not matter");
}

#[test]
fn missed_dates_follow_recover_missed_schedules() {
    let dates = json!(["2025-01-01T00:00:00Z", "2025-02-01T00:00:00Z", "2025-03-01T00:00:00Z", "2025-04-01T00:00:00Z"]);
    let last = Some(at("2025-01-01T00:00:00Z"));
    let now = at("2025-03-01T00:00:05Z");
    let pass = Arrival::Pass { on_time: TimeDelta::seconds(15) };
    let all = on_dates(json!({"dates": dates}));
    assert_eq!(all.recover_missed_schedules, RecoverMissedSchedules::All);
    let plan = plan_due(&all, last, now, pass, 100);
    assert_eq!(plan.fire, [at("2025-02-01T00:00:00Z"), at("2025-03-01T00:00:00Z")]);
    assert_eq!(plan.next, Some(at("2025-04-01T00:00:00Z")));
    let lastp = on_dates(json!({"dates": dates, "recoverMissedSchedules": "LAST"}));
    // off time: the newest missed date only
    let later = at("2025-03-20T00:00:00Z");
    assert_eq!(plan_due(&lastp, last, later, pass, 100).fire, [at("2025-03-01T00:00:00Z")]);
    let none = on_dates(json!({"dates": dates, "recoverMissedSchedules": "NONE"}));
    let plan = plan_due(&none, last, later, pass, 100);
    assert!(plan.fire.is_empty());
    assert_eq!(plan.handled_until, Some(at("2025-03-01T00:00:00Z")));
    // after the last date nothing is due again
    let done = plan_due(&all, Some(at("2025-04-01T00:00:00Z")), at("2026-01-01T00:00:00Z"), Arrival::Tick, 100);
    assert!(done.fire.is_empty() && done.next.is_none());
    // a tick message (GCP) at the date's minute fires it
    let tick = plan_due(&all, Some(at("2025-03-01T00:00:00Z")), at("2025-04-01T00:00:00.300Z"), Arrival::Tick, 100);
    assert_eq!(tick.fire, [at("2025-04-01T00:00:00Z")]);
}

#[test]
fn what_baton_cannot_take_is_refused_naming_dates() {
    for (dates, want) in [
        (None, "is required"),
        (Some(json!([])), "at least one date"),
        (Some(json!("{{ vars.dates }}")), "is a template"),
        (Some(json!(["{{ now() }}"])), "[0] is a template"),
        (Some(json!(["2025-01-01 10:00"])), "[0] '2025-01-01 10:00' is not an ISO-8601 date-time"),
        (Some(json!(["2025-01-01T10:00:00"])), "with an offset"),
        (Some(json!(["2025-01-01T10:00:00+01:00[Mars/Olympus]"])), "is not an ISO-8601"),
        (Some(json!([42])), "[0] must be a date-time string"),
    ] {
        let mut props = json!({});
        if let Some(d) = dates {
            props["dates"] = d;
        }
        let err = ScheduleTrigger::from_trigger(&trigger(props)).expect_err("refused").to_string();
        assert!(err.contains("'dates'") && err.contains(want), "{err} should say {want}");
    }
    let err =
        ScheduleTrigger::from_trigger(&trigger(json!({"dates": ["2025-01-01T10:00:00Z"], "timezone": "Nowhere/City"})))
            .expect_err("bad zone")
            .to_string();
    assert!(err.contains("Nowhere/City"), "{err}");
}

#[test]
fn validation_reports_dates_problems_and_unknown_properties_at_their_place() {
    let src = "id: f\nnamespace: company.team\ntasks:\n  - id: l\n    type: io.kestra.plugin.core.log.Log\n    message: hi\ntriggers:\n  - id: d\n    type: io.kestra.plugin.core.trigger.ScheduleOnDates\n    interval: PT1M\n    dates:\n      - 2025-01-01T10:00:00\n";
    let registry = crate::plugins::Registry::builtin();
    let (_, diags) = crate::validate::validate_source("f.yaml", src, &registry, &crate::template::Renderer::new());
    let text: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
    assert!(text.iter().any(|d| d.contains("interval")), "{text:?}");
    assert!(text.iter().any(|d| d.contains("dates") && d.contains("with an offset")), "{text:?}");
    let ok = "id: f\nnamespace: company.team\ntasks:\n  - id: l\n    type: io.kestra.plugin.core.log.Log\n    message: \"{{ trigger.date }}\"\ntriggers:\n  - id: d\n    type: io.kestra.plugin.core.trigger.ScheduleOnDates\n    timezone: Europe/Paris\n    recoverMissedSchedules: LAST\n    dates:\n      - 2025-01-01T10:00:00+01:00\n";
    let (flow, diags) = crate::validate::validate_source("f.yaml", ok, &registry, &crate::template::Renderer::new());
    assert!(diags.is_empty(), "{diags:?}");
    assert!(flow.is_some());
}

#[test]
fn a_tick_fires_every_date_of_its_minute_on_time() {
    // on GCP the job of 12:00:20 ticks at 12:01, the minute 12:01:00 has
    // too: one tick message carries both, and neither is a missed date
    let dates = json!(["2025-05-01T11:00:00Z", "2025-05-01T11:59:30Z", "2025-05-01T12:00:20Z", "2025-05-01T12:01:00Z"]);
    let now = at("2025-05-01T12:01:00.400Z");
    let none = on_dates(json!({"dates": dates, "recoverMissedSchedules": "NONE"}));
    let first = plan_due(&none, None, now, Arrival::Tick, 100);
    assert_eq!(first.fire, [at("2025-05-01T12:00:20Z"), at("2025-05-01T12:01:00Z")]);
    assert_eq!(first.handled_until, Some(at("2025-05-01T12:01:00Z")));
    // after 11:00: 11:59:30 (its own minute's tick never came) is missed, dropped by NONE
    let plan = plan_due(&none, Some(at("2025-05-01T11:00:00Z")), now, Arrival::Tick, 100);
    assert_eq!(plan.fire, [at("2025-05-01T12:00:20Z"), at("2025-05-01T12:01:00Z")]);
    assert_eq!((plan.dropped, plan.dropped_until), (1, Some(at("2025-05-01T11:59:30Z"))));
    let all = on_dates(json!({"dates": dates}));
    let plan = plan_due(&all, Some(at("2025-05-01T11:00:00Z")), now, Arrival::Tick, 100);
    assert_eq!(plan.fire, [at("2025-05-01T11:59:30Z"), at("2025-05-01T12:00:20Z"), at("2025-05-01T12:01:00Z")]);
    // a duplicate of the tick fires nothing again
    let again = plan_due(&all, Some(at("2025-05-01T12:01:00Z")), now, Arrival::Tick, 100);
    assert!(again.fire.is_empty());
    // a local pass keeps its own rule: 12:00:20 is more than 15 s old, missed
    let pass =
        plan_due(&none, Some(at("2025-05-01T11:00:00Z")), now, Arrival::Pass { on_time: TimeDelta::seconds(15) }, 100);
    assert_eq!(pass.fire, [at("2025-05-01T12:01:00Z")]);
}
