//! Joins the tables validation reads with the words of `docs` into one
//! [`Described`] per type: the registry's tasks, the flowables, the
//! triggers, the conditions and the task runners.

use super::{Holds, Kind, OutDoc, PropDoc, TypeDoc, common, docs, group_of, runners};
use crate::model::flowable::{self, FlowableKind};
use crate::model::types;
use crate::plugins::{PropKind, PropSpec, Registry};

/// One property of a type, as validated and documented.
#[derive(Debug, Clone)]
pub struct Prop {
    pub name: &'static str,
    pub kind: PropKind,
    pub required: bool,
    pub holds: Holds,
    /// One line (empty when not written yet).
    pub doc: &'static str,
    pub default: Option<&'static str>,
    pub values: &'static [&'static str],
    pub dynamic: bool,
}

/// One type, described.
#[derive(Debug, Clone)]
pub struct Described {
    pub type_name: &'static str,
    /// Other names that resolve to it (legacy names).
    pub aliases: Vec<&'static str>,
    pub kind: Kind,
    /// Kestra's plugin group (`io.kestra.plugin.core`).
    pub group: String,
    pub title: &'static str,
    pub description: &'static str,
    pub example: &'static str,
    pub outputs: &'static [OutDoc],
    pub props: Vec<Prop>,
    /// A legacy type Kestra keeps for old flows.
    pub deprecated: bool,
    /// The worker group (and tasks topic) that runs a registry task;
    /// `None` for the flowables, which the executor runs, and the others.
    pub worker_group: Option<&'static str>,
    /// Groups of properties of which one must be written (a flowable's
    /// `values` or its older name `value`), the preferred name first: the
    /// validator's own rule (`flowable::Def::required_any`).
    pub one_of: Vec<&'static [&'static str]>,
}

impl Prop {
    /// What it takes, in a word: `string`, `duration`, `tasks`, `conditions`…
    pub fn type_word(&self) -> &'static str {
        match self.holds {
            Holds::Tasks | Holds::DagTasks => "tasks",
            Holds::TaskCases => "cases",
            Holds::Conditions | Holds::ConditionMap => "conditions",
            Holds::TaskRunner => "taskRunner",
            Holds::Value => kind_word(self.kind),
        }
    }
}

/// A value kind in a word: `string`, `integer`, `string|list`…
pub fn kind_word(kind: PropKind) -> &'static str {
    match kind {
        PropKind::String => "string",
        PropKind::Integer => "integer",
        PropKind::Number => "number",
        PropKind::Boolean => "boolean",
        PropKind::Duration => "duration",
        PropKind::List => "list",
        PropKind::Map => "map",
        PropKind::StringOrList => "string|list",
        PropKind::Any => "any",
    }
}

impl Described {
    /// The property `name`.
    pub fn prop(&self, name: &str) -> Option<&Prop> {
        self.props.iter().find(|p| p.name == name)
    }

    /// Whether `name` is this type's name or one of its aliases.
    pub fn answers_to(&self, name: &str) -> bool {
        self.type_name == name || self.aliases.contains(&name)
    }
}

struct Builder {
    doc: Option<&'static TypeDoc>,
    dynamic: bool,
    props: Vec<Prop>,
}

impl Builder {
    fn new(type_name: &str, dynamic: bool) -> Builder {
        Builder { doc: docs::find(type_name), dynamic, props: Vec::new() }
    }

    fn add(&mut self, spec: &PropSpec, holds: Holds, common: &'static [PropDoc]) {
        if self.props.iter().any(|p| p.name == spec.name) {
            return;
        }
        let doc = self
            .doc
            .and_then(|d| docs::prop_doc(d.type_name, spec.name))
            .or_else(|| common.iter().find(|p| p.name == spec.name));
        self.props.push(Prop {
            name: spec.name,
            kind: spec.kind,
            required: spec.required,
            holds,
            doc: doc.map_or("", |d| d.doc),
            default: doc.and_then(|d| d.default),
            values: doc.map_or(&[], |d| d.values),
            dynamic: doc.and_then(|d| d.dynamic).unwrap_or(self.dynamic),
        });
    }

    fn finish(self, type_name: &'static str, aliases: Vec<&'static str>, kind: Kind, deprecated: bool) -> Described {
        let d = self.doc;
        Described {
            type_name,
            aliases,
            kind,
            group: group_of(type_name),
            title: d.map_or("", |d| d.title),
            description: d.map_or("", |d| d.description),
            example: d.map_or("", |d| d.example),
            outputs: d.map_or(&[], |d| d.outputs),
            props: self.props,
            deprecated,
            worker_group: None,
            one_of: Vec::new(),
        }
    }
}

fn add_common_task(b: &mut Builder) {
    for spec in common::TASK {
        b.add(spec, common::task_holds(spec.name), common::TASK_DOCS);
    }
}

/// Every type Baton implements, tasks first, each kind sorted by name.
pub fn catalog(registry: &Registry) -> Vec<Described> {
    let mut out = Vec::new();
    for def in registry.plugin_defs() {
        let mut b = Builder::new(def.type_name, true);
        add_common_task(&mut b);
        for spec in def.props {
            let holds = if spec.name == "taskRunner" { Holds::TaskRunner } else { Holds::Value };
            b.add(spec, holds, &[]);
        }
        let mut aliases: Vec<&'static str> = def.aliases.to_vec();
        aliases.extend(types::aliases_of(def.type_name));
        let d = b.finish(def.type_name, dedup(aliases), Kind::Task, false);
        out.push(Described { worker_group: Some(def.group), ..d });
    }
    for def in flowable::defs() {
        let type_name = def.decl.type_name;
        let mut b = Builder::new(type_name, true);
        add_common_task(&mut b);
        // its child lists, then its own properties (as declared)
        for list in def.decl.child_lists() {
            let holds = match (def.kind, list.kind) {
                (_, PropKind::Map) => Holds::TaskCases,
                (FlowableKind::Dag, _) => Holds::DagTasks,
                _ => Holds::Tasks,
            };
            b.add(&list.spec(), holds, &[]);
        }
        for spec in def.props {
            b.add(spec, Holds::Value, &[]);
        }
        let d = b.finish(type_name, dedup(types::aliases_of(type_name).collect()), Kind::Task, def.deprecated);
        let one_of = def.required_any.iter().copied().filter(|g| g.len() > 1).collect();
        out.push(Described { one_of, ..d });
    }
    out.sort_by_key(|d| d.type_name);
    let mut triggers = Vec::new();
    for def in crate::triggers::defs() {
        let mut b = Builder::new(def.type_name, false);
        for spec in crate::triggers::COMMON.iter().chain(def.props) {
            let holds = if spec.name == "conditions" { Holds::Conditions } else { Holds::Value };
            b.add(spec, holds, common::TRIGGER_DOCS);
        }
        let mut d = b.finish(def.type_name, def.aliases.to_vec(), Kind::Trigger, false);
        // a trigger type says what it does itself
        if d.description.is_empty() {
            d.description = def.description;
        }
        triggers.push(d);
    }
    triggers.sort_by_key(|d| d.type_name);
    out.extend(triggers);
    let mut conditions = Vec::new();
    for def in crate::conditions::catalog::defs() {
        let mut b = Builder::new(def.type_name, false);
        b.add(&PropSpec::required("type", PropKind::String), Holds::Value, common::TYPE_DOCS);
        for spec in def.props {
            let holds = match (def.type_name, spec.name) {
                (crate::conditions::catalog::names::MULTIPLE, "conditions") => Holds::ConditionMap,
                (_, "conditions") => Holds::Conditions,
                _ => Holds::Value,
            };
            b.add(spec, holds, &[]);
        }
        conditions.push(b.finish(def.type_name, def.aliases.to_vec(), Kind::Condition, false));
    }
    conditions.sort_by_key(|d| d.type_name);
    out.extend(conditions);
    for def in runners::defs() {
        let mut b = Builder::new(def.type_name, false);
        b.add(&PropSpec::required("type", PropKind::String), Holds::Value, common::TYPE_DOCS);
        for spec in def.props {
            b.add(spec, Holds::Value, &[]);
        }
        out.push(b.finish(def.type_name, def.aliases.to_vec(), Kind::TaskRunner, false));
    }
    out
}

fn dedup(mut v: Vec<&'static str>) -> Vec<&'static str> {
    v.sort();
    v.dedup();
    v
}

/// The type named `name` (current name or alias), if Baton implements it.
pub fn find<'c>(catalog: &'c [Described], name: &str) -> Option<&'c Described> {
    let normalized = crate::validate::type_names::normalize(name);
    catalog.iter().find(|d| d.answers_to(name) || d.type_name == normalized)
}
