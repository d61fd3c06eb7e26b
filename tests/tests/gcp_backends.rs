//! The GCP backends against real-protocol emulators: Firestore (state, KV,
//! schedule state) and GCS (internal storage) pass the same contract suites
//! as the local backends, Pub/Sub passes the queue contract; a
//! compare-and-swap race on Firestore has one winner and a loser that
//! re-reads; a ForEach-like burst of 100 task-run updates lands on 100
//! task-run documents, not one. `engine` runs flows on these backends with
//! Pub/Sub delivery and compares them with the embedded runtime.
//!
//! Every test has its own project id (the emulators keep projects apart)
//! and bucket, so tests run in parallel on one emulator of each kind.

pub(crate) mod chunks;
mod engine;
mod partial;
mod sealed;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::Utc;
use serde_json::json;
use shared::backend::contract::{self, QueueProbe};
use shared::backend::gcp::fs_client::{get_str, select};
use shared::backend::gcp::pubsub::MessageStream;
use shared::backend::gcp::{
    FirestoreStore, GcpConfig, PubSubAdmin, PubSubPull, SINGLE_SHOT, TASK_RUNS, connect_firestore, execution_path,
};
use shared::backend::{BackendError, Claim, LogEntry, Queue, StateStore, Storage, Topic};
use shared::model::{Execution, State, StateType, TaskRun};
use tokio::io::AsyncReadExt;

pub use e2e::gcp_emulators::{gcp_backends, gcp_config};

/// A second, independent client on the same Firestore project (another
/// Cloud Run instance).
async fn another_store(config: &GcpConfig) -> FirestoreStore {
    FirestoreStore::new(connect_firestore(config).await.expect("connect Firestore"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firestore_passes_the_state_store_contract() {
    let b = gcp_backends("state").await;
    contract::state_store_contract(b.state.as_ref()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firestore_passes_the_partial_store_contract() {
    let b = gcp_backends("partial-contract").await;
    shared::backend::partial_contract::partial_store_contract(b.state.as_ref()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firestore_passes_the_kv_contract() {
    let b = gcp_backends("kv").await;
    contract::kv_contract(b.state.as_ref()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firestore_passes_the_trigger_store_contract() {
    let b = gcp_backends("ticks").await;
    shared::backend::schedule_contract::trigger_store_contract(b.state.as_ref()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firestore_passes_the_purge_contract() {
    let b = gcp_backends("purge").await;
    shared::backend::purge_contract::purge_contract(b.state.as_ref()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firestore_passes_the_metric_store_contract() {
    let b = gcp_backends("metrics").await;
    shared::backend::metrics_contract::metric_store_contract(b.state.metrics()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gcs_passes_the_storage_contract() {
    let b = gcp_backends("gcs").await;
    contract::storage_contract(b.storage.as_ref()).await;
    assert!(b.storage.local_path("/a/b").is_none(), "remote storage has no local path");
}

/// Deterministic bytes, produced without holding them.
struct Pattern {
    pos: u64,
    len: u64,
}

fn byte_at(i: u64) -> u8 {
    (i.wrapping_mul(0x9E37_79B1) >> 11) as u8
}

impl tokio::io::AsyncRead for Pattern {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let n = (self.len - self.pos).min(buf.remaining() as u64).min(256 * 1024);
        let chunk: Vec<u8> = (self.pos..self.pos + n).map(byte_at).collect();
        buf.put_slice(&chunk);
        self.pos += n;
        std::task::Poll::Ready(Ok(()))
    }
}

/// Past the single-shot limit a write becomes a resumable upload (several
/// chunks); it reads back byte for byte.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gcs_streams_a_large_file_through_a_resumable_upload() {
    let b = gcp_backends("gcsbig").await;
    let len = (SINGLE_SHOT as u64) * 2 + 4321;
    let path = "/ns/flow/executions/e1/tasks/t/tr/big.bin";
    let started = Instant::now();
    assert_eq!(b.storage.put(path, Box::pin(Pattern { pos: 0, len })).await.expect("put"), len);
    let up = started.elapsed();
    assert_eq!(b.storage.size(path).await.expect("size"), Some(len));
    let mut r = b.storage.get(path).await.expect("get");
    let mut buf = vec![0u8; 1 << 20];
    let mut pos = 0u64;
    loop {
        let n = r.read(&mut buf).await.expect("read");
        if n == 0 {
            break;
        }
        assert!(buf[..n].iter().enumerate().all(|(i, x)| *x == byte_at(pos + i as u64)), "bytes near {pos} differ");
        pos += n as u64;
    }
    assert_eq!(pos, len);
    eprintln!("GCS emulator: {} MiB uploaded in {up:?}, read back in {:?}", len >> 20, started.elapsed() - up);
    assert_eq!(b.storage.delete_prefix("/ns").await.expect("delete"), [path.to_string()]);
}

/// Reads the contract's messages from one pull subscription per topic.
struct PullProbe {
    streams: HashMap<Topic, MessageStream>,
}

#[async_trait]
impl QueueProbe for PullProbe {
    async fn next(&mut self, topic: &Topic) -> Option<Vec<u8>> {
        let stream = self.streams.get_mut(topic)?;
        match stream.next().await {
            Some(Ok((msg, handler))) => {
                handler.ack();
                Some(msg.data.to_vec())
            }
            Some(Err(e)) => panic!("streaming pull on {} failed: {e}", topic.name()),
            None => None,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pubsub_passes_the_queue_contract() {
    let b = gcp_backends("queue").await;
    let target = b.config.pubsub_target();
    let admin = PubSubAdmin::connect(target.clone()).await.expect("admin");
    let pull = PubSubPull::connect(target).await.expect("subscriber");
    let mut streams = HashMap::new();
    for topic in [Topic::Executions, Topic::Tasks("core".into())] {
        admin.ensure_topic(&topic).await.expect("topic");
        admin.ensure_topic(&topic).await.expect("an existing topic is fine");
        let sub = format!("{}-probe", topic.name());
        admin.ensure_pull_subscription(&sub, &topic, Duration::from_secs(30)).await.expect("subscription");
        streams.insert(topic, pull.messages(&sub));
    }
    contract::queue_contract(b.queue.as_ref(), &mut PullProbe { streams }).await;
    let missing = b.queue.publish(&Topic::Tasks("nosuchgroup".into()), b"x".to_vec()).await;
    match missing {
        Err(BackendError::Queue(m)) => assert!(m.contains("baton-tasks-nosuchgroup"), "the error names the topic: {m}"),
        other => panic!("publishing on a topic that does not exist must fail, got {other:?}"),
    }
}

fn task_run(e: &Execution, n: usize) -> TaskRun {
    serde_json::from_value(json!({
        "id": format!("{}-tr{n:03}", e.id), "executionId": e.id, "namespace": e.namespace, "flowId": e.flow_id,
        "taskId": "item", "value": format!("v{n}"), "state": State::new(StateType::Created, e.state.start_date().unwrap_or_else(Utc::now)),
        "iteration": n,
    }))
    .expect("a task run")
}

fn new_execution(id: &str, task_runs: usize) -> Execution {
    let mut e = Execution::new(id.to_string(), "test.gcp", "race", 1, Default::default(), vec![], Utc::now());
    e.task_run_list = (0..task_runs).map(|n| task_run(&e, n)).collect();
    e
}

/// Two writers (two Firestore clients, as two Cloud Run instances) load the
/// same version and save different changes: exactly one wins, the other
/// gets a conflict naming both versions, re-reads, re-applies its change
/// and saves; nothing is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firestore_compare_and_swap_race_has_one_winner_and_the_loser_rereads() {
    let config = gcp_config("cas");
    let (a, b) = (another_store(&config).await, another_store(&config).await);
    for round in 0..10 {
        let id = format!("race-{round}");
        a.create_execution(&new_execution(&id, 2)).await.expect("create");
        let mut ea = a.load_execution(&id).await.expect("load").expect("exists");
        let mut eb = b.load_execution(&id).await.expect("load").expect("exists");
        assert_eq!((ea.version, eb.version), (1, 1));
        ea.task_run_list[0].state.set(StateType::Success, Utc::now());
        eb.task_run_list[1].state.set(StateType::Failed, Utc::now());
        let (ca, cb) = ([ea.task_run_list[0].id.clone()], [eb.task_run_list[1].id.clone()]);
        let (ra, rb) = tokio::join!(a.save_execution(&ea, &ca), b.save_execution(&eb, &cb));
        let (winner, loser, mut lost, changed) = match (ra, rb) {
            (Ok(2), Err(BackendError::Conflict { expected: 1, found: 2, .. })) => (&a, &b, eb, 1),
            (Err(BackendError::Conflict { expected: 1, found: 2, .. }), Ok(2)) => (&b, &a, ea, 0),
            other => panic!("round {round}: exactly one save must win, got {other:?}"),
        };
        // the loser re-reads and re-decides
        let mut fresh = loser.load_execution(&id).await.expect("reload").expect("exists");
        assert_eq!(fresh.version, 2);
        fresh.task_run_list[changed] = lost.task_run_list.remove(changed);
        let ids = [fresh.task_run_list[changed].id.clone()];
        assert_eq!(loser.save_execution(&fresh, &ids).await.expect("save after re-read"), 3);
        let end = winner.load_execution(&id).await.expect("load").expect("exists");
        assert_eq!(end.version, 3);
        let states: Vec<StateType> = end.task_run_list.iter().map(|t| t.state.current).collect();
        assert_eq!(states, [StateType::Success, StateType::Failed], "round {round}: both changes are kept");
    }

    // many writers, each retrying on conflict: no update is lost
    let id = "race-many";
    a.create_execution(&new_execution(id, 8)).await.expect("create");
    let stores: Vec<Arc<FirestoreStore>> = {
        let mut v = Vec::new();
        for _ in 0..8 {
            v.push(Arc::new(another_store(&config).await));
        }
        v
    };
    let conflicts: Vec<u32> = futures_join(stores.iter().enumerate().map(|(i, s)| {
        let s = s.clone();
        async move {
            let mut conflicts = 0;
            loop {
                let mut e = s.load_execution(id).await.expect("load").expect("exists");
                e.task_run_list[i].state.set(StateType::Success, Utc::now());
                match s.save_execution(&e, std::slice::from_ref(&e.task_run_list[i].id)).await {
                    Ok(_) => return conflicts,
                    Err(BackendError::Conflict { .. }) => conflicts += 1,
                    Err(e) => panic!("save: {e}"),
                }
            }
        }
    }))
    .await;
    let end = a.load_execution(id).await.expect("load").expect("exists");
    assert_eq!(end.version, 9, "eight saves, one version each");
    assert!(end.task_run_list.iter().all(|t| t.state.current == StateType::Success), "no update is lost");
    eprintln!("8 concurrent writers on one execution: {} conflicts re-read and retried", conflicts.iter().sum::<u32>());
}

async fn futures_join<F: std::future::Future<Output = T> + Send + 'static, T: Send + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<T> {
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.expect("join"));
    }
    out
}

/// A ForEach of 100 iterations: each task run is its own document, so 100
/// workers claim, log and finish in parallel on 100 different documents
/// with no conflict, and 100 executor saves each rewrite the small head and
/// one task run — never the other 99.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_100_task_run_updates_does_not_contend_on_one_document() {
    let b = gcp_backends("burst").await;
    let store = b.state.clone();
    let id = "burst";
    let mut e = new_execution(id, 100);
    store.create_execution(&e).await.expect("create");
    e.version = 1;

    // the workers' side, all at once
    let started = Instant::now();
    let outcomes = futures_join((0..100).map(|n| {
        let (store, tr) = (store.clone(), e.task_run_list[n].id.clone());
        async move {
            let until = Utc::now() + chrono::Duration::minutes(5);
            let claim = store.claim(&tr, 1, &format!("w{n}"), until).await.expect("claim");
            store.heartbeat(&tr, 1, &format!("w{n}"), until).await.expect("heartbeat");
            let log = LogEntry {
                namespace: "test.gcp".into(),
                flow_id: "race".into(),
                execution_id: "burst".into(),
                task_id: Some("item".into()),
                task_run_id: Some(tr.clone()),
                attempt_number: Some(1),
                timestamp: Utc::now(),
                level: "INFO".into(),
                message: format!("item {n}"),
            };
            store.append_logs(&[log]).await.expect("log");
            store.finish_claim(&tr, 1).await.expect("finish");
            claim
        }
    }))
    .await;
    let workers = started.elapsed();
    assert!(outcomes.iter().all(|c| *c == Claim::Acquired), "every first claim is acquired at once");
    assert_eq!(store.logs(id).await.expect("logs").len(), 100);

    // the executor's side: one save per task-run change
    let started = Instant::now();
    for n in 0..100 {
        e.task_run_list[n].state.set(StateType::Success, Utc::now());
        e.version = store.save_execution(&e, std::slice::from_ref(&e.task_run_list[n].id)).await.expect("save");
    }
    let saves = started.elapsed();
    assert_eq!(e.version, 101);

    // each task-run document was written by its own save only
    let fs = store.client();
    let docs = fs
        .query("read task runs", &execution_path(id), select(TASK_RUNS, None, vec![("seq", false)], None), &[])
        .await
        .expect("query");
    assert_eq!(docs.len(), 100, "one document per task run");
    let times: BTreeSet<(i64, i32)> =
        docs.iter().map(|d| d.update_time.map(|t| (t.seconds, t.nanos)).expect("update time")).collect();
    assert_eq!(times.len(), 100, "100 different commits wrote the 100 task-run documents, one each");
    let head = fs.get("read head", &execution_path(id)).await.expect("get").expect("head");
    let body = get_str(&head, "body", "read head").expect("head body");
    assert!(!body.contains("tr099"), "the head holds no task runs ({} bytes)", body.len());
    let loaded = store.load_execution(id).await.expect("load").expect("exists");
    assert!(loaded.task_run_list.iter().all(|t| t.state.current == StateType::Success));
    eprintln!(
        "100 task runs: claim+heartbeat+log+finish for all in parallel {workers:?}; \
         100 sequential executor saves {saves:?} ({:?} each, head {} bytes)",
        saves / 100,
        body.len()
    );
}

/// A ForEach fanning out 600 iterations adds 600 task runs in one save: one
/// atomic commit of 601 documents (Firestore's per-commit limit is the 10 MiB
/// request size, no longer 500 writes).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_save_adding_600_task_runs_is_one_atomic_commit() {
    let b = gcp_backends("fanout").await;
    let store = b.state.as_ref();
    let mut e = new_execution("fanout", 1);
    store.create_execution(&e).await.expect("create");
    e.version = 1;
    let added: Vec<TaskRun> = (1..=600).map(|n| task_run(&e, n)).collect();
    let ids: Vec<String> = added.iter().map(|t| t.id.clone()).collect();
    e.task_run_list.extend(added);
    assert_eq!(store.save_execution(&e, &ids).await.expect("save 600 new task runs"), 2);
    let loaded = store.load_execution("fanout").await.expect("load").expect("exists");
    assert_eq!(loaded.task_run_list.len(), 601);
    assert_eq!(loaded.task_run_list[600].id, "fanout-tr600", "task runs keep their order");
}

/// A load reads what changed since the version this store kept, not the
/// whole execution; what another instance saved meanwhile is seen whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_reads_the_head_and_the_task_runs_changed_since_the_kept_version() {
    let b = gcp_backends("incremental").await;
    let warm = b.state.as_ref();
    let mut e = new_execution("incr", 300);
    warm.create_execution(&e).await.expect("create");
    e.version = 1;
    assert_eq!(warm.load_execution("incr").await.expect("load").expect("exists"), e);
    // another instance changes one task run and adds one
    let other = another_store(&b.config).await;
    let mut theirs = other.load_execution("incr").await.expect("load").expect("exists");
    theirs.task_run_list[7].state.set(StateType::Running, Utc::now());
    let added = task_run(&theirs, 300);
    theirs.task_run_list.push(added.clone());
    let changed = [theirs.task_run_list[7].id.clone(), added.id.clone()];
    theirs.version = other.save_execution(&theirs, &changed).await.expect("save");
    let (r0, _) = warm.client().operation_counts();
    let seen = warm.load_execution("incr").await.expect("load").expect("exists");
    let (r1, _) = warm.client().operation_counts();
    assert_eq!(seen, theirs, "the warm store sees the other instance's save exactly");
    assert!(r1 - r0 <= 10, "a warm load of 301 task runs with 2 changed read {} documents", r1 - r0);
    let cold = another_store(&b.config).await;
    assert_eq!(cold.load_execution("incr").await.expect("load").expect("exists"), theirs, "a cold store reads all");
}
