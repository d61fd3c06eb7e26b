//! The rows of `bigquery.StorageWrite` in the Storage Write API's form: a
//! proto2 message type made from the table's schema (what Kestra's
//! `JsonStreamWriter` derives from it: one field a column, numbered from 1;
//! RECORD columns as nested message types, REPEATED columns as repeated
//! fields) and each record encoded as that message's bytes. The wire type
//! of a column: INT64 → int64, FLOAT64 → double, BOOL → bool, BYTES →
//! bytes, TIMESTAMP → int64 epoch microseconds, DATE → int32 epoch days,
//! and STRING, JSON, NUMERIC, BIGNUMERIC, DATETIME, TIME, GEOGRAPHY,
//! INTERVAL → string (a form the API documents for each). RANGE columns
//! are refused, naming the column. As `JsonStreamWriter` does, a record
//! field that is no column fails, naming it, field names match columns
//! whatever their case, and a REQUIRED column must have a value.

use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{DescriptorProto, FieldDescriptorProto};
use serde_json::{Map, Value};

use super::storage_values as values;

/// A column's wire form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scalar {
    Int64,
    Double,
    Bool,
    String,
    Json,
    Numeric,
    Datetime,
    Time,
    Geography,
    Interval,
    Bytes,
    Timestamp,
    Date,
}

impl Scalar {
    fn of(bq_type: &str) -> Option<Scalar> {
        Some(match bq_type {
            "INTEGER" | "INT64" => Scalar::Int64,
            "FLOAT" | "FLOAT64" => Scalar::Double,
            "BOOLEAN" | "BOOL" => Scalar::Bool,
            "STRING" => Scalar::String,
            "JSON" => Scalar::Json,
            "NUMERIC" | "BIGNUMERIC" | "DECIMAL" | "BIGDECIMAL" => Scalar::Numeric,
            "DATETIME" => Scalar::Datetime,
            "TIME" => Scalar::Time,
            "GEOGRAPHY" => Scalar::Geography,
            "INTERVAL" => Scalar::Interval,
            "BYTES" => Scalar::Bytes,
            "TIMESTAMP" => Scalar::Timestamp,
            "DATE" => Scalar::Date,
            _ => return None,
        })
    }

    fn proto_type(self) -> Type {
        match self {
            Scalar::Int64 | Scalar::Timestamp => Type::Int64,
            Scalar::Double => Type::Double,
            Scalar::Bool => Type::Bool,
            Scalar::Bytes => Type::Bytes,
            Scalar::Date => Type::Int32,
            _ => Type::String,
        }
    }
}

#[derive(Debug, Clone)]
enum Kind {
    Scalar(Scalar),
    Record(Fields),
}

#[derive(Debug, Clone)]
struct Column {
    name: String,
    number: u32,
    kind: Kind,
    repeated: bool,
    required: bool,
}

/// The columns of one message type.
#[derive(Debug, Clone)]
struct Fields {
    type_name: String,
    columns: Vec<Column>,
}

/// A table's row type.
#[derive(Debug, Clone)]
pub struct RowSchema {
    root: Fields,
}

/// RECORD columns nest at most this deep (BigQuery's own limit is 15).
const MAX_DEPTH: usize = 15;

impl RowSchema {
    /// From a table's `schema` (BigQuery's REST `TableSchema`).
    pub fn from_table(schema: &Value) -> Result<RowSchema, String> {
        let mut count = 0;
        let root = fields(schema.get("fields"), "", "table_schema".into(), &mut count, 0)?;
        if root.columns.is_empty() {
            return Err("the table has no columns".into());
        }
        Ok(RowSchema { root })
    }

    /// The proto2 descriptor of a row: nested types flattened into the
    /// root, named relatively (self-contained, as the API requires).
    pub fn descriptor(&self) -> DescriptorProto {
        let mut nested = Vec::new();
        let mut root = descriptor(&self.root, &mut nested);
        root.nested_type = nested;
        root
    }

    /// `record` (a map) as the row message's bytes.
    pub fn encode(&self, record: &Map<String, Value>) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        encode_fields(&self.root, record, "", &mut out)?;
        Ok(out)
    }
}

fn fields(v: Option<&Value>, path: &str, type_name: String, count: &mut usize, depth: usize) -> Result<Fields, String> {
    let list = v.and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let mut columns = Vec::with_capacity(list.len());
    for (i, f) in list.iter().enumerate() {
        let name = f["name"].as_str().unwrap_or_default().to_string();
        let full = if path.is_empty() { name.clone() } else { format!("{path}.{name}") };
        let ty = f["type"].as_str().unwrap_or("STRING").to_ascii_uppercase();
        let mode = f["mode"].as_str().unwrap_or("NULLABLE").to_ascii_uppercase();
        let kind =
            if ty == "RECORD" || ty == "STRUCT" {
                if depth + 1 > MAX_DEPTH {
                    return Err(format!("column '{full}' nests RECORDs deeper than {MAX_DEPTH}"));
                }
                *count += 1;
                Kind::Record(fields(f.get("fields"), &full, format!("Struct{count}"), count, depth + 1)?)
            } else {
                Kind::Scalar(Scalar::of(&ty).ok_or_else(|| {
                    format!("column '{full}' is of type {ty}, which Baton's StorageWrite does not write")
                })?)
            };
        columns.push(Column {
            name,
            number: i as u32 + 1,
            kind,
            repeated: mode == "REPEATED",
            required: mode == "REQUIRED",
        });
    }
    Ok(Fields { type_name, columns })
}

fn descriptor(f: &Fields, nested: &mut Vec<DescriptorProto>) -> DescriptorProto {
    let field = f
        .columns
        .iter()
        .map(|c| {
            let (ty, type_name) = match &c.kind {
                Kind::Scalar(s) => (s.proto_type(), None),
                Kind::Record(r) => {
                    let d = descriptor(r, nested);
                    nested.push(d);
                    (Type::Message, Some(r.type_name.clone()))
                }
            };
            FieldDescriptorProto {
                name: Some(c.name.clone()),
                number: Some(c.number as i32),
                label: Some(if c.repeated { Label::Repeated } else { Label::Optional } as i32),
                r#type: Some(ty as i32),
                type_name,
                ..FieldDescriptorProto::default()
            }
        })
        .collect();
    DescriptorProto { name: Some(f.type_name.clone()), field, ..DescriptorProto::default() }
}

// ------------------------------------------------------------ wire format ---

fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

const VARINT: u32 = 0;
const FIXED64: u32 = 1;
const LEN: u32 = 2;

fn key(number: u32, wire: u32, out: &mut Vec<u8>) {
    varint(u64::from(number) << 3 | u64::from(wire), out);
}

fn len_delimited(number: u32, bytes: &[u8], out: &mut Vec<u8>) {
    key(number, LEN, out);
    varint(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}

fn encode_fields(f: &Fields, record: &Map<String, Value>, path: &str, out: &mut Vec<u8>) -> Result<(), String> {
    let at = |name: &str| if path.is_empty() { name.to_string() } else { format!("{path}.{name}") };
    let mut given: Vec<Option<&Value>> = vec![None; f.columns.len()];
    for (k, v) in record {
        let i = f
            .columns
            .iter()
            .position(|c| c.name.eq_ignore_ascii_case(k))
            .ok_or_else(|| format!("field '{}' is not a column of the table", at(k)))?;
        if given[i].is_some() {
            return Err(format!("field '{}' is given twice (column names ignore case)", at(k)));
        }
        given[i] = Some(v);
    }
    for (c, v) in f.columns.iter().zip(given) {
        let full = at(&c.name);
        match v {
            None | Some(Value::Null) if c.required => {
                return Err(format!("column '{full}' is REQUIRED and the record has no value for it"));
            }
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) if c.repeated => {
                for item in items {
                    if item.is_null() {
                        return Err(format!("column '{full}' is REPEATED and its list holds a null"));
                    }
                    encode_value(c, item, &full, out)?;
                }
            }
            Some(other) if c.repeated => {
                return Err(format!("column '{full}' is REPEATED: expected a list, found {}", values::shown(other)));
            }
            Some(other) => encode_value(c, other, &full, out)?,
        }
    }
    Ok(())
}

fn encode_value(c: &Column, v: &Value, full: &str, out: &mut Vec<u8>) -> Result<(), String> {
    let n = c.number;
    let bad = |e: String| format!("column '{full}': {e}");
    match &c.kind {
        Kind::Record(r) => {
            let m = v.as_object().ok_or_else(|| bad(format!("{} is not a record (a map)", values::shown(v))))?;
            let mut inner = Vec::new();
            encode_fields(r, m, full, &mut inner)?;
            len_delimited(n, &inner, out);
        }
        Kind::Scalar(s) => match s {
            Scalar::Int64 => int(n, values::int64(v).map_err(bad)?, out),
            Scalar::Timestamp => int(n, values::timestamp(v).map_err(bad)?, out),
            Scalar::Date => int(n, i64::from(values::date(v).map_err(bad)?), out),
            Scalar::Bool => {
                key(n, VARINT, out);
                varint(u64::from(values::boolean(v).map_err(bad)?), out);
            }
            Scalar::Double => {
                key(n, FIXED64, out);
                out.extend_from_slice(&values::double(v).map_err(bad)?.to_le_bytes());
            }
            Scalar::Bytes => len_delimited(n, &values::bytes(v).map_err(bad)?, out),
            Scalar::String => len_delimited(n, values::string(v).map_err(bad)?.as_bytes(), out),
            Scalar::Json => len_delimited(n, values::json(v).as_bytes(), out),
            Scalar::Numeric => len_delimited(n, values::numeric(v).map_err(bad)?.as_bytes(), out),
            Scalar::Datetime => len_delimited(n, values::datetime(v).map_err(bad)?.as_bytes(), out),
            Scalar::Time => len_delimited(n, values::time(v).map_err(bad)?.as_bytes(), out),
            Scalar::Geography => len_delimited(n, values::text(v, "a geography (WKT)").map_err(bad)?.as_bytes(), out),
            Scalar::Interval => len_delimited(n, values::text(v, "an interval").map_err(bad)?.as_bytes(), out),
        },
    }
    Ok(())
}

/// An int32 or int64 field: a varint, negatives as 10 bytes (two's complement).
fn int(number: u32, v: i64, out: &mut Vec<u8>) {
    key(number, VARINT, out);
    varint(v as u64, out);
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn schema() -> RowSchema {
        RowSchema::from_table(&json!({"fields": [
            {"name": "id", "type": "INTEGER", "mode": "REQUIRED"},
            {"name": "name", "type": "STRING"},
            {"name": "score", "type": "FLOAT"},
            {"name": "tags", "type": "STRING", "mode": "REPEATED"},
            {"name": "addr", "type": "RECORD", "fields": [
                {"name": "city", "type": "STRING"},
                {"name": "geo", "type": "RECORD", "fields": [{"name": "lat", "type": "FLOAT64"}]}
            ]},
            {"name": "ok", "type": "BOOLEAN"}
        ]}))
        .unwrap()
    }

    #[test]
    fn descriptor_numbers_columns_and_nests_records() {
        let d = schema().descriptor();
        assert_eq!(d.name.as_deref(), Some("table_schema"));
        let names: Vec<_> = d.field.iter().map(|f| (f.name.clone().unwrap(), f.number.unwrap())).collect();
        assert_eq!(names[0], ("id".into(), 1));
        assert_eq!(names[5], ("ok".into(), 6));
        assert_eq!(d.field[3].label, Some(Label::Repeated as i32));
        assert_eq!(d.field[4].r#type, Some(Type::Message as i32));
        assert_eq!(d.field[4].type_name.as_deref(), Some("Struct1"));
        let nested: Vec<_> = d.nested_type.iter().map(|n| n.name.clone().unwrap()).collect();
        assert_eq!(nested, ["Struct2", "Struct1"]);
        assert_eq!(d.nested_type[1].field[1].type_name.as_deref(), Some("Struct2"));
    }

    #[test]
    fn records_encode_as_protobuf() {
        let s = schema();
        let rec = json!({"ID": 150, "name": "a", "tags": ["x", "y"], "addr": {"city": "b", "geo": {"lat": 1.0}},
                         "ok": true, "score": null});
        let bytes = s.encode(rec.as_object().unwrap()).unwrap();
        let mut want = vec![0x08, 0x96, 0x01, 0x12, 1, b'a', 0x22, 1, b'x', 0x22, 1, b'y'];
        // addr: city (field 1) + geo (field 2: lat, a double)
        let geo = [&[0x09u8][..], &1.0f64.to_le_bytes()].concat();
        let addr = [&[0x0a, 1, b'b', 0x12, geo.len() as u8][..], &geo].concat();
        want.extend([0x2a, addr.len() as u8]);
        want.extend(addr);
        want.extend([0x30, 1]);
        assert_eq!(bytes, want);
        let neg = s.encode(json!({"id": -1}).as_object().unwrap()).unwrap();
        assert_eq!(neg, [0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    }

    #[test]
    fn what_is_refused_is_named() {
        let s = schema();
        let e = |v: Value| s.encode(v.as_object().unwrap()).unwrap_err();
        assert_eq!(e(json!({"id": 1, "nope": 2})), "field 'nope' is not a column of the table");
        assert_eq!(e(json!({"id": 1, "addr": {"zip": 1}})), "field 'addr.zip' is not a column of the table");
        assert_eq!(e(json!({"name": "a"})), "column 'id' is REQUIRED and the record has no value for it");
        assert_eq!(e(json!({"id": "x"})), "column 'id': \"x\" is not a 64-bit integer");
        assert_eq!(e(json!({"id": 1, "tags": "x"})), "column 'tags' is REPEATED: expected a list, found \"x\"");
        let r = RowSchema::from_table(&json!({"fields": [{"name": "r", "type": "RANGE"}]})).unwrap_err();
        assert_eq!(r, "column 'r' is of type RANGE, which Baton's StorageWrite does not write");
    }
}
