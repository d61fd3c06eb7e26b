//! One value of a `bigquery.StorageWrite` record, as the column's wire type
//! of the Storage Write API takes it. Kestra's task turns dates into
//! numbers (`transform`: an instant into epoch microseconds, a date into
//! epoch days, a local date-time or time into the packed
//! `CivilTimeEncoder` integers) and hands the record to `JsonStreamWriter`,
//! which converts each JSON value for its column. A record read from an Ion
//! file holds its dates as text (an Ion timestamp, or the string Kestra
//! annotates with its Java type), so here both forms are read for the
//! column: TIMESTAMP as epoch microseconds (an integer, or a date-time
//! text, UTC when it names no offset), DATE as epoch days, DATETIME and
//! TIME as their canonical text (from text, or from the packed integers).
//! Every refusal names the value and the type it does not fit.

use base64::Engine;
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use serde_json::Value;

/// A JSON value in an error message, bounded.
pub fn shown(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 { format!("{}…", s.chars().take(60).collect::<String>()) } else { s }
}

fn unfit(v: &Value, what: &str) -> String {
    format!("{} is not {what}", shown(v))
}

/// INT64: an integer, an integral double or a decimal integer text.
pub fn int64(v: &Value) -> Result<i64, String> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.2e18).map(|f| f as i64))
            .ok_or_else(|| unfit(v, "a 64-bit integer")),
        Value::String(s) => s.trim().parse::<i64>().map_err(|_| unfit(v, "a 64-bit integer")),
        _ => Err(unfit(v, "a 64-bit integer")),
    }
}

/// FLOAT64: a number or a number's text (NaN and ±Infinity included).
pub fn double(v: &Value) -> Result<f64, String> {
    match v {
        Value::Number(n) => n.as_f64().ok_or_else(|| unfit(v, "a number")),
        Value::String(s) => match s.trim() {
            "NaN" => Ok(f64::NAN),
            "Infinity" | "+Infinity" => Ok(f64::INFINITY),
            "-Infinity" => Ok(f64::NEG_INFINITY),
            t => t.parse::<f64>().map_err(|_| unfit(v, "a number")),
        },
        _ => Err(unfit(v, "a number")),
    }
}

/// BOOL: a boolean, or `true` / `false` as text.
pub fn boolean(v: &Value) -> Result<bool, String> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s.trim().eq_ignore_ascii_case("true") => Ok(true),
        Value::String(s) if s.trim().eq_ignore_ascii_case("false") => Ok(false),
        _ => Err(unfit(v, "a boolean")),
    }
}

/// STRING: a text; a number or a boolean as its text.
pub fn string(v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(unfit(v, "a string")),
    }
}

/// JSON: a text as it is, any other value as its JSON text.
pub fn json(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// NUMERIC / BIGNUMERIC: a number or a decimal text, as text (BigQuery
/// checks precision and scale).
pub fn numeric(v: &Value) -> Result<String, String> {
    match v {
        Value::Number(n) => Ok(n.to_string()),
        Value::String(s) if !s.trim().is_empty() => Ok(s.trim().to_string()),
        _ => Err(unfit(v, "a decimal number")),
    }
}

/// GEOGRAPHY, INTERVAL: their text.
pub fn text(v: &Value, what: &str) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        _ => Err(unfit(v, what)),
    }
}

/// BYTES: base64 text, or a list of byte values.
pub fn bytes(v: &Value) -> Result<Vec<u8>, String> {
    match v {
        Value::String(s) => {
            base64::engine::general_purpose::STANDARD.decode(s.trim()).map_err(|_| unfit(v, "base64 bytes"))
        }
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_u64().filter(|b| *b <= 255).map(|b| b as u8).ok_or_else(|| unfit(v, "a list of bytes")))
            .collect(),
        _ => Err(unfit(v, "bytes (base64 text)")),
    }
}

/// A date-time text: RFC 3339, BigQuery's `YYYY-MM-DD HH:MM:SS[.f][ UTC]`,
/// an Ion timestamp (`2024-01-02T03:04Z`, `2024-01-02T`) or a date; the
/// offset when it names one.
fn date_time(s: &str) -> Option<(NaiveDateTime, Option<i32>)> {
    let t = s.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return Some((d.naive_utc(), Some(0)));
    }
    let (body, offset) = split_offset(t);
    let body = body.trim_end_matches('T');
    for f in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"] {
        if let Ok(d) = NaiveDateTime::parse_from_str(body, f) {
            return Some((d, offset));
        }
    }
    let day = NaiveDate::parse_from_str(body, "%Y-%m-%d").ok()?;
    Some((day.and_hms_opt(0, 0, 0)?, offset))
}

/// `text` without its trailing zone (`Z`, ` UTC`, `±HH:MM`, `-00:00`), and
/// the zone's offset in seconds (`None` when it names none).
fn split_offset(t: &str) -> (&str, Option<i32>) {
    if let Some(b) = t.strip_suffix(" UTC").or_else(|| t.strip_suffix('Z')).or_else(|| t.strip_suffix('z')) {
        return (b.trim_end(), Some(0));
    }
    // ±HH:MM after a time (the date's own dashes come before the 'T' or space).
    if t.len() > 6 {
        let (b, z) = t.split_at(t.len() - 6);
        let zb = z.as_bytes();
        if (zb[0] == b'+' || zb[0] == b'-') && zb[3] == b':' && b.contains([':', 'T']) {
            let h: i32 = z[1..3].parse().ok().unwrap_or(-1);
            let m: i32 = z[4..6].parse().ok().unwrap_or(-1);
            if h >= 0 && m >= 0 {
                let secs = (h * 3600 + m * 60) * if zb[0] == b'-' { -1 } else { 1 };
                return (b, Some(secs));
            }
        }
    }
    (t, None)
}

/// TIMESTAMP: epoch microseconds (an integer), or a date-time text (UTC
/// when it names no zone).
pub fn timestamp(v: &Value) -> Result<i64, String> {
    match v {
        Value::Number(_) => int64(v).map_err(|_| unfit(v, "a timestamp (epoch microseconds)")),
        Value::String(s) => {
            let (naive, offset) = date_time(s).ok_or_else(|| unfit(v, "a timestamp"))?;
            let utc = naive - chrono::Duration::seconds(i64::from(offset.unwrap_or(0)));
            Ok(utc.and_utc().timestamp_micros())
        }
        _ => Err(unfit(v, "a timestamp")),
    }
}

/// DATE: epoch days (an integer), or `YYYY-MM-DD` (an Ion `2024-01-02T`).
pub fn date(v: &Value) -> Result<i32, String> {
    match v {
        Value::Number(_) => {
            int64(v).ok().and_then(|d| i32::try_from(d).ok()).ok_or_else(|| unfit(v, "a date (epoch days)"))
        }
        Value::String(s) => {
            let d = NaiveDate::parse_from_str(s.trim().trim_end_matches('T'), "%Y-%m-%d")
                .map_err(|_| unfit(v, "a date (YYYY-MM-DD)"))?;
            let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
            i32::try_from((d - epoch).num_days()).map_err(|_| unfit(v, "a date"))
        }
        _ => Err(unfit(v, "a date")),
    }
}

const MICRO_BITS: u32 = 20;

fn micros_text(micros: u32) -> String {
    if micros == 0 { String::new() } else { format!(".{micros:06}") }
}

fn time_text(t: NaiveTime) -> String {
    format!("{}{}", t.format("%H:%M:%S"), micros_text(t.nanosecond() / 1000))
}

/// DATETIME as text, `YYYY-MM-DDTHH:MM:SS[.ffffff]`: from a date-time text
/// (its wall time as written), or from Kestra's packed integer
/// (`CivilTimeEncoder.encodePacked64DatetimeMicros`).
pub fn datetime(v: &Value) -> Result<String, String> {
    let d = match v {
        Value::Number(_) => {
            let p = int64(v).map_err(|_| unfit(v, "a datetime"))?;
            let secs = p >> MICRO_BITS;
            let field = |shift: u32, bits: u32| ((secs >> shift) & ((1 << bits) - 1)) as u32;
            let micros = (p & ((1 << MICRO_BITS) - 1)) as u32;
            NaiveDate::from_ymd_opt(field(26, 14) as i32, field(22, 4), field(17, 5))
                .and_then(|day| day.and_hms_micro_opt(field(12, 5), field(6, 6), field(0, 6), micros))
                .ok_or_else(|| unfit(v, "a packed datetime"))?
        }
        Value::String(s) => date_time(s).map(|(d, _)| d).ok_or_else(|| unfit(v, "a datetime"))?,
        _ => return Err(unfit(v, "a datetime")),
    };
    Ok(format!("{}T{}", d.format("%Y-%m-%d"), time_text(d.time())))
}

/// TIME as text, `HH:MM:SS[.ffffff]`: from a time text (an offset is
/// dropped, as Kestra drops an `OffsetTime`'s), or from Kestra's packed
/// integer (`CivilTimeEncoder.encodePacked64TimeMicros`).
pub fn time(v: &Value) -> Result<String, String> {
    let t = match v {
        Value::Number(_) => {
            let p = int64(v).map_err(|_| unfit(v, "a time"))?;
            let secs = p >> MICRO_BITS;
            let field = |shift: u32, bits: u32| ((secs >> shift) & ((1 << bits) - 1)) as u32;
            let micros = (p & ((1 << MICRO_BITS) - 1)) as u32;
            NaiveTime::from_hms_micro_opt(field(12, 5), field(6, 6), field(0, 6), micros)
                .ok_or_else(|| unfit(v, "a packed time"))?
        }
        Value::String(s) => {
            let (body, _) = split_offset(s.trim());
            ["%H:%M:%S%.f", "%H:%M"]
                .iter()
                .find_map(|f| NaiveTime::parse_from_str(body, f).ok())
                .ok_or_else(|| unfit(v, "a time (HH:MM:SS)"))?
        }
        _ => return Err(unfit(v, "a time")),
    };
    Ok(time_text(t))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn numbers_and_texts_fit_their_columns() {
        assert_eq!(int64(&json!(7)).unwrap(), 7);
        assert_eq!(int64(&json!(" -3 ")).unwrap(), -3);
        assert_eq!(int64(&json!(2.0)).unwrap(), 2);
        assert_eq!(int64(&json!(2.5)).unwrap_err(), "2.5 is not a 64-bit integer");
        assert!(double(&json!("NaN")).unwrap().is_nan());
        assert_eq!(double(&json!(3)).unwrap(), 3.0);
        assert!(boolean(&json!("TRUE")).unwrap());
        assert!(boolean(&json!(1)).is_err());
        assert_eq!(string(&json!(12)).unwrap(), "12");
        assert!(string(&json!({"a": 1})).is_err());
        assert_eq!(json(&json!({"a": 1})), "{\"a\":1}");
        assert_eq!(numeric(&json!(1.25)).unwrap(), "1.25");
        assert_eq!(bytes(&json!("aGk=")).unwrap(), b"hi");
    }

    #[test]
    fn dates_read_as_kestra_writes_them() {
        assert_eq!(timestamp(&json!(1_700_000_000_000_000i64)).unwrap(), 1_700_000_000_000_000);
        assert_eq!(timestamp(&json!("2024-01-02T03:04:05.5Z")).unwrap(), 1_704_164_645_500_000);
        assert_eq!(timestamp(&json!("2024-01-02T05:04:05.5+02:00")).unwrap(), 1_704_164_645_500_000);
        assert_eq!(timestamp(&json!("2024-01-02 03:04:05.5 UTC")).unwrap(), 1_704_164_645_500_000);
        assert_eq!(timestamp(&json!("2024-01-02")).unwrap(), 1_704_153_600_000_000);
        assert_eq!(date(&json!("2024-01-02")).unwrap(), 19_724);
        assert_eq!(date(&json!("2024-01-02T")).unwrap(), 19_724);
        assert_eq!(date(&json!(19_724)).unwrap(), 19_724);
        assert_eq!(datetime(&json!("2024-01-02 03:04:05")).unwrap(), "2024-01-02T03:04:05");
        // CivilTimeEncoder.encodePacked64DatetimeMicros(2024-01-02T03:04:05.000006)
        let packed = ((2024i64 << 26 | 1 << 22 | 2 << 17 | 3 << 12 | 4 << 6 | 5) << 20) | 6;
        assert_eq!(datetime(&json!(packed)).unwrap(), "2024-01-02T03:04:05.000006");
        assert_eq!(time(&json!("10:11:12.5+02:00")).unwrap(), "10:11:12.500000");
        assert_eq!(time(&json!(((10i64 << 12 | 11 << 6 | 12) << 20) | 7)).unwrap(), "10:11:12.000007");
        assert_eq!(time(&json!("noon")).unwrap_err(), "\"noon\" is not a time (HH:MM:SS)");
    }
}
