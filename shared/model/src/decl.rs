//! A type's declaration: everything Baton knows about a task, trigger or
//! condition type — its Kestra name and aliases, the worker group that runs
//! it, its words (title, description, example), its outputs and each of
//! its properties (kind, required, default, enum values, rendered or not,
//! and the line of docs). One declaration per type, derived from its
//! typed properties struct by `#[derive(Declare)]` (`baton-derive`), so the
//! parser (serde), the validator, the JSON Schema, the docs and the
//! editor's completion read the same thing.

use crate::props::{PropKind, PropSpec};

/// A type's own check of a written property value: `Err` says why not.
pub type ValueCheck = fn(&serde_json::Value) -> Result<(), String>;

/// One property as its type declares it.
#[derive(Debug, Clone, Copy)]
pub struct PropDecl {
    /// Kestra's name (the serde name).
    pub name: &'static str,
    pub kind: PropKind,
    /// Required unless the field is an `Option` or has a serde default.
    pub required: bool,
    /// One line for humans: the field's doc comment.
    pub doc: &'static str,
    /// The default, as a JSON literal (`"INFO"`, `true`, `10`).
    pub default: Option<&'static str>,
    /// The values it may take (checked by the validator, case-insensitively,
    /// on a written value that is not a template).
    pub values: &'static [&'static str],
    /// Whether it is rendered as a template (`None`: the kind's usual).
    pub dynamic: Option<bool>,
    /// Kept as written when the task's properties are rendered: the task
    /// renders it itself, once per item (Kestra's non-dynamic per-item
    /// expressions).
    pub unrendered: bool,
    /// The type's own check of a written value (not a template), beyond
    /// its kind and values, run by `baton validate` (e.g. a PurgeKV
    /// `behavior` of type `version`, which Baton refuses).
    pub check: Option<ValueCheck>,
    /// A list of child tasks (a flowable's `tasks`, `then`, `else`,
    /// `cases`, `defaults`), parsed by the flow loader into the task's
    /// children rather than kept as a property.
    pub children: bool,
}

impl PropDecl {
    /// What validation checks of the property.
    pub fn spec(&self) -> PropSpec {
        PropSpec { name: self.name, kind: self.kind, required: self.required }
    }
}

/// One output of a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutDecl {
    pub name: &'static str,
    pub kind: PropKind,
    pub doc: &'static str,
}

/// Everything about one type.
#[derive(Debug, Clone)]
pub struct TypeDecl {
    /// The current Kestra type name.
    pub type_name: &'static str,
    /// Other names that resolve to it (legacy names, plugin moves).
    pub aliases: &'static [&'static str],
    /// The worker group (and tasks topic) that runs it; empty for types no
    /// worker runs (triggers, conditions).
    pub group: &'static str,
    /// One line (the first paragraph of the struct's doc comment).
    pub title: &'static str,
    /// What it does in Baton (the rest of the doc comment).
    pub description: &'static str,
    /// A short YAML example as it sits in a flow, which must validate.
    pub example: &'static str,
    pub outputs: Vec<OutDecl>,
    pub props: Vec<PropDecl>,
}

impl TypeDecl {
    /// The property named `name`.
    pub fn prop(&self, name: &str) -> Option<&PropDecl> {
        self.props.iter().find(|p| p.name == name)
    }

    /// The properties kept as written until the task renders them.
    pub fn unrendered(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.props.iter().filter(|p| p.unrendered).map(|p| p.name)
    }

    /// The properties that hold child tasks.
    pub fn child_lists(&self) -> impl Iterator<Item = &PropDecl> + '_ {
        self.props.iter().filter(|p| p.children)
    }
}

/// A struct of properties (a type's, or a group of properties several
/// types share through `#[serde(flatten)]`).
pub trait DeclaredProps {
    /// Its properties, flattened ones included, in field order.
    fn props() -> Vec<PropDecl>;
}

/// A type's properties struct, which declares the whole type.
pub trait Declared: DeclaredProps {
    fn declaration() -> TypeDecl;
}

/// `D`'s declaration and the specs of its properties, kept for the life of
/// the process: what a type's definition (a plugin's, a trigger's, a
/// condition's) holds. Call it once per type (a `LazyLock` static).
pub fn leak_declaration<D: Declared>() -> (&'static TypeDecl, &'static [PropSpec]) {
    let decl: &'static TypeDecl = Box::leak(Box::new(D::declaration()));
    let props: &'static [PropSpec] = decl.props.iter().map(PropDecl::spec).collect::<Vec<_>>().leak();
    (decl, props)
}
