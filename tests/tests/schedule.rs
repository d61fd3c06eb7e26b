//! Schedule triggers end to end: exactly one execution per tick under
//! concurrent duplicate and late ticks, the scheduler's passes (live ticks,
//! recovery after downtime with ALL/LAST/NONE, `stopAfter`, `disabled`),
//! and the trigger context and inputs each execution gets.

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::Map;
use shared::model::StateType;
use shared::runtime::scheduler::{Scheduler, TickOrigin, TickOutcome, TickRequest, fire_tick, tick_execution_id};
use shared::schedule::ScheduleTrigger;

use crate::sched_support::{at, sched, trigger_date, wait_ended};

const HOURLY: &str = r#"
id: hourly
namespace: test.sched
inputs:
  - id: month
    type: STRING
    defaults: none
tasks:
  - id: out
    type: io.kestra.plugin.core.debug.Return
    format: "{{ trigger.date }} {{ inputs.month }}"
triggers:
  - id: every_hour
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 * * * *"
    inputs:
      month: "{{ trigger.date | date('yyyy-MM') }}"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_duplicate_ticks_create_exactly_one_execution() {
    let s = sched();
    let flow = s.flow(HOURLY);
    let trigger = Arc::new(ScheduleTrigger::find(&flow, "every_hour").expect("trigger").expect("valid"));
    let date = at("2024-05-01T10:00:00Z");
    let mut tasks = Vec::new();
    for i in 0..24 {
        let (engine, store, flow, trigger) =
            (s.embedded.engine.clone(), s.store.clone(), flow.clone(), trigger.clone());
        tasks.push(tokio::spawn(async move {
            // schedulers and backfills racing for the same tick
            let backfill_id = format!("b{}", i % 3);
            let origin = if i % 4 == 0 {
                TickOrigin::Backfill { id: &backfill_id, rerun_successful: false }
            } else {
                TickOrigin::Schedule
            };
            let req = TickRequest { flow: &flow, trigger: &trigger, date, inputs: &Map::new(), labels: &[], origin };
            fire_tick(&engine, store.as_ref(), req).await.expect("fire")
        }));
    }
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.expect("task"));
    }
    let launched: Vec<&TickOutcome> = outcomes.iter().filter(|o| matches!(o, TickOutcome::Launched { .. })).collect();
    assert_eq!(launched.len(), 1, "exactly one firing creates the execution: {outcomes:?}");
    let id = launched[0].execution_id().expect("launched").to_string();
    assert!(outcomes.iter().all(|o| o.execution_id() == Some(id.as_str())), "every duplicate names the same execution");
    let done = wait_ended(&s.embedded.engine, &id).await;
    assert_eq!(done.state.current, StateType::Success);

    // a late duplicate, after the execution ended, creates nothing either
    let req = TickRequest {
        flow: &flow,
        trigger: &trigger,
        date,
        inputs: &Map::new(),
        labels: &[],
        origin: TickOrigin::Schedule,
    };
    let late = fire_tick(&s.embedded.engine, s.store.as_ref(), req).await.expect("late tick");
    assert_eq!(late, TickOutcome::Existing { execution_id: id.clone(), state: Some(StateType::Success) });
    assert_eq!(s.executions("test.sched", "hourly").await.len(), 1);

    // the trigger context and the trigger's inputs, rendered with trigger.date
    assert_eq!(trigger_date(&done), "2024-05-01T10:00:00Z");
    let vars = &done.trigger.as_ref().expect("trigger").variables;
    assert_eq!(vars["previous"], "2024-05-01T09:00:00Z");
    assert_eq!(vars["next"], "2024-05-01T11:00:00Z");
    assert_eq!(done.trigger.as_ref().expect("trigger").id, "every_hour");
    assert_eq!(done.inputs["month"], "2024-05");
    assert_eq!(done.schedule_date, Some(date));
    let out = &done.task_run_list[0].outputs.as_ref().expect("outputs")["value"];
    assert_eq!(out, "2024-05-01T10:00:00Z 2024-05");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tick_ids_are_stable_per_tick_and_firing_side() {
    let key = |date: &str| shared::backend::schedule::TickKey {
        namespace: "ns".into(),
        flow_id: "f".into(),
        trigger_id: "t".into(),
        date: at(date),
    };
    let a = tick_execution_id(&key("2024-05-01T10:00:00Z"), TickOrigin::Schedule);
    assert_eq!(a, tick_execution_id(&key("2024-05-01T10:00:00Z"), TickOrigin::Schedule));
    assert_eq!(a.len(), 22);
    assert_ne!(a, tick_execution_id(&key("2024-05-01T11:00:00Z"), TickOrigin::Schedule));
    let b = TickOrigin::Backfill { id: "b1", rerun_successful: false };
    assert_ne!(a, tick_execution_id(&key("2024-05-01T10:00:00Z"), b));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduler_passes_fire_each_tick_once_even_from_two_schedulers() {
    let s = sched();
    s.flow(HOURLY);
    let flows: Arc<dyn shared::runtime::scheduler::FlowSource> = s.embedded.engine.flows.clone();
    let one = Scheduler::new(s.embedded.engine.clone(), s.store.clone(), flows.clone());
    let two = Scheduler::new(s.embedded.engine.clone(), s.store.clone(), flows);
    // first sight: nothing fires, the next tick is set
    let r = one.evaluate(at("2024-05-01T09:30:00Z")).await;
    assert!(r.iter().all(|r| r.fired.is_empty()));
    // both schedulers evaluate the same moments, concurrently, repeatedly
    for now in ["2024-05-01T10:00:00.200Z", "2024-05-01T10:00:01Z", "2024-05-01T11:00:00Z", "2024-05-01T11:00:00Z"] {
        let (a, b) = tokio::join!(one.evaluate(at(now)), two.evaluate(at(now)));
        let _ = (a, b);
    }
    let execs = s.executions("test.sched", "hourly").await;
    let mut dates: Vec<String> = execs.iter().map(trigger_date).collect();
    dates.sort();
    assert_eq!(dates, ["2024-05-01T10:00:00Z", "2024-05-01T11:00:00Z"], "one execution per tick");
    for e in &execs {
        assert_eq!(wait_ended(&s.embedded.engine, &e.id).await.state.current, StateType::Success);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recover_missed_schedules_after_downtime() {
    let s = sched();
    s.flow(
        r#"
id: recover
namespace: test.sched
tasks:
  - id: out
    type: io.kestra.plugin.core.debug.Return
    format: "{{ trigger.id }} {{ trigger.date }}"
triggers:
  - id: all
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 * * * *"
  - id: last
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 * * * *"
    recoverMissedSchedules: LAST
  - id: none
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 * * * *"
    recoverMissedSchedules: NONE
  - id: late
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 * * * *"
    lateMaximumDelay: PT45M
"#,
    );
    let flows: Arc<dyn shared::runtime::scheduler::FlowSource> = s.embedded.engine.flows.clone();
    let before = Scheduler::new(s.embedded.engine.clone(), s.store.clone(), flows.clone());
    before.evaluate(at("2024-05-01T07:30:00Z")).await;
    // the process stops; a new one starts at 11:30: ticks 08:00..11:00 were missed
    let after = Scheduler::new(s.embedded.engine.clone(), s.store.clone(), flows);
    after.evaluate(at("2024-05-01T11:30:00Z")).await;
    let execs = s.executions("test.sched", "recover").await;
    let fired = |trigger: &str| -> Vec<String> {
        let mut v: Vec<String> =
            execs.iter().filter(|e| e.trigger.as_ref().is_some_and(|t| t.id == trigger)).map(trigger_date).collect();
        v.sort();
        v
    };
    assert_eq!(
        fired("all"),
        ["2024-05-01T08:00:00Z", "2024-05-01T09:00:00Z", "2024-05-01T10:00:00Z", "2024-05-01T11:00:00Z"]
    );
    assert_eq!(fired("last"), ["2024-05-01T11:00:00Z"]);
    assert!(fired("none").is_empty());
    assert_eq!(fired("late"), ["2024-05-01T11:00:00Z"], "ticks later than lateMaximumDelay are skipped");
    // the next pass goes on from there
    after.evaluate(at("2024-05-01T12:00:00Z")).await;
    let execs = s.executions("test.sched", "recover").await;
    assert_eq!(execs.iter().filter(|e| trigger_date(e) == "2024-05-01T12:00:00Z").count(), 4);
    for e in &execs {
        wait_ended(&s.embedded.engine, &e.id).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_after_disables_the_trigger_until_the_flow_changes_and_disabled_never_fires() {
    let s = sched();
    let yaml = r#"
id: fragile
namespace: test.sched
tasks:
  - id: boom
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: broken
triggers:
  - id: daily
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 9 * * *"
    stopAfter: [FAILED]
  - id: off
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 9 * * *"
    disabled: true
"#;
    s.flow(yaml);
    let flows: Arc<dyn shared::runtime::scheduler::FlowSource> = s.embedded.engine.flows.clone();
    let sch = Scheduler::new(s.embedded.engine.clone(), s.store.clone(), flows);
    sch.evaluate(at("2024-05-01T08:00:00Z")).await;
    sch.evaluate(at("2024-05-01T09:00:00Z")).await;
    let first = s.executions("test.sched", "fragile").await;
    assert_eq!(first.len(), 1, "the disabled trigger never fires");
    assert_eq!(wait_ended(&s.embedded.engine, &first[0].id).await.state.current, StateType::Failed);
    let reports = sch.evaluate(at("2024-05-02T09:00:00Z")).await;
    assert!(reports.iter().any(|r| r.trigger_id == "daily" && r.stopped), "{reports:?}");
    assert_eq!(s.executions("test.sched", "fragile").await.len(), 1, "stopped after FAILED");
    // editing the flow lets it run again
    s.flow(&yaml.replace("errorMessage: broken", "errorMessage: still broken"));
    sch.evaluate(at("2024-05-03T08:00:00Z")).await;
    sch.evaluate(at("2024-05-03T09:00:00Z")).await;
    let all = s.executions("test.sched", "fragile").await;
    let dates: HashSet<String> = all.iter().map(trigger_date).collect();
    assert_eq!(all.len(), 2);
    assert!(dates.contains("2024-05-03T09:00:00Z"), "{dates:?}");
    for e in &all {
        wait_ended(&s.embedded.engine, &e.id).await;
    }
}

#[test]
fn validation_reports_schedule_problems_with_their_line() {
    let yaml = r#"id: bad_schedule
namespace: test.sched
tasks:
  - id: a
    type: io.kestra.plugin.core.log.Log
    message: hi
triggers:
  - id: zone
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 9 * * *"
    timezone: Mars/Olympus
  - id: delay
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "@daily"
    lateMaximumDelay: one hour
  - id: fields
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 0 9 * * *"
  - id: never
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 0 30 2 *"
"#;
    let registry = shared::plugins::Registry::builtin();
    let renderer = shared::template::Renderer::new();
    let (_, diags) = shared::validate::validate_source("bad.yaml", yaml, &registry, &renderer);
    let text: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
    let has = |needle: &str| assert!(text.iter().any(|t| t.contains(needle)), "missing {needle:?} in {text:#?}");
    has("bad.yaml:11:5: triggers[0].timezone");
    has("unknown time zone 'Mars/Olympus'");
    has("bad.yaml:15:5: triggers[1].lateMaximumDelay");
    has("'lateMaximumDelay' is invalid");
    has("trigger 'fields': invalid cron expression '0 0 9 * * *': expected 5 fields, got 6");
    has("trigger 'never': invalid cron expression '0 0 30 2 *': it never matches a date");
    assert_eq!(text.len(), 4, "{text:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_cron_takes_effect_at_once() {
    let s = sched();
    let yearly = r#"
id: changing
namespace: test.sched
tasks:
  - id: out
    type: io.kestra.plugin.core.debug.Return
    format: "{{ trigger.date }}"
triggers:
  - id: t
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "@yearly"
"#;
    s.flow(yearly);
    let flows: Arc<dyn shared::runtime::scheduler::FlowSource> = s.embedded.engine.flows.clone();
    let sch = Scheduler::new(s.embedded.engine.clone(), s.store.clone(), flows);
    let r = sch.evaluate(at("2024-05-01T09:30:00Z")).await;
    assert_eq!(r[0].next, Some(at("2025-01-01T00:00:00Z")));
    s.flow(&yearly.replace("\"@yearly\"", "\"0 * * * *\""));
    let r = sch.evaluate(at("2024-05-01T09:40:00Z")).await;
    assert_eq!(r[0].next, Some(at("2024-05-01T10:00:00Z")), "not next year");
    sch.evaluate(at("2024-05-01T10:00:00Z")).await;
    let execs = s.executions("test.sched", "changing").await;
    assert_eq!(execs.iter().map(trigger_date).collect::<Vec<_>>(), ["2024-05-01T10:00:00Z"]);
    wait_ended(&s.embedded.engine, &execs[0].id).await;
}
