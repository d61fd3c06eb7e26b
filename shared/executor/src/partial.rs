//! A step on a partly loaded execution: the same decision as
//! [`super::step_indexed`], from the task runs an event touches and the
//! index state kept with the execution ([`StepState`]), or the task runs
//! it needs first ([`Need`]). See `index::partly` for the rules.
//!
//! The caller loops: load the event's task runs, step; on `Need`, load
//! what is named (or learn it is not stored) and step again from the same
//! state; on `Need::All`, or after a few rounds, load everything and step
//! as before. Nothing is saved or performed between rounds, so a void
//! round costs only its CPU and reads.

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use super::blocks::Stepper;
use super::index::ExecIndex;
pub use super::index::partly::{Need, StepState, is_placeholder, placeholder};
use super::{StepEnv, StepOptions, Transition};
use baton_model::{Execution, Flow};

/// What a step on a partly loaded execution came to.
#[derive(Debug)]
pub enum Partial {
    /// The decision, and the state to keep with the execution after it.
    Done(Box<Transition>, StepState),
    /// Task runs to load (each once, in the order met) before deciding.
    Need(Vec<Need>),
}

/// Steps `exec`, whose task runs not loaded are [`placeholder`]s, from
/// `state` (kept after the last step of this execution); `dirty`: the
/// positions events changed since; `absent`: needs the store answered with
/// nothing.
#[allow(clippy::too_many_arguments)]
pub fn step_partial(
    flow: &Flow,
    exec: Execution,
    state: &StepState,
    dirty: &[usize],
    absent: HashSet<Need>,
    now: DateTime<Utc>,
    env: &dyn StepEnv,
    opts: StepOptions,
) -> Partial {
    let mut index = ExecIndex::partly(&exec, state, absent);
    for &pos in dirty {
        index.touched(pos);
    }
    let mut st = Stepper::new(flow, exec, now, env, opts, index);
    st.run();
    let (t, mut index) = st.finish();
    let needs = index.take_needs();
    if !needs.is_empty() {
        return Partial::Need(needs);
    }
    let state = index.export(&t.execution.task_run_list);
    Partial::Done(Box::new(t), state)
}

/// The state to keep with `exec` after a step on the whole of it with
/// `index` (the index that step kept).
pub fn export_state(index: &ExecIndex, exec: &Execution) -> StepState {
    index.export(&exec.task_run_list)
}

#[cfg(test)]
mod tests;
