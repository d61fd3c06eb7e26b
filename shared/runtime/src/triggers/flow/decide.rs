//! The pure decision of a Flow trigger: given an upstream execution's
//! transition, does the trigger react (its `states`, never its own flow),
//! what do its preconditions say (`flows`, `where`), and — given the
//! stored window of a multi-flow precondition — what is the new window and
//! does it fire now. No I/O: the runtime (`runtime::flow_triggers`) loads
//! and compare-and-swaps the [`WindowRecord`] and launches.
//!
//! Exactly once: a window remembers the last [`MAX_SEEN`] upstream
//! transitions it counted (and the round each one fired), so the same
//! transition handled twice changes nothing and re-derives the same
//! downstream id; each firing gets its own round, so ids derived from
//! (window start, round) never repeat.

use std::collections::{BTreeMap, VecDeque};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::spec::{ExecutionFilter, Field, FilterType, FlowTriggerSpec, Operand, Preconditions, UpstreamFlow};
use super::window::{TimeWindow, is_open};
use crate::model::{Label, StateType};

/// How many upstream transitions a window remembers for deduplication (a
/// window counting more distinct upstream transitions forgets the oldest).
pub const MAX_SEEN: usize = 64;

/// The most a window keeps of its upstreams' merged flow outputs, as JSON
/// bytes (a stored window must fit a Firestore document): an upstream
/// whose outputs would grow it past this is counted, its outputs left out.
pub const MAX_WINDOW_OUTPUTS_BYTES: usize = 256 * 1024;

/// What a trigger looks at in the upstream execution.
#[derive(Debug, Clone)]
pub struct Upstream<'a> {
    pub execution_id: &'a str,
    pub namespace: &'a str,
    pub flow_id: &'a str,
    pub state: StateType,
    pub labels: &'a [Label],
    /// Which transition into `state` this is (1 for the first): an
    /// execution restarted and ended again is a new transition.
    pub transition: usize,
}

impl Upstream<'_> {
    /// The deduplication key of this transition.
    pub fn key(&self) -> String {
        if self.transition <= 1 {
            format!("{}:{}", self.execution_id, self.state.as_str())
        } else {
            format!("{}:{}#{}", self.execution_id, self.state.as_str(), self.transition)
        }
    }
}

/// Renders a Pebble template against the upstream execution (the runtime
/// provides it; tests pass a closure).
pub type Render<'r> = &'r mut dyn FnMut(&str) -> Result<String, String>;

/// Whether a trigger of flow `(namespace, flow_id)` reacts to `up` at all:
/// its `states`, and never an execution of its own flow (Kestra's
/// `FlowService.removeUnwanted`: no recursive flow triggers).
pub fn reacts(spec: &FlowTriggerSpec, namespace: &str, flow_id: &str, up: &Upstream<'_>) -> bool {
    !(up.namespace == namespace && up.flow_id == flow_id) && spec.states.contains(&up.state)
}

/// Each precondition's result for `up`, keyed as stored: `flows[i]`, `where[i]:id`.
pub fn precondition_results(
    pre: &Preconditions,
    up: &Upstream<'_>,
    render: Render<'_>,
) -> Result<Vec<(String, bool)>, String> {
    let mut out = Vec::new();
    for (i, f) in pre.flows.iter().enumerate() {
        out.push((format!("flows[{i}]"), upstream_matches(f, up)));
    }
    for (i, w) in pre.where_.iter().enumerate() {
        out.push((format!("where[{i}]:{}", w.id), where_matches(w, up, render)?));
    }
    Ok(out)
}

fn upstream_matches(f: &UpstreamFlow, up: &Upstream<'_>) -> bool {
    if up.namespace != f.namespace || f.flow_id.as_deref().is_some_and(|id| id != up.flow_id) {
        return false;
    }
    if f.states.as_ref().is_some_and(|s| !s.contains(&up.state)) {
        return false;
    }
    f.labels.as_ref().is_none_or(|ls| ls.iter().all(|(k, v)| up.labels.iter().any(|l| &l.key == k && &l.value == v)))
}

fn where_matches(w: &ExecutionFilter, up: &Upstream<'_>, render: Render<'_>) -> Result<bool, String> {
    for f in &w.filters {
        let field = match f.field {
            Field::FlowId => Some(up.flow_id.to_string()),
            Field::Namespace => Some(up.namespace.to_string()),
            Field::State => Some(up.state.as_str().to_string()),
            Field::Expression => Some(render(f.value.as_deref().unwrap_or_default())?),
        };
        let ok = test(f.kind, field.as_deref(), f.value.as_deref(), f.values.as_deref());
        match (w.operand, ok) {
            (Operand::And, false) => return Ok(false),
            (Operand::Or, true) => return Ok(true),
            _ => {}
        }
    }
    Ok(w.operand == Operand::And)
}

/// One filter (Kestra's `FilterCondition.evaluate`).
fn test(kind: FilterType, field: Option<&str>, value: Option<&str>, values: Option<&[String]>) -> bool {
    let v = value.unwrap_or_default();
    let in_values = || field.is_some_and(|f| values.unwrap_or_default().iter().any(|x| x == f));
    match kind {
        FilterType::EqualTo => field == Some(v),
        FilterType::NotEqualTo => field != Some(v),
        FilterType::In => in_values(),
        FilterType::NotIn => !in_values(),
        FilterType::IsTrue => field.is_some_and(crate::executor::truthy),
        FilterType::IsFalse => !field.is_some_and(crate::executor::truthy),
        FilterType::IsNull => field.is_none(),
        FilterType::IsNotNull => field.is_some(),
        FilterType::StartsWith => field.is_some_and(|f| f.starts_with(v)),
        FilterType::EndsWith => field.is_some_and(|f| f.ends_with(v)),
        FilterType::Regex => {
            field.is_some_and(|f| regex::Regex::new(&format!("^(?:{v})$")).map(|re| re.is_match(f)).unwrap_or(false))
        }
        FilterType::Contains => field.is_some_and(|f| f.contains(v)),
    }
}

/// An upstream transition a window counted, and the round it fired (if it did).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    pub upstream: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fired: Option<u64>,
}

/// The stored state of one multi-flow precondition (Kestra's
/// `MultipleConditionWindow`), plus what exactly-once needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowRecord {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// The conditions met so far in this window (only `true` ones are kept).
    pub results: BTreeMap<String, bool>,
    /// How many times this window fired: the next firing's round.
    pub round: u64,
    pub seen: VecDeque<Seen>,
    /// The flow outputs of the upstream executions counted in this window,
    /// deep-merged in the order counted (Kestra's window `outputs`): a
    /// firing's `trigger.outputs`.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub outputs: Map<String, Value>,
}

/// One firing of a window: the downstream id derives from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Firing {
    pub window_start: DateTime<Utc>,
    pub round: u64,
}

/// What evaluating one upstream transition against a window decides.
#[derive(Debug, Clone, PartialEq)]
pub struct Advance {
    /// The window to store (compare-and-swap on the version read); `None`: unchanged.
    pub save: Option<WindowRecord>,
    /// Launch the downstream for this firing (again, if it is a duplicate
    /// of a transition that fired: the launch is idempotent).
    pub fire: Option<Firing>,
    /// The window's merged upstream outputs at this firing (`trigger.outputs`).
    pub outputs: Map<String, Value>,
    /// This upstream's outputs were left out: they would grow the window's
    /// past [`MAX_WINDOW_OUTPUTS_BYTES`].
    pub outputs_dropped: bool,
}

/// When a window fires, and what a firing does to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowRule {
    /// A firing empties the window (results and outputs): 1.x `resetOnSuccess`.
    pub reset_on_success: bool,
    /// How many conditions must be met (`None`: all of them): 2.0's `mode`
    /// `ANY` (1) and `AT_LEAST` (`minSatisfied`).
    pub need: Option<usize>,
    /// Fires at most once per window: 2.0's `window.fireOnce`.
    pub once: bool,
}

impl WindowRule {
    /// 1.x preconditions and `MultipleCondition`: all conditions, `resetOnSuccess`.
    pub fn all(reset_on_success: bool) -> WindowRule {
        WindowRule { reset_on_success, need: None, once: false }
    }
}

/// Applies `results` (this transition's conditions) to the stored window,
/// as Kestra's executor does (`FlowTriggerService`, `MultipleCondition.test`):
/// the stored window if still open at `now`, else a new one; conditions met
/// accumulate; the trigger fires whenever every condition of the window is
/// met — so with `reset_on_success: false` a complete window fires for any
/// later transition that reaches it (one that passed the trigger's `states`
/// and other conditions), met or not, until it expires; with
/// `reset_on_success` a firing empties the window (results and outputs).
/// `upstream_outputs` are merged into the window when the transition counts.
/// With `rule.need`, the window is complete when that many conditions are
/// met; with `rule.once`, a window that fired counts nothing more.
pub fn advance(
    window: &TimeWindow,
    rule: WindowRule,
    results: &[(String, bool)],
    stored: Option<WindowRecord>,
    upstream_key: &str,
    upstream_outputs: Option<&Map<String, Value>>,
    now: DateTime<Utc>,
) -> Advance {
    let nothing = Advance { save: None, fire: None, outputs: Map::new(), outputs_dropped: false };
    let mut rec = match stored.filter(|r| is_open(r.start, r.end, now)) {
        Some(r) => r,
        None => {
            let (start, end) = window.bounds(now);
            WindowRecord { start, end, results: BTreeMap::new(), round: 0, seen: VecDeque::new(), outputs: Map::new() }
        }
    };
    // a window not open now (before a DAILY_TIME_WINDOW's start, after a
    // deadline) is not evaluated
    if !is_open(rec.start, rec.end, now) {
        return nothing;
    }
    if let Some(seen) = rec.seen.iter().find(|s| s.upstream == upstream_key) {
        let fire = seen.fired.map(|round| Firing { window_start: rec.start, round });
        return Advance { fire, outputs: rec.outputs.clone(), ..nothing };
    }
    if rule.once && rec.round > 0 {
        return nothing;
    }
    let met: Vec<&String> = results.iter().filter(|(_, ok)| *ok).map(|(k, _)| k).collect();
    let complete = |rec: &WindowRecord| {
        let n = results.iter().filter(|(k, _)| rec.results.get(k).copied().unwrap_or(false)).count();
        n >= rule.need.unwrap_or(results.len()).min(results.len())
    };
    if met.is_empty() && !complete(&rec) {
        return nothing;
    }
    for k in met {
        rec.results.insert(k.clone(), true);
    }
    let mut outputs_dropped = false;
    if let Some(up) = upstream_outputs.filter(|o| !o.is_empty()) {
        let mut merged = Value::Object(rec.outputs.clone());
        deep_merge(&mut merged, &Value::Object(up.clone()));
        let fits = serde_json::to_vec(&merged).map(|b| b.len() <= MAX_WINDOW_OUTPUTS_BYTES).unwrap_or(false);
        match merged {
            Value::Object(m) if fits => rec.outputs = m,
            _ => outputs_dropped = true,
        }
    }
    let all = complete(&rec);
    let fire = all.then_some(Firing { window_start: rec.start, round: rec.round });
    let outputs = rec.outputs.clone();
    if all {
        rec.round += 1;
        if rule.reset_on_success {
            rec.results.clear();
            rec.outputs.clear();
        }
    }
    rec.seen.push_back(Seen { upstream: upstream_key.to_string(), fired: fire.map(|f| f.round) });
    while rec.seen.len() > MAX_SEEN {
        rec.seen.pop_front();
    }
    Advance { save: Some(rec), fire, outputs, outputs_dropped }
}

/// Merges `from` into `into`: mappings key by key, recursively; any other
/// value of `from` replaces (Kestra's `MapUtils.deepMerge`).
pub fn deep_merge(into: &mut Value, from: &Value) {
    match (into, from) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                match a.get_mut(k) {
                    Some(existing) => deep_merge(existing, v),
                    None => {
                        a.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (slot, v) => *slot = v.clone(),
    }
}

/// The seed of the downstream execution's id: one per (upstream transition,
/// downstream trigger) without preconditions, one per window firing with them.
pub fn execution_seed(
    namespace: &str,
    flow_id: &str,
    trigger_id: &str,
    up: &Upstream<'_>,
    firings: &[(String, Firing)],
) -> String {
    if firings.is_empty() {
        let transition = if up.state.is_terminal() && up.transition <= 1 {
            String::new()
        } else {
            format!(":{}#{}", up.state.as_str(), up.transition)
        };
        return format!("flow-trigger:{}:{namespace}:{flow_id}:{trigger_id}{transition}", up.execution_id);
    }
    let parts: Vec<String> =
        firings.iter().map(|(id, f)| format!("{id}@{}#{}", f.window_start.timestamp_millis(), f.round)).collect();
    format!("flow-trigger-window:{namespace}:{flow_id}:{trigger_id}:{}", parts.join(","))
}

#[cfg(test)]
mod tests;
