//! Task type names: the flowables' legacy aliases mapped to the current
//! names (each flowable declares its own: `crate::flowable`; tasks and
//! triggers declare theirs with their types, above this crate), and which
//! types are flowable (handled by the executor, not a worker).

pub use crate::flowable::{FlowableKind, LOOP_TYPE, LOOP_UNTIL_TYPE};

/// The current Kestra name for flowable type `t` (itself if it is not a
/// flowable's declared alias). The legacy names of tasks and triggers are
/// declared with those types, above this crate: the loader resolves them
/// through the resolver it is given (`Flow::from_value_with`).
pub fn normalize(t: &str) -> &str {
    crate::flowable::resolve_alias(t).unwrap_or(t)
}

/// The legacy names a flowable declares for `current`.
pub fn aliases_of(current: &str) -> impl Iterator<Item = &'static str> + '_ {
    crate::flowable::find(current).map_or(&[][..], |d| d.decl.aliases).iter().copied()
}

/// Resolves a task or trigger type name as written to its current name,
/// when it is a legacy name some declaration lists (`None` otherwise).
pub type AliasResolver<'a> = &'a dyn Fn(&str) -> Option<&'static str>;

/// The flowable kind of a (normalized) type, if it is flowable.
pub fn flowable_kind(normalized: &str) -> Option<FlowableKind> {
    crate::flowable::find(normalized).map(|d| d.kind)
}

/// Kestra's type name of the Schedule trigger.
pub const SCHEDULE_TYPE: &str = "io.kestra.plugin.core.trigger.Schedule";
/// Kestra's type name of the trigger that fires on a list of dates.
pub const SCHEDULE_ON_DATES_TYPE: &str = "io.kestra.plugin.core.trigger.ScheduleOnDates";

/// Exit's `state` values (Kestra's `ExitState`): `CANCELED` in 1.x,
/// `CANCELLED` in 2.0 (the dialect markers refuse the other dialect's).
pub const EXIT_STATES: &[&str] = &["SUCCESS", "WARNING", "KILLED", "FAILED", "CANCELED", "CANCELLED"];

/// The keys by which a WorkingDirectory and the executor talk: the
/// directory's description in its children's context, and the output its
/// last child hands the directory's output files under.
pub mod working_dir {
    /// The task-context key under which the executor describes the enclosing
    /// WorkingDirectory to its direct children.
    pub const CONTEXT_KEY: &str = "workingDirectory";
    /// The output key the last child hands its WorkingDirectory's output files
    /// under (moved by the executor to the WorkingDirectory's `outputFiles`).
    pub const OUTPUT_KEY: &str = "__workingDirectoryOutputFiles";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_flowable_names_map_to_current() {
        // a task's legacy name is its declaration's business, not this crate's
        assert_eq!(normalize("io.kestra.core.tasks.log.Log"), "io.kestra.core.tasks.log.Log");
        assert_eq!(normalize("io.kestra.plugin.core.log.Log"), "io.kestra.plugin.core.log.Log");
        assert_eq!(flowable_kind(normalize("io.kestra.core.tasks.flows.EachParallel")), Some(FlowableKind::ForEach));
        assert_eq!(flowable_kind("io.kestra.plugin.core.log.Log"), None);
    }
}
