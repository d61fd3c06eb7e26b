//! Flow concurrency under a burst: never more than `limit` executions
//! RUNNING at once, every QUEUED one finishes, FIFO order, FAIL rejects.

use std::collections::HashMap;

use serde_json::json;
use shared::model::StateType;
use shared::runtime::launcher::LaunchRequest;

use crate::support::harness;

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
    let mut running: HashMap<String, bool> = HashMap::new();
    let mut max = 0;
    let mut started_order = Vec::new();
    let mut ended = 0;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    while ended < ids.len() {
        let u = tokio::time::timeout_at(deadline, updates.recv()).await.expect("timely").expect("feed");
        let now_running = u.state == StateType::Running;
        let was = running.insert(u.execution_id.clone(), now_running).unwrap_or(false);
        if now_running && !was && !started_order.contains(&u.execution_id) {
            started_order.push(u.execution_id.clone());
        }
        if u.state.is_terminal() {
            ended += 1;
        }
        max = max.max(running.values().filter(|r| **r).count());
    }
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
