//! The words about each type, written for Baton (not copied from
//! Kestra): title, description, a YAML example that validates, outputs,
//! and per property a line, a default, enum values, dynamic or not.
//!
//! Every task plugin, flowable, trigger, condition and task runner type is
//! declared by its properties struct (`#[derive(Declare)]`) and carries its
//! own words (doc comments and `#[plugin]`/`#[prop]` attributes); [`find`]
//! reads them from the declarations.

use std::collections::HashMap;
use std::sync::LazyLock;

use super::{OutDoc, PropDoc, TypeDoc};
use crate::plugins::{Registry, TypeDecl};

/// The words about `type_name` (its current name).
pub fn find(type_name: &str) -> Option<&'static TypeDoc> {
    declared().get(type_name).copied()
}

/// The words of every plugin, flowable, trigger, condition and task runner
/// type, read once from their declarations: the built-in registry, the
/// flowables, the trigger types, the condition catalog and the runners (a
/// fixed set, kept for the process's life).
fn declared() -> &'static HashMap<&'static str, &'static TypeDoc> {
    static DECLARED: LazyLock<HashMap<&'static str, &'static TypeDoc>> = LazyLock::new(|| {
        let plugins = Registry::builtin().plugin_defs().into_iter().map(|d| d.decl).collect::<Vec<_>>();
        let flowables = crate::model::flowable::defs().iter().map(|d| d.decl);
        let triggers = crate::triggers::defs().iter().map(|d| d.decl);
        let runners = super::runners::defs().iter().map(|d| d.decl);
        let conditions = crate::conditions::catalog::defs().iter().map(|d| d.decl);
        plugins
            .into_iter()
            .chain(flowables)
            .chain(triggers)
            .chain(conditions)
            .chain(runners)
            .map(|d| (d.type_name, &*Box::leak(Box::new(type_doc(d)))))
            .collect()
    });
    &DECLARED
}

/// A declaration's words, as the doc tables hold them.
fn type_doc(d: &'static TypeDecl) -> TypeDoc {
    let outputs: &'static [OutDoc] =
        d.outputs.iter().map(|o| OutDoc::new(o.name, o.kind, o.doc)).collect::<Vec<_>>().leak();
    let props: &'static [PropDoc] = d
        .props
        .iter()
        .map(|p| PropDoc { name: p.name, doc: p.doc, default: p.default, values: p.values, dynamic: p.dynamic })
        .collect::<Vec<_>>()
        .leak();
    TypeDoc { type_name: d.type_name, title: d.title, description: d.description, example: d.example, outputs, props }
}

/// The words about property `key` of `type_name`.
pub fn prop_doc(type_name: &str, key: &str) -> Option<&'static PropDoc> {
    find(type_name).and_then(|d| d.prop(key))
}

/// Every type's words (for the tests).
pub fn all() -> impl Iterator<Item = &'static TypeDoc> {
    declared().values().copied()
}
