//! Tests of the date filters and functions: Java patterns, zones,
//! arithmetic and the formats Kestra accepts.

use super::*;

fn dt(s: &str, zone: Option<&str>) -> Dt {
    convert(Input::Str(s), Zone::parse(zone).unwrap(), None).unwrap()
}

#[test]
fn java_patterns() {
    let d = dt("2019-03-01T09:05:07.123456789Z", None);
    assert_eq!(format(&d, Some("yyyy-MM")).unwrap(), "2019-03");
    assert_eq!(format(&d, Some("yyyy_MM")).unwrap(), "2019_03");
    assert_eq!(format(&d, Some("yyyyMM")).unwrap(), "201903");
    assert_eq!(format(&d, Some("yy M d H h mm ss SSS a")).unwrap(), "19 3 1 9 9 05 07 123 AM");
    assert_eq!(format(&d, Some("EEE EEEE MMM MMMM")).unwrap(), "Fri Friday Mar March");
    assert_eq!(format(&d, Some("XXX xxx Z z")).unwrap(), "Z +00:00 +0000 UTC");
    assert_eq!(format(&d, Some("'at' HH''mm")).unwrap(), "at 09'05");
    assert_eq!(format(&d, None).unwrap(), "2019-03-01T09:05:07.123456Z");
    assert_eq!(format(&d, Some("sql")).unwrap(), "2019-03-01 09:05:07.123456");
    assert!(format(&d, Some("yyyy-MM-dd'T")).is_err());
}

#[test]
fn named_iso_formats() {
    let d = dt("2024-05-06T07:08:09.120Z", None);
    assert_eq!(format(&d, Some("iso_instant")).unwrap(), "2024-05-06T07:08:09.120Z");
    assert_eq!(format(&d, Some("iso_local_date")).unwrap(), "2024-05-06");
    assert_eq!(format(&d, Some("iso_offset_date_time")).unwrap(), "2024-05-06T07:08:09.12Z");
    assert_eq!(format(&d, Some("iso_zoned_date_time")).unwrap(), "2024-05-06T07:08:09.12Z[UTC]");
    assert_eq!(format(&d, Some("iso_sec")).unwrap(), "2024-05-06T07:08:09Z");
    assert_eq!(format(&d, Some("iso_milli")).unwrap(), "2024-05-06T07:08:09.120Z");
}

#[test]
fn zones_and_inputs() {
    let d = dt("2024-05-06T07:08:09Z", Some("Europe/Paris"));
    assert_eq!(format(&d, Some("HH:mm XXX z")).unwrap(), "09:08 +02:00 CEST");
    let d = dt("2024-05-06", Some("Europe/Paris"));
    assert_eq!(format(&d, Some("iso_sec")).unwrap(), "2024-05-06T00:00:00+02:00");
    let d = dt("2024-05-06T07:08:09+02:00", None);
    assert_eq!(format(&d, Some("HH")).unwrap(), "05");
    let d = convert(Input::Epoch(0.0), Zone::parse(None).unwrap(), None).unwrap();
    assert_eq!(format(&d, Some("iso_sec")).unwrap(), "1970-01-01T00:00:00Z");
    let d = convert(Input::Str("06/05/2024 10h"), Zone::parse(None).unwrap(), Some("dd/MM/yyyy HH'h'")).unwrap();
    assert_eq!(format(&d, Some("iso_sec")).unwrap(), "2024-05-06T10:00:00Z");
    let d = convert(Input::Str("202403"), Zone::parse(None).unwrap(), Some("yyyyMM")).unwrap();
    assert_eq!(format(&d, Some("yyyy-MM-dd")).unwrap(), "2024-03-01");
    assert!(Zone::parse(Some("Mars/Base")).is_err());
}

#[test]
fn add_units() {
    let d = dt("2024-01-31T00:00:00Z", None);
    assert_eq!(format(&add(&d, 1, "DAYS").unwrap(), Some("yyyy-MM-dd")).unwrap(), "2024-02-01");
    assert_eq!(format(&add(&d, 1, "MONTHS").unwrap(), Some("yyyy-MM-dd")).unwrap(), "2024-02-29");
    assert_eq!(format(&add(&d, -2, "HOURS").unwrap(), Some("iso_sec")).unwrap(), "2024-01-30T22:00:00Z");
    assert!(add(&d, 1, "FORTNIGHTS").is_err());
}
