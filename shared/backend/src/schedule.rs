//! The schedule state contract ([`TriggerStore`]): the exactly-once tick
//! keys (`ticks/{namespace}.{flow}.{trigger}.{date}` → execution id), each
//! Schedule trigger's state (last and next tick, stopped by `stopAfter`)
//! and backfills (window, inputs, labels, state, progress). SQLite locally,
//! Firestore on GCP; both run `schedule_contract::trigger_store_contract`.

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::Result;
use baton_model::Label;

/// The identity of one tick of one trigger: the exactly-once key of
/// schedules and backfills.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TickKey {
    pub namespace: String,
    pub flow_id: String,
    pub trigger_id: String,
    /// The tick (whole seconds, UTC).
    pub date: DateTime<Utc>,
}

impl TickKey {
    /// `{namespace}.{flow}.{trigger}.{isoDate}`, the document id on Firestore.
    pub fn id(&self) -> String {
        format!(
            "{}.{}.{}.{}",
            self.namespace,
            self.flow_id,
            self.trigger_id,
            self.date.to_rfc3339_opts(SecondsFormat::Secs, true)
        )
    }
}

/// The result of claiming a tick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TickClaim {
    /// The tick was free: it now points at the given execution id.
    Created,
    /// The tick was already claimed, for this execution.
    Existing { execution_id: String },
}

/// The identity of a trigger of a flow.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TriggerKey {
    pub namespace: String,
    pub flow_id: String,
    pub trigger_id: String,
}

/// What the scheduler remembers of a Schedule trigger (Kestra's trigger
/// context: `date` = last tick, `nextExecutionDate`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TriggerState {
    #[serde(flatten)]
    pub key: TriggerKey,
    /// The last tick the scheduler handled (fired or skipped).
    #[serde(default)]
    pub last_tick: Option<DateTime<Utc>>,
    /// The next tick to handle.
    #[serde(default)]
    pub next_tick: Option<DateTime<Utc>>,
    /// The execution of the last fired tick.
    #[serde(default)]
    pub last_execution_id: Option<String>,
    /// Set when `stopAfter` disabled the trigger: why, and the flow source
    /// hash then (the trigger runs again once the flow changes).
    #[serde(default)]
    pub stopped: Option<Stopped>,
    /// The schedule (cron and zone) `next_tick` was computed for: when the
    /// flow changes it, the next tick is computed afresh.
    #[serde(default)]
    pub schedule: Option<String>,
    pub updated: DateTime<Utc>,
}

impl TriggerState {
    /// The state of a trigger never evaluated yet.
    pub fn fresh(key: TriggerKey, now: DateTime<Utc>) -> TriggerState {
        TriggerState {
            key,
            last_tick: None,
            next_tick: None,
            last_execution_id: None,
            stopped: None,
            schedule: None,
            updated: now,
        }
    }
}

/// Why `stopAfter` disabled a trigger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stopped {
    pub reason: String,
    pub flow_hash: String,
}

/// A backfill's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BackfillState {
    Running,
    Paused,
    Cancelled,
    /// Every tick of the window was handled (each execution ended or was skipped).
    Success,
    /// It could not go on (its flow was deleted or disabled, its trigger
    /// renamed or disabled): the reason is in `progress.error`.
    Failed,
}

impl BackfillState {
    pub fn as_str(self) -> &'static str {
        match self {
            BackfillState::Running => "RUNNING",
            BackfillState::Paused => "PAUSED",
            BackfillState::Cancelled => "CANCELLED",
            BackfillState::Success => "SUCCESS",
            BackfillState::Failed => "FAILED",
        }
    }

    pub fn parse(s: &str) -> Option<BackfillState> {
        serde_json::from_value(Value::String(s.to_ascii_uppercase())).ok()
    }

    /// CANCELLED, SUCCESS and FAILED never change again.
    pub fn is_terminal(self) -> bool {
        matches!(self, BackfillState::Cancelled | BackfillState::Success | BackfillState::Failed)
    }
}

impl std::fmt::Display for BackfillState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What became of one tick of a backfill.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackfillTick {
    /// The tick's execution (this backfill's, or the one that already succeeded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_id: Option<String>,
    /// This backfill created the execution.
    #[serde(default)]
    pub launched: bool,
    /// Skipped: an execution of the tick had already succeeded.
    #[serde(default)]
    pub skipped: bool,
    /// The execution's end state, once it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<baton_model::StateType>,
    /// Why the tick could not start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The trigger's condition that was false at this tick (no execution: Kestra's
    /// schedule conditions), e.g. `DayWeekInMonth`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition_false: Option<String>,
}

impl BackfillTick {
    /// Nothing more will happen to this tick.
    pub fn is_done(&self) -> bool {
        self.skipped || self.ended.is_some() || self.error.is_some() || self.condition_false.is_some()
    }
}

/// The counters of the ticks folded out of [`BackfillProgress::ticks`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FoldedTicks {
    pub launched: u64,
    pub skipped: u64,
    #[serde(default)]
    pub conditions_false: u64,
    pub succeeded: u64,
    pub failed: u64,
    /// How many of `execution_ids` (the first ones) are theirs.
    pub ids: u64,
}

impl FoldedTicks {
    fn add(&mut self, t: &BackfillTick) {
        use baton_model::StateType;
        self.launched += u64::from(t.launched);
        self.skipped += u64::from(t.skipped);
        self.conditions_false += u64::from(t.condition_false.is_some());
        match t.ended {
            Some(StateType::Success | StateType::Warning) if !t.skipped => self.succeeded += 1,
            Some(_) if !t.skipped => self.failed += 1,
            _ => self.failed += u64::from(t.error.is_some()),
        }
        self.ids += u64::from(t.execution_id.is_some() && !t.skipped);
    }
}

/// How far a backfill went. Written only by the runner that owns the
/// backfill; the counters are derived from one record per tick, so handling
/// a tick again (a resumed runner) can never count it twice. Records of the
/// ticks up to the cursor (never handled again) are folded into `folded`,
/// so the stored progress stays small however long the window.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackfillProgress {
    /// Every tick up to and including this one is handled.
    #[serde(default)]
    pub cursor: Option<DateTime<Utc>>,
    /// Ticks in the window.
    pub total: u64,
    /// Executions this backfill created.
    pub launched: u64,
    /// Ticks skipped because an execution of them already succeeded.
    pub skipped: u64,
    /// Ticks skipped because the trigger's conditions were false (no execution).
    #[serde(default)]
    pub conditions_false: u64,
    /// Executions (of this backfill's ticks) that ended SUCCESS or WARNING.
    pub succeeded: u64,
    /// Executions that ended otherwise, and ticks that could not start.
    pub failed: u64,
    /// The ids of the executions of the window's ticks, in tick order.
    #[serde(default)]
    pub execution_ids: Vec<String>,
    /// What became of each tick handled after the cursor, or in flight.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub ticks: std::collections::BTreeMap<DateTime<Utc>, BackfillTick>,
    /// The ticks up to the cursor, counted.
    #[serde(default)]
    pub folded: FoldedTicks,
    /// Why the backfill could not go on (it is FAILED).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl BackfillProgress {
    /// Records what became of `tick` and recomputes the counters.
    pub fn record(&mut self, tick: DateTime<Utc>, record: BackfillTick) {
        self.ticks.insert(tick, record);
        self.recount();
    }

    /// Moves the cursor to `cursor` and folds the records up to it.
    pub fn advance(&mut self, cursor: DateTime<Utc>) {
        self.cursor = Some(cursor);
        while let Some(entry) = self.ticks.first_entry().filter(|e| *e.key() <= cursor) {
            self.folded.add(&entry.remove());
        }
        self.recount();
    }

    /// The counters and the execution ids: the folded ones, then the records'.
    pub fn recount(&mut self) {
        let mut all = self.folded.clone();
        self.execution_ids.truncate(self.folded.ids as usize);
        for t in self.ticks.values() {
            all.add(t);
            self.execution_ids.extend(t.execution_id.iter().filter(|_| !t.skipped).cloned());
        }
        (self.launched, self.skipped, self.succeeded, self.failed, self.conditions_false) =
            (all.launched, all.skipped, all.succeeded, all.failed, all.conditions_false);
    }
}

/// A backfill: replay a trigger's ticks between `start` and `end`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Backfill {
    pub id: String,
    pub namespace: String,
    pub flow_id: String,
    pub trigger_id: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Override the trigger's inputs.
    #[serde(default)]
    pub inputs: Map<String, Value>,
    /// Added to each execution's labels.
    #[serde(default)]
    pub labels: Vec<Label>,
    /// Replay ticks that already have a successful execution (Kestra's
    /// behaviour); by default they are skipped.
    #[serde(default)]
    pub rerun_successful: bool,
    pub state: BackfillState,
    #[serde(default)]
    pub progress: BackfillProgress,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
}

impl Backfill {
    pub fn trigger_key(&self) -> TriggerKey {
        TriggerKey {
            namespace: self.namespace.clone(),
            flow_id: self.flow_id.clone(),
            trigger_id: self.trigger_id.clone(),
        }
    }
}

/// Ticks, trigger states and backfills.
#[async_trait]
pub trait TriggerStore: Send + Sync {
    /// Claims `key` for `execution_id` if no one has; otherwise returns the
    /// execution it points at. Atomic: of concurrent claims exactly one
    /// gets [`TickClaim::Created`].
    async fn claim_tick(&self, key: &TickKey, execution_id: &str) -> Result<TickClaim>;
    /// The execution a tick points at.
    async fn tick(&self, key: &TickKey) -> Result<Option<String>>;
    /// Points `key` at `execution_id` if it still points at `expected`
    /// (a backfill re-running a failed tick); false if it changed.
    async fn replace_tick(&self, key: &TickKey, expected: &str, execution_id: &str) -> Result<bool>;

    async fn load_trigger_state(&self, key: &TriggerKey) -> Result<Option<TriggerState>>;
    /// Stores a trigger's state (replacing it).
    async fn save_trigger_state(&self, state: &TriggerState) -> Result<()>;

    /// Stores a new backfill. Fails if the id exists.
    async fn create_backfill(&self, backfill: &Backfill) -> Result<()>;
    async fn load_backfill(&self, id: &str) -> Result<Option<Backfill>>;
    /// Backfills, newest first; only those in `state` when given.
    async fn list_backfills(&self, state: Option<BackfillState>) -> Result<Vec<Backfill>>;
    /// Records progress (the state is left alone).
    async fn save_backfill_progress(&self, id: &str, progress: &BackfillProgress) -> Result<()>;
    /// Moves a backfill to `to` if its state is one of `from`; returns the
    /// backfill as stored afterwards, or `None` if it does not exist.
    async fn transition_backfill(
        &self,
        id: &str,
        from: &[BackfillState],
        to: BackfillState,
    ) -> Result<Option<Backfill>>;
}

impl BackfillTick {
    /// A tick whose execution `id` was created (`launched`: by this run).
    pub fn started(id: &str, launched: bool) -> BackfillTick {
        BackfillTick { execution_id: Some(id.to_string()), launched, ..BackfillTick::default() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_model::StateType;

    fn at(day: u32) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(&format!("2019-01-{day:02}T09:00:00Z")).expect("date").to_utc()
    }

    fn ended(id: &str, state: StateType) -> BackfillTick {
        BackfillTick {
            execution_id: Some(id.into()),
            launched: true,
            skipped: false,
            ended: Some(state),
            error: None,
            condition_false: None,
        }
    }

    #[test]
    fn progress_folds_handled_ticks_and_never_counts_one_twice() {
        let mut p = BackfillProgress { total: 4, ..BackfillProgress::default() };
        p.record(at(1), ended("a", StateType::Success));
        p.record(at(2), BackfillTick { skipped: true, launched: false, ended: None, ..ended("b", StateType::Success) });
        p.record(at(3), ended("c", StateType::Failed));
        p.record(at(3), ended("c", StateType::Failed));
        p.advance(at(2));
        assert_eq!(p.ticks.len(), 1, "only the ticks after the cursor keep their records");
        assert_eq!((p.launched, p.skipped, p.succeeded, p.failed), (2, 1, 1, 1));
        assert_eq!(p.execution_ids, ["a", "c"]);
        p.record(
            at(4),
            BackfillTick {
                execution_id: None,
                error: Some("x".into()),
                launched: false,
                ended: None,
                ..ended("-", StateType::Success)
            },
        );
        p.advance(at(4));
        p.recount();
        assert!(p.ticks.is_empty());
        assert_eq!((p.launched, p.skipped, p.succeeded, p.failed), (2, 1, 1, 2));
        assert_eq!(p.execution_ids, ["a", "c"]);
        let no = BackfillTick { condition_false: Some("DayWeek".into()), ..BackfillTick::default() };
        p.record(at(5), no.clone());
        p.record(at(5), no);
        assert_eq!(
            (p.conditions_false, p.failed, p.execution_ids.len()),
            (1, 2, 2),
            "a false condition is neither an execution nor a failure"
        );
        p.advance(at(5));
        assert_eq!(p.conditions_false, 1, "folded, still counted once");
        let stored: BackfillProgress = serde_json::from_value(serde_json::to_value(&p).expect("json")).expect("back");
        assert_eq!(stored, p, "the progress round-trips as stored");
    }
}
