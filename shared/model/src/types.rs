//! Task type names: Kestra's legacy aliases mapped to the current names
//! (the flowables declare theirs: `crate::flowable`), and which types are
//! flowable (handled by the executor, not a worker).

pub use crate::flowable::{FlowableKind, LOOP_TYPE, LOOP_UNTIL_TYPE};

/// Legacy names (Kestra < 0.17 and plugin moves) → current names.
const ALIASES: &[(&str, &str)] = &[
    ("io.kestra.core.tasks.log.Log", "io.kestra.plugin.core.log.Log"),
    ("io.kestra.core.tasks.debugs.Return", "io.kestra.plugin.core.debug.Return"),
    ("io.kestra.core.tasks.executions.Fail", "io.kestra.plugin.core.execution.Fail"),
    ("io.kestra.core.tasks.executions.Labels", "io.kestra.plugin.core.execution.Labels"),
    ("io.kestra.core.tasks.outputs.OutputValues", "io.kestra.plugin.core.output.OutputValues"),
    ("io.kestra.core.tasks.storages.PurgeExecution", "io.kestra.plugin.core.storage.PurgeCurrentExecutionFiles"),
    ("io.kestra.plugin.core.storage.PurgeExecution", "io.kestra.plugin.core.storage.PurgeCurrentExecutionFiles"),
    (
        "io.kestra.core.tasks.storages.PurgeCurrentExecutionFiles",
        "io.kestra.plugin.core.storage.PurgeCurrentExecutionFiles",
    ),
    ("io.kestra.plugin.fs.http.Download", "io.kestra.plugin.core.http.Download"),
    ("io.kestra.plugin.fs.http.Request", "io.kestra.plugin.core.http.Request"),
    ("io.kestra.core.tasks.kv.Set", "io.kestra.plugin.core.kv.Set"),
    ("io.kestra.core.tasks.kv.Get", "io.kestra.plugin.core.kv.Get"),
    ("io.kestra.core.tasks.kv.Delete", "io.kestra.plugin.core.kv.Delete"),
    ("io.kestra.core.tasks.flows.Sleep", "io.kestra.plugin.core.flow.Sleep"),
    ("io.kestra.core.tasks.scripts.Bash", "io.kestra.plugin.scripts.shell.Commands"),
    ("io.kestra.core.tasks.triggers.Schedule", "io.kestra.plugin.core.trigger.Schedule"),
    ("io.kestra.core.models.triggers.types.Schedule", "io.kestra.plugin.core.trigger.Schedule"),
    ("io.kestra.core.models.triggers.types.Flow", "io.kestra.plugin.core.trigger.Flow"),
    ("io.kestra.core.models.triggers.types.Webhook", "io.kestra.plugin.core.trigger.Webhook"),
];

/// The current Kestra name for `t` (itself if it is not a known alias):
/// the table above, then the flowables' declared aliases.
pub fn normalize(t: &str) -> &str {
    match ALIASES.iter().find(|(old, _)| *old == t) {
        Some((_, new)) => new,
        None => crate::flowable::resolve_alias(t).unwrap_or(t),
    }
}

/// The legacy names that [`normalize`] maps to `current`.
pub fn aliases_of(current: &str) -> impl Iterator<Item = &'static str> + '_ {
    let declared = crate::flowable::find(current).map_or(&[][..], |d| d.decl.aliases);
    ALIASES.iter().filter(move |(_, new)| *new == current).map(|(old, _)| *old).chain(declared.iter().copied())
}

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
    fn legacy_names_map_to_current() {
        assert_eq!(normalize("io.kestra.core.tasks.log.Log"), "io.kestra.plugin.core.log.Log");
        assert_eq!(normalize("io.kestra.plugin.core.log.Log"), "io.kestra.plugin.core.log.Log");
        assert_eq!(flowable_kind(normalize("io.kestra.core.tasks.flows.EachParallel")), Some(FlowableKind::ForEach));
        assert_eq!(flowable_kind("io.kestra.plugin.core.log.Log"), None);
    }
}
