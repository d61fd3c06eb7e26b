//! Baton's flow model, the bottom layer: flows as written in YAML (and
//! the YAML reader that keeps positions), executions and task runs as
//! Kestra's REST API shows them, states, labels, durations and ids, the
//! Kestra dialects, trigger conditions as data, internal-storage paths and
//! the wire types the executor and the workers exchange ([`wire`]).
//!
//! Layer: depends on no other Baton crate but `baton-derive` (a
//! proc-macro: the condition types' declarations), and on no runtime,
//! store or cloud crate (no tokio, no I/O): plain data and pure functions.
//! Everything above — templates, the executor, plugins, backends, the
//! runtime — builds on it.

// `#[derive(Declare)]` names this crate `::baton_model`, inside it too (the
// condition types are declared here)
extern crate self as baton_model;

pub mod conditions;
pub mod date_text;
pub mod decl;
pub mod dialect;
pub mod duration;
pub mod execution;
pub mod expr;
pub mod flow;
pub mod flowable;
pub mod flowkeys;
pub mod for_each_item;
pub mod ids;
pub mod log_level;
pub mod mask;
pub mod problem;
pub mod props;
pub mod settings;
pub mod state;
pub mod storage;
pub mod suggest;
pub mod task_cache;
pub mod task_index;
pub mod types;
pub mod variables;
pub mod wire;
pub mod yaml;

pub use execution::{Attempt, Execution, Label, TaskRun, TriggerContext};
pub use flow::{
    Concurrency, ConcurrencyBehavior, Flow, Input, InputType, PluginDefault, Retry, RetryKind, Task, Trigger,
};
pub use state::{State, StateType};
/// The vector type of [`TaskRun::attempts`] and [`State::histories`].
pub use thin_vec::{ThinVec, thin_vec};
