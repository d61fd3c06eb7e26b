//! Query result rows as Kestra outputs them (plugin-gcp `Query.convertCell`):
//! INTEGER → number, FLOAT/NUMERIC → floating number, BOOLEAN → boolean,
//! TIMESTAMP and DATETIME → ISO-8601 instants, DATE/TIME/STRING/BYTES
//! (base64) → strings, REPEATED → lists, RECORD → maps, NULL → null.
//! Timestamps are read as int64 microseconds (the client asks for them so)
//! or as BigQuery's float seconds.

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
use serde_json::{Map, Number, Value};

use crate::TaskError;
use crate::jdbc::fetch::Row;

fn iso(t: DateTime<Utc>) -> Value {
    Value::String(t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

fn timestamp(s: &str) -> Option<Value> {
    if let Ok(micros) = s.parse::<i64>() {
        return DateTime::from_timestamp_micros(micros).map(iso);
    }
    let secs: f64 = s.parse().ok()?;
    DateTime::from_timestamp_micros((secs * 1_000_000.0).round() as i64).map(iso)
}

fn datetime(s: &str) -> Option<Value> {
    let t = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f"))
        .ok()?;
    Some(iso(t.and_utc()))
}

fn float(s: &str) -> Option<Value> {
    match s {
        "NaN" | "Infinity" | "-Infinity" => Some(Value::String(s.to_string())),
        _ => s.parse::<f64>().ok().and_then(Number::from_f64).map(Value::Number),
    }
}

/// A schema field (`{name, type, mode, fields}`).
struct Field<'a>(&'a Value);

impl Field<'_> {
    fn name(&self) -> &str {
        self.0["name"].as_str().unwrap_or_default()
    }
    fn kind(&self) -> &str {
        self.0["type"].as_str().unwrap_or("STRING")
    }
    fn repeated(&self) -> bool {
        self.0["mode"].as_str() == Some("REPEATED")
    }
}

/// Converts one scalar.
fn scalar(field: &Field, v: &Value) -> Result<Value, String> {
    let Some(s) = v.as_str() else {
        return match v {
            Value::Null => Ok(Value::Null),
            other => Ok(other.clone()),
        };
    };
    let bad = || format!("column '{}': cannot read '{s}' as {}", field.name(), field.kind());
    Ok(match field.kind() {
        "INTEGER" | "INT64" => s.parse::<i64>().map(Value::from).map_err(|_| bad())?,
        "FLOAT" | "FLOAT64" | "NUMERIC" | "BIGNUMERIC" => float(s).ok_or_else(bad)?,
        "BOOLEAN" | "BOOL" => Value::Bool(s.eq_ignore_ascii_case("true")),
        "TIMESTAMP" => timestamp(s).ok_or_else(bad)?,
        "DATETIME" => datetime(s).ok_or_else(bad)?,
        _ => Value::String(s.to_string()),
    })
}

fn cell(field: &Field, v: &Value, in_repeated: bool) -> Result<Value, String> {
    if v.is_null() {
        return Ok(if field.repeated() && !in_repeated { Value::Array(vec![]) } else { Value::Null });
    }
    if field.repeated() && !in_repeated {
        let items = v.as_array().cloned().unwrap_or_default();
        return items.iter().map(|item| cell(field, &item["v"], true)).collect::<Result<Vec<_>, _>>().map(Value::Array);
    }
    if matches!(field.kind(), "RECORD" | "STRUCT") {
        let m = record(field.0["fields"].as_array().map(Vec::as_slice).unwrap_or_default(), v)?;
        return Ok(Value::Object(m));
    }
    scalar(field, v)
}

/// A `{"f": [{"v": …}, …]}` record with `fields` (schema JSON) as a map.
fn record(fields: &[Value], r: &Value) -> Result<Map<String, Value>, String> {
    let cells = r["f"].as_array().map(Vec::as_slice).unwrap_or_default();
    let mut out = Map::new();
    for (i, f) in fields.iter().enumerate() {
        let f = Field(f);
        let raw = cells.get(i).map(|c| &c["v"]).unwrap_or(&Value::Null);
        out.insert(f.name().to_string(), cell(&f, raw, false)?);
    }
    Ok(out)
}

/// One result row (`{"f": […]}`), columns in the order of `fields` (the
/// result schema's `fields`).
pub fn row(fields: &[Value], r: &Value) -> Result<Row, TaskError> {
    record(fields, r).map_err(TaskError::failed)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn converts_like_kestra() {
        // The emulator's answer to a SELECT of every common type.
        let schema = json!([
            {"name":"a","type":"INTEGER"},{"name":"b","type":"STRING"},{"name":"t","type":"TIMESTAMP"},
            {"name":"f","type":"FLOAT"},{"name":"n","type":"NUMERIC"},{"name":"d","type":"DATE"},
            {"name":"by","type":"BYTES"},{"name":"arr","type":"INTEGER","mode":"REPEATED"},
            {"name":"s","type":"RECORD","fields":[{"name":"x","type":"INTEGER"}]},
            {"name":"dt","type":"DATETIME"},{"name":"ok","type":"BOOLEAN"},{"name":"nul","type":"STRING"},
            {"name":"t2","type":"TIMESTAMP"}
        ]);
        let schema = schema.as_array().unwrap();
        let r = json!({"f":[
            {"v":"1"},{"v":"x"},{"v":"1795307347432367"},{"v":"1.5"},{"v":"2.500"},{"v":"2020-01-02"},
            {"v":"YWI="},{"v":[{"v":"1"},{"v":"2"}]},{"v":{"f":[{"v":"1"}]}},{"v":"2008-12-25T15:30:00.123456"},
            {"v":"true"},{"v":null},{"v":"1.2345E9"}
        ]});
        let out = Value::Object(row(schema, &r).unwrap());
        assert_eq!(
            out,
            json!({"a":1,"b":"x","t":"2026-11-22T00:29:07.432367Z","f":1.5,"n":2.5,"d":"2020-01-02","by":"YWI=",
                   "arr":[1,2],"s":{"x":1},"dt":"2008-12-25T15:30:00.123456Z","ok":true,"nul":null,
                   "t2":"2009-02-13T04:40:00Z"})
        );
        let bad = json!({"f":[{"v":"one"}]});
        assert!(row(&schema[..1], &bad).unwrap_err().to_string().contains("column 'a'"));
    }
}
