//! Which ticks of a Schedule trigger are due at a given moment, decided
//! only from the trigger's stored state (the last tick handled), never
//! from what an instance remembers: the tick that just came, the ticks
//! missed since the last one handled (`recoverMissedSchedules` ALL, LAST,
//! NONE), and `lateMaximumDelay`. Pure: the scheduler stores the result.
//!
//! Two ways to ask:
//! - [`Arrival::Tick`]: a Cloud Scheduler tick arrived at `now`. It stands
//!   for the latest cron instant at or before `now`, which is on time by
//!   definition (a tick a trigger receives first is a normal tick);
//! - [`Arrival::Pass`]: a periodic pass (the local server's loop). The
//!   latest instant is on time if it is at most `on_time` old; an older
//!   one was missed (the process was down then).
//!
//! Missed ticks are those strictly after the stored last tick and before
//! the on-time one. A trigger with no stored last tick has missed nothing.
//! A `ScheduleOnDates` tick message is on time for every date of its
//! minute (its job's minute: the dates in the minute before it).

use chrono::{DateTime, TimeDelta, Utc};

use super::trigger::{RecoverMissedSchedules, ScheduleTrigger};

/// Dropped ticks are counted up to this many.
const MAX_COUNTED: usize = 10_000;

/// How the evaluation was triggered (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// A tick message stands for the latest instant at or before `now`.
    Tick,
    /// A periodic pass: the latest instant is on time if at most this old.
    Pass { on_time: TimeDelta },
}

/// The ticks to fire now and what the trigger's state becomes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DuePlan {
    /// Ticks to fire, in order.
    pub fire: Vec<DateTime<Utc>>,
    /// How many missed ticks `recoverMissedSchedules` (LAST or NONE)
    /// dropped (counted up to 10,000).
    pub dropped: usize,
    /// The newest missed tick considered by LAST or NONE.
    pub dropped_until: Option<DateTime<Utc>>,
    /// Ticks skipped because they are later than `lateMaximumDelay`.
    pub late: Vec<DateTime<Utc>>,
    /// Every tick up to and including this one is handled after the plan
    /// (the trigger's new stored last tick); `None` when nothing changed.
    pub handled_until: Option<DateTime<Utc>>,
    /// The trigger's next tick after this plan (None if the cron never fires again).
    pub next: Option<DateTime<Utc>>,
}

/// Plans one evaluation of `trigger` at `now`.
///
/// - `last`: the stored last tick handled (fired, dropped or late), or
///   `None` for a trigger never evaluated (or whose schedule changed);
/// - `max_ticks`: at most this many ticks fire in one evaluation (a long
///   `ALL` replay proceeds over several; `handled_until` says how far).
pub fn plan_due(
    trigger: &ScheduleTrigger,
    last: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    arrival: Arrival,
    max_ticks: usize,
) -> DuePlan {
    let cron = &trigger.cron;
    let max_ticks = max_ticks.max(1);
    // ticks are whole seconds: the latest at or before `now`
    let floor = now - TimeDelta::nanoseconds(i64::from(now.timestamp_subsec_nanos()));
    let latest = cron.previous_before(floor + TimeDelta::seconds(1));
    let Some(current) = latest.filter(|c| last.is_none_or(|l| *c > l)) else {
        // nothing new since the last tick handled
        return DuePlan { next: cron.next_after(now), ..DuePlan::default() };
    };
    let on_time = match arrival {
        Arrival::Tick => true,
        Arrival::Pass { on_time } => now - current <= on_time,
    };
    // a ScheduleOnDates tick message stands for every date of its minute:
    // its Cloud Scheduler job fires on the minute a date falls on (the
    // minute after, when it has seconds), so one job's tick may carry two
    // dates — each is on time, none is missed
    let same_tick: Vec<DateTime<Utc>> = if arrival == Arrival::Tick && cron.is_dates() {
        let minute = floor - TimeDelta::seconds(floor.timestamp().rem_euclid(60));
        let window = minute - TimeDelta::seconds(60);
        cron.ticks_between(window + TimeDelta::seconds(1), current)
            .filter(|t| *t > window && *t < current && last.is_none_or(|l| *t > l))
            .collect()
    } else {
        Vec::new()
    };
    let first_on_time = same_tick.first().copied().unwrap_or(current);
    let mut plan = DuePlan::default();
    let mut candidates: Vec<DateTime<Utc>> = Vec::new();
    let mut capped = false;
    if let Some(l) = last {
        // missed: strictly after the last handled, before the on-time tick(s)
        let newest_missed =
            if on_time { cron.previous_before(first_on_time).filter(|t| *t > l) } else { Some(current) };
        match (trigger.recover_missed_schedules, newest_missed) {
            (_, None) => {}
            (RecoverMissedSchedules::All, Some(_)) => {
                let mut iter = cron.ticks_between(l + TimeDelta::seconds(1), current).filter(|t| *t > l);
                for t in iter.by_ref() {
                    if on_time && t >= first_on_time {
                        break;
                    }
                    candidates.push(t);
                    if candidates.len() >= max_ticks {
                        capped = iter.next().is_some_and(|n| n < current || !on_time);
                        break;
                    }
                }
            }
            (policy, Some(newest)) => {
                // counted, not listed: a long downtime of a fast cron drops many
                plan.dropped =
                    cron.ticks_between(l + TimeDelta::seconds(1), newest).filter(|t| *t > l).take(MAX_COUNTED).count();
                if policy == RecoverMissedSchedules::Last {
                    plan.dropped -= 1;
                    candidates.push(newest);
                }
                plan.dropped_until = Some(newest);
            }
        }
    }
    if on_time && !capped {
        candidates.extend(same_tick);
        candidates.push(current);
    }
    for t in candidates {
        match trigger.late_maximum_delay {
            Some(max) if t + max < now => plan.late.push(t),
            _ => plan.fire.push(t),
        }
    }
    // a trigger seen first off time starts from here without firing
    let handled = plan.fire.iter().chain(&plan.late).chain(&plan.dropped_until).max().copied();
    plan.handled_until = if capped { handled } else { Some(handled.map_or(current, |h| h.max(current))) };
    plan.next = match plan.handled_until {
        Some(h) if capped => cron.next_after(h),
        _ => cron.next_after(now),
    };
    plan
}
