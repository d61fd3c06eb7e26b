//! The plugin catalogue that describes itself: every task (registry and
//! flowable), trigger, condition and task runner Baton implements, joined
//! once from the tables validation reads (`PluginDef::props`, the
//! flowables' declarations (`model::flowable::defs`), `TriggerDef`, `ConditionDef`, [`runners`], the common
//! task keys) and the words of [`docs`] (title, description, example,
//! outputs, and per property a line, a default, enum values, dynamic or
//! not). The JSON Schema ([`json`]), `GET /api/v1/plugins…` and
//! `baton plugins` are generated from [`catalog`], so they cannot drift
//! from what `baton validate` accepts.

pub mod catalog;
pub mod common;
#[cfg(test)]
mod conformance_tests;
pub mod docs;
pub mod json;
pub mod runners;
#[cfg(test)]
mod tests;

pub use catalog::{Described, Prop, catalog, find, kind_word};

use crate::plugins::PropKind;

/// What a type is, as Kestra's plugin documentation sorts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Task,
    Trigger,
    Condition,
    TaskRunner,
}

impl Kind {
    /// Kestra's name for the kind (`$kind` in the JSON Schema).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Task => "task",
            Kind::Trigger => "trigger",
            Kind::Condition => "condition",
            Kind::TaskRunner => "taskRunner",
        }
    }
}

/// What a property holds beyond its [`PropKind`]: nested tasks,
/// conditions or a task runner, which the JSON Schema refers to by type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holds {
    /// A plain value of its kind.
    Value,
    /// A list of tasks (`tasks`, `then`, `errors`…).
    Tasks,
    /// A mapping of values to task lists (a Switch's `cases`).
    TaskCases,
    /// A Dag's `tasks`: `[{task, dependsOn}]`.
    DagTasks,
    /// A list of conditions (or Kestra's older mapping of id → condition).
    Conditions,
    /// A mapping of id → condition (a MultipleCondition's `conditions`).
    ConditionMap,
    /// A task runner (`taskRunner: {type: …}`).
    TaskRunner,
}

/// The words and facts about one property that its spec does not carry.
#[derive(Debug, Clone, Copy)]
pub struct PropDoc {
    pub name: &'static str,
    /// One line for humans.
    pub doc: &'static str,
    /// The default, as a JSON literal (`"INFO"`, `true`, `10`).
    pub default: Option<&'static str>,
    /// The values it may take (checked by the validator, case-insensitively,
    /// on a written value that is not a template).
    pub values: &'static [&'static str],
    /// Whether it is rendered as a template (`None`: the kind's usual).
    pub dynamic: Option<bool>,
}

impl PropDoc {
    pub const fn new(name: &'static str, doc: &'static str) -> PropDoc {
        PropDoc { name, doc, default: None, values: &[], dynamic: None }
    }
    pub const fn default(self, literal: &'static str) -> PropDoc {
        PropDoc { default: Some(literal), ..self }
    }
    pub const fn values(self, values: &'static [&'static str]) -> PropDoc {
        PropDoc { values, ..self }
    }
    /// Read as written: never rendered.
    pub const fn fixed(self) -> PropDoc {
        PropDoc { dynamic: Some(false), ..self }
    }
    /// Rendered as a template before use.
    pub const fn dynamic(self) -> PropDoc {
        PropDoc { dynamic: Some(true), ..self }
    }
}

/// One output of a task.
#[derive(Debug, Clone, Copy)]
pub struct OutDoc {
    pub name: &'static str,
    pub kind: PropKind,
    pub doc: &'static str,
}

impl OutDoc {
    pub const fn new(name: &'static str, kind: PropKind, doc: &'static str) -> OutDoc {
        OutDoc { name, kind, doc }
    }
}

/// The words about one type, written for Baton.
#[derive(Debug, Clone, Copy)]
pub struct TypeDoc {
    pub type_name: &'static str,
    /// One line.
    pub title: &'static str,
    /// Plain text: what it does in Baton.
    pub description: &'static str,
    /// A short YAML example (a task, trigger, condition or runner as it
    /// sits in a flow), which must validate.
    pub example: &'static str,
    pub outputs: &'static [OutDoc],
    pub props: &'static [PropDoc],
}

impl TypeDoc {
    pub const fn new(type_name: &'static str, title: &'static str, description: &'static str) -> TypeDoc {
        TypeDoc { type_name, title, description, example: "", outputs: &[], props: &[] }
    }
    pub const fn example(self, example: &'static str) -> TypeDoc {
        TypeDoc { example, ..self }
    }
    pub const fn outputs(self, outputs: &'static [OutDoc]) -> TypeDoc {
        TypeDoc { outputs, ..self }
    }
    pub const fn props(self, props: &'static [PropDoc]) -> TypeDoc {
        TypeDoc { props, ..self }
    }
    /// The doc of property `name`, if written.
    pub fn prop(&self, name: &str) -> Option<&'static PropDoc> {
        let props: &'static [PropDoc] = self.props;
        props.iter().find(|p| p.name == name)
    }
}

/// Kestra's plugin group of a type name: `io.kestra.plugin.core` for core
/// types, the sub-package for scripts and JDBC
/// (`io.kestra.plugin.jdbc.duckdb`), else `io.kestra.plugin.<name>`.
pub fn group_of(type_name: &str) -> String {
    let parts: Vec<&str> = type_name.split('.').collect();
    let n = match parts.get(3).copied() {
        Some("scripts") if parts.get(4) == Some(&"runner") => 4,
        Some("scripts" | "jdbc" | "ee") if parts.len() > 5 => 5,
        _ => 4,
    };
    parts[..n.min(parts.len().saturating_sub(1)).max(1)].join(".")
}
