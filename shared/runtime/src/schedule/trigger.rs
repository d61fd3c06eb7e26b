//! The `io.kestra.plugin.core.trigger.Schedule` trigger as Kestra defines it
//! (`cron`, `withSeconds`, `timezone`, `inputs`, `disabled`,
//! `recoverMissedSchedules`, `lateMaximumDelay`, `stopAfter`, `conditions`),
//! read from a flow's parsed triggers, and the trigger context an execution
//! of one of its ticks carries (`trigger.date`, `trigger.next`,
//! `trigger.previous`, the trigger's id and type).
//!
//! `io.kestra.plugin.core.trigger.ScheduleOnDates` is read into the same
//! model: its `dates` are the ticks (a [`Cron`] of dates), so the scheduler,
//! `recoverMissedSchedules`, backfills and Toggle treat both alike. Kestra
//! renders `dates`; Baton takes the list as written (a template there is a
//! validation error naming it), and has no `cron`, `withSeconds` or
//! `lateMaximumDelay` for it, as Kestra has none.

use chrono::{DateTime, FixedOffset, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::cron::{Cron, CronError};
use crate::conditions::{Condition, ConditionUse};
use crate::model::{Flow, StateType, Trigger, TriggerContext};

pub use crate::model::types::{SCHEDULE_ON_DATES_TYPE, SCHEDULE_TYPE};

/// What to do with ticks missed while no scheduler ran (Kestra's
/// `recoverMissedSchedules`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RecoverMissedSchedules {
    /// Replay every missed tick, in order (Kestra's default).
    #[default]
    All,
    /// Replay only the most recent missed tick.
    Last,
    /// Replay nothing; continue with the next tick.
    None,
}

/// A Schedule trigger property that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("trigger '{trigger}': {source}")]
    Cron {
        trigger: String,
        #[source]
        source: CronError,
    },
    #[error("trigger '{trigger}': property '{property}' {problem}")]
    Property { trigger: String, property: &'static str, problem: String },
}

/// A Schedule trigger of a flow.
#[derive(Debug, Clone)]
pub struct ScheduleTrigger {
    pub id: String,
    /// [`SCHEDULE_TYPE`] or [`SCHEDULE_ON_DATES_TYPE`].
    pub type_name: &'static str,
    /// The cron expression, or the dates of a `ScheduleOnDates`.
    pub cron: Cron,
    /// Inputs passed to each execution (rendered per tick).
    pub inputs: Map<String, Value>,
    pub disabled: bool,
    pub recover_missed_schedules: RecoverMissedSchedules,
    /// Ticks later than this are skipped by the scheduler (never in a backfill).
    pub late_maximum_delay: Option<TimeDelta>,
    /// States that disable the trigger once an execution of it ends in one.
    pub stop_after: Vec<StateType>,
    /// Kestra's schedule conditions, all tested at every tick (live and
    /// backfilled): a tick where one is false creates no execution.
    pub conditions: Vec<Condition>,
}

/// The three dates of a tick, as Kestra's `Schedule.Output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScheduleDates {
    pub date: DateTime<Utc>,
    pub next: Option<DateTime<Utc>>,
    pub previous: Option<DateTime<Utc>>,
}

impl ScheduleTrigger {
    /// Reads a Schedule trigger; `Ok(None)` when `t` is another kind of trigger.
    pub fn from_trigger(t: &Trigger) -> Result<Option<ScheduleTrigger>, ScheduleError> {
        let type_name = match t.type_.as_str() {
            SCHEDULE_TYPE => SCHEDULE_TYPE,
            SCHEDULE_ON_DATES_TYPE => SCHEDULE_ON_DATES_TYPE,
            _ => return Ok(None),
        };
        let prop = |k: &str| t.props.get(k).filter(|v| !v.is_null());
        let bad = |property: &'static str, problem: String| ScheduleError::Property {
            trigger: t.id.clone(),
            property,
            problem,
        };
        let timezone = match prop("timezone") {
            None => None,
            Some(Value::String(z)) => Some(z.clone()),
            Some(other) => return Err(bad("timezone", format!("must be a string, got {other}"))),
        };
        let cron = if type_name == SCHEDULE_ON_DATES_TYPE {
            let dates = parse_dates(prop("dates")).map_err(|p| bad("dates", p))?;
            Cron::dates(&dates, timezone.as_deref())
        } else {
            let cron = match prop("cron") {
                Some(Value::String(c)) => c.clone(),
                Some(other) => return Err(bad("cron", format!("must be a string, got {other}"))),
                None => return Err(bad("cron", "is required".to_string())),
            };
            let with_seconds = match prop("withSeconds") {
                None => false,
                Some(v) => as_bool(v).ok_or_else(|| bad("withSeconds", format!("must be true or false, got {v}")))?,
            };
            Cron::parse(&cron, with_seconds, timezone.as_deref())
        }
        .map_err(|source| ScheduleError::Cron { trigger: t.id.clone(), source })?;
        let inputs = match prop("inputs") {
            None => Map::new(),
            Some(Value::Object(m)) => m.clone(),
            Some(other) => return Err(bad("inputs", format!("must be a mapping, got {other}"))),
        };
        let recover_missed_schedules = match prop("recoverMissedSchedules") {
            None => RecoverMissedSchedules::default(),
            Some(v) => serde_json::from_value(uppercase(v))
                .map_err(|_| bad("recoverMissedSchedules", format!("must be ALL, LAST or NONE, got {v}")))?,
        };
        let late_maximum_delay = match prop("lateMaximumDelay") {
            None => None,
            Some(Value::String(d)) => Some(
                crate::model::duration::parse_iso(d)
                    .map_err(|e| bad("lateMaximumDelay", format!("is invalid: {e}")))?,
            ),
            Some(other) => return Err(bad("lateMaximumDelay", format!("must be an ISO-8601 duration, got {other}"))),
        };
        let stop_after = match prop("stopAfter") {
            None => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| {
                    v.as_str()
                        .and_then(StateType::parse)
                        .ok_or_else(|| bad("stopAfter", format!("must list execution states, got {v}")))
                })
                .collect::<Result<_, _>>()?,
            Some(other) => return Err(bad("stopAfter", format!("must be a list of states, got {other}"))),
        };
        let mut conditions = match prop("conditions") {
            None => Vec::new(),
            Some(v) => {
                let list = crate::conditions::parse_list(v).map_err(|p| bad("conditions", problems(&p)))?;
                let misuse = crate::conditions::check_use(&list, ConditionUse::Schedule);
                if !misuse.is_empty() {
                    return Err(bad("conditions", problems(&misuse)));
                }
                list
            }
        };
        conditions.extend(crate::triggers::when_condition(t));
        Ok(Some(ScheduleTrigger {
            id: t.id.clone(),
            type_name,
            cron,
            inputs,
            disabled: t.disabled,
            recover_missed_schedules,
            late_maximum_delay,
            stop_after,
            conditions,
        }))
    }

    /// The Schedule triggers of `flow`, each parsed or with its problem.
    pub fn of_flow(flow: &Flow) -> Vec<Result<ScheduleTrigger, ScheduleError>> {
        flow.triggers.iter().filter_map(|t| ScheduleTrigger::from_trigger(t).transpose()).collect()
    }

    /// The Schedule trigger `id` of `flow`.
    pub fn find(flow: &Flow, id: &str) -> Option<Result<ScheduleTrigger, ScheduleError>> {
        flow.triggers.iter().find(|t| t.id == id).and_then(|t| ScheduleTrigger::from_trigger(t).transpose())
    }

    /// The dates of tick `date`: the tick itself, the next and the previous one.
    pub fn dates(&self, date: DateTime<Utc>) -> ScheduleDates {
        ScheduleDates { date, next: self.cron.next_after(date), previous: self.cron.previous_before(date) }
    }

    /// `{date, next, previous}` as ISO strings in the trigger's zone, as
    /// Kestra's `scheduleDates.toMap(zone)`.
    pub fn variables(&self, date: DateTime<Utc>) -> Map<String, Value> {
        let d = self.dates(date);
        let mut m = Map::new();
        m.insert("date".into(), Value::String(self.cron.format(d.date)));
        if let Some(n) = d.next {
            m.insert("next".into(), Value::String(self.cron.format(n)));
        }
        if let Some(p) = d.previous {
            m.insert("previous".into(), Value::String(self.cron.format(p)));
        }
        m
    }

    /// The execution's trigger context for tick `date` (Kestra's
    /// `ExecutionTrigger {id, type, variables}`).
    pub fn context(&self, date: DateTime<Utc>) -> TriggerContext {
        TriggerContext { id: self.id.clone(), type_: self.type_name.to_string(), variables: self.variables(date) }
    }
}

/// Condition problems in one line: `[1].dayOfWeek: …; [2]: …`.
fn problems(p: &[crate::triggers::TriggerProblem]) -> String {
    let all: Vec<String> = p.iter().map(|p| format!("{}: {}", p.path, p.message)).collect();
    format!("is invalid: {}", all.join("; "))
}

/// `dates` of a `ScheduleOnDates`: a non-empty list of ISO-8601 date-times
/// with an offset (`2025-12-24T18:00:00+01:00`, optionally followed by a
/// `[Europe/Paris]` zone id, as Java writes a `ZonedDateTime`).
fn parse_dates(v: Option<&Value>) -> Result<Vec<DateTime<FixedOffset>>, String> {
    let items = match v {
        None => return Err("is required".to_string()),
        Some(Value::String(s)) if crate::template::is_template(s) => {
            return Err("is a template; Baton takes the dates as written: list them".to_string());
        }
        Some(Value::Array(items)) if !items.is_empty() => items,
        Some(Value::Array(_)) => return Err("must list at least one date".to_string()),
        Some(other) => return Err(format!("must be a list of date-times, got {other}")),
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let text = item.as_str().ok_or_else(|| format!("[{i}] must be a date-time string, got {item}"))?;
            if crate::template::is_template(text) {
                return Err(format!("[{i}] is a template; Baton takes the dates as written"));
            }
            parse_zoned(text).ok_or_else(|| {
                format!("[{i}] '{text}' is not an ISO-8601 date-time with an offset (e.g. 2025-12-24T18:00:00+01:00)")
            })
        })
        .collect()
}

/// An ISO-8601 date-time with an offset, optionally with Java's `[Zone/Id]` suffix.
fn parse_zoned(text: &str) -> Option<DateTime<FixedOffset>> {
    let t = text.trim();
    let (base, zone) = match t.strip_suffix(']').and_then(|x| x.split_once('[')) {
        Some((b, z)) => (b, Some(z)),
        None => (t, None),
    };
    let d = DateTime::parse_from_rfc3339(base).ok()?;
    match zone {
        // the zone id, when given, must be one (the offset already places the instant)
        Some(z) => z.parse::<chrono_tz::Tz>().ok().map(|_| d),
        None => Some(d),
    }
}

fn as_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

fn uppercase(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(s.to_ascii_uppercase()),
        other => other.clone(),
    }
}
