//! Decisions on part of an execution on the Firestore emulator
//! (`runtime::executor_partly`): every task run's result of a ForEach of
//! 400 iterations goes to an executor that holds nothing (a new process
//! with a new Firestore client, as a Cloud Run instance started for it),
//! and each decides from the head, the executor state kept with it and a
//! few task runs — a handful of document reads where loading the
//! execution reads every task run — and the execution ends exactly as on
//! one warm executor. Duplicate results change nothing, and a cold executor
//! finds that in a few reads.

use std::sync::Arc;

use chrono::Utc;
use serde_json::{Map, json};
use shared::backend::gcp::{FirestoreStore, PubSubAdmin};
use shared::backend::{StateStore, Topic};
use shared::executor::StepOptions;
use shared::model::{Execution, Flow, StateType};
use shared::runtime::engine::{Engine, EngineConfig};
use shared::runtime::executor::ExecutorService;
use shared::runtime::launcher::{self, LaunchRequest};
use shared::runtime::messages::{ExecutionEvent, TaskResult};

use super::{another_store, gcp_backends};

const ITERATIONS: usize = 400;

fn flow_source() -> String {
    let values: Vec<String> = (0..ITERATIONS).map(|i| i.to_string()).collect();
    format!(
        "id: wide\nnamespace: company.team\ntasks:\n  - id: first\n    type: io.kestra.plugin.core.debug.Return\n    format: one\n  - id: each\n    type: io.kestra.plugin.core.flow.ForEach\n    values: [{}]\n    concurrencyLimit: 0\n    tasks:\n      - id: r\n        type: io.kestra.plugin.core.debug.Return\n        format: \"{{{{ taskrun.value }}}}\"\n  - id: last\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{{{ outputs.first.value }}}}\"\n",
        values.join(", ")
    )
}

/// An engine on its own Firestore client (nothing kept), the flow known.
fn engine_on(
    b: &shared::backend::gcp::GcpBackends,
    store: Arc<FirestoreStore>,
    flow: &Flow,
    revision: u32,
) -> Arc<Engine> {
    let engine = Engine::new(EngineConfig {
        state: store.clone(),
        kv: store,
        storage: b.storage.clone(),
        queue: b.queue.clone(),
        registry: shared::plugins::Registry::builtin(),
        secrets: Default::default(),
        envs: Default::default(),
        work_root: std::env::temp_dir().join(format!("baton-partial-{}", b.config.project)),
        plugins: Default::default(),
        echo_logs: false,
        progress: None,
        wiring: Default::default(),
    });
    engine.flows.insert_revision(flow, revision);
    engine
}

/// The results of the jobs the stored execution waits for: each dispatched
/// attempt not ended, answered SUCCESS with its task's output.
fn results(exec: &Execution) -> Vec<ExecutionEvent> {
    let now = Utc::now();
    exec.task_run_list
        .iter()
        .filter(|t| t.state.current == StateType::Created && t.attempts.len() == 1)
        .map(|t| {
            let value = match t.task_id.as_str() {
                "r" => t.value.clone().unwrap_or_default(),
                _ => "one".to_string(),
            };
            ExecutionEvent::TaskResult {
                execution_id: exec.id.clone(),
                task_run_id: t.id.clone(),
                attempt: 1,
                result: TaskResult {
                    state: StateType::Success,
                    outputs: Map::from_iter([("value".to_string(), json!(value))]),
                    error: None,
                    labels: vec![],
                    variables: None,
                    start: now,
                    end: now,
                    log_file: None,
                    metrics: Vec::new(),
                    claim_left_open: false,
                },
            }
        })
        .collect()
}

// Run in a process of its own by scripts/test.sh: a local store opened by
// another test in the process makes ids time-ordered, and slots then have no document names
// (the executor loads whole executions, as it should, and this test would
// measure nothing).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run in a process of its own by scripts/test.sh: cargo test -p e2e --test e2e -- --ignored --exact gcp_backends::partial::cold_executors_decide_a_large_for_each_from_a_few_task_runs"]
async fn cold_executors_decide_a_large_for_each_from_a_few_task_runs() {
    let b = gcp_backends("partial").await;
    let admin = PubSubAdmin::connect(b.config.pubsub_target()).await.expect("Pub/Sub admin");
    for t in [Topic::Executions, Topic::Tasks("core".into())] {
        admin.ensure_topic(&t).await.expect("topic");
    }
    let source = flow_source();
    let revision = b.state.save_flow("company.team", "wide", &source).await.expect("save flow");
    let warm_engine = Engine::new(EngineConfig {
        state: b.state.clone(),
        kv: b.state.clone(),
        storage: b.storage.clone(),
        queue: b.queue.clone(),
        registry: shared::plugins::Registry::builtin(),
        secrets: Default::default(),
        envs: Default::default(),
        work_root: std::env::temp_dir().join(format!("baton-partial-{}", b.config.project)),
        plugins: Default::default(),
        echo_logs: false,
        progress: None,
        wiring: Default::default(),
    });
    let parsed = shared::runtime::flows::parse_flow("wide.yaml", &source, &warm_engine.registry, &warm_engine.renderer)
        .expect("flow");
    let flow = warm_engine.flows.insert_revision(&parsed, revision);
    let exec = launcher::launch(&warm_engine, &flow, LaunchRequest::default()).await.expect("launch");
    let warm = ExecutorService::new(warm_engine.clone());
    let opts = StepOptions::default();
    let stored = || async { b.state.load_execution(&exec.id).await.expect("load").expect("stored") };
    warm.handle(&ExecutionEvent::Created { execution_id: exec.id.clone() }, opts).await.expect("created");
    // `first`'s result fans the loop out (decided whole: 3 task runs)
    for e in results(&stored().await) {
        warm.handle(&e, opts).await.expect("first");
    }
    let fanned = stored().await;
    assert_eq!(fanned.task_run_list.len(), ITERATIONS + 2, "first, each and every iteration");

    // every iteration's result to an executor that holds nothing
    let (mut reads, mut took) = (Vec::new(), Vec::new());
    let mut whole = None;
    for (n, e) in results(&fanned).into_iter().enumerate() {
        if n == ITERATIONS / 2 {
            // what deciding on the whole execution reads first: a cold load
            let store = another_store(&b.config).await;
            let (r0, _) = store.client().operation_counts();
            let at = std::time::Instant::now();
            store.load_execution(&exec.id).await.expect("load").expect("stored");
            whole = Some((store.client().operation_counts().0 - r0, at.elapsed()));
        }
        let store = Arc::new(another_store(&b.config).await);
        let engine = engine_on(&b, store.clone(), &flow, revision);
        let cold = ExecutorService::new(engine);
        let (r0, _) = store.client().operation_counts();
        let at = std::time::Instant::now();
        cold.handle(&e, opts).await.expect("an iteration's result");
        took.push(at.elapsed());
        let (r1, _) = store.client().operation_counts();
        reads.push(r1 - r0);
        if r1 - r0 > 12 {
            eprintln!("event {n} read {} documents", r1 - r0);
        }
        if n % 100 == 7 {
            // delivered twice: the second changes nothing, and a cold
            // executor finds that from the head and the result's task run
            let store = Arc::new(another_store(&b.config).await);
            let again = ExecutorService::new(engine_on(&b, store.clone(), &flow, revision));
            let before = stored().await;
            let (r0, _) = store.client().operation_counts();
            again.handle(&e, opts).await.expect("a duplicate");
            let dup_reads = store.client().operation_counts().0 - r0;
            assert_eq!(stored().await.version, before.version, "a duplicate result saved something");
            assert!(
                dup_reads <= 4,
                "a cold duplicate read {dup_reads} documents (the execution has {})",
                ITERATIONS + 2
            );
        }
    }
    // the last iteration's end started `last`, decided on part of it too
    let waiting = stored().await;
    let chunks = super::chunks::count(&b.state, &exec.id, shared::backend::gcp::CHUNKS).await;
    let last: Vec<_> = waiting.task_run_list.iter().filter(|t| t.task_id == "last").collect();
    assert_eq!(last.len(), 1, "`last` started once");
    assert_eq!(last[0].attempts.len(), 1, "and dispatched");
    for e in results(&waiting) {
        warm.handle(&e, opts).await.expect("last");
    }
    let end = stored().await;
    let another = another_store(&b.config).await;
    assert_eq!(end.state.current, StateType::Success);
    let rs: Vec<_> = end.task_run_list.iter().filter(|t| t.task_id == "r").collect();
    assert_eq!(rs.len(), ITERATIONS);
    for r in &rs {
        assert_eq!(r.state.current, StateType::Success);
        assert_eq!(r.outputs.as_ref().and_then(|o| o.get("value")), Some(&json!(r.value.clone().unwrap_or_default())));
    }
    let each = end.task_run_list.iter().find(|t| t.task_id == "each").expect("each");
    assert_eq!(each.state.current, StateType::Success);

    reads.sort_unstable();
    took.sort_unstable();
    let (median, most) = (reads[reads.len() / 2], reads[reads.len() - 1]);
    let (whole_reads, whole_took) = whole.expect("measured half-way");
    eprintln!(
        "cold decisions over {} task runs: reads median {median}, most {most}, {} in all; {:?} median (the \
         whole execution's cold load alone, half-way: {whole_reads} reads, {whole_took:?}); {chunks} chunk \
         documents written by them",
        ITERATIONS + 2,
        reads.iter().sum::<u64>(),
        took[took.len() / 2]
    );
    // the head, the event's task run, the loop's and the sequence's task
    // runs; loading the execution reads every one of its 402
    assert!(median <= 6, "a cold decision read {median} documents (median)");
    // but for the one that chunked what ~500 writes left unchunked (a read per write)
    let large: Vec<u64> = reads.iter().copied().filter(|r| *r > 12).collect();
    assert!(large.len() <= 1 && large.iter().all(|r| *r <= 520), "cold decisions read {large:?} documents");
    assert!(chunks > 0, "decisions on part of the execution chunked nothing");
    let (r0, _) = another.client().operation_counts();
    let loaded = another.load_execution(&exec.id).await.expect("load").expect("stored");
    let cold_load = another.client().operation_counts().0 - r0;
    assert_eq!(loaded, end, "a cold load of the ended execution is the execution");
    // its chunks and the task runs written since: fewer than every one
    assert!(
        cold_load < end.task_run_list.len() as u64,
        "a cold load of the ended execution read {cold_load} documents"
    );
    eprintln!("a cold load of the ended execution: {cold_load} documents for {} task runs", end.task_run_list.len());
}
