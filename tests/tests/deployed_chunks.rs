//! A large ForEach on the deployed shape (`e2e::deployed`: the functions as
//! separate processes on the Firestore and Pub/Sub emulators and
//! fake-gcs-server, two push subscriptions per topic so every message is
//! delivered twice, CPU frozen between requests as Cloud Run's `cpu_idle`
//! allows) whose executor is killed once the execution has chunks of task
//! runs (`firestore_chunks.rs`), while its iterations run: the restarted
//! executor, cold, decides on part of the execution (the head, the state
//! kept with it and a few task runs: `runtime::executor_partly`; a
//! duplicate too, which changes nothing) or loads it from its head, its
//! chunks and its recently written task runs (the end), and runs it to the end. Every iteration ran once with its own value, and what
//! a cold load puts together is exactly what the task-run documents hold.

use std::collections::BTreeMap;
use std::time::Duration;

use e2e::deployed::Deployment;
use shared::backend::StateStore;
use shared::backend::gcp::fs_client::{get_int, get_json, select};
use shared::backend::gcp::{CHUNKS, FirestoreStore, TASK_RUNS, connect_firestore, execution_path};
use shared::model::{StateType, TaskRun};

use crate::deployed::{push_shape, until};
use crate::gcp_backends::chunks::count;

/// Iterations: the loop's creation writes them all (chunked with the next
/// writes, once 500 are pending), then each is written about twice more —
/// so the two thirds left when the executor is killed make the restarted
/// executor chunk too. Few past 500: the loop runs at a few iterations a
/// second on the emulators, and the test's time is CI's.
const ITERATIONS: usize = 560;

fn flow() -> String {
    let values: Vec<String> = (0..ITERATIONS).map(|i| i.to_string()).collect();
    format!(
        "id: big\nnamespace: gcp.chunks\ntasks:\n  - id: each\n    type: io.kestra.plugin.core.flow.ForEach\n    \
         concurrencyLimit: 0\n    values: [{}]\n    tasks:\n      - id: body\n        \
         type: io.kestra.plugin.core.debug.Return\n        format: \"v{{{{ taskrun.value }}}}\"\n",
        values.join(", ")
    )
}

// Run alone by scripts/test.sh, as deployed.rs: timing-sensitive.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "run alone by scripts/test.sh: cargo test -p e2e --test e2e -- --ignored --exact deployed_chunks::a_cold_executor_goes_on_from_the_chunks_of_a_large_foreach"]
async fn a_cold_executor_goes_on_from_the_chunks_of_a_large_foreach() {
    let d = Deployment::start(&push_shape(), 2, Duration::from_secs(1)).await;
    d.throttle_cpu_when_idle(true);
    d.upload_flow("flows/gcp.chunks/big.yml", &flow()).await;
    let url = format!("{}/api/v1/executions/gcp.chunks/big", d.function("api").url);
    let body: serde_json::Value = d.http.post(url).send().await.expect("start").json().await.expect("json");
    let id = body["id"].as_str().unwrap_or_else(|| panic!("no execution: {body}")).to_string();
    let store = d.backends.state.as_ref();

    // the executor dies once the execution has chunks and a third of the
    // iterations ended, while the others run
    let started = std::time::Instant::now();
    let running = until(&d, Duration::from_secs(300), "the first chunks", || async {
        let e = store.load_execution(&id).await.ok()??;
        let ended = e.task_run_list.iter().filter(|t| t.task_id == "body" && t.state.is_terminal()).count();
        (ended >= ITERATIONS / 3 && count(store, &id, CHUNKS).await > 0).then_some(e)
    })
    .await;
    let killed_at = started.elapsed();
    assert!(!running.state.is_terminal(), "the loop ended before the executor could be killed: {:?}", running.state);
    let done_before = running.task_run_list.iter().filter(|t| t.state.is_terminal()).count();
    let chunks_before = count(store, &id, CHUNKS).await;
    d.function("executor").kill();
    tokio::time::sleep(Duration::from_secs(1)).await;
    d.function("executor").start().await;

    let restarted_at = started.elapsed();
    let done = until(&d, Duration::from_secs(600), "the loop to end", || async {
        let e = store.load_execution(&id).await.ok()??;
        e.state.is_terminal().then_some(e)
    })
    .await;
    let ended_at = started.elapsed();
    assert_eq!(done.state.current, StateType::Success, "{:?}\n{}", done.error, d.logs());
    let bodies: Vec<&TaskRun> = done.task_run_list.iter().filter(|t| t.task_id == "body").collect();
    assert_eq!(bodies.len(), ITERATIONS, "one body run per value, though every message came twice");
    let mut values = BTreeMap::new();
    for b in &bodies {
        assert_eq!(b.state.current, StateType::Success);
        assert_eq!(b.attempts.len(), 1, "{} ran once", b.id);
        let value = b.value.clone().expect("an iteration value");
        let out = b.outputs.as_ref().and_then(|o| o.get("value")).cloned();
        assert_eq!(out, Some(serde_json::json!(format!("v{value}"))), "{}", b.id);
        values.insert(value.parse::<usize>().expect("a number"), ());
    }
    assert_eq!(values.len(), ITERATIONS);
    let log = d.function("executor").log();
    assert!(!log.contains("do not fit"), "a load fell back to reading every task run:\n{log}");
    // why the restarted executor loaded it whole when it did (`partly::whole`)
    let restarted = log.rfind("\"listening\"").map_or(log.as_str(), |at| &log[at..]);
    let mut whole: BTreeMap<&str, usize> = BTreeMap::new();
    let mut first = None;
    for line in restarted.lines() {
        if line.contains("decided on part of the execution") {
            first = first.or(Some("on part"));
        } else if line.contains("loaded whole") {
            let why = line.split("\"why\":\"").nth(1).and_then(|w| w.split('"').next()).unwrap_or("?");
            *whole.entry(why).or_default() += 1;
            first = first.or(Some(why));
        }
    }
    // every save of the executor keeps its state with the head: a cold
    // executor always has it to decide on
    assert!(!whole.contains_key("no state kept with the head"), "a save dropped the executor's state:\n{log}");
    // the restarted executor, holding nothing, decided on part of the
    // execution — unless its first event was one the whole execution must
    // decide (a wake that found nothing: the whole step looks again), after
    // which it holds the execution
    let partly = restarted.matches("decided on part of the execution").count();
    assert!(
        partly > 0 || first == Some("a wake found nothing"),
        "no decision on part of the execution (first: {first:?}):\n{log}"
    );

    // a cold load is what the documents hold, position by position
    let cold = FirestoreStore::new(connect_firestore(&d.backends.config).await.expect("Firestore"));
    let (r0, _) = cold.client().operation_counts();
    let loaded = cold.load_execution(&id).await.expect("load").expect("exists");
    let (r1, _) = cold.client().operation_counts();
    let q = select(TASK_RUNS, None, vec![("seq", false)], None);
    let all = cold.client().query("read all", &execution_path(&id), q, &[]).await.expect("query");
    let by_doc: Vec<TaskRun> = all.iter().map(|d| get_json(d, "body", "parse").expect("a task run")).collect();
    let seqs: Vec<i64> = all.iter().map(|d| get_int(d, "seq", "seq").expect("seq")).collect();
    assert_eq!(seqs, (0..all.len() as i64).collect::<Vec<_>>());
    assert_eq!(loaded.task_run_list, by_doc, "a cold load from the chunks equals the task-run documents");
    let chunks = count(store, &id, CHUNKS).await;
    assert!(
        chunks > chunks_before,
        "the restarted executor chunked too: {chunks_before} then {chunks} chunk documents"
    );
    // (fewer than the head and every task run; how few at scale: gcp_backends::chunks)
    assert!(r1 - r0 < all.len() as u64, "a cold load read {} documents for {} task runs", r1 - r0, all.len());
    println!(
        "deployed: ForEach of {ITERATIONS}, executor killed with {done_before} task runs ended \
         and {chunks_before} chunk documents at {killed_at:?}, restarted at {restarted_at:?}, ended at {ended_at:?}; \
         {chunks} chunk documents at the end; a cold load of the ended execution read {} documents ({} task runs); \
         {partly} decisions on part of the execution, then loaded whole: {whole:?}",
        r1 - r0,
        all.len()
    );
}
