//! Flow concurrency under a burst: never more than `limit` executions
//! RUNNING at once, every QUEUED one finishes, FIFO order, FAIL rejects.

use std::collections::HashMap;

use serde_json::json;
use shared::model::StateType;
use shared::runtime::engine::ExecutionUpdate;
use shared::runtime::launcher::LaunchRequest;

use crate::sched_support::OverlapProbe;
use crate::support::harness;

/// Follows `ids` until every one has ended (a minute at most, a failure
/// guard): the most of them RUNNING at once, and the order they first ran.
async fn follow(
    updates: &mut tokio::sync::broadcast::Receiver<ExecutionUpdate>,
    ids: &[String],
) -> (usize, Vec<String>) {
    let mut probe = OverlapProbe::new();
    let (mut started, mut ended) = (Vec::new(), 0);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    while ended < ids.len() {
        let u = tokio::time::timeout_at(deadline, updates.recv()).await.expect("timely").expect("feed");
        if !ids.contains(&u.execution_id) {
            continue;
        }
        probe.see(&u);
        if u.state == StateType::Running && !started.contains(&u.execution_id) {
            started.push(u.execution_id.clone());
        }
        if u.state.is_terminal() {
            ended += 1;
        }
    }
    (probe.max, started)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_never_exceeds_the_limit_and_drains_fifo() {
    let h = harness();
    let flow = h.flow(
        r#"
id: limited
namespace: test
concurrency:
  limit: 2
tasks:
  - id: work
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT0.1S
"#,
    );
    let mut updates = h.embedded.updates();
    let mut ids = Vec::new();
    for _ in 0..8 {
        ids.push(h.embedded.launch(&flow, LaunchRequest::default()).await.unwrap().id);
    }
    let (max, started_order) = follow(&mut updates, &ids).await;
    assert!(max <= 2, "at most 2 overlap, saw {max}");
    assert_eq!(max, 2);
    assert_eq!(started_order, ids, "queued executions start in FIFO order");
    for id in &ids {
        let e = h.embedded.engine.state.load_execution(id).await.unwrap().unwrap();
        assert_eq!(e.state.current, StateType::Success);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_behavior_rejects_with_kestras_message() {
    let h = harness();
    let flow = h.flow(
        r#"
id: strict
namespace: test
concurrency:
  behavior: FAIL
  limit: 1
tasks:
  - id: work
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT0.3S
"#,
    );
    let first = h.embedded.launch(&flow, LaunchRequest::default()).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let second = h.run_flow(&flow, json!({})).await;
    assert_eq!(second.state.current, StateType::Failed);
    assert_eq!(second.error.as_deref(), Some("Flow is FAILED due to concurrency limit exceeded"));
    let done = h.embedded.wait(&first.id, h.embedded.updates(), |_| {}).await.unwrap();
    assert_eq!(done.state.current, StateType::Success);
}

/// Waits (a failure guard, not a timing assertion) until `id` is in `state`.
async fn wait_state(h: &crate::support::Harness, id: &str, state: StateType) -> shared::model::Execution {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let e = h.embedded.engine.state.load_execution(id).await.unwrap().unwrap();
        if e.state.current == state {
            return e;
        }
        assert!(tokio::time::Instant::now() < deadline, "{id} never reached {state}, is {}", e.state.current);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_behavior_rejects_every_burst_not_only_the_first() {
    let h = harness();
    let flow = h.flow(
        r#"
id: cancelling
namespace: test
concurrency:
  behavior: CANCEL
  limit: 1
tasks:
  - id: work
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT0.3S
"#,
    );
    for burst in 0..2 {
        let mut updates = h.embedded.updates();
        let mut ids = Vec::new();
        for _ in 0..6 {
            ids.push(h.embedded.launch(&flow, LaunchRequest::default()).await.unwrap().id);
        }
        let (max, _) = follow(&mut updates, &ids).await;
        assert_eq!(max, 1, "burst {burst}: one at a time");
        let mut states = HashMap::new();
        for id in &ids {
            let e = h.embedded.engine.state.load_execution(id).await.unwrap().unwrap();
            if e.state.current == StateType::Cancelled {
                assert_eq!(e.error.as_deref(), Some("Flow is CANCELLED due to concurrency limit exceeded"));
            }
            *states.entry(e.state.current).or_insert(0) += 1;
        }
        assert_eq!(states.get(&StateType::Success), Some(&1), "burst {burst}: {states:?}");
        assert_eq!(states.get(&StateType::Cancelled), Some(&5), "burst {burst}: {states:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admitted_execution_holds_its_slot_until_it_ends_then_the_queued_one_runs() {
    let h = harness();
    let flow = h.flow(
        r#"
id: held_slot
namespace: test
concurrency:
  limit: 1
inputs:
  - id: sleep
    type: STRING
    defaults: PT0S
tasks:
  - id: work
    type: io.kestra.plugin.core.flow.Sleep
    duration: "{{ inputs.sleep }}"
"#,
    );
    let inputs = |d: &str| serde_json::Map::from_iter([("sleep".to_string(), json!(d))]);
    let first = h.embedded.launch(&flow, LaunchRequest { inputs: inputs("PT60S"), ..LaunchRequest::default() });
    let first = first.await.unwrap();
    wait_state(&h, &first.id, StateType::Running).await;
    let queued = h.embedded.launch(&flow, LaunchRequest::default()).await.unwrap();
    wait_state(&h, &queued.id, StateType::Queued).await;
    // the slot is in the flow's concurrency record, not counted from states
    let (_, slots) = h.embedded.engine.state.load_record("concurrency", "test:held_slot").await.unwrap().unwrap();
    assert_eq!(slots, json!({"running": [first.id.clone()], "queued": [queued.id.clone()]}));
    h.embedded.kill(&first.id).await.unwrap();
    wait_state(&h, &first.id, StateType::Killed).await;
    let done = wait_state(&h, &queued.id, StateType::Success).await;
    assert!(done.state.histories.iter().any(|s| s.state == StateType::Queued));
    let (_, slots) = h.embedded.engine.state.load_record("concurrency", "test:held_slot").await.unwrap().unwrap();
    assert_eq!(slots, json!({"running": [], "queued": []}), "every slot freed at the end");
}
