//! DuckDB result values → JSON, as Kestra's outputs show them: integers and
//! doubles as numbers, DECIMAL as a number, text as strings, DATE/TIME/
//! TIMESTAMP as ISO-8601 strings (TIMESTAMPTZ with its offset, in
//! `timeZoneId` or UTC), INTERVAL as an ISO-8601 duration, BLOB as base64,
//! LIST/ARRAY as arrays, STRUCT/MAP as objects, NULL as null.

use base64::Engine;
use chrono::{DateTime, NaiveDate, NaiveTime, TimeDelta, Utc};
use chrono_tz::Tz;
use duckdb::types::{TimeUnit, Value as Db, ValueRef};
use serde_json::{Map, Number, Value};

/// How a column's values are shown.
#[derive(Debug, Clone, Copy, Default)]
pub struct Shape {
    /// A TIMESTAMP WITH TIME ZONE column: printed with an offset.
    pub zoned: bool,
}

/// One top-level value.
pub fn to_json(v: ValueRef<'_>, shape: Shape, tz: Option<Tz>) -> Value {
    match v {
        ValueRef::Text(bytes) => Value::String(String::from_utf8_lossy(bytes).into_owned()),
        ValueRef::Timestamp(unit, t) => timestamp(unit, t, shape.zoned, tz),
        other => owned(Db::from(other), tz),
    }
}

/// An owned value (also the items of lists, structs and maps).
fn owned(v: Db, tz: Option<Tz>) -> Value {
    match v {
        Db::Null => Value::Null,
        Db::Boolean(b) => Value::Bool(b),
        Db::TinyInt(i) => Value::from(i),
        Db::SmallInt(i) => Value::from(i),
        Db::Int(i) => Value::from(i),
        Db::BigInt(i) => Value::from(i),
        Db::HugeInt(i) => i64::try_from(i).map(Value::from).unwrap_or_else(|_| Value::String(i.to_string())),
        Db::UHugeInt(i) => u64::try_from(i).map(Value::from).unwrap_or_else(|_| Value::String(i.to_string())),
        Db::UTinyInt(i) => Value::from(i),
        Db::USmallInt(i) => Value::from(i),
        Db::UInt(i) => Value::from(i),
        Db::UBigInt(i) => Value::from(i),
        Db::Float(f) => float(f64::from(f)),
        Db::Double(f) => float(f),
        Db::Decimal(d) => decimal(&d.to_string()),
        Db::Timestamp(unit, t) => timestamp(unit, t, false, tz),
        Db::Text(s) | Db::Enum(s) => Value::String(s),
        Db::Blob(b) | Db::Geometry(b) => Value::String(base64::engine::general_purpose::STANDARD.encode(b)),
        Db::Date32(days) => date(days),
        Db::Time64(unit, t) => time(unit, t),
        Db::Interval { months, days, nanos } => Value::String(interval(months, days, nanos)),
        Db::List(items) | Db::Array(items) => Value::Array(items.into_iter().map(|x| owned(x, tz)).collect()),
        Db::Struct(fields) => {
            Value::Object(fields.iter().map(|(k, x)| (k.clone(), owned(x.clone(), tz))).collect::<Map<_, _>>())
        }
        Db::Map(entries) => Value::Object(
            entries.iter().map(|(k, x)| (map_key(k.clone(), tz), owned(x.clone(), tz))).collect::<Map<_, _>>(),
        ),
        Db::Union(inner) => owned(*inner, tz),
        // A type added by a newer crate: its debug text beats failing the query.
        other => Value::String(format!("{other:?}")),
    }
}

fn map_key(k: Db, tz: Option<Tz>) -> String {
    match owned(k, tz) {
        Value::String(s) => s,
        other => other.to_string(),
    }
}

/// NaN and infinities have no JSON number: shown as strings, as Jackson does.
fn float(f: f64) -> Value {
    Number::from_f64(f).map(Value::Number).unwrap_or_else(|| Value::String(f.to_string()))
}

/// A DECIMAL's text as a JSON number (a string if it is not one).
fn decimal(text: &str) -> Value {
    if !text.contains('.')
        && let Ok(i) = text.parse::<i64>()
    {
        return Value::from(i);
    }
    match text.parse::<f64>() {
        Ok(f) if f.is_finite() => float(f),
        _ => Value::String(text.to_string()),
    }
}

fn micros(unit: TimeUnit, t: i64) -> i64 {
    unit.to_micros(t)
}

fn timestamp(unit: TimeUnit, t: i64, zoned: bool, tz: Option<Tz>) -> Value {
    let Some(utc) = DateTime::<Utc>::from_timestamp_micros(micros(unit, t)) else {
        return Value::String(t.to_string());
    };
    let text = if zoned {
        match tz {
            Some(tz) => utc.with_timezone(&tz).format("%Y-%m-%dT%H:%M:%S%.f%:z").to_string(),
            None => utc.format("%Y-%m-%dT%H:%M:%S%.fZ").to_string(),
        }
    } else {
        utc.naive_utc().format("%Y-%m-%dT%H:%M:%S%.f").to_string()
    };
    Value::String(text)
}

fn date(days: i32) -> Value {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    match epoch.checked_add_signed(TimeDelta::days(i64::from(days))) {
        Some(d) => Value::String(d.format("%Y-%m-%d").to_string()),
        None => Value::from(days),
    }
}

fn time(unit: TimeUnit, t: i64) -> Value {
    let us = micros(unit, t);
    let secs = us.div_euclid(1_000_000);
    let nanos = (us.rem_euclid(1_000_000) * 1000) as u32;
    match u32::try_from(secs).ok().and_then(|s| NaiveTime::from_num_seconds_from_midnight_opt(s, nanos)) {
        Some(tm) => Value::String(tm.format("%H:%M:%S%.f").to_string()),
        None => Value::from(us),
    }
}

/// An ISO-8601 duration: `P1Y2M3DT4H5M6.5S`, `PT0S` for zero.
fn interval(months: i32, days: i32, nanos: i64) -> String {
    let mut s = String::from("P");
    let (years, months) = (months / 12, months % 12);
    if years != 0 {
        s.push_str(&format!("{years}Y"));
    }
    if months != 0 {
        s.push_str(&format!("{months}M"));
    }
    if days != 0 {
        s.push_str(&format!("{days}D"));
    }
    if nanos != 0 {
        s.push('T');
        let total_secs = nanos / 1_000_000_000;
        let frac = (nanos % 1_000_000_000).abs();
        let (h, m, sec) = (total_secs / 3600, (total_secs % 3600) / 60, total_secs % 60);
        if h != 0 {
            s.push_str(&format!("{h}H"));
        }
        if m != 0 {
            s.push_str(&format!("{m}M"));
        }
        if sec != 0 || frac != 0 {
            if frac != 0 {
                let digits = format!("{frac:09}");
                let sign = if nanos < 0 && sec == 0 { "-" } else { "" };
                s.push_str(&format!("{sign}{sec}.{}S", digits.trim_end_matches('0')));
            } else {
                s.push_str(&format!("{sec}S"));
            }
        }
    }
    if s == "P" { "PT0S".to_string() } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_are_iso_durations() {
        assert_eq!(interval(0, 0, 0), "PT0S");
        assert_eq!(interval(14, 3, 3_723_500_000_000), "P1Y2M3DT1H2M3.5S");
        assert_eq!(interval(0, 1, 0), "P1D");
        assert_eq!(interval(0, 0, 60_000_000_000), "PT1M");
    }

    #[test]
    fn decimals_and_floats() {
        assert_eq!(decimal("12.50"), serde_json::json!(12.5));
        assert_eq!(decimal("-3"), serde_json::json!(-3));
        assert_eq!(decimal("123456789012345678901234567890"), serde_json::json!(1.2345678901234568e29));
        assert_eq!(float(f64::NAN), serde_json::json!("NaN"));
    }

    #[test]
    fn dates_times_and_timestamps() {
        assert_eq!(date(0), serde_json::json!("1970-01-01"));
        assert_eq!(date(17897), serde_json::json!("2019-01-01"));
        assert_eq!(time(TimeUnit::Microsecond, 3_723_000_001), serde_json::json!("01:02:03.000001"));
        let t = 1_546_300_800_000_000; // 2019-01-01T00:00:00Z
        assert_eq!(timestamp(TimeUnit::Microsecond, t, false, None), serde_json::json!("2019-01-01T00:00:00"));
        assert_eq!(timestamp(TimeUnit::Microsecond, t, true, None), serde_json::json!("2019-01-01T00:00:00Z"));
        let paris: Tz = "Europe/Paris".parse().unwrap();
        assert_eq!(
            timestamp(TimeUnit::Microsecond, t + 500_000, true, Some(paris)),
            serde_json::json!("2019-01-01T01:00:00.500+01:00")
        );
    }
}
