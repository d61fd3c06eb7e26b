//! Parsing a trigger's `conditions` (a list, or Kestra's older map of id ->
//! condition) into [`Condition`]s: known type (with a "did you mean"),
//! known properties of the right kind, required ones present, literal
//! values checked now (templates when tested).

use chrono::{DateTime, FixedOffset, Weekday};
use serde_json::{Map, Value};

use super::catalog::{self, ConditionDef, names};
use super::{Comparison, Condition, DayInMonth, OffsetTime, Prop};
use crate::expr::is_template;
use crate::problem::TriggerProblem;
use crate::{Label, StateType};

/// How deep `Not`/`Or` may nest (a bound: deeper lists are an error naming it).
pub const MAX_DEPTH: usize = 8;

/// Parses a trigger's `conditions` list (a list, or Kestra's older map of id
/// -> condition); problems have paths relative to the list (e.g. `[1].dayOfWeek`).
pub fn parse_list(v: &Value) -> Result<Vec<Condition>, Vec<TriggerProblem>> {
    let mut problems = Vec::new();
    let out = parse_items(v, "", 0, &mut problems);
    if problems.is_empty() { Ok(out) } else { Err(problems) }
}

/// Joins a list path and a path relative to it (`[1].x` or `id.x`).
pub fn join(parent: &str, rel: &str) -> String {
    if rel.is_empty() {
        parent.to_string()
    } else if rel.starts_with('[') || parent.is_empty() {
        format!("{parent}{rel}")
    } else {
        format!("{parent}.{rel}")
    }
}

fn parse_items(v: &Value, at: &str, depth: usize, problems: &mut Vec<TriggerProblem>) -> Vec<Condition> {
    if depth > MAX_DEPTH {
        problems.push(TriggerProblem::at(at, format!("conditions nest deeper than {MAX_DEPTH} levels (Not/Or)")));
        return Vec::new();
    }
    let mut out = Vec::new();
    match v {
        Value::Null => {}
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                if let Some(c) = parse_one(item, &format!("{at}[{i}]"), depth, problems) {
                    out.push(c);
                }
            }
        }
        Value::Object(map) => {
            for (id, item) in map {
                if let Some(c) = parse_one(item, &join(at, id), depth, problems) {
                    out.push(c);
                }
            }
        }
        other => problems.push(TriggerProblem::at(
            at,
            format!("'conditions' must be a list of conditions, got {}", crate::flow::kind_of(other)),
        )),
    }
    out
}

/// One condition's properties, with the problems found reading them.
struct Reader<'a> {
    def: &'static ConditionDef,
    map: &'a Map<String, Value>,
    at: &'a str,
    problems: &'a mut Vec<TriggerProblem>,
}

impl<'a> Reader<'a> {
    fn short(&self) -> &'static str {
        self.def.type_name.rsplit('.').next().unwrap_or(self.def.type_name)
    }

    fn bad(&mut self, key: &str, msg: impl std::fmt::Display) {
        let path = join(self.at, key);
        let short = self.short();
        self.problems.push(TriggerProblem::at(path, format!("condition {short}: property '{key}' {msg}")));
    }

    fn get(&mut self, key: &str) -> Option<&'a Value> {
        let map: &'a Map<String, Value> = self.map;
        let v = map.get(key).filter(|v| !v.is_null());
        if v.is_none() && self.def.prop(key).is_some_and(|p| p.required) {
            let short = self.short();
            self.problems
                .push(TriggerProblem::at(self.at, format!("condition {short}: missing required property '{key}'")));
        }
        v
    }

    /// A string property (scalars coerced, as Jackson does).
    fn string(&mut self, key: &str) -> Option<String> {
        match self.get(key)? {
            Value::String(s) => Some(s.clone()),
            v @ (Value::Number(_) | Value::Bool(_)) => Some(v.to_string()),
            _ => {
                self.bad(key, "must be a string");
                None
            }
        }
    }

    /// A `Property<T>`: a template, or a literal parsed by `f`.
    fn prop<T>(&mut self, key: &str, f: fn(&str) -> Result<T, String>) -> Option<Prop<T>> {
        let s = self.string(key)?;
        if is_template(&s) {
            return Some(Prop::Template(s));
        }
        match f(&s) {
            Ok(v) => Some(Prop::Fixed(v)),
            Err(e) => {
                self.bad(key, e);
                None
            }
        }
    }

    fn date(&mut self) -> String {
        self.string("date").unwrap_or_else(|| "{{ trigger.date }}".to_string())
    }

    fn bool(&mut self, key: &str) -> Option<Prop<bool>> {
        match self.get(key)? {
            Value::Bool(b) => Some(Prop::Fixed(*b)),
            Value::String(s) if is_template(s) => Some(Prop::Template(s.clone())),
            Value::String(s) => match parse_bool(s) {
                Ok(b) => Some(Prop::Fixed(b)),
                Err(e) => {
                    self.bad(key, e);
                    None
                }
            },
            _ => {
                self.bad(key, "must be true or false");
                None
            }
        }
    }

    fn states(&mut self, key: &str) -> Option<Prop<Vec<StateType>>> {
        match self.get(key)? {
            Value::String(s) if is_template(s) => Some(Prop::Template(s.clone())),
            Value::Array(items) => {
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    match item.as_str().map(parse_state) {
                        Some(Ok(s)) => out.push(s),
                        Some(Err(e)) => self.bad(&format!("{key}[{i}]"), e),
                        None => self.bad(&format!("{key}[{i}]"), "must be a state name"),
                    }
                }
                Some(Prop::Fixed(out))
            }
            _ => {
                self.bad(key, "must be a list of execution states");
                None
            }
        }
    }
}

fn parse_one(v: &Value, at: &str, depth: usize, problems: &mut Vec<TriggerProblem>) -> Option<Condition> {
    let Some(map) = v.as_object() else {
        problems.push(TriggerProblem::at(at, "a condition must be a mapping with a 'type'"));
        return None;
    };
    let type_ = match map.get("type") {
        Some(Value::String(t)) => t.as_str(),
        _ => {
            problems.push(TriggerProblem::at(at, "a condition needs a 'type'"));
            return None;
        }
    };
    let Some(def) = catalog::find(type_) else {
        let mut msg = format!("unknown condition type '{type_}'");
        if let Some(s) = crate::suggest::closest(type_, catalog::defs().iter().map(|d| d.type_name)) {
            msg.push_str(&format!(" (did you mean {s}?)"));
        }
        problems.push(TriggerProblem::at(join(at, "type"), msg));
        return None;
    };
    let before = problems.len();
    for key in map.keys() {
        if key != "type" && def.prop(key).is_none() {
            let known: Vec<&str> = def.props.iter().map(|p| p.name).collect();
            problems.push(TriggerProblem::at(
                join(at, key),
                format!("unknown property '{key}' for {} (known: {})", def.type_name, known.join(", ")),
            ));
        }
    }
    let mut r = Reader { def, map, at, problems };
    let c = build(def.type_name, &mut r, depth);
    if r.problems.len() > before { None } else { c }
}

fn build(type_name: &str, r: &mut Reader<'_>, depth: usize) -> Option<Condition> {
    Some(match type_name {
        names::DAY_WEEK => Condition::DayWeek { date: r.date(), day_of_week: r.prop("dayOfWeek", parse_weekday)? },
        names::DAY_WEEK_IN_MONTH => {
            let date = r.date();
            let day_of_week = r.prop("dayOfWeek", parse_weekday);
            let day_in_month = r.prop("dayInMonth", parse_day_in_month);
            Condition::DayWeekInMonth { date, day_of_week: day_of_week?, day_in_month: day_in_month? }
        }
        names::DATE_TIME_BETWEEN => {
            let date = r.date();
            let after = r.prop("after", parse_zoned);
            let before = r.prop("before", parse_zoned);
            if after.is_none() && before.is_none() && !r.map.contains_key("after") && !r.map.contains_key("before") {
                r.bad("after", "or 'before' is required (Kestra: invalid condition with no before nor after)");
            }
            Condition::DateTimeBetween { date, after, before }
        }
        names::TIME_BETWEEN => {
            let date = r.date();
            let after = r.prop("after", parse_offset_time);
            let before = r.prop("before", parse_offset_time);
            if after.is_none() && before.is_none() && !r.map.contains_key("after") && !r.map.contains_key("before") {
                r.bad("after", "or 'before' is required (Kestra: invalid condition with no before nor after)");
            }
            Condition::TimeBetween { date, after, before }
        }
        names::WEEKEND => Condition::Weekend { date: r.date() },
        names::PUBLIC_HOLIDAY => {
            let date = r.date();
            let country = r.string("country");
            let sub_division = r.string("subDivision");
            if let Some(c) = &country
                && !is_template(c)
                && let Err(e) = super::holidays::check(c, sub_division.as_deref().filter(|s| !is_template(s)))
            {
                let key = if e.starts_with("subDivision") { "subDivision" } else { "country" };
                r.bad(key, e);
            }
            Condition::PublicHoliday { date, country: country?, sub_division }
        }
        names::EXPRESSION => Condition::Expression { expression: r.string("expression")? },
        names::EXECUTION_OUTPUTS => Condition::ExecutionOutputs { expression: r.string("expression")? },
        names::NOT | names::OR => {
            let at = join(r.at, "conditions");
            let conditions = match r.get("conditions") {
                Some(v) if v.as_array().is_some_and(|a| !a.is_empty()) => parse_items(v, &at, depth + 1, r.problems),
                Some(_) => {
                    r.bad("conditions", "must be a non-empty list of conditions");
                    return None;
                }
                None => return None,
            };
            if type_name == names::NOT { Condition::Not { conditions } } else { Condition::Or { conditions } }
        }
        names::EXECUTION_FLOW => {
            let namespace = r.prop("namespace", ok_string);
            let flow_id = r.prop("flowId", ok_string);
            Condition::ExecutionFlow { namespace: namespace?, flow_id: flow_id? }
        }
        names::EXECUTION_NAMESPACE => {
            let namespace = r.string("namespace");
            let comparison = match r.string("comparison") {
                None => None,
                Some(c) => match c.as_str() {
                    "EQUALS" => Some(Comparison::Equals),
                    "PREFIX" => Some(Comparison::Prefix),
                    "SUFFIX" => Some(Comparison::Suffix),
                    _ => {
                        r.bad("comparison", format!("must be EQUALS, PREFIX or SUFFIX, got '{c}'"));
                        None
                    }
                },
            };
            let prefix = match r.bool("prefix") {
                None => false,
                Some(Prop::Fixed(b)) => b,
                Some(Prop::Template(_)) => {
                    r.bad("prefix", "must be true or false (not a template)");
                    false
                }
            };
            let fallback = if prefix { Comparison::Prefix } else { Comparison::Equals };
            Condition::ExecutionNamespace { namespace: namespace?, comparison: comparison.unwrap_or(fallback) }
        }
        names::EXECUTION_STATUS => Condition::ExecutionStatus { in_: r.states("in"), not_in: r.states("notIn") },
        names::HAS_RETRY_ATTEMPT => Condition::HasRetryAttempt { in_: r.states("in"), not_in: r.states("notIn") },
        names::EXECUTION_LABELS => Condition::ExecutionLabels { labels: labels(r)? },
        names::FLOW => {
            let namespace = r.string("namespace");
            let flow_id = r.string("flowId");
            Condition::Flow { namespace: namespace?, flow_id: flow_id? }
        }
        names::FLOW_NAMESPACE => {
            let namespace = r.prop("namespace", ok_string);
            let prefix = r.bool("prefix").unwrap_or(Prop::Fixed(false));
            Condition::FlowNamespace { namespace: namespace?, prefix }
        }
        names::MULTIPLE => {
            r.get("window");
            // its own conditions (a map of id -> condition) are checked here, evaluated by the Flow trigger
            if let Some(inner) = r.get("conditions") {
                let at = join(r.at, "conditions");
                parse_items(inner, &at, depth + 1, r.problems);
            }
            Condition::Multiple { raw: Value::Object(r.map.clone()) }
        }
        other => {
            r.problems.push(TriggerProblem::at(r.at, format!("condition type '{other}' is not evaluated by Baton")));
            return None;
        }
    })
}

/// `ExecutionLabels.labels`: a map of key -> value or a list of `{key, value}`.
fn labels(r: &mut Reader<'_>) -> Option<Vec<Label>> {
    let v = r.get("labels")?.clone();
    let mut out = Vec::new();
    match &v {
        Value::Object(m) => {
            for (k, v) in m {
                match v {
                    Value::String(s) => out.push(Label { key: k.clone(), value: s.clone() }),
                    Value::Number(_) | Value::Bool(_) => out.push(Label { key: k.clone(), value: v.to_string() }),
                    _ => r.bad(&format!("labels.{k}"), "must be a string"),
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let key = item.get("key").and_then(Value::as_str);
                let value = item.get("value").and_then(Value::as_str);
                match (key, value) {
                    (Some(k), Some(v)) => out.push(Label { key: k.to_string(), value: v.to_string() }),
                    _ => r.bad(&format!("labels[{i}]"), "must be a mapping with 'key' and 'value'"),
                }
            }
        }
        _ => r.bad("labels", "must be a mapping of labels or a list of {key, value}"),
    }
    for l in &out {
        if l.key.starts_with("system.") {
            r.bad("labels", format!("cannot match the system label '{}'", l.key));
        }
    }
    Some(out)
}

fn ok_string(s: &str) -> Result<String, String> {
    Ok(s.to_string())
}

fn parse_bool(s: &str) -> Result<bool, String> {
    match s {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(format!("must be true or false, got '{s}'")),
    }
}

pub fn parse_state(s: &str) -> Result<StateType, String> {
    StateType::parse(s)
        .filter(|_| s == s.to_ascii_uppercase())
        .ok_or_else(|| format!("'{s}' is not an execution state (e.g. SUCCESS, FAILED, WARNING)"))
}

/// Java's `DayOfWeek` names (MONDAY…SUNDAY), exactly.
pub fn parse_weekday(s: &str) -> Result<Weekday, String> {
    Ok(match s {
        "MONDAY" => Weekday::Mon,
        "TUESDAY" => Weekday::Tue,
        "WEDNESDAY" => Weekday::Wed,
        "THURSDAY" => Weekday::Thu,
        "FRIDAY" => Weekday::Fri,
        "SATURDAY" => Weekday::Sat,
        "SUNDAY" => Weekday::Sun,
        _ => return Err(format!("must be a day of week (MONDAY … SUNDAY), got '{s}'")),
    })
}

pub fn parse_day_in_month(s: &str) -> Result<DayInMonth, String> {
    Ok(match s {
        "FIRST" => DayInMonth::First,
        "SECOND" => DayInMonth::Second,
        "THIRD" => DayInMonth::Third,
        "FOURTH" => DayInMonth::Fourth,
        "LAST" => DayInMonth::Last,
        _ => return Err(format!("must be FIRST, SECOND, THIRD, FOURTH or LAST, got '{s}'")),
    })
}

/// An ISO-8601 date-time with an offset or zone (Java's `ZonedDateTime`).
pub fn parse_zoned(s: &str) -> Result<DateTime<FixedOffset>, String> {
    super::dates::parse_date_time(s)
        .ok_or_else(|| format!("must be an ISO-8601 date-time with a zone (e.g. 2025-01-01T00:00:00Z), got '{s}'"))
}

/// An ISO-8601 time with an offset (Java's `OffsetTime`), e.g. `16:00:00+02:00`.
pub fn parse_offset_time(s: &str) -> Result<OffsetTime, String> {
    super::dates::parse_offset_time(s)
        .ok_or_else(|| format!("must be an ISO-8601 time with an offset (e.g. 16:00:00+02:00), got '{s}'"))
}
