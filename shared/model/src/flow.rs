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

/// An input's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum InputType {
    String,
    Int,
    Float,
    Boolean,
    Bool,
    Select,
    Enum,
    Multiselect,
    Array,
    Datetime,
    Date,
    Time,
    Duration,
    Json,
    Yaml,
    Uri,
    Email,
    Secret,
    File,
}

impl InputType {
    /// Every type as written in a flow, in the enum's order: what the
    /// validator accepts for an input's `type` (the flow schema's enum,
    /// so the editor offers these and no other).
    pub const NAMES: &[&str] = &[
        "STRING",
        "INT",
        "FLOAT",
        "BOOLEAN",
        "BOOL",
        "SELECT",
        "ENUM",
        "MULTISELECT",
        "ARRAY",
        "DATETIME",
        "DATE",
        "TIME",
        "DURATION",
        "JSON",
        "YAML",
        "URI",
        "EMAIL",
        "SECRET",
        "FILE",
    ];

    /// Its position in [`InputType::NAMES`] (a new variant fails to
    /// compile here until it is listed there).
    pub fn index(self) -> usize {
        use InputType::*;
        match self {
            String => 0,
            Int => 1,
            Float => 2,
            Boolean => 3,
            Bool => 4,
            Select => 5,
            Enum => 6,
            Multiselect => 7,
            Array => 8,
            Datetime => 9,
            Date => 10,
            Time => 11,
            Duration => 12,
            Json => 13,
            Yaml => 14,
            Uri => 15,
            Email => 16,
            Secret => 17,
            File => 18,
        }
    }
}

/// Keys Kestra writes in a flow (an export, its API) that Baton reads in
/// one form only: `revision` (the server's), `deleted: false`,
/// `tenantId: main`, no flow-level `workerGroup`. Accepted so such a flow
/// loads, but never offered: the flow schema marks them `$compat`, and the
/// editor's completion leaves them out.
pub const COMPAT_FLOW_KEYS: &[&str] = &["revision", "deleted", "tenantId", "workerGroup"];

/// The same for task keys: `version` (only LATEST) and `workerGroup`
/// (Enterprise; refused with a key).
pub const COMPAT_TASK_KEYS: &[&str] = &["version", "workerGroup"];

/// What a `SECRET` input's value is shown as.
pub const SECRET_MASK: &str = "******";

/// The string values of the named inputs (the `SECRET` ones).
/// An input's `min`/`max`: a number, or an ISO-8601 duration (Kestra's
/// DURATION bounds, e.g. `PT10S`) read as seconds.
fn number_or_duration<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    use serde::de::Error;
    Ok(match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => match s.trim().parse::<f64>() {
            Ok(f) => Some(f),
            Err(_) => {
                let dur = duration::parse_iso(&s).map_err(|e| {
                    D::Error::custom(format!("'{s}' is neither a number nor an ISO-8601 duration ({e})"))
                })?;
                Some(dur.num_milliseconds() as f64 / 1000.0)
            }
        },
        Some(other) => {
            return Err(D::Error::custom(format!("expected a number or an ISO-8601 duration, got {other}")));
        }
    })
}

/// Input `values`: each a string, or a `{label, value}` option (Kestra 2.0).
fn option_values<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    use serde::de::Error;
    let Some(v) = Option::<Value>::deserialize(d)? else { return Ok(None) };
    let items = match v {
        Value::Null => return Ok(None),
        Value::Array(items) => items,
        other => return Err(D::Error::custom(format!("values must be a list, got {other}"))),
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        match item {
            Value::String(s) => out.push(s),
            Value::Object(m) => {
                if let Some(k) = m.keys().find(|k| *k != "label" && *k != "value") {
                    return Err(D::Error::custom(format!("unknown option key '{k}' (an option is {{label, value}})")));
                }
                match m.get("value") {
                    Some(Value::String(s)) => out.push(s.clone()),
                    _ => return Err(D::Error::custom("an option {label, value} needs a string 'value'")),
                }
            }
            other => {
                return Err(D::Error::custom(format!("a value must be a string or {{label, value}}, got {other}")));
            }
        }
    }
    Ok(Some(out))
}

pub fn secret_values_of(ids: &[String], inputs: &Map<String, Value>) -> Vec<String> {
    ids.iter()
        .filter_map(|id| inputs.get(id).and_then(Value::as_str))
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .collect()
}

/// One flow input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Input {
    #[serde(alias = "name")]
    pub id: String,
    #[serde(rename = "type")]
    pub type_: InputType,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub required: Option<bool>,
    #[serde(default)]
    pub defaults: Option<Value>,
    /// SELECT/MULTISELECT values: strings, or (Kestra 2.0) `{label, value}`
    /// options, of which the value is what the input takes (the label is
    /// what a UI shows).
    #[serde(default, alias = "options", deserialize_with = "option_values")]
    pub values: Option<Vec<String>>,
    #[serde(default)]
    pub allow_custom_value: bool,
    #[serde(default)]
    pub item_type: Option<InputType>,
    #[serde(default)]
    pub validator: Option<String>,
    /// A number, or (DURATION inputs) an ISO-8601 duration, in seconds.
    #[serde(default, deserialize_with = "number_or_duration")]
    pub min: Option<f64>,
    #[serde(default, deserialize_with = "number_or_duration")]
    pub max: Option<f64>,
    #[serde(default)]
    pub after: Option<String>,
    #[serde(default)]
    pub before: Option<String>,
    /// Kestra's conditional inputs: the input is enabled only when the
    /// inputs it names are, and `condition` renders `true` against them
    /// (`inputs::dynamic`); a disabled input is left out of the execution.
    #[serde(default)]
    pub depends_on: Option<InputDependsOn>,
    /// The value the execute form starts with (the UI's, as Kestra's: an
    /// API or CLI start without the input gets no value from it).
    #[serde(default)]
    pub prefill: Option<Value>,
    /// SELECT/MULTISELECT: a template rendered when the execution's inputs
    /// are resolved (and the execute form drawn) into the list of values.
    #[serde(default)]
    pub expression: Option<String>,
    /// SELECT: drawn as radio buttons in the execute form.
    #[serde(default)]
    pub is_radio: bool,
    /// SELECT/MULTISELECT: with no `defaults`, the first value is the default.
    #[serde(default)]
    pub auto_select_first: bool,
    /// JSON inputs (Kestra 2.0): the JSON Schema the value must match
    /// (`inputs::json_schema`).
    #[serde(default)]
    pub json_schema: Option<Value>,
}

/// An input's `dependsOn` (Kestra's `DependsOn`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputDependsOn {
    /// The inputs this one depends on (resolved first; all must be enabled).
    #[serde(default)]
    pub inputs: Vec<String>,
    /// Rendered against those inputs; the input is enabled when it is `true`.
    #[serde(default)]
    pub condition: Option<String>,
}

impl Input {
    /// Kestra inputs are required unless they say otherwise.
    pub fn is_required(&self) -> bool {
        self.required.unwrap_or(true)
    }
}

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
                    match serde_json::from_value::<Input>(item.clone()) {
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

impl Reader<'_> {
    pub(super) fn task_list(&mut self, v: Option<&Value>, path: &str, required: bool) -> Vec<Task> {
        match v {
            None | Some(Value::Null) => {
                if required {
                    self.problem(path, format!("missing required property '{}'", last_segment(path)));
                }
                Vec::new()
            }
            Some(Value::Array(items)) => {
                if required && items.is_empty() {
                    self.problem(path, format!("'{}' must contain at least one task", last_segment(path)));
                }
                items.iter().enumerate().filter_map(|(i, t)| self.task(t, &child_index(path, i))).collect()
            }
            Some(other) => {
                self.problem(path, format!("'{}' must be a list of tasks, got {}", last_segment(path), kind_of(other)));
                Vec::new()
            }
        }
    }

    fn task(&mut self, v: &Value, path: &str) -> Option<Task> {
        let Some(raw) = v.as_object() else {
            self.problem(path, format!("a task must be a mapping, got {}", kind_of(v)));
            return None;
        };
        let type_ = match raw.get("type") {
            Some(Value::String(s)) => s.clone(),
            Some(_) => {
                self.problem(&child_key(path, "type"), "'type' must be a string");
                return None;
            }
            None => {
                self.problem(path, "missing required property 'type'");
                return None;
            }
        };
        let kind = self.current_type(&type_);
        let obj = apply_defaults(raw, &type_, &kind, self.defaults);
        let id = match obj.get("id") {
            Some(Value::String(s)) => s.clone(),
            Some(_) => {
                self.problem(&child_key(path, "id"), "'id' must be a string");
                String::new()
            }
            None => {
                self.problem(path, "missing required property 'id'");
                String::new()
            }
        };
        let flowable_kind = types::flowable_kind(&kind);
        let bool_key = |r: &mut Self, k: &str| -> bool {
            match obj.get(k) {
                None | Some(Value::Null) => false,
                Some(Value::Bool(b)) => *b,
                Some(Value::String(s)) if s == "true" || s == "false" => s == "true",
                Some(other) => {
                    r.problem(&child_key(path, k), format!("'{k}' must be true or false, got {}", kind_of(other)));
                    false
                }
            }
        };
        let disabled = bool_key(self, "disabled");
        let allow_failure = bool_key(self, "allowFailure");
        let allow_warning = bool_key(self, "allowWarning");
        let retry = obj.get("retry").and_then(|v| self.retry(v, &child_key(path, "retry")));
        let timeout = match obj.get("timeout") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => match duration::parse_iso(s) {
                Ok(d) => Some(d),
                Err(e) => {
                    self.problem(&child_key(path, "timeout"), format!("invalid timeout: {e}"));
                    None
                }
            },
            Some(_) => {
                self.problem(&child_key(path, "timeout"), "'timeout' must be an ISO-8601 duration such as PT10M");
                None
            }
        };
        let opt_string = |k: &str| obj.get(k).filter(|v| !v.is_null()).map(scalar_string);
        let log_level = opt_string("logLevel");
        if let Some(l) = &log_level
            && !matches!(l.to_ascii_uppercase().as_str(), "TRACE" | "DEBUG" | "INFO" | "WARN" | "ERROR")
        {
            self.problem(
                &child_key(path, "logLevel"),
                format!("logLevel '{l}' is not one of TRACE, DEBUG, INFO, WARN, ERROR"),
            );
        }
        let log_to_file = bool_key(self, "logToFile");
        let task_cache = match super::task_cache::read(obj.get("taskCache")) {
            Ok(c) => c,
            Err((sub, message)) => {
                let at = child_key(path, "taskCache");
                self.problem(&if sub.is_empty() { at } else { child_key(&at, sub) }, message);
                None
            }
        };
        if task_cache.is_some() && flowable_kind.is_some() {
            self.problem(&child_key(path, "taskCache"), "taskCache applies to runnable tasks, not to flowables");
        }
        if let Some(v) = obj.get("version").filter(|v| !v.is_null())
            && !scalar_string(v).eq_ignore_ascii_case("latest")
        {
            self.problem(
                &child_key(path, "version"),
                format!("plugin version '{}' cannot be chosen: Baton runs one version of each task type (remove it, or use LATEST)", scalar_string(v)),
            );
        }
        let mut props = Map::new();
        let child_keys: &[&str] = FlowableKind::child_keys(flowable_kind);
        for (k, v) in obj.iter() {
            if !TASK_COMMON_KEYS.contains(&k.as_str()) && !child_keys.contains(&k.as_str()) {
                props.insert(k.clone(), v.clone());
            }
        }
        let children = match flowable_kind {
            Some(FlowableKind::If) => Children::If {
                then: self.task_list(obj.get("then"), &child_key(path, "then"), true),
                else_: self.task_list(obj.get("else"), &child_key(path, "else"), false),
            },
            Some(FlowableKind::Switch) => {
                let mut cases = Vec::new();
                match obj.get("cases") {
                    None | Some(Value::Null) => {}
                    Some(Value::Object(m)) => {
                        for (k, v) in m {
                            let p = child_key(&child_key(path, "cases"), k);
                            cases.push((k.clone(), self.task_list(Some(v), &p, true)));
                        }
                    }
                    Some(_) => self.problem(&child_key(path, "cases"), "'cases' must map values to task lists"),
                }
                Children::Switch {
                    cases,
                    defaults: self.task_list(obj.get("defaults"), &child_key(path, "defaults"), false),
                }
            }
            Some(
                FlowableKind::Sequential
                | FlowableKind::Parallel
                | FlowableKind::ForEach
                | FlowableKind::WorkingDirectory
                | FlowableKind::AllowFailure
                | FlowableKind::WaitFor,
            ) => Children::Tasks(self.task_list(obj.get("tasks"), &child_key(path, "tasks"), true)),
            Some(FlowableKind::Dag) => Children::Tasks(self.dag_tasks(obj.get("tasks"), &child_key(path, "tasks"))),
            // the deprecated child `tasks` of a Pause are optional
            Some(FlowableKind::Pause) => {
                Children::Tasks(self.task_list(obj.get("tasks"), &child_key(path, "tasks"), false))
            }
            Some(FlowableKind::ForEachItem) => super::for_each_item::children(&id, &props, path),
            _ => Children::None,
        };
        let errors = self.task_list(obj.get("errors"), &child_key(path, "errors"), false);
        let finally = self.task_list(obj.get("finally"), &child_key(path, "finally"), false);
        let flowable = crate::flowable::parse(&kind, &props);
        Some(Task {
            id,
            type_,
            kind,
            flowable,
            description: opt_string("description"),
            disabled,
            allow_failure,
            allow_warning,
            retry,
            timeout,
            run_if: opt_string("runIf"),
            worker_group: obj.get("workerGroup").and_then(|w| w.get("key").or(Some(w))).map(scalar_string),
            log_level,
            log_to_file,
            task_cache,
            props,
            children,
            errors,
            finally,
            depends_on: Vec::new(),
            path: path.to_string(),
        })
    }

    /// A Dag's `tasks`: `[{task, dependsOn}]`, each task with its
    /// `dependsOn` (the ids are checked by the validator).
    fn dag_tasks(&mut self, v: Option<&Value>, path: &str) -> Vec<Task> {
        let Some(items) = v.and_then(Value::as_array).filter(|a| !a.is_empty()) else {
            self.problem(path, "'tasks' must list at least one {task, dependsOn}");
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let at = child_index(path, i);
            let Some(m) = item.as_object() else {
                self.problem(&at, format!("a Dag entry must be a mapping {{task, dependsOn}}, got {}", kind_of(item)));
                continue;
            };
            for k in m.keys().filter(|k| !matches!(k.as_str(), "task" | "dependsOn")) {
                self.problem(
                    &child_key(&at, k),
                    format!("unknown property '{k}' of a Dag entry (known: task, dependsOn)"),
                );
            }
            let depends_on = match m.get("dependsOn") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(ids)) if ids.iter().all(Value::is_string) => {
                    ids.iter().filter_map(Value::as_str).map(str::to_string).collect()
                }
                Some(other) => {
                    self.problem(
                        &child_key(&at, "dependsOn"),
                        format!("'dependsOn' must be a list of task ids, got {}", kind_of(other)),
                    );
                    Vec::new()
                }
            };
            match m.get("task") {
                None | Some(Value::Null) => self.problem(&at, "missing required property 'task'"),
                Some(t) => {
                    if let Some(mut task) = self.task(t, &child_key(&at, "task")) {
                        task.depends_on = depends_on;
                        out.push(task);
                    }
                }
            }
        }
        out
    }

    fn triggers(&mut self, v: Option<&Value>) -> Vec<Trigger> {
        let items = match v {
            None | Some(Value::Null) => return Vec::new(),
            Some(Value::Array(items)) => items,
            Some(_) => {
                self.problem("triggers", "'triggers' must be a list");
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let path = child_index("triggers", i);
            let Some(raw) = item.as_object() else {
                self.problem(&path, "a trigger must be a mapping");
                continue;
            };
            let (Some(id), Some(type_)) =
                (raw.get("id").and_then(Value::as_str), raw.get("type").and_then(Value::as_str))
            else {
                self.problem(&path, "a trigger needs a string 'id' and 'type'");
                continue;
            };
            let kind = self.current_type(type_);
            let obj = apply_defaults(raw, type_, &kind, self.defaults);
            let disabled = obj.get("disabled").and_then(Value::as_bool).unwrap_or(false);
            out.push(Trigger { id: id.to_string(), type_: kind, disabled, props: obj, path });
        }
        out
    }

    fn retry(&mut self, v: &Value, path: &str) -> Option<Retry> {
        let Some(o) = v.as_object() else {
            self.problem(path, "'retry' must be a mapping with a 'type'");
            return None;
        };
        let dur = |r: &mut Self, k: &str, required: bool| -> Option<Duration> {
            match o.get(k) {
                None | Some(Value::Null) => {
                    if required {
                        r.problem(path, format!("retry is missing required property '{k}'"));
                    }
                    None
                }
                Some(Value::String(s)) => match duration::parse_iso(s) {
                    Ok(d) => Some(d),
                    Err(e) => {
                        r.problem(&child_key(path, k), format!("invalid {k}: {e}"));
                        None
                    }
                },
                Some(_) => {
                    r.problem(&child_key(path, k), format!("'{k}' must be an ISO-8601 duration"));
                    None
                }
            }
        };
        let t = o.get("type").and_then(Value::as_str).unwrap_or("").to_ascii_lowercase();
        let kind = match t.as_str() {
            "constant" => RetryKind::Constant { interval: dur(self, "interval", true)? },
            "exponential" => RetryKind::Exponential {
                interval: dur(self, "interval", true)?,
                max_interval: dur(self, "maxInterval", true)?,
                delay_factor: o.get("delayFactor").and_then(Value::as_f64),
            },
            "random" => RetryKind::Random {
                min_interval: dur(self, "minInterval", true)?,
                max_interval: dur(self, "maxInterval", true)?,
            },
            other => {
                self.problem(
                    &child_key(path, "type"),
                    format!("unknown retry type '{other}' (expected constant, exponential or random)"),
                );
                return None;
            }
        };
        let max_attempt = match o.get("maxAttempt").or_else(|| o.get("maxAttempts")) {
            None | Some(Value::Null) => None,
            Some(v) => match v.as_u64() {
                Some(n) if n >= 1 => Some(n as u32),
                _ => {
                    self.problem(&child_key(path, "maxAttempt"), "maxAttempt must be an integer ≥ 1");
                    None
                }
            },
        };
        Some(Retry {
            kind,
            max_attempt,
            max_duration: dur(self, "maxDuration", false),
            warning_on_retry: o.get("warningOnRetry").and_then(Value::as_bool).unwrap_or(false),
        })
    }
}

/// Applies pluginDefaults to a raw task or trigger: a default matches when
/// its type equals the task's type (as written or normalized) or is a
/// package prefix of it. Defaults fill absent keys (maps merge recursively);
/// `forced` defaults override.
pub fn apply_defaults(
    raw: &Map<String, Value>,
    written: &str,
    normalized: &str,
    defaults: &[PluginDefault],
) -> Map<String, Value> {
    let matches = |d: &PluginDefault| {
        let t = d.type_.as_str();
        [written, normalized].iter().any(|x| *x == t || (x.starts_with(t) && x[t.len()..].starts_with('.')))
    };
    let mut obj = raw.clone();
    for d in defaults.iter().filter(|d| matches(d)) {
        for (k, v) in &d.values {
            if d.forced {
                obj.insert(k.clone(), v.clone());
            } else {
                match obj.get_mut(k) {
                    None => {
                        obj.insert(k.clone(), v.clone());
                    }
                    Some(existing) => merge_missing(existing, v),
                }
            }
        }
    }
    apply_nested_defaults(&mut obj, defaults);
    obj
}

/// Applies pluginDefaults to the plugins nested in a task's properties
/// (objects with a dotted `type`, e.g. an AI task's `provider:
/// {type: io.kestra.plugin.ai.provider.GoogleGemini}`), as Kestra does for
/// its sub-plugins, when a default names that exact type. Flowable children
/// are tasks and get theirs on their own.
fn apply_nested_defaults(obj: &mut Map<String, Value>, defaults: &[PluginDefault]) {
    fn walk(v: &mut Value, defaults: &[PluginDefault]) {
        match v {
            Value::Array(a) => a.iter_mut().for_each(|x| walk(x, defaults)),
            Value::Object(m) => {
                let t = m.get("type").and_then(Value::as_str).filter(|t| t.contains('.')).map(str::to_string);
                if let Some(t) = t {
                    // exact type only: a package default (`io.kestra.plugin.scripts`)
                    // must not push a task's keys into its `taskRunner`
                    let norm = types::normalize(&t);
                    let exact: Vec<PluginDefault> =
                        defaults.iter().filter(|d| d.type_ == t || d.type_ == norm).cloned().collect();
                    let merged = apply_defaults(m, &t, norm, &exact);
                    *m = merged;
                    // what is inside it may match other defaults
                    m.values_mut().for_each(|x| walk(x, defaults));
                } else {
                    m.values_mut().for_each(|x| walk(x, defaults));
                }
            }
            _ => {}
        }
    }
    if defaults.is_empty() {
        return;
    }
    for (k, v) in obj.iter_mut() {
        if !matches!(k.as_str(), "tasks" | "then" | "else" | "cases" | "defaults" | "errors" | "finally") {
            walk(v, defaults);
        }
    }
}

fn merge_missing(target: &mut Value, default: &Value) {
    if let (Value::Object(t), Value::Object(d)) = (target, default) {
        for (k, v) in d {
            match t.get_mut(k) {
                None => {
                    t.insert(k.clone(), v.clone());
                }
                Some(existing) => merge_missing(existing, v),
            }
        }
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
mod tests {
    use super::*;
    use serde_json::json;

    /// Parsed with one legacy task name resolved, as the loader's
    /// resolver (the types' declarations) does.
    fn parse(v: Value) -> (Flow, Vec<Problem>) {
        let legacy = |t: &str| (t == "io.kestra.core.tasks.log.Log").then_some("io.kestra.plugin.core.log.Log");
        let (f, p) = Flow::from_value_with(&v, "", &legacy);
        (f.unwrap(), p)
    }

    #[test]
    fn input_type_names_are_what_the_reader_accepts() {
        for (i, name) in InputType::NAMES.iter().enumerate() {
            let t: InputType = serde_json::from_value(json!(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(t.index(), i, "{name}");
            assert_eq!(serde_json::to_value(t).ok(), Some(json!(name)));
        }
        assert!(serde_json::from_value::<InputType>(json!("STRNG")).is_err());
        for k in COMPAT_FLOW_KEYS {
            assert!(FLOW_KEYS.contains(k), "{k}");
        }
        for k in COMPAT_TASK_KEYS {
            assert!(TASK_COMMON_KEYS.contains(k), "{k}");
        }
    }

    #[test]
    fn an_unknown_flow_key_gets_the_nearest_known_one() {
        let (_, p) = Flow::from_value(&json!({"id": "f", "namespace": "n", "tasks": [], "trigers": []}), "");
        assert!(
            p.iter().any(|p| p.path == "trigers"
                && p.message.starts_with("unknown flow property 'trigers': did you mean 'triggers'?")),
            "{p:?}"
        );
    }

    #[test]
    fn reads_flowables_and_defaults() {
        let (f, p) = parse(json!({
            "id": "f", "namespace": "n",
            "pluginDefaults": [{"type": "io.kestra.plugin.core.log", "values": {"level": "WARN"}}],
            "tasks": [
                {"id": "if", "type": "io.kestra.plugin.core.flow.If", "condition": "{{true}}",
                 "then": [{"id": "a", "type": "io.kestra.core.tasks.log.Log", "message": "x"}]},
                {"id": "b", "type": "io.kestra.plugin.core.log.Log", "message": "y", "level": "ERROR",
                 "retry": {"type": "constant", "interval": "PT1S", "maxAttempts": 3}}
            ]
        }));
        assert!(p.is_empty(), "{p:?}");
        assert_eq!(f.tasks[0].flowable_kind(), Some(FlowableKind::If));
        let Children::If { then, .. } = &f.tasks[0].children else { panic!() };
        assert_eq!(then[0].kind, "io.kestra.plugin.core.log.Log");
        assert_eq!(then[0].props["level"], "WARN");
        assert_eq!(then[0].path, "tasks[0].then[0]");
        assert_eq!(f.tasks[1].props["level"], "ERROR");
        assert_eq!(f.tasks[1].retry.as_ref().unwrap().max_attempt, Some(3));
        assert_eq!(f.all_tasks().len(), 3);
    }

    #[test]
    fn forced_defaults_override() {
        let (f, _) = parse(json!({
            "id": "f", "namespace": "n",
            "pluginDefaults": [{"type": "io.kestra.plugin.core.log.Log", "forced": true, "values": {"level": "ERROR"}}],
            "tasks": [{"id": "b", "type": "io.kestra.plugin.core.log.Log", "message": "y", "level": "INFO"}]
        }));
        assert_eq!(f.tasks[0].props["level"], "ERROR");
    }

    #[test]
    fn prefix_must_end_on_a_package_boundary() {
        let (f, _) = parse(json!({
            "id": "f", "namespace": "n",
            "pluginDefaults": [{"type": "io.kestra.plugin.core.lo", "values": {"level": "ERROR"}}],
            "tasks": [{"id": "b", "type": "io.kestra.plugin.core.log.Log", "message": "y"}]
        }));
        assert!(!f.tasks[0].props.contains_key("level"));
    }

    #[test]
    fn collects_problems() {
        let (_, p) = parse(json!({
            "id": "f", "tasks": [{"id": "a"}, {"type": "x"}], "bogus": 1,
            "concurrency": {"limit": 0}
        }));
        let paths: Vec<_> = p.iter().map(|p| p.path.as_str()).collect();
        assert!(paths.contains(&"namespace"), "{p:?}");
        assert!(paths.contains(&"tasks[0]"));
        assert!(paths.contains(&"tasks[1]"));
        assert!(paths.contains(&"bogus"));
        assert!(paths.contains(&"concurrency.limit"));
    }
}
