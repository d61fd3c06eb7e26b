//! The words about each type, written for Baton (not copied from
//! Kestra): title, description, a YAML example that validates, outputs,
//! and per property a line, a default, enum values, dynamic or not.
//!
//! Every task plugin, trigger and condition type is declared by its
//! properties struct (`#[derive(Declare)]`) and carries its own words (doc
//! comments and `#[plugin]`/`#[prop]` attributes); the tables here hold the
//! words of the types not declared that way yet — flowables and task
//! runners — one file per kind. [`find`] looks a type up in both.

mod flowables;
mod runners;

use std::collections::HashMap;
use std::sync::LazyLock;

use super::{OutDoc, PropDoc, TypeDoc};
use crate::plugins::{Registry, TypeDecl};

/// Every doc table.
fn tables() -> [&'static [TypeDoc]; 2] {
    [flowables::DOCS, runners::DOCS]
}

/// The words about `type_name` (its current name).
pub fn find(type_name: &str) -> Option<&'static TypeDoc> {
    declared()
        .get(type_name)
        .copied()
        .or_else(|| tables().into_iter().flat_map(|t| t.iter()).find(|d| d.type_name == type_name))
}

/// The words of every plugin, trigger and condition type declared by its
/// properties struct, read once from the built-in registry, the trigger
/// types and the condition catalog (a fixed set, kept for the process's
/// life).
fn declared() -> &'static HashMap<&'static str, &'static TypeDoc> {
    static DECLARED: LazyLock<HashMap<&'static str, &'static TypeDoc>> = LazyLock::new(|| {
        let plugins = Registry::builtin().plugin_defs().into_iter().map(|d| d.decl).collect::<Vec<_>>();
        let triggers = crate::triggers::defs().iter().map(|d| d.decl);
        let conditions = crate::conditions::catalog::defs().iter().map(|d| d.decl);
        plugins
            .into_iter()
            .chain(triggers)
            .chain(conditions)
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

/// Every written doc, declared ones included (for the tests).
pub fn all() -> impl Iterator<Item = &'static TypeDoc> {
    tables().into_iter().flat_map(|t| t.iter()).chain(declared().values().copied())
}
