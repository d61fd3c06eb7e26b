//! Kestra 2.0's calendar functions, written for trigger `when`
//! expressions (and usable in any template): `isWeekend`,
//! `isPublicHoliday`, `isDayWeekInMonth`, `isLastWorkingDay`, `dayOfWeek`,
//! `dayOfMonth`, `monthOfYear`, `hourOfDay`.
//!
//! The date argument is read in its own offset, as Kestra reads a
//! `ZonedDateTime` (`trigger.date` is the tick in the Schedule's zone): an
//! ISO date-time with an offset (optionally `[Region/Zone]`), a local
//! date-time, a plain ISO date, or epoch seconds (UTC). Public holidays come
//! from Baton's offline calendar (`crate::conditions::holidays`, the
//! countries it lists); any other country is an error naming them.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Timelike, Weekday};
use minijinja::{Environment, Error, ErrorKind, Value};

use crate::conditions::dates::{nth_in_month, parse_date_time};
use crate::conditions::holidays;

fn err(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

/// The local date-time of a date argument (see the module doc).
fn local(function: &str, v: &Value) -> Result<NaiveDateTime, Error> {
    if let Some(s) = v.as_str() {
        let s = s.trim();
        if let Some(d) = parse_date_time(s) {
            return Ok(d.naive_local());
        }
        for f in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S%.f"] {
            if let Ok(d) = NaiveDateTime::parse_from_str(s, f) {
                return Ok(d);
            }
        }
        if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
            return Ok(d.and_time(chrono::NaiveTime::MIN));
        }
        return Err(err(format!("{function}: '{s}' is not an ISO-8601 date or date-time")));
    }
    if let Ok(secs) = f64::try_from(v.clone())
        && let Some(d) = chrono::DateTime::from_timestamp(secs.floor() as i64, 0)
    {
        return Ok(d.naive_utc());
    }
    Err(err(format!("{function}: expected a date (e.g. trigger.date), got {}", v.kind())))
}

fn is_weekend(d: NaiveDate) -> bool {
    matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

fn holiday(function: &str, d: NaiveDate, country: &str, sub: Option<&str>) -> Result<bool, Error> {
    holidays::is_holiday(country, sub, d).map_err(|m| err(format!("{function}: {m}")))
}

/// A working day: not a weekend, and not a public holiday of `country` when one is given.
fn working(d: NaiveDate, country: Option<&str>, sub: Option<&str>) -> Result<bool, Error> {
    if is_weekend(d) {
        return Ok(false);
    }
    match country {
        Some(c) => Ok(!holiday("isLastWorkingDay", d, c, sub)?),
        None => Ok(true),
    }
}

fn weekday_of(function: &str, s: &str) -> Result<Weekday, Error> {
    crate::conditions::parse_weekday(s)
        .map_err(|_| err(format!("{function}: '{s}' is not a day of the week (MONDAY … SUNDAY)")))
}

/// `isLastWorkingDay(date[, countryCode[, subDivision]])`: the date is a
/// working day and no later day of its month is (weekends, and that
/// country's public holidays when given, are not working days).
fn is_last_working_day(date: Value, country: Option<String>, sub: Option<String>) -> Result<bool, Error> {
    let d = local("isLastWorkingDay", &date)?.date();
    if !working(d, country.as_deref(), sub.as_deref())? {
        return Ok(false);
    }
    let mut next = d + Duration::days(1);
    while next.month() == d.month() {
        if working(next, country.as_deref(), sub.as_deref())? {
            return Ok(false);
        }
        next += Duration::days(1);
    }
    Ok(true)
}

/// Registers the calendar functions.
pub fn register(env: &mut Environment<'static>) {
    env.add_function("isWeekend", |date: Value| -> Result<bool, Error> {
        Ok(is_weekend(local("isWeekend", &date)?.date()))
    });
    env.add_function("isPublicHoliday", |date: Value, country: String, sub: Option<String>| -> Result<bool, Error> {
        let d = local("isPublicHoliday", &date)?.date();
        holiday("isPublicHoliday", d, &country, sub.as_deref())
    });
    env.add_function("isDayWeekInMonth", |date: Value, day_of_week: String, position: String| -> Result<bool, Error> {
        let d = local("isDayWeekInMonth", &date)?.date();
        let dow = weekday_of("isDayWeekInMonth", &day_of_week)?;
        let which = crate::conditions::parse_day_in_month(&position).map_err(|_| {
            err(format!("isDayWeekInMonth: '{position}' is not a position (FIRST, SECOND, THIRD, FOURTH, LAST)"))
        })?;
        Ok(nth_in_month(d, dow, which) == Some(d))
    });
    env.add_function("isLastWorkingDay", is_last_working_day);
    env.add_function("dayOfWeek", |date: Value| -> Result<String, Error> {
        let name = match local("dayOfWeek", &date)?.weekday() {
            Weekday::Mon => "MONDAY",
            Weekday::Tue => "TUESDAY",
            Weekday::Wed => "WEDNESDAY",
            Weekday::Thu => "THURSDAY",
            Weekday::Fri => "FRIDAY",
            Weekday::Sat => "SATURDAY",
            Weekday::Sun => "SUNDAY",
        };
        Ok(name.to_string())
    });
    env.add_function("dayOfMonth", |date: Value| -> Result<u32, Error> { Ok(local("dayOfMonth", &date)?.day()) });
    env.add_function("monthOfYear", |date: Value| -> Result<u32, Error> { Ok(local("monthOfYear", &date)?.month()) });
    env.add_function("hourOfDay", |date: Value| -> Result<u32, Error> { Ok(local("hourOfDay", &date)?.hour()) });
}

#[cfg(test)]
mod tests {
    use crate::{NoHost, Renderer};

    /// Renders through Baton's renderer (Pebble's printing: `true`, not `True`).
    fn eval(expr: &str, date: &str) -> String {
        Renderer::new()
            .render_str(expr, &serde_json::json!({ "d": date }), &NoHost)
            .unwrap_or_else(|e| format!("ERR {e}"))
    }

    #[test]
    fn weekdays_and_fields_read_the_date_in_its_own_offset() {
        // Saturday 2026-01-03 00:30 in Paris is Friday 23:30 UTC
        assert_eq!(eval("{{ isWeekend(d) }}", "2026-01-03T00:30:00+01:00[Europe/Paris]"), "true");
        assert_eq!(eval("{{ isWeekend(d) }}", "2026-01-02T23:30:00Z"), "false");
        assert_eq!(eval("{{ dayOfWeek(d) }}", "2026-01-03T00:30:00+01:00"), "SATURDAY");
        assert_eq!(
            eval("{{ dayOfMonth(d) }}-{{ monthOfYear(d) }}-{{ hourOfDay(d) }}", "2026-03-09T17:05:00Z"),
            "9-3-17"
        );
        assert_eq!(eval("{{ dayOfWeek(d) }}", "2026-03-09"), "MONDAY");
    }

    #[test]
    fn holidays_positions_and_last_working_days() {
        assert_eq!(eval("{{ isPublicHoliday(d, 'US') }}", "2026-07-04T10:00:00Z"), "true");
        assert_eq!(eval("{{ isPublicHoliday(d, 'FR') }}", "2026-07-04T10:00:00Z"), "false");
        assert!(eval("{{ isPublicHoliday(d, 'JP') }}", "2026-07-04T10:00:00Z").contains("not supported"));
        assert_eq!(eval("{{ isDayWeekInMonth(d, 'MONDAY', 'FIRST') }}", "2026-03-02T09:00:00Z"), "true");
        assert_eq!(eval("{{ isDayWeekInMonth(d, 'MONDAY', 'LAST') }}", "2026-03-30T09:00:00Z"), "true");
        assert_eq!(eval("{{ isDayWeekInMonth(d, 'MONDAY', 'FIRST') }}", "2026-03-09T09:00:00Z"), "false");
        // 2026-01-31 is a Saturday: Friday the 30th is the last working day
        assert_eq!(eval("{{ isLastWorkingDay(d) }}", "2026-01-30T09:00:00Z"), "true");
        assert_eq!(eval("{{ isLastWorkingDay(d) }}", "2026-01-29T09:00:00Z"), "false");
        assert_eq!(eval("{{ isLastWorkingDay(d) }}", "2026-01-31T09:00:00Z"), "false");
        // 2026-12-31 is a Thursday and not a US holiday
        assert_eq!(eval("{{ isLastWorkingDay(d, 'US') }}", "2026-12-31T09:00:00Z"), "true");
        assert!(eval("{{ isWeekend(d) }}", "next tuesday").contains("not an ISO-8601"));
    }
}
