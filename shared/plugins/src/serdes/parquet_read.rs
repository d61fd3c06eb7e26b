//! `io.kestra.plugin.serdes.parquet.ParquetToIon` on the `parquet` crate's
//! row reader (no Arrow).
//!
//! The file is copied into the working directory (Parquet is read from
//! its footer: at most [`MAX_PARQUET_BYTES`]), then read a row at a time,
//! a row group's pages in memory at once, and written as Ion, one record a
//! line, with the values Kestra's reader (parquet-avro, then its Avro
//! deserializer) gives, the same as `AvroToIon`: groups are structs in the
//! file's field order, lists lists, maps structs in the file's key order, dates, times and
//! timestamps ISO text (a timestamp adjusted to UTC with `Z`, a local one
//! without), decimals keeping their scale, UUIDs text. Pages compressed
//! with Snappy, GZIP, ZSTD, LZ4 or LZ4_RAW are read; Brotli and LZO
//! are not (the error names the codec). Bytes without a text annotation
//! would be Ion blobs, which Baton's Ion files do not hold: refused naming
//! the field, as `AvroToIon` does.

use std::fs::File;
use std::path::Path;
use std::sync::LazyLock;

use async_trait::async_trait;
use parquet::basic::{ConvertedType, LogicalType, TimeUnit};
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::{Field, Row};
use parquet::schema::types::Type;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::avro::{OnBad, on_bad, write_records};
use super::avro_value::{date_text, decimal_value, float, instant_text, local_text, text, time_text};
use super::common::{self, LocalJob, Report};
use crate::bridge::SyncWriter;
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// The largest Parquet file read, in bytes.
pub const MAX_PARQUET_BYTES: u64 = 4 * 1024 * 1024 * 1024;

/// Convert a Parquet file into Ion.
///
/// Reads a Parquet file into an Ion file, one record a line, in the file's column order.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.serdes.parquet.ParquetToIon",
    aliases = ["io.kestra.plugin.serdes.parquet.ParquetReader"],
    group = "core",
    example = "id: to_ion\ntype: io.kestra.plugin.serdes.parquet.ParquetToIon\nfrom: \"{{ outputs.download.uri }}\"\n",
    outputs(
        uri(String, "The Ion file."),
        size(Integer, "Records written.")
    )
)]
struct Props {
    /// The Parquet file (kestra:// URI).
    #[serde(deserialize_with = "de::string_lenient")]
    from: String,
    /// What a record that cannot be read does.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(values = ["ERROR", "WARN", "SKIP"], default = "\"ERROR\"")]
    on_bad_lines: Option<String>,
}

#[derive(Debug)]
struct ParquetToIon {
    from: String,
    on_bad: OnBad,
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    Ok(Box::new(ParquetToIon { from: p.from, on_bad: on_bad(p.on_bad_lines.as_deref())? }))
}

#[async_trait]
impl RunnableTask for ParquetToIon {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let (uri, on_bad) = (self.from.trim().to_string(), self.on_bad);
        let job: LocalJob = Box::new(move |path, out| read(path, out, on_bad, &uri));
        common::convert_local(cx, &self.from, "data.ion", (MAX_PARQUET_BYTES, "Parquet file"), job).await
    }
}

/// Parquet to Ion, on a blocking thread.
pub(super) fn read(path: &Path, out: &mut SyncWriter, on_bad: OnBad, uri: &str) -> Result<Report, String> {
    let file = File::open(path).map_err(|e| format!("cannot open the copy of {uri}: {e}"))?;
    let reader = SerializedFileReader::new(file).map_err(|e| format!("{uri} is not a Parquet file: {e}"))?;
    let schema = reader.metadata().file_metadata().schema_descr().root_schema_ptr();
    let rows = reader.get_row_iter(None).map_err(|e| format!("cannot read {uri}: {e}"))?;
    // a broken page: the rest of its column cannot be read
    write_records(rows, |row| record(row, Some(&schema), ""), out, on_bad, ("row", uri))
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() { name.to_string() } else { format!("{path}.{name}") }
}

/// A group as a struct, its fields typed by the group's schema (when known).
fn record(row: &Row, ty: Option<&Type>, path: &str) -> Result<Value, String> {
    let fields = ty.filter(|t| t.is_group()).map_or(&[][..], |t| t.get_fields());
    let mut out = Map::new();
    for (name, f) in row.get_column_iter() {
        let p = join(path, name);
        let field_ty = fields.iter().find(|t| t.name() == name).map(|t| t.as_ref());
        out.insert(name.clone(), value(f, field_ty, &p)?);
    }
    Ok(Value::Object(out))
}

/// The element type of a list field (the three-level `LIST`, or one of
/// the older two-level forms the Parquet spec keeps readable).
fn element(ty: &Type) -> Option<&Type> {
    if !ty.is_group() {
        return Some(ty); // a bare repeated primitive
    }
    let repeated = ty.get_fields().first()?;
    if ty.get_basic_info().converted_type() != ConvertedType::LIST
        && ty.get_basic_info().logical_type_ref() != Some(&LogicalType::List)
    {
        return Some(ty); // a bare repeated group
    }
    if !repeated.is_group() || repeated.get_fields().len() != 1 {
        return Some(repeated);
    }
    let name = repeated.name();
    if name == "array" || name == format!("{}_tuple", ty.name()) {
        return Some(repeated);
    }
    repeated.get_fields().first().map(|t| t.as_ref())
}

/// The key and value types of a map field.
fn entry(ty: &Type) -> (Option<&Type>, Option<&Type>) {
    let kv = ty.is_group().then(|| ty.get_fields().first()).flatten().filter(|t| t.is_group());
    let fields = kv.map(|t| t.get_fields()).unwrap_or(&[]);
    (fields.first().map(|t| t.as_ref()), fields.get(1).map(|t| t.as_ref()))
}

/// One field's value, as `AvroToIon` gives the Avro value parquet-avro reads.
fn value(f: &Field, ty: Option<&Type>, path: &str) -> Result<Value, String> {
    let logical = ty.filter(|t| t.is_primitive()).and_then(|t| t.get_basic_info().logical_type_ref());
    Ok(match f {
        Field::Null => Value::Null,
        Field::Bool(b) => Value::Bool(*b),
        Field::Byte(i) => Value::from(*i),
        Field::Short(i) => Value::from(*i),
        Field::Int(i) => Value::from(*i),
        Field::UByte(i) => Value::from(*i),
        Field::UShort(i) => Value::from(*i),
        Field::UInt(i) => Value::from(*i),
        Field::ULong(i) => Value::from(*i),
        Field::Long(n) => match logical {
            Some(LogicalType::Timestamp(t)) => timestamp(*n, t.unit, t.is_adjusted_to_u_t_c, path)?,
            Some(LogicalType::Time(t)) if t.unit == TimeUnit::NANOS => time_text(*n),
            _ => Value::from(*n),
        },
        Field::Float16(x) => float(f64::from(x.to_f32())),
        Field::Float(x) => float(f64::from(*x)),
        Field::Double(x) => float(*x),
        Field::Decimal(d) => decimal_value(d.data(), usize::try_from(d.scale()).unwrap_or(0), path)?,
        Field::Str(s) => text(s),
        Field::Bytes(b) => match logical {
            Some(LogicalType::Uuid) if b.len() == 16 => {
                let bytes: [u8; 16] = b.data().try_into().map_err(|_| format!("field '{path}': a UUID of 16 bytes"))?;
                Value::String(uuid::Uuid::from_bytes(bytes).to_string())
            }
            _ => {
                return Err(format!("field '{path}' holds bytes, which Baton's Ion files cannot hold (Ion blobs)"));
            }
        },
        Field::Date(d) => date_text(*d),
        Field::TimeMillis(ms) => time_text(i64::from(*ms) * 1_000_000),
        Field::TimeMicros(us) => time_text(us * 1_000),
        Field::TimestampMillis(ms) => timestamp(*ms, TimeUnit::MILLIS, adjusted(logical), path)?,
        Field::TimestampMicros(us) => timestamp(*us, TimeUnit::MICROS, adjusted(logical), path)?,
        Field::Group(row) => record(row, ty, path)?,
        Field::ListInternal(list) => {
            let item = ty.and_then(element);
            Value::Array(list.elements().iter().map(|x| value(x, item, path)).collect::<Result<_, _>>()?)
        }
        Field::MapInternal(map) => {
            let (_, value_ty) = ty.map(entry).unwrap_or((None, None));
            let mut out = Map::new();
            for (k, v) in map.entries() {
                let key = match value(k, None, path)? {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                let p = join(path, &key);
                out.insert(key, value(v, value_ty, &p)?);
            }
            Value::Object(out)
        }
    })
}

/// Whether a timestamp column is adjusted to UTC (INT96 and the legacy
/// converted types are).
fn adjusted(logical: Option<&LogicalType>) -> bool {
    match logical {
        Some(LogicalType::Timestamp(t)) => t.is_adjusted_to_u_t_c,
        _ => true,
    }
}

fn timestamp(n: i64, unit: TimeUnit, utc: bool, path: &str) -> Result<Value, String> {
    let t = match unit {
        TimeUnit::MILLIS => chrono::DateTime::from_timestamp_millis(n),
        TimeUnit::MICROS => chrono::DateTime::from_timestamp_micros(n),
        _ => Some(chrono::DateTime::from_timestamp_nanos(n)),
    };
    if utc { instant_text(t, path) } else { local_text(t, path) }
}

pub static PARQUET_TO_ION: LazyLock<PluginDef> =
    LazyLock::new(|| PluginDef::declare_as::<Props>(build).parsed_by::<Props>());
