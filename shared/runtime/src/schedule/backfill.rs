//! Backfill planning: the ticks of a trigger between a start and an end
//! (both inclusive, in order), the inputs each execution gets (the
//! backfill's override the trigger's), and the dates users type (`2019-01-01`,
//! `2019-01-01T09:00`, full ISO with an offset).

use chrono::{DateTime, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, TimeZone, Utc};
use serde_json::{Map, Value};

use super::cron::Cron;

/// A backfill larger than this is refused (narrow the window).
pub const MAX_BACKFILL_TICKS: usize = 100_000;

/// Why a backfill window cannot be planned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("the backfill end {end} is before its start {start}")]
    Window { start: String, end: String },
    #[error("the backfill window holds more than {max} ticks; narrow it")]
    TooMany { max: usize },
    #[error("'{0}' is not a date: use 2019-01-01, 2019-01-01T09:00 or 2019-01-01T09:00:00Z")]
    Date(String),
}

/// The ticks `t` of `cron` with `start <= t <= end`, in order.
pub fn plan_ticks(cron: &Cron, start: DateTime<Utc>, end: DateTime<Utc>) -> Result<Vec<DateTime<Utc>>, PlanError> {
    if end < start {
        return Err(PlanError::Window { start: cron.format(start), end: cron.format(end) });
    }
    let ticks: Vec<DateTime<Utc>> = cron.ticks_between(start, end).take(MAX_BACKFILL_TICKS + 1).collect();
    if ticks.len() > MAX_BACKFILL_TICKS {
        return Err(PlanError::TooMany { max: MAX_BACKFILL_TICKS });
    }
    Ok(ticks)
}

/// The inputs of a backfill execution: the trigger's, overridden key by key
/// by the backfill's (Kestra: "backfill inputs win").
pub fn merge_inputs(trigger: &Map<String, Value>, backfill: &Map<String, Value>) -> Map<String, Value> {
    let mut out = trigger.clone();
    for (k, v) in backfill {
        out.insert(k.clone(), v.clone());
    }
    out
}

/// Which end of a backfill window a date is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    Start,
    /// A bare date means the end of that day (inclusive).
    End,
}

/// Parses a backfill bound: an ISO date-time with an offset or `Z`, or a
/// date-time or date without one, read on the wall clock of the trigger's
/// zone. A bare date is the day's first second as a start and its last
/// second as an end.
pub fn parse_bound(s: &str, cron: &Cron, bound: Bound) -> Result<DateTime<Utc>, PlanError> {
    let t = s.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return Ok(d.with_timezone(&Utc));
    }
    let (naive, end_of_day) = match ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(t, f).ok())
    {
        Some(n) => (n, false),
        None => {
            let day = NaiveDate::parse_from_str(t, "%Y-%m-%d").map_err(|_| PlanError::Date(s.to_string()))?;
            match bound {
                Bound::Start => (day.and_time(NaiveTime::MIN), false),
                Bound::End => {
                    (day.succ_opt().ok_or_else(|| PlanError::Date(s.to_string()))?.and_time(NaiveTime::MIN), true)
                }
            }
        }
    };
    let instant = match cron.timezone().from_local_datetime(&naive) {
        LocalResult::Single(d) => d.with_timezone(&Utc),
        LocalResult::Ambiguous(a, _) => a.with_timezone(&Utc),
        // in a gap: the first instant after it
        LocalResult::None => (1..=180)
            .find_map(|m| cron.timezone().from_local_datetime(&(naive + TimeDelta::minutes(m))).earliest())
            .map(|d| d.with_timezone(&Utc))
            .ok_or_else(|| PlanError::Date(s.to_string()))?,
    };
    Ok(if end_of_day { instant - TimeDelta::seconds(1) } else { instant })
}
