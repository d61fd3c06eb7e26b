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

use super::spec::{ExecutionFilter, Field, FilterType, FlowTriggerSpec, Operand, Preconditions, UpstreamFlow};
use super::window::{TimeWindow, is_open};
use crate::model::{Label, StateType};

/// How many upstream transitions a window remembers for deduplication (a
/// window counting more distinct upstream transitions forgets the oldest).
pub const MAX_SEEN: usize = 64;

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
}

/// One firing of a window: the downstream id derives from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Firing {
    pub window_start: DateTime<Utc>,
    pub round: u64,
}

/// What evaluating one upstream transition against a window decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advance {
    /// The window to store (compare-and-swap on the version read); `None`: unchanged.
    pub save: Option<WindowRecord>,
    /// Launch the downstream for this firing (again, if it is a duplicate
    /// of a transition that fired: the launch is idempotent).
    pub fire: Option<Firing>,
}

/// Applies `results` (this transition's conditions) to the stored window,
/// as Kestra's executor does: the stored window if still open at `now`,
/// else a new one; conditions met accumulate; all met fires, and
/// `reset_on_success` clears them for the next round.
pub fn advance(
    window: &TimeWindow,
    reset_on_success: bool,
    results: &[(String, bool)],
    stored: Option<WindowRecord>,
    upstream_key: &str,
    now: DateTime<Utc>,
) -> Advance {
    let nothing = Advance { save: None, fire: None };
    let mut rec = match stored.filter(|r| is_open(r.start, r.end, now)) {
        Some(r) => r,
        None => {
            let (start, end) = window.bounds(now);
            WindowRecord { start, end, results: BTreeMap::new(), round: 0, seen: VecDeque::new() }
        }
    };
    // a window not open now (before a DAILY_TIME_WINDOW's start, after a
    // deadline) is not evaluated
    if !is_open(rec.start, rec.end, now) {
        return nothing;
    }
    if let Some(seen) = rec.seen.iter().find(|s| s.upstream == upstream_key) {
        let fire = seen.fired.map(|round| Firing { window_start: rec.start, round });
        return Advance { save: None, fire };
    }
    let met: Vec<&String> = results.iter().filter(|(_, ok)| *ok).map(|(k, _)| k).collect();
    if met.is_empty() {
        return nothing;
    }
    for k in met {
        rec.results.insert(k.clone(), true);
    }
    let all = results.iter().all(|(k, _)| rec.results.get(k).copied().unwrap_or(false));
    let fire = all.then_some(Firing { window_start: rec.start, round: rec.round });
    if all {
        rec.round += 1;
        if reset_on_success {
            rec.results.clear();
        }
    }
    rec.seen.push_back(Seen { upstream: upstream_key.to_string(), fired: fire.map(|f| f.round) });
    while rec.seen.len() > MAX_SEEN {
        rec.seen.pop_front();
    }
    Advance { save: Some(rec), fire }
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
#[path = "decide_tests.rs"]
mod tests;
