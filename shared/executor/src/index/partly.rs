//! The index over a partly loaded execution, and the part of the index an
//! execution keeps between events ([`StepState`]), so that an instance
//! that holds nothing of an execution (a cold Cloud Run instance) decides
//! an event from the task runs the event touches instead of all of them.
//!
//! A partly loaded execution has all its positions, but the task runs not
//! loaded are placeholders ([`placeholder`]: an empty id, which no task run
//! has). Lookups go through the index, which knows only the loaded ones;
//! where a lookup misses, the index tells "not there" from "not loaded":
//!
//! - a slot is known empty when its parent was created by this step
//!   (nothing stored can be under it), when it is under a unit of a
//!   concurrent block that had not started when the state was kept
//!   (started units are a prefix, `concurrent`), or when the store said so
//!   ([`Need`]s answered empty are passed back in);
//! - otherwise the lookup answers "none" and records a [`Need`]. Any need
//!   makes the step's decision void: the caller loads what is needed and
//!   steps again from the same state (nothing was saved or performed, as
//!   actions run after the save). A step that needs nothing read only
//!   loaded task runs and decides as a step on the whole execution would.
//! - a read of every task run (outputs for a template, a scan for PAUSED
//!   or running task runs, the first error) needs [`Need::All`].
//!
//! [`StepState`] is what the index derived and cannot find again from the
//! few task runs an event loads: per running concurrent block (by
//! position) its counters, running units (a bitset: 1.25 KB at 10,000
//! units) and due units, and the sequence memos outside units. A block's
//! units (its values) are not kept: they come from its task run's
//! `evaluated` (or the flow) when it is walked. Memos inside units are not
//! kept either: a walked unit finds its task runs again.

use std::cell::RefCell;
use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::{Conc, ExecIndex, Map, Placed, SeqMemo, UNKNOWN, UnitSet, Units, hash_of};
use baton_model::{Execution, State, StateType, TaskRun};

/// What a step on a partly loaded execution needs loaded to decide.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Need {
    /// The task run with this id.
    Id(String),
    /// The task run in this slot (task, parent task run, value), if any.
    Slot { task_id: String, parent: Option<String>, value: Option<String> },
    /// Every task run of this task (for the outputs a template reads).
    Task(String),
    /// Every task run in one of these states (a scan for PAUSED, failed
    /// or unfinished task runs).
    States(Vec<StateType>),
    /// Every task run: the step reads them all.
    All,
}

/// What the executor's index keeps with an execution between events (see
/// the module's header). Valid for the task runs it was exported with.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StepState {
    #[serde(rename = "s", default)]
    seqs: Vec<KeptSeq>,
    #[serde(rename = "b", default)]
    blocks: Vec<KeptBlock>,
}

impl StepState {
    /// How many running blocks and sequence memos it holds.
    pub fn size(&self) -> (usize, usize) {
        (self.blocks.len(), self.seqs.len())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct KeptSeq {
    k: u64,
    done: u32,
    state: StateType,
    task: u32,
    run: u32,
}

/// A running concurrent block's counters ([`Conc`] without its units).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct KeptBlock {
    at: u32,
    started: u32,
    failed: bool,
    stopped: bool,
    state: StateType,
    /// The running units, 64 a word.
    running: Vec<u64>,
    due: Vec<u32>,
    all_due: bool,
    /// The running units with a job out (`Conc::jobs`), 64 a word.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    jobs: Vec<u64>,
}

/// A task run not loaded.
pub fn placeholder() -> TaskRun {
    TaskRun {
        id: String::new(),
        execution_id: String::new(),
        namespace: String::new(),
        flow_id: String::new(),
        task_id: String::new(),
        parent_task_run_id: None,
        value: None,
        attempts: Default::default(),
        outputs: None,
        state: State { current: StateType::Created, histories: Default::default() },
        iteration: None,
        next_retry_date: None,
        error: None,
        evaluated: None,
    }
}

/// Whether `tr` stands for a task run not loaded.
pub fn is_placeholder(tr: &TaskRun) -> bool {
    tr.id.is_empty()
}

/// What the index holds of a partly loaded execution.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Partly {
    /// Positions from here on were created by the step.
    created_from: u32,
    /// Needs the store answered with nothing.
    absent: HashSet<Need>,
    /// Kept blocks not walked yet, by position: their counters, and the
    /// positions of their direct children events changed.
    imported: Map<u32, (KeptBlock, Vec<u32>)>,
    /// Per kept block, the units started when the state was kept.
    started: Map<u32, u32>,
    needs: RefCell<Vec<Need>>,
}

impl Partly {
    fn need(&self, n: Need) {
        if !self.absent.contains(&n) {
            self.needs.borrow_mut().push(n);
        }
    }

    pub(super) fn unknown_id(&self, id: &str) {
        self.need(Need::Id(id.to_string()));
    }

    pub(super) fn dirty_child(&mut self, block: u32, child: u32) {
        if let Some((_, children)) = self.imported.get_mut(&block) {
            children.push(child);
        }
    }
}

impl ExecIndex {
    /// An index over `exec`, partly loaded (its other task runs
    /// [`placeholder`]s), with the state kept since the last step and the
    /// needs the store answered with nothing.
    pub(crate) fn partly(exec: &Execution, state: &StepState, absent: HashSet<Need>) -> ExecIndex {
        let list = &exec.task_run_list;
        let mut ix = ExecIndex { exec_id: exec.id.clone(), ..ExecIndex::default() };
        ix.placed.reserve(list.len());
        for (pos, tr) in list.iter().enumerate() {
            ix.len = pos;
            if is_placeholder(tr) {
                ix.placed.push(Placed { parent: UNKNOWN, unit: UNKNOWN });
            } else {
                ix.add(&list[..pos], tr);
            }
        }
        ix.len = list.len();
        ix.last_id = list.last().map_or(0, |t| hash_of(t.id.as_str()));
        for s in &state.seqs {
            let memo = SeqMemo { done: s.done, state: s.state, last_task: s.task, last_run: s.run, unit: false };
            ix.seqs.insert(s.k, memo);
        }
        let mut part = Partly { created_from: list.len() as u32, absent, ..Partly::default() };
        for b in &state.blocks {
            part.started.insert(b.at, b.started);
            part.imported.insert(b.at, (b.clone(), Vec::new()));
        }
        ix.partial = Some(Box::new(part));
        ix
    }

    /// What this index keeps with the execution whose task runs are `list`.
    pub(crate) fn export(&self, list: &[TaskRun]) -> StepState {
        let mut seqs: Vec<KeptSeq> = (self.seqs.iter())
            .filter(|(_, m)| !m.unit)
            .map(|(k, m)| KeptSeq { k: *k, done: m.done, state: m.state, task: m.last_task, run: m.last_run })
            .collect();
        seqs.sort_by_key(|s| s.k);
        let ended = |at: u32| list.get(at as usize).is_some_and(|t| !is_placeholder(t) && t.state.is_terminal());
        let mut blocks: Vec<KeptBlock> = (self.blocks.iter())
            .filter(|(at, c)| !ended(**at) && !matches!(c.units, Units::Shared(_)))
            .map(|(at, c)| KeptBlock {
                at: *at,
                started: c.started,
                failed: c.failed,
                stopped: c.stopped,
                state: c.state,
                running: c.running.words.clone(),
                due: c.due.iter().copied().collect(),
                all_due: c.all_due,
                jobs: c.jobs.words.clone(),
            })
            .collect();
        if let Some(p) = &self.partial {
            for (at, (b, children)) in &p.imported {
                if !ended(*at) {
                    // an event under it, its unit not known: all are due
                    blocks.push(KeptBlock { all_due: b.all_due || !children.is_empty(), ..b.clone() });
                }
            }
        }
        for b in &mut blocks {
            for words in [&mut b.running, &mut b.jobs] {
                while words.last() == Some(&0) {
                    words.pop();
                }
            }
        }
        blocks.sort_by_key(|b| b.at);
        StepState { seqs, blocks }
    }

    /// The kept block at `at`, with its `units`, if there is one not walked
    /// yet (the units back otherwise).
    pub(crate) fn take_imported(&mut self, at: u32, units: Units, list: &[TaskRun]) -> Result<Conc, Units> {
        let Some((b, children)) = self.partial.as_mut().and_then(|p| p.imported.remove(&at)) else {
            return Err(units);
        };
        let ones = |words: &[u64]| words.iter().map(|w| w.count_ones() as usize).sum::<usize>();
        let (len, jobs) = (ones(&b.running), ones(&b.jobs));
        let mut conc = Conc {
            units,
            started: b.started,
            failed: b.failed,
            stopped: b.stopped,
            state: b.state,
            running: UnitSet { words: b.running, len },
            due: b.due.into_iter().collect(),
            all_due: b.all_due,
            jobs: UnitSet { words: b.jobs, len: jobs },
        };
        for child in children {
            match Self::unit_in(&self.placed, &conc, list, child as usize) {
                Some(u) => {
                    conc.due.insert(u);
                }
                None => conc.all_due = true,
            }
        }
        Ok(conc)
    }

    /// Whether the execution is partly loaded.
    pub(crate) fn is_partial(&self) -> bool {
        self.partial.is_some()
    }

    /// A step that reads every task run: in a partly loaded execution,
    /// needs them all.
    pub(crate) fn need_all(&self) {
        if let Some(p) = &self.partial {
            p.needs.borrow_mut().push(Need::All);
        }
    }

    /// A scan of the task runs in the states `holds` accepts: in a partly
    /// loaded execution, needs them all.
    pub(crate) fn need_states(&self, holds: impl Fn(StateType) -> bool) {
        if let Some(p) = &self.partial {
            p.need(Need::States(StateType::ALL.into_iter().filter(|s| holds(*s)).collect()));
        }
    }

    /// In a partly loaded execution, a need (unless answered already).
    pub(crate) fn need(&self, n: Need) {
        if let Some(p) = &self.partial {
            p.need(n);
        }
    }

    /// Whether the task run at `pos` is not loaded.
    pub(crate) fn unloaded(&self, list: &[TaskRun], pos: usize) -> bool {
        self.partial.is_some() && list.get(pos).is_some_and(is_placeholder)
    }

    /// A slot `find` found empty: in a partly loaded execution, needed
    /// unless known empty (see the module's header). `walked`: the unit
    /// being walked, (block position, unit).
    pub(crate) fn missed_slot(
        &self,
        list: &[TaskRun],
        task_id: &str,
        parent: Option<&str>,
        value: Option<&str>,
        walked: Option<(u32, u32)>,
    ) {
        let Some(p) = &self.partial else { return };
        if let Some(at) = parent.and_then(|id| self.lookup(list, id)) {
            let at = at as u32;
            if at >= p.created_from {
                return;
            }
            if let Some((block, u)) = walked
                && block == at
                && p.started.get(&at).is_some_and(|s| u >= *s)
            {
                return;
            }
        }
        p.need(Need::Slot {
            task_id: task_id.to_string(),
            parent: parent.map(str::to_string),
            value: value.map(str::to_string),
        });
    }

    /// The needs recorded, each once, in the order first met.
    pub(crate) fn take_needs(&mut self) -> Vec<Need> {
        let Some(p) = &mut self.partial else { return Vec::new() };
        let mut seen = HashSet::new();
        p.needs.get_mut().drain(..).filter(|n| seen.insert(n.clone())).collect()
    }
}
