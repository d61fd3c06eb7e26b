//! PostgreSQL values ⇄ JSON, as Kestra's `PostgresCellConverter` shows them:
//! integers and floats as numbers, `numeric` as a number when it fits a
//! double exactly enough (else a string), text as strings, booleans,
//! `timestamp` as a local ISO date-time, `timestamptz` as an ISO instant in
//! the task's time zone, dates, times, intervals as `P…Y…M…DT…H…M…S`, json
//! as JSON, uuid as a string, bytea as base64, arrays as lists, NULL as null.
//! Parameters go the other way, typed by what the server infers. The
//! binary `numeric` in its own module (`numeric`).

use std::error::Error as StdError;

use base64::Engine as _;
use bytes::{BufMut, BytesMut};
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use postgres_protocol::types as pt;
use serde_json::{Map, Value};
use tokio_postgres::Row;
use tokio_postgres::types::{FromSql, IsNull, Kind, ToSql, Type, to_sql_checked};

use crate::jdbc::fetch::decimal_value;

mod numeric;

pub use numeric::{numeric_from_sql, numeric_to_sql};

type BoxError = Box<dyn StdError + Sync + Send>;

/// A column's raw bytes, whatever its type (NULL is `None`).
pub struct Raw<'a>(pub Option<&'a [u8]>);

impl<'a> FromSql<'a> for Raw<'a> {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        Ok(Raw(Some(raw)))
    }
    fn from_sql_null(_: &Type) -> Result<Self, BoxError> {
        Ok(Raw(None))
    }
    fn accepts(_: &Type) -> bool {
        true
    }
}

/// One result row as a JSON map, in column order.
pub fn row_to_json(row: &Row, tz: Tz) -> Result<Map<String, Value>, String> {
    let mut out = Map::with_capacity(row.len());
    for (i, col) in row.columns().iter().enumerate() {
        let Raw(raw) = row.try_get::<_, Raw<'_>>(i).map_err(|e| format!("column '{}': {e}", col.name()))?;
        let v = match raw {
            None => Value::Null,
            Some(b) => decode(col.type_(), b, tz).map_err(|e| {
                format!(
                    "column '{}' of type {}: {e}; cast it in SQL (e.g. {}::text)",
                    col.name(),
                    col.type_(),
                    col.name()
                )
            })?,
        };
        out.insert(col.name().to_string(), v);
    }
    Ok(out)
}

const PG_EPOCH_DAYS: i64 = 10957; // 1970-01-01 → 2000-01-01

fn pg_epoch() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2000, 1, 1).and_then(|d| d.and_hms_opt(0, 0, 0)).unwrap_or_default()
}

fn iso_local(dt: NaiveDateTime) -> String {
    dt.format("%Y-%m-%dT%H:%M:%S%.f").to_string()
}

fn timestamp(micros: i64) -> Result<NaiveDateTime, String> {
    pg_epoch()
        .checked_add_signed(chrono::Duration::microseconds(micros))
        .ok_or_else(|| format!("timestamp {micros}µs out of range"))
}

/// Decodes one non-NULL value of type `ty`.
pub fn decode(ty: &Type, raw: &[u8], tz: Tz) -> Result<Value, BoxError> {
    let v = match *ty {
        Type::BOOL => Value::Bool(pt::bool_from_sql(raw)?),
        Type::INT2 => Value::from(pt::int2_from_sql(raw)?),
        Type::INT4 => Value::from(pt::int4_from_sql(raw)?),
        Type::INT8 => Value::from(pt::int8_from_sql(raw)?),
        Type::OID | Type::XID | Type::CID | Type::REGPROC | Type::REGCLASS | Type::REGTYPE => {
            Value::from(pt::oid_from_sql(raw)?)
        }
        Type::FLOAT4 => float(pt::float4_from_sql(raw)? as f64),
        Type::FLOAT8 => float(pt::float8_from_sql(raw)?),
        Type::NUMERIC => decimal_value(&numeric_from_sql(raw)?),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN | Type::XML | Type::TS_VECTOR => {
            Value::String(pt::text_from_sql(raw)?.to_string())
        }
        Type::CHAR => Value::String(((pt::char_from_sql(raw)? as u8) as char).to_string()),
        Type::JSON => serde_json::from_slice(raw)?,
        Type::JSONB => match raw.split_first() {
            Some((1, rest)) => serde_json::from_slice(rest)?,
            _ => return Err("unsupported jsonb version".into()),
        },
        Type::UUID => Value::String(uuid::Uuid::from_bytes(pt::uuid_from_sql(raw)?).to_string()),
        Type::DATE => match pt::date_from_sql(raw)? {
            i32::MAX => Value::String("infinity".into()),
            i32::MIN => Value::String("-infinity".into()),
            days => {
                let d = NaiveDate::from_num_days_from_ce_opt((days as i64 + PG_EPOCH_DAYS + 719163) as i32)
                    .ok_or("date out of range")?;
                Value::String(d.format("%Y-%m-%d").to_string())
            }
        },
        Type::TIMESTAMP => match pt::timestamp_from_sql(raw)? {
            i64::MAX => Value::String("infinity".into()),
            i64::MIN => Value::String("-infinity".into()),
            us => Value::String(iso_local(timestamp(us)?)),
        },
        Type::TIMESTAMPTZ => match pt::timestamp_from_sql(raw)? {
            i64::MAX => Value::String("infinity".into()),
            i64::MIN => Value::String("-infinity".into()),
            us => {
                let utc = Utc.from_utc_datetime(&timestamp(us)?);
                Value::String(iso_zoned(utc.with_timezone(&tz)))
            }
        },
        Type::TIME => Value::String(time_of_day(pt::time_from_sql(raw)?)?),
        Type::TIMETZ => {
            let (us, rest) = raw.split_at_checked(8).ok_or("invalid timetz")?;
            let west = i32::from_be_bytes(rest.try_into().map_err(|_| "invalid timetz")?);
            let east = -west;
            let sign = if east < 0 { '-' } else { '+' };
            let a = east.unsigned_abs();
            Value::String(format!(
                "{}{sign}{:02}:{:02}",
                time_of_day(pt::time_from_sql(us)?)?,
                a / 3600,
                (a % 3600) / 60
            ))
        }
        Type::INTERVAL => {
            if raw.len() != 16 {
                return Err("invalid interval".into());
            }
            let us = i64::from_be_bytes(raw[0..8].try_into()?);
            let days = i32::from_be_bytes(raw[8..12].try_into()?);
            let months = i32::from_be_bytes(raw[12..16].try_into()?);
            let secs = us / 1_000_000;
            Value::String(format!(
                "P{}Y{}M{}DT{}H{}M{}S",
                months / 12,
                months % 12,
                days,
                secs / 3600,
                (secs % 3600) / 60,
                secs % 60
            ))
        }
        Type::BYTEA => Value::String(base64::engine::general_purpose::STANDARD.encode(pt::bytea_from_sql(raw))),
        Type::INET | Type::CIDR => {
            let inet = pt::inet_from_sql(raw)?;
            let full = if inet.addr().is_ipv4() { 32 } else { 128 };
            if inet.netmask() == full && *ty == Type::INET {
                Value::String(inet.addr().to_string())
            } else {
                Value::String(format!("{}/{}", inet.addr(), inet.netmask()))
            }
        }
        _ => match ty.kind() {
            Kind::Array(member) => {
                let (dims, items) = array_from_sql(raw)?;
                let mut values = Vec::with_capacity(items.len());
                for item in items {
                    values.push(match item {
                        None => Value::Null,
                        Some(b) => decode(member, b, tz)?,
                    });
                }
                nest(values, &dims)
            }
            Kind::Enum(_) => Value::String(pt::text_from_sql(raw)?.to_string()),
            Kind::Domain(inner) => decode(inner, raw, tz)?,
            _ => match std::str::from_utf8(raw) {
                // extension types whose binary form is their text (citext…)
                Ok(s) if ty.oid() >= 16384 => Value::String(s.to_string()),
                _ => return Err("this type cannot be read yet".into()),
            },
        },
    };
    Ok(v)
}

/// The dimensions and elements of a binary array.
type ArrayParts<'a> = (Vec<usize>, Vec<Option<&'a [u8]>>);

fn array_from_sql(raw: &[u8]) -> Result<ArrayParts<'_>, BoxError> {
    let mut pos = 0;
    let i32_at = |p: &mut usize| -> Result<i32, BoxError> {
        let b = raw.get(*p..*p + 4).ok_or("invalid array")?;
        *p += 4;
        Ok(i32::from_be_bytes(b.try_into()?))
    };
    let ndim = i32_at(&mut pos)?;
    let _has_nulls = i32_at(&mut pos)?;
    let _elem_oid = i32_at(&mut pos)?;
    let mut dims = Vec::new();
    for _ in 0..ndim.max(0) {
        dims.push(i32_at(&mut pos)?.max(0) as usize);
        let _lower_bound = i32_at(&mut pos)?;
    }
    let count: usize = if dims.is_empty() { 0 } else { dims.iter().product() };
    let mut items = Vec::with_capacity(count);
    for _ in 0..count {
        let len = i32_at(&mut pos)?;
        if len < 0 {
            items.push(None);
        } else {
            let b = raw.get(pos..pos + len as usize).ok_or("invalid array")?;
            pos += len as usize;
            items.push(Some(b));
        }
    }
    Ok((dims, items))
}

/// Splits a flat list into nested lists following `dims` (outermost first).
fn nest(values: Vec<Value>, dims: &[usize]) -> Value {
    if dims.len() <= 1 {
        return Value::Array(values);
    }
    let inner: usize = dims[1..].iter().product();
    if inner == 0 {
        return Value::Array(Vec::new());
    }
    let mut out = Vec::new();
    let mut it = values.into_iter();
    for _ in 0..dims[0] {
        let chunk: Vec<Value> = it.by_ref().take(inner).collect();
        out.push(nest(chunk, &dims[1..]));
    }
    Value::Array(out)
}

fn float(f: f64) -> Value {
    if f.is_finite() {
        serde_json::Number::from_f64(f).map(Value::Number).unwrap_or(Value::Null)
    } else if f.is_nan() {
        Value::String("NaN".into())
    } else if f > 0.0 {
        Value::String("Infinity".into())
    } else {
        Value::String("-Infinity".into())
    }
}

fn time_of_day(us: i64) -> Result<String, BoxError> {
    let secs = us.div_euclid(1_000_000);
    let nanos = (us.rem_euclid(1_000_000) * 1000) as u32;
    if secs == 86400 {
        return Ok("24:00:00".into());
    }
    let t = NaiveTime::from_num_seconds_from_midnight_opt(secs as u32, nanos).ok_or("time out of range")?;
    Ok(t.format("%H:%M:%S%.f").to_string())
}

fn iso_zoned(dt: DateTime<Tz>) -> String {
    let base = dt.format("%Y-%m-%dT%H:%M:%S%.f").to_string();
    let off = dt.format("%:z").to_string();
    if off == "+00:00" { format!("{base}Z") } else { format!("{base}{off}") }
}

// ------------------------------------------------------------- parameters ---

/// A JSON parameter bound to whatever type the server inferred.
#[derive(Debug)]
pub struct Param {
    pub name: String,
    pub value: Value,
    pub tz: Tz,
}

fn text_of(v: &Value) -> String {
    crate::de::value_to_string(v)
}

fn int_of(v: &Value) -> Result<i64, BoxError> {
    match v {
        Value::Number(n) => n.as_i64().ok_or_else(|| format!("{n} is not an integer").into()),
        Value::String(s) => s.trim().parse::<i64>().map_err(|_| format!("'{s}' is not an integer").into()),
        Value::Bool(b) => Ok(*b as i64),
        other => Err(format!("{other} is not an integer").into()),
    }
}

fn float_of(v: &Value) -> Result<f64, BoxError> {
    match v {
        Value::Number(n) => n.as_f64().ok_or_else(|| format!("{n} is not a number").into()),
        Value::String(s) => s.trim().parse::<f64>().map_err(|_| format!("'{s}' is not a number").into()),
        other => Err(format!("{other} is not a number").into()),
    }
}

fn parse_datetime(s: &str, tz: Tz) -> Result<DateTime<Utc>, BoxError> {
    let s = s.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Ok(dt.with_timezone(&Utc));
    }
    for f in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"] {
        if let Ok(n) = NaiveDateTime::parse_from_str(s, f) {
            return tz
                .from_local_datetime(&n)
                .earliest()
                .map(|d| d.with_timezone(&Utc))
                .ok_or_else(|| format!("'{s}' does not exist in time zone {tz}").into());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        let n = d.and_hms_opt(0, 0, 0).unwrap_or_default();
        return tz.from_local_datetime(&n).earliest().map(|d| d.with_timezone(&Utc)).ok_or_else(|| "bad date".into());
    }
    Err(format!("'{s}' is not an ISO date-time").into())
}

fn micros_since_pg_epoch(n: NaiveDateTime) -> Result<i64, BoxError> {
    (n - pg_epoch()).num_microseconds().ok_or_else(|| "timestamp out of range".into())
}

/// Encodes `v` as the binary form of `ty`.
pub fn encode(v: &Value, ty: &Type, tz: Tz, out: &mut BytesMut) -> Result<IsNull, BoxError> {
    if v.is_null() {
        return Ok(IsNull::Yes);
    }
    match *ty {
        Type::BOOL => pt::bool_to_sql(
            match v {
                Value::Bool(b) => *b,
                Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                    "true" | "t" | "1" | "yes" => true,
                    "false" | "f" | "0" | "no" => false,
                    _ => return Err(format!("'{s}' is not a boolean").into()),
                },
                Value::Number(n) => n.as_i64() != Some(0),
                other => return Err(format!("{other} is not a boolean").into()),
            },
            out,
        ),
        Type::INT2 => pt::int2_to_sql(i16::try_from(int_of(v)?)?, out),
        Type::INT4 => pt::int4_to_sql(i32::try_from(int_of(v)?)?, out),
        Type::INT8 => pt::int8_to_sql(int_of(v)?, out),
        Type::OID => pt::oid_to_sql(u32::try_from(int_of(v)?)?, out),
        Type::FLOAT4 => pt::float4_to_sql(float_of(v)? as f32, out),
        Type::FLOAT8 => pt::float8_to_sql(float_of(v)?, out),
        Type::NUMERIC => numeric_to_sql(&text_of(v), out)?,
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN | Type::XML => {
            pt::text_to_sql(&text_of(v), out)
        }
        Type::JSON | Type::JSONB => {
            if *ty == Type::JSONB {
                out.put_u8(1);
            }
            match v {
                // a string is taken as JSON text, as Kestra does
                Value::String(s) => {
                    serde_json::from_str::<Value>(s).map_err(|e| format!("'{s}' is not JSON: {e}"))?;
                    out.put_slice(s.as_bytes());
                }
                other => out.put_slice(serde_json::to_string(other)?.as_bytes()),
            }
        }
        Type::UUID => pt::uuid_to_sql(*uuid::Uuid::parse_str(text_of(v).trim())?.as_bytes(), out),
        Type::DATE => {
            let s = text_of(v);
            let d = NaiveDate::parse_from_str(s.trim().get(..10).unwrap_or(s.trim()), "%Y-%m-%d")
                .map_err(|_| format!("'{s}' is not a date (yyyy-MM-dd)"))?;
            let days = d.signed_duration_since(pg_epoch().date()).num_days();
            pt::date_to_sql(i32::try_from(days)?, out)
        }
        Type::TIMESTAMP => {
            let s = text_of(v);
            let local = match DateTime::parse_from_rfc3339(s.trim()) {
                Ok(dt) => dt.with_timezone(&tz).naive_local(),
                Err(_) => parse_datetime(&s, Tz::UTC)?.naive_utc(),
            };
            pt::timestamp_to_sql(micros_since_pg_epoch(local)?, out)
        }
        Type::TIMESTAMPTZ => {
            let utc = parse_datetime(&text_of(v), tz)?;
            pt::timestamp_to_sql(micros_since_pg_epoch(utc.naive_utc())?, out)
        }
        Type::TIME => {
            let s = text_of(v);
            let t = NaiveTime::parse_from_str(s.trim(), "%H:%M:%S%.f")
                .or_else(|_| NaiveTime::parse_from_str(s.trim(), "%H:%M"))
                .map_err(|_| format!("'{s}' is not a time (HH:mm:ss)"))?;
            let us = (t - NaiveTime::MIN).num_microseconds().ok_or("time out of range")?;
            pt::time_to_sql(us, out)
        }
        Type::INTERVAL => {
            let s = text_of(v);
            let d = baton_model::duration::parse_iso(s.trim())
                .map_err(|e| format!("'{s}' is not an ISO-8601 duration (e.g. PT1H): {e}"))?;
            out.put_i64(d.num_microseconds().ok_or("interval out of range")?);
            out.put_i32(0);
            out.put_i32(0);
        }
        Type::BYTEA => pt::bytea_to_sql(text_of(v).as_bytes(), out),
        _ => match ty.kind() {
            Kind::Enum(_) => pt::text_to_sql(&text_of(v), out),
            Kind::Domain(inner) => return encode(v, inner, tz, out),
            Kind::Array(member) => {
                let Value::Array(items) = v else {
                    return Err(format!("expected a list for type {ty}, found {v}").into());
                };
                let mut err: Option<BoxError> = None;
                pt::array_to_sql(
                    Some(pt::ArrayDimension { len: i32::try_from(items.len())?, lower_bound: 1 }),
                    member.oid(),
                    items.iter(),
                    |item, buf| match encode(item, member, tz, buf) {
                        Ok(IsNull::Yes) => Ok(postgres_protocol::IsNull::Yes),
                        Ok(IsNull::No) => Ok(postgres_protocol::IsNull::No),
                        Err(e) => {
                            err = Some(e);
                            Err("element".into())
                        }
                    },
                    out,
                )
                .map_err(|e| err.take().unwrap_or(e))?;
            }
            _ => return Err(format!("binding a value to type {ty} is not supported yet").into()),
        },
    }
    Ok(IsNull::No)
}

impl ToSql for Param {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        encode(&self.value, ty, self.tz, out).map_err(|e| {
            format!("parameter ':{}' (type {ty}): {e}; cast it in SQL (e.g. CAST(:{} AS text))", self.name, self.name)
                .into()
        })
    }
    fn accepts(_: &Type) -> bool {
        true
    }
    to_sql_checked!();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(text: &str) -> String {
        let mut b = BytesMut::new();
        numeric_to_sql(text, &mut b).unwrap();
        numeric_from_sql(&b).unwrap()
    }

    #[test]
    fn numeric_text_roundtrips() {
        for t in
            ["0", "1", "-1", "12.50", "10000", "123456789.000001", "0.00001", "-0.5", "99999999999999999999.99", "NaN"]
        {
            assert_eq!(roundtrip(t), t, "{t}");
        }
        assert_eq!(roundtrip("007.10"), "7.10");
        assert_eq!(roundtrip("1e3"), "1000");
        assert_eq!(decimal_value("12.50"), serde_json::json!(12.5));
        assert_eq!(decimal_value("42"), serde_json::json!(42));
        assert_eq!(decimal_value("99999999999999999999.99"), serde_json::json!("99999999999999999999.99"));
        let mut b = BytesMut::new();
        assert!(numeric_to_sql("12a", &mut b).is_err());
    }

    #[test]
    fn nests_multi_dimensional_arrays() {
        let flat: Vec<Value> = (1..=6).map(Value::from).collect();
        assert_eq!(nest(flat, &[2, 3]), serde_json::json!([[1, 2, 3], [4, 5, 6]]));
    }
}
