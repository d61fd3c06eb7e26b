//! `ScheduleOnDates` through the scheduler: each listed date fires once
//! with `trigger.date` in the trigger's zone, dates missed while no
//! scheduler ran are recovered per `recoverMissedSchedules`, a duplicate
//! tick message (GCP's `Arrival::Tick` path) creates nothing more, and
//! nothing fires after the last date.

use std::sync::Arc;

use shared::model::StateType;
use shared::runtime::scheduler::Scheduler;
use shared::schedule::{Arrival, ScheduleTrigger};

use crate::sched_support::{at, sched, trigger_date, wait_ended};

const ON_DATES: &str = r#"
id: on_dates
namespace: test.sched
inputs:
  - id: who
    type: STRING
    defaults: nobody
tasks:
  - id: out
    type: io.kestra.plugin.core.debug.Return
    format: "{{ trigger.type }} {{ trigger.date }} {{ inputs.who }}"
triggers:
  - id: dates
    type: io.kestra.plugin.core.trigger.ScheduleOnDates
    timezone: Europe/Paris
    inputs:
      who: "{{ trigger.date | date('MM-dd') }}"
    dates:
      - 2025-12-24T18:00:00+01:00
      - 2025-12-31T22:00:00Z
      - 2026-01-06T09:00:00+01:00
  - id: last_only
    type: io.kestra.plugin.core.trigger.ScheduleOnDates
    recoverMissedSchedules: LAST
    dates:
      - 2025-12-24T17:00:00Z
      - 2025-12-31T22:00:00Z
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dates_fire_once_each_in_the_trigger_zone_and_missed_ones_per_policy() {
    let s = sched();
    let flow = s.flow(ON_DATES);
    let flows: Arc<dyn shared::runtime::scheduler::FlowSource> = s.embedded.engine.flows.clone();
    let one = Scheduler::new(s.embedded.engine.clone(), s.store.clone(), flows.clone());
    // first sight, before every date: nothing fires, the next date is known
    let r = one.evaluate(at("2025-12-01T00:00:00Z")).await;
    assert!(r.iter().all(|r| r.fired.is_empty()), "{r:?}");
    assert!(r.iter().any(|r| r.next == Some(at("2025-12-24T17:00:00Z"))), "{r:?}");
    // on time for the first date
    one.evaluate(at("2025-12-24T17:00:00.300Z")).await;
    // down until after the second date: ALL recovers it, LAST takes the newest
    let two = Scheduler::new(s.embedded.engine.clone(), s.store.clone(), flows);
    let r = two.evaluate(at("2026-01-02T08:00:00Z")).await;
    assert!(r.iter().all(|r| r.errors.is_empty()), "{r:?}");
    // GCP's path: a tick message at the third date, delivered twice
    let trigger = ScheduleTrigger::find(&flow, "dates").expect("trigger").expect("valid");
    for _ in 0..2 {
        two.evaluate_trigger(&flow, &trigger, at("2026-01-06T08:00:00.500Z"), Arrival::Tick).await.expect("tick");
    }
    // and nothing after the last date
    let r = two.evaluate(at("2027-01-01T00:00:00Z")).await;
    assert!(r.iter().all(|r| r.fired.is_empty() && r.next.is_none()), "{r:?}");

    let execs = s.executions("test.sched", "on_dates").await;
    let fired = |id: &str| -> Vec<String> {
        let mut v: Vec<String> =
            execs.iter().filter(|e| e.trigger.as_ref().is_some_and(|t| t.id == id)).map(trigger_date).collect();
        v.sort();
        v
    };
    assert_eq!(fired("dates"), ["2025-12-24T18:00:00+01:00", "2025-12-31T23:00:00+01:00", "2026-01-06T09:00:00+01:00"]);
    assert_eq!(fired("last_only"), ["2025-12-24T17:00:00Z", "2025-12-31T22:00:00Z"]);
    for e in &execs {
        let done = wait_ended(&s.embedded.engine, &e.id).await;
        assert_eq!(done.state.current, StateType::Success);
        if done.trigger.as_ref().is_some_and(|t| t.id == "dates") {
            let out = done.task_run_list[0].outputs.as_ref().expect("outputs")["value"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            assert!(out.starts_with("io.kestra.plugin.core.trigger.ScheduleOnDates 20"), "{out}");
            let date = trigger_date(&done);
            assert!(out.ends_with(&date[5..10]), "the trigger's inputs are rendered per date: {out}");
        }
    }
}
