//! Values between Avro (`apache-avro`) and Baton's Ion (JSON values).
//!
//! Reading, as Kestra's `AvroDeserializer`: a record becomes a struct in
//! the schema's field order (the `root` record wrapping one array field
//! `value` becomes that list), enums their symbol, dates, times and
//! timestamps their ISO text (Baton's Ion holds timestamps as text),
//! decimals Ion decimals with their digits and scale (Kestra's
//! `BigDecimal`, [`super::exact`]), UUIDs text. Bytes and fixed would be Ion blobs, which
//! Baton's Ion does not hold: refused naming the field.
//!
//! Writing, as Kestra's `AvroConverter` with its defaults: a value is
//! converted to the field's schema — a string in `nullValues` is null where
//! the schema allows null, `trueValues`/`falseValues` are booleans, numbers
//! may be strings (with `decimalSeparator`), dates and times ISO text
//! (timestamps without an offset are UTC), a union takes its first branch
//! that fits. A struct field missing is null (or the field's default); with
//! `strictSchema` a field not in the schema is an error. An Ion decimal is
//! read exactly, as Kestra's `BigDecimal`: rounded half to even to a
//! decimal field's scale (as `setScale`; a text too), its Java text in a
//! string field (`1.50`, `1E+3`), its double in a double field.

use std::collections::HashMap;

use apache_avro::Schema;
use apache_avro::types::Value as Avro;
use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use serde_json::{Map, Number, Value};

use super::exact::Exact;
use super::java_time::Pattern;
use crate::core::ion_text::{self, RAW};

/// Kestra's conversion options.
#[derive(Debug, Clone)]
pub struct Convert {
    pub null_values: Vec<String>,
    pub true_values: Vec<String>,
    pub false_values: Vec<String>,
    pub decimal_separator: char,
    pub strict: bool,
    /// `inferAllFields`: `nullValues`, `trueValues`, `falseValues` apply
    /// to every field, whatever its type.
    pub infer_all: bool,
    /// `dateFormat`, `timeFormat`, `datetimeFormat` (Java patterns).
    pub date_format: Pattern,
    pub time_format: Pattern,
    pub datetime_format: Pattern,
    /// `timeZoneId`: the zone of a date-time written without an offset.
    pub zone: Tz,
}

const EPOCH: NaiveDate = NaiveDate::from_ymd_opt(1970, 1, 1).expect("a valid date");

// ------------------------------------------------------------- reading ---

/// One Avro datum of `schema` (the writer's) as an Ion value.
pub fn to_json(v: &Avro, schema: &Schema, path: &str) -> Result<Value, String> {
    Ok(match v {
        Avro::Null => Value::Null,
        Avro::Boolean(b) => Value::Bool(*b),
        Avro::Int(i) => Value::from(*i),
        Avro::Long(i) => Value::from(*i),
        Avro::Float(f) => float(f64::from(*f)),
        Avro::Double(f) => float(*f),
        Avro::String(s) | Avro::Enum(_, s) => text(s),
        Avro::Bytes(_) | Avro::Fixed(..) | Avro::Duration(_) => {
            return Err(format!("field '{path}' holds bytes, which Baton's Ion files cannot hold (Ion blobs)"));
        }
        Avro::Union(i, inner) => {
            let branch = match schema {
                Schema::Union(u) => u.variants().get(*i as usize).unwrap_or(schema),
                _ => schema,
            };
            to_json(inner, branch, path)?
        }
        Avro::Array(items) => {
            let item = if let Schema::Array(a) = schema { &a.items } else { schema };
            Value::Array(items.iter().map(|i| to_json(i, item, path)).collect::<Result<_, _>>()?)
        }
        Avro::Map(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let mut out = Map::new();
            for k in keys {
                let item = if let Schema::Map(ms) = schema { &ms.types } else { schema };
                out.insert(k.clone(), to_json(&m[k], item, &format!("{path}.{k}"))?);
            }
            Value::Object(out)
        }
        Avro::Record(fields) => {
            if let [(name, Avro::Array(items))] = fields.as_slice()
                && name == "value"
                && path.is_empty()
            {
                let item = match schema {
                    Schema::Record(r) if r.name.name() == "root" => match r.fields.first().map(|f| &f.schema) {
                        Some(Schema::Array(a)) => Some(&a.items),
                        _ => None,
                    },
                    _ => None,
                };
                if let Some(item) = item {
                    return Ok(Value::Array(items.iter().map(|i| to_json(i, item, name)).collect::<Result<_, _>>()?));
                }
            }
            let mut out = Map::new();
            for (k, f) in fields {
                let p = join(path, k);
                let field = match schema {
                    Schema::Record(r) => r.fields.iter().find(|x| &x.name == k).map_or(schema, |x| &x.schema),
                    _ => schema,
                };
                out.insert(k.clone(), to_json(f, field, &p)?);
            }
            Value::Object(out)
        }
        Avro::Date(d) => date_text(*d),
        Avro::TimeMillis(ms) => time_text(i64::from(*ms) * 1_000_000),
        Avro::TimeMicros(us) => time_text(us * 1_000),
        Avro::TimestampMillis(ms) => instant_text(DateTime::from_timestamp_millis(*ms), path)?,
        Avro::TimestampMicros(us) => instant_text(DateTime::from_timestamp_micros(*us), path)?,
        Avro::TimestampNanos(ns) => instant_text(Some(DateTime::from_timestamp_nanos(*ns)), path)?,
        Avro::LocalTimestampMillis(ms) => local_text(DateTime::from_timestamp_millis(*ms), path)?,
        Avro::LocalTimestampMicros(us) => local_text(DateTime::from_timestamp_micros(*us), path)?,
        Avro::LocalTimestampNanos(ns) => local_text(Some(DateTime::from_timestamp_nanos(*ns)), path)?,
        Avro::Decimal(d) => {
            let bytes = Vec::<u8>::try_from(d).map_err(|e| format!("field '{path}': {e}"))?;
            let scale = if let Schema::Decimal(d) = schema { d.scale } else { 0 };
            decimal_value(&bytes, scale, path)?
        }
        Avro::BigDecimal(d) => decimal_number(&d.to_string(), path)?,
        Avro::Uuid(u) => Value::String(u.to_string()),
    })
}

/// A float, or its text when JSON has no number for it (NaN, infinities).
pub fn float(f: f64) -> Value {
    Number::from_f64(f).map_or_else(|| Value::String(f.to_string()), Value::Number)
}

/// A time of day (nanoseconds since midnight) as ISO text.
pub fn time_text(nanos: i64) -> Value {
    let secs = nanos.div_euclid(1_000_000_000) as u32;
    let t = NaiveTime::from_num_seconds_from_midnight_opt(secs, nanos.rem_euclid(1_000_000_000) as u32);
    Value::String(t.map_or_else(|| nanos.to_string(), |t| t.to_string()))
}

/// An instant as ISO text with `Z`.
pub fn instant_text(t: Option<DateTime<chrono::Utc>>, path: &str) -> Result<Value, String> {
    let t = t.ok_or_else(|| format!("field '{path}' is a timestamp out of range"))?;
    Ok(Value::String(t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)))
}

/// A local date-time (counted as if UTC) as ISO text without an offset.
pub fn local_text(t: Option<DateTime<chrono::Utc>>, path: &str) -> Result<Value, String> {
    let t = t.ok_or_else(|| format!("field '{path}' is a timestamp out of range"))?;
    Ok(Value::String(t.naive_utc().format("%Y-%m-%dT%H:%M:%S%.f").to_string()))
}

/// A date (days since 1970-01-01) as ISO text.
pub fn date_text(days: i32) -> Value {
    Value::String((EPOCH + chrono::Duration::days(i64::from(days))).to_string())
}

/// A decimal's two's complement big-endian unscaled bytes and scale as the
/// Ion decimal Kestra writes.
pub fn decimal_value(bytes: &[u8], scale: usize, path: &str) -> Result<Value, String> {
    decimal_number(&unscaled_text(bytes, scale), path)
}

/// A two's complement big-endian unscaled value with `scale` digits after
/// the point, as decimal text (empty when longer than 16 bytes).
fn unscaled_text(bytes: &[u8], scale: usize) -> String {
    if bytes.len() > 16 {
        return String::new();
    }
    let negative = bytes.first().is_some_and(|b| b & 0x80 != 0);
    let mut v: i128 = if negative { -1 } else { 0 };
    for b in bytes {
        v = (v << 8) | i128::from(*b);
    }
    let digits = format!("{:0>width$}", v.unsigned_abs(), width = scale + 1);
    let (int, frac) = digits.split_at(digits.len() - scale);
    let sign = if v < 0 { "-" } else { "" };
    if scale == 0 { format!("{sign}{int}") } else { format!("{sign}{int}.{frac}") }
}

/// A decimal as the `BigDecimal` Kestra reads and writes into its Ion
/// file, digits and scale kept (`12.50`): a marked number
/// ([`super::exact`]), written as an Ion decimal.
fn decimal_number(s: &str, path: &str) -> Result<Value, String> {
    if s.is_empty() {
        return Err(format!("field '{path}' is a decimal wider than 16 bytes"));
    }
    // bigdecimal's scientific form (`1.5E+12`) in Ion's notation (`1.5d12`)
    let ion = s.replace("E+", "d").replace(['E', 'e'], "d");
    Ok(Value::String(format!("{RAW}{ion}")))
}

/// A text read from Avro, kept as itself among marked numbers.
pub fn text(s: &str) -> Value {
    super::xml_number::text(s)
}

// ------------------------------------------------------------- writing ---

impl Convert {
    fn is_null(&self, v: &Value) -> bool {
        match v {
            Value::Null => true,
            Value::String(s) => self.null_values.iter().any(|n| n == s),
            _ => false,
        }
    }

    /// `v` as a datum of `schema`; the error names the field.
    pub fn to_avro(&self, v: &Value, schema: &Schema, path: &str) -> Result<Avro, String> {
        let exact;
        let v = match (Exact::of(v), schema) {
            // each branch of a union takes the number as it is
            (_, Schema::Union(_)) => v,
            // String.valueOf(BigDecimal): its Java text
            (Some(_), Schema::String) => {
                return Ok(Avro::String(super::csv_write::java_string(v).unwrap_or_default()));
            }
            // the digits, rounded to the field's scale as Kestra's setScale
            (Some(n), Schema::Decimal(_)) => {
                exact = Value::String(n.plain().ok_or_else(|| format!("field '{path}': a decimal too long"))?);
                &exact
            }
            // a BigInteger's digits (past a long: refused as one), a
            // BigDecimal's double
            (Some(Exact::BigInteger(d)), _) => {
                exact = Value::String(d);
                &exact
            }
            (Some(n), _) => {
                exact = n.to_f64().and_then(Number::from_f64).map_or(Value::Null, Value::Number);
                &exact
            }
            (None, _) => match v {
                Value::String(s) if s.starts_with(RAW) => {
                    exact = Value::String(ion_text::plain_text(s).to_string());
                    &exact
                }
                v => v,
            },
        };
        let inferred;
        let v = match v {
            Value::String(s) if self.infer_all => {
                inferred = if self.null_values.contains(s) {
                    Value::Null
                } else if self.true_values.contains(s) {
                    Value::Bool(true)
                } else if self.false_values.contains(s) {
                    Value::Bool(false)
                } else {
                    v.clone()
                };
                &inferred
            }
            v => v,
        };
        let bad = |what: &str| format!("field '{path}': {} is not {what}", short(v));
        Ok(match schema {
            Schema::Null if self.is_null(v) => Avro::Null,
            Schema::Null => return Err(bad("null")),
            Schema::Union(u) => {
                if self.is_null(v)
                    && let Some(i) = u.variants().iter().position(|s| matches!(s, Schema::Null))
                {
                    return Ok(Avro::Union(i as u32, Box::new(Avro::Null)));
                }
                let mut last = None;
                for (i, s) in u.variants().iter().enumerate().filter(|(_, s)| !matches!(s, Schema::Null)) {
                    match self.to_avro(v, s, path) {
                        Ok(a) => return Ok(Avro::Union(i as u32, Box::new(a))),
                        Err(e) => last = Some(e),
                    }
                }
                return Err(last.unwrap_or_else(|| bad("any type of the union")));
            }
            _ if matches!(v, Value::Null) => {
                return Err(format!("field '{path}': null for a field that is not nullable"));
            }
            Schema::Boolean => match v {
                Value::Bool(b) => Avro::Boolean(*b),
                Value::String(s) if self.true_values.iter().any(|t| t == s) => Avro::Boolean(true),
                Value::String(s) if self.false_values.iter().any(|t| t == s) => Avro::Boolean(false),
                Value::Number(n) if n.as_i64() == Some(1) => Avro::Boolean(true),
                Value::Number(n) if n.as_i64() == Some(0) => Avro::Boolean(false),
                _ => return Err(bad("a boolean")),
            },
            Schema::Int => {
                Avro::Int(i32::try_from(self.integer(v).ok_or_else(|| bad("an int"))?).map_err(|_| bad("an int"))?)
            }
            Schema::Long => Avro::Long(self.integer(v).ok_or_else(|| bad("a long"))?),
            Schema::Float => Avro::Float(self.number(v).ok_or_else(|| bad("a float"))? as f32),
            Schema::Double => Avro::Double(self.number(v).ok_or_else(|| bad("a double"))?),
            Schema::String => match v {
                Value::String(s) => Avro::String(s.clone()),
                Value::Array(_) | Value::Object(_) => return Err(bad("a string")),
                other => Avro::String(super::csv_write::java_string(other).unwrap_or_default()),
            },
            Schema::Bytes => match v {
                Value::String(s) => Avro::Bytes(s.as_bytes().to_vec()),
                _ => return Err(bad("bytes")),
            },
            Schema::Fixed(f) => match v {
                Value::String(s) if s.len() == f.size => Avro::Fixed(f.size, s.as_bytes().to_vec()),
                _ => return Err(bad(&format!("{} bytes", f.size))),
            },
            Schema::Enum(e) => match v {
                Value::String(s) => match e.symbols.iter().position(|x| x == s) {
                    Some(i) => Avro::Enum(i as u32, s.clone()),
                    None => return Err(bad(&format!("one of {:?}", e.symbols))),
                },
                _ => return Err(bad("an enum symbol")),
            },
            Schema::Array(a) => match v {
                Value::Array(items) => {
                    Avro::Array(items.iter().map(|i| self.to_avro(i, &a.items, path)).collect::<Result<_, _>>()?)
                }
                _ => return Err(bad("a list")),
            },
            Schema::Map(m) => match v {
                Value::Object(o) => {
                    let mut out = HashMap::with_capacity(o.len());
                    for (k, i) in o {
                        out.insert(k.clone(), self.to_avro(i, &m.types, &format!("{path}.{k}"))?);
                    }
                    Avro::Map(out)
                }
                _ => return Err(bad("a map")),
            },
            Schema::Record(r) => match v {
                Value::Object(o) => {
                    if self.strict
                        && let Some(extra) = o.keys().find(|k| !r.fields.iter().any(|f| &f.name == *k))
                    {
                        return Err(format!("field '{}' is not in the schema (strictSchema)", join(path, extra)));
                    }
                    let mut out = Vec::with_capacity(r.fields.len());
                    for f in &r.fields {
                        let p = join(path, &f.name);
                        let datum = match (o.get(&f.name), &f.default) {
                            (None, Some(d)) => self.to_avro(d, &f.schema, &p)?,
                            (got, _) => self.to_avro(got.unwrap_or(&Value::Null), &f.schema, &p)?,
                        };
                        out.push((f.name.clone(), datum));
                    }
                    Avro::Record(out)
                }
                _ => return Err(bad("a struct")),
            },
            Schema::Date => {
                Avro::Date(self.date(v).ok_or_else(|| bad(&format!("a date ({})", self.date_format.as_str())))?)
            }
            Schema::TimeMillis => {
                Avro::TimeMillis((self.time_of_day(v).ok_or_else(|| self.bad_time(v, path))? / 1_000_000) as i32)
            }
            Schema::TimeMicros => Avro::TimeMicros(self.time_of_day(v).ok_or_else(|| self.bad_time(v, path))? / 1_000),
            Schema::TimestampMillis => Avro::TimestampMillis(self.instant(v, 1_000_000, path)?.timestamp_millis()),
            Schema::TimestampMicros => Avro::TimestampMicros(self.instant(v, 1_000, path)?.timestamp_micros()),
            Schema::LocalTimestampMillis => {
                Avro::LocalTimestampMillis(self.local(self.instant(v, 1_000_000, path)?).timestamp_millis())
            }
            Schema::LocalTimestampMicros => {
                Avro::LocalTimestampMicros(self.local(self.instant(v, 1_000, path)?).timestamp_micros())
            }
            Schema::Uuid(_) => match v {
                Value::String(s) => Avro::Uuid(s.parse().map_err(|_| bad("a UUID"))?),
                _ => return Err(bad("a UUID")),
            },
            Schema::Decimal(d) => {
                let text = self.numeric_text(v).ok_or_else(|| bad("a decimal"))?;
                let unscaled =
                    unscaled(&text, d.scale).ok_or_else(|| bad(&format!("a decimal of scale {}", d.scale)))?;
                let bytes = unscaled.to_be_bytes();
                let skip = bytes
                    .windows(2)
                    .take_while(|w| (w[0] == 0 && w[1] & 0x80 == 0) || (w[0] == 0xff && w[1] & 0x80 != 0))
                    .count();
                Avro::Decimal(apache_avro::Decimal::from(&bytes[skip..]))
            }
            other => return Err(format!("field '{path}': Baton cannot write the Avro type {other:?}")),
        })
    }

    fn numeric_text(&self, v: &Value) -> Option<String> {
        match v {
            Value::Number(n) => Some(n.to_string()),
            Value::String(s) => {
                let t = s.trim();
                Some(if self.decimal_separator == '.' { t.to_string() } else { t.replace(self.decimal_separator, ".") })
            }
            _ => None,
        }
    }

    fn integer(&self, v: &Value) -> Option<i64> {
        match v {
            Value::Number(n) => n.as_i64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
            Value::String(_) => self.numeric_text(v)?.parse().ok(),
            _ => None,
        }
    }

    fn number(&self, v: &Value) -> Option<f64> {
        match v {
            Value::Number(n) => n.as_f64(),
            Value::String(_) => self.numeric_text(v)?.parse().ok(),
            _ => None,
        }
    }
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() { name.to_string() } else { format!("{path}.{name}") }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 { format!("{}…", s.chars().take(60).collect::<String>()) } else { s }
}

impl Convert {
    /// Kestra's `logicalDate`: text in `dateFormat`.
    fn date(&self, v: &Value) -> Option<i32> {
        let d = self.date_format.parse(v.as_str()?)?.date()?;
        i32::try_from((d - EPOCH).num_days()).ok()
    }

    /// Kestra's `logicalTime…`: text in `timeFormat`, as nanoseconds since midnight.
    fn time_of_day(&self, v: &Value) -> Option<i64> {
        let t = self.time_format.parse(v.as_str()?)?.time()?;
        Some(i64::from(t.num_seconds_from_midnight()) * 1_000_000_000 + i64::from(t.nanosecond()))
    }

    fn bad_time(&self, v: &Value, path: &str) -> String {
        format!("field '{path}': {} is not a time ({})", short(v), self.time_format.as_str())
    }

    /// Kestra's `logicalTimestamp…`: an epoch count (of `unit_nanos`
    /// nanoseconds: milli or micro), or text in `datetimeFormat` (without an
    /// offset, in `timeZoneId`).
    fn instant(&self, v: &Value, unit_nanos: i64, path: &str) -> Result<DateTime<Utc>, String> {
        let bad = || format!("field '{path}': {} is not a date-time ({})", short(v), self.datetime_format.as_str());
        let epoch = match v {
            Value::Number(n) => Some(n.as_i64().ok_or_else(bad)?),
            Value::String(s) => s.trim().parse::<i64>().ok(),
            _ => return Err(bad()),
        };
        if let Some(count) = epoch {
            let nanos = count.checked_mul(unit_nanos).ok_or_else(bad)?;
            return Ok(DateTime::from_timestamp_nanos(nanos));
        }
        let p = self.datetime_format.parse(v.as_str().unwrap_or_default()).ok_or_else(bad)?;
        let local = p.date().ok_or_else(bad)?.and_time(p.time().ok_or_else(bad)?);
        match p.offset {
            Some(o) => o.from_local_datetime(&local).single().map(|t| t.to_utc()),
            None => self.zone.from_local_datetime(&local).earliest().map(|t| t.to_utc()),
        }
        .ok_or_else(bad)
    }

    /// An instant as the local date-time of `timeZoneId`, counted as if UTC
    /// (Avro's local timestamps).
    fn local(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        t.with_timezone(&self.zone).naive_local().and_utc()
    }
}

/// `text` (a plain decimal) times 10^scale, the digits past `scale`
/// rounded half to even, as Kestra's `setScale(scale, HALF_EVEN)`.
fn unscaled(text: &str, scale: usize) -> Option<i128> {
    let (neg, body) = match text.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    let digits_only = |d: &str| d.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !digits_only(int) || !digits_only(frac) {
        return None;
    }
    let (kept, dropped) = frac.split_at(frac.len().min(scale));
    let digits = format!("{int}{kept}{}", "0".repeat(scale - kept.len()));
    let mut n: i128 = if digits.is_empty() { 0 } else { digits.parse().ok()? };
    let first = dropped.bytes().next().unwrap_or(b'0');
    let beyond = dropped.bytes().skip(1).any(|b| b != b'0');
    if first > b'5' || (first == b'5' && (beyond || n % 2 == 1)) {
        n = n.checked_add(1)?;
    }
    Some(if neg { -n } else { n })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn convert() -> Convert {
        Convert {
            null_values: vec!["".into(), "null".into(), "NA".into()],
            true_values: vec!["true".into(), "yes".into(), "1".into()],
            false_values: vec!["false".into(), "no".into(), "0".into()],
            decimal_separator: '.',
            strict: false,
            infer_all: false,
            date_format: Pattern::compile("yyyy-MM-dd[XXX]").unwrap(),
            time_format: Pattern::compile("HH:mm[:ss][.SSSSSS][XXX]").unwrap(),
            datetime_format: Pattern::compile("yyyy-MM-dd'T'HH:mm[:ss][.SSSSSS][XXX]").unwrap(),
            zone: Tz::UTC,
        }
    }

    #[test]
    fn values_convert_both_ways() {
        let schema = Schema::parse_str(
            r#"{"type":"record","name":"r","fields":[
            {"name":"id","type":"int"},{"name":"name","type":["null","string"]},
            {"name":"ok","type":"boolean"},{"name":"price","type":{"type":"bytes","logicalType":"decimal","precision":10,"scale":2}},
            {"name":"day","type":{"type":"int","logicalType":"date"}},
            {"name":"at","type":{"type":"long","logicalType":"timestamp-millis"}},
            {"name":"tags","type":{"type":"array","items":"string"}},
            {"name":"kind","type":{"type":"enum","name":"k","symbols":["A","B"]}}]}"#,
        )
        .unwrap();
        let row = json!({"id": "7", "name": "NA", "ok": "yes", "price": "12.5", "day": "2024-01-31",
            "at": "2024-01-31T10:00:00+01:00", "tags": ["a"], "kind": "B"});
        let avro = convert().to_avro(&row, &schema, "").unwrap();
        assert!(avro.validate(&schema));
        let back = to_json(&avro, &schema, "").unwrap();
        assert_eq!(
            back,
            json!({"id": 7, "name": null, "ok": true, "price": format!("{RAW}12.50"), "day": "2024-01-31",
                "at": "2024-01-31T09:00:00Z", "tags": ["a"], "kind": "B"})
        );
        let e = convert().to_avro(&json!({"id": "x"}), &schema, "").unwrap_err();
        assert_eq!(e, "field 'id': \"x\" is not an int");
        let mut strict = convert();
        strict.strict = true;
        let e = strict.to_avro(&json!({"id": 1, "extra": 2}), &schema, "").unwrap_err();
        assert!(e.contains("'extra' is not in the schema"), "{e}");
        assert_eq!(unscaled("-1.5", 2), Some(-150));
        assert_eq!(unscaled("7", 0), Some(7));
        // Kestra's setScale(scale, HALF_EVEN)
        assert_eq!(unscaled("1.555", 2), Some(156));
        assert_eq!(unscaled("1.545", 2), Some(154));
        assert_eq!(unscaled("1.5451", 2), Some(155));
        assert_eq!(unscaled("-0.005", 2), Some(0));
        assert_eq!(unscaled("1.2.3", 2), None);
    }

    #[test]
    fn exact_ion_numbers_convert_as_kestras_big_decimals() {
        let schema = Schema::parse_str(
            r#"{"type":"record","name":"r","fields":[
            {"name":"dec","type":{"type":"bytes","logicalType":"decimal","precision":30,"scale":3}},
            {"name":"s","type":"string"},{"name":"d","type":"double"},{"name":"l","type":"long"},
            {"name":"u","type":["null","string"]},{"name":"n","type":"string"}]}"#,
        )
        .unwrap();
        let mark = |t: &str| Value::String(format!("{RAW}{t}"));
        let row = json!({"dec": mark("12345678901234567890.1235"), "s": mark("1d3"), "d": mark("0.0001"),
            "l": mark("42.0"), "u": mark("1.50"), "n": format!("{RAW}{RAW}x")});
        let avro = convert().to_avro(&row, &schema, "").unwrap();
        assert!(avro.validate(&schema));
        let Avro::Record(fields) = &avro else { panic!("a record") };
        let get = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap();
        // digits past a double's, rounded half to even at the scale
        assert_eq!(to_json(&get("dec"), &schema_of(&schema, "dec"), "dec").unwrap(), mark("12345678901234567890.124"));
        assert_eq!(get("s"), Avro::String("1E+3".into()), "String.valueOf(BigDecimal)");
        assert_eq!(get("d"), Avro::Double(0.0001));
        assert_eq!(get("l"), Avro::Long(42));
        assert_eq!(get("u"), Avro::Union(1, Box::new(Avro::String("1.50".into()))));
        assert_eq!(get("n"), Avro::String("\u{0}x".into()), "a text starting with NUL is itself");
        let e = convert().to_avro(&mark("123456789012345678901234"), &schema_of(&schema, "l"), "l");
        assert!(e.unwrap_err().contains("is not a long"));
    }

    fn schema_of(schema: &Schema, field: &str) -> Schema {
        let Schema::Record(r) = schema else { panic!("a record") };
        r.fields.iter().find(|f| f.name == field).map(|f| f.schema.clone()).unwrap()
    }
}
