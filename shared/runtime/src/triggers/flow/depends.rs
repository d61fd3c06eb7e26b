//! Kestra 2.0's Flow trigger dependencies: `dependsOn` (upstream entries
//! with `flowId`, `namespace`, `states`, `labels`, `when`), `window`
//! (`deadline` | `from`+`to` | `every`+`offset` | `lookback`, `fireOnce`)
//! and `mode` (`ALL`, `ANY`, `AT_LEAST` with `minSatisfied`), parsed onto
//! the same window machinery as 1.x `preconditions` ([`super::window`],
//! [`super::decide::advance`]).
//!
//! As 2.0 documents it (migration guide "Trigger Conditions Redesign"):
//! `flowId` and `namespace` match exactly and are optional; `states`
//! default to `[SUCCESS, WARNING]`; an entry's key in the stored window
//! derives from its namespace and flow id (order-independent); without
//! `fireOnce` the trigger fires every time the entries are met within the
//! window (1.x `resetOnSuccess: false`), with it once per window.

use chrono::{Duration, NaiveTime};
use serde_json::{Map, Value};

use super::decide::{Render, Upstream, WindowRule};
use super::spec::{Problems, join, only_keys, parse_states};
use super::window::{TimeWindow, WindowType};
use crate::model::StateType;
use crate::model::flow::kind_of;

/// How the entries combine (`mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    All,
    Any,
    AtLeast(usize),
}

/// One `dependsOn` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Dependency {
    pub namespace: Option<String>,
    pub flow_id: Option<String>,
    pub states: Vec<StateType>,
    pub labels: Vec<(String, String)>,
    /// Rendered against the upstream (`namespace`, `flowId`, `state`,
    /// `labels`, `outputs`, `hasRetryAttempt`): truthy to match.
    pub when: Option<String>,
    /// Its key in the stored window.
    pub key: String,
}

/// `dependsOn`, `window` and `mode`, typed.
#[derive(Debug, Clone, PartialEq)]
pub struct DependsOn {
    pub entries: Vec<Dependency>,
    pub window: TimeWindow,
    pub fire_once: bool,
    pub mode: Mode,
}

impl DependsOn {
    /// The window rule these say.
    pub fn rule(&self) -> WindowRule {
        let need = match self.mode {
            Mode::All => None,
            Mode::Any => Some(1),
            Mode::AtLeast(n) => Some(n),
        };
        WindowRule { reset_on_success: false, need, once: self.fire_once }
    }

    /// One entry: `trigger.outputs.<key>` also works unscoped (2.0's shorthand).
    pub fn single_entry(&self) -> bool {
        self.entries.len() == 1
    }
}

const ENTRY_KEYS: &[&str] = &["flowId", "namespace", "states", "labels", "when"];
const WINDOW_KEYS: &[&str] = &["deadline", "from", "to", "every", "offset", "lookback", "fireOnce"];

/// Parses `dependsOn`, `window`, `mode` and `minSatisfied` of a Flow
/// trigger's properties (`None` when it has no `dependsOn`).
pub(crate) fn parse(props: &Map<String, Value>, p: &mut Problems) -> Option<DependsOn> {
    let get = |k: &str| props.get(k).filter(|v| !v.is_null());
    let Some(list) = get("dependsOn") else {
        for k in ["window", "mode", "minSatisfied"] {
            if get(k).is_some() {
                p.at(k, format!("'{k}' needs 'dependsOn' (the upstream flows it applies to)"));
            }
        }
        return None;
    };
    let Value::Array(items) = list else {
        p.at("dependsOn", format!("'dependsOn' must be a list of upstream entries, got {}", kind_of(list)));
        return None;
    };
    if items.is_empty() {
        p.at("dependsOn", "'dependsOn' needs at least one entry");
    }
    let mut entries: Vec<Dependency> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        if let Some(mut d) = parse_entry(item, &format!("dependsOn[{i}]"), p) {
            if entries.iter().any(|e| e.key == d.key) {
                d.key = format!("{}#{i}", d.key);
            }
            entries.push(d);
        }
    }
    let (window, fire_once) = match get("window") {
        None => (TimeWindow::default(), false),
        Some(w) => parse_window(w, p).unwrap_or_default(),
    };
    let n = items.len();
    let mode = match get("mode").map(|m| m.as_str().unwrap_or_default()) {
        None | Some("ALL") => Mode::All,
        Some("ANY") => Mode::Any,
        Some("AT_LEAST") => match get("minSatisfied").map(|v| v.as_u64()) {
            Some(Some(k)) if k >= 1 && (k as usize) <= n => Mode::AtLeast(k as usize),
            Some(_) => {
                p.at(
                    "minSatisfied",
                    format!("'minSatisfied' must be an integer from 1 to {n} (the dependsOn entries)"),
                );
                Mode::All
            }
            None => {
                p.at("mode", "mode AT_LEAST needs 'minSatisfied'");
                Mode::All
            }
        },
        Some(other) => {
            p.at("mode", format!("unknown mode '{other}' (ALL, ANY or AT_LEAST)"));
            Mode::All
        }
    };
    if !matches!(mode, Mode::AtLeast(_)) && get("minSatisfied").is_some() {
        p.at("minSatisfied", "'minSatisfied' only applies with mode AT_LEAST");
    }
    Some(DependsOn { entries, window, fire_once, mode })
}

fn string(m: &Map<String, Value>, key: &str, path: &str, p: &mut Problems) -> Option<String> {
    match m.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => {
            p.at(join(path, key), format!("'{key}' must be a string, got {}", kind_of(other)));
            None
        }
    }
}

fn parse_entry(v: &Value, path: &str, p: &mut Problems) -> Option<Dependency> {
    let Value::Object(m) = v else {
        p.at(path, format!("a dependsOn entry must be a mapping, got {}", kind_of(v)));
        return None;
    };
    only_keys(m, path, ENTRY_KEYS, "a dependsOn entry", p);
    let namespace = string(m, "namespace", path, p);
    let flow_id = string(m, "flowId", path, p);
    let when = string(m, "when", path, p);
    let states = match m.get("states").filter(|s| !s.is_null()) {
        None => vec![StateType::Success, StateType::Warning],
        Some(s) => parse_states(s, &join(path, "states"), p).unwrap_or_default(),
    };
    let labels = match m.get("labels") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Object(l)) => l.iter().map(|(k, v)| (k.clone(), crate::plugins::de::value_to_string(v))).collect(),
        Some(other) => {
            p.at(join(path, "labels"), format!("'labels' must be a mapping, got {}", kind_of(other)));
            Vec::new()
        }
    };
    let key = format!("{}/{}", namespace.as_deref().unwrap_or("*"), flow_id.as_deref().unwrap_or("*"));
    Some(Dependency { namespace, flow_id, states, labels, when, key })
}

/// A time of day, with an optional UTC offset (`"09:00:00+01:00"`), as UTC.
fn time_of_day(v: &Value, path: &str, p: &mut Problems) -> Option<NaiveTime> {
    let Some(s) = v.as_str().map(str::trim) else {
        p.at(path, format!("expected a time of day like \"09:00:00\", got {}", kind_of(v)));
        return None;
    };
    let (clock, offset) = match s.rfind(['+', '-']).filter(|i| *i >= 5) {
        Some(i) => (&s[..i], Some(&s[i..])),
        None => (s.strip_suffix('Z').unwrap_or(s), None),
    };
    let time = ["%H:%M:%S%.f", "%H:%M"].iter().find_map(|f| NaiveTime::parse_from_str(clock, f).ok());
    let shift = match offset {
        None => Some(0),
        Some(o) => offset_seconds(o),
    };
    match (time, shift) {
        (Some(t), Some(secs)) => Some(t - Duration::seconds(secs as i64)),
        _ => {
            p.at(path, format!("'{s}' is not a time of day like \"09:00:00\" or \"09:00:00+01:00\""));
            None
        }
    }
}

/// `+01:00` / `-0530` as seconds east of UTC.
fn offset_seconds(s: &str) -> Option<i32> {
    let sign = if s.starts_with('-') { -1 } else { 1 };
    let digits: String = s.get(1..)?.chars().filter(|c| *c != ':').collect();
    if digits.len() != 4 || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let h: i32 = digits[..2].parse().ok()?;
    let m: i32 = digits[2..].parse().ok()?;
    (h < 24 && m < 60).then_some(sign * (h * 3600 + m * 60))
}

fn duration(v: &Value, path: &str, p: &mut Problems) -> Option<Duration> {
    match v.as_str().map(crate::model::duration::parse_iso) {
        Some(Ok(d)) if d > Duration::zero() => Some(d),
        Some(Ok(_)) => {
            p.at(path, "a window duration must be positive");
            None
        }
        Some(Err(e)) => {
            p.at(path, e);
            None
        }
        None => {
            p.at(path, format!("expected an ISO-8601 duration (e.g. P1D), got {}", kind_of(v)));
            None
        }
    }
}

/// `window`: exactly one group of `deadline`, `from`+`to`, `every`(+`offset`)
/// or `lookback`, plus `fireOnce`.
fn parse_window(v: &Value, p: &mut Problems) -> Option<(TimeWindow, bool)> {
    let path = "window";
    let Value::Object(m) = v else {
        p.at(path, format!("'window' must be a mapping, got {}", kind_of(v)));
        return None;
    };
    only_keys(m, path, WINDOW_KEYS, "window", p);
    let get = |k: &str| m.get(k).filter(|v| !v.is_null());
    let fire_once = match get("fireOnce") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            p.at(join(path, "fireOnce"), format!("'fireOnce' must be a boolean, got {}", kind_of(other)));
            false
        }
    };
    let groups: Vec<&str> = [
        ("deadline", "deadline"),
        ("from", "from/to"),
        ("to", "from/to"),
        ("every", "every/offset"),
        ("offset", "every/offset"),
        ("lookback", "lookback"),
    ]
    .iter()
    .filter(|(k, _)| get(k).is_some())
    .map(|(_, g)| *g)
    .fold(Vec::new(), |mut acc, g| {
        if !acc.contains(&g) {
            acc.push(g);
        }
        acc
    });
    if groups.len() > 1 {
        p.at(path, format!("a window has one kind: {} cannot be combined", groups.join(" and ")));
        return None;
    }
    let at = |k: &str| join(path, k);
    let tw = match groups.first().copied() {
        None => TimeWindow::default(),
        Some("deadline") => TimeWindow {
            kind: WindowType::DailyTimeDeadline,
            deadline: get("deadline").and_then(|v| time_of_day(v, &at("deadline"), p)),
            ..TimeWindow::default()
        },
        Some("from/to") => {
            for k in ["from", "to"] {
                if get(k).is_none() {
                    p.at(path, format!("a daily time range window needs both 'from' and 'to' (missing '{k}')"));
                }
            }
            TimeWindow {
                kind: WindowType::DailyTimeWindow,
                start_time: get("from").and_then(|v| time_of_day(v, &at("from"), p)),
                end_time: get("to").and_then(|v| time_of_day(v, &at("to"), p)),
                ..TimeWindow::default()
            }
        }
        Some("every/offset") => {
            if get("every").is_none() {
                p.at(path, "'offset' needs 'every' (the window's size)");
            }
            TimeWindow {
                kind: WindowType::DurationWindow,
                window: get("every").and_then(|v| duration(v, &at("every"), p)),
                window_advance: get("offset").and_then(|v| match v.as_str().map(crate::model::duration::parse_iso) {
                    Some(Ok(d)) if d >= Duration::zero() => Some(d),
                    _ => {
                        p.at(at("offset"), format!("'offset' must be an ISO-8601 duration (e.g. PT6H), got {v}"));
                        None
                    }
                }),
                ..TimeWindow::default()
            }
        }
        _ => TimeWindow {
            kind: WindowType::SlidingWindow,
            window: get("lookback").and_then(|v| duration(v, &at("lookback"), p)),
            ..TimeWindow::default()
        },
    };
    Some((tw, fire_once))
}

/// Each entry's result for `up`, keyed as stored; `render` renders an
/// entry's `when` against the upstream.
pub fn results(d: &DependsOn, up: &Upstream<'_>, render: Render<'_>) -> Result<Vec<(String, bool)>, String> {
    let mut out = Vec::with_capacity(d.entries.len());
    for e in &d.entries {
        let mut ok = e.namespace.as_deref().is_none_or(|ns| ns == up.namespace)
            && e.flow_id.as_deref().is_none_or(|id| id == up.flow_id)
            && e.states.contains(&up.state)
            && e.labels.iter().all(|(k, v)| up.labels.iter().any(|l| &l.key == k && &l.value == v));
        if ok && let Some(w) = &e.when {
            ok = crate::executor::truthy(&render(w)?);
        }
        out.push((e.key.clone(), ok));
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
