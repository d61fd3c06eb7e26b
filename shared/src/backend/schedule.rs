//! The schedule state contract ([`TriggerStore`]): the exactly-once tick
//! keys (`ticks/{namespace}.{flow}.{trigger}.{date}` → execution id), each
//! Schedule trigger's state (last and next tick, stopped by `stopAfter`)
//! and backfills (window, inputs, labels, state, progress). SQLite locally,
//! Firestore on GCP; both run [`trigger_store_contract`].

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::Result;
use crate::model::Label;

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
    pub ended: Option<crate::model::StateType>,
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
        use crate::model::StateType;
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

// ------------------------------------------------------------ contract ---

/// The [`TriggerStore`] contract: exactly-once tick claims (also under
/// concurrent claims), compare-and-swap replacement, trigger state, and
/// backfills with state transitions that never clobber progress.
///
/// # Panics
/// When the store breaks the contract.
pub async fn trigger_store_contract(store: &dyn TriggerStore) {
    use chrono::TimeDelta;

    let run = uuid::Uuid::new_v4().simple().to_string()[..12].to_string();
    let ns = format!("contract.t{run}");
    let now = DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap_or_default();
    let key = |trigger: &str, date: DateTime<Utc>| TickKey {
        namespace: ns.clone(),
        flow_id: "flow".into(),
        trigger_id: trigger.into(),
        date,
    };

    // ticks
    let k = key("daily", now);
    assert_eq!(store.tick(&k).await.expect("tick"), None);
    assert_eq!(store.claim_tick(&k, "e1").await.expect("claim"), TickClaim::Created);
    let existing = TickClaim::Existing { execution_id: "e1".into() };
    assert_eq!(store.claim_tick(&k, "e2").await.expect("claim"), existing, "a duplicate tick");
    assert_eq!(store.claim_tick(&k, "e1").await.expect("claim"), existing, "the same claim again");
    assert_eq!(store.tick(&k).await.expect("tick"), Some("e1".into()));
    let other_date = key("daily", now + TimeDelta::days(1));
    let other_trigger = key("hourly", now);
    assert_eq!(store.claim_tick(&other_date, "e3").await.expect("claim"), TickClaim::Created, "dates are keys");
    assert_eq!(store.claim_tick(&other_trigger, "e4").await.expect("claim"), TickClaim::Created, "triggers too");
    assert_eq!(k.id(), format!("{ns}.flow.daily.{}", now.to_rfc3339_opts(SecondsFormat::Secs, true)));

    assert!(!store.replace_tick(&k, "e9", "e5").await.expect("replace"), "a stale replace changes nothing");
    assert_eq!(store.tick(&k).await.expect("tick"), Some("e1".into()));
    assert!(store.replace_tick(&k, "e1", "e5").await.expect("replace"));
    assert_eq!(store.claim_tick(&k, "e6").await.expect("claim"), TickClaim::Existing { execution_id: "e5".into() });
    assert!(!store.replace_tick(&key("absent", now), "e1", "e2").await.expect("replace"), "no tick, no replace");

    // concurrent claims of one tick: exactly one wins, all agree on the winner
    let contested = key("contested", now);
    let claims = futures::future::join_all((0..16).map(|i| {
        let contested = contested.clone();
        async move { (i, store.claim_tick(&contested, &format!("c{i}")).await.expect("claim")) }
    }))
    .await;
    let winners: Vec<usize> = claims.iter().filter(|(_, c)| *c == TickClaim::Created).map(|(i, _)| *i).collect();
    assert_eq!(winners.len(), 1, "exactly one concurrent claim creates the tick");
    let winner = format!("c{}", winners[0]);
    for (_, c) in &claims {
        if let TickClaim::Existing { execution_id } = c {
            assert_eq!(*execution_id, winner);
        }
    }

    // trigger state
    let tk = TriggerKey { namespace: ns.clone(), flow_id: "flow".into(), trigger_id: "daily".into() };
    assert_eq!(store.load_trigger_state(&tk).await.expect("load"), None);
    let mut st = TriggerState {
        key: tk.clone(),
        last_tick: None,
        next_tick: Some(now),
        last_execution_id: None,
        stopped: None,
        schedule: Some("0 9 * * * UTC".into()),
        updated: now,
    };
    store.save_trigger_state(&st).await.expect("save");
    assert_eq!(store.load_trigger_state(&tk).await.expect("load"), Some(st.clone()));
    st.last_tick = Some(now);
    st.next_tick = Some(now + TimeDelta::days(1));
    st.last_execution_id = Some("e1".into());
    st.stopped = Some(Stopped { reason: "execution e1 ended FAILED".into(), flow_hash: "abc".into() });
    store.save_trigger_state(&st).await.expect("save again");
    assert_eq!(store.load_trigger_state(&tk).await.expect("load"), Some(st.clone()), "a save replaces");
    let other = TriggerKey { trigger_id: "hourly".into(), ..tk.clone() };
    assert_eq!(store.load_trigger_state(&other).await.expect("load"), None);

    // backfills
    let backfill = |id: &str, created: DateTime<Utc>| Backfill {
        id: id.to_string(),
        namespace: ns.clone(),
        flow_id: "flow".into(),
        trigger_id: "daily".into(),
        start: now - TimeDelta::days(30),
        end: now,
        inputs: Map::from_iter([("taxi".to_string(), Value::String("yellow".into()))]),
        labels: vec![Label { key: "backfill".into(), value: "true".into() }],
        rerun_successful: false,
        state: BackfillState::Running,
        progress: BackfillProgress { total: 30, ..BackfillProgress::default() },
        created,
        updated: created,
    };
    let (a_id, b_id) = (format!("{run}-a"), format!("{run}-b"));
    let a = backfill(&a_id, now - TimeDelta::minutes(2));
    let b = backfill(&b_id, now - TimeDelta::minutes(1));
    store.create_backfill(&a).await.expect("create");
    store.create_backfill(&b).await.expect("create");
    assert!(store.create_backfill(&a).await.is_err(), "creating an existing backfill id must fail");
    assert_eq!(store.load_backfill(&a_id).await.expect("load"), Some(a.clone()));
    assert_eq!(store.load_backfill("absent-backfill").await.expect("load"), None);
    let ours =
        |list: Vec<Backfill>| -> Vec<String> { list.into_iter().filter(|x| x.namespace == ns).map(|x| x.id).collect() };
    assert_eq!(ours(store.list_backfills(None).await.expect("list")), [b_id.clone(), a_id.clone()], "newest first");

    let progress = BackfillProgress {
        cursor: Some(now - TimeDelta::days(20)),
        total: 30,
        launched: 9,
        skipped: 1,
        conditions_false: 0,
        succeeded: 8,
        failed: 1,
        execution_ids: vec!["x1".into(), "x2".into()],
        ticks: std::collections::BTreeMap::from([(
            now - TimeDelta::days(20),
            BackfillTick {
                execution_id: Some("x2".into()),
                launched: true,
                skipped: false,
                ended: Some(crate::model::StateType::Failed),
                error: None,
                condition_false: None,
            },
        )]),
        folded: FoldedTicks::default(),
        error: None,
    };
    store.save_backfill_progress(&a_id, &progress).await.expect("progress");
    let paused = store
        .transition_backfill(&a_id, &[BackfillState::Running], BackfillState::Paused)
        .await
        .expect("pause")
        .expect("exists");
    assert_eq!(paused.state, BackfillState::Paused);
    assert_eq!(paused.progress, progress, "a state change keeps the progress");
    let again = store
        .transition_backfill(&a_id, &[BackfillState::Running], BackfillState::Success)
        .await
        .expect("transition")
        .expect("exists");
    assert_eq!(again.state, BackfillState::Paused, "a transition from another state changes nothing");
    store.save_backfill_progress(&a_id, &BackfillProgress { launched: 10, ..progress.clone() }).await.expect("p");
    let loaded = store.load_backfill(&a_id).await.expect("load").expect("exists");
    assert_eq!((loaded.state, loaded.progress.launched), (BackfillState::Paused, 10), "progress keeps the state");
    assert!(loaded.updated >= a.updated);
    assert_eq!(
        store
            .transition_backfill("absent-backfill", &[BackfillState::Running], BackfillState::Paused)
            .await
            .expect("t"),
        None
    );
    let paused_only = ours(store.list_backfills(Some(BackfillState::Paused)).await.expect("list"));
    assert_eq!(paused_only, std::slice::from_ref(&a_id));
    let running_only = ours(store.list_backfills(Some(BackfillState::Running)).await.expect("list"));
    assert_eq!(running_only, std::slice::from_ref(&b_id));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::StateType;

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
