//! An Avro schema as a Parquet schema, the way Kestra's `IonToParquet`
//! (parquet-avro's `AvroSchemaConverter`) lays it out, and the shredding
//! plan that goes with it ([`Node`]): which column each value lands in and
//! at which definition and repetition levels (Parquet's Dremel encoding).
//!
//! A record is a group, a field whose type is a union of `null` and one
//! type is `optional`, any other field `required`. Primitives map to their
//! physical types with Avro's logical types as Parquet's: `date`,
//! `time-millis`/`-micros`, `timestamp-*` (adjusted to UTC) and
//! `local-timestamp-*` (not adjusted), `decimal` (on bytes or fixed),
//! `uuid`, strings and enums as UTF-8. An array is a three-level `LIST`
//! (`list`/`element`), a map a `MAP` of `key_value` groups with string
//! keys. Unions of several non-null types, recursive (named reference)
//! types, Avro's `duration`, the nanosecond timestamps and apache-avro's
//! `big-decimal` (which `IonToAvro` does not write either) have no
//! Parquet form here: they are refused naming the field.

use std::sync::Arc;

use apache_avro::Schema;
use apache_avro::schema::{InnerDecimalSchema, UuidSchema};
use parquet::basic::{LogicalType, Repetition, TimeUnit, Type as Physical};
use parquet::schema::types::{Type, TypePtr};

/// A column's physical type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leaf {
    Bool,
    I32,
    I64,
    F32,
    F64,
    Bytes,
    /// FIXED_LEN_BYTE_ARRAY of this many bytes.
    Fixed(usize),
}

/// One leaf column of the file.
#[derive(Debug, Clone)]
pub struct ColumnSpec {
    /// Its dotted path, for errors.
    pub path: String,
    pub leaf: Leaf,
    pub max_def: i16,
    pub max_rep: i16,
}

/// Where the parts of a value go.
#[derive(Debug)]
pub enum Node {
    /// A primitive value: column index.
    Leaf(usize),
    /// A record's fields, in order.
    Record(Vec<(String, Node)>),
    /// A nullable value (one more definition level when present).
    Optional(Box<Node>),
    /// An array: its element, and the repetition level of its items.
    List { item: Box<Node>, rep: i16 },
    /// A map: the key column, its value, the repetition level of its entries.
    Map { key: usize, value: Box<Node>, rep: i16 },
}

/// The Parquet schema of an Avro record schema, its columns and its plan.
#[derive(Debug)]
pub struct Layout {
    pub schema: TypePtr,
    pub columns: Vec<ColumnSpec>,
    pub root: Node,
}

/// Lays out the Avro record `schema`; the error names the field.
pub fn layout(schema: &Schema) -> Result<Layout, String> {
    let Schema::Record(r) = schema else {
        return Err("the schema of a Parquet file is a record (\"type\": \"record\")".into());
    };
    let mut b = Builder { columns: Vec::new() };
    let mut fields = Vec::with_capacity(r.fields.len());
    let mut nodes = Vec::with_capacity(r.fields.len());
    for f in &r.fields {
        let (ty, node) = b.field(&f.name, &f.schema, &f.name, 0, 0)?;
        fields.push(ty);
        nodes.push((f.name.clone(), node));
    }
    let root = Type::group_type_builder(r.name.name()).with_fields(fields).build().map_err(|e| e.to_string())?;
    Ok(Layout { schema: Arc::new(root), columns: b.columns, root: Node::Record(nodes) })
}

struct Builder {
    columns: Vec<ColumnSpec>,
}

/// The one type of a union of `null` and that type (with `true`), or the
/// schema itself.
fn nullable<'a>(schema: &'a Schema, path: &str) -> Result<(&'a Schema, bool), String> {
    let Schema::Union(u) = schema else { return Ok((schema, false)) };
    let non_null: Vec<&Schema> = u.variants().iter().filter(|s| !matches!(s, Schema::Null)).collect();
    match non_null.as_slice() {
        [one] => Ok((one, non_null.len() < u.variants().len())),
        [] => Err(format!("field '{path}': a union of null only has no Parquet type")),
        _ => Err(format!(
            "field '{path}': a union of several types is not written to Parquet by Baton (a union of null and one type is)"
        )),
    }
}

fn join(path: &str, name: &str) -> String {
    format!("{path}.{name}")
}

impl Builder {
    /// A field named `name` of `schema`; `def`/`rep` are the levels of its parent.
    fn field(
        &mut self,
        name: &str,
        schema: &Schema,
        path: &str,
        def: i16,
        rep: i16,
    ) -> Result<(TypePtr, Node), String> {
        let (schema, optional) = nullable(schema, path)?;
        let (repetition, def) = if optional { (Repetition::OPTIONAL, def + 1) } else { (Repetition::REQUIRED, def) };
        let (ty, node) = self.shape(name, schema, repetition, path, def, rep)?;
        Ok((ty, if optional { Node::Optional(Box::new(node)) } else { node }))
    }

    fn shape(
        &mut self,
        name: &str,
        schema: &Schema,
        repetition: Repetition,
        path: &str,
        def: i16,
        rep: i16,
    ) -> Result<(TypePtr, Node), String> {
        let group = |fields: Vec<TypePtr>, logical: Option<LogicalType>| {
            Type::group_type_builder(name)
                .with_repetition(repetition)
                .with_logical_type(logical)
                .with_fields(fields)
                .build()
                .map(Arc::new)
                .map_err(|e| format!("field '{path}': {e}"))
        };
        match schema {
            Schema::Record(r) => {
                let mut fields = Vec::with_capacity(r.fields.len());
                let mut nodes = Vec::with_capacity(r.fields.len());
                for f in &r.fields {
                    let (ty, node) = self.field(&f.name, &f.schema, &join(path, &f.name), def, rep)?;
                    fields.push(ty);
                    nodes.push((f.name.clone(), node));
                }
                Ok((group(fields, None)?, Node::Record(nodes)))
            }
            Schema::Array(a) => {
                let (element, item) = self.field("element", &a.items, path, def + 1, rep + 1)?;
                let list = Type::group_type_builder("list")
                    .with_repetition(Repetition::REPEATED)
                    .with_fields(vec![element])
                    .build()
                    .map_err(|e| format!("field '{path}': {e}"))?;
                let ty = group(vec![Arc::new(list)], Some(LogicalType::List))?;
                Ok((ty, Node::List { item: Box::new(item), rep: rep + 1 }))
            }
            Schema::Map(m) => {
                let (key_ty, key) =
                    self.shape("key", &Schema::String, Repetition::REQUIRED, &join(path, "key"), def + 1, rep + 1)?;
                let Node::Leaf(key) = key else { unreachable!("a string is a leaf") };
                let (value_ty, value) = self.field("value", &m.types, &join(path, "value"), def + 1, rep + 1)?;
                let entries = Type::group_type_builder("key_value")
                    .with_repetition(Repetition::REPEATED)
                    .with_fields(vec![key_ty, value_ty])
                    .build()
                    .map_err(|e| format!("field '{path}': {e}"))?;
                let ty = group(vec![Arc::new(entries)], Some(LogicalType::Map))?;
                Ok((ty, Node::Map { key, value: Box::new(value), rep: rep + 1 }))
            }
            Schema::Union(_) => Err(format!("field '{path}': a union inside a union has no Parquet type")),
            other => {
                let (physical, leaf, logical, length, decimal) = primitive(other, path)?;
                let mut b =
                    Type::primitive_type_builder(name, physical).with_repetition(repetition).with_logical_type(logical);
                if let Some(n) = length {
                    b = b.with_length(n);
                }
                if let Some((precision, scale)) = decimal {
                    b = b.with_precision(precision).with_scale(scale);
                }
                let ty = b.build().map_err(|e| format!("field '{path}': {e}"))?;
                self.columns.push(ColumnSpec { path: path.to_string(), leaf, max_def: def, max_rep: rep });
                Ok((Arc::new(ty), Node::Leaf(self.columns.len() - 1)))
            }
        }
    }
}

type Primitive = (Physical, Leaf, Option<LogicalType>, Option<i32>, Option<(i32, i32)>);

/// A primitive Avro type as a Parquet physical type, its column kind, its
/// logical type, a fixed length and a decimal's precision and scale.
fn primitive(schema: &Schema, path: &str) -> Result<Primitive, String> {
    let plain = |p, l| Ok((p, l, None, None, None));
    let logical = |p, l, t| Ok((p, l, Some(t), None, None));
    match schema {
        Schema::Boolean => plain(Physical::BOOLEAN, Leaf::Bool),
        Schema::Int => plain(Physical::INT32, Leaf::I32),
        Schema::Long => plain(Physical::INT64, Leaf::I64),
        Schema::Float => plain(Physical::FLOAT, Leaf::F32),
        Schema::Double => plain(Physical::DOUBLE, Leaf::F64),
        Schema::Bytes => plain(Physical::BYTE_ARRAY, Leaf::Bytes),
        Schema::String | Schema::Uuid(UuidSchema::String) => {
            logical(Physical::BYTE_ARRAY, Leaf::Bytes, LogicalType::String)
        }
        Schema::Enum(_) => logical(Physical::BYTE_ARRAY, Leaf::Bytes, LogicalType::Enum),
        Schema::Uuid(UuidSchema::Fixed(_) | UuidSchema::Bytes) => {
            Ok((Physical::FIXED_LEN_BYTE_ARRAY, Leaf::Fixed(16), Some(LogicalType::Uuid), Some(16), None))
        }
        Schema::Fixed(f) => {
            let n = i32::try_from(f.size).map_err(|_| format!("field '{path}': a fixed of {} bytes", f.size))?;
            Ok((Physical::FIXED_LEN_BYTE_ARRAY, Leaf::Fixed(f.size), None, Some(n), None))
        }
        Schema::Date => logical(Physical::INT32, Leaf::I32, LogicalType::Date),
        Schema::TimeMillis => logical(Physical::INT32, Leaf::I32, LogicalType::time(true, TimeUnit::MILLIS)),
        Schema::TimeMicros => logical(Physical::INT64, Leaf::I64, LogicalType::time(true, TimeUnit::MICROS)),
        Schema::TimestampMillis => logical(Physical::INT64, Leaf::I64, LogicalType::timestamp(true, TimeUnit::MILLIS)),
        Schema::TimestampMicros => logical(Physical::INT64, Leaf::I64, LogicalType::timestamp(true, TimeUnit::MICROS)),
        Schema::LocalTimestampMillis => {
            logical(Physical::INT64, Leaf::I64, LogicalType::timestamp(false, TimeUnit::MILLIS))
        }
        Schema::LocalTimestampMicros => {
            logical(Physical::INT64, Leaf::I64, LogicalType::timestamp(false, TimeUnit::MICROS))
        }
        Schema::Decimal(d) => {
            let precision = i32::try_from(d.precision).map_err(|_| format!("field '{path}': precision too large"))?;
            let scale = i32::try_from(d.scale).map_err(|_| format!("field '{path}': scale too large"))?;
            let t = Some(LogicalType::decimal(scale, precision));
            match &d.inner {
                InnerDecimalSchema::Bytes => Ok((Physical::BYTE_ARRAY, Leaf::Bytes, t, None, Some((precision, scale)))),
                InnerDecimalSchema::Fixed(f) => {
                    let n =
                        i32::try_from(f.size).map_err(|_| format!("field '{path}': a fixed of {} bytes", f.size))?;
                    Ok((Physical::FIXED_LEN_BYTE_ARRAY, Leaf::Fixed(f.size), t, Some(n), Some((precision, scale))))
                }
            }
        }
        Schema::Ref { name } => Err(format!(
            "field '{path}': the named type reference '{}' is not written to Parquet by Baton (declare the type inline)",
            name.name()
        )),
        other => Err(format!("field '{path}': Baton does not write the Avro type {other:?} to Parquet")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(json: &str) -> Result<Layout, String> {
        layout(&Schema::parse_str(json).unwrap())
    }

    #[test]
    fn levels_follow_optional_and_repeated_parents() {
        let l = of(r#"{"type":"record","name":"r","fields":[
            {"name":"id","type":"long"},
            {"name":"name","type":["null","string"]},
            {"name":"tags","type":{"type":"array","items":["null","string"]}},
            {"name":"attrs","type":["null",{"type":"map","values":"int"}]},
            {"name":"at","type":{"type":"long","logicalType":"timestamp-millis"}}]}"#)
        .unwrap();
        let levels: Vec<(&str, i16, i16)> = l.columns.iter().map(|c| (c.path.as_str(), c.max_def, c.max_rep)).collect();
        assert_eq!(
            levels,
            [("id", 0, 0), ("name", 1, 0), ("tags", 2, 1), ("attrs.key", 2, 1), ("attrs.value", 2, 1)]
                .into_iter()
                .chain([("at", 0, 0)])
                .collect::<Vec<_>>()
        );
        let text = format!("{:?}", l.schema);
        assert!(text.contains("Timestamp"), "{text}");
    }

    #[test]
    fn what_has_no_parquet_form_is_named() {
        let e = of(r#"{"type":"record","name":"r","fields":[{"name":"x","type":["int","string"]}]}"#).unwrap_err();
        assert!(e.contains("field 'x': a union of several types"), "{e}");
        let e = of(r#"{"type":"record","name":"node","fields":[{"name":"next","type":["null","node"]}]}"#).unwrap_err();
        assert!(e.contains("field 'next': the named type reference 'node'"), "{e}");
        assert!(of(r#""string""#).unwrap_err().contains("is a record"));
    }
}
