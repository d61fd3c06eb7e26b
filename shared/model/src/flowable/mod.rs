//! The flowable task types — run by the pure executor, not a worker — each
//! declared once, in its own file, by its typed properties struct
//! (`#[derive(Declare)]`): its Kestra name and aliases, its words and
//! example, its outputs, its properties and its child task lists. The flow
//! loader parses a flowable's properties once into [`Flowable`], which the
//! executor reads (`baton-executor`'s `blocks`: one step rule per kind,
//! behind its closed dispatch on [`FlowableKind`]); the validator, the
//! JSON Schema, the docs and the editor read [`defs`].
//!
//! Adding a flowable: its file here (the struct), one line in [`defs`],
//! one variant of [`Flowable`] and [`FlowableKind`], and its step rule.

mod allow_failure;
mod dag;
mod exit;
mod for_each;
mod for_each_item;
mod if_;
mod kind;
pub mod lenient;
mod loop_;
mod parallel;
mod pause;
mod sequential;
mod subflow;
mod switch;
mod wait_for;
mod working_directory;

use std::sync::LazyLock;

use serde::Deserialize;
use serde_json::{Map, Value};

pub use allow_failure::AllowFailure;
pub use dag::Dag;
pub use exit::Exit;
pub use for_each::{EachParallel, EachSequential, ForEach};
pub use for_each_item::ForEachItem;
pub use if_::If;
pub use kind::{FlowableKind, LOOP_TYPE, LOOP_UNTIL_TYPE};
pub use lenient::truthy;
pub use loop_::Loop;
pub use parallel::Parallel;
pub use pause::Pause;
pub use sequential::Sequential;
pub use subflow::{Subflow, SubflowTarget};
pub use switch::Switch;
pub use wait_for::{LoopUntil, WaitFor};
pub use working_directory::WorkingDirectory;

use crate::decl::{Declared, PropDecl, TypeDecl, leak_declaration};
use crate::props::PropSpec;

/// A list of child tasks in a flowable's declaration: the flow loader
/// parses it into the task's children (`flow::Children`), so it holds
/// nothing here.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChildTasks;

/// A flowable's properties, parsed once when the flow is loaded.
#[derive(Debug, Clone, PartialEq)]
pub enum Flowable {
    Sequential,
    Parallel(Parallel),
    If(If),
    Switch(Switch),
    ForEach(ForEach),
    /// Kestra's older ForEach, one iteration at a time.
    EachSequential(ForEach),
    /// Kestra's older ForEach, `concurrent` iterations at once.
    EachParallel(ForEach),
    Loop(Loop),
    WorkingDirectory(WorkingDirectory),
    Subflow(Subflow),
    Pause(Pause),
    AllowFailure,
    WaitFor(WaitFor),
    /// WaitFor with LoopUntil's `checkFrequency` defaults.
    LoopUntil(WaitFor),
    Dag(Dag),
    Exit(Exit),
    ForEachItem(ForEachItem),
}

impl Flowable {
    /// The kind the executor dispatches on.
    pub fn kind(&self) -> FlowableKind {
        match self {
            Flowable::Sequential => FlowableKind::Sequential,
            Flowable::Parallel(_) => FlowableKind::Parallel,
            Flowable::If(_) => FlowableKind::If,
            Flowable::Switch(_) => FlowableKind::Switch,
            Flowable::ForEach(_) | Flowable::EachSequential(_) | Flowable::EachParallel(_) | Flowable::Loop(_) => {
                FlowableKind::ForEach
            }
            Flowable::WorkingDirectory(_) => FlowableKind::WorkingDirectory,
            Flowable::Subflow(_) => FlowableKind::Subflow,
            Flowable::Pause(_) => FlowableKind::Pause,
            Flowable::AllowFailure => FlowableKind::AllowFailure,
            Flowable::WaitFor(_) | Flowable::LoopUntil(_) => FlowableKind::WaitFor,
            Flowable::Dag(_) => FlowableKind::Dag,
            Flowable::Exit(_) => FlowableKind::Exit,
            Flowable::ForEachItem(_) => FlowableKind::ForEachItem,
        }
    }

    /// How many iterations or children of a concurrent block run at once
    /// (0: all): Parallel's and Dag's `concurrent`, ForEach's
    /// `concurrencyLimit` (default 1), EachParallel's `concurrent`,
    /// EachSequential one, Loop's `concurrencyLimit` (default 0).
    pub fn concurrency(&self) -> usize {
        match self {
            Flowable::Parallel(Parallel { concurrent, .. }) | Flowable::Dag(Dag { concurrent, .. }) => {
                concurrent.unwrap_or(0)
            }
            Flowable::EachParallel(f) => f.concurrent.unwrap_or(0),
            Flowable::EachSequential(_) => 1,
            Flowable::Loop(l) => l.concurrency_limit.unwrap_or(0),
            Flowable::ForEach(f) => f.concurrency_limit.unwrap_or(1),
            _ => 0,
        }
    }
}

/// One flowable type, as the validator and the catalog read it.
pub struct Def {
    pub kind: FlowableKind,
    /// Its whole declaration, child lists included.
    pub decl: &'static TypeDecl,
    /// Its own properties (not its child lists), as validation checks them.
    pub props: &'static [PropSpec],
    /// Each entry: one of these keys must be given (a required property,
    /// or alternatives such as ForEach's `values` / `value`).
    pub required_any: &'static [&'static [&'static str]],
    /// A legacy type Kestra keeps for old flows.
    pub deprecated: bool,
    parse: fn(&Value) -> Flowable,
}

impl Def {
    /// The declaration of the property `key` (not a child list).
    pub fn prop(&self, key: &str) -> Option<&'static PropSpec> {
        self.props.iter().find(|p| p.name == key)
    }
}

/// `T` from the written properties; the fields are lenient
/// ([`lenient`]), so only a flow that is not an object of properties at
/// all reads as the defaults (which the validator refuses first).
fn read<T: for<'de> Deserialize<'de> + Default>(props: &Value) -> T {
    T::deserialize(props).unwrap_or_default()
}

fn def<D: Declared>(kind: FlowableKind, parse: fn(&Value) -> Flowable) -> Def {
    def_with::<D>(kind, parse, &[], false)
}

fn def_with<D: Declared>(
    kind: FlowableKind,
    parse: fn(&Value) -> Flowable,
    one_of: &'static [&'static str],
    deprecated: bool,
) -> Def {
    let (decl, _) = leak_declaration::<D>();
    let own = || decl.props.iter().filter(|p| !p.children);
    let props: &'static [PropSpec] = own().map(PropDecl::spec).collect::<Vec<_>>().leak();
    let mut required: Vec<&'static [&'static str]> =
        own().filter(|p| p.required).map(|p| &*vec![p.name].leak()).collect();
    if !one_of.is_empty() {
        required.push(one_of);
    }
    Def { kind, decl, props, required_any: required.leak(), deprecated, parse }
}

/// Every flowable type, one line each.
pub fn defs() -> &'static [Def] {
    use FlowableKind as K;
    static DEFS: LazyLock<Vec<Def>> = LazyLock::new(|| {
        const VALUES: &[&str] = &["values", "value"];
        vec![
            def::<Sequential>(K::Sequential, |_| Flowable::Sequential),
            def::<Parallel>(K::Parallel, |p| Flowable::Parallel(read(p))),
            def::<If>(K::If, |p| Flowable::If(read(p))),
            def::<Switch>(K::Switch, |p| Flowable::Switch(read(p))),
            def_with::<ForEach>(K::ForEach, |p| Flowable::ForEach(read(p)), VALUES, false),
            def_with::<EachSequential>(K::ForEach, |p| Flowable::EachSequential(read(p)), VALUES, true),
            def_with::<EachParallel>(K::ForEach, |p| Flowable::EachParallel(read(p)), VALUES, true),
            def::<Loop>(K::ForEach, |p| Flowable::Loop(read(p))),
            def::<WorkingDirectory>(K::WorkingDirectory, |p| Flowable::WorkingDirectory(read(p))),
            def::<Subflow>(K::Subflow, |p| Flowable::Subflow(read(p))),
            def::<Pause>(K::Pause, |p| Flowable::Pause(read(p))),
            def::<AllowFailure>(K::AllowFailure, |_| Flowable::AllowFailure),
            def::<WaitFor>(K::WaitFor, |p| Flowable::WaitFor(read(p))),
            def::<LoopUntil>(K::WaitFor, |p| Flowable::LoopUntil(read::<LoopUntil>(p).into())),
            def::<Dag>(K::Dag, |p| Flowable::Dag(read(p))),
            def::<Exit>(K::Exit, |p| Flowable::Exit(read(p))),
            def::<ForEachItem>(K::ForEachItem, |p| Flowable::ForEachItem(read(p))),
        ]
    });
    &DEFS
}

/// The flowable type named `type_name` (a current name: normalize first).
pub fn find(type_name: &str) -> Option<&'static Def> {
    defs().iter().find(|d| d.decl.type_name == type_name)
}

/// The current name of a flowable's legacy name.
pub fn resolve_alias(name: &str) -> Option<&'static str> {
    defs().iter().find(|d| d.decl.aliases.contains(&name)).map(|d| d.decl.type_name)
}

/// The flowable a task of type `type_name` (a current name) is, its
/// properties `props` parsed; `None` for a type no executor rule runs.
pub fn parse(type_name: &str, props: &Map<String, Value>) -> Option<Flowable> {
    let def = find(type_name)?;
    Some((def.parse)(&Value::Object(props.clone())))
}

#[cfg(test)]
mod tests;
