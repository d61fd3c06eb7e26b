//! A result whose message never reached the executor: the worker closed
//! its claim after publishing it, so every later copy of the job is a
//! duplicate and the execution would stay RUNNING for ever. The worker
//! keeps the result with the claim, and the sweep publishes it again for
//! an attempt its execution still shows unfinished: RUNNING (its start
//! arrived, its result did not) or CREATED a lease after its dispatch
//! (neither arrived).

use std::time::Duration;

use e2e::functions::{Cluster, ClusterOptions, Effects};
use serde_json::json;
use shared::backend::Topic;
use shared::functions::relay::RelayOptions;
use shared::functions::sweep;
use shared::model::{Execution, StateType, TaskRun};

fn run_of(e: &Execution, task: &str) -> Option<TaskRun> {
    e.task_run_list.iter().find(|t| t.task_id == task).cloned()
}

async fn until_run(cluster: &Cluster, id: &str, task: &str, state: StateType) -> TaskRun {
    e2e::functions::wait_for(Duration::from_secs(30), &format!("{task} {state}"), || async {
        run_of(&cluster.execution(id).await, task).filter(|t| t.state.current == state)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_sweep_publishes_again_a_result_whose_message_was_lost() {
    let effects = Effects::start().await;
    let cluster = Cluster::start(ClusterOptions {
        relay: RelayOptions { retry_after: Duration::from_millis(10), ..RelayOptions::default() },
        flows: vec![("lost.yaml".into(), super::lost_worker_flow(false))],
        ..ClusterOptions::default()
    })
    .await;
    let lease = chrono::Duration::seconds(2);
    let engine = cluster.backends.engine();
    let (events, tasks) = (Topic::Executions.name(), Topic::Tasks("core".into()).name());

    // 1. RUNNING: the start arrived, the result went to an endpoint that acked it
    let running = cluster.launch("test.functions", "lost_worker", json!({"server": effects.url})).await;
    effects.wait_count("block/slow", 1).await;
    let slow = until_run(&cluster, &running, "slow", StateType::Running).await;
    cluster.relay.route(&events, &format!("{}/hit/swallowed", effects.url));
    effects.release();
    effects.wait_count("hit/swallowed", 1).await;
    cluster.relay.idle().await;
    cluster.relay.route(&events, &cluster.executor.url);
    let exec = cluster.execution(&running).await;
    assert_eq!(exec.state.current, StateType::Running, "the result was lost");
    assert_eq!(run_of(&exec, "slow").map(|t| t.state.current), Some(StateType::Running));
    assert!(engine.state.kept_result(&slow.id, 1).await.expect("kept").is_some(), "the worker kept its result");

    let report = sweep::sweep(&engine, "test-sweeper", lease).await.expect("sweep");
    assert_eq!(report.republished, vec![(slow.id.clone(), 1)], "{report:?}");
    assert!(report.lost.is_empty() && report.resent.is_empty(), "{report:?}");
    let exec = cluster.wait(&running).await;
    assert_eq!(exec.state.current, StateType::Success, "{:?}", exec.error);
    let slow = run_of(&exec, "slow").expect("slow");
    assert_eq!(slow.attempts.len(), 1, "the result applied to the attempt that ran, no second one");
    assert_eq!(slow.outputs.as_ref().and_then(|o| o.get("code")).and_then(|c| c.as_i64()), Some(200), "{slow:?}");
    assert_eq!((effects.count("block/slow"), effects.count("hit/after")), (1, 1), "each task ran once");
    // a later sweep finds nothing to do
    let report = sweep::sweep(&engine, "test-sweeper", lease).await.expect("sweep");
    assert!(report.republished.is_empty() && report.executions == 0, "{report:?}");

    // 2. CREATED: the job ran (its claim closed with its result) but neither its
    //    start nor its result arrived; the job itself was swallowed here
    cluster.relay.route(&tasks, &format!("{}/hit/sink", effects.url));
    let created = cluster.launch("test.functions", "lost_worker", json!({"server": effects.url})).await;
    effects.wait_count("hit/sink", 1).await;
    cluster.relay.idle().await;
    cluster.relay.route(&tasks, &cluster.worker.url);
    let before = until_run(&cluster, &created, "before", StateType::Created).await;
    assert_eq!(before.attempts.len(), 1, "dispatched once");
    let now = chrono::Utc::now();
    let kept = json!({
        "state": "SUCCESS", "outputs": {"code": 200, "body": "kept"},
        "start": now.to_rfc3339(), "end": now.to_rfc3339(),
    })
    .to_string();
    engine.state.claim(&before.id, 1, "gone-0", now + lease).await.expect("claim");
    engine.state.finish_claim_with(&before.id, 1, &kept).await.expect("finish");

    // younger than a lease: its messages may still be on their way
    let report = sweep::sweep(&engine, "test-sweeper", lease).await.expect("sweep");
    assert!(report.republished.is_empty() && report.resent.is_empty(), "{report:?}");
    tokio::time::sleep(lease.to_std().expect("lease") + Duration::from_millis(300)).await;
    let report = sweep::sweep(&engine, "test-sweeper", lease).await.expect("sweep");
    assert_eq!(report.republished, vec![(before.id.clone(), 1)], "{report:?}");
    assert!(report.resent.is_empty(), "the kept result is sent, not the job: {report:?}");
    let exec = cluster.wait(&created).await;
    assert_eq!(exec.state.current, StateType::Success, "{:?}", exec.error);
    let before = run_of(&exec, "before").expect("before");
    assert_eq!(before.outputs.as_ref().and_then(|o| o.get("body")).and_then(|b| b.as_str()), Some("kept"));
    assert_eq!(effects.count("hit/before"), 1, "the task was not run again (only the first execution's)");
    assert_eq!(effects.count("hit/after"), 2, "both executions went on");
}
