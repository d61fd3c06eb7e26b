//! Dates and times as Kestra's conditions write them: Java's
//! `ZonedDateTime` and `OffsetTime` text, and the `n`th weekday of a month
//! (`DayWeekInMonth`, public holidays, the `calendar` template functions).

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, NaiveTime, Weekday};

use super::{DayInMonth, OffsetTime};

/// The `n`th (or last) `dow` of `day`'s month, as Java's `TemporalAdjusters`
/// (`firstInMonth` plus weeks, which may run into the next month).
pub fn nth_in_month(day: NaiveDate, dow: Weekday, which: DayInMonth) -> Option<NaiveDate> {
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
