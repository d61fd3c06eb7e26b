//! Schedule conditions end to end on the embedded runtime: Kestra's
//! `every-monday` blueprint (cron `0 11 * * MON` + `DayWeekInMonth` FIRST)
//! backfilled over November 2026 is one execution, a daily cron with
//! `DayWeek MONDAY` over a week is one, the other ticks are counted as
//! "conditions false"; a live pass skips a false tick yet advances the
//! trigger, and `trigger.next` / `trigger.previous` are the nearest ticks
//! whose conditions hold.

use std::sync::Arc;

use serde_json::{Map, Value};
use shared::backend::schedule::{Backfill, BackfillState, TriggerKey};
use shared::runtime::backfill::{BackfillRequest, create_backfill, run_backfill};
use shared::runtime::scheduler::{Scheduler, TickOrigin, TickOutcome, TickRequest, fire_tick};
use shared::schedule::ScheduleTrigger;

use crate::sched_support::{Sched, at, sched, trigger_date, wait_ended};

const EVERY_MONDAY: &str = r#"
id: every_monday
namespace: company.team
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "first Monday {{ trigger.date }}"
triggers:
  - id: schedule
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 11 * * MON"
    conditions:
      - type: io.kestra.plugin.core.condition.DayWeekInMonth
        dayOfWeek: MONDAY
        dayInMonth: FIRST
"#;

const DAILY_MONDAY: &str = r#"
id: daily_monday
namespace: company.team
tasks:
  - id: out
    type: io.kestra.plugin.core.debug.Return
    format: "{{ trigger.date }}"
triggers:
  - id: daily
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 9 * * *"
    timezone: Europe/Paris
    conditions:
      - type: io.kestra.core.models.conditions.types.DayWeekCondition
        dayOfWeek: MONDAY
"#;

fn window(flow_id: &str, trigger: &str, start: &str, end: &str) -> BackfillRequest {
    BackfillRequest {
        namespace: "company.team".into(),
        flow_id: flow_id.into(),
        trigger_id: trigger.into(),
        start: at(start),
        end: Some(at(end)),
        ..BackfillRequest::default()
    }
}

async fn run(s: &Sched, req: BackfillRequest) -> Backfill {
    let b = create_backfill(&s.embedded.engine, s.store.as_ref(), req).await.expect("create");
    run_backfill(&s.embedded.engine, s.store.as_ref(), &b.id, &mut |_| {}).await.expect("run")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_monday_backfilled_over_november_is_one_execution() {
    let s = sched();
    s.flow(EVERY_MONDAY);
    let b = run(&s, window("every_monday", "schedule", "2026-11-01T00:00:00Z", "2026-11-30T23:59:59Z")).await;
    assert_eq!(b.state, BackfillState::Success);
    let p = &b.progress;
    assert_eq!((p.total, p.launched, p.succeeded, p.conditions_false, p.failed), (5, 1, 1, 4, 0), "{p:?}");
    let execs = s.executions("company.team", "every_monday").await;
    assert_eq!(execs.len(), 1);
    assert_eq!(trigger_date(&execs[0]), "2026-11-02T11:00:00Z");
    // trigger.next/previous are the nearest first Mondays (Kestra's trueOutputWithCondition)
    let vars = &execs[0].trigger.as_ref().expect("trigger").variables;
    assert_eq!(vars.get("next"), Some(&Value::String("2026-12-07T11:00:00Z".into())));
    assert_eq!(vars.get("previous"), Some(&Value::String("2026-10-05T11:00:00Z".into())));
    // running it again creates nothing and still counts the false ticks once each
    let again = run(&s, window("every_monday", "schedule", "2026-11-01T00:00:00Z", "2026-11-30T23:59:59Z")).await;
    assert_eq!((again.progress.launched, again.progress.skipped, again.progress.conditions_false), (0, 1, 4));
    assert_eq!(s.executions("company.team", "every_monday").await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daily_cron_with_day_week_monday_over_a_week_is_one_execution() {
    let s = sched();
    s.flow(DAILY_MONDAY);
    // 2026-11-02 is a Monday; 09:00 Paris is 08:00 UTC
    let b = run(&s, window("daily_monday", "daily", "2026-11-01T00:00:00Z", "2026-11-07T23:59:59Z")).await;
    let p = &b.progress;
    assert_eq!((p.total, p.launched, p.succeeded, p.conditions_false), (7, 1, 1, 6), "{p:?}");
    let execs = s.executions("company.team", "daily_monday").await;
    assert_eq!(execs.len(), 1);
    assert_eq!(trigger_date(&execs[0]), "2026-11-02T09:00:00+01:00", "the tick in the trigger's zone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_pass_skips_a_false_tick_and_advances_the_trigger() {
    let s = sched();
    let flow = s.flow(DAILY_MONDAY);
    let trigger = ScheduleTrigger::find(&flow, "daily").expect("trigger").expect("valid");
    let tuesday = at("2026-11-03T08:00:00Z");
    let req = TickRequest {
        flow: &flow,
        trigger: &trigger,
        date: tuesday,
        inputs: &Map::new(),
        labels: &[],
        origin: TickOrigin::Schedule,
    };
    let outcome = fire_tick(&s.embedded.engine, s.store.as_ref(), req).await.expect("fire");
    assert_eq!(outcome, TickOutcome::ConditionFalse { condition: "DayWeek".into() });
    assert_eq!(outcome.execution_id(), None);

    let flows: Arc<dyn shared::runtime::scheduler::FlowSource> = s.embedded.engine.flows.clone();
    let sch = Scheduler::new(s.embedded.engine.clone(), s.store.clone(), flows);
    sch.evaluate(at("2026-11-01T07:00:00Z")).await;
    for day in ["2026-11-01", "2026-11-02", "2026-11-03"] {
        sch.evaluate(at(&format!("{day}T08:00:00Z"))).await;
    }
    let execs = s.executions("company.team", "daily_monday").await;
    assert_eq!(execs.len(), 1, "Sunday and Tuesday are not Mondays");
    assert_eq!(trigger_date(&execs[0]), "2026-11-02T09:00:00+01:00");
    wait_ended(&s.embedded.engine, &execs[0].id).await;
    let key =
        TriggerKey { namespace: "company.team".into(), flow_id: "daily_monday".into(), trigger_id: "daily".into() };
    let state = s.store.load_trigger_state(&key).await.expect("load").expect("state");
    assert_eq!(state.last_tick, Some(at("2026-11-03T08:00:00Z")), "the false tick still advances the trigger");
    assert_eq!(state.last_execution_id.as_deref(), Some(execs[0].id.as_str()));
}
