//! The part of the state-store contract ([`super::contract`]) about
//! execution labels — filters in the listing, labels on the summaries,
//! labels changed by a save — and deletion (with or without the logs).

use chrono::{DateTime, Utc};

use super::contract::{execution, ids, load, minutes, task_run};
use super::{ExecutionFilter, LogEntry, StateStore};
use baton_model::Label;

fn label(k: &str, v: &str) -> Label {
    Label { key: k.into(), value: v.into() }
}

/// Executions of flow `labelled` in `ns` carrying every label of `labels`.
async fn with_labels(store: &dyn StateStore, ns: &str, labels: &[Label], limit: Option<usize>) -> Vec<String> {
    let filter = ExecutionFilter {
        namespace: Some(ns.into()),
        flow_id: Some("labelled".into()),
        labels: labels.to_vec(),
        limit,
        ..ExecutionFilter::default()
    };
    let found = store.list_executions(&filter).await.expect("list_executions with labels");
    for s in &found {
        assert!(
            labels.iter().all(|l| s.labels.contains(l)),
            "{} was listed for {labels:?} but its summary's labels are {:?}",
            s.id,
            s.labels
        );
    }
    ids(&found).into_iter().map(String::from).collect()
}

/// # Panics
/// When the store breaks the contract.
pub(super) async fn labels_and_deletion_contract(store: &dyn StateStore, run: &str, ns: &str, now: DateTime<Utc>) {
    let (prod, tier, dev, odd) = (label("env", "prod"), label("tier", "1"), label("env", "dev"), label("a:b", "c"));
    let mut e1 = execution(format!("{run}-l1"), ns, "labelled", now - minutes(30));
    e1.labels = vec![prod.clone(), tier.clone(), odd.clone()];
    e1.task_run_list = vec![task_run(&e1, "t1", 0, now - minutes(30))];
    let mut e2 = execution(format!("{run}-l2"), ns, "labelled", now - minutes(20));
    e2.labels = vec![prod.clone()];
    let mut e3 = execution(format!("{run}-l3"), ns, "labelled", now - minutes(25));
    e3.labels = vec![dev.clone(), label("a", "b:c")];
    for e in [&e1, &e2, &e3] {
        store.create_execution(e).await.expect("create_execution with labels");
    }
    let all = store
        .list_executions(&ExecutionFilter {
            namespace: Some(ns.into()),
            flow_id: Some("labelled".into()),
            ..ExecutionFilter::default()
        })
        .await
        .expect("list");
    assert_eq!(ids(&all), [&e2.id, &e3.id, &e1.id]);
    assert_eq!(all[2].labels, e1.labels, "a summary carries the execution's labels, in order");

    let (id1, id2, id3) = (e1.id.clone(), e2.id.clone(), e3.id.clone());
    assert_eq!(
        with_labels(store, ns, std::slice::from_ref(&prod), None).await,
        [id2.as_str(), id1.as_str()],
        "newest first"
    );
    assert_eq!(
        with_labels(store, ns, &[prod.clone(), tier.clone()], None).await,
        [id1.as_str()],
        "every label must match"
    );
    assert_eq!(with_labels(store, ns, &[tier.clone(), prod.clone()], None).await, [id1.as_str()], "in any order");
    assert_eq!(
        with_labels(store, ns, std::slice::from_ref(&prod), Some(1)).await,
        [id2.as_str()],
        "limit after the filter"
    );
    assert_eq!(with_labels(store, ns, &[prod.clone(), tier.clone()], Some(1)).await, [id1.as_str()]);
    assert_eq!(with_labels(store, ns, std::slice::from_ref(&odd), None).await, [id1.as_str()], "a ':' in the key");
    assert_eq!(with_labels(store, ns, &[label("a", "b:c")], None).await, [id3.as_str()], "a ':' in the value");
    assert!(with_labels(store, ns, &[label("env", "none")], None).await.is_empty());
    assert!(with_labels(store, ns, &[label("env", "Prod")], None).await.is_empty(), "values are exact");

    // a save that changes the labels changes what the filters find
    let mut changed = load(store, &id3).await;
    changed.set_label("env", "prod");
    store.save_execution(&changed, &[]).await.expect("save with new labels");
    assert_eq!(
        with_labels(store, ns, std::slice::from_ref(&prod), None).await,
        [id2.as_str(), id3.as_str(), id1.as_str()]
    );
    assert!(with_labels(store, ns, std::slice::from_ref(&dev), None).await.is_empty(), "the old label is gone");

    // deletion: the execution, its task runs and (when asked) its logs
    let log = |id: &str| LogEntry {
        namespace: ns.into(),
        flow_id: "labelled".into(),
        execution_id: id.into(),
        task_id: None,
        task_run_id: None,
        attempt_number: None,
        timestamp: now,
        level: "INFO".into(),
        message: format!("line of {id}"),
    };
    store.append_logs(&[log(&id1), log(&id2)]).await.expect("append_logs");
    assert!(store.delete_execution(&id1, true).await.expect("delete_execution"), "it existed");
    assert!(store.load_execution(&id1).await.expect("load deleted").is_none(), "a deleted execution is gone");
    assert!(store.logs(&id1).await.expect("logs").is_empty(), "its logs were deleted with it");
    assert_eq!(with_labels(store, ns, std::slice::from_ref(&prod), None).await, [id2.as_str(), id3.as_str()]);
    assert!(with_labels(store, ns, std::slice::from_ref(&odd), None).await.is_empty(), "its labels went with it");
    assert!(!store.delete_execution(&id1, true).await.expect("delete again"), "a second delete finds nothing");
    assert!(store.delete_execution(&id2, false).await.expect("delete without logs"));
    assert_eq!(store.logs(&id2).await.expect("logs kept").len(), 1, "deleteLogs=false keeps the logs");
    // an id recreated after a delete starts afresh, its task runs' claims too
    // (a tick run again derives the same task run ids)
    store.create_execution(&e1).await.expect("recreate a deleted id");
    assert_eq!(load(store, &id1).await.task_run_list.len(), 1);
    let tr = e1.task_run_list[0].id.clone();
    let later = chrono::Utc::now() + chrono::Duration::seconds(30);
    assert_eq!(store.claim(&tr, 1, "w1", later).await.expect("claim"), crate::Claim::Acquired);
    store.finish_claim(&tr, 1).await.expect("finish_claim");
    assert!(store.delete_execution(&id1, true).await.expect("delete"));
    store.create_execution(&e1).await.expect("recreate again");
    assert_eq!(
        store.claim(&tr, 1, "w2", later).await.expect("claim after delete"),
        crate::Claim::Acquired,
        "a deleted execution's claims are deleted with it"
    );
    assert!(store.delete_execution(&id1, true).await.expect("delete"));
    assert!(store.delete_execution(&id3, true).await.expect("delete"));
}
