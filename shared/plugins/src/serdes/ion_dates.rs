//! Ion date-times as Kestra's writers print them in a `timeZoneId`.
//!
//! Kestra's Ion reader (core `serializers/ion/IonParser.java`) makes an
//! Ion timestamp with no offset, an unknown one (`-00:00`) or `Z` an
//! `Instant` — a `LocalDate` when it falls on midnight UTC — and one with
//! any other offset a `ZonedDateTime`; a string annotated with a
//! `java.time` type (`ZonedDateTime::"…"`, as Kestra writes them) is that
//! type. Jackson, given the task's time zone (`setTimeZone`, with
//! `WRITE_DATES_WITH_CONTEXT_TIME_ZONE` on by default), then prints an
//! `Instant` as ISO_INSTANT (UTC, fractions in groups of three), a
//! `LocalDate` as its date, and a `ZonedDateTime`/`OffsetDateTime` moved
//! to the time zone as ISO_OFFSET_DATE_TIME. Local dates and times have
//! no instant and keep their text.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, SecondsFormat, Timelike, Utc};
use chrono_tz::Tz;
use serde_json::Value;

use crate::TaskError;
use crate::core::ion_text::DateToken;

/// `timeZoneId`, UTC when not set (Kestra takes its server's zone).
pub fn zone(id: Option<&str>) -> Result<Tz, TaskError> {
    match id.map(str::trim).filter(|z| !z.is_empty()) {
        None => Ok(Tz::UTC),
        Some(z) => z
            .parse()
            .map_err(|_| TaskError::property("timeZoneId", format!("'{z}' is not a time zone (e.g. Europe/Paris)"))),
    }
}

/// The text Kestra's writer gives a date-time in `zone`; `None` keeps the
/// text as it is (a token that is not one).
pub fn in_zone(token: DateToken, zone: Tz) -> Option<Value> {
    let text = match token {
        DateToken::Timestamp(t) => ion_timestamp(t, zone)?,
        DateToken::Annotated { annotation, text } => match annotation {
            "Instant" => iso_instant(DateTime::parse_from_rfc3339(text).ok()?.to_utc()),
            "OffsetDateTime" => offset_date_time(DateTime::parse_from_rfc3339(text).ok()?, zone),
            // ZonedDateTime's text may end with its region: `…+01:00[Europe/Paris]`
            "ZonedDateTime" => {
                let instant = text.split_once('[').map_or(text, |(t, _)| t);
                offset_date_time(DateTime::parse_from_rfc3339(instant).ok()?, zone)
            }
            _ => return None,
        },
    };
    Some(Value::String(text))
}

/// An Ion timestamp token (`2024-01-02`, `2024-01-02T03:04Z`,
/// `2024-01-02T03:04:05.5+02:00`, `2024T`, `2024-01T`).
fn ion_timestamp(tok: &str, zone: Tz) -> Option<String> {
    let t = tok.trim_end_matches('T');
    // year or month precision, and dates: midnight of an unknown offset
    let date = match t.len() {
        4 => NaiveDate::from_ymd_opt(t.parse().ok()?, 1, 1),
        7 => NaiveDate::parse_from_str(&format!("{t}-01"), "%Y-%m-%d").ok(),
        10 => NaiveDate::parse_from_str(t, "%Y-%m-%d").ok(),
        _ => None,
    };
    if let Some(d) = date {
        return Some(d.format("%Y-%m-%d").to_string());
    }
    let (local, offset) = split_offset(t)?;
    let local = NaiveDateTime::parse_from_str(local, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(local, "%Y-%m-%dT%H:%M"))
        .ok()?;
    match offset {
        // `Z`, `+00:00` or unknown: an Instant
        None | Some(0) => {
            let instant = local.and_utc();
            if instant.num_seconds_from_midnight() == 0 && instant.nanosecond() == 0 {
                Some(instant.format("%Y-%m-%d").to_string())
            } else {
                Some(iso_instant(instant))
            }
        }
        Some(minutes) => {
            let offset = FixedOffset::east_opt(minutes * 60)?;
            let at = local.and_local_timezone(offset).single()?;
            Some(offset_date_time(at, zone))
        }
    }
}

/// The local part and the offset in minutes (`None`: `Z` or `-00:00`,
/// both read as UTC by Kestra).
fn split_offset(t: &str) -> Option<(&str, Option<i32>)> {
    if let Some(local) = t.strip_suffix('Z') {
        return Some((local, None));
    }
    let at = t.len().checked_sub(6)?;
    let (local, off) = t.split_at(at);
    let sign = match off.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let (h, m) = off[1..].split_once(':')?;
    let minutes = h.parse::<i32>().ok()? * 60 + m.parse::<i32>().ok()?;
    if sign < 0 && minutes == 0 {
        return Some((local, None));
    }
    Some((local, Some(sign * minutes)))
}

/// Java's ISO_INSTANT: UTC with `Z`, fractions in groups of three digits.
fn iso_instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Java's ISO_OFFSET_DATE_TIME of `t` moved to `zone`: seconds always,
/// the fraction without trailing zeros, `Z` for a zero offset.
fn offset_date_time(t: DateTime<FixedOffset>, zone: Tz) -> String {
    let t = t.with_timezone(&zone).fixed_offset();
    let mut out = t.format("%Y-%m-%dT%H:%M:%S").to_string();
    let nanos = t.nanosecond() % 1_000_000_000;
    if nanos != 0 {
        let frac = format!("{nanos:09}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    let secs = t.offset().local_minus_utc();
    if secs == 0 {
        out.push('Z');
    } else {
        let sign = if secs < 0 { '-' } else { '+' };
        let a = secs.unsigned_abs();
        out.push_str(&format!("{sign}{:02}:{:02}", a / 3600, a / 60 % 60));
        if !a.is_multiple_of(60) {
            out.push_str(&format!(":{:02}", a % 60));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(tok: &str, zone: &str) -> String {
        match in_zone(DateToken::Timestamp(tok), zone.parse().unwrap()) {
            Some(Value::String(s)) => s,
            other => panic!("{tok}: {other:?}"),
        }
    }

    #[test]
    fn timestamps_with_an_offset_move_to_the_zone() {
        assert_eq!(ts("2024-01-02T03:04:05+02:00", "Europe/Paris"), "2024-01-02T02:04:05+01:00");
        assert_eq!(ts("2024-07-02T03:04:05.250+02:00", "Europe/Paris"), "2024-07-02T03:04:05.25+02:00");
        assert_eq!(ts("2024-01-02T03:04:05+02:00", "UTC"), "2024-01-02T01:04:05Z");
        assert_eq!(ts("2024-01-02T03:04-05:00", "Asia/Kolkata"), "2024-01-02T13:34:00+05:30");
    }

    #[test]
    fn utc_and_unknown_offsets_are_instants_and_midnight_a_date() {
        assert_eq!(ts("2024-01-02T03:04:05Z", "Europe/Paris"), "2024-01-02T03:04:05Z");
        assert_eq!(ts("2024-01-02T03:04:05.5-00:00", "Europe/Paris"), "2024-01-02T03:04:05.500Z");
        assert_eq!(ts("2024-01-02T03:04:05+00:00", "Europe/Paris"), "2024-01-02T03:04:05Z");
        assert_eq!(ts("2024-01-02T00:00:00Z", "Europe/Paris"), "2024-01-02");
        assert_eq!(ts("2024-01-02", "Europe/Paris"), "2024-01-02");
        assert_eq!(ts("2024-01T", "UTC"), "2024-01-01");
    }

    #[test]
    fn annotated_strings_follow_their_java_type() {
        let paris: Tz = "Europe/Paris".parse().unwrap();
        let a = |annotation, text| in_zone(DateToken::Annotated { annotation, text }, paris);
        assert_eq!(
            a("ZonedDateTime", "2024-01-02T03:04:05-05:00[America/New_York]"),
            Some(Value::String("2024-01-02T09:04:05+01:00".into()))
        );
        assert_eq!(a("Instant", "2024-01-02T03:04:05Z"), Some(Value::String("2024-01-02T03:04:05Z".into())));
        assert_eq!(a("LocalDateTime", "2024-01-02T03:04:05"), None);
        assert!(zone(Some("Mars/Olympus")).is_err());
    }
}
