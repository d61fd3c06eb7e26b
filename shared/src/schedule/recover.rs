//! Which ticks of a Schedule trigger are due at a given moment, given the
//! trigger's stored next date: the normal case (the one tick that just
//! came), recovery after downtime (`recoverMissedSchedules` ALL, LAST,
//! NONE), and `lateMaximumDelay`. Pure: the scheduler stores the result.

use chrono::{DateTime, TimeDelta, Utc};

use super::trigger::{RecoverMissedSchedules, ScheduleTrigger};

/// The ticks to fire now and the trigger's next date afterwards.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DuePlan {
    /// Ticks to fire, in order.
    pub fire: Vec<DateTime<Utc>>,
    /// Missed ticks dropped by `recoverMissedSchedules` (LAST or NONE).
    pub dropped: Vec<DateTime<Utc>>,
    /// Ticks skipped because they are later than `lateMaximumDelay`.
    pub late: Vec<DateTime<Utc>>,
    /// The trigger's next tick after this plan (None if the cron never fires again).
    pub next: Option<DateTime<Utc>>,
}

/// Plans one evaluation of `trigger` at `now`.
///
/// - `next`: the stored next tick (`None` for a trigger never evaluated:
///   nothing fires, the next tick after `now` is returned);
/// - `recovering`: the first evaluation after the scheduler (re)started,
///   when the ticks between `next` and `now` were missed and
///   `recoverMissedSchedules` applies;
/// - `max_ticks`: at most this many due ticks are considered in one
///   evaluation (a long ALL replay proceeds over several evaluations).
pub fn plan_due(
    trigger: &ScheduleTrigger,
    next: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    recovering: bool,
    max_ticks: usize,
) -> DuePlan {
    let cron = &trigger.cron;
    let Some(next) = next else {
        return DuePlan { next: cron.next_after(now), ..DuePlan::default() };
    };
    if next > now {
        return DuePlan { next: Some(next), ..DuePlan::default() };
    }
    let policy = if recovering { trigger.recover_missed_schedules } else { RecoverMissedSchedules::All };
    let mut plan = DuePlan::default();
    let due: Vec<DateTime<Utc>> = match policy {
        RecoverMissedSchedules::All => cron.ticks_between(next, now).take(max_ticks.max(1)).collect(),
        RecoverMissedSchedules::Last | RecoverMissedSchedules::None => {
            let mut all: Vec<DateTime<Utc>> = cron.ticks_between(next, now).take(max_ticks.max(1)).collect();
            // the newest due tick, even beyond `max_ticks`
            let last = cron.previous_before(now + TimeDelta::seconds(1)).filter(|l| *l >= next);
            if let Some(l) = last
                && all.last() != Some(&l)
            {
                all.push(l);
            }
            if policy == RecoverMissedSchedules::Last {
                let keep = all.pop();
                plan.dropped = all;
                keep.into_iter().collect()
            } else {
                plan.dropped = all;
                Vec::new()
            }
        }
    };
    let considered_until = due.last().copied().or(plan.dropped.last().copied());
    plan.next = match considered_until {
        Some(t) => cron.next_after(t),
        None => cron.next_after(now),
    };
    for t in due {
        match trigger.late_maximum_delay {
            Some(max) if t + max < now => plan.late.push(t),
            _ => plan.fire.push(t),
        }
    }
    plan
}
