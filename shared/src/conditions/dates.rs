//! The date conditions (`DayWeek`, `DayWeekInMonth`, `DateTimeBetween`,
//! `TimeBetween`, `Weekend`, `PublicHoliday`): the `date` property is
//! rendered (by default `{{ trigger.date }}`, the tick in the trigger's
//! zone) and read as Kestra's `DateUtils` does — an ISO date-time with an
//! offset, or for day-based conditions also a plain ISO date; the day is
//! the date's own local day.

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, NaiveTime, Timelike, Weekday};

use super::{Condition, ConditionContext, ConditionError, DayInMonth, OffsetTime, Prop};

/// Tests a date condition.
pub(super) fn test(c: &Condition, cx: &ConditionContext) -> Result<bool, ConditionError> {
    let name = c.short_name();
    match c {
        Condition::DayWeek { date, day_of_week } => {
            let day = local_date(name, date, cx)?;
            let want = resolve(name, "dayOfWeek", day_of_week, cx, super::parse::parse_weekday)?;
            Ok(day.weekday() == want)
        }
        Condition::DayWeekInMonth { date, day_of_week, day_in_month } => {
            let day = local_date(name, date, cx)?;
            let dow = resolve(name, "dayOfWeek", day_of_week, cx, super::parse::parse_weekday)?;
            let which = resolve(name, "dayInMonth", day_in_month, cx, super::parse::parse_day_in_month)?;
            Ok(nth_in_month(day, dow, which) == Some(day))
        }
        Condition::Weekend { date } => {
            let day = local_date(name, date, cx)?;
            Ok(matches!(day.weekday(), Weekday::Sat | Weekday::Sun))
        }
        Condition::DateTimeBetween { date, after, before } => {
            let at = zoned(name, date, cx)?;
            let after = after.as_ref().map(|p| resolve(name, "after", p, cx, super::parse::parse_zoned)).transpose()?;
            let before =
                before.as_ref().map(|p| resolve(name, "before", p, cx, super::parse::parse_zoned)).transpose()?;
            if after.is_none() && before.is_none() {
                return Err(invalid(name, "Invalid condition with no before nor after"));
            }
            Ok(after.is_none_or(|a| at >= a) && before.is_none_or(|b| at <= b))
        }
        Condition::TimeBetween { date, after, before } => {
            let at = zoned(name, date, cx)?;
            let t = instant_key(&OffsetTime { time: at.time(), offset: *at.offset() });
            let after =
                after.as_ref().map(|p| resolve(name, "after", p, cx, super::parse::parse_offset_time)).transpose()?;
            let before =
                before.as_ref().map(|p| resolve(name, "before", p, cx, super::parse::parse_offset_time)).transpose()?;
            if after.is_none() && before.is_none() {
                return Err(invalid(name, "Invalid condition with no before nor after"));
            }
            Ok(after.is_none_or(|a| t > instant_key(&a)) && before.is_none_or(|b| t < instant_key(&b)))
        }
        Condition::PublicHoliday { date, country, sub_division } => {
            let day = local_date(name, date, cx)?;
            let country = render(name, "country", country, cx)?;
            let sub = sub_division.as_ref().map(|s| render(name, "subDivision", s, cx)).transpose()?;
            super::holidays::is_holiday(&country, sub.as_deref(), day).map_err(|message| ConditionError::Property {
                condition: name,
                property: "country",
                message,
            })
        }
        _ => Err(invalid(name, "not a date condition")),
    }
}

/// The `n`th (or last) `dow` of `day`'s month, as Java's `TemporalAdjusters`
/// (`firstInMonth` plus weeks, which may run into the next month).
pub(crate) fn nth_in_month(day: NaiveDate, dow: Weekday, which: DayInMonth) -> Option<NaiveDate> {
    let first_of_month = day.with_day(1)?;
    let shift = (7 + dow.num_days_from_monday() as i64 - first_of_month.weekday().num_days_from_monday() as i64) % 7;
    let first = first_of_month + Duration::days(shift);
    Some(match which {
        DayInMonth::First => first,
        DayInMonth::Second => first + Duration::weeks(1),
        DayInMonth::Third => first + Duration::weeks(2),
        DayInMonth::Fourth => first + Duration::weeks(3),
        DayInMonth::Last => {
            let next_month = if day.month() == 12 {
                NaiveDate::from_ymd_opt(day.year() + 1, 1, 1)?
            } else {
                NaiveDate::from_ymd_opt(day.year(), day.month() + 1, 1)?
            };
            let last = next_month.pred_opt()?;
            let back = (7 + last.weekday().num_days_from_monday() as i64 - dow.num_days_from_monday() as i64) % 7;
            last - Duration::days(back)
        }
    })
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

/// Java's `ZonedDateTime.parse`: an ISO date-time with an offset (or `Z`),
/// optionally followed by a `[Region/Zone]` (the offset is what counts).
pub fn parse_date_time(s: &str) -> Option<DateTime<FixedOffset>> {
    let s = match s.find('[') {
        Some(i) if s.ends_with(']') => &s[..i],
        _ => s,
    };
    DateTime::parse_from_rfc3339(s).ok().or_else(|| DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M%:z").ok())
}

/// Java's `OffsetTime.parse`: `HH:mm[:ss[.fff]]` then an offset (or `Z`).
pub fn parse_offset_time(s: &str) -> Option<OffsetTime> {
    let split = s.rfind(['+', '-', 'Z'])?;
    let (time, off) = s.split_at(split);
    let time =
        NaiveTime::parse_from_str(time, "%H:%M:%S%.f").or_else(|_| NaiveTime::parse_from_str(time, "%H:%M")).ok()?;
    let offset = if off == "Z" {
        FixedOffset::east_opt(0)?
    } else {
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let digits = &off[1..];
        let (h, m) = digits.split_once(':').unwrap_or((digits, "0"));
        let secs = h.parse::<i32>().ok()? * 3600 + m.parse::<i32>().ok()? * 60;
        FixedOffset::east_opt(sign * secs)?
    };
    Some(OffsetTime { time, offset })
}
