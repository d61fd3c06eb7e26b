//! What the executor keeps about an execution between events, so one
//! event costs what it changes, not the size of the execution:
//!
//! - task runs by slot (task, parent, value) and by id, appended to as task
//!   runs are created (an ordered id names its position, `ids::position_in`:
//!   those are found without a table, so a step's lookups by id touch the
//!   task run and nothing else; the slots of the runs the last events
//!   changed are tried before the table, as the step looks for them first);
//! - per sequence, how many of its first tasks are done (their task runs
//!   terminal, which they stay), so a walk starts where the work is;
//! - per concurrent block (Parallel, ForEach task run), which units
//!   (iterations, branches) have started, which are done with which state,
//!   and which still run, so admission counts instead of walking every
//!   unit, and a step walks only the running units an event touched (or
//!   whose last walk armed a timer or had units held back);
//! - per task run, by position, its parent's position and the unit of its
//!   parent's block it belongs to (as the walk that found or created it
//!   saw it): an event reads them from one array entry instead of from the
//!   run's strings (parsed, hashed, looked up in the block's table of
//!   values: reads one after another — the run, its strings, the table —
//!   each a cache miss in a large loop).
//!
//! Everything here is derived from the task runs and can be rebuilt from
//! them at any time: a fresh index (`ExecIndex::default()`) makes the step
//! walk everything once, as it always did. The one rule: between two steps,
//! only [`super::apply_event_indexed`] and [`super::step_indexed`] change
//! the execution's task runs (anything else — a store load, a restart —
//! starts a fresh index). The executor's unit tests step every scenario
//! both ways and compare.

use std::collections::{BTreeSet, HashMap};
use std::hash::{BuildHasherDefault, Hash, Hasher};

use super::ids;
use baton_model::{Execution, StateType, Task, TaskRun};

/// A hasher for keys that are hashes already (or positions).
#[derive(Default)]
pub(super) struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
    fn write_u32(&mut self, n: u32) {
        self.0 = u64::from(n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

pub(super) type Map<K, V> = HashMap<K, V, BuildHasherDefault<Prehashed>>;

fn hash_of(x: impl Hash) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    x.hash(&mut h);
    h.finish()
}

/// A task run's place: (task id, parent task run, iteration value).
pub(super) fn slot(task_id: &str, parent: Option<&str>, value: Option<&str>) -> u64 {
    hash_of((task_id, parent, value))
}

/// The key of a sequence's memo: its first task (task ids are unique in a
/// flow) in its slot. `None` for a sequence of one task (or none), which
/// keeps no memo: its task run, found by slot, says all a memo would (a
/// memo's check reads that task run too).
pub(super) fn seq_key(tasks: &[Task], parent: Option<&str>, value: Option<&str>) -> Option<u64> {
    match tasks {
        [first, _, ..] => Some(hash_of(("seq", first.id.as_str(), parent, value))),
        _ => None,
    }
}

/// How far a sequence is known to be done.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct SeqMemo {
    /// Its first `done` tasks are done (or disabled), none failed.
    pub done: u32,
    /// The worst state among them.
    pub state: StateType,
    /// The last done task (its index in the sequence) and its task run, to
    /// check the memo still describes this sequence.
    pub last_task: u32,
    pub last_run: u32,
    /// The sequence is inside a unit of a concurrent block: such memos
    /// are not kept with the execution (`partly`), the unit's walk finds
    /// its task runs again.
    pub unit: bool,
}

/// The units of a concurrent block.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Units {
    /// ForEach iterations: unit `u` runs with `values[u]`.
    Values { values: Vec<Box<str>>, by_value: Map<u64, u32> },
    /// ForEach iterations of which two share a value (and so their task
    /// runs): never kept, the block is walked whole at each step.
    Shared(Vec<Box<str>>),
    /// Parallel branches: unit `u` is the `u`-th enabled child task.
    Tasks(Vec<Box<str>>),
}

impl Units {
    pub(super) fn len(&self) -> usize {
        match self {
            Units::Values { values, .. } | Units::Shared(values) => values.len(),
            Units::Tasks(ids) => ids.len(),
        }
    }

    /// ForEach units from their values (`Shared` when two are equal, or
    /// hash alike).
    pub(super) fn values(values: Vec<Box<str>>) -> Units {
        let mut by_value = Map::default();
        for (u, v) in values.iter().enumerate() {
            if by_value.insert(hash_of(v.as_ref()), u as u32).is_some() {
                return Units::Shared(values);
            }
        }
        Units::Values { values, by_value }
    }

    /// The unit a direct child task run of the block belongs to.
    fn unit_of(&self, child: &TaskRun) -> Option<u32> {
        match self {
            Units::Values { values, by_value } => {
                let v = child.value.as_deref()?;
                by_value.get(&hash_of(v)).copied().filter(|u| values[*u as usize].as_ref() == v)
            }
            Units::Tasks(ids) => ids.iter().position(|t| t.as_ref() == child.task_id).map(|u| u as u32),
            Units::Shared(_) => None,
        }
    }
}

/// What is known of a concurrent block's units.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Conc {
    pub units: Units,
    /// Units `0..started` have started (started units are always a prefix).
    pub started: u32,
    /// A done unit failed.
    pub failed: bool,
    /// A Loop's `breakWhen` held after a done unit: no unit starts any more.
    pub stopped: bool,
    /// The worst state of the done units that did not fail.
    pub state: StateType,
    /// Started units not done yet.
    pub running: UnitSet,
    /// Running units to walk at the next step: an event touched them, or
    /// their last walk armed a timer (a retry, a pause) or had units held
    /// back for the next step.
    pub due: BTreeSet<u32>,
    /// Walk every running unit at the next step.
    pub all_due: bool,
    /// Running units whose last walk dispatched a job: a worker's result
    /// will step the execution for them. A block with no
    /// `concurrencyLimit` starts units while fewer than
    /// [`crate::blocks::concurrent::JOB_WINDOW`] are here. Not kept with a
    /// partly loaded execution: after a load it fills again as units are
    /// walked.
    pub jobs: UnitSet,
}

/// A set of units as one bit each, with its count: a ForEach of 100,000
/// values with half its iterations running holds 6 KB here, where a
/// `BTreeSet` held 50,000 keys across ~4,500 nodes and an event's remove
/// walked five levels of them (cache misses, at that size). Iterates in
/// unit order, as the `BTreeSet` did.
#[derive(Debug, Clone, Default)]
pub(super) struct UnitSet {
    words: Vec<u64>,
    len: usize,
}

impl UnitSet {
    pub(super) fn insert(&mut self, u: u32) -> bool {
        let (w, bit) = (u as usize / 64, 1u64 << (u % 64));
        if w >= self.words.len() {
            self.words.resize(w + 1, 0);
        }
        let new = self.words[w] & bit == 0;
        self.words[w] |= bit;
        self.len += usize::from(new);
        new
    }

    pub(super) fn remove(&mut self, u: &u32) -> bool {
        let (w, bit) = (*u as usize / 64, 1u64 << (u % 64));
        let held = self.words.get(w).is_some_and(|x| x & bit != 0);
        if held {
            self.words[w] &= !bit;
            self.len -= 1;
        }
        held
    }

    pub(super) fn contains(&self, u: &u32) -> bool {
        self.words.get(*u as usize / 64).is_some_and(|x| x & (1u64 << (u % 64)) != 0)
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The units, in order.
    pub(super) fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.words.iter().enumerate().flat_map(|(w, &x)| {
            let mut x = x;
            std::iter::from_fn(move || {
                (x != 0).then(|| {
                    let b = x.trailing_zeros();
                    x &= x - 1;
                    w as u32 * 64 + b
                })
            })
        })
    }
}

impl PartialEq for UnitSet {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

/// What the index knows of the task run at a position.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Placed {
    /// Its parent's position ([`UNKNOWN`]: none, or not indexed before it).
    parent: u32,
    /// The unit of its parent's block it belongs to ([`UNKNOWN`]: not
    /// known, found from the block's units).
    unit: u32,
}

/// How many of the task runs the last events changed `find` tries before
/// its table.
const RECENT_TRIED: usize = 4;

/// A `Placed` position or unit not known.
const UNKNOWN: u32 = u32::MAX;

/// The executor's index of one execution (see the module header).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExecIndex {
    exec_id: String,
    /// Task runs indexed: `task_run_list[..len]`.
    len: usize,
    /// Hash of the id of the last task run indexed.
    last_id: u64,
    slots: Map<u64, u32>,
    slot_collisions: Vec<u32>,
    ids: Map<u64, u32>,
    id_collisions: Vec<u32>,
    pub(super) seqs: Map<u64, SeqMemo>,
    pub(super) blocks: Map<u32, Conc>,
    /// By position: the task run's parent and unit.
    placed: Vec<Placed>,
    /// Task runs changed by events since the last step.
    dirty: Vec<u32>,
    /// Those the events before this step changed: the slots the step looks
    /// for first are theirs, checked before the table (one random probe,
    /// in a large execution a cache miss, the fewer).
    recent: Vec<u32>,
    /// Two task runs share a slot (the later one is the slot's): `recent`
    /// is not consulted, the table says which.
    shared_slots: bool,
    /// Set when the execution is partly loaded (`partly`): what was not
    /// loaded, lookups say they need.
    partial: Option<Box<partly::Partly>>,
}

impl ExecIndex {
    /// Brings the index up to date with `exec`'s task runs: indexes those
    /// appended since; starts afresh for another execution or a list that
    /// is not the one indexed plus appended runs.
    pub fn sync(&mut self, exec: &Execution) {
        let list = &exec.task_run_list;
        let same = self.exec_id == exec.id
            && self.len <= list.len()
            && (self.len == 0 || hash_of(list[self.len - 1].id.as_str()) == self.last_id);
        if !same {
            *self = ExecIndex { exec_id: exec.id.clone(), ..ExecIndex::default() };
        }
        for (i, tr) in list.iter().enumerate().skip(self.len) {
            self.add(&list[..i], tr);
        }
    }

    /// Indexes `tr`, just appended to the task runs `before` it.
    pub(super) fn add(&mut self, before: &[TaskRun], tr: &TaskRun) {
        let pos = before.len();
        debug_assert_eq!(pos, self.len, "task runs are indexed in order");
        let p = pos as u32;
        let parent = tr.parent_task_run_id.as_deref();
        let value = tr.value.as_deref();
        let slot = slot(&tr.task_id, parent, value);
        if let Some(prev) = self.slots.insert(slot, p) {
            let other = &before[prev as usize];
            self.shared_slots |= other.task_id == tr.task_id
                && other.parent_task_run_id.as_deref() == parent
                && other.value.as_deref() == value;
            self.slot_collisions.push(prev);
        }
        let parent = parent.and_then(|id| self.lookup(before, id)).map_or(UNKNOWN, |p| p as u32);
        self.placed.push(Placed { parent, unit: UNKNOWN });
        let id = hash_of(tr.id.as_str());
        // an ordered id names its position: found without the table
        if ids::position_in(&tr.id) != Some(pos)
            && let Some(prev) = self.ids.insert(id, p)
        {
            self.id_collisions.push(prev);
        }
        self.len = pos + 1;
        self.last_id = id;
    }

    /// Notes that the task run at `pos` belongs to unit `u` of its parent's
    /// block (the walk of that unit found or created it).
    pub(super) fn note_unit(&mut self, pos: usize, u: u32) {
        if let Some(at) = self.placed.get_mut(pos) {
            at.unit = u;
        }
    }

    /// What the index noted of the task run at `pos`: its parent's
    /// position and its unit in the parent's block.
    #[cfg(test)]
    pub(super) fn placement(&self, pos: usize) -> (Option<usize>, Option<u32>) {
        let at = self.placed[pos];
        ((at.parent != UNKNOWN).then_some(at.parent as usize), (at.unit != UNKNOWN).then_some(at.unit))
    }

    /// The unit of `block` the task run at `pos` (a direct child) belongs
    /// to: as noted in `placed`, else from the block's units.
    fn unit_in(placed: &[Placed], block: &Conc, list: &[TaskRun], pos: usize) -> Option<u32> {
        match placed.get(pos).map(|at| at.unit) {
            Some(u) if u != UNKNOWN && !matches!(block.units, Units::Shared(_)) => {
                debug_assert!(
                    block.units.unit_of(&list[pos]) == Some(u),
                    "task run {pos}: unit {u} noted, {:?} from the block",
                    block.units.unit_of(&list[pos])
                );
                Some(u)
            }
            _ => block.units.unit_of(&list[pos]),
        }
    }

    /// The position of the task run in this slot.
    pub(super) fn find(
        &self,
        list: &[TaskRun],
        task_id: &str,
        parent: Option<&str>,
        value: Option<&str>,
    ) -> Option<usize> {
        let is = |i: &u32| {
            let tr = &list[*i as usize];
            tr.task_id == task_id && tr.parent_task_run_id.as_deref() == parent && tr.value.as_deref() == value
        };
        let table = || {
            let hit = self.slots.get(&slot(task_id, parent, value)).filter(|i| is(i)).copied();
            hit.or_else(|| self.slot_collisions.iter().copied().find(|i| is(i))).map(|i| i as usize)
        };
        if !self.shared_slots
            && let Some(&i) = self.recent.iter().find(|i| is(i))
        {
            debug_assert_eq!(Some(i as usize), table(), "the slot of {task_id} {value:?}");
            return Some(i as usize);
        }
        table()
    }

    /// The position of the task run `id` (in a partly loaded execution, a
    /// task run not loaded is needed: see `partly`).
    pub fn position(&self, list: &[TaskRun], id: &str) -> Option<usize> {
        let found = self.lookup(list, id);
        if found.is_none()
            && let Some(p) = &self.partial
        {
            p.unknown_id(id);
        }
        found
    }

    /// The position of the task run `id` among those indexed.
    fn lookup(&self, list: &[TaskRun], id: &str) -> Option<usize> {
        if let Some(p) = ids::position_in(id).filter(|p| *p < self.len && list.get(*p).is_some_and(|t| t.id == id)) {
            return Some(p);
        }
        let is = |i: &u32| list.get(*i as usize).is_some_and(|t| t.id == id);
        let hit = self.ids.get(&hash_of(id)).filter(|i| is(i)).copied();
        hit.or_else(|| self.id_collisions.iter().copied().find(|i| is(i))).map(|i| i as usize)
    }

    /// Reads, all at once, what an event on the task run at `pos` is about
    /// to read one thing after another: the task run's strings and state
    /// histories and — for an iteration of a ForEach — its unit's value. In
    /// a large execution each of these is a cache miss, and the step
    /// reaches them in a chain (a string compared decides the next lookup);
    /// read up front, the unit's value from the run's `Placed` entry rather
    /// than through its strings, the processor waits for them together
    /// instead of one by one. Reads only; changes nothing; what it returns
    /// is thrown away.
    pub(super) fn warm(&self, list: &[TaskRun], pos: usize) {
        let (Some(tr), Some(at)) = (list.get(pos), self.placed.get(pos)) else { return };
        // from the index's own entry: the unit's value
        if let Some(Conc { units: Units::Values { values, .. }, .. }) = self.blocks.get(&at.parent)
            && let Some(v) = values.get(at.unit as usize)
        {
            std::hint::black_box(v.as_bytes().first());
        }
        // the run itself
        let first = |s: &str| s.as_bytes().first().copied();
        std::hint::black_box((
            first(&tr.id),
            first(&tr.task_id),
            tr.parent_task_run_id.as_deref().map(first),
            tr.value.as_deref().map(first),
            tr.state.histories.last().map(|h| h.state),
            tr.attempts.last().and_then(|a| a.state.histories.last()).map(|h| h.state),
        ));
    }

    /// Notes that an event changed the task run at `pos`.
    pub(super) fn touched(&mut self, pos: usize) {
        self.dirty.push(pos as u32);
    }

    /// Marks the units holding the task runs events changed as due: each
    /// enclosing concurrent block's unit, up the parents.
    pub(super) fn spread_dirty(&mut self, list: &[TaskRun]) {
        let mut dirty = std::mem::take(&mut self.dirty);
        for &pos in &dirty {
            let mut child = pos as usize;
            while let Some(parent) = list.get(child).and_then(|t| t.parent_task_run_id.as_deref()) {
                let known = self.placed.get(child).map(|at| at.parent as usize).filter(|p| *p < list.len());
                let Some(p) = known.or_else(|| self.position(list, parent)) else { break };
                debug_assert_eq!(Some(p), self.lookup(list, parent), "the parent of {child}");
                if let Some(block) = self.blocks.get_mut(&(p as u32)) {
                    match Self::unit_in(&self.placed, block, list, child) {
                        Some(u) => {
                            block.due.insert(u);
                        }
                        None => block.all_due = true,
                    }
                } else if let Some(part) = &mut self.partial {
                    // a block kept with the execution: its unit is known once it is walked
                    part.dirty_child(p as u32, child as u32);
                }
                child = p;
            }
        }
        // the step looks for these first; the vectors swap (no allocation)
        dirty.truncate(RECENT_TRIED);
        self.dirty = std::mem::replace(&mut self.recent, dirty);
        self.dirty.clear();
    }
}

pub(super) mod partly;

#[cfg(test)]
mod tests;
