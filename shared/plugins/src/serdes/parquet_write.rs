//! `io.kestra.plugin.serdes.parquet.IonToParquet` on the `parquet` crate's
//! column writers (no Arrow).
//!
//! As Kestra, records convert first as `IonToAvro` converts them (the same
//! `schema` and conversion properties, [`super::avro::ConvertProps`]), then
//! are written with the Parquet layout of that Avro schema
//! ([`super::parquet_schema`]): `compressionCodec` (GZIP by default, as
//! Kestra), `parquetVersion` (V2: data pages v2), dictionary encoding on,
//! `pageSize` and `dictionaryPageSize`. Values are shredded into column
//! buffers and a row group is written when they reach `rowGroupSize`
//! bytes or [`MAX_BUFFERED_BYTES`] (the bound on what one conversion
//! holds in memory), whichever comes first; the file streams into storage
//! as row groups close.

use std::io::BufReader;
use std::sync::{Arc, LazyLock};

use apache_avro::Schema;
use apache_avro::types::Value as Avro;
use async_trait::async_trait;
use parquet::basic::{Compression, GzipLevel, ZstdLevel};
use parquet::column::writer::ColumnWriter;
use parquet::data_type::{ByteArray, FixedLenByteArray};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{WriterProperties, WriterVersion};
use parquet::file::writer::SerializedFileWriter;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::avro::{ConvertProps, OnBad, bad, parse_schema, record_value, write_options};
use super::avro_value::Convert;
use super::common::{self, IonLines, Job, Report};
use super::parquet_schema::{ColumnSpec, Layout, Leaf, Node, layout};
use crate::bridge::{SyncReader, SyncWriter};
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// The most bytes of values one conversion buffers before it writes a row
/// group, whatever `rowGroupSize` says.
pub const MAX_BUFFERED_BYTES: usize = 64 * 1024 * 1024;

/// Convert an Ion file into Parquet.
///
/// Writes the records of an Ion file as a Parquet file with the columns of the given Avro schema.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.serdes.parquet.IonToParquet",
    aliases = ["io.kestra.plugin.serdes.parquet.ParquetWriter"],
    group = "core",
    example = "id: to_parquet\ntype: io.kestra.plugin.serdes.parquet.IonToParquet\nfrom: \"{{ outputs.to_ion.uri }}\"\nschema: |\n  {\"type\": \"record\", \"name\": \"trip\", \"fields\": [\n    {\"name\": \"vendor\", \"type\": \"int\"},\n    {\"name\": \"fare\", \"type\": [\"null\", \"double\"]}]}\n",
    outputs(
        uri(String, "The Parquet file."),
        size(Integer, "Records written.")
    )
)]
pub(super) struct Props {
    /// The Ion file (kestra:// URI).
    #[serde(deserialize_with = "de::string_lenient")]
    from: String,
    /// The Avro schema (JSON) of the records: the Parquet columns follow it.
    #[serde(deserialize_with = "de::string_lenient")]
    #[prop(check = schema_ok)]
    pub(super) schema: String,
    #[serde(flatten)]
    pub(super) convert: ConvertProps,
    /// The compression of the pages.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(values = ["UNCOMPRESSED", "SNAPPY", "GZIP", "ZSTD"], default = "\"GZIP\"")]
    compression_codec: Option<String>,
    /// The Parquet format version of the pages.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(values = ["V1", "V2"], default = "\"V2\"")]
    parquet_version: Option<String>,
    /// The size of a row group, in bytes (at most 64 MiB are buffered).
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    #[prop(default = "134217728")]
    row_group_size: Option<u64>,
    /// The size of a page, in bytes.
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    #[prop(default = "1048576")]
    page_size: Option<u64>,
    /// The largest dictionary page, in bytes.
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    #[prop(default = "1048576")]
    dictionary_page_size: Option<u64>,
}

#[derive(Debug)]
struct IonToParquet {
    from: String,
    schema: Schema,
    convert: Convert,
    on_bad: OnBad,
    options: Options,
}

/// The file's writer settings.
#[derive(Debug, Clone)]
pub(super) struct Options {
    compression: Compression,
    v2: bool,
    row_group_bytes: usize,
    page_bytes: usize,
    dictionary_page_bytes: usize,
}

fn size(prop: &str, v: Option<u64>, default: u64) -> Result<usize, TaskError> {
    match v.unwrap_or(default) {
        0 => Err(TaskError::property(prop, "must be at least 1 byte")),
        n => usize::try_from(n).map_err(|_| TaskError::property(prop, format!("{n} is too large"))),
    }
}

pub(super) fn options(p: &Props) -> Result<Options, TaskError> {
    let codec = p.compression_codec.as_deref().unwrap_or("GZIP").trim().to_ascii_uppercase();
    let compression = match codec.as_str() {
        "UNCOMPRESSED" => Compression::UNCOMPRESSED,
        "SNAPPY" => Compression::SNAPPY,
        "GZIP" => Compression::GZIP(GzipLevel::default()),
        "ZSTD" => Compression::ZSTD(ZstdLevel::default()),
        o => {
            return Err(TaskError::property(
                "compressionCodec",
                format!("'{o}' is not one of UNCOMPRESSED, SNAPPY, GZIP, ZSTD"),
            ));
        }
    };
    let v2 = match p.parquet_version.as_deref().unwrap_or("V2").trim().to_ascii_uppercase().as_str() {
        "V1" => false,
        "V2" => true,
        o => return Err(TaskError::property("parquetVersion", format!("'{o}' is not one of V1, V2"))),
    };
    Ok(Options {
        compression,
        v2,
        row_group_bytes: size("rowGroupSize", p.row_group_size, 134_217_728)?.min(MAX_BUFFERED_BYTES),
        page_bytes: size("pageSize", p.page_size, 1_048_576)?,
        dictionary_page_bytes: size("dictionaryPageSize", p.dictionary_page_size, 1_048_576)?,
    })
}

/// A written `schema`: an Avro record schema with a Parquet form (a
/// template is checked once rendered).
fn schema_ok(v: &Value) -> Result<(), String> {
    match v.as_str() {
        Some(s) if !baton_model::expr::is_template(s) => layout(&parse_schema(s)?).map(|_| ()),
        _ => Ok(()),
    }
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    let (schema, convert, on_bad) = write_options(&p.schema, &p.convert)?;
    layout(&schema).map_err(|e| TaskError::property("schema", e))?;
    let options = options(&p)?;
    Ok(Box::new(IonToParquet { from: p.from, schema, convert, on_bad, options }))
}

#[async_trait]
impl RunnableTask for IonToParquet {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let (uri, on_bad) = (self.from.trim().to_string(), self.on_bad);
        let (schema, convert, options) = (self.schema.clone(), self.convert.clone(), self.options.clone());
        let job: Job = Box::new(move |src, out| write(src, out, &schema, &convert, on_bad, &options, &uri));
        common::convert(cx, &self.from, "data.parquet", job).await
    }
}

/// Ion to Parquet, on a blocking thread.
pub(super) fn write(
    src: SyncReader,
    out: &mut SyncWriter,
    schema: &Schema,
    convert: &Convert,
    on_bad: OnBad,
    options: &Options,
    uri: &str,
) -> Result<Report, String> {
    let Layout { schema: parquet_schema, columns, root } = layout(schema)?;
    let props = WriterProperties::builder()
        .set_compression(options.compression)
        .set_writer_version(if options.v2 { WriterVersion::PARQUET_2_0 } else { WriterVersion::PARQUET_1_0 })
        .set_dictionary_enabled(true)
        .set_data_page_size_limit(options.page_bytes)
        .set_dictionary_page_size_limit(options.dictionary_page_bytes)
        .set_max_row_group_row_count(None)
        .set_created_by(format!("baton version {}", env!("CARGO_PKG_VERSION")))
        // as parquet-avro: the Avro schema the file was written with
        .set_key_value_metadata(Some(vec![KeyValue::new(
            "parquet.avro.schema".to_string(),
            serde_json::to_string(schema).map_err(|e| e.to_string())?,
        )]))
        .build();
    let mut writer =
        SerializedFileWriter::new(out, parquet_schema, Arc::new(props)).map_err(|e| parquet_err(&e.to_string()))?;
    let mut buffers: Vec<Column> = columns.iter().map(Column::new).collect();
    let mut lines = IonLines::new(BufReader::new(src), uri).exact();
    let mut report = Report::default();
    while let Some(v) = lines.next_value()? {
        let datum = match convert.to_avro(&record_value(v, schema), schema, "") {
            Ok(d) => d,
            Err(e) => {
                bad(&mut report, on_bad, format!("line {} of {uri}: {e}", lines.line))?;
                continue;
            }
        };
        shred(&root, Some(&datum), 0, 0, &mut buffers).map_err(|e| format!("line {} of {uri}: {e}", lines.line))?;
        report.records += 1;
        if buffers.iter().map(|b| b.bytes).sum::<usize>() >= options.row_group_bytes {
            flush(&mut writer, &mut buffers)?;
        }
    }
    if buffers.iter().any(|b| b.bytes > 0) {
        flush(&mut writer, &mut buffers)?;
    }
    writer.close().map_err(|e| parquet_err(&e.to_string()))?;
    Ok(report)
}

fn parquet_err(e: &str) -> String {
    if e.contains(crate::bridge::STOPPED) {
        crate::bridge::STOPPED.to_string()
    } else {
        format!("cannot write the Parquet file: {e}")
    }
}

/// One column's values and levels of the row group being filled.
struct Column {
    /// The column's dotted path, for errors.
    path: String,
    values: Values,
    def: Vec<i16>,
    rep: Vec<i16>,
    max_def: i16,
    max_rep: i16,
    /// An estimate of the memory the buffers hold.
    bytes: usize,
}

enum Values {
    Bool(Vec<bool>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    F32(Vec<f32>),
    F64(Vec<f64>),
    Bytes(Vec<ByteArray>),
    Fixed(Vec<FixedLenByteArray>, usize),
}

/// The heap a `ByteArray` costs beyond its bytes.
const BYTE_ARRAY_OVERHEAD: usize = 40;

impl Column {
    fn new(spec: &ColumnSpec) -> Column {
        let values = match spec.leaf {
            Leaf::Bool => Values::Bool(Vec::new()),
            Leaf::I32 => Values::I32(Vec::new()),
            Leaf::I64 => Values::I64(Vec::new()),
            Leaf::F32 => Values::F32(Vec::new()),
            Leaf::F64 => Values::F64(Vec::new()),
            Leaf::Bytes => Values::Bytes(Vec::new()),
            Leaf::Fixed(n) => Values::Fixed(Vec::new(), n),
        };
        let (max_def, max_rep, path) = (spec.max_def, spec.max_rep, spec.path.clone());
        Column { path, values, def: Vec::new(), rep: Vec::new(), max_def, max_rep, bytes: 0 }
    }

    fn levels(&mut self, def: i16, rep: i16) {
        if self.max_def > 0 {
            self.def.push(def);
        }
        if self.max_rep > 0 {
            self.rep.push(rep);
        }
        self.bytes += 4;
    }

    fn null(&mut self, def: i16, rep: i16) {
        self.levels(def, rep);
    }

    fn push(&mut self, v: &Avro, def: i16, rep: i16) -> Result<(), String> {
        match (&mut self.values, v) {
            (Values::Bool(b), Avro::Boolean(x)) => b.push(*x),
            (Values::I32(b), Avro::Int(x) | Avro::Date(x) | Avro::TimeMillis(x)) => b.push(*x),
            (
                Values::I64(b),
                Avro::Long(x)
                | Avro::TimeMicros(x)
                | Avro::TimestampMillis(x)
                | Avro::TimestampMicros(x)
                | Avro::TimestampNanos(x)
                | Avro::LocalTimestampMillis(x)
                | Avro::LocalTimestampMicros(x)
                | Avro::LocalTimestampNanos(x),
            ) => b.push(*x),
            (Values::F32(b), Avro::Float(x)) => b.push(*x),
            (Values::F64(b), Avro::Double(x)) => b.push(*x),
            (Values::Bytes(b), v) => {
                let bytes = match v {
                    Avro::String(s) | Avro::Enum(_, s) => s.as_bytes().to_vec(),
                    Avro::Bytes(x) => x.clone(),
                    Avro::Uuid(u) => u.to_string().into_bytes(),
                    Avro::Decimal(d) => Vec::<u8>::try_from(d).map_err(|e| e.to_string())?,
                    other => return Err(format!("{} is not bytes", kind(other))),
                };
                self.bytes += bytes.len() + BYTE_ARRAY_OVERHEAD;
                b.push(ByteArray::from(bytes));
            }
            (Values::Fixed(b, n), v) => {
                let bytes = match v {
                    Avro::Fixed(_, x) => x.clone(),
                    Avro::Uuid(u) => u.as_bytes().to_vec(),
                    Avro::Decimal(d) => sign_extend(&Vec::<u8>::try_from(d).map_err(|e| e.to_string())?, *n)?,
                    other => return Err(format!("{} is not {n} bytes", kind(other))),
                };
                if bytes.len() != *n {
                    return Err(format!("{} bytes where the column holds {n}", bytes.len()));
                }
                self.bytes += bytes.len() + BYTE_ARRAY_OVERHEAD;
                b.push(FixedLenByteArray::from(bytes));
            }
            (_, other) => return Err(format!("{} does not fit the column", kind(other))),
        }
        self.bytes += 8;
        self.levels(def, rep);
        Ok(())
    }

    fn clear(&mut self) {
        match &mut self.values {
            Values::Bool(v) => v.clear(),
            Values::I32(v) => v.clear(),
            Values::I64(v) => v.clear(),
            Values::F32(v) => v.clear(),
            Values::F64(v) => v.clear(),
            Values::Bytes(v) => v.clear(),
            Values::Fixed(v, _) => v.clear(),
        }
        self.def.clear();
        self.rep.clear();
        self.bytes = 0;
    }
}

fn kind(v: &Avro) -> String {
    let text = format!("{v:?}");
    text.split(['(', ' ']).next().unwrap_or("a value").to_string()
}

/// A two's complement big-endian value widened to `n` bytes.
fn sign_extend(bytes: &[u8], n: usize) -> Result<Vec<u8>, String> {
    if bytes.len() > n {
        return Err(format!("a decimal of {} bytes does not fit a fixed of {n}", bytes.len()));
    }
    let fill = if bytes.first().is_some_and(|b| b & 0x80 != 0) { 0xff } else { 0 };
    let mut out = vec![fill; n - bytes.len()];
    out.extend_from_slice(bytes);
    Ok(out)
}

/// The value a union holds, `None` for null.
fn present(v: Option<&Avro>) -> Option<&Avro> {
    match v {
        Some(Avro::Union(_, inner)) => present(Some(inner)),
        Some(Avro::Null) | None => None,
        v => v,
    }
}

/// Shreds `v` (absent: null at `def`) into the columns under `node`.
fn shred(node: &Node, v: Option<&Avro>, def: i16, rep: i16, cols: &mut [Column]) -> Result<(), String> {
    let v = present(v);
    match node {
        Node::Leaf(c) => match v {
            Some(v) => cols[*c].push(v, def, rep).map_err(|e| format!("column '{}': {e}", cols[*c].path))?,
            None => cols[*c].null(def, rep),
        },
        Node::Optional(inner) => match v {
            Some(v) => shred(inner, Some(v), def + 1, rep, cols)?,
            None => shred(inner, None, def, rep, cols)?,
        },
        Node::Record(fields) => {
            let values = match v {
                Some(Avro::Record(values)) => Some(values),
                Some(other) => return Err(format!("{} is not a record", kind(other))),
                None => None,
            };
            for (i, (name, field)) in fields.iter().enumerate() {
                let fv = values
                    .and_then(|vs| vs.get(i).filter(|(n, _)| n == name).or_else(|| vs.iter().find(|(n, _)| n == name)));
                shred(field, fv.map(|(_, x)| x), def, rep, cols)?;
            }
        }
        Node::List { item, rep: level } => match v {
            Some(Avro::Array(items)) if !items.is_empty() => {
                for (i, x) in items.iter().enumerate() {
                    shred(item, Some(x), def + 1, if i == 0 { rep } else { *level }, cols)?;
                }
            }
            Some(Avro::Array(_)) | None => shred(item, None, def, rep, cols)?,
            Some(other) => return Err(format!("{} is not a list", kind(other))),
        },
        Node::Map { key, value, rep: level } => match v {
            Some(Avro::Map(m)) if !m.is_empty() => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                for (i, k) in keys.into_iter().enumerate() {
                    let r = if i == 0 { rep } else { *level };
                    cols[*key].push(&Avro::String(k.clone()), def + 1, r)?;
                    shred(value, Some(&m[k]), def + 1, r, cols)?;
                }
            }
            Some(Avro::Map(_)) | None => {
                cols[*key].null(def, rep);
                shred(value, None, def, rep, cols)?;
            }
            Some(other) => return Err(format!("{} is not a map", kind(other))),
        },
    }
    Ok(())
}

/// Writes the buffered values as one row group and empties the buffers.
fn flush<W: std::io::Write + Send>(writer: &mut SerializedFileWriter<W>, cols: &mut [Column]) -> Result<(), String> {
    let err = |e: parquet::errors::ParquetError| parquet_err(&e.to_string());
    let mut group = writer.next_row_group().map_err(err)?;
    for c in cols.iter_mut() {
        let mut column = group.next_column().map_err(err)?.ok_or("the schema has fewer columns than planned")?;
        let def = (c.max_def > 0).then_some(c.def.as_slice());
        let rep = (c.max_rep > 0).then_some(c.rep.as_slice());
        let written = match (&c.values, column.untyped()) {
            (Values::Bool(v), ColumnWriter::BoolColumnWriter(w)) => w.write_batch(v, def, rep),
            (Values::I32(v), ColumnWriter::Int32ColumnWriter(w)) => w.write_batch(v, def, rep),
            (Values::I64(v), ColumnWriter::Int64ColumnWriter(w)) => w.write_batch(v, def, rep),
            (Values::F32(v), ColumnWriter::FloatColumnWriter(w)) => w.write_batch(v, def, rep),
            (Values::F64(v), ColumnWriter::DoubleColumnWriter(w)) => w.write_batch(v, def, rep),
            (Values::Bytes(v), ColumnWriter::ByteArrayColumnWriter(w)) => w.write_batch(v, def, rep),
            (Values::Fixed(v, _), ColumnWriter::FixedLenByteArrayColumnWriter(w)) => w.write_batch(v, def, rep),
            _ => return Err("a column's buffer does not match its writer".into()),
        };
        written.map_err(err)?;
        column.close().map_err(err)?;
        c.clear();
    }
    group.close().map_err(err)?;
    Ok(())
}

pub static ION_TO_PARQUET: LazyLock<PluginDef> =
    LazyLock::new(|| PluginDef::declare_as::<Props>(build).parsed_by::<Props>());
