//! The Cloud Run functions over HTTP with real Pub/Sub push envelopes:
//! outcomes (ack, redelivery), OIDC verification against a local JWKS,
//! at-least-once delivery (every message twice, out of order; a worker
//! killed mid-task), the sweep, the API, graceful shutdown. The functions
//! run on local backends, wired by the push relay (`e2e::functions`).

mod flow_triggers;
mod for_each_item;
mod graph;
mod idle;
mod inputs;
mod logs;
mod lost_results;
mod oidc;
mod pubsub;
mod replay;
mod webhook;

use std::sync::Arc;
use std::time::Duration;

use e2e::functions::{Cluster, ClusterOptions, Effects, WorkerInstance, push};
use serde_json::{Value, json};
use shared::backend::Topic;
use shared::functions::relay::RelayOptions;
use shared::functions::scheduler::{BackfillRequest, ScheduleFailure, Schedules, TickRequest};
use shared::functions::{FunctionOptions, Handler, sweep};
use shared::model::{Execution, StateType};

const NS: &str = "test.functions";

/// Every kind of step, each side effect counted per execution (`tag`).
const AT_LEAST_ONCE: &str = r#"
id: at_least_once
namespace: test.functions
inputs:
  - id: server
    type: STRING
  - id: tag
    type: STRING
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: "hello {{ inputs.tag }}"
  - id: first
    type: io.kestra.plugin.core.http.Request
    uri: "{{ inputs.server }}/hit/{{ inputs.tag }}/first"
  - id: remember
    type: io.kestra.plugin.core.kv.Set
    key: "last_{{ inputs.tag }}"
    value: "{{ inputs.tag }}"
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["a", "b", "c", "d", "e"]
    concurrencyLimit: 0
    tasks:
      - id: item
        type: io.kestra.plugin.core.http.Request
        uri: "{{ inputs.server }}/hit/{{ inputs.tag }}/item-{{ taskrun.value }}"
  - id: flaky
    type: io.kestra.plugin.core.http.Request
    uri: "{{ inputs.server }}/flaky/{{ inputs.tag }}/flaky"
    retry:
      type: constant
      interval: PT0.05S
      maxAttempts: 3
  - id: check
    type: io.kestra.plugin.core.flow.If
    condition: "{{ kv('last_' ~ inputs.tag) == inputs.tag }}"
    then:
      - id: confirmed
        type: io.kestra.plugin.core.http.Request
        uri: "{{ inputs.server }}/hit/{{ inputs.tag }}/then"
  - id: out
    type: io.kestra.plugin.core.output.OutputValues
    values:
      items: "{{ outputs.item | length }}"
"#;

const FAILING: &str = r#"
id: failing
namespace: test.functions
inputs:
  - id: server
    type: STRING
  - id: tag
    type: STRING
tasks:
  - id: boom
    type: io.kestra.plugin.core.http.Request
    uri: "{{ inputs.server }}/fail/{{ inputs.tag }}/boom"
errors:
  - id: on_error
    type: io.kestra.plugin.core.http.Request
    uri: "{{ inputs.server }}/hit/{{ inputs.tag }}/on_error"
"#;

/// A task that hangs on its first attempt (the worker is killed there).
fn lost_worker_flow(retry: bool) -> String {
    let retry =
        if retry { "\n    retry:\n      type: constant\n      interval: PT0.1S\n      maxAttempts: 3" } else { "" };
    format!(
        r#"
id: lost_worker
namespace: test.functions
inputs:
  - id: server
    type: STRING
tasks:
  - id: before
    type: io.kestra.plugin.core.http.Request
    uri: "{{{{ inputs.server }}}}/hit/before"
  - id: slow
    type: io.kestra.plugin.core.http.Request
    uri: "{{{{ inputs.server }}}}/block/slow"{retry}
  - id: after
    type: io.kestra.plugin.core.http.Request
    uri: "{{{{ inputs.server }}}}/hit/after"
"#
    )
}

fn runs_of<'a>(e: &'a Execution, task: &str) -> Vec<&'a shared::model::TaskRun> {
    e.task_run_list.iter().filter(|t| t.task_id == task).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_message_delivered_twice_and_out_of_order_runs_each_task_once() {
    let effects = Effects::start().await;
    let cluster = Cluster::start(ClusterOptions {
        relay: RelayOptions {
            duplicate: true,
            shuffle_seed: Some(42),
            gather: Duration::from_millis(3),
            ..RelayOptions::default()
        },
        flows: vec![("ok.yaml".into(), AT_LEAST_ONCE.into()), ("failing.yaml".into(), FAILING.into())],
        ..ClusterOptions::default()
    })
    .await;
    let ok_tags = ["t0", "t1", "t2", "t3"];
    let failing_tags = ["f0", "f1"];
    let mut ids = Vec::new();
    for tag in ok_tags {
        ids.push((tag, cluster.launch(NS, "at_least_once", json!({"server": effects.url, "tag": tag})).await));
    }
    for tag in failing_tags {
        ids.push((tag, cluster.launch(NS, "failing", json!({"server": effects.url, "tag": tag})).await));
    }
    let mut ended = Vec::new();
    for (tag, id) in &ids {
        ended.push((*tag, cluster.wait(id).await));
    }
    // let every late duplicate arrive before counting side effects
    cluster.relay.idle().await;

    for (tag, exec) in &ended {
        if tag.starts_with('t') {
            assert_eq!(exec.state.current, StateType::Success, "{tag}: {:?}", exec.error);
            for (task, n) in [("hello", 1), ("first", 1), ("remember", 1), ("each", 1), ("item", 5), ("flaky", 1)] {
                assert_eq!(runs_of(exec, task).len(), n, "{tag}: task runs of {task}");
            }
            assert_eq!(runs_of(exec, "flaky")[0].attempts.len(), 2, "{tag}: flaky failed once, then succeeded");
            assert_eq!(runs_of(exec, "confirmed").len(), 1, "{tag}: If took the then branch once");
            let out = runs_of(exec, "out")[0].outputs.clone().unwrap_or_default();
            let items = &out["values"]["items"];
            assert!(
                *items == json!(5) || *items == json!("5"),
                "{tag}: outputs of the ForEach reached OutputValues: {out:?}"
            );
            for key in ["first", "item-a", "item-b", "item-c", "item-d", "item-e", "then"] {
                assert_eq!(effects.count(&format!("hit/{tag}/{key}")), 1, "{tag}: {key} ran exactly once");
            }
            assert_eq!(effects.count(&format!("flaky/{tag}/flaky")), 2, "{tag}: one request per attempt");
        } else {
            assert_eq!(exec.state.current, StateType::Failed, "{tag}");
            assert_eq!(effects.count(&format!("fail/{tag}/boom")), 1, "{tag}: boom ran once (no retry)");
            assert_eq!(effects.count(&format!("hit/{tag}/on_error")), 1, "{tag}: the errors branch ran once");
        }
        for tr in &exec.task_run_list {
            assert!(tr.state.is_terminal(), "{tag}: {} ended", tr.task_id);
        }
    }
    assert_eq!(effects.all().values().sum::<u32>(), 4 * 9 + 2 * 2, "no side effect beyond those: {:?}", effects.all());
    let stats = cluster.relay.stats();
    assert!(stats.pushed >= 2 * stats.published, "every message pushed twice: {stats:?}");
    assert_eq!(stats.dropped, 0, "{stats:?}");
    // the KV written by the worker function is visible through the API function
    let kv: Value = cluster
        .http
        .get(format!("{}api/v1/namespaces/{NS}/kv/last_t2", cluster.api.url))
        .send()
        .await
        .expect("kv get")
        .json()
        .await
        .expect("kv json");
    // 1.x's {type, value}, and 2.0's revision and update time beside them
    assert_eq!((&kv["type"], &kv["value"], &kv["revision"]), (&json!("STRING"), &json!("t2"), &json!(1)), "{kv}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worker_killed_mid_task_loses_the_attempt_and_the_retry_policy_runs_it_again() {
    let effects = Effects::start().await;
    let cluster = Cluster::start(ClusterOptions {
        // the redelivery comes after the dead worker's lease (1 s) has expired
        relay: RelayOptions { retry_after: Duration::from_millis(2500), ..RelayOptions::default() },
        flows: vec![("lost.yaml".into(), lost_worker_flow(true))],
        ..ClusterOptions::default()
    })
    .await;
    let doomed = WorkerInstance::start(&cluster.backends, "doomed", chrono::Duration::seconds(1));
    let tasks = Topic::Tasks("core".into()).name();
    cluster.relay.route(&tasks, &doomed.url);

    let id = cluster.launch(NS, "lost_worker", json!({"server": effects.url})).await;
    effects.wait_count("block/slow", 1).await;
    doomed.kill();
    cluster.relay.route(&tasks, &cluster.worker.url);
    let exec = cluster.wait(&id).await;

    assert_eq!(exec.state.current, StateType::Success, "{:?}", exec.error);
    let slow = runs_of(&exec, "slow");
    assert_eq!(slow.len(), 1);
    let attempts: Vec<StateType> = slow[0].attempts.iter().map(|a| a.state.current).collect();
    assert_eq!(attempts, [StateType::Failed, StateType::Success], "the lost attempt failed, the retry succeeded");
    assert_eq!(effects.count("hit/before"), 1);
    assert_eq!(effects.count("block/slow"), 2, "one request per attempt");
    assert_eq!(effects.count("hit/after"), 1);
    let logs = cluster.logs(&id).await;
    assert!(
        logs.iter().any(|l| l.contains("'slow' attempt 1 was lost: worker doomed-")),
        "the loss is logged with the dead worker: {logs:?}"
    );
    effects.release();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_kill_stops_the_task_running_on_another_instance_within_a_heartbeat() {
    let effects = Effects::start().await;
    // the worker renews its lease every second: the kill is seen within one
    let cluster = Cluster::start(ClusterOptions {
        lease: chrono::Duration::seconds(3),
        flows: vec![("lost.yaml".into(), lost_worker_flow(false))],
        ..ClusterOptions::default()
    })
    .await;
    let id = cluster.launch(NS, "lost_worker", json!({"server": effects.url})).await;
    effects.wait_count("block/slow", 1).await;
    let killed = cluster
        .http
        .delete(format!("{}api/v1/executions/{id}/kill", cluster.api.url))
        .send()
        .await
        .expect("kill")
        .status();
    assert!(killed.is_success(), "kill answered {killed}");
    let exec = cluster.wait(&id).await;
    assert_eq!(exec.state.current, StateType::Killed);
    // the worker is another process (its own engine): only the closed claim tells it
    let logs = e2e::functions::wait_for(Duration::from_secs(10), "the worker to stop the killed task", || async {
        let logs = cluster.logs(&id).await;
        logs.iter().any(|l| l.contains("no longer this worker's")).then_some(logs)
    })
    .await;
    assert!(logs.iter().any(|l| l.contains("the task was stopped")), "{logs:?}");
    effects.release();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(effects.count("hit/after"), 0, "nothing ran after the kill");
    let slow = runs_of(&cluster.execution(&id).await, "slow")[0].clone();
    assert_eq!(slow.state.current, StateType::Killed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_sweep_fails_an_attempt_whose_worker_died_after_its_duplicate_was_acked() {
    let effects = Effects::start().await;
    let cluster = Cluster::start(ClusterOptions {
        // redelivered at once: the dead worker's lease (2 s) is still live, so the copy is acked
        relay: RelayOptions { retry_after: Duration::from_millis(10), ..RelayOptions::default() },
        flows: vec![("lost.yaml".into(), lost_worker_flow(false))],
        ..ClusterOptions::default()
    })
    .await;
    let lease = chrono::Duration::seconds(2);
    let doomed = WorkerInstance::start(&cluster.backends, "doomed", lease);
    let tasks = Topic::Tasks("core".into()).name();
    cluster.relay.route(&tasks, &doomed.url);

    let id = cluster.launch(NS, "lost_worker", json!({"server": effects.url})).await;
    effects.wait_count("block/slow", 1).await;
    // a sweep while the worker is alive leaves its attempt alone
    let engine = cluster.backends.engine();
    let report = sweep::sweep(&engine, "test-sweeper", lease).await.expect("sweep");
    assert!(report.lost.is_empty(), "a live lease is not lost: {report:?}");
    assert_eq!(report.executions, 1);

    doomed.kill();
    cluster.relay.route(&tasks, &cluster.worker.url);
    cluster.relay.idle().await;
    let exec = cluster.execution(&id).await;
    assert_eq!(exec.state.current, StateType::Running, "the duplicate was acked and changed nothing");
    assert_eq!(effects.count("block/slow"), 1, "the duplicate did not run the task");

    tokio::time::sleep(lease.to_std().expect("lease") + Duration::from_millis(300)).await;
    let status = push(&cluster.http, &cluster.scheduler.url, br#"{"type":"sweep"}"#, None).await;
    assert_eq!(status, 204);
    let exec = cluster.wait(&id).await;
    assert_eq!(exec.state.current, StateType::Failed, "no retry policy: the lost attempt fails the task");
    let slow = runs_of(&exec, "slow")[0];
    assert_eq!(slow.state.current, StateType::Failed);
    let err = slow.error.clone().unwrap_or_default();
    assert!(err.contains("attempt 1 was lost: worker doomed-") && err.contains("stopped renewing its lease"), "{err}");
    assert_eq!((effects.count("hit/before"), effects.count("block/slow"), effects.count("hit/after")), (1, 1, 0));
    effects.release();
}

/// The job of an attempt that never started is lost: swallowed by a push
/// endpoint that acks it (as after an executor died between saving the
/// execution and publishing, or a worker that claimed the attempt and died
/// before starting it while its duplicates were acked). The sweep asks for
/// it again once it waited longer than a lease: unclaimed, it runs; claimed
/// by a dead worker, its expired lease reports it lost (and the task's retry
/// policy decides: here there is none).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_sweep_sends_again_a_job_that_never_started() {
    let effects = Effects::start().await;
    let cluster = Cluster::start(ClusterOptions {
        relay: RelayOptions { retry_after: Duration::from_millis(10), ..RelayOptions::default() },
        flows: vec![("lost.yaml".into(), lost_worker_flow(true))],
        ..ClusterOptions::default()
    })
    .await;
    let lease = chrono::Duration::seconds(2);
    let tasks = Topic::Tasks("core".into()).name();
    cluster.relay.route(&tasks, &format!("{}/hit/sink", effects.url));
    let engine = cluster.backends.engine();

    let free = cluster.launch(NS, "lost_worker", json!({"server": effects.url})).await;
    let claimed = cluster.launch(NS, "lost_worker", json!({"server": effects.url})).await;
    effects.wait_count("hit/sink", 2).await;
    cluster.relay.idle().await;
    let before_of = |e: &Execution| runs_of(e, "before")[0].clone();
    let (exec, tr) = loop {
        let exec = cluster.execution(&claimed).await;
        if exec.task_run_list.iter().any(|t| t.task_id == "before") {
            break (exec.clone(), before_of(&exec));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(exec.state.current, StateType::Running);
    assert_eq!(tr.attempts.last().map(|a| a.state.current), Some(StateType::Created), "dispatched, never started");
    // a worker that claimed the attempt and died before reporting its start
    let ghost_lease = chrono::Utc::now() + lease;
    engine.state.claim(&tr.id, 1, "ghost-0", ghost_lease).await.expect("ghost claim");
    cluster.relay.route(&tasks, &cluster.worker.url);

    // younger than a lease: a job in a slow queue is left alone
    let report = sweep::sweep(&engine, "test-sweeper", lease).await.expect("sweep");
    assert!(report.resent.is_empty() && report.lost.is_empty(), "{report:?}");
    cluster.relay.idle().await;
    assert_eq!(cluster.execution(&free).await.state.current, StateType::Running, "nothing was sent again");

    tokio::time::sleep(lease.to_std().expect("lease") + Duration::from_millis(300)).await;
    let report = sweep::sweep(&engine, "test-sweeper", lease).await.expect("sweep");
    assert_eq!(report.resent.len(), 2, "{report:?}");
    assert!(report.lost.is_empty(), "{report:?}");
    effects.wait_count("block/slow", 1).await;
    effects.release();
    let (free, claimed) = (cluster.wait(&free).await, cluster.wait(&claimed).await);

    assert_eq!(free.state.current, StateType::Success, "{:?}", free.error);
    let attempts: Vec<StateType> = before_of(&free).attempts.iter().map(|a| a.state.current).collect();
    assert_eq!(attempts, [StateType::Success], "the unclaimed job ran as its own attempt");
    // `before` has no retry policy: the dead worker's attempt fails the task
    assert_eq!(claimed.state.current, StateType::Failed);
    let attempts: Vec<StateType> = before_of(&claimed).attempts.iter().map(|a| a.state.current).collect();
    assert_eq!(attempts, [StateType::Failed], "the dead worker's attempt was reported lost");
    let err = before_of(&claimed).error.clone().unwrap_or_default();
    assert!(err.contains("'before' attempt 1 was lost: worker ghost-0"), "{err}");
    assert_eq!(effects.count("hit/before"), 1, "the lost attempt never ran; the free one ran once");
    assert_eq!((effects.count("block/slow"), effects.count("hit/after")), (1, 1));
}

/// `git.SyncFlows` run by the worker function writes flows where the api
/// function reads them (the same flow source), and the executor runs them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sync_flows_on_the_worker_lands_where_the_api_reads_flows() {
    let root = std::env::temp_dir().join(format!("baton-fn-git-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&root).expect("repos");
    let hello =
        "id: hello\nnamespace: dev\ntasks:\n  - id: say\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n";
    e2e::git_http::make_repo(&root, "flows", "main", &[("_flows/hello.yml", hello)]);
    let git = e2e::git_http::serve_git(&root, None);
    let sync = format!(
        "id: sync\nnamespace: {NS}\ntasks:\n  - id: git\n    type: io.kestra.plugin.git.SyncFlows\n    url: {}/flows.git\n    targetNamespace: {NS}\n",
        git.base
    );
    let cluster =
        Cluster::start(ClusterOptions { flows: vec![("sync.yaml".into(), sync)], ..ClusterOptions::default() }).await;
    let id = cluster.launch(NS, "sync", json!({})).await;
    let exec = cluster.wait(&id).await;
    assert_eq!(exec.state.current, StateType::Success, "{:?} {:?}", exec.error, cluster.logs(&id).await);
    let flow: Value = cluster
        .http
        .get(format!("{}api/v1/flows/{NS}/hello", cluster.api.url))
        .send()
        .await
        .expect("get flow")
        .json()
        .await
        .expect("flow json");
    assert_eq!((flow["id"].as_str(), flow["namespace"].as_str()), (Some("hello"), Some(NS)), "{flow}");
    let ran = cluster.launch(NS, "hello", json!({})).await;
    assert_eq!(cluster.wait(&ran).await.state.current, StateType::Success);
}

/// An execution saved CREATED whose `Created` event died with its launcher
/// (a scheduler killed mid-backfill) is woken by the sweep and runs; a
/// second launch of the same id announces it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_created_execution_whose_announcement_was_lost_runs_after_the_sweep() {
    let flow = "id: quiet\nnamespace: test.functions\ntasks:\n  - id: say\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n";
    let cluster =
        Cluster::start(ClusterOptions { flows: vec![("quiet.yaml".into(), flow.into())], ..ClusterOptions::default() })
            .await;
    let engine = cluster.backends.engine();
    let now = chrono::Utc::now();
    for id in ["lostannounce1", "lostannounce2"] {
        let mut e = Execution::new(id.into(), NS, "quiet", 1, Default::default(), vec![], now);
        e.version = 0;
        engine.state.create_execution(&e).await.expect("saved, never announced");
    }
    cluster.relay.idle().await;
    assert_eq!(cluster.execution("lostannounce1").await.state.current, StateType::Created);
    // the same launch again announces it
    let f = shared::runtime::flows::parse_flow("quiet.yaml", flow, &engine.registry, &engine.renderer).expect("flow");
    let req =
        shared::runtime::launcher::LaunchRequest { execution_id: Some("lostannounce2".into()), ..Default::default() };
    assert!(shared::runtime::launcher::launch(&engine, &f, req).await.is_err(), "it exists");
    assert_eq!(cluster.wait("lostannounce2").await.state.current, StateType::Success);
    // the sweep wakes the other
    let report = sweep::sweep(&engine, "test-sweeper", chrono::Duration::seconds(30)).await.expect("sweep");
    assert_eq!(report.waiting, 1, "{report:?}");
    assert_eq!(cluster.wait("lostannounce1").await.state.current, StateType::Success);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_and_malformed_messages_are_acked() {
    let cluster = Cluster::start(ClusterOptions::default()).await;
    let http = &cluster.http;
    for f in [&cluster.executor, &cluster.worker, &cluster.scheduler] {
        let health = http.get(format!("{}healthz", f.url)).send().await.expect("healthz");
        assert_eq!((health.status().as_u16(), health.text().await.expect("body")), (200, "ok".to_string()));
        // not an envelope, not JSON, bad base64, no data, unknown message types
        for body in [&b"not json"[..], br#"{"subscription":"s"}"#, br#"{"message":{"messageId":"1","data":"%%"}}"#] {
            let status = http.post(&f.url).body(body.to_vec()).send().await.expect("post").status();
            assert_eq!(status, 204, "{} acks {}", f.url, String::from_utf8_lossy(body));
        }
        for data in [&b""[..], b"{}", br#"{"type":"nope"}"#, b"[1,2]", b"\xff\xfe"] {
            assert_eq!(push(http, &f.url, data, None).await, 204, "{} acks {:?}", f.url, String::from_utf8_lossy(data));
        }
    }
    // well-formed, but about nothing that exists
    let wake = br#"{"type":"wake","executionId":"nope"}"#;
    assert_eq!(push(http, &cluster.executor.url, wake, None).await, 204);
    let job = json!({
        "executionId": "nope", "taskRunId": "nope-tr", "attempt": 1, "namespace": NS, "flowId": "f",
        "flowRevision": 1, "task": {"id": "t", "type": "io.kestra.plugin.core.nope.Nope", "props": {}}, "context": {}
    });
    assert_eq!(push(http, &cluster.worker.url, job.to_string().as_bytes(), None).await, 204);
    // the job of an unknown type ran as a failure and was reported; a duplicate is acked without running
    assert_eq!(push(http, &cluster.worker.url, job.to_string().as_bytes(), None).await, 204);
    cluster.relay.idle().await;
}

/// A schedule engine that records what it was asked.
#[derive(Default)]
struct RecordingSchedules {
    ticks: std::sync::Mutex<Vec<(TickRequest, chrono::DateTime<chrono::Utc>)>>,
    backfills: std::sync::Mutex<Vec<BackfillRequest>>,
}

#[async_trait::async_trait]
impl Schedules for RecordingSchedules {
    async fn tick(&self, t: &TickRequest, at: chrono::DateTime<chrono::Utc>) -> Result<Vec<String>, ScheduleFailure> {
        if t.flow_id == "down" {
            return Err(ScheduleFailure::Transient("store unavailable".into()));
        }
        if t.flow_id == "unknown" {
            return Err(ScheduleFailure::Invalid("no such flow".into()));
        }
        self.ticks.lock().expect("lock").push((t.clone(), at));
        Ok(vec!["e1".into()])
    }
    async fn backfill(&self, b: &BackfillRequest) -> Result<String, ScheduleFailure> {
        self.backfills.lock().expect("lock").push(b.clone());
        Ok("b1".into())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduler_messages_reach_the_schedule_engine() {
    let schedules = Arc::new(RecordingSchedules::default());
    let cluster = Cluster::start(ClusterOptions {
        schedules: Some(schedules.clone() as Arc<dyn Schedules>),
        ..ClusterOptions::default()
    })
    .await;
    let http = &cluster.http;
    let url = &cluster.scheduler.url;
    // Cloud Scheduler's payload: the tick's date comes from the publish time
    let tick = br#"{"type":"tick","namespace":"zoomcamp","flowId":"taxi","triggerId":"monthly"}"#;
    assert_eq!(push(http, url, tick, None).await, 204);
    assert_eq!(push(http, url, br#"{"type":"tick","namespace":"n","flowId":"down","triggerId":"t"}"#, None).await, 503);
    assert_eq!(
        push(http, url, br#"{"type":"tick","namespace":"n","flowId":"unknown","triggerId":"t"}"#, None).await,
        204
    );
    let backfill = json!({"type": "backfill", "namespace": "zoomcamp", "flowId": "taxi", "triggerId": "monthly",
        "start": "2019-01-01T00:00:00Z", "end": "2019-12-31T00:00:00Z", "inputs": {"taxi": "green"},
        "labels": [{"key": "backfill", "value": "true"}]});
    assert_eq!(push(http, url, backfill.to_string().as_bytes(), None).await, 204);
    // the API starts backfills through the same engine, also with Kestra's body
    let resp = http.post(format!("{}api/v1/backfills", cluster.api.url)).json(&backfill).send().await.expect("post");
    assert_eq!(resp.status(), 202);
    let kestra = json!({"namespace": "zoomcamp", "flowId": "taxi", "triggerId": "monthly",
        "backfill": {"start": "2019-01-01T00:00:00Z", "end": null, "inputs": {}, "labels": []}});
    let resp = http.put(format!("{}api/v1/main/triggers", cluster.api.url)).json(&kestra).send().await.expect("put");
    assert_eq!(resp.status(), 202);

    let ticks = schedules.ticks.lock().expect("lock").clone();
    assert_eq!(ticks.len(), 1);
    assert_eq!(
        (ticks[0].0.flow_id.as_str(), ticks[0].0.trigger_id.as_str(), ticks[0].0.date),
        ("taxi", "monthly", None)
    );
    let backfills = schedules.backfills.lock().expect("lock").clone();
    assert_eq!(backfills.len(), 3);
    assert_eq!(backfills[0].inputs["taxi"], "green");
    assert_eq!(backfills[0].labels[0].key, "backfill");
    assert_eq!(backfills[2].end, None);
    assert!(backfills[2].rerun_successful, "Kestra's backfill re-runs every tick");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_schedule_engine_ticks_stay_on_the_topic() {
    let cluster = Cluster::start(ClusterOptions::default()).await;
    // a scheduler deployed without a trigger store
    let router =
        shared::functions::router(Handler::Scheduler, cluster.backends.engine(), &FunctionOptions::unauthenticated())
            .await;
    let scheduler = e2e::functions::serve(router).await;
    let tick = br#"{"type":"tick","namespace":"n","flowId":"f","triggerId":"t"}"#;
    assert_eq!(push(&cluster.http, &scheduler.url, tick, None).await, 503, "redelivered, then dead-lettered");
    assert_eq!(push(&cluster.http, &scheduler.url, br#"{"type":"sweep"}"#, None).await, 204);
}

fn scheduled_flow(server: &str) -> String {
    format!(
        r#"
id: scheduled
namespace: test.functions
inputs:
  - id: server
    type: STRING
  - id: kind
    type: STRING
    defaults: tick
triggers:
  - id: monthly
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 9 1 * *"
    inputs:
      server: "{server}"
tasks:
  - id: hit
    type: io.kestra.plugin.core.http.Request
    uri: "{{{{ inputs.server }}}}/hit/{{{{ inputs.kind }}}}/{{{{ trigger.date | date('yyyy-MM') }}}}"
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ticks_and_backfills_run_once_each_through_the_scheduler_function() {
    let effects = Effects::start().await;
    let cluster = Cluster::start(ClusterOptions {
        flows: vec![("scheduled.yaml".into(), scheduled_flow(&effects.url))],
        ..ClusterOptions::default()
    })
    .await;
    let (http, url) = (&cluster.http, &cluster.scheduler.url);
    let state = cluster.backends.state.clone();
    let executions = || {
        let state = state.clone();
        async move {
            let filter = shared::backend::ExecutionFilter { flow_id: Some("scheduled".into()), ..Default::default() };
            shared::backend::StateStore::list_executions(state.as_ref(), &filter).await.expect("list")
        }
    };

    // a tick with its date, delivered twice: one execution
    let tick = br#"{"type":"tick","namespace":"test.functions","flowId":"scheduled","triggerId":"monthly","date":"2024-05-01T09:00:00Z"}"#;
    assert_eq!(push(http, url, tick, None).await, 204);
    assert_eq!(push(http, url, tick, None).await, 204);
    let ticked = executions().await;
    assert_eq!(ticked.len(), 1, "a duplicate tick creates nothing");
    let exec = cluster.wait(&ticked[0].id).await;
    assert_eq!(exec.state.current, StateType::Success);
    assert_eq!(exec.trigger.as_ref().map(|t| t.id.as_str()), Some("monthly"));
    assert_eq!(effects.count("hit/tick/2024-05"), 1);

    // Cloud Scheduler's tick carries no date: the trigger is evaluated at the publish time
    let published = chrono::DateTime::parse_from_rfc3339("2024-06-01T09:00:00.250Z").expect("date").to_utc();
    let bare = br#"{"type":"tick","namespace":"test.functions","flowId":"scheduled","triggerId":"monthly"}"#;
    assert_eq!(e2e::functions::push_at(http, url, bare, None, published).await, 204);
    assert_eq!(e2e::functions::push_at(http, url, bare, None, published).await, 204);
    let after = executions().await;
    let june: Vec<_> = after.iter().filter(|e| !ticked.iter().any(|t| t.id == e.id)).collect();
    assert!(june.len() <= 1, "at most the June tick: {after:?}");
    for e in &june {
        let e = cluster.wait(&e.id).await;
        assert_eq!(e.schedule_date.map(|d| d.to_rfc3339()), Some("2024-06-01T09:00:00+00:00".to_string()));
    }

    // a backfill over three months, its message delivered twice
    let backfill = json!({"type": "backfill", "namespace": NS, "flowId": "scheduled", "triggerId": "monthly",
        "start": "2019-01-01", "end": "2019-03-31", "inputs": {"kind": "backfill"},
        "labels": [{"key": "backfill", "value": "true"}]});
    assert_eq!(push(http, url, backfill.to_string().as_bytes(), None).await, 204);
    assert_eq!(push(http, url, backfill.to_string().as_bytes(), None).await, 204);
    for month in ["2019-01", "2019-02", "2019-03"] {
        effects.wait_count(&format!("hit/backfill/{month}"), 1).await;
    }
    let all = executions().await;
    let backfilled: Vec<Execution> = {
        let mut v = Vec::new();
        for e in &all {
            let e = cluster.wait(&e.id).await;
            if e.labels.iter().any(|l| l.key == "backfill") {
                v.push(e);
            }
        }
        v
    };
    assert_eq!(backfilled.len(), 3, "one execution per tick, whatever the duplicates");
    assert!(backfilled.iter().all(|e| e.state.current == StateType::Success));
    for month in ["2019-01", "2019-02", "2019-03"] {
        assert_eq!(effects.count(&format!("hit/backfill/{month}")), 1, "{month} ran once");
    }
    // the sweep finds nothing left to do
    assert_eq!(push(http, url, br#"{"type":"sweep"}"#, None).await, 204);
    assert_eq!(executions().await.len(), all.len());
    // unknown flows and triggers are acked, not retried
    let unknown = br#"{"type":"tick","namespace":"test.functions","flowId":"scheduled","triggerId":"nope"}"#;
    assert_eq!(push(http, url, unknown, None).await, 204);
    let unknown = br#"{"type":"tick","namespace":"test.functions","flowId":"nope","triggerId":"monthly"}"#;
    assert_eq!(push(http, url, unknown, None).await, 204);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_starts_and_shows_executions_and_serves_the_kv_store() {
    let effects = Effects::start().await;
    let disabled = "id: off\nnamespace: test.functions\ndisabled: true\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: x\n";
    let cluster = Cluster::start(ClusterOptions {
        flows: vec![("ok.yaml".into(), AT_LEAST_ONCE.into()), ("off.yaml".into(), disabled.into())],
        ..ClusterOptions::default()
    })
    .await;
    let http = &cluster.http;
    let api = &cluster.api.url;
    // inputs as a form, labels in the query, as Kestra's API takes them
    let resp = http
        .post(format!("{api}api/v1/executions/{NS}/at_least_once?labels=env:test&labels=team:data"))
        .form(&[("server", effects.url.as_str()), ("tag", "api")])
        .send()
        .await
        .expect("start");
    assert_eq!(resp.status(), 200);
    let started: Value = resp.json().await.expect("json");
    let id = started["id"].as_str().expect("id").to_string();
    assert_eq!(started["state"]["current"], "CREATED");
    let exec = cluster.wait(&id).await;
    assert_eq!(exec.state.current, StateType::Success);
    let shown: Value =
        http.get(format!("{api}api/v1/executions/{id}")).send().await.expect("get").json().await.expect("json");
    assert_eq!(shown["state"]["current"], "SUCCESS");
    assert_eq!(shown["flowId"], "at_least_once");
    let labels = shown["labels"].as_array().expect("labels");
    assert!(
        labels.contains(&json!({"key": "env", "value": "test"}))
            && labels.contains(&json!({"key": "team", "value": "data"}))
    );

    let status = |path: String| {
        let http = http.clone();
        async move { http.post(path).json(&json!({})).send().await.expect("post").status().as_u16() }
    };
    assert_eq!(status(format!("{api}api/v1/executions/{NS}/nope")).await, 404);
    assert_eq!(status(format!("{api}api/v1/executions/{NS}/off")).await, 409);
    assert_eq!(status(format!("{api}api/v1/executions/{NS}/at_least_once")).await, 422, "required inputs missing");
    assert_eq!(http.get(format!("{api}api/v1/executions/nope")).send().await.expect("get").status(), 404);

    let kv = format!("{api}api/v1/main/namespaces/{NS}/kv");
    let put = http.put(format!("{kv}/answer")).body("42").send().await.expect("put");
    assert_eq!(put.status(), 200);
    let put = http.put(format!("{kv}/creds")).header("ttl", "PT1H").body(r#"{"user":"u"}"#).send().await.expect("put");
    assert_eq!(put.status(), 200);
    let got: Value = http.get(format!("{kv}/answer")).send().await.expect("get").json().await.expect("json");
    assert_eq!((&got["type"], &got["value"]), (&json!("NUMBER"), &json!(42)), "{got}");
    let got: Value = http.get(format!("{kv}/creds")).send().await.expect("get").json().await.expect("json");
    assert_eq!((&got["type"], &got["value"]), (&json!("JSON"), &json!({"user": "u"})), "{got}");
    let listed: Value = http.get(&kv).send().await.expect("list").json().await.expect("json");
    let keys: Vec<&str> = listed.as_array().expect("list").iter().filter_map(|e| e["key"].as_str()).collect();
    assert!(keys.contains(&"answer") && keys.contains(&"creds") && keys.contains(&"last_api"), "{keys:?}");
    assert_eq!(http.delete(format!("{kv}/answer")).send().await.expect("delete").text().await.expect("body"), "true");
    assert_eq!(http.get(format!("{kv}/answer")).send().await.expect("get").status(), 404);
    assert_eq!(http.put(format!("{kv}/-bad")).body("1").send().await.expect("put").status(), 422);
    assert_eq!(http.put(format!("{kv}/k")).header("ttl", "soon").body("1").send().await.expect("put").status(), 422);
    effects.release();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_waits_for_the_task_in_flight() {
    let effects = Effects::start().await;
    let cluster = Cluster::start(ClusterOptions {
        flows: vec![("lost.yaml".into(), lost_worker_flow(false))],
        ..ClusterOptions::default()
    })
    .await;
    // a worker function of our own, stopped while its task hangs
    let router =
        shared::functions::router(Handler::Worker, cluster.backends.engine(), &FunctionOptions::unauthenticated())
            .await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/", listener.local_addr().expect("addr"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let limits = shared::functions::server::function_limits();
    let server = tokio::spawn(shared::functions::server::serve(listener, router, limits, async move {
        let _ = stopped.await;
    }));
    let tasks = Topic::Tasks("core".into()).name();
    cluster.relay.route(&tasks, &url);
    let id = cluster.launch(NS, "lost_worker", json!({"server": effects.url})).await;
    effects.wait_count("block/slow", 1).await;
    // SIGTERM: stop accepting, finish what is in flight
    let _ = stop.send(());
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!server.is_finished(), "the server waits for the request in flight");
    cluster.relay.route(&tasks, &cluster.worker.url);
    effects.release();
    server.await.expect("join").expect("graceful shutdown");
    let exec = cluster.wait(&id).await;
    assert_eq!(exec.state.current, StateType::Success, "the task in flight finished and was reported");
    assert_eq!((effects.count("block/slow"), effects.count("hit/after")), (1, 1));
}
