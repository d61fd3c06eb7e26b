//! The backend contract suite: async functions that drive a backend only
//! through its trait ([`StateStore`], [`KvStore`](crate::KvStore),
//! [`Storage`](crate::Storage), [`Queue`](crate::Queue)) and panic with a
//! precise message when it misbehaves. Every backend (SQLite, folder,
//! memory, Firestore, GCS, Pub/Sub) runs them from its own tests.
//!
//! The suites are safe against a shared, non-empty backend: every id,
//! namespace and path they touch carries a fresh random prefix, and they
//! clean up the storage they write. Dates are whole milliseconds, the
//! precision every backend must keep.
//!
//! Here: the helpers the suites share and the state store's suite
//! (executions, logs, claims, flow revisions); the KV store's, the
//! storage's and the queue's suites in their own modules, re-exported.

mod kv;
mod queue;
mod storage;

pub use kv::kv_contract;
pub use queue::{QueueProbe, queue_contract};
pub use storage::storage_contract;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Map, json};

use super::{BackendError, Claim, ExecutionFilter, LogEntry, StateStore};
use baton_model::{Execution, Label, State, StateType, TaskRun};

fn unique() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_string()
}

/// Now, truncated to whole milliseconds.
fn now_ms() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now)
}

pub(super) fn minutes(n: i64) -> TimeDelta {
    TimeDelta::minutes(n)
}

/// A CREATED task run, built from JSON so fields added to [`TaskRun`] later
/// take their defaults.
pub(super) fn task_run(e: &Execution, task_id: &str, iteration: usize, at: DateTime<Utc>) -> TaskRun {
    let value = json!({
        "id": format!("{}-{task_id}", e.id),
        "executionId": e.id,
        "namespace": e.namespace,
        "flowId": e.flow_id,
        "taskId": task_id,
        "state": State::new(StateType::Created, at),
        "iteration": iteration,
    });
    match serde_json::from_value(value) {
        Ok(tr) => tr,
        Err(err) => panic!("a minimal task run must deserialise: {err}"),
    }
}

pub(super) fn execution(id: String, ns: &str, flow: &str, start: DateTime<Utc>) -> Execution {
    let inputs = Map::from_iter([("n".to_string(), json!(3)), ("s".to_string(), json!("x"))]);
    let labels = vec![Label { key: "team".into(), value: "data".into() }];
    Execution::new(id, ns, flow, 1, inputs, labels, start)
}

pub(super) async fn load(store: &dyn StateStore, id: &str) -> Execution {
    match store.load_execution(id).await {
        Ok(Some(e)) => e,
        other => panic!("load_execution({id}) should find it, got {other:?}"),
    }
}

pub(super) fn ids(list: &[super::ExecutionSummary]) -> Vec<&str> {
    list.iter().map(|s| s.id.as_str()).collect()
}

/// Executions (create, load, compare-and-swap save, listings), logs, claims
/// and flow revisions.
///
/// # Panics
/// When the store breaks the contract.
pub async fn state_store_contract(store: &dyn StateStore) {
    let run = unique();
    let ns = format!("contract.s{run}");
    let now = now_ms();

    // create / load: the stored version is 1, task runs keep their order.
    let mut a = execution(format!("{run}-a"), &ns, "flow", now - minutes(10));
    a.task_run_list = vec![task_run(&a, "t1", 0, now - minutes(10)), task_run(&a, "t2", 1, now - minutes(10))];
    store.create_execution(&a).await.expect("create_execution");
    assert!(store.create_execution(&a).await.is_err(), "creating an existing execution id must fail");
    let mut loaded = load(store, &a.id).await;
    a.version = 1;
    assert_eq!(loaded, a, "a created execution loads back as created, with version 1");
    assert!(store.load_execution(&format!("{run}-none")).await.expect("load missing").is_none());

    // compare-and-swap.
    let mut stale = loaded.clone();
    stale.version = 0;
    match store.save_execution(&stale, &[]).await {
        Err(BackendError::Conflict { expected: 0, found: 1, .. }) => {}
        other => panic!("saving with version 0 over version 1 must conflict, got {other:?}"),
    }
    loaded.state.set(StateType::Running, now - minutes(9));
    loaded.task_run_list[0].state.set(StateType::Running, now - minutes(9));
    loaded.task_run_list[0].outputs = Some(Box::new(Map::from_iter([("uri".to_string(), json!("kestra:///x/y.csv"))])));
    let t3 = task_run(&loaded, "t3", 2, now - minutes(9));
    loaded.task_run_list.push(t3);
    let changed = [loaded.task_run_list[0].id.clone(), loaded.task_run_list[2].id.clone()];
    assert_eq!(store.save_execution(&loaded, &changed).await.expect("save v1"), 2, "save returns the new version");
    loaded.version = 2;
    assert_eq!(load(store, &a.id).await, loaded, "a saved execution loads back with its changed and new task runs");
    let mut late = loaded.clone();
    late.version = 1;
    late.state.set(StateType::Failed, now);
    match store.save_execution(&late, &[]).await {
        Err(BackendError::Conflict { expected: 1, found: 2, .. }) => {}
        other => panic!("saving a stale version must conflict, got {other:?}"),
    }
    assert_eq!(load(store, &a.id).await, loaded, "a lost compare-and-swap changes nothing");
    // the head is the execution but its task runs (which a store may leave unread)
    let head = store.load_execution_head(&a.id).await.expect("load head").expect("the head is found");
    let mut bare = loaded.clone();
    bare.task_run_list.clear();
    let mut head_bare = head.clone();
    head_bare.task_run_list.clear();
    assert_eq!(head_bare, bare, "the head holds every field but the task runs");
    assert!(head.task_run_list.is_empty() || head.task_run_list == loaded.task_run_list);
    assert!(store.load_execution_head(&format!("{run}-none")).await.expect("head of none").is_none());
    loaded.task_run_list[1].state.set(StateType::Running, now - minutes(8));
    let changed = [loaded.task_run_list[1].id.clone()];
    assert_eq!(store.save_execution(&loaded, &changed).await.expect("save v2"), 3);
    loaded.version = 3;
    assert_eq!(load(store, &a.id).await, loaded);

    // a save that applies attempts' results closes their claims and stores
    // their metrics; one that loses its compare-and-swap does neither
    let t2 = loaded.task_run_list[1].id.clone();
    let metric = super::metrics::MetricEntry {
        namespace: ns.clone(),
        flow_id: "flow".into(),
        task_id: Some("t2".into()),
        execution_id: Some(a.id.clone()),
        task_run_id: Some(t2.clone()),
        kind: super::metrics::MetricType::Counter,
        name: "rows".into(),
        value: 3.0,
        timestamp: now - minutes(8),
        tags: Default::default(),
    };
    let ended =
        [super::AttemptEnd { task_run_id: t2.clone(), attempt: 1, metrics: vec![metric.clone()], close_claim: true }];
    assert_eq!(store.claim(&t2, 1, "w1", now + minutes(5)).await.expect("claim"), Claim::Acquired);
    let mut lost = loaded.clone();
    lost.version = 2;
    assert!(store.save_execution_ending(&lost, &[1], &ended).await.is_err(), "a stale save must conflict");
    assert_ne!(
        store.claim(&t2, 1, "w2", now + minutes(5)).await.expect("claim"),
        Claim::Done,
        "a lost save closes no claim"
    );
    assert!(store.metrics().execution_metrics(&a.id).await.expect("metrics").entries.is_empty());
    loaded.task_run_list[1].state.set(StateType::Success, now - minutes(8));
    assert_eq!(store.save_execution_ending(&loaded, &[1], &ended).await.expect("save v3 ending"), 4);
    loaded.version = 4;
    assert_eq!(load(store, &a.id).await, loaded);
    assert_eq!(
        store.claim(&t2, 1, "w2", now + minutes(5)).await.expect("claim"),
        Claim::Done,
        "the save closed the claim"
    );
    assert_eq!(store.metrics().execution_metrics(&a.id).await.expect("metrics").entries, vec![metric]);
    let late = [super::AttemptEnd { task_run_id: t2.clone(), attempt: 2, metrics: Vec::new(), close_claim: true }];
    store.end_attempts(&late).await.expect("end_attempts");
    assert_eq!(
        store.claim(&t2, 2, "w2", now + minutes(5)).await.expect("claim"),
        Claim::Done,
        "an ended attempt without a save"
    );
    // a claim its worker closes itself is not written again
    let theirs = [super::AttemptEnd { task_run_id: t2.clone(), attempt: 3, metrics: Vec::new(), close_claim: false }];
    store.end_attempts(&theirs).await.expect("end_attempts");
    assert_eq!(store.claim(&t2, 3, "w2", now + minutes(5)).await.expect("claim"), Claim::Acquired, "left open");
    // a save that dispatches attempts to in-process workers opens their
    // claims (where the store can): the holder named in the job confirms
    // it, another worker finds it held, and once closed it is done
    let holder = "local-core@p1";
    let opened = [super::AttemptClaim {
        task_run_id: t2.clone(),
        attempt: 4,
        worker_id: holder.into(),
        until: now + minutes(5),
    }];
    assert_eq!(store.save_execution_claiming(&loaded, &[1], &[], &opened).await.expect("save v4 claiming"), 5);
    loaded.version = 5;
    assert_eq!(load(store, &a.id).await, loaded);
    assert_eq!(store.confirm_claim(&t2, 4, holder, now + minutes(5)).await.expect("confirm"), Claim::Acquired);
    assert!(
        matches!(store.claim(&t2, 4, "w2", now + minutes(5)).await.expect("claim"), Claim::HeldElsewhere { worker_id, .. } if worker_id == holder),
        "another worker finds the opened claim held"
    );
    store.finish_claim(&t2, 4).await.expect("finish_claim");
    assert_eq!(
        store.confirm_claim(&t2, 4, holder, now + minutes(5)).await.expect("confirm"),
        Claim::Done,
        "closed (a kill)"
    );
    // a claim already there is left as it is: its holder keeps it
    let reopened = [super::AttemptClaim {
        task_run_id: t2.clone(),
        attempt: 3,
        worker_id: holder.into(),
        until: now + minutes(5),
    }];
    assert_eq!(store.save_execution_claiming(&loaded, &[], &[], &reopened).await.expect("save v5 claiming"), 6);
    loaded.version = 6;
    assert!(
        matches!(store.confirm_claim(&t2, 3, holder, now + minutes(5)).await.expect("confirm"), Claim::HeldElsewhere { worker_id, .. } if worker_id == "w2"),
        "w2's claim stands"
    );
    let mut stale = loaded.clone();
    stale.version = 5;
    let lost = [super::AttemptClaim {
        task_run_id: t2.clone(),
        attempt: 5,
        worker_id: holder.into(),
        until: now + minutes(5),
    }];
    assert!(store.save_execution_claiming(&stale, &[], &[], &lost).await.is_err(), "a stale save must conflict");
    assert_eq!(
        store.claim(&t2, 5, "w2", now + minutes(5)).await.expect("claim"),
        Claim::Acquired,
        "a lost save opens no claim"
    );
    let mut ghost = loaded.clone();
    ghost.id = format!("{run}-ghost");
    assert!(store.save_execution(&ghost, &[]).await.is_err(), "saving an execution never created must fail");

    // listings.
    let mut b = execution(format!("{run}-b"), &ns, "flow", now - minutes(5));
    b.state.set(StateType::Success, now - minutes(4));
    let c = execution(format!("{run}-c"), &ns, "flow", now - minutes(1));
    let d = execution(format!("{run}-d"), &ns, "other", now - minutes(3));
    for e in [&b, &c, &d] {
        store.create_execution(e).await.expect("create_execution");
    }
    let filter = |flow: Option<&str>, state: Option<StateType>, limit: Option<usize>| ExecutionFilter {
        namespace: Some(ns.clone()),
        flow_id: flow.map(str::to_string),
        state,
        limit,
        labels: Vec::new(),
    };
    let all = store.list_executions(&filter(None, None, None)).await.expect("list_executions");
    assert_eq!(ids(&all), [&c.id, &d.id, &b.id, &a.id], "listing is newest first");
    assert_eq!(all[0].state, StateType::Created);
    assert_eq!(all[0].start_date, Some(now - minutes(1)));
    assert_eq!((all[2].state, all[2].end_date), (StateType::Success, Some(now - minutes(4))));
    assert_eq!(all[3].flow_id, "flow");
    let flow = store.list_executions(&filter(Some("flow"), None, None)).await.expect("list by flow");
    assert_eq!(ids(&flow), [&c.id, &b.id, &a.id]);
    let running = store.list_executions(&filter(None, Some(StateType::Running), None)).await.expect("by state");
    assert_eq!(ids(&running), [&a.id]);
    let two = store.list_executions(&filter(None, None, Some(2))).await.expect("list with limit");
    assert_eq!(ids(&two), [&c.id, &d.id]);

    // logs.
    let log = |message: &str, at: DateTime<Utc>| LogEntry {
        namespace: ns.clone(),
        flow_id: "flow".into(),
        execution_id: a.id.clone(),
        task_id: Some("t1".into()),
        task_run_id: Some(a.task_run_list[0].id.clone()),
        attempt_number: Some(1),
        timestamp: at,
        level: "INFO".into(),
        message: message.into(),
    };
    let first = vec![log("one", now), log("two", now)];
    let second = vec![log("three", now - minutes(1))];
    store.append_logs(&first).await.expect("append_logs");
    store.append_logs(&second).await.expect("append_logs");
    store.append_logs(&[]).await.expect("append no logs");
    let logs = store.logs(&a.id).await.expect("logs");
    assert_eq!(logs, [first, second].concat(), "logs come back in append order");
    assert!(store.logs(&b.id).await.expect("logs").is_empty());
    // one level's lines, in order, read no further than a line past a bound
    let error = |message: &str| LogEntry { level: "ERROR".into(), ..log(message, now) };
    store.append_logs(&[error("e1"), log("four", now)]).await.expect("append_logs");
    store.append_logs(&[error("e2"), error("e3")]).await.expect("append_logs");
    let messages = |l: Vec<LogEntry>| l.into_iter().map(|l| l.message).collect::<Vec<_>>();
    let at = |lines, bytes| store.logs_at_level(&a.id, "ERROR", lines, bytes);
    assert_eq!(messages(at(10, 100).await.expect("errors")), ["e1", "e2", "e3"]);
    assert_eq!(messages(at(1, 100).await.expect("errors")), ["e1", "e2"]);
    assert_eq!(messages(at(10, 3).await.expect("errors")), ["e1", "e2"]);
    assert!(store.logs_at_level(&b.id, "ERROR", 10, 100).await.expect("errors").is_empty());

    claims_contract(store, &run, now).await;
    super::contract_labels::labels_and_deletion_contract(store, &run, &ns, now).await;
    flows_contract(store, &ns).await;

    // compare-and-swap records: first write creates, a stale write conflicts,
    // and of concurrent writers of one version exactly one wins.
    let key = format!("{ns}:flow");
    assert_eq!(store.load_record("concurrency", &key).await.expect("load record"), None);
    assert_eq!(store.save_record("concurrency", &key, 0, &json!({"running": ["a"]})).await.expect("create"), 1);
    match store.save_record("concurrency", &key, 0, &json!({"running": ["b"]})).await {
        Err(BackendError::Conflict { expected: 0, found: 1, .. }) => {}
        other => panic!("creating an existing record must conflict, got {other:?}"),
    }
    assert_eq!(store.save_record("concurrency", &key, 1, &json!({"running": []})).await.expect("update"), 2);
    assert!(matches!(
        store.save_record("concurrency", &key, 1, &json!({"running": ["c"]})).await,
        Err(BackendError::Conflict { .. })
    ));
    assert_eq!(store.load_record("concurrency", &key).await.expect("load"), Some((2, json!({"running": []}))));
    let k = &key;
    let racers = futures::future::join_all(
        (0..8).map(|i| async move { store.save_record("concurrency", k, 2, &json!({"winner": i})).await.is_ok() }),
    )
    .await;
    assert_eq!(racers.iter().filter(|ok| **ok).count(), 1, "exactly one concurrent writer of version 2 wins");
    let other = format!("{ns}:other");
    assert_eq!(store.save_record("leases", &other, 0, &json!(1)).await.expect("another kind"), 1);
    assert_eq!(store.load_record("concurrency", &other).await.expect("kinds are apart"), None);
}

async fn claims_contract(store: &dyn StateStore, run: &str, now: DateTime<Utc>) {
    let tr = format!("{run}-claimed");
    let later = now + minutes(5);
    assert_eq!(store.claim(&tr, 1, "w1", later).await.expect("claim"), Claim::Acquired);
    assert_eq!(store.claim(&tr, 1, "w1", later).await.expect("claim"), Claim::Acquired, "re-claim by the holder");
    let held = Claim::HeldElsewhere { worker_id: "w1".into(), until: later };
    assert_eq!(store.claim(&tr, 1, "w2", later).await.expect("claim"), held, "a duplicate delivery");
    store.heartbeat(&tr, 1, "w1", now + minutes(10)).await.expect("heartbeat by the holder");
    let held = Claim::HeldElsewhere { worker_id: "w1".into(), until: now + minutes(10) };
    assert_eq!(store.claim(&tr, 1, "w2", later).await.expect("claim"), held, "heartbeat extends the lease");
    assert!(store.heartbeat(&tr, 1, "w2", later).await.is_err(), "heartbeat by a non-holder must fail");
    assert_eq!(store.claim(&tr, 2, "w2", later).await.expect("claim"), Claim::Acquired, "attempts are independent");

    store.finish_claim(&tr, 1).await.expect("finish_claim");
    assert_eq!(store.claim(&tr, 1, "w1", later).await.expect("claim"), Claim::Done);
    assert_eq!(store.claim(&tr, 1, "w3", later).await.expect("claim"), Claim::Done);
    assert!(store.heartbeat(&tr, 1, "w1", later).await.is_err(), "heartbeat on a finished claim must fail");

    let expired = format!("{run}-expired");
    assert_eq!(store.claim(&expired, 1, "w1", now - minutes(1)).await.expect("claim"), Claim::Acquired);
    // an expired lease is taken over; `TakenOver` names the presumed-dead holder (preferred), `Acquired` is allowed
    let takeover = store.claim(&expired, 1, "w2", later).await.expect("claim");
    assert!(
        takeover == Claim::Acquired || takeover == Claim::TakenOver { worker_id: "w1".into(), until: now - minutes(1) },
        "expired lease: {takeover:?}"
    );
    let held = Claim::HeldElsewhere { worker_id: "w2".into(), until: later };
    assert_eq!(store.claim(&expired, 1, "w1", later).await.expect("claim"), held, "the takeover holds");
    assert!(store.heartbeat(&expired, 1, "w1", later).await.is_err(), "the old holder lost its lease");

    let unclaimed = format!("{run}-unclaimed");
    store.finish_claim(&unclaimed, 1).await.expect("finish without claim");
    assert_eq!(store.claim(&unclaimed, 1, "w1", later).await.expect("claim"), Claim::Done);

    // a result kept with the claim (a worker fed over Pub/Sub), read back by the sweep
    let result = r#"{"state":"SUCCESS","outputs":{"value":"é"}}"#;
    assert_eq!(store.kept_result(&tr, 2).await.expect("kept"), None, "a live claim keeps no result");
    store.finish_claim_with(&tr, 2, result).await.expect("finish with result");
    assert_eq!(store.claim(&tr, 2, "w3", later).await.expect("claim"), Claim::Done);
    assert!(store.heartbeat(&tr, 2, "w2", later).await.is_err(), "finished with its result: no longer held");
    assert_eq!(store.kept_result(&tr, 2).await.expect("kept").as_deref(), Some(result));
    assert_eq!(store.kept_result(&tr, 1).await.expect("kept"), None, "finished without one");
    assert_eq!(store.kept_result(&format!("{run}-never"), 1).await.expect("kept"), None, "no claim");
    let bare = format!("{run}-bare");
    store.finish_claim_with(&bare, 1, result).await.expect("finish with result, unclaimed");
    assert_eq!(store.claim(&bare, 1, "w1", later).await.expect("claim"), Claim::Done);
    assert_eq!(store.kept_result(&bare, 1).await.expect("kept").as_deref(), Some(result));
}

async fn flows_contract(store: &dyn StateStore, ns: &str) {
    let (v1, v2) = ("id: f\nnamespace: x\ntasks: []\n", "id: f\nnamespace: x\ntasks: [] # v2\n");
    assert_eq!(store.save_flow(ns, "f", v1).await.expect("save_flow"), 1);
    assert_eq!(store.save_flow(ns, "f", v1).await.expect("save_flow"), 1, "same source: same revision");
    assert_eq!(store.save_flow(ns, "f", v2).await.expect("save_flow"), 2);
    assert_eq!(store.save_flow(ns, "f", v1).await.expect("save_flow"), 3, "differs from the latest: new revision");
    assert_eq!(store.save_flow(ns, "g", v2).await.expect("save_flow"), 1, "revisions are per flow");
    assert_eq!(store.load_flow(ns, "f", None).await.expect("load_flow"), Some((3, v1.to_string())));
    assert_eq!(store.load_flow(ns, "f", Some(2)).await.expect("load_flow"), Some((2, v2.to_string())));
    assert_eq!(store.load_flow(ns, "f", Some(9)).await.expect("load_flow"), None);
    assert_eq!(store.load_flow(ns, "missing", None).await.expect("load_flow"), None);
    let revs = store.list_flow_revisions(ns, "f", 100).await.expect("list_flow_revisions");
    let listed: Vec<(u32, &str)> = revs.iter().map(|r| (r.revision, r.source.as_str())).collect();
    assert_eq!(listed, [(1, v1), (2, v2), (3, v1)], "every revision, oldest first");
    assert!(revs.iter().all(|r| r.created.is_some_and(|c| c <= Utc::now())), "each revision's date: {revs:?}");
    let newest = store.list_flow_revisions(ns, "f", 2).await.expect("list_flow_revisions");
    assert_eq!(newest.iter().map(|r| r.revision).collect::<Vec<_>>(), [2, 3], "the newest `limit`, oldest first");
    assert!(store.list_flow_revisions(ns, "missing", 10).await.expect("list_flow_revisions").is_empty());
    // old revisions deleted, never the latest; a missing one counts nothing
    assert_eq!(store.delete_flow_revisions(ns, "f", &[1, 3, 7]).await.expect("delete_flow_revisions"), 1);
    let left: Vec<u32> = store
        .list_flow_revisions(ns, "f", 100)
        .await
        .expect("list_flow_revisions")
        .iter()
        .map(|r| r.revision)
        .collect();
    assert_eq!(left, [2, 3]);
    assert_eq!(store.load_flow(ns, "f", None).await.expect("load_flow"), Some((3, v1.to_string())));
    assert_eq!(store.save_flow(ns, "f", v2).await.expect("save_flow"), 4, "numbering goes on after a purge");
    assert_eq!(store.delete_flow_revisions(ns, "missing", &[1]).await.expect("delete_flow_revisions"), 0);
}
