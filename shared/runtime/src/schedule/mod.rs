//! Schedules, pure: cron expressions in a time zone and the ticks they
//! produce across daylight-saving changes ([`cron`]), the Schedule trigger
//! and the trigger context of its executions ([`trigger`]), which ticks are
//! due after downtime ([`recover`]) and backfill planning ([`backfill`]).
//! The scheduler loop and the backfill runner that act on these live in
//! `runtime::scheduler` and `runtime::backfill`.

pub mod backfill;
pub mod cron;
pub mod recover;
pub mod trigger;

#[cfg(test)]
mod dates_tests;
#[cfg(test)]
mod tests;

pub use cron::{Cron, CronError};
pub use recover::{Arrival, DuePlan, plan_due};
pub use trigger::{RecoverMissedSchedules, SCHEDULE_TYPE, ScheduleDates, ScheduleError, ScheduleTrigger};
