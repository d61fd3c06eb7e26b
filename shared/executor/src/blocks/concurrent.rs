//! Units run concurrently — Parallel branches, ForEach iterations — at most
//! `limit` at a time (0 = unlimited), in order: a unit starts only once
//! every unit before it has, and none starts after a failure. So the
//! started units are always a prefix, and a block is known by counters
//! (`index::Conc`): how many started, which still run, whether one failed,
//! the worst state of the others. The first walk of a block after a load
//! goes over every unit and records them; later steps walk only the
//! running units an event touched or whose last walk armed a timer or had
//! units held back for the next step (nothing else moves a running unit
//! on: a job's result, a subflow's end, a resume are events on its task
//! runs), then start the next units while there is room. Units that do
//! nothing when walked are left alone, which decides exactly what walking
//! them would (every executor scenario checks it against a whole walk).
//!
//! A Loop's iteration is a unit with the Loop's `errors` and `finally`
//! (Kestra 2.0 runs each in its own sub-execution); a failed iteration
//! fails the block only with `transmitFailed`, and the block's state is
//! SUCCESS otherwise, as Kestra ends a Loop. A Loop's `breakWhen`, true
//! after a done iteration, stops the block from starting any other (the
//! running ones end); it is decided again from the stored iterations at
//! the first walk after a load.
//!
//! One step starts at most [`UNITS_A_STEP`] units over all its blocks (a
//! ForEach of 10,000 values with no limit, nested loops): the rest wait for
//! the next step, which the step asks for at once (`Action::WakeAt` now),
//! so what one step holds — new task runs, their jobs, the rows it saves —
//! is bounded, not the size of the loop, and the first iterations run
//! while the next are admitted.
//!
//! A block with no `concurrencyLimit` also keeps at most [`JOB_WINDOW`]
//! units with a job out (dispatched, its result not in yet): the next units
//! start in the steps those results bring, so the jobs queued for the
//! workers — each holds its rendered context — stay bounded however long
//! the loop, and the executor does not outrun the workers. Units waiting on
//! anything else (a pause, a subflow, a timer) take no place in the window,
//! so it never holds back a unit that only a held-back unit could release.
//! Kestra admits them all in one go; the difference shows only in when the
//! later iterations are CREATED.

use super::{Action, Block, Stepper, worst};
use crate::index::{Conc, Units, seq_key};
use baton_model::{StateType, Task};

/// The most units (iterations, branches) one step starts.
pub(crate) const UNITS_A_STEP: u32 = 1_000;

/// The most units with a job out that a block with no `concurrencyLimit`
/// keeps; it starts the next ones as their results come in.
pub(crate) const JOB_WINDOW: usize = 1_000;

/// The most task runs a block makes room for at once when it starts (a
/// larger loop's list grows as usual past them).
const MAX_ROOM: usize = 1_000_000;

/// Whether a block may start another unit: under its `concurrencyLimit`,
/// or (with none) under [`JOB_WINDOW`] units with a job out.
fn has_room(memo: &Conc, limit: usize) -> bool {
    if limit == 0 { memo.jobs.len() < JOB_WINDOW } else { memo.running.len() < limit }
}

/// What the units of a block run.
#[derive(Clone, Copy)]
pub(super) struct Body<'a> {
    pub tasks: &'a [Task],
    /// A Loop: its iterations carry its errors and finally handlers.
    pub looped: Option<&'a Task>,
}

impl Body<'_> {
    fn transmits_failure(&self) -> bool {
        self.looped.is_none_or(super::loops::transmit_failed)
    }
}

/// What a unit's walk left: enough to tell whether it did anything.
type Progress = (usize, usize, usize, bool);

impl<'a> Stepper<'a> {
    /// Runs the units of the Parallel or ForEach task run at `idx`: the
    /// enabled `tasks` one per branch, or (ForEach) all of them once per
    /// value of `values` (only given the first time; later steps read them
    /// from the index).
    pub(super) fn concurrent(
        &mut self,
        body: Body<'a>,
        idx: usize,
        limit: usize,
        values: Option<Vec<Box<str>>>,
    ) -> Block {
        let tasks = body.tasks;
        let (parent, parent_value) = self.slot_of(idx);
        let pos = idx as u32;
        if let Some(mut memo) = self.index.blocks.remove(&pos) {
            let block = self.walk_known(&mut memo, body, pos, &parent, parent_value.as_deref(), limit);
            self.count_jobs(&memo);
            self.index.blocks.insert(pos, memo);
            return block;
        }
        let units = match values {
            Some(v) => Units::values(v),
            None => Units::Tasks(tasks.iter().filter(|t| !t.disabled).map(|t| t.id.as_str().into()).collect()),
        };
        // kept with the execution (a partly loaded one): its counters, these units
        let units = match self.index.take_imported(pos, units, &self.exec.task_run_list) {
            Ok(mut memo) => {
                let block = self.walk_known(&mut memo, body, pos, &parent, parent_value.as_deref(), limit);
                self.count_jobs(&memo);
                self.index.blocks.insert(pos, memo);
                return block;
            }
            Err(units) => units,
        };
        // a large loop's task runs are made room for once: the list never
        // doubles (a copy of every task run, held twice while it is made)
        let per_unit = if matches!(units, Units::Tasks(_)) { 1 } else { tasks.len().max(1) };
        let room = units.len().saturating_mul(per_unit).min(MAX_ROOM);
        if room > self.exec.task_run_list.capacity() - self.exec.task_run_list.len() {
            self.exec.task_run_list.reserve_exact(room);
        }
        // iterations sharing a value share their task runs: walk all every time
        let shared = matches!(units, Units::Shared(_));
        let mut memo = Conc {
            units,
            started: 0,
            failed: false,
            stopped: false,
            state: StateType::Success,
            running: Default::default(),
            due: Default::default(),
            all_due: false,
            jobs: Default::default(),
        };
        let (block, prefix) = self.scan(&mut memo, body, pos, &parent, parent_value.as_deref(), limit);
        self.count_jobs(&memo);
        if prefix && !shared {
            self.index.blocks.insert(pos, memo);
        }
        block
    }

    /// A block with units that have a job out has one itself, for the unit
    /// of an enclosing block it runs in (its units not walked this step
    /// keep theirs).
    fn count_jobs(&mut self, memo: &Conc) {
        if !memo.jobs.is_empty() {
            self.jobs_out += 1;
        }
    }

    /// Counts a unit this step starts; false (and the step asks for the
    /// next one) once it started [`UNITS_A_STEP`].
    fn may_start_unit(&mut self) -> bool {
        if self.units_started >= UNITS_A_STEP {
            self.held_back = true;
            self.refused += 1;
            return false;
        }
        self.units_started += 1;
        true
    }

    /// The tasks and value of unit `u`.
    fn unit(units: &Units, tasks: &'a [Task], u: usize, parent_value: Option<&str>) -> (&'a [Task], Option<String>) {
        match units {
            Units::Values { values, .. } | Units::Shared(values) => (tasks, Some(values[u].to_string())),
            Units::Tasks(_) => {
                let branch = tasks.iter().filter(|t| !t.disabled).nth(u);
                (branch.map(std::slice::from_ref).unwrap_or_default(), parent_value.map(str::to_string))
            }
        }
    }

    fn progress(&self) -> Progress {
        (self.actions.len(), self.changed.len(), self.exec.task_run_list.len(), self.cancelled)
    }

    /// Walks unit `u` of the block at `at` and records what it is now.
    fn walk_unit(
        &mut self,
        memo: &mut Conc,
        body: Body<'a>,
        at: u32,
        u: u32,
        parent: &str,
        parent_value: Option<&str>,
    ) {
        let (unit_tasks, value) = Self::unit(&memo.units, body.tasks, u as usize, parent_value);
        let before = self.progress();
        let refused = self.refused;
        let jobs_out = self.jobs_out;
        // the block's direct children met on the way are this unit's
        let outer = self.unit_walked.replace((at, u));
        let block = match body.looped {
            Some(l) => self.handled_sequence(unit_tasks, &l.errors, &l.finally, Some(parent), value.as_deref()),
            None => self.sequence(unit_tasks, Some(parent), value.as_deref()),
        };
        self.unit_walked = outer;
        let acted = self.progress() != before;
        match block {
            Block::Running => {
                memo.running.insert(u);
                if self.jobs_out != jobs_out {
                    memo.jobs.insert(u);
                } else {
                    memo.jobs.remove(&u);
                }
                // walked again at the next step when it waits on a timer or on
                // units held back for the next step (an event on one of its
                // task runs makes it due anyway)
                let timer = self.actions[before.0..].iter().any(|a| matches!(a, Action::WakeAt(_)));
                if acted && (timer || self.refused != refused) {
                    memo.due.insert(u);
                }
                return;
            }
            Block::Done(StateType::Failed) if body.transmits_failure() => memo.failed = true,
            Block::Done(s) => {
                if body.looped.is_none() {
                    memo.state = worst(memo.state, s);
                }
            }
        }
        memo.running.remove(&u);
        memo.jobs.remove(&u);
        if let Some(l) = body.looped {
            let value = value.as_deref().unwrap_or_default();
            self.loop_iteration_done(l, parent, u as usize, value, block, acted);
            if !memo.stopped && self.loop_breaks(l, parent, u as usize, value, block) {
                memo.stopped = true;
            }
        }
        // a done unit is never walked again: its sequences need no memo
        let handlers = body.looped.map(|l| [&l.errors[..], &l.finally[..]]).unwrap_or_default();
        for seq in [unit_tasks].into_iter().chain(handlers) {
            if let Some(key) = seq_key(seq, Some(parent), value.as_deref()) {
                self.index.seqs.remove(&key);
            }
        }
    }

    /// The block's state from its counters.
    fn block_of(memo: &Conc) -> Block {
        if !memo.running.is_empty() {
            Block::Running
        } else if memo.failed {
            Block::Done(StateType::Failed)
        } else if (memo.started as usize) < memo.units.len() && !memo.stopped {
            Block::Running
        } else {
            Block::Done(memo.state)
        }
    }

    /// A step on a block known from earlier steps.
    fn walk_known(
        &mut self,
        memo: &mut Conc,
        body: Body<'a>,
        at: u32,
        parent: &str,
        parent_value: Option<&str>,
        limit: usize,
    ) -> Block {
        let walk: Vec<u32> = if memo.all_due || self.opts.redispatch_pending {
            memo.running.iter().collect()
        } else {
            memo.due.iter().copied().filter(|u| memo.running.contains(u)).collect()
        };
        memo.due.clear();
        memo.all_due = false;
        for u in walk {
            self.walk_unit(memo, body, at, u, parent, parent_value);
        }
        while (memo.started as usize) < memo.units.len() && !memo.failed && !memo.stopped && has_room(memo, limit) {
            if !self.may_start_unit() {
                break;
            }
            let u = memo.started;
            memo.started += 1;
            self.walk_unit(memo, body, at, u, parent, parent_value);
        }
        Self::block_of(memo)
    }

    /// Walks every unit in order, as Kestra admits them, recording them in
    /// `memo`; says whether the started units were a prefix (the memo can
    /// then stand for the block at later steps).
    fn scan(
        &mut self,
        memo: &mut Conc,
        body: Body<'a>,
        at: u32,
        parent: &str,
        parent_value: Option<&str>,
        limit: usize,
    ) -> (Block, bool) {
        let mut pending = false;
        let mut prefix = true;
        for u in 0..memo.units.len() {
            let (unit_tasks, value) = Self::unit(&memo.units, body.tasks, u, parent_value);
            let started = unit_tasks
                .iter()
                .find(|t| !t.disabled)
                .is_none_or(|first| self.find(&first.id, Some(parent), value.as_deref()).is_some());
            if !started && memo.stopped {
                continue;
            }
            if !started && (memo.failed || !has_room(memo, limit) || !self.may_start_unit()) {
                pending = true;
                continue;
            }
            prefix &= !pending;
            memo.started = u as u32 + 1;
            self.walk_unit(memo, body, at, u as u32, parent, parent_value);
        }
        let block = if !memo.running.is_empty() {
            Block::Running
        } else if memo.failed {
            Block::Done(StateType::Failed)
        } else if pending {
            Block::Running
        } else {
            Block::Done(memo.state)
        };
        (block, prefix)
    }
}
