//! Kestra-compatible data model: flows as written in YAML, executions and
//! task runs as Kestra's REST API shows them, states, labels and durations.
//! Everything here is plain data (serde), with no I/O.

pub mod duration;
pub mod execution;
pub mod flow;
pub mod flowkeys;
pub mod for_each_item;
pub mod ids;
pub mod state;
pub mod task_index;
pub mod types;
pub mod variables;

pub use execution::{Attempt, Execution, Label, TaskRun, TriggerContext};
pub use flow::{
    Concurrency, ConcurrencyBehavior, Flow, Input, InputType, PluginDefault, Retry, RetryKind, Task, Trigger,
};
pub use state::{State, StateType};
