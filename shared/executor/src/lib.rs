//! The executor: a pure step function. Given a flow, an execution and the
//! time, it decides what happens next — task runs to create, jobs to
//! dispatch, subflows to start, timers, the execution's end — and returns
//! the new execution with the actions. It does no I/O, so every flowable
//! rule is unit-tested without a runtime, and replaying a step on the same
//! state yields the same decision (ids are derived, not random).
//!
//! Layer: above the flow model (`baton_model`, whose wire types carry its
//! jobs and events) and the templates (`baton_template`) only. No tokio, no
//! store, no cloud crate in its dependency tree (a test of the workspace
//! graph keeps it so): what it needs from outside comes through
//! [`StepEnv`], what it wants done goes out as [`Action`]s.

mod apply;
mod blocks;
pub mod index;
pub use blocks::truthy;
#[cfg(test)]
mod cold_tests;
pub mod concurrency;
pub mod context;
#[cfg(test)]
mod core_flowables_tests;
#[cfg(test)]
mod flowables_tests;
#[cfg(test)]
mod flowkeys_tests;
#[cfg(test)]
mod for_each_item_tests;
mod ids;
#[cfg(test)]
mod loop_tests;
mod output_refs;
pub mod partial;
#[cfg(test)]
mod pause_tests;
pub mod replay;
pub mod restart;
mod retry;
#[cfg(test)]
mod retry_tests;
#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

pub use apply::{apply_event, apply_event_indexed, early_subflow_end};
pub use blocks::pause::{BEHAVIORS, ResumeError, next_timer, on_resume, paused_task, resume_inputs};
pub use ids::{subflow_child_id, task_run_id};
pub use index::ExecIndex;
pub use output_refs::outputs_read;
pub use retry::next_retry_date;

use baton_model::wire::messages::WorkerJob;
use baton_model::{Execution, Flow, Label, StateType};
use baton_template::TemplateError;

/// What the step function needs from the outside world, without I/O:
/// template rendering (for If, Switch, ForEach, Subflow, runIf) and the
/// worker group of a task type.
pub trait StepEnv {
    /// Renders a template string against a context (an error's message
    /// with secrets masked already).
    fn render(&self, template: &str, ctx: &Value) -> Result<String, TemplateError>;
    /// Renders every string inside a JSON value.
    fn render_value(&self, v: &Value, ctx: &Value) -> Result<Value, TemplateError>;
    /// The renderer and template host behind [`StepEnv::render`], for
    /// what renders through them itself (listener conditions).
    fn templates(&self) -> (&baton_template::Renderer, &dyn baton_template::TemplateHost);
    /// The worker group that runs a task type (`core`, `scripts`…).
    fn worker_group(&self, kind: &str) -> String;
    /// Kestra's `envs` template variable.
    fn envs(&self) -> Value {
        Value::Object(Map::new())
    }
    /// `v` with secrets masked, for what the execution stores and shows
    /// (flow outputs). Rendering errors come back masked already.
    fn mask(&self, v: Value) -> Value {
        v
    }
}

/// A side effect the runtime must perform after persisting the transition.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Publish a job on the tasks topic of `group`.
    Dispatch { group: String, job: Box<WorkerJob> },
    /// Start a subflow execution for a Subflow task run.
    StartSubflow {
        task_run_id: String,
        execution_id: String,
        namespace: String,
        flow_id: String,
        revision: Option<u32>,
        inputs: Map<String, Value>,
        labels: Vec<Label>,
        wait: bool,
    },
    /// Start the `count` subflow executions of the ForEachItem `_items`
    /// task run `task_run_id`, one per batch (the runtime fans them out,
    /// one message per batch; each launch is idempotent).
    StartBatches { task_run_id: String, count: u64 },
    /// Step this execution again at that time (retry delays).
    WakeAt(DateTime<Utc>),
    /// Write `content` to the internal-storage `path` (`/…`, no scheme)
    /// before the transition is saved, since the saved state refers to it
    /// (a Loop's `fetchType: STORE` outputs). Idempotent: the path and the
    /// content are derived from the execution, so a re-decided step writes
    /// the same file again.
    PutFile { path: String, content: Vec<u8> },
    /// A line for the execution's log.
    Log { task_run_id: Option<String>, task_id: Option<String>, level: &'static str, message: String },
    /// The execution reached a terminal state.
    Ended(StateType),
}

/// The result of one step.
#[derive(Debug, Clone)]
pub struct Transition {
    pub execution: Execution,
    /// True if the execution record itself changed (state, labels, outputs).
    pub execution_changed: bool,
    /// Ids of task runs created or changed.
    pub changed: Vec<String>,
    pub actions: Vec<Action>,
}

impl Transition {
    /// True if nothing changed and nothing is to be done.
    pub fn is_noop(&self) -> bool {
        !self.execution_changed && self.changed.is_empty() && self.actions.is_empty()
    }
}

/// Options of a step.
#[derive(Debug, Clone, Copy, Default)]
pub struct StepOptions {
    /// Re-dispatch attempts that were dispatched but never started (after a
    /// crash of the runtime that held the in-process queue).
    pub redispatch_pending: bool,
}

/// Advances an execution as far as it can go without waiting.
pub fn step(
    flow: &Flow,
    execution: &Execution,
    now: DateTime<Utc>,
    env: &dyn StepEnv,
    opts: StepOptions,
) -> Transition {
    step_owned(flow, execution.clone(), now, env, opts)
}

/// `step` on an execution the caller no longer needs (no copy). Walks the
/// whole execution: a caller that steps the same execution again keeps an
/// [`ExecIndex`] with it and calls [`step_indexed`].
pub fn step_owned(
    flow: &Flow,
    execution: Execution,
    now: DateTime<Utc>,
    env: &dyn StepEnv,
    opts: StepOptions,
) -> Transition {
    step_indexed(flow, execution, &mut ExecIndex::default(), now, env, opts)
}

/// `step_owned` with the index of the execution kept between steps, so a
/// step costs what changed since the last one. The index must have
/// followed every change of the execution's task runs since it was built
/// (see [`index`]); a fresh one is always right.
pub fn step_indexed(
    flow: &Flow,
    execution: Execution,
    index: &mut ExecIndex,
    now: DateTime<Utc>,
    env: &dyn StepEnv,
    opts: StepOptions,
) -> Transition {
    let mut st = blocks::Stepper::new(flow, execution, now, env, opts, std::mem::take(index));
    st.run();
    let (t, kept) = st.finish();
    *index = kept;
    t
}
