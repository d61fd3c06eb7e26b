//! The messages exchanged over the queue: events for the executor and
//! jobs for the workers (publishing them is the runtime's: `runtime::messages`). They are JSON on the wire, so the embedded runtime
//! and Pub/Sub carry exactly the same bytes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::job_context::JobContext;
use super::metric::MetricEntry;
use crate::{Label, StateType};

/// Something the executor must react to. Every event names its execution;
/// the executor reloads state and recomputes, so duplicates are harmless.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ExecutionEvent {
    /// A launcher created the execution.
    Created { execution_id: String },
    /// A worker claimed an attempt and started it.
    TaskStarted {
        execution_id: String,
        task_run_id: String,
        attempt: u32,
        worker_id: String,
        #[serde(serialize_with = "crate::date_text::write")]
        at: DateTime<Utc>,
    },
    /// A worker finished an attempt.
    TaskResult { execution_id: String, task_run_id: String, attempt: u32, result: TaskResult },
    /// A subflow started by a Subflow task ended, or could not start
    /// (`FAILED`, `outputs.error` says why); `CREATED` for the child of a
    /// Subflow that does not wait: it is stored, and the task run ends.
    SubflowEnded {
        execution_id: String,
        task_run_id: String,
        child_execution_id: String,
        state: StateType,
        outputs: Map<String, Value>,
        /// The batch, when the subflow is one of a ForEachItem's.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        iteration: Option<u64>,
    },
    /// Start the child execution of the Subflow task run `task_run_id`
    /// (`runtime::subflow_start`): its id is derived from the parent's
    /// execution and task run, so a copy of this message (a redelivery,
    /// or the sweep's, for a parent that waited past a lease on a child
    /// never stored) finds the child created and starts nothing.
    StartSubflow { execution_id: String, task_run_id: String },
    /// Start the subflow executions of batches `from..to` of the
    /// ForEachItem `_items` task run `task_run_id` (one batch a message
    /// once the range is split down: `runtime::for_each_item`).
    StartBatches { execution_id: String, task_run_id: String, from: u64, to: u64 },
    /// Every batch of a ForEachItem `_items` task run ended: the counts
    /// per state (`iterations`), or why the batches could not start.
    BatchesEnded {
        execution_id: String,
        task_run_id: String,
        iterations: Map<String, Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// A timer (retry delay, Sleep) is due, or a slot freed: recompute.
    /// With `redispatch`, jobs of attempts dispatched but never started are
    /// sent again (the sweep, when such an attempt waited longer than a
    /// worker's lease: its job was lost, or its worker died before starting
    /// it); the workers' claims make the copy harmless if it was not.
    Wake {
        execution_id: String,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        redispatch: bool,
    },
    /// Kill the execution.
    Kill { execution_id: String },
    /// Resume the PAUSED task run `task_run_id` (a Pause) with its
    /// `onResume` inputs, validated by whoever sent it
    /// (`executor::resume_inputs`); `by` says who, for its `resumed` output.
    Resume {
        execution_id: String,
        task_run_id: String,
        #[serde(default)]
        inputs: Map<String, Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<String>,
    },
}

impl ExecutionEvent {
    pub fn execution_id(&self) -> &str {
        match self {
            ExecutionEvent::Created { execution_id }
            | ExecutionEvent::TaskStarted { execution_id, .. }
            | ExecutionEvent::TaskResult { execution_id, .. }
            | ExecutionEvent::SubflowEnded { execution_id, .. }
            | ExecutionEvent::StartBatches { execution_id, .. }
            | ExecutionEvent::StartSubflow { execution_id, .. }
            | ExecutionEvent::BatchesEnded { execution_id, .. }
            | ExecutionEvent::Wake { execution_id, .. }
            | ExecutionEvent::Resume { execution_id, .. }
            | ExecutionEvent::Kill { execution_id } => execution_id,
        }
    }
}

/// The outcome of one attempt of a runnable task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskResult {
    /// SUCCESS, WARNING, FAILED or KILLED.
    pub state: StateType,
    #[serde(default)]
    pub outputs: Map<String, Value>,
    /// Why it failed, for humans.
    #[serde(default)]
    pub error: Option<String>,
    /// Labels the task sets on the execution (`core.execution.Labels`).
    #[serde(default)]
    pub labels: Vec<Label>,
    /// A change of the execution's variables (`SetVariables`, `UnsetVariables`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variables: Option<crate::variables::VariablesChange>,
    #[serde(serialize_with = "crate::date_text::write")]
    pub start: DateTime<Utc>,
    #[serde(serialize_with = "crate::date_text::write")]
    pub end: DateTime<Utc>,
    /// The attempt's log file in internal storage (`kestra:///…`): its
    /// lines past the log volume bound, or all of them with `logToFile`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_file: Option<String>,
    /// The metrics the attempt recorded: the executor stores them with the
    /// save that applies this result (in the same commit where the store
    /// can), so a reader that sees the task run ended sees its metrics.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<MetricEntry>,
    /// The worker left closing the attempt's claim to the executor's save
    /// (an in-process worker: `Worker::in_process`); otherwise it closes it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub claim_left_open: bool,
}

/// The task a worker runs: its type and unrendered properties.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobTask {
    pub id: String,
    /// The current Kestra type name.
    #[serde(rename = "type")]
    pub kind: String,
    pub props: Map<String, Value>,
    /// The task's `description`, for a plugin with a property of that name
    /// (Jira's issue description): Kestra binds the one value to both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub timeout_ms: Option<i64>,
    /// Kestra's `logLevel`: log lines below it are dropped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_level: Option<String>,
    /// Kestra's `logToFile`: the task's log lines go to a file in internal
    /// storage instead of the execution's logs.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub log_to_file: bool,
    /// Kestra's `taskCache`, when enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_cache: Option<crate::task_cache::TaskCache>,
}

/// One attempt of one task run, for a worker of the task's group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkerJob {
    pub execution_id: String,
    pub task_run_id: String,
    pub attempt: u32,
    pub namespace: String,
    pub flow_id: String,
    pub flow_revision: u32,
    pub task: JobTask,
    /// The template context (inputs, vars, outputs, taskrun, labels…),
    /// so the worker never reads the execution (held as JSON text between
    /// the executor's step and its publish: `job_context`).
    pub context: JobContext,
    /// The flow's `SECRET` inputs: their values are masked like secrets in
    /// whatever the task logs, outputs or fails with.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secret_inputs: Vec<String>,
    /// The holder of the claim the executor opened for this attempt in the
    /// save that dispatched it (in process only: `ExecutorService`): the
    /// worker confirms it with a read instead of claiming with a write.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_by: Option<String>,
    /// The job's attempt is new (not a pending one sent again): set by the
    /// step, never on the wire.
    #[serde(skip)]
    pub new_attempt: bool,
    /// When this process's executor opened the claim of a new attempt
    /// (`claimed_by`), with how many claims it had closed by then: never on
    /// the wire. The worker takes such a claim as its holder's without
    /// reading it while it is fresh and no claim was closed since
    /// (`runtime::worker`).
    #[serde(skip)]
    pub opened: Option<(std::time::Instant, u64)>,
}
