//! Dates serialized as Kestra writes them — RFC 3339 in UTC with `Z`, the
//! fraction of a second only as long as it needs (none, 3, 6 or 9 digits)
//! — as one string. The text is chrono's own; its `Serialize` hands the
//! serializer the date in a dozen small pieces, each escaped on its own,
//! which a profile of `baton run` found to be about 7 % of a task run's
//! instructions (a task run's state holds three dates or more, written at
//! each save). Reading stays chrono's.
//!
//! `#[serde(serialize_with = "crate::date_text::write")]` on a
//! `DateTime<Utc>`, `crate::date_text::write_opt` on an `Option` of one.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serializer;

/// One date, as one string.
pub fn write<S: Serializer>(date: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    match Text::of(date) {
        Some(text) => s.serialize_str(text.as_str()),
        None => s.serialize_str(&date.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
    }
}

/// A date's text written digit by digit (chrono's `to_rfc3339_opts` goes
/// through `fmt`: ~900 instructions a date, and a task run's saves write
/// about fifteen).
struct Text {
    buf: [u8; 30],
    len: usize,
}

impl Text {
    /// `None` for a year outside 0..=9999, which chrono writes with a sign.
    fn of(date: &DateTime<Utc>) -> Option<Text> {
        use chrono::{Datelike, Timelike};
        let year = u32::try_from(date.year()).ok().filter(|y| *y <= 9999)?;
        // a leap second: chrono holds it as 59 s and over a billion nanoseconds
        let (second, nanos) = match date.nanosecond() {
            n if n >= 1_000_000_000 => (60, n - 1_000_000_000),
            n => (date.second(), n),
        };
        let date_part = date.date_naive();
        let mut t = Text { buf: [0; 30], len: 0 };
        t.two(year / 100);
        t.two(year % 100);
        t.byte(b'-');
        t.two(date_part.month());
        t.byte(b'-');
        t.two(date_part.day());
        t.byte(b'T');
        let seconds = date.num_seconds_from_midnight();
        t.two(seconds / 3600);
        t.byte(b':');
        t.two(seconds / 60 % 60);
        t.byte(b':');
        t.two(second);
        if nanos != 0 {
            t.byte(b'.');
            if nanos % 1_000_000 == 0 {
                t.three(nanos / 1_000_000);
            } else if nanos % 1_000 == 0 {
                t.three(nanos / 1_000_000);
                t.three(nanos / 1_000 % 1_000);
            } else {
                t.three(nanos / 1_000_000);
                t.three(nanos / 1_000 % 1_000);
                t.three(nanos % 1_000);
            }
        }
        t.byte(b'Z');
        Some(t)
    }

    /// Two digits of `v` (below 100): constant divisors, which compile to
    /// multiplications.
    fn two(&mut self, v: u32) {
        self.byte(b'0' + (v / 10) as u8);
        self.byte(b'0' + (v % 10) as u8);
    }

    /// Three digits of `v` (below 1000).
    fn three(&mut self, v: u32) {
        self.byte(b'0' + (v / 100) as u8);
        self.two(v % 100);
    }

    fn byte(&mut self, b: u8) {
        self.buf[self.len] = b;
        self.len += 1;
    }

    fn as_str(&self) -> &str {
        // ASCII digits and separators only
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }
}

/// A date or none (`null`, where the field is not skipped).
pub fn write_opt<S: Serializer>(date: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match date {
        Some(d) => write(d, s),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, TimeZone};
    use serde::Serialize;

    use super::*;

    #[derive(Serialize)]
    struct Ours(#[serde(serialize_with = "write")] DateTime<Utc>);

    #[test]
    fn the_text_is_chrono_s_own() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 29).expect("date");
        let dates = [
            Utc.with_ymd_and_hms(2026, 11, 29, 16, 5, 58).single().expect("date"),
            Utc.with_ymd_and_hms(1970, 1, 1, 0, 0, 0).single().expect("date"),
            day.and_hms_milli_opt(23, 59, 59, 120).expect("time").and_utc(),
            day.and_hms_micro_opt(1, 2, 3, 400_500).expect("time").and_utc(),
            day.and_hms_nano_opt(1, 2, 3, 7).expect("time").and_utc(),
            // a leap second, as chrono holds one
            day.and_hms_milli_opt(23, 59, 59, 1_500).expect("time").and_utc(),
            Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).single().expect("date"),
        ];
        for d in dates {
            let chrono = serde_json::to_string(&d).expect("chrono");
            assert_eq!(serde_json::to_string(&Ours(d)).expect("ours"), chrono, "{d:?}");
        }
        // a sweep over the centuries, with every length of fraction
        let mut secs: i64 = -62_135_596_800; // 0001-01-01
        let mut nanos: u32 = 0;
        while secs < 253_402_300_799 {
            let d = DateTime::from_timestamp(secs, nanos).expect("date");
            let chrono = serde_json::to_string(&d).expect("chrono");
            assert_eq!(serde_json::to_string(&Ours(d)).expect("ours"), chrono, "{d:?}");
            secs += 1_234_567_891;
            // nanoseconds, then whole micro- and milliseconds, then whole seconds
            let unit = [1, 1_000, 1_000_000, 1_000_000_000][secs.rem_euclid(4) as usize];
            nanos = (nanos + 123_456_789) % 1_000_000_000 / unit * unit;
        }
    }

    #[test]
    fn years_past_four_digits_are_chrono_s_too() {
        for d in [DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC] {
            assert_eq!(serde_json::to_string(&Ours(d)).expect("ours"), serde_json::to_string(&d).expect("chrono"));
        }
    }

    #[test]
    fn none_is_null() {
        #[derive(Serialize)]
        struct Opt(#[serde(serialize_with = "write_opt")] Option<DateTime<Utc>>);
        assert_eq!(serde_json::to_string(&Opt(None)).expect("json"), "null");
        let d = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).single().expect("date");
        assert_eq!(serde_json::to_string(&Opt(Some(d))).expect("json"), "\"2026-01-02T03:04:05Z\"");
    }
}
