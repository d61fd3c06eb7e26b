//! Deciding an event on part of an execution (`executor::partial`): when
//! this process holds no copy of a large running execution (a Cloud Run
//! instance that just started, or another instance's execution), and the
//! store keeps the executor's state with the head (`backend::partial`),
//! the executor reads the head, the event's task runs and then what the
//! step names (a few task runs, usually in one or two reads), instead of
//! every task run. It saves with the same compare-and-swap as any other
//! decision (a conflict decides again, from the store).
//!
//! It steps aside ([`Partly::Whole`]: the whole execution is loaded as
//! before) for what needs the whole execution or more than a task run's
//! events: small executions (under [`PARTIAL_FROM`] task runs, where one
//! read is cheaper), no state kept (an execution written by something else
//! than the executor last: the API's restarts and labels), an execution
//! not RUNNING, kills, resumes and the other events, a step that reads
//! every task run (outputs of every task, a flow's outputs) or more than
//! [`MAX_LOADED`] of them, or that changes the execution's state (Flow
//! triggers and the end read the whole execution), starts subflows, or
//! decides nothing while a Flow trigger reacts to the execution's state
//! (the whole path re-fires the Flow triggers a dead instance may have
//! missed), or a wake found nothing. A duplicate or late result is
//! otherwise acknowledged from the head and its task runs: a cold instance never loads a large execution
//! only to find an event changed nothing.

use std::collections::{HashMap, HashSet};

use chrono::Utc;

use super::{Changed, ExecutorError, ExecutorService, attempt_ends};
use crate::backend::BackendError;
use crate::backend::partial::PartialStore;
use crate::executor::partial::{Need, Partial, placeholder, step_partial};
use crate::executor::{self, Action, StepOptions};
use crate::model::{Execution, StateType, TaskRun};
use crate::runtime::batch::Turn;
use crate::runtime::flows;
use crate::runtime::messages::ExecutionEvent;

/// Executions with fewer task runs are loaded whole (a read or two).
pub const PARTIAL_FROM: usize = 200;
/// Rounds of needs before the whole execution is loaded instead.
const MAX_ROUNDS: usize = 6;
/// Task runs one decision on part of an execution may read.
pub const MAX_LOADED: usize = 2_000;

/// What deciding on part of an execution came to.
pub(super) enum Partly {
    /// Saved and performed.
    Saved,
    /// The head moved on meanwhile: decide again.
    Conflict,
    /// Load the whole execution instead (see the module's header).
    Whole,
}

/// The execution's task runs with those loaded in place; where each loaded
/// id is.
struct Loaded {
    exec: Execution,
    by_id: HashMap<String, usize>,
    count: usize,
}

impl Loaded {
    /// Puts `runs` in place; false if one is past the head's count (written
    /// after the head was read: the save would conflict).
    fn place(&mut self, runs: Vec<(usize, TaskRun)>) -> bool {
        for (seq, tr) in runs {
            if seq >= self.count {
                return false;
            }
            self.by_id.insert(tr.id.clone(), seq);
            self.exec.task_run_list[seq] = tr;
        }
        true
    }

    /// The position of task run `id`: loaded, or created by this decision.
    fn position(&self, id: &str) -> Option<usize> {
        self.by_id.get(id).copied().or_else(|| {
            let created = &self.exec.task_run_list[self.count.min(self.exec.task_run_list.len())..];
            created.iter().position(|t| t.id == id).map(|p| self.count + p)
        })
    }
}

/// Steps aside for `why` (logged: a test of the deployed shape says why no
/// decision was made on part of an execution).
fn whole(id: &str, why: &str) -> Partly {
    tracing::debug!(execution_id = %id, why, "loaded whole");
    Partly::Whole
}

fn partial_event(e: &ExecutionEvent) -> bool {
    matches!(
        e,
        ExecutionEvent::TaskStarted { .. }
            | ExecutionEvent::TaskResult { .. }
            | ExecutionEvent::Wake { redispatch: false, .. }
    )
}

impl ExecutorService {
    /// Decides `events` of execution `id` on part of it (module header).
    pub(super) async fn decide_partly(
        &self,
        id: &str,
        events: &[ExecutionEvent],
        opts: StepOptions,
        turn: &mut Turn,
    ) -> Result<Partly, ExecutorError> {
        let engine = &self.engine;
        let Some(store) = engine.state.partial() else { return Ok(Partly::Whole) };
        if opts.redispatch_pending || !events.iter().all(partial_event) {
            return Ok(whole(id, "a redispatch or an event that needs every task run"));
        }
        let Some(head) = store.load_head(id).await? else { return Ok(whole(id, "no head")) };
        if head.count < PARTIAL_FROM {
            return Ok(whole(id, "small"));
        }
        if head.exec.state.current != StateType::Running {
            return Ok(whole(id, "not running"));
        }
        let Some(state) = head.state else { return Ok(whole(id, "no state kept with the head")) };
        // never admitted again: a running execution holds its slot
        turn.pass();
        let mut exec = head.exec;
        let flow = flows::at_revision(engine, &exec.namespace, &exec.flow_id, exec.flow_revision).await.map_err(
            |e| match e {
                flows::RevisionError::Backend(b) => ExecutorError::Backend(b),
                other => ExecutorError::FlowMissing(other.to_string(), exec.id.clone()),
            },
        )?;
        exec.task_run_list = vec![placeholder(); head.count];
        let mut loaded = Loaded { exec, by_id: HashMap::new(), count: head.count };
        // the events' task runs
        let named: Vec<Need> = events
            .iter()
            .filter_map(|e| match e {
                ExecutionEvent::TaskStarted { task_run_id, .. } | ExecutionEvent::TaskResult { task_run_id, .. } => {
                    Some(Need::Id(task_run_id.clone()))
                }
                _ => None,
            })
            .collect();
        let mut read = 0;
        if !named.is_empty() {
            let Some(runs) = store.load_runs(id, &named, MAX_LOADED).await? else {
                return Ok(whole(id, "the events' task runs are too many"));
            };
            read += runs.len();
            if !loaded.place(runs) {
                return Ok(Partly::Conflict);
            }
        }
        let now = Utc::now();
        let ended = attempt_ends(events);
        let (mut changed, mut exec_changed) = (Changed::default(), false);
        for event in events {
            let (c, e) = executor::apply_event(&flow, &mut loaded.exec, event, now);
            exec_changed |= e;
            changed.extend(c);
        }
        if loaded.exec.state.current != StateType::Running {
            return Ok(whole(id, "the events change the execution's state"));
        }
        let dirty: Vec<usize> = changed.iter().filter_map(|id| loaded.position(id)).collect();
        let (exec, actions, kept) = if events.iter().all(|e| matches!(e, ExecutionEvent::TaskStarted { .. })) {
            // a task starting never enables anything: saved without a step, the state as it was
            if changed.is_empty() {
                return self.nothing_decided(id, &loaded.exec, &ended).await;
            }
            (loaded.exec, Vec::new(), state)
        } else {
            let env = engine.step_env();
            let now = Utc::now().max(now);
            let mut answered = HashSet::new();
            let mut decided = None;
            for _ in 0..MAX_ROUNDS {
                let exec = loaded.exec.clone();
                match step_partial(&flow, exec, &state, &dirty, answered.clone(), now, &env, opts) {
                    Partial::Done(t, kept) => {
                        decided = Some((t, kept));
                        break;
                    }
                    Partial::Need(needs) => {
                        if needs.contains(&Need::All) {
                            return Ok(whole(id, "the step reads every task run"));
                        }
                        let Some(runs) = store.load_runs(id, &needs, MAX_LOADED - read).await? else {
                            return Ok(whole(id, "the step reads too many task runs"));
                        };
                        read += runs.len();
                        if !loaded.place(runs) {
                            return Ok(Partly::Conflict);
                        }
                        answered.extend(needs);
                    }
                }
            }
            let Some((t, kept)) = decided else { return Ok(whole(id, "the step kept asking")) };
            let whole_step = t.execution.state.current != StateType::Running
                || t.actions
                    .iter()
                    .any(|a| matches!(a, Action::StartSubflow { .. } | Action::StartBatches { .. } | Action::Ended(_)));
            let nothing = !exec_changed && !t.execution_changed && changed.is_empty() && t.is_noop();
            if whole_step {
                return Ok(whole(id, "the step changes the execution's state or starts subflows"));
            }
            // a wake that finds nothing may have met what the kept state does
            // not show: the whole step looks again
            if nothing && !events.iter().any(|e| matches!(e, ExecutionEvent::Wake { .. })) {
                return self.nothing_decided(id, &loaded.exec, &ended).await;
            }
            if nothing {
                return Ok(whole(id, "a wake found nothing"));
            }
            changed.extend(t.changed);
            loaded.exec = t.execution;
            (loaded.exec, t.actions, kept)
        };
        let loaded = Loaded { exec, ..loaded };
        let positions: Vec<usize> = changed.iter().filter_map(|id| loaded.position(id)).collect();
        tracing::debug!(execution_id = %id, read, of = loaded.count, "decided on part of the execution");
        match self.save_partly(store, loaded.exec, &positions, &ended, actions, &kept).await {
            Ok(()) => Ok(Partly::Saved),
            Err(ExecutorError::Backend(BackendError::Conflict { .. })) => Ok(Partly::Conflict),
            Err(e) => Err(e),
        }
    }

    /// A duplicate or late event that changed nothing in the head and the
    /// task runs it names: nothing to save. Its claims are closed as on the
    /// whole path. The whole path also evaluates the Flow triggers again (the
    /// executor that saved the last state change may have died before it
    /// did); that needs the whole execution only when a trigger reacts to
    /// its state, so only then is it loaded.
    async fn nothing_decided(
        &self,
        id: &str,
        head: &Execution,
        ended: &[crate::backend::AttemptEnd],
    ) -> Result<Partly, ExecutorError> {
        if super::super::flow_triggers::any_reacts(&self.engine, head).await? {
            return Ok(whole(id, "a Flow trigger reacts to the execution"));
        }
        self.engine.state.end_attempts(ended).await?;
        tracing::debug!(execution_id = %id, "decided on part of the execution: nothing changed (a duplicate or late event)");
        Ok(Partly::Saved)
    }

    /// Saves a decision on part of `exec` (compare-and-swap) with the
    /// state kept after it, then performs its actions.
    async fn save_partly(
        &self,
        store: &dyn PartialStore,
        mut exec: Execution,
        positions: &[usize],
        ended: &[crate::backend::AttemptEnd],
        mut actions: Vec<Action>,
        kept: &executor::partial::StepState,
    ) -> Result<(), ExecutorError> {
        let engine = &self.engine;
        for a in actions.iter_mut() {
            if let Action::PutFile { path, content } = a {
                let content = std::mem::take(content);
                engine.storage.put(path, Box::pin(std::io::Cursor::new(content))).await?;
            }
        }
        let opened = self.open_claims(&mut actions);
        exec.version =
            super::super::metrics::commit(store.save_stepped(&exec, positions, ended, &opened, Some(kept), true))
                .await?;
        let update = engine.update_of(&exec, positions, false);
        self.perform(&exec, actions).await?;
        engine.announce(update, false);
        Ok(())
    }
}
