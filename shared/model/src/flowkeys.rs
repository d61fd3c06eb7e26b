//! The flow-level keys that act around an execution rather than in it:
//! `sla` (Kestra's `MAX_DURATION` and `EXECUTION_ASSERTION` service level
//! agreements), `checks` (conditions on the inputs, evaluated before an
//! execution is created), and legacy `listeners` (tasks run after the end).
//! `afterExecution` is a plain task list, read with the flow's tasks.
//! Every item is read strictly: an unknown property, a bad enum value or a
//! missing required one is a [`Problem`] at its path, never ignored.

use chrono::Duration;
use serde_json::{Map, Value};

use super::Label;
use super::duration;
use super::flow::{Problem, Reader, Task, kind_of, scalar_string};
use crate::conditions::{Condition, ConditionUse};
use crate::yaml::{child_index, child_key};

/// What an SLA violation does to the execution (`behavior`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlaBehavior {
    /// The execution fails, its running task runs killed.
    Fail,
    /// The execution is cancelled, its running task runs killed.
    Cancel,
    /// Only logged, and the SLA's labels added.
    None,
}

/// The kind of an SLA (`type`) with its own property.
#[derive(Debug, Clone, PartialEq)]
pub enum SlaKind {
    /// `MAX_DURATION`: violated when the execution runs longer than `duration`
    /// after its start (its creation date, as Kestra's state start date).
    MaxDuration(Duration),
    /// `EXECUTION_ASSERTION`: `assert` rendered at each change of the
    /// running execution; violated when it is not truthy.
    ExecutionAssertion(String),
}

/// One `sla` item.
#[derive(Debug, Clone, PartialEq)]
pub struct Sla {
    pub id: String,
    pub kind: SlaKind,
    pub behavior: SlaBehavior,
    /// Added to the execution on violation (`labels`, a map or a list).
    pub labels: Vec<Label>,
}

/// How a check's message is shown (`style`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckStyle {
    Error,
    Success,
    Warning,
    Info,
}

impl CheckStyle {
    /// The log level the message is written at.
    pub fn level(self) -> &'static str {
        match self {
            CheckStyle::Error => "ERROR",
            CheckStyle::Warning => "WARN",
            CheckStyle::Success | CheckStyle::Info => "INFO",
        }
    }
}

/// What a failed check does (`behavior`); the strongest of the failed
/// checks wins: BLOCK over FAIL over CREATE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum CheckBehavior {
    /// The execution is created and the message shown.
    CreateExecution,
    /// The execution is created FAILED.
    FailExecution,
    /// No execution: the request is refused with the message.
    BlockExecution,
}

/// One `checks` item: `condition` must render `true`, else the check fails.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub condition: String,
    pub message: String,
    pub style: CheckStyle,
    pub behavior: CheckBehavior,
}

/// One legacy `listeners` item: its tasks run after the execution's end
/// when every condition holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Listener {
    pub description: Option<String>,
    /// Kestra's conditions, tested against the ended execution itself
    /// (`ExecutionStatus`, `ExecutionFlow`, `Expression`…): all must hold.
    pub conditions: Vec<Condition>,
    pub tasks: Vec<Task>,
}

const SLA_KEYS: &[&str] = &["id", "type", "behavior", "labels", "duration", "assert"];
/// `when` is Kestra 2.0's name for `condition` (which 2.0 keeps as an alias).
const CHECK_KEYS: &[&str] = &["condition", "when", "message", "style", "behavior"];
const LISTENER_KEYS: &[&str] = &["description", "conditions", "tasks"];

/// The items of an optional list key, or a problem if it is not a list.
fn items<'v>(v: Option<&'v Value>, key: &str, problems: &mut Vec<Problem>) -> &'v [Value] {
    match v {
        None | Some(Value::Null) => &[],
        Some(Value::Array(a)) => a,
        Some(other) => {
            problems
                .push(Problem { path: key.into(), message: format!("'{key}' must be a list, got {}", kind_of(other)) });
            &[]
        }
    }
}

/// The item at `path` as a mapping, reporting properties not in `known`.
fn mapping<'v>(
    v: &'v Value,
    path: &str,
    what: &str,
    known: &[&str],
    problems: &mut Vec<Problem>,
) -> Option<&'v Map<String, Value>> {
    let Some(m) = v.as_object() else {
        problems.push(Problem { path: path.into(), message: format!("{what} must be a mapping, got {}", kind_of(v)) });
        return None;
    };
    for k in m.keys().filter(|k| !known.contains(&k.as_str())) {
        problems.push(Problem {
            path: child_key(path, k),
            message: format!("unknown property '{k}' of {what} (expected one of {})", known.join(", ")),
        });
    }
    Some(m)
}

/// A required non-empty string property.
fn required_string(m: &Map<String, Value>, path: &str, key: &str, problems: &mut Vec<Problem>) -> Option<String> {
    match m.get(key) {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
        None | Some(Value::Null) => {
            problems.push(Problem { path: path.into(), message: format!("missing required property '{key}'") });
            None
        }
        Some(Value::String(_)) => {
            problems.push(Problem { path: child_key(path, key), message: format!("'{key}' must not be empty") });
            None
        }
        Some(other) => {
            problems.push(Problem {
                path: child_key(path, key),
                message: format!("'{key}' must be a string, got {}", kind_of(other)),
            });
            None
        }
    }
}

/// An enum property: one of `values` (as written in Kestra), or a problem.
fn enum_prop<T: Copy>(
    m: &Map<String, Value>,
    path: &str,
    key: &str,
    values: &[(&str, T)],
    default: Option<T>,
    problems: &mut Vec<Problem>,
) -> Option<T> {
    let names = || values.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ");
    match m.get(key) {
        None | Some(Value::Null) => {
            if default.is_none() {
                problems.push(Problem {
                    path: path.into(),
                    message: format!("missing required property '{key}' (one of {})", names()),
                });
            }
            default
        }
        Some(Value::String(s)) => match values.iter().find(|(n, _)| n == s) {
            Some((_, v)) => Some(*v),
            None => {
                problems.push(Problem {
                    path: child_key(path, key),
                    message: format!("invalid {key} '{s}' (expected one of {})", names()),
                });
                None
            }
        },
        Some(other) => {
            problems.push(Problem {
                path: child_key(path, key),
                message: format!("'{key}' must be one of {}, got {}", names(), kind_of(other)),
            });
            None
        }
    }
}

/// Labels as a `{key: value}` mapping or a list of `{key, value}` (a
/// flow's, an SLA's, a trigger's); `path` is where they sit.
pub fn labels(v: Option<&Value>, path: &str, problems: &mut Vec<Problem>) -> Vec<Label> {
    match v {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Object(m)) => m.iter().map(|(k, v)| Label { key: k.clone(), value: scalar_string(v) }).collect(),
        Some(Value::Array(a)) => match serde_json::from_value(Value::Array(a.clone())) {
            Ok(l) => l,
            Err(e) => {
                problems.push(Problem {
                    path: child_key(path, "labels"),
                    message: format!("labels must be a mapping or a list of {{key, value}}: {e}"),
                });
                Vec::new()
            }
        },
        Some(other) => {
            problems.push(Problem {
                path: child_key(path, "labels"),
                message: format!("labels must be a mapping or a list of {{key, value}}, got {}", kind_of(other)),
            });
            Vec::new()
        }
    }
}

/// Reads the flow's `sla` list.
pub fn read_sla(v: Option<&Value>, problems: &mut Vec<Problem>) -> Vec<Sla> {
    let mut out = Vec::new();
    let mut ids: Vec<String> = Vec::new();
    for (i, item) in items(v, "sla", problems).iter().enumerate() {
        let path = child_index("sla", i);
        let Some(m) = mapping(item, &path, "an SLA", SLA_KEYS, problems) else { continue };
        let id = required_string(m, &path, "id", problems);
        let kind =
            enum_prop(m, &path, "type", &[("MAX_DURATION", true), ("EXECUTION_ASSERTION", false)], None, problems);
        let behavior = enum_prop(
            m,
            &path,
            "behavior",
            &[("FAIL", SlaBehavior::Fail), ("CANCEL", SlaBehavior::Cancel), ("NONE", SlaBehavior::None)],
            None,
            problems,
        );
        let labels = labels(m.get("labels"), &path, problems);
        let kind = match kind {
            Some(true) => {
                if m.contains_key("assert") {
                    problems.push(Problem {
                        path: child_key(&path, "assert"),
                        message: "'assert' belongs to EXECUTION_ASSERTION SLAs, not MAX_DURATION".into(),
                    });
                }
                match m.get("duration") {
                    None | Some(Value::Null) => {
                        problems.push(Problem {
                            path: path.clone(),
                            message: "missing required property 'duration' of a MAX_DURATION SLA".into(),
                        });
                        None
                    }
                    Some(Value::String(s)) => match duration::parse_iso(s) {
                        Ok(d) if d > Duration::zero() => Some(SlaKind::MaxDuration(d)),
                        Ok(_) => {
                            problems.push(Problem {
                                path: child_key(&path, "duration"),
                                message: format!("duration '{s}' must be positive"),
                            });
                            None
                        }
                        Err(e) => {
                            problems.push(Problem {
                                path: child_key(&path, "duration"),
                                message: format!("invalid duration '{s}': {e}"),
                            });
                            None
                        }
                    },
                    Some(other) => {
                        problems.push(Problem {
                            path: child_key(&path, "duration"),
                            message: format!(
                                "'duration' must be an ISO-8601 duration such as PT1H, got {}",
                                kind_of(other)
                            ),
                        });
                        None
                    }
                }
            }
            Some(false) => {
                if m.contains_key("duration") {
                    problems.push(Problem {
                        path: child_key(&path, "duration"),
                        message: "'duration' belongs to MAX_DURATION SLAs, not EXECUTION_ASSERTION".into(),
                    });
                }
                required_string(m, &path, "assert", problems).map(SlaKind::ExecutionAssertion)
            }
            None => None,
        };
        if let Some(id) = &id {
            if ids.contains(id) && matches!(kind, Some(SlaKind::MaxDuration(_))) {
                // a MAX_DURATION's timer is found by its id: two would be one
                problems.push(Problem {
                    path: child_key(&path, "id"),
                    message: format!("duplicate SLA id '{id}' on a MAX_DURATION SLA"),
                });
            }
            ids.push(id.clone());
        }
        if let (Some(id), Some(kind), Some(behavior)) = (id, kind, behavior) {
            out.push(Sla { id, kind, behavior, labels });
        }
    }
    out
}

/// Reads the flow's `checks` list.
pub fn read_checks(v: Option<&Value>, problems: &mut Vec<Problem>) -> Vec<Check> {
    let mut out = Vec::new();
    for (i, item) in items(v, "checks", problems).iter().enumerate() {
        let path = child_index("checks", i);
        let Some(m) = mapping(item, &path, "a check", CHECK_KEYS, problems) else { continue };
        let present = |k: &str| m.get(k).is_some_and(|v| !v.is_null());
        let condition = match (present("when"), present("condition")) {
            (true, true) => {
                problems.push(Problem {
                    path: child_key(&path, "condition"),
                    message: "a check has either 'when' (Kestra 2.0) or 'condition' (its 1.x name), not both".into(),
                });
                None
            }
            (true, false) => required_string(m, &path, "when", problems),
            (false, true) => required_string(m, &path, "condition", problems),
            (false, false) => {
                problems.push(Problem {
                    path: path.clone(),
                    message: "missing required property 'when' (or its 1.x name 'condition')".into(),
                });
                None
            }
        };
        let message = required_string(m, &path, "message", problems);
        let style = enum_prop(
            m,
            &path,
            "style",
            &[
                ("ERROR", CheckStyle::Error),
                ("SUCCESS", CheckStyle::Success),
                ("WARNING", CheckStyle::Warning),
                ("INFO", CheckStyle::Info),
            ],
            Some(CheckStyle::Info),
            problems,
        );
        let behavior = enum_prop(
            m,
            &path,
            "behavior",
            &[
                ("BLOCK_EXECUTION", CheckBehavior::BlockExecution),
                ("FAIL_EXECUTION", CheckBehavior::FailExecution),
                ("CREATE_EXECUTION", CheckBehavior::CreateExecution),
            ],
            Some(CheckBehavior::BlockExecution),
            problems,
        );
        if let (Some(condition), Some(message), Some(style), Some(behavior)) = (condition, message, style, behavior) {
            out.push(Check { condition, message, style, behavior });
        }
    }
    out
}

/// Reads the flow's legacy `listeners` (their tasks read like any task list).
pub(super) fn read_listeners(v: Option<&Value>, r: &mut Reader<'_>) -> Vec<Listener> {
    let mut out = Vec::new();
    let list = items(v, "listeners", &mut r.problems);
    for (i, item) in list.iter().enumerate() {
        let problems = &mut r.problems;
        let path = child_index("listeners", i);
        let Some(m) = mapping(item, &path, "a listener", LISTENER_KEYS, problems) else { continue };
        let cpath = child_key(&path, "conditions");
        let conditions = match m.get("conditions") {
            None | Some(Value::Null) => Vec::new(),
            Some(v @ Value::Array(_)) => {
                let (list, found) = match crate::conditions::parse_list(v) {
                    Ok(list) => {
                        let found = crate::conditions::check_use(&list, ConditionUse::Listener);
                        (list, found)
                    }
                    Err(found) => (Vec::new(), found),
                };
                for p in found {
                    problems.push(Problem { path: crate::conditions::join(&cpath, &p.path), message: p.message });
                }
                list
            }
            Some(other) => {
                problems.push(Problem {
                    path: cpath,
                    message: format!("'conditions' must be a list, got {}", kind_of(other)),
                });
                Vec::new()
            }
        };
        let tasks = r.task_list(m.get("tasks"), &child_key(&path, "tasks"), true);
        let description = m.get("description").map(scalar_string);
        out.push(Listener { description, conditions, tasks });
    }
    out
}
