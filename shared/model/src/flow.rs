//! Flows as written in Kestra YAML: the flow, its tasks (with pluginDefaults
//! applied and flowable children parsed), inputs, triggers, retry and
//! concurrency. `Flow::from_value` never fails: it collects every structural
//! problem with its path, and the validator adds file positions.

use chrono::Duration;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::duration;
use super::flowable::Flowable;
use super::flowkeys::{self, Check, Listener, Sla};
use super::types::{self, FlowableKind};
use crate::yaml::{child_index, child_key};

mod defaults;
mod input;
mod read;

pub use defaults::apply_defaults;
pub use input::{Input, InputDependsOn, InputType, SECRET_MASK, secret_values_of};

/// A structural problem found while reading a flow, with its path.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub path: String,
    pub message: String,
}

/// `concurrency.behavior`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ConcurrencyBehavior {
    #[default]
    Queue,
    Cancel,
    Fail,
}

/// The flow's `concurrency` block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Concurrency {
    pub limit: u32,
    #[serde(default)]
    pub behavior: ConcurrencyBehavior,
}

/// The retry delay policy.
#[derive(Debug, Clone, PartialEq)]
pub enum RetryKind {
    Constant { interval: Duration },
    Exponential { interval: Duration, max_interval: Duration, delay_factor: Option<f64> },
    Random { min_interval: Duration, max_interval: Duration },
}

/// A task's (or the flow's) `retry` block.
#[derive(Debug, Clone, PartialEq)]
pub struct Retry {
    pub kind: RetryKind,
    /// Total attempts allowed, including the first (`maxAttempt` / `maxAttempts`).
    pub max_attempt: Option<u32>,
    pub max_duration: Option<Duration>,
    pub warning_on_retry: bool,
}

/// One key of a `retry` block.
#[derive(Debug, Clone, Copy)]
pub struct RetryKey {
    pub name: &'static str,
    pub kind: crate::props::PropKind,
    pub doc: &'static str,
    /// The values it takes (written in any case).
    pub values: &'static [&'static str],
    /// Offered by the editor; false for an older spelling read for old flows.
    pub offered: bool,
}

const fn retry_key(name: &'static str, kind: crate::props::PropKind, doc: &'static str) -> RetryKey {
    RetryKey { name, kind, doc, values: &[], offered: true }
}

/// The keys of a `retry` block, as Kestra names them: the flow reader's
/// known keys and the flow schema's (what the editor completes).
pub const RETRY_KEYS: &[RetryKey] = {
    use crate::props::PropKind::{Boolean, Duration, Integer, Number, String};
    &[
        RetryKey {
            values: &["constant", "exponential", "random"],
            ..retry_key("type", String, "How the wait between attempts is chosen.")
        },
        retry_key("interval", Duration, "constant: the wait between attempts; exponential: the first wait (ISO-8601)."),
        retry_key("maxInterval", Duration, "exponential, random: the longest wait."),
        retry_key("minInterval", Duration, "random: the shortest wait."),
        retry_key("delayFactor", Number, "exponential: the factor each wait grows by."),
        retry_key("maxAttempts", Integer, "Attempts in all, the first included."),
        RetryKey { offered: false, ..retry_key("maxAttempt", Integer, "The older spelling of maxAttempts.") },
        retry_key("maxDuration", Duration, "The longest time the attempts may take in all."),
        retry_key("warningOnRetry", Boolean, "A task that succeeds after a retry ends WARNING."),
        RetryKey {
            values: &["RETRY_FAILED_TASK", "CREATE_NEW_EXECUTION"],
            ..retry_key(
                "behavior",
                String,
                "RETRY_FAILED_TASK retries the task in its execution (CREATE_NEW_EXECUTION is refused).",
            )
        },
    ]
};

/// Keys Kestra writes in a flow (an export, its API) that Baton reads in
/// one form only: `revision` (the server's), `deleted: false`,
/// `tenantId: main`, no flow-level `workerGroup`. Accepted so such a flow
/// loads, but never offered: the flow schema marks them `$compat`, and the
/// editor's completion leaves them out.
pub const COMPAT_FLOW_KEYS: &[&str] = &["revision", "deleted", "tenantId", "workerGroup"];

/// The same for task keys: `version` (only LATEST) and `workerGroup`
/// (Enterprise; refused with a key).
pub const COMPAT_TASK_KEYS: &[&str] = &["version", "workerGroup"];

/// A `pluginDefaults` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginDefault {
    #[serde(rename = "type")]
    pub type_: String,
    #[serde(default)]
    pub forced: bool,
    #[serde(default)]
    pub values: Map<String, Value>,
}

/// A trigger as written (the scheduler interprets its properties).
#[derive(Debug, Clone, PartialEq)]
pub struct Trigger {
    pub id: String,
    pub type_: String,
    pub disabled: bool,
    pub props: Map<String, Value>,
    pub path: String,
}

/// The children of a flowable task.
#[derive(Debug, Clone, PartialEq)]
pub enum Children {
    None,
    Tasks(Vec<Task>),
    If { then: Vec<Task>, else_: Vec<Task> },
    Switch { cases: Vec<(String, Vec<Task>)>, defaults: Vec<Task> },
}

/// One task, with pluginDefaults applied. Properties that are not common
/// task keys or flowable children stay in `props`, unrendered.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    pub id: String,
    /// The type as written.
    pub type_: String,
    /// The current Kestra name of the type.
    pub kind: String,
    /// A flowable's properties, parsed once (`crate::flowable`); `None`
    /// for a task a worker runs.
    pub flowable: Option<Flowable>,
    pub description: Option<String>,
    pub disabled: bool,
    pub allow_failure: bool,
    pub allow_warning: bool,
    pub retry: Option<Retry>,
    pub timeout: Option<Duration>,
    pub run_if: Option<String>,
    pub worker_group: Option<String>,
    /// Kestra's `logLevel`: the task's log lines below it are dropped.
    pub log_level: Option<String>,
    /// Kestra's `logToFile`: the task's log lines go to a file in internal
    /// storage (the attempt's `logFile`) instead of the execution's logs.
    pub log_to_file: bool,
    /// Kestra's `taskCache`, when enabled (runnable tasks only).
    pub task_cache: Option<super::task_cache::TaskCache>,
    pub props: Map<String, Value>,
    pub children: Children,
    pub errors: Vec<Task>,
    pub finally: Vec<Task>,
    /// Inside a `Dag`: the ids of the sibling tasks it waits for.
    pub depends_on: Vec<String>,
    /// Where the task sits in the file, e.g. `tasks[1].then[0]`.
    pub path: String,
}

impl Task {
    /// The kind of flowable it is (`None`: a worker runs it).
    pub fn flowable_kind(&self) -> Option<FlowableKind> {
        self.flowable.as_ref().map(Flowable::kind)
    }

    /// Every direct child task: branches, `errors` and `finally`.
    pub fn all_children(&self) -> Vec<&Task> {
        let mut out: Vec<&Task> = Vec::new();
        match &self.children {
            Children::None => {}
            Children::Tasks(t) => out.extend(t.iter()),
            Children::If { then, else_ } => out.extend(then.iter().chain(else_.iter())),
            Children::Switch { cases, defaults } => {
                for (_, t) in cases {
                    out.extend(t.iter());
                }
                out.extend(defaults.iter());
            }
        }
        out.extend(self.errors.iter());
        out.extend(self.finally.iter());
        out
    }
}

/// A parsed flow.
#[derive(Debug, Clone, PartialEq)]
pub struct Flow {
    pub id: String,
    pub namespace: String,
    pub revision: u32,
    pub description: Option<String>,
    pub labels: Vec<super::Label>,
    pub inputs: Vec<Input>,
    pub variables: Map<String, Value>,
    pub tasks: Vec<Task>,
    pub errors: Vec<Task>,
    pub finally: Vec<Task>,
    pub triggers: Vec<Trigger>,
    pub plugin_defaults: Vec<PluginDefault>,
    pub concurrency: Option<Concurrency>,
    pub retry: Option<Retry>,
    pub disabled: bool,
    pub outputs: Vec<Value>,
    /// Tasks run after the execution reached its terminal state.
    pub after_execution: Vec<Task>,
    /// Service level agreements.
    pub sla: Vec<Sla>,
    /// Conditions on the inputs, evaluated before an execution is created.
    pub checks: Vec<Check>,
    /// Legacy listeners: tasks run after the end.
    pub listeners: Vec<Listener>,
    /// The YAML source, as written.
    pub source: String,
    /// Its `baton.dialect` label and its 1.x-only / 2.0-only constructs
    /// (`crate::dialect`): which Kestra dialect it is written in.
    pub dialect: crate::dialect::DialectInfo,
    /// Every task by id, built on the first lookup (`find_task`).
    pub task_index: super::task_index::TaskIndexCell,
}

pub const FLOW_KEYS: &[&str] = &[
    "id",
    "namespace",
    "revision",
    "description",
    "labels",
    "inputs",
    "variables",
    "tasks",
    "errors",
    "finally",
    "afterExecution",
    "triggers",
    "pluginDefaults",
    "taskDefaults",
    "concurrency",
    "retry",
    "disabled",
    "deleted",
    "outputs",
    "sla",
    "checks",
    "listeners",
    "tenantId",
    "workerGroup",
];

/// The keys every task has (Kestra's `Task`), besides its type's own.
pub const TASK_COMMON_KEYS: &[&str] = &[
    "id",
    "type",
    "description",
    "disabled",
    "allowFailure",
    "allowWarning",
    "retry",
    "timeout",
    "runIf",
    "workerGroup",
    "logLevel",
    "logToFile",
    "taskCache",
    "errors",
    "finally",
    "version",
];

pub(super) struct Reader<'a> {
    defaults: &'a [PluginDefault],
    aliases: types::AliasResolver<'a>,
    pub(super) problems: Vec<Problem>,
}

impl Reader<'_> {
    fn problem(&mut self, path: &str, message: impl Into<String>) {
        self.problems.push(Problem { path: path.to_string(), message: message.into() });
    }

    /// The current name of a task or trigger type as written: a legacy
    /// name its declaration lists, or a flowable's alias, resolved.
    fn current_type(&self, written: &str) -> String {
        (self.aliases)(written).unwrap_or_else(|| types::normalize(written)).to_string()
    }
}

impl Flow {
    /// Reads a flow from its JSON form. Returns the flow (as complete as
    /// possible) and every problem found.
    pub fn from_value(v: &Value, source: &str) -> (Option<Flow>, Vec<Problem>) {
        Flow::from_value_with(v, source, &|_| None)
    }

    /// The same, with the legacy names of tasks and triggers resolved by
    /// `aliases` (the declarations of the types, which the loader above
    /// this crate has: `validate` passes them).
    pub fn from_value_with(v: &Value, source: &str, aliases: types::AliasResolver<'_>) -> (Option<Flow>, Vec<Problem>) {
        let Some(obj) = v.as_object() else {
            return (None, vec![Problem { path: String::new(), message: "a flow must be a YAML mapping".into() }]);
        };
        let mut problems = Vec::new();
        for k in obj.keys() {
            if !FLOW_KEYS.contains(&k.as_str()) {
                let hint = crate::suggest::closest(k, FLOW_KEYS.iter().copied())
                    .map(|s| format!(": did you mean '{s}'?"))
                    .unwrap_or_default();
                problems.push(Problem {
                    path: k.clone(),
                    message: format!(
                        "unknown flow property '{k}'{hint} (expected one of {})",
                        FLOW_KEYS[..15].join(", ")
                    ),
                });
            }
        }
        // Kestra keys Baton reads but honours only in one form: anything
        // else is refused, never ignored
        if obj.get("deleted").is_some_and(|v| v.as_bool() != Some(false) && !v.is_null()) {
            problems.push(Problem {
                path: "deleted".into(),
                message: "a flow marked 'deleted' cannot be loaded (delete the flow instead, or remove the key)".into(),
            });
        }
        if let Some(t) = obj.get("tenantId").filter(|v| !v.is_null())
            && t.as_str() != Some("main")
        {
            problems.push(Problem {
                path: "tenantId".into(),
                message: format!("tenant '{}' is unknown: Baton has one tenant, 'main'", scalar_string(t)),
            });
        }
        if obj.get("workerGroup").is_some_and(|v| !v.is_null()) {
            problems.push(Problem {
                path: "workerGroup".into(),
                message: "a flow-level workerGroup is not supported by Baton: set workerGroup on the tasks".into(),
            });
        }
        let string_field = |k: &str, problems: &mut Vec<Problem>| -> String {
            match obj.get(k) {
                Some(Value::String(s)) => s.clone(),
                Some(other) => {
                    problems.push(Problem {
                        path: k.into(),
                        message: format!("'{k}' must be a string, got {}", kind_of(other)),
                    });
                    String::new()
                }
                None => {
                    problems.push(Problem { path: k.into(), message: format!("missing required property '{k}'") });
                    String::new()
                }
            }
        };
        let id = string_field("id", &mut problems);
        let namespace = string_field("namespace", &mut problems);

        let plugin_defaults: Vec<PluginDefault> = match obj.get("pluginDefaults").or_else(|| obj.get("taskDefaults")) {
            None | Some(Value::Null) => Vec::new(),
            Some(v) => match serde_json::from_value(v.clone()) {
                Ok(d) => d,
                Err(e) => {
                    problems.push(Problem {
                        path: "pluginDefaults".into(),
                        message: format!("invalid pluginDefaults: {e}"),
                    });
                    Vec::new()
                }
            },
        };
        let mut r = Reader { defaults: &plugin_defaults, aliases, problems };

        let inputs = match obj.get("inputs") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => {
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    let path = child_index("inputs", i);
                    match Input::read(item) {
                        Ok(inp) => out.push(inp),
                        Err(e) => r.problem(&path, format!("invalid input definition: {e}")),
                    }
                }
                out
            }
            Some(_) => {
                r.problem("inputs", "'inputs' must be a list");
                Vec::new()
            }
        };
        let variables = match obj.get("variables") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) => m.clone(),
            Some(_) => {
                r.problem("variables", "'variables' must be a mapping");
                Map::new()
            }
        };
        let labels = match obj.get("labels") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Object(m)) => {
                m.iter().map(|(k, v)| super::Label { key: k.clone(), value: scalar_string(v) }).collect()
            }
            Some(Value::Array(items)) => match serde_json::from_value(Value::Array(items.clone())) {
                Ok(l) => l,
                Err(e) => {
                    r.problem("labels", format!("labels must be a mapping or a list of {{key, value}}: {e}"));
                    Vec::new()
                }
            },
            Some(_) => {
                r.problem("labels", "labels must be a mapping or a list of {key, value}");
                Vec::new()
            }
        };
        let tasks = r.task_list(obj.get("tasks"), "tasks", true);
        let errors = r.task_list(obj.get("errors"), "errors", false);
        let finally = r.task_list(obj.get("finally"), "finally", false);
        let triggers = r.triggers(obj.get("triggers"));
        let after_execution = r.task_list(obj.get("afterExecution"), "afterExecution", false);
        let sla = flowkeys::read_sla(obj.get("sla"), &mut r.problems);
        let checks = flowkeys::read_checks(obj.get("checks"), &mut r.problems);
        let listeners = flowkeys::read_listeners(obj.get("listeners"), &mut r);
        let concurrency = match obj.get("concurrency") {
            None | Some(Value::Null) => None,
            Some(v) => match serde_json::from_value::<Concurrency>(v.clone()) {
                Ok(c) if c.limit >= 1 => Some(c),
                Ok(_) => {
                    r.problem("concurrency.limit", "concurrency.limit must be at least 1");
                    None
                }
                Err(e) => {
                    r.problem("concurrency", format!("invalid concurrency: {e}"));
                    None
                }
            },
        };
        let retry = obj.get("retry").and_then(|v| r.retry(v, "retry"));
        let disabled = match obj.get("disabled") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                r.problem("disabled", "'disabled' must be true or false");
                false
            }
        };
        let revision = obj.get("revision").and_then(Value::as_u64).unwrap_or(1) as u32;
        let description = obj.get("description").map(scalar_string);
        let outputs = match obj.get("outputs") {
            Some(Value::Array(a)) => a.clone(),
            _ => Vec::new(),
        };
        let flow = Flow {
            id,
            namespace,
            revision,
            description,
            labels,
            inputs,
            variables,
            tasks,
            errors,
            finally,
            triggers,
            plugin_defaults: plugin_defaults.clone(),
            concurrency,
            retry,
            disabled,
            outputs,
            after_execution,
            sla,
            checks,
            listeners,
            source: source.to_string(),
            dialect: crate::dialect::DialectInfo::of(v),
            task_index: Default::default(),
        };
        (Some(flow), r.problems)
    }

    /// Every task of the flow, depth first (main tasks, then errors,
    /// finally, afterExecution and the listeners' tasks).
    pub fn all_tasks(&self) -> Vec<&Task> {
        fn walk<'a>(t: &'a Task, out: &mut Vec<&'a Task>) {
            out.push(t);
            for c in t.all_children() {
                walk(c, out);
            }
        }
        let mut out = Vec::new();
        let after = self.after_execution.iter().chain(self.listeners.iter().flat_map(|l| l.tasks.iter()));
        for t in self.tasks.iter().chain(self.errors.iter()).chain(self.finally.iter()).chain(after) {
            walk(t, &mut out);
        }
        out
    }

    /// True if tasks run after the execution's terminal state
    /// (`afterExecution` or `listeners`): its end is announced after them.
    pub fn has_after(&self) -> bool {
        !self.after_execution.is_empty() || self.listeners.iter().any(|l| !l.tasks.is_empty())
    }

    /// The ids of the flow's `SECRET` inputs.
    pub fn secret_inputs(&self) -> Vec<String> {
        self.inputs.iter().filter(|i| i.type_ == InputType::Secret).map(|i| i.id.clone()).collect()
    }

    /// The values an execution of this flow was given for its `SECRET`
    /// inputs: masked like `secret()` values wherever they would leave.
    pub fn secret_input_values(&self, inputs: &Map<String, Value>) -> Vec<String> {
        secret_values_of(&self.secret_inputs(), inputs)
    }
}

/// A short name for a JSON value's kind, for messages.
pub fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// A scalar as a string (strings unquoted, others as JSON).
pub fn scalar_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn last_segment(path: &str) -> &str {
    path.rsplit(['.', ']']).find(|s| !s.is_empty()).unwrap_or(path)
}

#[cfg(test)]
mod tests;
