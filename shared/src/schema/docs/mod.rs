//! The words about each type, written for Baton (not copied from
//! Kestra): title, description, a YAML example that validates, outputs,
//! and per property a line, a default, enum values, dynamic or not. One
//! file per plugin group; [`find`] looks a type up in all of them.

mod conditions;
mod core;
mod flowables;
mod gcp;
mod items;
mod jdbc;
mod namespace;
mod others;
mod purge;
mod runners;
mod scripts;
mod triggers;

use super::{PropDoc, TypeDoc};

/// Every doc table.
fn tables() -> [&'static [TypeDoc]; 12] {
    [
        core::DOCS,
        items::DOCS,
        namespace::DOCS,
        flowables::DOCS,
        scripts::DOCS,
        jdbc::DOCS,
        gcp::DOCS,
        others::DOCS,
        triggers::DOCS,
        conditions::DOCS,
        runners::DOCS,
        purge::DOCS,
    ]
}

/// The words about `type_name` (its current name).
pub fn find(type_name: &str) -> Option<&'static TypeDoc> {
    tables().into_iter().flat_map(|t| t.iter()).find(|d| d.type_name == type_name)
}

/// Words shared by the types of one plugin group (connection, auth,
/// script options), for the properties a type's own doc does not cover.
fn pool(type_name: &str) -> &'static [PropDoc] {
    let prefixes: [(&str, &'static [PropDoc]); 6] = [
        ("io.kestra.plugin.jdbc.", jdbc::POOL),
        ("io.kestra.plugin.gcp.", gcp::POOL),
        ("io.kestra.plugin.scripts.", &scripts::COMMON),
        ("io.kestra.plugin.dbt.", &scripts::COMMON),
        ("io.kestra.plugin.ai.", others::AI_POOL),
        ("io.kestra.plugin.git.", others::GIT_POOL),
    ];
    prefixes.into_iter().find(|(p, _)| type_name.starts_with(p)).map_or(&[], |(_, pool)| pool)
}

/// The words about property `key` of `type_name`: its own doc's, else
/// its plugin group's.
pub fn prop_doc(type_name: &str, key: &str) -> Option<&'static PropDoc> {
    find(type_name).and_then(|d| d.prop(key)).or_else(|| pool(type_name).iter().find(|p| p.name == key))
}

/// Every written doc (for the tests).
pub fn all() -> impl Iterator<Item = &'static TypeDoc> {
    tables().into_iter().flat_map(|t| t.iter())
}
