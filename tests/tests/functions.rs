//! The Cloud Run functions over HTTP with real Pub/Sub push envelopes:
//! outcomes (ack, redelivery), OIDC verification against a local JWKS,
//! at-least-once delivery (every message twice, out of order; a worker
//! killed mid-task), the sweep, graceful shutdown; the scheduler function
//! (`scheduler`) and the API (`api`) in their own modules. The functions
//! run on local backends, wired by the push relay (`e2e::functions`).

mod api;
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
mod scheduler;
mod webhook;

use std::time::Duration;

use e2e::functions::{Cluster, ClusterOptions, Effects, WorkerInstance, push};
use serde_json::{Value, json};
use shared::backend::Topic;
use shared::functions::relay::RelayOptions;
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
            let out = runs_of(exec, "out")[0].outputs.as_deref().cloned().unwrap_or_default();
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
