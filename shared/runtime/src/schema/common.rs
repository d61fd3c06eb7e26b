//! The keys every task has (Kestra's `Task`, read by `model::flow` as
//! `TASK_COMMON_KEYS`), every trigger has (`triggers::COMMON`), and the
//! flow-level keys (`model::flow::FLOW_KEYS`), with their words.

use super::{Holds, PropDoc};
use crate::plugins::{PropKind, PropSpec};

/// The common task keys, in `TASK_COMMON_KEYS`' order.
pub const TASK: &[PropSpec] = &[
    PropSpec::required("id", PropKind::String),
    PropSpec::required("type", PropKind::String),
    PropSpec::optional("description", PropKind::String),
    PropSpec::optional("disabled", PropKind::Boolean),
    PropSpec::optional("allowFailure", PropKind::Boolean),
    PropSpec::optional("allowWarning", PropKind::Boolean),
    PropSpec::optional("retry", PropKind::Map),
    PropSpec::optional("timeout", PropKind::Duration),
    PropSpec::optional("runIf", PropKind::String),
    PropSpec::optional("workerGroup", PropKind::Map),
    PropSpec::optional("logLevel", PropKind::String),
    PropSpec::optional("logToFile", PropKind::Boolean),
    PropSpec::optional("taskCache", PropKind::Map),
    PropSpec::optional("errors", PropKind::List),
    PropSpec::optional("finally", PropKind::List),
    PropSpec::optional("version", PropKind::String),
];

/// What a common task key holds.
pub fn task_holds(name: &str) -> Holds {
    match name {
        "errors" | "finally" => Holds::Tasks,
        _ => Holds::Value,
    }
}

/// The words of the common task keys.
pub const TASK_DOCS: &[PropDoc] = &[
    PropDoc::new("id", "The task's id: unique in the flow, letters, digits, '_' and '-'.").fixed(),
    PropDoc::new("type", "The task's type, a Kestra class name.").fixed(),
    PropDoc::new("description", "Free text shown with the task.").fixed(),
    PropDoc::new("disabled", "Skip the task (and its children) entirely.").default("false").fixed(),
    PropDoc::new("allowFailure", "A failure of this task ends it FAILED but lets the execution go on (ends WARNING).")
        .default("false")
        .fixed(),
    PropDoc::new("allowWarning", "A WARNING of this task counts as SUCCESS for the execution.")
        .default("false")
        .fixed(),
    PropDoc::new(
        "retry",
        "Retry a failed attempt: {type: constant|exponential|random, interval, maxAttempts, maxDuration…}.",
    )
    .fixed(),
    PropDoc::new("timeout", "Kill the attempt after this ISO-8601 duration (e.g. PT10M).").fixed(),
    PropDoc::new("runIf", "A template; when it renders false the task is SKIPPED.").dynamic(),
    PropDoc::new(
        "workerGroup",
        "Kestra Enterprise worker group: refused with a key (Baton picks workers by plugin group).",
    )
    .fixed(),
    PropDoc::new("logLevel", "Drop the task's log lines below this level.")
        .values(&["TRACE", "DEBUG", "INFO", "WARN", "ERROR"])
        .fixed(),
    PropDoc::new(
        "logToFile",
        "Store the task's logs as a text file in internal storage instead of with the execution's logs (the \
         attempt's `logFile`, downloaded with the execution's logs): for tasks that log a lot.",
    )
    .default("false")
    .fixed(),
    PropDoc::new(
        "taskCache",
        "{enabled, ttl}: a successful run's outputs are reused, and the task not run, by a later run of the same task with the same rendered properties within ttl (ISO-8601; none: no expiry).",
    )
    .fixed(),
    PropDoc::new("errors", "Tasks run when this task fails.").fixed(),
    PropDoc::new("finally", "Tasks run after this task, whatever its end.").fixed(),
    PropDoc::new("version", "Only LATEST: Baton runs one version of each task type.").values(&["LATEST"]).fixed(),
];

/// The words of the `type` key of a condition or a task runner.
pub const TYPE_DOCS: &[PropDoc] = &[PropDoc::new("type", "The type, a Kestra class name.").fixed()];

/// The words of the common trigger keys (`triggers::COMMON`).
pub const TRIGGER_DOCS: &[PropDoc] = &[
    PropDoc::new("id", "The trigger's id: unique in the flow.").fixed(),
    PropDoc::new("type", "The trigger's type, a Kestra class name.").fixed(),
    PropDoc::new("description", "Free text shown with the trigger.").fixed(),
    PropDoc::new("disabled", "Turn the trigger off without removing it.").default("false").fixed(),
    PropDoc::new("conditions", "Conditions that must all hold for the trigger to start an execution.").fixed(),
    PropDoc::new(
        "labels",
        "Labels given to each execution it starts (over the flow's of the same key): a mapping, or a list of {key, value}; values rendered with the trigger's variables.",
    ),
    PropDoc::new(
        "allowConcurrent",
        "Start an execution even while the one it started last still runs (polling triggers wait for it by default; Baton's Schedule, Flow, Webhook, GCS and Pub/Sub triggers never wait).",
    )
    .default("false")
    .fixed(),
];

/// One flow-level key: its kind, what it holds, and a line.
pub struct FlowKey {
    pub name: &'static str,
    pub kind: PropKind,
    pub holds: Holds,
    pub doc: &'static str,
}

const fn key(name: &'static str, kind: PropKind, holds: Holds, doc: &'static str) -> FlowKey {
    FlowKey { name, kind, holds, doc }
}

/// Every flow-level key Baton accepts (`model::flow::FLOW_KEYS`).
pub const FLOW: &[FlowKey] = &[
    key("id", PropKind::String, Holds::Value, "The flow's id, unique in its namespace."),
    key("namespace", PropKind::String, Holds::Value, "The flow's namespace, lowercase and dotted (company.team)."),
    key("revision", PropKind::Integer, Holds::Value, "The revision, set by the server on each change."),
    key("description", PropKind::String, Holds::Value, "Free text (markdown) about the flow."),
    key("labels", PropKind::Any, Holds::Value, "Labels given to each execution: a mapping, or a list of {key, value}."),
    key("inputs", PropKind::List, Holds::Value, "The inputs an execution takes: [{id, type, required, defaults…}]."),
    key("variables", PropKind::Map, Holds::Value, "Values the tasks read as {{ vars.name }}."),
    key("tasks", PropKind::List, Holds::Tasks, "The tasks, run in order."),
    key("errors", PropKind::List, Holds::Tasks, "Tasks run when the execution fails."),
    key("finally", PropKind::List, Holds::Tasks, "Tasks run at the end, whatever the state."),
    key("afterExecution", PropKind::List, Holds::Tasks, "Tasks run after the execution reached its final state."),
    key("triggers", PropKind::List, Holds::Value, "What starts executions on its own: schedules, events, other flows."),
    key(
        "pluginDefaults",
        PropKind::List,
        Holds::Value,
        "Default property values per type or package: [{type, forced, values}].",
    ),
    key("taskDefaults", PropKind::List, Holds::Value, "The older name of pluginDefaults."),
    key(
        "concurrency",
        PropKind::Map,
        Holds::Value,
        "At most `limit` running executions; `behavior` QUEUE, CANCEL or FAIL for the others.",
    ),
    key("retry", PropKind::Map, Holds::Value, "The default retry of every task."),
    key("disabled", PropKind::Boolean, Holds::Value, "A disabled flow starts no execution."),
    key("deleted", PropKind::Boolean, Holds::Value, "Only false: a deleted flow cannot be loaded."),
    key("outputs", PropKind::List, Holds::Value, "The flow's outputs: [{id, type, value}]."),
    key("sla", PropKind::List, Holds::Value, "Service level agreements: MAX_DURATION or EXECUTION_ASSERTION."),
    key("checks", PropKind::List, Holds::Value, "Conditions on the inputs, checked before an execution is created."),
    key("listeners", PropKind::List, Holds::Value, "Legacy: tasks run after the end when conditions hold."),
    key("tenantId", PropKind::String, Holds::Value, "Only 'main': Baton has one tenant."),
    key("workerGroup", PropKind::Map, Holds::Value, "Refused: set workerGroup on the tasks."),
];
