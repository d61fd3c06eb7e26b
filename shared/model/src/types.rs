//! Task type names: Kestra's legacy aliases mapped to the current names, and
//! which types are flowable (handled by the executor, not a worker).

/// Flowable task kinds, interpreted by the pure executor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowableKind {
    Sequential,
    Parallel,
    If,
    Switch,
    /// `ForEach`, the legacy `EachSequential` / `EachParallel`, and 2.0's `Loop`.
    ForEach,
    /// Runs its children in order; treated as Sequential by the executor.
    WorkingDirectory,
    /// `core.flow.Subflow` (and the legacy `core.flow.Flow`).
    Subflow,
    /// `core.flow.Pause`: pauses the execution until resumed or its
    /// duration elapses; older flows give it child `tasks`.
    Pause,
    /// `core.flow.AllowFailure`: a Sequential whose failure ends it WARNING.
    AllowFailure,
    /// `core.flow.WaitFor`: runs its tasks again until `condition` holds.
    WaitFor,
    /// `core.flow.Dag`: its tasks run once their `dependsOn` are done.
    Dag,
    /// `core.execution.Exit`: ends the execution in the state it names
    /// (run by the executor, as Kestra's `ExecutionUpdatableTask`).
    Exit,
    /// `core.flow.ForEachItem`: its internal split, items and merge tasks
    /// (`model::for_each_item`).
    ForEachItem,
}

impl FlowableKind {
    /// The keys of a flowable that hold child tasks (not properties).
    pub fn child_keys(kind: Option<FlowableKind>) -> &'static [&'static str] {
        match kind {
            Some(FlowableKind::If) => &["then", "else"],
            Some(FlowableKind::Switch) => &["cases", "defaults"],
            Some(
                FlowableKind::Sequential
                | FlowableKind::Parallel
                | FlowableKind::ForEach
                | FlowableKind::WorkingDirectory
                | FlowableKind::Pause
                | FlowableKind::AllowFailure
                | FlowableKind::WaitFor
                | FlowableKind::Dag,
            ) => &["tasks"],
            Some(FlowableKind::Subflow | FlowableKind::Exit | FlowableKind::ForEachItem) | None => &[],
        }
    }
}

/// Kestra 2.0's `Loop`: run by the ForEach machinery, with its children
/// reading `item.value`, `item.index` and `item.key` (`executor::context`).
pub const LOOP_TYPE: &str = "io.kestra.plugin.core.flow.Loop";
/// Kestra ≥ 0.23's name of WaitFor, with other `checkFrequency` defaults.
pub const LOOP_UNTIL_TYPE: &str = "io.kestra.plugin.core.flow.LoopUntil";

/// Legacy names (Kestra < 0.17 and plugin moves) → current names.
const ALIASES: &[(&str, &str)] = &[
    ("io.kestra.core.tasks.log.Log", "io.kestra.plugin.core.log.Log"),
    ("io.kestra.core.tasks.debugs.Return", "io.kestra.plugin.core.debug.Return"),
    ("io.kestra.core.tasks.executions.Fail", "io.kestra.plugin.core.execution.Fail"),
    ("io.kestra.core.tasks.executions.Labels", "io.kestra.plugin.core.execution.Labels"),
    ("io.kestra.core.tasks.flows.Sequential", "io.kestra.plugin.core.flow.Sequential"),
    ("io.kestra.core.tasks.flows.Parallel", "io.kestra.plugin.core.flow.Parallel"),
    ("io.kestra.core.tasks.flows.If", "io.kestra.plugin.core.flow.If"),
    ("io.kestra.core.tasks.flows.Switch", "io.kestra.plugin.core.flow.Switch"),
    ("io.kestra.core.tasks.flows.ForEach", "io.kestra.plugin.core.flow.ForEach"),
    ("io.kestra.core.tasks.flows.EachSequential", "io.kestra.plugin.core.flow.EachSequential"),
    ("io.kestra.core.tasks.flows.EachParallel", "io.kestra.plugin.core.flow.EachParallel"),
    ("io.kestra.core.tasks.flows.Flow", "io.kestra.plugin.core.flow.Subflow"),
    ("io.kestra.core.tasks.flows.Subflow", "io.kestra.plugin.core.flow.Subflow"),
    ("io.kestra.plugin.core.flow.Flow", "io.kestra.plugin.core.flow.Subflow"),
    ("io.kestra.core.tasks.flows.WorkingDirectory", "io.kestra.plugin.core.flow.WorkingDirectory"),
    ("io.kestra.core.tasks.flows.Pause", "io.kestra.plugin.core.flow.Pause"),
    ("io.kestra.core.tasks.flows.AllowFailure", "io.kestra.plugin.core.flow.AllowFailure"),
    ("io.kestra.core.tasks.flows.Dag", "io.kestra.plugin.core.flow.Dag"),
    ("io.kestra.core.tasks.flows.ForEachItem", "io.kestra.plugin.core.flow.ForEachItem"),
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

/// The current Kestra name for `t` (itself if it is not a known alias).
pub fn normalize(t: &str) -> &str {
    ALIASES.iter().find(|(old, _)| *old == t).map(|(_, new)| *new).unwrap_or(t)
}

/// The legacy names that [`normalize`] maps to `current`.
pub fn aliases_of(current: &str) -> impl Iterator<Item = &'static str> + '_ {
    ALIASES.iter().filter(move |(_, new)| *new == current).map(|(old, _)| *old)
}

/// The flowable kind of a (normalized) type, if it is flowable.
pub fn flowable_kind(normalized: &str) -> Option<FlowableKind> {
    Some(match normalized {
        "io.kestra.plugin.core.flow.Sequential" => FlowableKind::Sequential,
        "io.kestra.plugin.core.flow.Parallel" => FlowableKind::Parallel,
        "io.kestra.plugin.core.flow.If" => FlowableKind::If,
        "io.kestra.plugin.core.flow.Switch" => FlowableKind::Switch,
        "io.kestra.plugin.core.flow.ForEach"
        | "io.kestra.plugin.core.flow.EachSequential"
        | "io.kestra.plugin.core.flow.EachParallel"
        | LOOP_TYPE => FlowableKind::ForEach,
        "io.kestra.plugin.core.flow.WorkingDirectory" => FlowableKind::WorkingDirectory,
        "io.kestra.plugin.core.flow.Subflow" => FlowableKind::Subflow,
        "io.kestra.plugin.core.flow.Pause" => FlowableKind::Pause,
        "io.kestra.plugin.core.flow.AllowFailure" => FlowableKind::AllowFailure,
        "io.kestra.plugin.core.flow.WaitFor" | LOOP_UNTIL_TYPE => FlowableKind::WaitFor,
        "io.kestra.plugin.core.flow.Dag" => FlowableKind::Dag,
        "io.kestra.plugin.core.execution.Exit" => FlowableKind::Exit,
        "io.kestra.plugin.core.flow.ForEachItem" => FlowableKind::ForEachItem,
        _ => return None,
    })
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
