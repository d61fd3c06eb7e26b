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
    s.serialize_str(&date.to_rfc3339_opts(SecondsFormat::AutoSi, true))
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
