//! The date conditions (`DayWeek`, `DayWeekInMonth`, `DateTimeBetween`,
//! `TimeBetween`, `Weekend`, `PublicHoliday`): the `date` property is
//! rendered (by default `{{ trigger.date }}`, the tick in the trigger's
//! zone) and read as Kestra's `DateUtils` does — an ISO date-time with an
//! offset, or for day-based conditions also a plain ISO date; the day is
//! the date's own local day.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, Timelike, Weekday};

use baton_model::conditions::dates::{nth_in_month, parse_date_time};

use super::{Condition, ConditionContext, ConditionError, OffsetTime, Prop};

/// Tests a date condition.
pub(super) fn test(c: &Condition, cx: &ConditionContext) -> Result<bool, ConditionError> {
    let name = c.short_name();
    match c {
        Condition::DayWeek { date, day_of_week } => {
            let day = local_date(name, date, cx)?;
            let want = resolve(name, "dayOfWeek", day_of_week, cx, baton_model::conditions::parse::parse_weekday)?;
            Ok(day.weekday() == want)
        }
        Condition::DayWeekInMonth { date, day_of_week, day_in_month } => {
            let day = local_date(name, date, cx)?;
            let dow = resolve(name, "dayOfWeek", day_of_week, cx, baton_model::conditions::parse::parse_weekday)?;
            let which =
                resolve(name, "dayInMonth", day_in_month, cx, baton_model::conditions::parse::parse_day_in_month)?;
            Ok(nth_in_month(day, dow, which) == Some(day))
        }
        Condition::Weekend { date } => {
            let day = local_date(name, date, cx)?;
            Ok(matches!(day.weekday(), Weekday::Sat | Weekday::Sun))
        }
        Condition::DateTimeBetween { date, after, before } => {
            let at = zoned(name, date, cx)?;
            let after = after
                .as_ref()
                .map(|p| resolve(name, "after", p, cx, baton_model::conditions::parse::parse_zoned))
                .transpose()?;
            let before = before
                .as_ref()
                .map(|p| resolve(name, "before", p, cx, baton_model::conditions::parse::parse_zoned))
                .transpose()?;
            if after.is_none() && before.is_none() {
                return Err(invalid(name, "Invalid condition with no before nor after"));
            }
            Ok(after.is_none_or(|a| at >= a) && before.is_none_or(|b| at <= b))
        }
        Condition::TimeBetween { date, after, before } => {
            let at = zoned(name, date, cx)?;
            let t = instant_key(&OffsetTime { time: at.time(), offset: *at.offset() });
            let after = after
                .as_ref()
                .map(|p| resolve(name, "after", p, cx, baton_model::conditions::parse::parse_offset_time))
                .transpose()?;
            let before = before
                .as_ref()
                .map(|p| resolve(name, "before", p, cx, baton_model::conditions::parse::parse_offset_time))
                .transpose()?;
            if after.is_none() && before.is_none() {
                return Err(invalid(name, "Invalid condition with no before nor after"));
            }
            Ok(after.is_none_or(|a| t > instant_key(&a)) && before.is_none_or(|b| t < instant_key(&b)))
        }
        Condition::PublicHoliday { date, country, sub_division } => {
            let day = local_date(name, date, cx)?;
            let country = render(name, "country", country, cx)?;
            let sub = sub_division.as_ref().map(|s| render(name, "subDivision", s, cx)).transpose()?;
            baton_model::conditions::holidays::is_holiday(&country, sub.as_deref(), day)
                .map_err(|message| ConditionError::Property { condition: name, property: "country", message })
        }
        _ => Err(invalid(name, "not a date condition")),
    }
}

/// Java's `OffsetTime` ordering: the time of day as an instant (nanoseconds
/// of the day minus the offset).
fn instant_key(t: &OffsetTime) -> i64 {
    let nanos = t.time.num_seconds_from_midnight() as i64 * 1_000_000_000 + t.time.nanosecond() as i64;
    nanos - t.offset.local_minus_utc() as i64 * 1_000_000_000
}

fn invalid(condition: &'static str, message: &str) -> ConditionError {
    ConditionError::Invalid { condition, message: message.to_string() }
}

fn render(
    condition: &'static str,
    property: &'static str,
    s: &str,
    cx: &ConditionContext,
) -> Result<String, ConditionError> {
    cx.renderer.render_str(s, cx.variables, cx.host).map_err(|e| ConditionError::Property {
        condition,
        property,
        message: e.to_string(),
    })
}

/// A `Property<T>`'s value: the literal, or the rendered template parsed by `f`.
pub(super) fn resolve<T: Clone>(
    condition: &'static str,
    property: &'static str,
    p: &Prop<T>,
    cx: &ConditionContext,
    f: fn(&str) -> Result<T, String>,
) -> Result<T, ConditionError> {
    match p {
        Prop::Fixed(v) => Ok(v.clone()),
        Prop::Template(t) => {
            let s = render(condition, property, t, cx)?;
            f(s.trim()).map_err(|message| ConditionError::Property { condition, property, message })
        }
    }
}

fn zoned(condition: &'static str, date: &str, cx: &ConditionContext) -> Result<DateTime<FixedOffset>, ConditionError> {
    let s = render(condition, "date", date, cx)?;
    parse_date_time(s.trim()).ok_or_else(|| ConditionError::Property {
        condition,
        property: "date",
        message: format!("'{s}' is not an ISO-8601 date-time with a zone"),
    })
}

fn local_date(condition: &'static str, date: &str, cx: &ConditionContext) -> Result<NaiveDate, ConditionError> {
    let s = render(condition, "date", date, cx)?;
    let s = s.trim();
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d);
    }
    parse_date_time(s).map(|d| d.date_naive()).ok_or_else(|| ConditionError::Property {
        condition,
        property: "date",
        message: format!("'{s}' is not an ISO-8601 date or date-time with a zone"),
    })
}
