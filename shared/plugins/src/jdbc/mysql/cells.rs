//! MySQL values as Kestra's MySQL tasks give them, and parameters as SQL
//! literals.
//!
//! Rows come over the text protocol (as Connector/J's default client-side
//! prepared statements do), so every cell is its text, typed here from the
//! column: integers (a `TINYINT(1)` and a `BIT(1)` are booleans,
//! `BIGINT UNSIGNED` is a string as Kestra's `BigInteger`), floats,
//! decimals (`jdbc::fetch::decimal_value`), `DATE` and `YEAR` as a date,
//! `DATETIME` as a local date-time, `TIMESTAMP` as an instant (`…Z`; the
//! session runs in UTC), `TIME` as text, binary strings, blobs, `BIT(n)`
//! and geometry as base64 (Kestra's `byte[]`), the rest as text.
//!
//! Named parameters are written into the statement as literals, as
//! Connector/J does: strings (and maps or lists, as JSON) as a hex
//! literal with the `utf8mb4` introducer, which no `sql_mode` reads
//! differently.

use std::fmt::Write as _;

use base64::Engine as _;
use chrono::{NaiveDate, NaiveDateTime};
use mysql_async::consts::{ColumnFlags, ColumnType};
use mysql_async::{Column, Row, Value as My};
use serde_json::{Map, Value};

use super::url::ZeroDates;
use crate::jdbc::fetch::decimal_value;

/// The character set number of binary strings.
const BINARY: u16 = 63;

/// One row as Kestra's output map (a later column of the same name wins).
pub fn row_to_json(row: &Row, zero: ZeroDates) -> Result<Map<String, Value>, String> {
    let mut out = Map::new();
    for (i, col) in row.columns_ref().iter().enumerate() {
        let v = row.as_ref(i).unwrap_or(&My::NULL);
        out.insert(col.name_str().into_owned(), cell(col, v, zero)?);
    }
    Ok(out)
}

fn base64(b: &[u8]) -> Value {
    Value::String(base64::engine::general_purpose::STANDARD.encode(b))
}

/// A zero date (`0000-00-00…`) as `zeroDateTimeBehavior` says.
fn zero_date(col: &Column, zero: ZeroDates, time: bool) -> Result<Value, String> {
    match zero {
        ZeroDates::ConvertToNull => Ok(Value::Null),
        ZeroDates::Round => Ok(Value::String(if time { "0001-01-01T00:00:00" } else { "0001-01-01" }.into())),
        ZeroDates::Exception => Err(format!(
            "column '{}' holds the zero date 0000-00-00, which is not a date \
             (add zeroDateTimeBehavior=CONVERT_TO_NULL or ROUND to the URL)",
            col.name_str()
        )),
    }
}

fn date_time(text: &str) -> Result<NaiveDateTime, String> {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f").map_err(|e| format!("'{text}' is not a date-time: {e}"))
}

/// The value of one cell of column `col`.
pub fn cell(col: &Column, v: &My, zero: ZeroDates) -> Result<Value, String> {
    let b = match v {
        My::NULL => return Ok(Value::Null),
        My::Bytes(b) => b.as_slice(),
        // the text protocol sends only text; other variants are not expected
        other => return Ok(Value::String(other.as_sql(true))),
    };
    let text = || std::str::from_utf8(b).map_err(|_| format!("column '{}' is not UTF-8 text", col.name_str()));
    let unsigned = col.flags().contains(ColumnFlags::UNSIGNED_FLAG);
    Ok(match col.column_type() {
        ColumnType::MYSQL_TYPE_TINY if col.column_length() == 1 => Value::Bool(text()? != "0"),
        ColumnType::MYSQL_TYPE_LONGLONG if unsigned => Value::String(text()?.to_string()),
        ColumnType::MYSQL_TYPE_TINY
        | ColumnType::MYSQL_TYPE_SHORT
        | ColumnType::MYSQL_TYPE_INT24
        | ColumnType::MYSQL_TYPE_LONG
        | ColumnType::MYSQL_TYPE_LONGLONG => {
            let t = text()?;
            Value::from(t.parse::<i64>().map_err(|_| format!("column '{}': '{t}' is not an integer", col.name_str()))?)
        }
        ColumnType::MYSQL_TYPE_FLOAT | ColumnType::MYSQL_TYPE_DOUBLE => {
            let t = text()?;
            let f = t.parse::<f64>().map_err(|_| format!("column '{}': '{t}' is not a number", col.name_str()))?;
            serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
        }
        ColumnType::MYSQL_TYPE_DECIMAL | ColumnType::MYSQL_TYPE_NEWDECIMAL => decimal_value(text()?),
        ColumnType::MYSQL_TYPE_YEAR => Value::String(format!("{:0>4}-01-01", text()?)),
        ColumnType::MYSQL_TYPE_DATE | ColumnType::MYSQL_TYPE_NEWDATE => {
            let t = text()?;
            if t.starts_with("0000-00-00") {
                return zero_date(col, zero, false);
            }
            let d = NaiveDate::parse_from_str(t, "%Y-%m-%d").map_err(|e| format!("'{t}' is not a date: {e}"))?;
            Value::String(d.format("%Y-%m-%d").to_string())
        }
        ColumnType::MYSQL_TYPE_DATETIME | ColumnType::MYSQL_TYPE_DATETIME2 => {
            let t = text()?;
            if t.starts_with("0000-00-00") {
                return zero_date(col, zero, true);
            }
            Value::String(date_time(t)?.format("%Y-%m-%dT%H:%M:%S%.f").to_string())
        }
        ColumnType::MYSQL_TYPE_TIMESTAMP | ColumnType::MYSQL_TYPE_TIMESTAMP2 => {
            let t = text()?;
            if t.starts_with("0000-00-00") {
                return zero_date(col, zero, true);
            }
            Value::String(date_time(t)?.format("%Y-%m-%dT%H:%M:%S%.fZ").to_string())
        }
        ColumnType::MYSQL_TYPE_TIME | ColumnType::MYSQL_TYPE_TIME2 => Value::String(text()?.to_string()),
        ColumnType::MYSQL_TYPE_BIT if col.column_length() == 1 => Value::Bool(b.iter().any(|x| *x != 0)),
        ColumnType::MYSQL_TYPE_BIT | ColumnType::MYSQL_TYPE_GEOMETRY => base64(b),
        _ if col.character_set() == BINARY && col.column_type() != ColumnType::MYSQL_TYPE_JSON => base64(b),
        _ => Value::String(String::from_utf8_lossy(b).into_owned()),
    })
}

fn hex_string(s: &str) -> String {
    if s.is_empty() {
        return "''".into();
    }
    let mut out = String::with_capacity(s.len() * 2 + 12);
    out.push_str("_utf8mb4 X'");
    for byte in s.bytes() {
        let _ = write!(out, "{byte:02X}");
    }
    out.push('\'');
    out
}

/// A parameter's value as a SQL literal.
pub fn literal(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Bool(b) => if *b { "TRUE" } else { "FALSE" }.into(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => hex_string(s),
        other => hex_string(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_literals_no_sql_mode_misreads() {
        assert_eq!(literal(&Value::Null), "NULL");
        assert_eq!(literal(&serde_json::json!(true)), "TRUE");
        assert_eq!(literal(&serde_json::json!(-12.5)), "-12.5");
        assert_eq!(literal(&serde_json::json!("")), "''");
        assert_eq!(literal(&serde_json::json!("a'\\")), "_utf8mb4 X'61275C'");
        assert_eq!(literal(&serde_json::json!({"k": 1})), "_utf8mb4 X'7B226B223A317D'");
    }
}
