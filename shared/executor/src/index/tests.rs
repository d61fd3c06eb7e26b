//! The executor index's own unit tests: ids found whatever their shape,
//! recent runs tried before the slot table, `warm` changing nothing, the
//! unit set behaving as an ordered set.

use super::{ExecIndex, UnitSet, ids};
use baton_model::{Execution, State, StateType, TaskRun};
use std::collections::BTreeSet;

fn run(exec: &Execution, id: String, task: &str) -> TaskRun {
    TaskRun {
        id,
        execution_id: exec.id.clone(),
        namespace: exec.namespace.clone(),
        flow_id: exec.flow_id.clone(),
        task_id: task.into(),
        parent_task_run_id: None,
        value: None,
        attempts: Default::default(),
        outputs: None,
        state: State::new(StateType::Created, chrono::DateTime::UNIX_EPOCH),
        iteration: None,
        next_retry_date: None,
        error: None,
        evaluated: None,
    }
}

/// Ordered ids are found from the position they name, without the
/// table; ids that do not name their position (hashed ones, one moved,
/// one naming a position past the indexed runs) through it, as before.
#[test]
fn task_runs_are_found_by_id_whatever_their_shape() {
    const EXEC: &str = "03545ab27p7pWuqWNwCwq3";
    let mut exec = Execution::new(EXEC.into(), "ns", "f", 1, Default::default(), vec![], chrono::DateTime::UNIX_EPOCH);
    let ordered = |p: usize, t: &str| ids::ordered(&[EXEC, t, "-", "\u{1}"], p);
    for p in 0..300 {
        let id = match p % 4 {
            0 | 1 => ordered(p, "a"),
            // made at another position (a replay's kept run, say)
            2 => ordered(p + 1, "b"),
            _ => ids::derive(&[EXEC, "c", &p.to_string()]),
        };
        exec.task_run_list.push(run(&exec, id, "t"));
    }
    let mut index = ExecIndex::default();
    index.sync(&exec);
    let list = &exec.task_run_list;
    for (p, tr) in list.iter().enumerate() {
        assert_eq!(index.position(list, &tr.id), Some(p), "{p}: {}", tr.id);
    }
    // only the runs whose id names another position are in the table
    assert_eq!(index.ids.len() + index.id_collisions.len(), 150);
    assert_eq!(index.position(list, &ordered(7, "zz")), None, "an id that is not there");
    assert_eq!(index.position(list, "nope"), None);
    // a run appended but not indexed yet is not found (as with the table)
    let late = ordered(300, "a");
    exec.task_run_list.push(run(&exec, late.clone(), "t"));
    assert_eq!(index.position(&exec.task_run_list, &late), None);
    index.sync(&exec);
    assert_eq!(index.position(&exec.task_run_list, &late), Some(300));
}

/// The runs the last events changed are tried before the table, and
/// found there; when two runs share a slot the table decides (the later
/// one), whichever an event touched.
#[test]
fn a_slot_is_found_among_the_recent_runs_unless_two_runs_share_it() {
    let mut exec = Execution::new("e".into(), "ns", "f", 1, Default::default(), vec![], chrono::DateTime::UNIX_EPOCH);
    for (id, task) in [("a", "t"), ("b", "u"), ("c", "v")] {
        exec.task_run_list.push(run(&exec, id.into(), task));
    }
    let mut index = ExecIndex::default();
    index.sync(&exec);
    index.touched(1);
    index.spread_dirty(&exec.task_run_list);
    assert_eq!(index.recent, [1]);
    assert_eq!(index.find(&exec.task_run_list, "u", None, None), Some(1));
    assert_eq!(index.find(&exec.task_run_list, "v", None, None), Some(2), "not recent: the table");
    assert_eq!(index.find(&exec.task_run_list, "w", None, None), None);
    // a second run in the first one's slot: the table's (the later) wins
    exec.task_run_list.push(run(&exec, "d".into(), "t"));
    index.sync(&exec);
    assert!(index.shared_slots);
    index.touched(0);
    index.spread_dirty(&exec.task_run_list);
    assert_eq!(index.recent, [0]);
    assert_eq!(index.find(&exec.task_run_list, "t", None, None), Some(3));
}

/// `warm` reads and changes nothing: the index is the same after it,
/// for task runs inside and outside a ForEach's block and for
/// positions past the list.
#[test]
fn warming_a_task_run_changes_nothing() {
    let mut exec = Execution::new("e".into(), "ns", "f", 1, Default::default(), vec![], chrono::DateTime::UNIX_EPOCH);
    exec.task_run_list.push(run(&exec, "each".into(), "each"));
    for v in 0..5 {
        let mut tr = run(&exec, format!("r{v}"), "r");
        tr.parent_task_run_id = Some("each".into());
        tr.value = Some(v.to_string());
        exec.task_run_list.push(tr);
    }
    let mut index = ExecIndex::default();
    index.sync(&exec);
    index.blocks.insert(
        0,
        super::Conc {
            units: super::Units::values((0..5).map(|v| v.to_string().into()).collect()),
            started: 5,
            failed: false,
            stopped: false,
            state: StateType::Success,
            running: UnitSet::default(),
            due: BTreeSet::new(),
            all_due: false,
            jobs: UnitSet::default(),
        },
    );
    let before = index.clone();
    for pos in 0..10 {
        index.warm(&exec.task_run_list, pos);
    }
    assert_eq!(index, before);
}

#[test]
fn a_unit_set_behaves_as_an_ordered_set() {
    let (mut set, mut model) = (UnitSet::default(), BTreeSet::new());
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    for _ in 0..20_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let u = (x % 700) as u32;
        if x.is_multiple_of(3) {
            assert_eq!(set.remove(&u), model.remove(&u));
        } else {
            assert_eq!(set.insert(u), model.insert(u));
        }
        assert_eq!(set.contains(&u), model.contains(&u));
        assert_eq!(set.len(), model.len());
    }
    assert!(set.iter().eq(model.iter().copied()), "in order");
    // equal sets compare equal whatever words they once used
    let mut a = UnitSet::default();
    a.insert(5_000);
    a.remove(&5_000);
    a.insert(3);
    let mut b = UnitSet::default();
    b.insert(3);
    assert_eq!(a, b);
    assert!(!a.is_empty());
}
