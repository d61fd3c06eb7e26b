//! The contract of [`PartialStore`](super::partial::PartialStore) (loading part of an execution, saving
//! a decision taken on part of one), which SQLite and Firestore both run:
//! the head with its count and the executor's state, task runs by id, slot,
//! task and state (bounded), a sparse save that writes only what changed,
//! compare-and-swap, and a state cleared by any save but the executor's.

use chrono::Utc;

use super::contract::{execution, load};
use super::{BackendError, StateStore};
use baton_executor::partial::{Need, StepState, placeholder};
use baton_model::{Execution, State, StateType, TaskRun};

/// A task run of `e` in its slot, its id derived as the executor derives it.
fn run_in(e: &Execution, pos: usize, task_id: &str, parent: Option<&str>, value: Option<&str>) -> TaskRun {
    TaskRun {
        id: baton_executor::task_run_id(&e.id, pos, task_id, parent, value),
        execution_id: e.id.clone(),
        namespace: e.namespace.clone(),
        flow_id: e.flow_id.clone(),
        task_id: task_id.to_string(),
        parent_task_run_id: parent.map(str::to_string),
        value: value.map(str::to_string),
        iteration: Some(pos as u32),
        state: State::new(StateType::Created, Utc::now()),
        ..placeholder()
    }
}

fn positions(found: Option<Vec<(usize, TaskRun)>>, what: &str) -> Vec<usize> {
    let Some(found) = found else { panic!("{what}: answered too many, expected a few") };
    let mut at: Vec<usize> = found.iter().map(|(p, _)| *p).collect();
    at.sort_unstable();
    at
}

/// Runs the contract on `store`, which must offer [`StateStore::partial`].
///
/// # Panics
/// When the store breaks the contract.
pub async fn partial_store_contract(store: &dyn StateStore) {
    let Some(p) = store.partial() else { panic!("the store offers no partial loads") };
    let id = format!("partial{}", uuid::Uuid::new_v4().simple());
    let mut e = execution(id.clone(), "contract.partial", "each", Utc::now());
    e.state.set(StateType::Running, Utc::now());
    let each = run_in(&e, 0, "each", None, None);
    let each_id = each.id.clone();
    e.task_run_list.push(each);
    for v in 0..5 {
        let value = v.to_string();
        let tr = run_in(&e, v + 1, "r", Some(&each_id), Some(&value));
        e.task_run_list.push(tr);
    }
    store.create_execution(&e).await.expect("create");
    assert!(p.load_head("absent-execution").await.expect("load head").is_none(), "no head for an absent id");
    let head = p.load_head(&id).await.expect("load head").expect("the head");
    assert_eq!((head.count, head.exec.task_run_list.len()), (6, 0), "the head counts the task runs and holds none");
    assert!(head.state.is_none(), "a created execution keeps no executor state");
    e.version = head.exec.version;

    // the executor's save keeps its state with the head
    for pos in [2, 3] {
        e.task_run_list[pos].state.set(StateType::Success, Utc::now());
    }
    let kept = StepState::default();
    e.version = p.save_stepped(&e, &[2, 3], &[], &[], Some(&kept), false).await.expect("save stepped");
    let head = p.load_head(&id).await.expect("load head").expect("the head");
    assert_eq!(head.exec.version, e.version, "the head is at the saved version");
    assert_eq!(head.state, Some(kept), "the state saved with the head reads back");

    // task runs by id, slot, task and state; bounded
    let one = p.load_runs(&id, &[Need::Id(e.task_run_list[2].id.clone())], 10).await.expect("by id");
    assert_eq!(one.as_deref(), Some(&[(2, e.task_run_list[2].clone())][..]), "a task run by id, as saved");
    let none = p.load_runs(&id, &[Need::Id("no-such-run".into())], 10).await.expect("absent id");
    assert_eq!(none.map(|v| v.len()), Some(0), "an absent id answers nothing");
    let slot = Need::Slot { task_id: "r".into(), parent: Some(each_id.clone()), value: Some("3".into()) };
    match p.load_runs(&id, &[slot], 10).await.expect("by slot") {
        Some(found) => assert_eq!(found, vec![(4, e.task_run_list[4].clone())], "the task run in a slot"),
        // a process making time-ordered ids cannot name a slot on Firestore
        None => assert!(baton_model::ids::ids_ordered(), "a slot answered as too many"),
    }
    let task = p.load_runs(&id, &[Need::Task("r".into())], 10).await.expect("by task");
    assert_eq!(positions(task, "by task"), vec![1, 2, 3, 4, 5], "every run of a task");
    let states = p.load_runs(&id, &[Need::States(vec![StateType::Success])], 10).await.expect("by state");
    assert_eq!(positions(states, "by state"), vec![2, 3], "the runs in a state");
    let over = p.load_runs(&id, &[Need::Task("r".into())], 3).await.expect("bounded");
    assert!(over.is_none(), "more than the limit answers None");
    assert!(p.load_runs(&id, &[Need::All], 10).await.is_err(), "every task run is not a partial load");

    // a sparse save writes what changed and nothing else
    let mut sparse = e.clone();
    for (pos, tr) in sparse.task_run_list.iter_mut().enumerate() {
        if pos != 5 {
            *tr = placeholder();
        }
    }
    sparse.task_run_list[5].state.set(StateType::Running, Utc::now());
    e.task_run_list[5] = sparse.task_run_list[5].clone();
    e.version = p.save_stepped(&sparse, &[5], &[], &[], Some(&StepState::default()), true).await.expect("sparse");
    let stored = load(store, &id).await;
    assert_eq!(stored.task_run_list, e.task_run_list, "a sparse save keeps the task runs it did not load");

    // compare-and-swap
    let stale = Execution { version: e.version - 1, ..e.clone() };
    match p.save_stepped(&stale, &[1], &[], &[], None, false).await {
        Err(BackendError::Conflict { .. }) => {}
        other => panic!("a stale save must conflict, got {other:?}"),
    }
    // any other save clears the state: a later decision loads the whole execution
    e.labels.push(baton_model::Label { key: "k".into(), value: "v".into() });
    e.version = store.save_execution_at(&e, &[]).await.expect("plain save");
    let head = p.load_head(&id).await.expect("load head").expect("the head");
    assert!(head.state.is_none(), "a save by another than the executor clears its state");
    assert_eq!((head.count, head.exec.version), (6, e.version), "the count and version after a plain save");
}
