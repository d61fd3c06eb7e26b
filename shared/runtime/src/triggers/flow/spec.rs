//! A Flow trigger's properties parsed into types, once per flow source:
//! `states`, `inputs` and `preconditions` (`flows`, `where`, `timeWindow`,
//! `resetOnSuccess`), with Kestra's defaults. Every problem is collected
//! with its path under the trigger, so validation names each one.

use serde_json::{Map, Value};

use super::window::TimeWindow;
use crate::model::flow::kind_of;
use crate::model::{StateType, Trigger};
use crate::triggers::{TriggerProblem, prop};

/// What a Flow trigger says, typed.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowTriggerSpec {
    /// The upstream states it reacts to (Kestra's default: the terminal ones and PAUSED).
    pub states: Vec<StateType>,
    /// Rendered against the upstream execution into the downstream's inputs.
    pub inputs: Option<Map<String, Value>>,
    pub preconditions: Option<Preconditions>,
    /// `conditions` other than `MultipleCondition`: all must hold.
    pub conditions: Vec<crate::conditions::Condition>,
    /// The legacy `MultipleCondition`s: stateful, like `preconditions`.
    pub multiple: Vec<MultipleSpec>,
    /// Kestra 2.0's `dependsOn` with its `window` and `mode`.
    pub depends_on: Option<super::depends::DependsOn>,
}

/// A legacy `MultipleCondition` (`window`, `windowAdvance`, `resetOnSuccess`,
/// `conditions` as a map of id -> condition).
#[derive(Debug, Clone, PartialEq)]
pub struct MultipleSpec {
    pub id: String,
    pub time_window: TimeWindow,
    pub reset_on_success: bool,
    pub conditions: Vec<(String, crate::conditions::Condition)>,
}

/// `preconditions`: upstream flows and filters to be met within a time window.
#[derive(Debug, Clone, PartialEq)]
pub struct Preconditions {
    pub id: String,
    pub time_window: TimeWindow,
    pub reset_on_success: bool,
    pub flows: Vec<UpstreamFlow>,
    pub where_: Vec<ExecutionFilter>,
}

/// One `preconditions.flows` item.
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamFlow {
    pub namespace: String,
    pub flow_id: Option<String>,
    pub states: Option<Vec<StateType>>,
    /// Labels the upstream execution must carry (values compared as strings).
    pub labels: Option<Vec<(String, String)>>,
}

/// One `preconditions.where` item: filters joined by `operand`.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionFilter {
    pub id: String,
    pub operand: Operand,
    pub filters: Vec<Filter>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operand {
    And,
    Or,
}

/// One filter of a `where` item.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    pub field: Field,
    pub kind: FilterType,
    pub value: Option<String>,
    pub values: Option<Vec<String>>,
}

/// What a filter looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    FlowId,
    Namespace,
    State,
    /// `value` rendered against the upstream execution.
    Expression,
}

/// How a filter compares (Kestra's `Flow.Type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterType {
    EqualTo,
    NotEqualTo,
    In,
    NotIn,
    IsTrue,
    IsFalse,
    IsNull,
    IsNotNull,
    StartsWith,
    EndsWith,
    Regex,
    Contains,
}

const FIELDS: &[(&str, Field)] = &[
    ("FLOW_ID", Field::FlowId),
    ("NAMESPACE", Field::Namespace),
    ("STATE", Field::State),
    ("EXPRESSION", Field::Expression),
];

const TYPES: &[(&str, FilterType)] = &[
    ("EQUAL_TO", FilterType::EqualTo),
    ("NOT_EQUAL_TO", FilterType::NotEqualTo),
    ("IN", FilterType::In),
    ("NOT_IN", FilterType::NotIn),
    ("IS_TRUE", FilterType::IsTrue),
    ("IS_FALSE", FilterType::IsFalse),
    ("IS_NULL", FilterType::IsNull),
    ("IS_NOT_NULL", FilterType::IsNotNull),
    ("STARTS_WITH", FilterType::StartsWith),
    ("ENDS_WITH", FilterType::EndsWith),
    ("REGEX", FilterType::Regex),
    ("CONTAINS", FilterType::Contains),
];

impl FilterType {
    fn name(self) -> &'static str {
        TYPES.iter().find(|(_, t)| *t == self).map(|(n, _)| *n).unwrap_or("?")
    }
    /// Types that compare with one `value` (the others take `values`).
    fn needs_value(self) -> bool {
        !matches!(self, FilterType::In | FilterType::NotIn)
    }
}

/// Collects problems while parsing.
pub(crate) struct Problems(pub Vec<TriggerProblem>);

impl Problems {
    pub(crate) fn at(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(TriggerProblem::at(path, message));
    }
}

/// The keys a mapping may have; any other is reported at `path.key`.
pub(crate) fn only_keys(map: &Map<String, Value>, path: &str, known: &[&str], what: &str, p: &mut Problems) {
    for k in map.keys() {
        if !known.contains(&k.as_str()) {
            p.at(join(path, k), format!("unknown property '{k}' of {what} (known: {})", known.join(", ")));
        }
    }
}

pub(crate) fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_string() } else { format!("{path}.{key}") }
}

/// Parses a trigger's Flow properties; all problems at once.
pub fn parse(trig: &Trigger) -> Result<FlowTriggerSpec, Vec<TriggerProblem>> {
    let mut p = Problems(Vec::new());
    let states = match prop(trig, "states") {
        None => default_states(),
        Some(v) => parse_states(v, "states", &mut p).unwrap_or_default(),
    };
    let inputs = match prop(trig, "inputs") {
        None => None,
        Some(Value::Object(m)) => Some(m.clone()),
        // reported by the shared trigger inputs check
        Some(_) => None,
    };
    let preconditions = prop(trig, "preconditions").and_then(|v| parse_preconditions(v, &mut p));
    // the conditions' own problems are reported by `triggers::check_conditions`
    let all = prop(trig, "conditions").and_then(|v| crate::conditions::parse_list(v).ok()).unwrap_or_default();
    let mut conditions = Vec::new();
    let mut multiple = Vec::new();
    for (i, c) in all.into_iter().enumerate() {
        match c {
            crate::conditions::Condition::Multiple { raw } => {
                if let Some(m) = parse_multiple(&raw, &format!("conditions[{i}]"), &mut p) {
                    multiple.push(m);
                }
            }
            other => conditions.push(other),
        }
    }
    conditions.extend(crate::triggers::when_condition(trig));
    let depends_on = super::depends::parse(&trig.props, &mut p);
    if p.0.is_empty() {
        Ok(FlowTriggerSpec { states, inputs, preconditions, conditions, multiple, depends_on })
    } else {
        Err(p.0)
    }
}

fn parse_multiple(raw: &Value, path: &str, p: &mut Problems) -> Option<MultipleSpec> {
    let m = raw.as_object()?;
    let id = m.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
    if id.is_empty() {
        p.at(path, "a MultipleCondition needs an 'id' (it keys its stored state)");
    }
    let dur = |k: &str, p: &mut Problems| {
        m.get(k).filter(|v| !v.is_null()).and_then(|v| match v.as_str().map(crate::model::duration::parse_iso) {
            Some(Ok(d)) if d >= chrono::Duration::zero() => Some(d),
            _ => {
                p.at(join(path, k), format!("'{k}' must be an ISO-8601 duration (e.g. P1D), got {v}"));
                None
            }
        })
    };
    let window = dur("window", p).filter(|d| !d.is_zero());
    let advance = dur("windowAdvance", p);
    let reset_on_success = m.get("resetOnSuccess").and_then(Value::as_bool).unwrap_or(true);
    let mut conditions = Vec::new();
    if let Some(Value::Object(inner)) = m.get("conditions") {
        for (k, v) in inner {
            let one = crate::conditions::parse_list(&Value::Array(vec![v.clone()])).ok()?;
            conditions.extend(one.into_iter().map(|c| (k.clone(), c)));
        }
    }
    Some(MultipleSpec { id, time_window: TimeWindow::legacy(window, advance), reset_on_success, conditions })
}

/// Kestra's default `states`: `State.Type.terminatedTypes()` and PAUSED
/// (Kestra ≥ 0.22, `io.kestra.plugin.core.trigger.Flow.states`).
pub fn default_states() -> Vec<StateType> {
    use StateType::*;
    vec![Failed, Warning, Success, Killed, Cancelled, Retried, Skipped, Paused]
}

pub(crate) fn parse_states(v: &Value, path: &str, p: &mut Problems) -> Option<Vec<StateType>> {
    let Value::Array(items) = v else {
        p.at(path, format!("'{path}' must be a list of execution states, got {}", kind_of(v)));
        return None;
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match item.as_str().and_then(StateType::parse) {
            Some(StateType::Created) => p.at(
                format!("{path}[{i}]"),
                "a Flow trigger cannot react to CREATED: it is the initial state, not a transition",
            ),
            Some(s) => out.push(s),
            None => p.at(format!("{path}[{i}]"), format!("unknown execution state {item}")),
        }
    }
    Some(out)
}

fn string_at(map: &Map<String, Value>, key: &str, path: &str, p: &mut Problems) -> Option<String> {
    match map.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => {
            p.at(join(path, key), format!("'{key}' must be a string, got {}", kind_of(other)));
            None
        }
    }
}

fn list_at<'v>(map: &'v Map<String, Value>, key: &str, path: &str, p: &mut Problems) -> &'v [Value] {
    match map.get(key) {
        None | Some(Value::Null) => &[],
        Some(Value::Array(a)) => a,
        Some(other) => {
            p.at(join(path, key), format!("'{key}' must be a list, got {}", kind_of(other)));
            &[]
        }
    }
}

fn valid_id(id: &str) -> bool {
    let mut chars = id.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn parse_preconditions(v: &Value, p: &mut Problems) -> Option<Preconditions> {
    let path = "preconditions";
    let Value::Object(m) = v else {
        p.at(path, format!("'preconditions' must be a mapping, got {}", kind_of(v)));
        return None;
    };
    only_keys(m, path, &["id", "timeWindow", "resetOnSuccess", "flows", "where"], "preconditions", p);
    let id = string_at(m, "id", path, p).unwrap_or_default();
    if id.is_empty() {
        p.at(path, "preconditions need an 'id' (it keys their stored state)");
    } else if !valid_id(&id) {
        p.at(join(path, "id"), format!("invalid preconditions id '{id}': it must match ^[a-zA-Z0-9][a-zA-Z0-9_-]*"));
    }
    let time_window = match m.get("timeWindow") {
        None | Some(Value::Null) => TimeWindow::default(),
        Some(tw) => TimeWindow::parse(tw, &join(path, "timeWindow"), p).unwrap_or_default(),
    };
    let reset_on_success = match m.get("resetOnSuccess") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            p.at(join(path, "resetOnSuccess"), format!("'resetOnSuccess' must be a boolean, got {}", kind_of(other)));
            true
        }
    };
    let mut flows = Vec::new();
    for (i, f) in list_at(m, "flows", path, p).iter().enumerate() {
        if let Some(u) = parse_upstream(f, &format!("{path}.flows[{i}]"), p) {
            flows.push(u);
        }
    }
    let mut where_ = Vec::new();
    for (i, f) in list_at(m, "where", path, p).iter().enumerate() {
        if let Some(w) = parse_where(f, &format!("{path}.where[{i}]"), p) {
            where_.push(w);
        }
    }
    Some(Preconditions { id, time_window, reset_on_success, flows, where_ })
}

fn parse_upstream(v: &Value, path: &str, p: &mut Problems) -> Option<UpstreamFlow> {
    let Value::Object(m) = v else {
        p.at(path, format!("an upstream flow must be a mapping, got {}", kind_of(v)));
        return None;
    };
    only_keys(m, path, &["namespace", "flowId", "states", "labels"], "an upstream flow", p);
    let namespace = string_at(m, "namespace", path, p);
    if namespace.is_none() {
        p.at(path, "an upstream flow needs a 'namespace'");
    }
    let flow_id = string_at(m, "flowId", path, p);
    let states = m.get("states").filter(|s| !s.is_null()).and_then(|s| parse_states(s, &join(path, "states"), p));
    let labels = match m.get("labels") {
        None | Some(Value::Null) => None,
        Some(Value::Object(l)) => {
            Some(l.iter().map(|(k, v)| (k.clone(), crate::plugins::de::value_to_string(v))).collect())
        }
        Some(other) => {
            p.at(join(path, "labels"), format!("'labels' must be a mapping, got {}", kind_of(other)));
            None
        }
    };
    Some(UpstreamFlow { namespace: namespace?, flow_id, states, labels })
}

fn parse_where(v: &Value, path: &str, p: &mut Problems) -> Option<ExecutionFilter> {
    let Value::Object(m) = v else {
        p.at(path, format!("a 'where' item must be a mapping, got {}", kind_of(v)));
        return None;
    };
    only_keys(m, path, &["id", "operand", "filters"], "a 'where' item", p);
    let id = string_at(m, "id", path, p).unwrap_or_default();
    if id.is_empty() {
        p.at(path, "a 'where' item needs an 'id'");
    }
    let operand = match string_at(m, "operand", path, p).as_deref() {
        None | Some("AND") => Operand::And,
        Some("OR") => Operand::Or,
        Some(other) => {
            p.at(join(path, "operand"), format!("unknown operand '{other}' (AND or OR)"));
            Operand::And
        }
    };
    let items = list_at(m, "filters", path, p);
    if items.is_empty() {
        p.at(path, "a 'where' item needs at least one filter in 'filters'");
    }
    let mut filters = Vec::new();
    for (i, f) in items.iter().enumerate() {
        if let Some(f) = parse_filter(f, &format!("{path}.filters[{i}]"), p) {
            filters.push(f);
        }
    }
    Some(ExecutionFilter { id, operand, filters })
}

fn parse_filter(v: &Value, path: &str, p: &mut Problems) -> Option<Filter> {
    let Value::Object(m) = v else {
        p.at(path, format!("a filter must be a mapping, got {}", kind_of(v)));
        return None;
    };
    only_keys(m, path, &["field", "type", "value", "values"], "a filter", p);
    let field = match string_at(m, "field", path, p) {
        None => {
            p.at(path, "a filter needs a 'field' (NAMESPACE, FLOW_ID, STATE or EXPRESSION)");
            None
        }
        Some(f) => FIELDS.iter().find(|(n, _)| *n == f).map(|(_, x)| *x).or_else(|| {
            p.at(join(path, "field"), format!("unknown filter field '{f}' (NAMESPACE, FLOW_ID, STATE or EXPRESSION)"));
            None
        }),
    };
    let kind = match string_at(m, "type", path, p) {
        None => {
            p.at(path, "a filter needs a 'type'");
            None
        }
        Some(t) => TYPES.iter().find(|(n, _)| *n == t).map(|(_, x)| *x).or_else(|| {
            let known: Vec<&str> = TYPES.iter().map(|(n, _)| *n).collect();
            p.at(join(path, "type"), format!("unknown filter type '{t}' (known: {})", known.join(", ")));
            None
        }),
    };
    let value = match m.get("value") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(v @ (Value::Bool(_) | Value::Number(_))) => Some(v.to_string()),
        Some(other) => {
            p.at(join(path, "value"), format!("'value' must be a string, got {}", kind_of(other)));
            None
        }
    };
    let values = match m.get("values") {
        None | Some(Value::Null) => None,
        Some(Value::Array(a)) => Some(a.iter().map(crate::plugins::de::value_to_string).collect()),
        Some(other) => {
            p.at(join(path, "values"), format!("'values' must be a list, got {}", kind_of(other)));
            None
        }
    };
    let (field, kind) = (field?, kind?);
    if kind.needs_value() {
        if value.is_none() {
            p.at(path, format!("`value` cannot be null for type {}", kind.name()));
        }
        if values.is_some() {
            p.at(join(path, "values"), format!("`values` must be null for type {}", kind.name()));
        }
    } else {
        if value.is_some() {
            p.at(join(path, "value"), format!("`value` must be null for type {}", kind.name()));
        }
        if values.is_none() {
            p.at(path, format!("`values` cannot be null for type {}", kind.name()));
        }
    }
    if kind == FilterType::Regex
        && let Some(re) = &value
        && let Err(e) = regex::Regex::new(&format!("^(?:{re})$"))
    {
        p.at(join(path, "value"), format!("invalid regular expression '{re}': {e}"));
    }
    Some(Filter { field, kind, value, values })
}
