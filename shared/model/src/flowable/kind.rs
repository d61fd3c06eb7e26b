//! The closed set of flowable kinds the executor dispatches on, and the
//! type names Kestra 2.0 and 0.23 gave two of them.

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
    /// The keys of a flowable that hold child tasks (not properties): the
    /// child lists its declaration names (a test holds the two together).
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
