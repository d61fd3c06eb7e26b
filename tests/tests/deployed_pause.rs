//! A timed Pause on the deployed shape (`e2e::deployed`: the functions as
//! separate processes on the Firestore and Pub/Sub emulators and
//! fake-gcs-server, two push subscriptions per topic so every message is
//! delivered twice, the sweep's Cloud Scheduler job on its stand-in).
//!
//! `Pause pauseDuration: PT2S` then a Log: the execution goes PAUSED, the
//! executor receives nothing while it waits (no instance works for a
//! paused execution: the due time is in its stored task run), the sweep
//! wakes it once due and it ends SUCCESS, the Log run once; with `behavior:
//! FAIL` it ends FAILED and the Log never runs. Accelerated as said in
//! `deployed.rs`: the sweep ticks every second, Pub/Sub backoff is
//! Terraform's divided by 10.

use std::time::Duration;

use chrono::Utc;
use e2e::deployed::Deployment;
use shared::backend::StateStore;
use shared::model::{Execution, StateType};

use crate::deployed::{push_shape, until};

const TIMED: &str = "id: timed\nnamespace: gcp.pause\ntasks:\n  - id: pause\n    type: io.kestra.plugin.core.flow.Pause\n    pauseDuration: PT2S\n  - id: after\n    type: io.kestra.plugin.core.log.Log\n    message: after the pause\n";
const TIMED_FAIL: &str = "id: timed_fail\nnamespace: gcp.pause\ntasks:\n  - id: pause\n    type: io.kestra.plugin.core.flow.Pause\n    pauseDuration: PT2S\n    behavior: FAIL\n  - id: after\n    type: io.kestra.plugin.core.log.Log\n    message: after the pause\n";

/// Starts `flow` through the api function, waits for its Pause, checks the
/// executor is not invoked until the timer is due; returns the ended
/// execution and when the Pause was due.
async fn paused_then_woken(d: &Deployment, flow: &str) -> (Execution, chrono::DateTime<Utc>) {
    let url = format!("{}/api/v1/executions/gcp.pause/{flow}", d.function("api").url);
    let body: serde_json::Value = d.http.post(url).send().await.expect("start").json().await.expect("json");
    let id = body["id"].as_str().unwrap_or_else(|| panic!("no execution: {body}")).to_string();
    let paused = until(d, Duration::from_secs(60), "the execution to pause", || async {
        let e = d.backends.state.load_execution(&id).await.ok()??;
        (e.state.current == StateType::Paused).then_some(e)
    })
    .await;
    let pause = paused.task_run_list.iter().find(|t| t.task_id == "pause").expect("pause task run");
    let paused_at = pause.state.histories.iter().find(|h| h.state == StateType::Paused).expect("PAUSED").date;
    let due = paused_at + chrono::Duration::seconds(2);
    // the pause's own deliveries (each twice) settle, then nothing until due
    tokio::time::sleep(Duration::from_millis(400)).await;
    let executor = d.function("executor");
    let before = executor.requests();
    let until_due = (due - Utc::now() - chrono::Duration::milliseconds(150)).to_std().unwrap_or_default();
    tokio::time::sleep(until_due).await;
    let during = executor.requests() - before;
    assert!(Utc::now() < due, "the check ran past the due time: the machine is too slow for this test");
    assert_eq!(during, 0, "the executor was invoked {during} times while the execution waited\n{}", d.logs());
    let done = until(d, Duration::from_secs(60), "the sweep to wake the pause", || async {
        let e = d.backends.state.load_execution(&id).await.ok()??;
        e.state.is_terminal().then_some(e)
    })
    .await;
    (done, due)
}

fn run_of<'e>(e: &'e Execution, task: &str) -> Vec<&'e shared::model::TaskRun> {
    e.task_run_list.iter().filter(|t| t.task_id == task).collect()
}

// Run alone by scripts/test.sh, as deployed.rs: timing-sensitive.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "run alone by scripts/test.sh: cargo test -p e2e --test e2e -- --ignored --exact deployed_pause::a_timed_pause_is_woken_by_the_sweep_on_the_deployed_shape"]
async fn a_timed_pause_is_woken_by_the_sweep_on_the_deployed_shape() {
    let d = Deployment::start(&push_shape(), 2, Duration::from_secs(1)).await;
    d.upload_flow("flows/gcp.pause/timed.yml", TIMED).await;
    d.upload_flow("flows/gcp.pause/timed_fail.yml", TIMED_FAIL).await;

    let (done, due) = paused_then_woken(&d, "timed").await;
    assert_eq!(done.state.current, StateType::Success, "{:?}\n{}", done.task_run_list, d.logs());
    let pause = run_of(&done, "pause");
    assert_eq!(pause.len(), 1);
    let states: Vec<StateType> = pause[0].state.histories.iter().map(|h| h.state).collect();
    assert_eq!(
        states,
        [StateType::Created, StateType::Paused, StateType::Success],
        "{:?}\n{}",
        pause[0].state.histories,
        d.logs()
    );
    let resumed_at = pause[0].state.histories[2].date;
    assert!(resumed_at >= due, "resumed at {resumed_at}, before the due time {due}");
    assert!(resumed_at - due < chrono::Duration::seconds(10), "woken {} after due", resumed_at - due);
    let resumed = &pause[0].outputs.as_ref().expect("outputs")["resumed"];
    assert_eq!(resumed["to"], "SUCCESS", "{resumed}");
    let after = run_of(&done, "after");
    assert_eq!(after.len(), 1, "the Log ran once though every message came twice");
    assert_eq!(after[0].attempts.len(), 1);

    let (failed, _) = paused_then_woken(&d, "timed_fail").await;
    assert_eq!(failed.state.current, StateType::Failed, "{:?}", failed.task_run_list);
    assert_eq!(run_of(&failed, "pause")[0].state.current, StateType::Failed);
    assert!(run_of(&failed, "after").is_empty(), "nothing after a failed Pause runs");

    // with nothing left in flight, the last sweep pauses its job again
    until(&d, Duration::from_secs(30), "the sweep job to pause again", || async {
        (d.cloud_scheduler.state(&d.sweep_job) == Some("PAUSED")).then_some(())
    })
    .await;
}
