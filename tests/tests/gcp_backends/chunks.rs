//! Chunks of task runs on the Firestore emulator (`firestore_chunks.rs`): a
//! store that kept nothing (a cold Cloud Run instance) loads a large
//! execution — half-way through its loop as well as ended — from its head,
//! its chunks and its recently written task runs: the same execution,
//! exactly, in a fraction of the reads, through a restart, a second instance
//! that saves in between, and an instance whose copy is behind; missing
//! chunks make a cold load read every task run, still right; deleting the
//! execution deletes its chunks.

use std::time::Instant;

use chrono::Utc;
use serde_json::json;
use shared::backend::StateStore;
use shared::backend::gcp::fs_client::{delete, get_bytes, get_json, get_str, select};
use shared::backend::gcp::{CHUNKS, FirestoreStore, GcpConfig, TASK_RUNS, execution_path};
use shared::model::{Execution, StateType, TaskRun};

use super::{another_store, gcp_backends, new_execution, task_run};

/// Task runs of the loop.
const N: usize = 4_000;
/// Task runs one save finishes.
const PER_SAVE: usize = 80;

/// `id` loaded by a new store (a cold instance), with the documents it read.
async fn cold_load(config: &GcpConfig, id: &str) -> (Execution, u64) {
    let cold = another_store(config).await;
    let (r0, _) = cold.client().operation_counts();
    let e = cold.load_execution(id).await.expect("load").expect("exists");
    let (r1, _) = cold.client().operation_counts();
    (e, r1 - r0)
}

/// The documents of `collection` under execution `id`.
pub(crate) async fn count(store: &FirestoreStore, id: &str, collection: &str) -> usize {
    let q = select(collection, None, vec![], None);
    store.client().query("count", &execution_path(id), q, &[]).await.expect("query").len()
}

/// The bytes of the documents of `collection` under `id`: their `field`.
async fn bytes_of(store: &FirestoreStore, id: &str, collection: &str, field: &str) -> usize {
    let q = select(collection, None, vec![], None);
    let docs = store.client().query("size", &execution_path(id), q, &[]).await.expect("query");
    docs.iter()
        .map(|d| get_bytes(d, field, "size").map(<[u8]>::len).or_else(|_| get_str(d, field, "size").map(str::len)))
        .map(|n| n.expect("a bytes or string field"))
        .sum()
}

/// Saves `e` with the task runs at `seqs` changed, as the executor does.
async fn save(store: &FirestoreStore, e: &mut Execution, seqs: impl IntoIterator<Item = usize>) {
    let ids: Vec<String> = seqs.into_iter().map(|s| e.task_run_list[s].id.clone()).collect();
    e.version = store.save_execution(e, &ids).await.expect("save");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cold_store_loads_a_large_execution_from_its_chunks_and_its_recent_task_runs() {
    let b = gcp_backends("chunks").await;
    let warm = b.state.as_ref();
    let mut e = new_execution("big", N);
    warm.create_execution(&e).await.expect("create");
    e.version = 1;
    // the loop: PER_SAVE iterations finish per save, with outputs
    let started = Instant::now();
    for first in (0..N).step_by(PER_SAVE) {
        for tr in &mut e.task_run_list[first..first + PER_SAVE] {
            tr.state.set(StateType::Running, Utc::now());
            tr.state.set(StateType::Success, Utc::now());
            tr.outputs =
                json!({"value": format!("out {}", tr.iteration.unwrap_or(0))}).as_object().cloned().map(Box::new);
        }
        save(warm, &mut e, first..first + PER_SAVE).await;
        if first == 10 * PER_SAVE {
            // half-way: 880 finished, the other 3,120 unfinished, all chunked by the first save
            let chunks = count(warm, "big", CHUNKS).await;
            let (seen, reads) = cold_load(&b.config, "big").await;
            assert_eq!(seen, e, "a cold load half-way through the loop is the execution, exactly");
            assert!(
                reads <= 2 + chunks as u64 + 500 + PER_SAVE as u64,
                "half-way through the loop, a cold load read {reads} documents ({chunks} chunks)"
            );
            eprintln!("half-way ({} of {N} finished): a cold load read {reads} documents", first + PER_SAVE);
        }
    }
    let saves = started.elapsed();
    let chunks = count(warm, "big", CHUNKS).await;
    assert!(chunks >= 8, "{chunks} chunk documents for {N} task runs");

    let started = Instant::now();
    let (seen, reads) = cold_load(&b.config, "big").await;
    let cold = started.elapsed();
    assert_eq!(seen, e, "a cold load from the chunks is the execution, exactly");
    // head + chunks + at most CHUNK_RUNS (500) + PER_SAVE written since the
    // last chunking (a query returning nothing is billed one read)
    assert!(reads <= 2 + chunks as u64 + 500 + PER_SAVE as u64, "a cold load of {N} task runs read {reads} documents");
    let everything = another_store(&b.config).await;
    let (r0, _) = everything.client().operation_counts();
    let started = Instant::now();
    let q = select(TASK_RUNS, None, vec![], None);
    let all = everything.client().query("read all", &execution_path("big"), q, &[]).await.expect("query");
    let parsed: Vec<TaskRun> = all.iter().map(|d| get_json(d, "body", "parse").expect("a task run")).collect();
    let read_all = started.elapsed();
    assert_eq!(parsed.len(), N);
    let (r1, _) = everything.client().operation_counts();
    assert_eq!(all.len(), N, "every task run keeps its own document");
    let (packed, bodies) =
        (bytes_of(warm, "big", CHUNKS, "runs").await, bytes_of(warm, "big", TASK_RUNS, "body").await);
    eprintln!(
        "{N} task runs, {} saves in {saves:?}: {chunks} chunk documents ({packed} bytes; the task runs' \
         bodies {bodies}); a cold load read {reads} documents in {cold:?} (reading and parsing every task-run \
         document: {} reads in {read_all:?})",
        N / PER_SAVE,
        r1 - r0
    );

    // a restart on another instance (it loads cold, from the chunks): two
    // chunked iterations back to RESTARTED, one failed over, one added
    let other = another_store(&b.config).await;
    let mut theirs = other.load_execution("big").await.expect("load").expect("exists");
    assert_eq!(theirs, e);
    theirs.task_run_list[5].state.set(StateType::Restarted, Utc::now());
    theirs.task_run_list[1_234].state.set(StateType::Restarted, Utc::now());
    theirs.task_run_list[9].state.set(StateType::Failed, Utc::now());
    let added = task_run(&theirs, N);
    theirs.task_run_list.push(added);
    save(&other, &mut theirs, [5, 1_234, 9, N]).await;
    let (seen, _) = cold_load(&b.config, "big").await;
    assert_eq!(seen, theirs, "restarted task runs override their chunks");

    // the first instance's copy is behind: it reads what changed, then
    // rewrites enough task runs to chunk again, finishing the restarted ones
    let mut mine = warm.load_execution("big").await.expect("load").expect("exists");
    assert_eq!(mine, theirs);
    let before = count(warm, "big", CHUNKS).await;
    for round in 0..8 {
        let seqs: Vec<usize> = (0..PER_SAVE).map(|k| (round * PER_SAVE + k) * 7 % N).chain([5, 1_234, N]).collect();
        for &s in &seqs {
            mine.task_run_list[s].state.set(StateType::Success, Utc::now());
            mine.task_run_list[s].outputs = json!({"round": round}).as_object().cloned().map(Box::new);
        }
        save(warm, &mut mine, seqs).await;
    }
    assert!(count(warm, "big", CHUNKS).await > before, "the copy behind chunked again");
    let (seen, reads) = cold_load(&b.config, "big").await;
    assert_eq!(seen, mine, "later chunks override earlier ones");
    assert!(reads < (N / 4) as u64, "{reads} reads");
    // and the second instance, behind now, reads the difference
    let seen = other.load_execution("big").await.expect("load").expect("exists");
    assert_eq!(seen, mine);

    // the chunks gone (what no save does): the positions left empty make a
    // cold load read every task run, and it is still the execution
    let q = select(CHUNKS, None, vec![], None);
    let all = warm.client().query("chunks", &execution_path("big"), q, &[]).await.expect("query");
    warm.client().commit("delete the chunks", all.into_iter().map(|c| delete(c.name)).collect()).await.expect("delete");
    let (seen, reads) = cold_load(&b.config, "big").await;
    assert_eq!(seen, mine, "the fallback reads the execution right");
    assert!(reads > N as u64, "it read every task run: {reads} reads");

    assert!(warm.delete_execution("big", true).await.expect("delete"));
    assert_eq!(count(warm, "big", CHUNKS).await, 0, "the chunks go with the execution");
    assert_eq!(count(warm, "big", TASK_RUNS).await, 0);
}
