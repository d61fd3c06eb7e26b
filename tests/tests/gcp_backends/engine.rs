//! The engine on the GCP backends: the launcher, the executor service and
//! the workers in this process, every message delivered through Pub/Sub (a
//! streaming-pull subscription per topic on the emulator; messages handled
//! concurrently as Cloud Run would — except that events of one execution
//! take turns, see [`ExecutionLocks`] — acked on success, nacked for
//! redelivery on failure), state in Firestore, files in GCS. The same flows
//! run on the embedded runtime and must end the same way.
//!
//! `measure_gcp_path` (ignored; run it with `--ignored --nocapture`)
//! measures the per-task overhead of this path against the emulators.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use shared::backend::gcp::{GcpBackends, PubSubAdmin, PubSubPull};
use shared::backend::{StateStore, Topic};
use shared::executor::StepOptions;
use shared::model::{Execution, Flow, StateType};
use shared::runtime::engine::{Engine, EngineConfig};
use shared::runtime::executor::ExecutorService;
use shared::runtime::launcher::{self, LaunchRequest};
use shared::runtime::messages::{ExecutionEvent, WorkerJob};
use shared::runtime::worker::Worker;
use tokio::task::JoinHandle;

use super::gcp_backends;

/// The engine on GCP backends, fed by Pub/Sub streaming pull.
pub(super) struct GcpRuntime {
    pub(super) engine: Arc<Engine>,
    pub(super) backends: GcpBackends,
    loops: Vec<JoinHandle<()>>,
    /// Messages handled (events + jobs), and those nacked for redelivery.
    handled: Arc<AtomicU64>,
    nacked: Arc<AtomicU64>,
}

impl Drop for GcpRuntime {
    fn drop(&mut self) {
        for l in &self.loops {
            l.abort();
        }
    }
}

pub(super) async fn start(prefix: &str) -> GcpRuntime {
    let backends = gcp_backends(prefix).await;
    let work_root = std::env::temp_dir().join(format!("baton-gcp-work-{}", backends.config.project));
    let engine = Engine::new(EngineConfig {
        state: backends.state.clone(),
        kv: backends.state.clone(),
        storage: backends.storage.clone(),
        queue: backends.queue.clone(),
        registry: shared::plugins::Registry::builtin(),
        secrets: Default::default(),
        envs: Default::default(),
        work_root,
        plugins: Default::default(),
        echo_logs: false,
        progress: None,
        wiring: Default::default(),
    });
    let target = backends.config.pubsub_target();
    let admin = PubSubAdmin::connect(target.clone()).await.expect("Pub/Sub admin");
    let pull = Arc::new(PubSubPull::connect(target).await.expect("Pub/Sub subscriber"));
    let executor = Arc::new(ExecutorService::new(engine.clone()));
    let locks = Arc::new(ExecutionLocks::default());
    let (handled, nacked) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let mut topics = vec![Topic::Executions, Topic::Tasks("core".into())];
    for g in engine.registry.groups() {
        if !topics.contains(&Topic::Tasks(g.clone())) {
            topics.push(Topic::Tasks(g));
        }
    }
    let mut loops = Vec::new();
    for topic in topics {
        admin.ensure_topic(&topic).await.expect("create topic");
        let sub = format!("{}-pull", topic.name());
        admin.ensure_pull_subscription(&sub, &topic, Duration::from_secs(60)).await.expect("create subscription");
        let mut stream = pull.messages(&sub);
        let (engine, executor, locks) = (engine.clone(), executor.clone(), locks.clone());
        let (handled, nacked) = (handled.clone(), nacked.clone());
        loops.push(tokio::spawn(async move {
            loop {
                let (msg, handler) = match stream.next().await {
                    Some(Ok(m)) => m,
                    Some(Err(e)) => {
                        eprintln!("streaming pull on {}: {e}", topic.name());
                        continue;
                    }
                    None => {
                        eprintln!("streaming pull on {} ended", topic.name());
                        break;
                    }
                };
                let (engine, executor, locks, topic) = (engine.clone(), executor.clone(), locks.clone(), topic.clone());
                let (handled, nacked) = (handled.clone(), nacked.clone());
                tokio::spawn(async move {
                    let ok = deliver(&engine, &executor, &locks, &topic, &msg.data).await;
                    handled.fetch_add(1, Ordering::Relaxed);
                    if ok {
                        handler.ack();
                    } else {
                        nacked.fetch_add(1, Ordering::Relaxed);
                        handler.nack();
                    }
                });
            }
        }));
    }
    GcpRuntime { engine, backends, loops, handled, nacked }
}

/// One lock per execution: the executor service's in-process cache assumes
/// that one process handles one execution's events one at a time (with
/// concurrent handlers a stale cached copy can swallow an event), so events
/// of one execution are handled in turn, those of different executions
/// concurrently — what Pub/Sub ordering keys would give a push subscription.
#[derive(Default)]
struct ExecutionLocks(std::sync::Mutex<std::collections::HashMap<String, Arc<tokio::sync::Mutex<()>>>>);

impl ExecutionLocks {
    fn of(&self, id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        map.entry(id.to_string()).or_default().clone()
    }
}

/// Handles one delivered message as the executor or a worker function
/// would; false asks Pub/Sub to redeliver.
async fn deliver(
    engine: &Arc<Engine>,
    executor: &ExecutorService,
    locks: &ExecutionLocks,
    topic: &Topic,
    data: &[u8],
) -> bool {
    match topic {
        Topic::Executions => match serde_json::from_slice::<ExecutionEvent>(data) {
            Ok(ev) => {
                let lock = locks.of(ev.execution_id());
                let _turn = lock.lock().await;
                match executor.handle(&ev, StepOptions::default()).await {
                    Ok(()) => true,
                    Err(e) => {
                        eprintln!("executor: {e} (redelivered)");
                        false
                    }
                }
            }
            Err(e) => {
                eprintln!("malformed event dropped: {e}");
                true
            }
        },
        Topic::Tasks(_) => match serde_json::from_slice::<WorkerJob>(data) {
            Ok(job) => {
                // one worker id per delivery, as separate Cloud Run requests
                let worker = Worker::new(engine.clone(), format!("gcp-{}", uuid::Uuid::new_v4().simple()));
                match worker.handle(&job).await {
                    Ok(_) => true,
                    Err(e) => {
                        eprintln!("worker: {e} (redelivered)");
                        false
                    }
                }
            }
            Err(e) => {
                eprintln!("malformed job dropped: {e}");
                true
            }
        },
        // nothing here publishes to the scheduler
        Topic::Scheduler => true,
    }
}

pub(super) fn flow(engine: &Engine, yaml: &str) -> Arc<Flow> {
    let registry = shared::plugins::Registry::builtin();
    let renderer = shared::template::Renderer::new();
    let (flow, diags) = shared::validate::validate_source("test.yaml", yaml, &registry, &renderer);
    assert!(diags.is_empty(), "invalid test flow: {diags:?}");
    engine.flows.insert(flow.expect("flow"))
}

impl GcpRuntime {
    pub(super) async fn run(&self, yaml: &str, inputs: Value) -> Execution {
        let flow = flow(&self.engine, yaml);
        let mut updates = self.engine.updates.subscribe();
        let req = LaunchRequest { inputs: inputs.as_object().cloned().unwrap_or_default(), ..LaunchRequest::default() };
        let exec = launcher::launch(&self.engine, &flow, req).await.expect("launch");
        let state = &self.backends.state;
        let wait = async {
            loop {
                match tokio::time::timeout(Duration::from_millis(500), updates.recv()).await {
                    Ok(Ok(u)) if u.execution_id == exec.id && u.state.is_terminal() => break,
                    Ok(Ok(_)) => {}
                    // lagged, closed or quiet: look at the store
                    _ => {
                        let e = state.load_execution(&exec.id).await.expect("load").expect("exists");
                        if e.state.is_terminal() {
                            break;
                        }
                    }
                }
            }
        };
        if tokio::time::timeout(Duration::from_secs(120), wait).await.is_err() {
            let e = state.load_execution(&exec.id).await.expect("load").expect("exists");
            let mut claims = Vec::new();
            for tr in e.task_run_list.iter().filter(|t| !t.state.current.is_terminal()) {
                let n = tr.attempts.len().max(1) as u32;
                let c = state.claim(&tr.id, n, "probe", chrono::Utc::now()).await;
                claims.push(format!("{} attempt {n}: {c:?}", tr.task_id));
            }
            panic!("the execution did not end in 120 s:\n{:#}\nclaims: {claims:?}", shape(&e));
        }
        self.engine.logs.flush().await;
        state.load_execution(&exec.id).await.expect("load").expect("exists")
    }
}

/// What must match between runtimes: states, attempts and outputs of each
/// task run (by task and value), the execution's state, outputs and labels.
fn shape(e: &Execution) -> Value {
    let mut runs = BTreeMap::new();
    for tr in &e.task_run_list {
        let key = format!("{}[{}]", tr.task_id, tr.value.as_ref().map(|v| v.to_string()).unwrap_or_default());
        let attempts: Vec<&str> = tr.attempts.iter().map(|a| a.state.current.as_str()).collect();
        runs.insert(key, json!({"state": tr.state.current.as_str(), "attempts": attempts, "outputs": tr.outputs}));
    }
    let labels: BTreeMap<&str, &str> =
        e.labels.iter().filter(|l| !l.key.starts_with("system.")).map(|l| (l.key.as_str(), l.value.as_str())).collect();
    json!({"state": e.state.current.as_str(), "taskRuns": runs, "outputs": e.outputs, "labels": labels})
}

async fn same_as_embedded(rt: &GcpRuntime, yaml: &str, inputs: Value) -> (Execution, Execution) {
    let local = crate::support::harness().run(yaml, inputs.clone()).await;
    let gcp = rt.run(yaml, inputs).await;
    assert_eq!(shape(&gcp), shape(&local), "the GCP runtime and the embedded runtime end the same way");
    (gcp, local)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hello_world_runs_on_firestore_gcs_and_pubsub_as_embedded() {
    let rt = start("hello").await;
    let yaml = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/hello_world.yaml"))
        .expect("examples/hello_world.yaml");
    let (gcp, _) = same_as_embedded(&rt, &yaml, json!({"name": "GCP"})).await;
    assert_eq!(gcp.state.current, StateType::Success);
    let logs: Vec<String> =
        rt.backends.state.logs(&gcp.id).await.expect("logs").into_iter().map(|l| l.message).collect();
    assert!(logs.iter().any(|m| m == "Hello, GCP!"), "the task log is in Firestore: {logs:?}");
    assert!(logs.iter().any(|m| m.contains("KV says yellow")), "{logs:?}");
    // the KV task wrote to Firestore
    let kv = shared::backend::KvStore::get(rt.backends.state.as_ref(), "company.team", "last_taxi", chrono::Utc::now());
    assert_eq!(
        kv.await.expect("kv"),
        shared::backend::KvLookup::Found(shared::backend::KvValue {
            kind: shared::backend::KvType::String,
            value: json!("yellow")
        })
    );
    eprintln!(
        "hello_world on GCP: {} messages handled, {} redelivered",
        rt.handled.load(Ordering::Relaxed),
        rt.nacked.load(Ordering::Relaxed)
    );
}

/// A parallel ForEach setting a KV key per value, a sequential ForEach whose
/// task fails once per value and is retried, the KV read back, outputs.
/// (The retries run in a sequential ForEach: retried task runs inside a
/// parallel ForEach re-attempt endlessly on the embedded runtime too — an
/// executor bug reported separately.)
const FOREACH_RETRY_KV: &str = r#"
id: foreach_retry_kv
namespace: test.gcp
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["a", "b", "c", "d"]
    concurrencyLimit: 0
    tasks:
      - id: remember
        type: io.kestra.plugin.core.kv.Set
        key: "seen_{{ taskrun.value }}"
        value: "{{ taskrun.value | upper }}"
      - id: echo
        type: io.kestra.plugin.core.debug.Return
        format: "{{ taskrun.value }}!"
  - id: retried
    type: io.kestra.plugin.core.flow.ForEach
    values: ["x", "y"]
    tasks:
      - id: flaky
        type: io.kestra.plugin.core.execution.Fail
        condition: "{{ taskrun.attemptsCount < 2 }}"
        errorMessage: "attempt {{ taskrun.attemptsCount }} fails"
        retry:
          type: constant
          interval: PT0.1S
          maxAttempt: 3
  - id: read_back
    type: io.kestra.plugin.core.kv.Get
    key: seen_c
  - id: summary
    type: io.kestra.plugin.core.output.OutputValues
    values:
      c: "{{ outputs.read_back.value }}"
      echoes: "{{ outputs.echo | length }}"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn foreach_retry_and_kv_run_on_the_gcp_backends_as_embedded() {
    let rt = start("foreach").await;
    let (gcp, _) = same_as_embedded(&rt, FOREACH_RETRY_KV, json!({})).await;
    assert_eq!(gcp.state.current, StateType::Success, "{:#}", shape(&gcp));
    let flaky: Vec<_> = gcp.task_run_list.iter().filter(|t| t.task_id == "flaky").collect();
    assert_eq!(flaky.len(), 2);
    assert!(flaky.iter().all(|t| t.attempts.len() >= 2), "each iteration failed, then was retried");
    let summary = gcp.task_run_list.iter().find(|t| t.task_id == "summary").expect("summary ran");
    assert_eq!(summary.outputs.as_ref().map(|o| &o["values"]), Some(&json!({"c": "C", "echoes": "4"})));
}

/// A chain of trivial tasks: wall time per task run is the overhead of the
/// GCP path (publish → deliver → Firestore → publish), against the emulators.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "a measurement, not a test: cargo test -p e2e measure_gcp_path -- --ignored --nocapture"]
async fn measure_gcp_path() {
    let rt = start("measure").await;
    let n = 20;
    let mut yaml = String::from("id: chain\nnamespace: test.gcp\ntasks:\n");
    for i in 0..n {
        yaml.push_str(&format!("  - id: t{i}\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{i}\"\n"));
    }
    rt.run(&yaml, json!({})).await; // warm-up: connections, topics
    let mut rows = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        let e = rt.run(&yaml, json!({})).await;
        let wall = started.elapsed();
        assert_eq!(e.state.current, StateType::Success);
        rows.push(wall / n);
    }
    eprintln!("chain of {n} Return tasks over Pub/Sub + Firestore emulators: per task {rows:?}");
    let b = &rt.backends;

    // the parts: one publish, publish → streaming-pull delivery, Firestore ops
    let target = b.config.pubsub_target();
    let admin = PubSubAdmin::connect(target.clone()).await.expect("admin");
    let probe = Topic::Tasks("probe".into());
    admin.ensure_topic(&probe).await.expect("topic");
    admin.ensure_pull_subscription("probe-pull", &probe, Duration::from_secs(30)).await.expect("sub");
    let pull = PubSubPull::connect(target).await.expect("pull");
    let mut stream = pull.messages("probe-pull");
    let (mut publish, mut roundtrip) = (Duration::ZERO, Duration::ZERO);
    for i in 0..20u32 {
        let t = Instant::now();
        shared::backend::Queue::publish(b.queue.as_ref(), &probe, i.to_be_bytes().to_vec()).await.expect("publish");
        publish += t.elapsed();
        let (_, h) = stream.next().await.expect("message").expect("ok");
        h.ack();
        roundtrip += t.elapsed();
    }
    let state = b.state.as_ref();
    let mut e = Execution::new("m".into(), "test.gcp", "m", 1, Default::default(), vec![], chrono::Utc::now());
    let t = Instant::now();
    state.create_execution(&e).await.expect("create");
    let create = t.elapsed();
    e.version = 1;
    let (mut save, mut load, mut claim) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    for i in 0..20 {
        let t = Instant::now();
        e.version = state.save_execution(&e, &[]).await.expect("save");
        save += t.elapsed();
        let t = Instant::now();
        state.load_execution("m").await.expect("load");
        load += t.elapsed();
        let t = Instant::now();
        state.claim(&format!("m-{i}"), 1, "w", chrono::Utc::now() + chrono::Duration::minutes(1)).await.expect("claim");
        claim += t.elapsed();
    }
    eprintln!(
        "emulators: publish {:?}, publish→delivered {:?}, create execution {create:?}, save (CAS commit) {:?}, \
         load (head + task runs) {:?}, claim {:?}",
        publish / 20,
        roundtrip / 20,
        save / 20,
        load / 20,
        claim / 20
    );
}
