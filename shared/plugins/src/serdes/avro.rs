//! `io.kestra.plugin.serdes.avro.AvroToIon` and `IonToAvro` on
//! `apache-avro`, streamed (Avro's writer flushes a block at a time).
//!
//! AvroToIon reads an Avro object container file (null, deflate, snappy or
//! zstandard blocks) with the schema it carries. IonToAvro writes one with
//! the given `schema` (no codec, as Kestra); Kestra infers a schema when
//! none is given (`numberOfRowsToScan`, `inferAllFields`): Baton does not,
//! so `schema` is required (and `numberOfRowsToScan`, which only sizes that
//! inference, has no effect, as in Kestra with a schema). Values convert as
//! [`super::avro_value`] says: dates, times and date-times are read with
//! the Java patterns `dateFormat`, `timeFormat`, `datetimeFormat`
//! ([`super::java_time`]), a date-time without an offset in `timeZoneId`
//! (UTC when not set: Kestra takes its server's zone); `inferAllFields`
//! applies `nullValues`/`trueValues`/`falseValues` to every field. A record
//! that does not convert follows `onBadLines`.

use std::io::BufReader;
use std::sync::LazyLock;

use apache_avro::{Reader, Schema, Writer};
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};

use chrono_tz::Tz;

use super::avro_value::{Convert, to_json};
use super::common::{self, IonLines, Job, Report};
use super::java_time::Pattern;
use crate::bridge::{SyncReader, SyncWriter};
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// What a bad record does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnBad {
    Error,
    Warn,
    Skip,
}

/// Parses Kestra's `onBadLines`.
pub fn on_bad(v: Option<&str>) -> Result<OnBad, TaskError> {
    match v.unwrap_or("ERROR").to_ascii_uppercase().as_str() {
        "ERROR" => Ok(OnBad::Error),
        "WARN" => Ok(OnBad::Warn),
        "SKIP" => Ok(OnBad::Skip),
        o => Err(TaskError::property("onBadLines", format!("'{o}' is not one of ERROR, WARN, SKIP"))),
    }
}

/// Convert an Avro file into Ion.
///
/// Reads an Avro object container file into an Ion file, one record a line, in the schema's field order.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.serdes.avro.AvroToIon",
    aliases = ["io.kestra.plugin.serdes.avro.AvroReader"],
    group = "core",
    example = "id: to_ion\ntype: io.kestra.plugin.serdes.avro.AvroToIon\nfrom: \"{{ outputs.download.uri }}\"\n",
    outputs(
        uri(String, "The Ion file."),
        size(Integer, "Records written.")
    )
)]
struct ReadProps {
    /// The Avro file (kestra:// URI).
    #[serde(deserialize_with = "de::string_lenient")]
    from: String,
    /// What a record that cannot be read does.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(values = ["ERROR", "WARN", "SKIP"], default = "\"ERROR\"")]
    on_bad_lines: Option<String>,
}

/// Convert an Ion file into Avro.
///
/// Writes the records of an Ion file as an Avro object container file with the given schema.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.serdes.avro.IonToAvro",
    aliases = ["io.kestra.plugin.serdes.avro.AvroWriter"],
    group = "core",
    example = "id: to_avro\ntype: io.kestra.plugin.serdes.avro.IonToAvro\nfrom: \"{{ outputs.to_ion.uri }}\"\nschema: |\n  {\"type\": \"record\", \"name\": \"row\", \"fields\": [{\"name\": \"id\", \"type\": \"int\"}]}\n",
    outputs(
        uri(String, "The Avro file."),
        size(Integer, "Records written.")
    )
)]
struct WriteProps {
    /// The Ion file (kestra:// URI).
    #[serde(deserialize_with = "de::string_lenient")]
    from: String,
    /// The Avro schema (JSON) of the records.
    #[serde(deserialize_with = "de::string_lenient")]
    #[prop(check = schema_ok)]
    schema: String,
    #[serde(flatten)]
    convert: ConvertProps,
}

/// A written `schema` (a template is checked once rendered).
fn schema_ok(v: &Value) -> Result<(), String> {
    match v.as_str() {
        Some(s) if !baton_model::expr::is_template(s) => parse_schema(s).map(|_| ()),
        _ => Ok(()),
    }
}

/// An Avro schema's text, parsed.
pub fn parse_schema(text: &str) -> Result<Schema, String> {
    Schema::parse_str(text).map_err(|e| format!("invalid Avro schema: {e}"))
}

/// How Ion records become Avro datums (Kestra's `AbstractAvroConverter`
/// but its `schema`), shared with `IonToParquet`.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
pub struct ConvertProps {
    /// Strings read as null (where the schema allows null).
    #[serde(default, deserialize_with = "opt_list")]
    #[prop(
        kind = "List",
        default = "[\"\", \"#N/A\", \"#N/A N/A\", \"#NA\", \"-1.#IND\", \"-1.#QNAN\", \"-NaN\", \"1.#IND\", \"1.#QNAN\", \"NA\", \"n/a\", \"nan\", \"null\"]"
    )]
    null_values: Option<Vec<String>>,
    /// Strings read as true.
    #[serde(default, deserialize_with = "opt_list")]
    #[prop(kind = "List", default = "[\"t\", \"true\", \"enabled\", \"1\", \"on\", \"yes\"]")]
    true_values: Option<Vec<String>>,
    /// Strings read as false.
    #[serde(default, deserialize_with = "opt_list")]
    #[prop(kind = "List", default = "[\"f\", \"false\", \"disabled\", \"0\", \"off\", \"no\", \"\"]")]
    false_values: Option<Vec<String>>,
    /// The decimal point of numbers written as strings.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(default = "\".\"")]
    decimal_separator: Option<String>,
    /// Whether a field not in the schema is an error.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "false")]
    strict_schema: Option<bool>,
    /// What a record that does not convert does.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(values = ["ERROR", "WARN", "SKIP"], default = "\"ERROR\"")]
    on_bad_lines: Option<String>,
    /// The Java pattern of dates (fields of logical type date).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(default = "\"yyyy-MM-dd[XXX]\"")]
    date_format: Option<String>,
    /// The Java pattern of times (time-millis, time-micros).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(default = "\"HH:mm[:ss][.SSSSSS][XXX]\"")]
    time_format: Option<String>,
    /// The Java pattern of date-times (timestamp-millis, timestamp-micros, local-timestamp-…).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(default = "\"yyyy-MM-dd'T'HH:mm[:ss][.SSSSSS][XXX]\"")]
    datetime_format: Option<String>,
    /// The time zone of a date-time written without an offset (UTC when not set).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    time_zone_id: Option<String>,
    /// Apply nullValues, trueValues and falseValues to every field, whatever its type.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "false")]
    infer_all_fields: Option<bool>,
    /// Rows scanned to infer a schema: Baton requires `schema`, so it has no effect (as in Kestra with a schema).
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    #[prop(default = "100")]
    #[allow(dead_code)]
    number_of_rows_to_scan: Option<u64>,
}

fn pattern(prop: &str, v: &Option<String>, default: &str) -> Result<Pattern, TaskError> {
    let text = v.as_deref().unwrap_or(default);
    Pattern::compile(text).map_err(|e| TaskError::property(prop, format!("'{text}' is not a date pattern: {e}")))
}

/// A list of strings, when given.
fn opt_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    de::string_or_list(d).map(Some)
}

fn list(v: &Option<Vec<String>>, default: &[&str]) -> Vec<String> {
    v.clone().unwrap_or_else(|| default.iter().map(|s| s.to_string()).collect())
}

#[derive(Debug)]
struct AvroToIon {
    from: String,
    on_bad: OnBad,
}

#[derive(Debug)]
struct IonToAvro {
    from: String,
    schema: Schema,
    convert: Convert,
    on_bad: OnBad,
}

fn build_read(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: ReadProps = parse_props(props)?;
    Ok(Box::new(AvroToIon { from: p.from, on_bad: on_bad(p.on_bad_lines.as_deref())? }))
}

fn build_write(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: WriteProps = parse_props(props)?;
    let (schema, convert, on_bad) = write_options(&p.schema, &p.convert)?;
    Ok(Box::new(IonToAvro { from: p.from, schema, convert, on_bad }))
}

/// The checked `schema` and conversion of `p`.
pub fn write_options(schema: &str, p: &ConvertProps) -> Result<(Schema, Convert, OnBad), TaskError> {
    let schema = parse_schema(schema).map_err(|e| TaskError::property("schema", e))?;
    let sep = p.decimal_separator.as_deref().unwrap_or(".");
    let mut chars = sep.chars();
    let decimal_separator = match (chars.next(), chars.next()) {
        (Some(c), None) => c,
        _ => return Err(TaskError::property("decimalSeparator", format!("'{sep}' is not one character"))),
    };
    let convert = Convert {
        null_values: list(
            &p.null_values,
            &[
                "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "1.#IND", "1.#QNAN", "NA", "n/a", "nan",
                "null",
            ],
        ),
        true_values: list(&p.true_values, &["t", "true", "enabled", "1", "on", "yes"]),
        false_values: list(&p.false_values, &["f", "false", "disabled", "0", "off", "no", ""]),
        decimal_separator,
        strict: p.strict_schema.unwrap_or(false),
        infer_all: p.infer_all_fields.unwrap_or(false),
        date_format: pattern("dateFormat", &p.date_format, "yyyy-MM-dd[XXX]")?,
        time_format: pattern("timeFormat", &p.time_format, "HH:mm[:ss][.SSSSSS][XXX]")?,
        datetime_format: pattern("datetimeFormat", &p.datetime_format, "yyyy-MM-dd'T'HH:mm[:ss][.SSSSSS][XXX]")?,
        zone: match p.time_zone_id.as_deref().map(str::trim).filter(|z| !z.is_empty()) {
            None => Tz::UTC,
            Some(z) => z.parse().map_err(|_| {
                TaskError::property("timeZoneId", format!("'{z}' is not a time zone (e.g. Europe/Paris)"))
            })?,
        },
    };
    Ok((schema, convert, on_bad(p.on_bad_lines.as_deref())?))
}

#[async_trait]
impl RunnableTask for AvroToIon {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let (uri, on_bad) = (self.from.trim().to_string(), self.on_bad);
        let job: Job = Box::new(move |src, out| read(src, out, on_bad, &uri));
        common::convert(cx, &self.from, "data.ion", job).await
    }
}

#[async_trait]
impl RunnableTask for IonToAvro {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let (uri, on_bad) = (self.from.trim().to_string(), self.on_bad);
        let (schema, convert) = (self.schema.clone(), self.convert.clone());
        let job: Job = Box::new(move |src, out| write(src, out, &schema, &convert, on_bad, &uri));
        common::convert(cx, &self.from, "data.avro", job).await
    }
}

/// Follows `onBadLines` for a record that does not convert.
pub fn bad(report: &mut Report, on_bad: OnBad, message: String) -> Result<(), String> {
    match on_bad {
        OnBad::Error => Err(message),
        OnBad::Warn => {
            report.warn(format!("{message} (skipped)"));
            Ok(())
        }
        OnBad::Skip => Ok(()),
    }
}

/// Avro to Ion, on a blocking thread.
fn read(src: SyncReader, out: &mut SyncWriter, on_bad: OnBad, uri: &str) -> Result<Report, String> {
    let reader = Reader::new(BufReader::new(src)).map_err(|e| format!("{uri} is not an Avro file: {e}"))?;
    let schema = reader.writer_schema().clone();
    // a broken block: the rest of the file cannot be read
    write_records(reader, |d| to_json(d, &schema, ""), out, on_bad, ("record", uri))
}

/// Writes each item `items` gives as the Ion record `convert` makes of it,
/// counted in the report; an item `convert` refuses is a bad line
/// (`on_bad`), and an item that cannot be read ends the read (the rest of
/// its block or page cannot be read either). `what`: what an item is
/// called and the file's URI, for the messages.
pub fn write_records<T, E: std::fmt::Display>(
    items: impl Iterator<Item = Result<T, E>>,
    convert: impl Fn(&T) -> Result<Value, String>,
    out: &mut SyncWriter,
    on_bad: OnBad,
    (noun, uri): (&str, &str),
) -> Result<Report, String> {
    let mut report = Report::default();
    for (i, item) in items.enumerate() {
        let name = format!("{noun} {} of {uri}", i + 1);
        let item = match item {
            Ok(item) => item,
            Err(e) => {
                bad(&mut report, on_bad, format!("cannot read {name}: {e}"))?;
                break;
            }
        };
        match convert(&item) {
            Ok(v) => {
                super::exact::write_ion_record(&v, out).map_err(common::write_err)?;
                report.records += 1;
            }
            Err(e) => bad(&mut report, on_bad, format!("{name}: {e}"))?,
        }
    }
    Ok(report)
}

/// An Ion line as the record `schema` reads: a list is positional, or the
/// one array field of a `root` record.
pub fn record_value(v: Value, schema: &Schema) -> Value {
    match (v, schema) {
        (Value::Array(items), Schema::Record(r)) => {
            if let [f] = r.fields.as_slice()
                && matches!(f.schema, Schema::Array(_))
            {
                Value::Object(Map::from_iter([(f.name.clone(), Value::Array(items))]))
            } else {
                Value::Object(r.fields.iter().map(|f| f.name.clone()).zip(items).collect())
            }
        }
        (v, _) => v,
    }
}

/// Ion to Avro, on a blocking thread.
fn write(
    src: SyncReader,
    out: &mut SyncWriter,
    schema: &Schema,
    convert: &Convert,
    on_bad: OnBad,
    uri: &str,
) -> Result<Report, String> {
    let mut lines = IonLines::new(BufReader::new(src), uri).exact();
    let mut writer = Writer::new(schema, out).map_err(|e| format!("cannot start the Avro file: {e}"))?;
    let mut report = Report::default();
    while let Some(v) = lines.next_value()? {
        match convert.to_avro(&record_value(v, schema), schema, "") {
            Ok(datum) => {
                writer.append_value(datum).map_err(|e| format!("line {} of {uri}: {e}", lines.line))?;
                report.records += 1;
            }
            Err(e) => bad(&mut report, on_bad, format!("line {} of {uri}: {e}", lines.line))?,
        }
    }
    writer.flush().map_err(|e| format!("cannot write the Avro file: {e}"))?;
    Ok(report)
}

pub static AVRO_TO_ION: LazyLock<PluginDef> =
    LazyLock::new(|| PluginDef::declare_as::<ReadProps>(build_read).parsed_by::<ReadProps>());

pub static ION_TO_AVRO: LazyLock<PluginDef> =
    LazyLock::new(|| PluginDef::declare_as::<WriteProps>(build_write).parsed_by::<WriteProps>());

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::serdes::test_support::{run_bytes, run_job};

    const SCHEMA: &str = r#"{"type":"record","name":"row","fields":[
        {"name":"id","type":"long"},{"name":"name","type":["null","string"]},{"name":"ok","type":"boolean"}]}"#;

    fn to_avro(ion: &str, props: Value) -> Result<Vec<u8>, String> {
        let mut map = props.as_object().cloned().unwrap_or_default();
        map.insert("from".into(), "kestra:///f.ion".into());
        map.entry("schema").or_insert(SCHEMA.into());
        let p: WriteProps = parse_props(&map).map_err(|e| e.to_string())?;
        let (schema, convert, on_bad) = write_options(&p.schema, &p.convert).map_err(|e| e.to_string())?;
        run_bytes(ion.as_bytes().to_vec(), move |src, out| {
            write(src, out, &schema, &convert, on_bad, "kestra:///f.ion")
        })
    }

    #[test]
    fn ion_to_avro_and_back() {
        let avro = to_avro("{id:1,name:\"a\",ok:\"yes\"}\n{id:\"2\",name:null,ok:false}\n", json!({})).unwrap();
        assert_eq!(&avro[..4], b"Obj\x01");
        let ion = run_job(avro, |src, out| read(src, out, OnBad::Error, "kestra:///f.avro")).unwrap();
        assert_eq!(ion, "{\"id\":1,\"name\":\"a\",\"ok\":true}\n{\"id\":2,\"name\":null,\"ok\":false}\n");
    }

    #[test]
    fn date_time_patterns_and_zone() {
        let schema = r#"{"type":"record","name":"r","fields":[
            {"name":"at","type":{"type":"long","logicalType":"timestamp-millis"}},
            {"name":"day","type":["null",{"type":"int","logicalType":"date"}]},
            {"name":"ok","type":["null","string"]}]}"#;
        let props = json!({"schema": schema, "datetimeFormat": "yyyy-MM-dd' 'HH:mm:ss", "dateFormat": "dd/MM/yyyy",
            "timeZoneId": "Europe/Paris", "inferAllFields": true});
        let avro = to_avro("{at:\"2024-03-01 10:00:00\",day:\"05/02/2024\",ok:\"yes\"}\n", props).unwrap();
        let ion = run_job(avro, |src, out| read(src, out, OnBad::Error, "kestra:///f.avro")).unwrap();
        assert_eq!(ion, "{\"at\":\"2024-03-01T09:00:00Z\",\"day\":\"2024-02-05\",\"ok\":\"true\"}\n");
        let e = to_avro(
            "{at:\"2024-03-01T10:00:00\"}\n",
            json!({"schema": schema, "datetimeFormat": "yyyy-MM-dd' 'HH:mm:ss"}),
        )
        .unwrap_err();
        assert!(e.contains("is not a date-time (yyyy-MM-dd' 'HH:mm:ss)"), "{e}");
        let e = to_avro("", json!({"schema": schema, "dateFormat": "yyyy-[MM"})).unwrap_err();
        assert!(e.contains("dateFormat"), "{e}");
        let ok = to_avro("{at:1700000000000}\n", json!({"schema": schema})).unwrap();
        let ion = run_job(ok, |src, out| read(src, out, OnBad::Error, "kestra:///f.avro")).unwrap();
        assert!(ion.starts_with("{\"at\":\"2023-11-14T22:13:20Z\""), "{ion}");
    }

    #[test]
    fn a_bad_record_names_its_line_or_is_skipped() {
        let ion = "{id:1,ok:true}\n{id:\"x\",ok:true}\n{id:3,ok:false}\n";
        let e = to_avro(ion, json!({})).unwrap_err();
        assert_eq!(e, "line 2 of kestra:///f.ion: field 'id': \"x\" is not a long");
        let avro = to_avro(ion, json!({"onBadLines": "SKIP"})).unwrap();
        let back = run_job(avro, |src, out| read(src, out, OnBad::Error, "kestra:///f.avro")).unwrap();
        assert_eq!(back.lines().count(), 2);
        let e = run_job(b"not avro".to_vec(), |src, out| read(src, out, OnBad::Error, "kestra:///f.avro")).unwrap_err();
        assert!(e.starts_with("kestra:///f.avro is not an Avro file"), "{e}");
        assert!(to_avro("", json!({"schema": "{oops"})).unwrap_err().contains("invalid Avro schema"));
    }
}
