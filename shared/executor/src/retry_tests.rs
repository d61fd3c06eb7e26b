//! A task's `retry` on the pure executor with the scripted worker:
//! attempts counted and waited for, giving up after the maximum, a retry
//! dispatched once however often the execution is stepped, and
//! `warningOnRetry`.

use chrono::Duration;
use serde_json::{Map, json};

use super::tests::{LOG, Sim, t0};
use super::*;
use baton_model::StateType;
use baton_model::wire::messages::WorkerJob;

#[test]
fn retry_constant_counts_attempts_and_waits() {
    let y = format!(
        "id: f\nnamespace: n\ntasks:\n  - id: a\n    type: {LOG}\n    retry:\n      type: constant\n      interval: PT10S\n      maxAttempt: 3\n"
    );
    let script =
        |j: &WorkerJob| if j.attempt < 3 { (StateType::Failed, Map::new()) } else { (StateType::Success, Map::new()) };
    let mut sim = Sim::new(&y, json!({}), &script);
    assert_eq!(sim.run(), StateType::Success);
    let tr = &sim.exec.task_run_list[0];
    assert_eq!(tr.attempts.len(), 3);
    assert_eq!(tr.state.current, StateType::Success);
    assert!(tr.state.histories.iter().any(|h| h.state == StateType::Retrying));
    assert!(sim.now >= t0() + Duration::seconds(20), "two 10 s delays");
}

#[test]
fn retry_gives_up_after_max_attempts() {
    let y = format!(
        "id: f\nnamespace: n\ntasks:\n  - id: a\n    type: {LOG}\n    retry:\n      type: constant\n      interval: PT1S\n      maxAttempts: 2\n"
    );
    let script = |_: &WorkerJob| (StateType::Failed, Map::new());
    let mut sim = Sim::new(&y, json!({}), &script);
    assert_eq!(sim.run(), StateType::Failed);
    assert_eq!(sim.exec.task_run_list[0].attempts.len(), 2);
}

#[test]
fn a_retry_already_dispatched_is_not_dispatched_again() {
    // at-least-once: the Wake that releases a retry may come twice, and any
    // other event of the execution steps it too, before the attempt starts
    let y = format!(
        "id: f\nnamespace: n\ntasks:\n  - id: a\n    type: {LOG}\n    retry:\n      type: constant\n      interval: PT1S\n      maxAttempts: 3\n"
    );
    let script = |_: &WorkerJob| (StateType::Failed, Map::new());
    let mut sim = Sim::new(&y, json!({}), &script);
    let first = sim.step();
    let Some(Action::Dispatch { job, .. }) = first.into_iter().find(|a| matches!(a, Action::Dispatch { .. })) else {
        panic!("first attempt dispatched");
    };
    sim.answer(&job);
    sim.now += Duration::seconds(2);
    let due = sim.step();
    assert_eq!(due.iter().filter(|a| matches!(a, Action::Dispatch { .. })).count(), 1, "the retry is dispatched");
    for _ in 0..3 {
        let again = sim.step();
        assert!(!again.iter().any(|a| matches!(a, Action::Dispatch { .. })), "and only once: {again:?}");
    }
    assert_eq!(sim.exec.task_run_list[0].attempts.len(), 2);
    let resend = step(&sim.flow, &sim.exec, sim.now, &sim.env, StepOptions { redispatch_pending: true });
    let jobs: Vec<u32> = resend
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::Dispatch { job, .. } => Some(job.attempt),
            _ => None,
        })
        .collect();
    assert_eq!(jobs, [2], "a redelivery re-sends the pending attempt, not a new one");
}

#[test]
fn warning_on_retry() {
    let y = format!(
        "id: f\nnamespace: n\ntasks:\n  - id: a\n    type: {LOG}\n    retry:\n      type: constant\n      interval: PT1S\n      maxAttempt: 3\n      warningOnRetry: true\n"
    );
    let script =
        |j: &WorkerJob| if j.attempt < 2 { (StateType::Failed, Map::new()) } else { (StateType::Success, Map::new()) };
    let mut sim = Sim::new(&y, json!({}), &script);
    assert_eq!(sim.run(), StateType::Warning);
}

#[test]
fn a_flowable_s_retry_reruns_the_child_that_fails_in_it() {
    // Kestra's retry-flowable and retry-flowable-nested-child: the nearest
    // enclosing flowable with a retry governs a child without one; the
    // block itself is not re-run (its first child ran once)
    let y = format!(
        "id: f\nnamespace: n\ntasks:\n  - id: outer\n    type: io.kestra.plugin.core.flow.Sequential\n    retry:\n      type: constant\n      interval: PT1S\n      maxAttempt: 3\n    tasks:\n      - id: ok\n        type: {LOG}\n      - id: inner\n        type: io.kestra.plugin.core.flow.Sequential\n        tasks:\n          - id: bad\n            type: {LOG}\n"
    );
    let script = |j: &WorkerJob| {
        if j.task.id == "bad" { (StateType::Failed, Map::new()) } else { (StateType::Success, Map::new()) }
    };
    let mut sim = Sim::new(&y, json!({}), &script);
    assert_eq!(sim.run(), StateType::Failed);
    let attempts = |id: &str| sim.exec.task_run_list.iter().find(|t| t.task_id == id).map(|t| t.attempts.len());
    assert_eq!(attempts("bad"), Some(3), "retried by the outer block's policy");
    assert_eq!(attempts("ok"), Some(1), "the block is not re-run");
}

#[test]
fn the_flow_s_retry_governs_a_task_without_one_and_a_task_s_own_wins() {
    let y = format!(
        "id: f\nnamespace: n\nretry:\n  behavior: RETRY_FAILED_TASK\n  type: constant\n  interval: PT1S\n  maxAttempt: 4\ntasks:\n  - id: a\n    type: {LOG}\n  - id: b\n    type: {LOG}\n    retry:\n      type: constant\n      interval: PT1S\n      maxAttempt: 2\n"
    );
    let script = |j: &WorkerJob| {
        if (j.task.id == "a" && j.attempt < 4) || j.task.id == "b" {
            (StateType::Failed, Map::new())
        } else {
            (StateType::Success, Map::new())
        }
    };
    let mut sim = Sim::new(&y, json!({}), &script);
    assert_eq!(sim.run(), StateType::Failed);
    assert_eq!(sim.exec.task_run_list[0].attempts.len(), 4, "the flow's retry: a succeeds on its 4th attempt");
    assert_eq!(sim.exec.task_run_list[1].attempts.len(), 2, "b's own retry wins over the flow's");
}
