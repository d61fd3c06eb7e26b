//! Backfills end to end on the embedded runtime: the taxi-style example
//! over a year of monthly ticks (12 executions, each with its own
//! `trigger.date` in file names and labels, never more than the flow's
//! limit at once), re-running creates nothing, failed ticks re-run alone,
//! backfill inputs win, a runner killed mid-way resumes without gaps or
//! duplicates, and pause / resume / cancel.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};
use shared::backend::schedule::{Backfill, BackfillState};
use shared::model::{Label, StateType};
use shared::runtime::backfill::{
    BackfillError, BackfillRequest, cancel_backfill, create_backfill, pause_backfill, resume_backfill, run_backfill,
};

use crate::sched_support::{OverlapProbe, Sched, at, sched, trigger_date, wait_ended};

fn taxi_yaml() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/taxi_scheduled.yaml")).expect("example")
}

fn year_2019(trigger: &str) -> BackfillRequest {
    BackfillRequest {
        namespace: "zoomcamp".into(),
        flow_id: "taxi_scheduled".into(),
        trigger_id: trigger.into(),
        start: at("2019-01-01T00:00:00Z"),
        end: Some(at("2019-12-31T23:59:59Z")),
        inputs: Map::new(),
        labels: vec![Label { key: "backfill".into(), value: "true".into() }],
        rerun_successful: false,
        id: None,
    }
}

async fn run(s: &Sched, req: BackfillRequest) -> Backfill {
    let b = create_backfill(&s.embedded.engine, s.store.as_ref(), req).await.expect("create");
    run_backfill(&s.embedded.engine, s.store.as_ref(), &b.id, &mut |_| {}).await.expect("run")
}

fn label<'a>(e: &'a shared::model::Execution, key: &str) -> &'a str {
    e.labels.iter().find(|l| l.key == key).map(|l| l.value.as_str()).unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_year_of_monthly_ticks_is_twelve_executions_and_running_it_again_creates_none() {
    let s = sched();
    s.flow(&taxi_yaml());
    let (stop, probe) = OverlapProbe::spawn(s.embedded.updates());
    let b = run(&s, year_2019("green_schedule")).await;
    stop.send(()).expect("stop probe");
    let max = probe.await.expect("probe");
    assert_eq!(b.state, BackfillState::Success);
    assert_eq!((b.progress.total, b.progress.launched, b.progress.succeeded), (12, 12, 12));
    assert_eq!((b.progress.failed, b.progress.skipped), (0, 0));
    assert_eq!(b.progress.execution_ids.len(), 12);
    assert!(max <= 1, "concurrency limit 1: saw {max} executions running at once");

    let execs = s.executions("zoomcamp", "taxi_scheduled").await;
    assert_eq!(execs.len(), 12);
    let months: BTreeSet<String> = execs.iter().map(|e| label(e, "month").to_string()).collect();
    let expected: BTreeSet<String> = (1..=12).map(|m| format!("2019-{m:02}")).collect();
    assert_eq!(months, expected, "each execution has its own month");
    for e in &execs {
        assert_eq!(e.state.current, StateType::Success);
        let month = label(e, "month");
        assert_eq!(trigger_date(e), format!("{month}-01T09:00:00Z"));
        assert_eq!(label(e, "file"), format!("green_tripdata_{month}.csv"));
        assert_eq!(label(e, "backfill"), "true", "backfill labels are added");
        assert_eq!(label(e, "taxi"), "green", "the trigger's inputs apply");
        assert_eq!(e.outputs.as_ref().expect("outputs")["file"], json!(format!("green_tripdata_{month}.csv")));
    }
    // in tick order
    let order: Vec<String> = b
        .progress
        .execution_ids
        .iter()
        .map(|id| trigger_date(execs.iter().find(|e| e.id == *id).expect("listed")))
        .collect();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(order, sorted, "executions were created in tick order");

    // the same backfill again: every tick already succeeded
    let again = run(&s, year_2019("green_schedule")).await;
    assert_eq!((again.progress.launched, again.progress.skipped), (0, 12));
    assert_eq!(again.state, BackfillState::Success);
    assert_eq!(s.executions("zoomcamp", "taxi_scheduled").await.len(), 12, "no new execution");

    // Kestra's behaviour on request
    let mut rerun = year_2019("green_schedule");
    rerun.rerun_successful = true;
    rerun.end = Some(at("2019-03-31T00:00:00Z"));
    let r = run(&s, rerun).await;
    assert_eq!((r.progress.launched, r.progress.succeeded, r.progress.skipped), (3, 3, 0));
    assert_eq!(s.executions("zoomcamp", "taxi_scheduled").await.len(), 15);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_inputs_override_the_triggers_and_bad_requests_are_explained() {
    let s = sched();
    s.flow(&taxi_yaml());
    let mut req = year_2019("green_schedule");
    req.end = Some(at("2019-02-28T00:00:00Z"));
    req.inputs = Map::from_iter([("taxi".to_string(), Value::String("yellow".into()))]);
    let b = run(&s, req.clone()).await;
    assert_eq!(b.progress.succeeded, 2);
    for e in s.executions("zoomcamp", "taxi_scheduled").await {
        assert_eq!(e.inputs["taxi"], "yellow");
        assert!(label(&e, "file").starts_with("yellow_tripdata_2019-0"), "{:?}", e.labels);
    }
    let engine = &s.embedded.engine;
    let mut bad = req.clone();
    bad.trigger_id = "monthly".into();
    match create_backfill(engine, s.store.as_ref(), bad).await {
        Err(e @ BackfillError::TriggerNotFound { .. }) => {
            assert!(e.to_string().contains("green_schedule, yellow_schedule"), "{e}")
        }
        other => panic!("unknown trigger: {other:?}"),
    }
    let mut reversed = req.clone();
    reversed.end = Some(at("2018-01-01T00:00:00Z"));
    assert!(matches!(create_backfill(engine, s.store.as_ref(), reversed).await, Err(BackfillError::Plan(_))));
    let mut missing = req;
    missing.flow_id = "nope".into();
    assert!(matches!(create_backfill(engine, s.store.as_ref(), missing).await, Err(BackfillError::FlowNotFound(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_failed_ticks_run_again() {
    let s = sched();
    s.flow(
        r#"
id: flaky
namespace: test.backfill
inputs:
  - id: bad_month
    type: STRING
    defaults: "2019-02"
tasks:
  - id: check
    type: io.kestra.plugin.core.flow.If
    condition: "{{ (trigger.date | date('yyyy-MM')) == inputs.bad_month }}"
    then:
      - id: fail
        type: io.kestra.plugin.core.execution.Fail
        errorMessage: "no data for {{ inputs.bad_month }}"
triggers:
  - id: monthly
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "@monthly"
"#,
    );
    let req = BackfillRequest {
        namespace: "test.backfill".into(),
        flow_id: "flaky".into(),
        trigger_id: "monthly".into(),
        start: at("2019-01-01T00:00:00Z"),
        end: Some(at("2019-03-01T00:00:00Z")),
        ..BackfillRequest::default()
    };
    let first = run(&s, req.clone()).await;
    assert_eq!((first.progress.succeeded, first.progress.failed), (2, 1));
    assert_eq!(first.state, BackfillState::Success, "every tick was handled");
    let mut fixed = req;
    fixed.inputs = Map::from_iter([("bad_month".to_string(), json!("none"))]);
    let second = run(&s, fixed).await;
    assert_eq!((second.progress.launched, second.progress.skipped, second.progress.succeeded), (1, 2, 1));
    let execs = s.executions("test.backfill", "flaky").await;
    assert_eq!(execs.len(), 4);
    let feb: Vec<_> = execs.iter().filter(|e| trigger_date(e).starts_with("2019-02")).collect();
    let states: BTreeSet<&str> = feb.iter().map(|e| e.state.current.as_str()).collect();
    assert_eq!(states, BTreeSet::from(["FAILED", "SUCCESS"]), "February failed, then ran again");
}

const SLOW: &str = r#"
id: slow_monthly
namespace: test.backfill
concurrency:
  limit: 2
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT0.05S
  - id: month
    type: io.kestra.plugin.core.debug.Return
    format: "{{ trigger.date | date('yyyy-MM') }}"
triggers:
  - id: monthly
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 9 1 * *"
"#;

fn slow_year() -> BackfillRequest {
    BackfillRequest {
        namespace: "test.backfill".into(),
        flow_id: "slow_monthly".into(),
        trigger_id: "monthly".into(),
        start: at("2019-01-01T00:00:00Z"),
        end: Some(at("2019-12-31T23:59:59Z")),
        ..BackfillRequest::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runner_killed_mid_way_resumes_without_gaps_or_duplicates() {
    let s = sched();
    s.flow(SLOW);
    let b = create_backfill(&s.embedded.engine, s.store.as_ref(), slow_year()).await.expect("create");
    let (seen_tx, mut seen_rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
    let runner = {
        let (engine, store, id) = (s.embedded.engine.clone(), s.store.clone(), b.id.clone());
        tokio::spawn(async move {
            let _ = run_backfill(&engine, store.as_ref(), &id, &mut |b| {
                let _ = seen_tx.send(b.progress.launched);
            })
            .await;
        })
    };
    while let Some(launched) = seen_rx.recv().await {
        if launched >= 5 {
            break;
        }
    }
    runner.abort();
    let _ = runner.await;
    let (stop, probe) = OverlapProbe::spawn(s.embedded.updates());
    let done = run_backfill(&s.embedded.engine, s.store.as_ref(), &b.id, &mut |_| {}).await.expect("resume");
    assert_eq!(done.state, BackfillState::Success);
    let execs = s.executions("test.backfill", "slow_monthly").await;
    for e in &execs {
        assert_eq!(wait_ended(&s.embedded.engine, &e.id).await.state.current, StateType::Success);
    }
    stop.send(()).expect("stop");
    assert!(probe.await.expect("probe") <= 2, "never more than the limit at once");
    let dates: BTreeSet<String> = execs.iter().map(trigger_date).collect();
    assert_eq!(execs.len(), 12, "no duplicate");
    assert_eq!(dates.len(), 12, "no gap");
    assert_eq!(done.progress.succeeded + done.progress.failed + done.progress.skipped, 12);
    assert_eq!(done.progress.failed, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_resume_and_cancel() {
    let s = sched();
    s.flow(SLOW);
    let engine = &s.embedded.engine;
    let store = s.store.as_ref();
    let b = create_backfill(engine, store, slow_year()).await.expect("create");
    let paused = pause_backfill(store, &b.id).await.expect("pause");
    assert_eq!(paused.state, BackfillState::Paused);
    let r = run_backfill(engine, store, &b.id, &mut |_| {}).await.expect("run paused");
    assert_eq!((r.state, r.progress.launched), (BackfillState::Paused, 0), "a paused backfill starts nothing");
    // pause from "another terminal" while it runs
    let (seen_tx, mut seen_rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
    resume_backfill(store, &b.id).await.expect("resume");
    let runner = {
        let (engine, store, id) = (engine.clone(), s.store.clone(), b.id.clone());
        tokio::spawn(async move {
            run_backfill(&engine, store.as_ref(), &id, &mut |b| {
                let _ = seen_tx.send(b.progress.launched);
            })
            .await
            .expect("run")
        })
    };
    while let Some(n) = seen_rx.recv().await {
        if n >= 2 {
            pause_backfill(store, &b.id).await.expect("pause while running");
            break;
        }
    }
    let stopped = runner.await.expect("runner");
    assert_eq!(stopped.state, BackfillState::Paused);
    assert!(stopped.progress.launched < 12, "it stopped launching: {:?}", stopped.progress);
    resume_backfill(store, &b.id).await.expect("resume");
    let done = run_backfill(engine, store, &b.id, &mut |_| {}).await.expect("finish");
    assert_eq!(done.state, BackfillState::Success);
    assert_eq!(s.executions("test.backfill", "slow_monthly").await.len(), 12);

    let c = create_backfill(engine, store, slow_year()).await.expect("create");
    let cancelled = cancel_backfill(store, &c.id).await.expect("cancel");
    assert_eq!(cancelled.state, BackfillState::Cancelled);
    assert!(matches!(resume_backfill(store, &c.id).await, Err(BackfillError::State { .. })), "cancel is final");
    assert!(matches!(pause_backfill(store, &done.id).await, Err(BackfillError::State { .. })), "so is success");
    assert!(matches!(pause_backfill(store, "missing").await, Err(BackfillError::NotFound(_))));
    let r = run_backfill(engine, store, &c.id, &mut |_| {}).await.expect("run cancelled");
    assert_eq!(r.progress.launched, 0);
}
