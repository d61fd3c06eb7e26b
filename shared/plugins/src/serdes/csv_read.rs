//! `io.kestra.plugin.serdes.csv.CsvToIon`: a CSV file to an Ion file, one
//! record a line, every value a string as Kestra reads them (`\N` is null):
//! a struct keyed by the header with `header: true` (the default), a list
//! without. Read with the `csv` crate on a blocking thread, streamed.
//!
//! As Kestra (FastCSV): an empty line is a record of one empty field unless
//! `skipEmptyRows`; the header is the record on line 1; `skipRows` skips
//! records after it; a record whose field count differs from the header's
//! is a bad line (`onBadLines` ERROR, WARN or SKIP); trailing unnamed header
//! columns are dropped (`onEmptyHeader: DROP`) or named `col_<i>`
//! (`RENAME`); a UTF-8 byte-order mark is dropped. A field longer than
//! `maxFieldSize`, or a record longer than `maxBufferSize`, fails the task
//! naming the bound and the line.

use std::collections::HashSet;
use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::charset;
use super::common::{self, Bounded, Job, Report};
use crate::bridge::{SyncReader, SyncWriter};
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// Kestra's default for `maxBufferSize` and `maxFieldSize`.
const DEFAULT_MAX: u64 = 16 * 1024 * 1024;

/// Convert a CSV file into Ion.
///
/// Reads a CSV file of internal storage into an Ion file, one record a line; every value stays a string (`\N` is null).
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.serdes.csv.CsvToIon",
    aliases = ["io.kestra.plugin.serdes.csv.CsvReader"],
    group = "core",
    example = "id: to_ion\ntype: io.kestra.plugin.serdes.csv.CsvToIon\nfrom: \"{{ outputs.download.uri }}\"\n",
    outputs(
        uri(String, "The Ion file."),
        size(Integer, "Records written.")
    )
)]
struct Props {
    /// The CSV file (kestra:// URI).
    #[serde(deserialize_with = "de::string_lenient")]
    from: String,
    /// Whether the first line is the header (records become structs keyed by it; lists without).
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "true")]
    header: Option<bool>,
    #[serde(flatten)]
    delimiters: Delimiters,
    /// Skip empty lines (otherwise an empty line is a record of one empty field).
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "false")]
    skip_empty_rows: Option<bool>,
    /// Deprecated, and without effect in Kestra as here: use `onBadLines`.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    error_on_different_field_count: Option<bool>,
    /// What a record whose field count differs from the header's does.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(values = ["ERROR", "WARN", "SKIP"], default = "\"ERROR\"")]
    on_bad_lines: Option<String>,
    /// What unnamed header columns become: dropped when trailing, or named `col_<index>`.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(values = ["DROP", "RENAME"], default = "\"DROP\"")]
    on_empty_header: Option<String>,
    /// Records skipped after the header.
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    #[prop(default = "0")]
    skip_rows: Option<u64>,
    /// The file's charset.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(default = "\"UTF-8\"")]
    charset: Option<String>,
    /// The longest record read, in bytes (a longer one fails the task).
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    #[prop(default = "16777216")]
    max_buffer_size: Option<u64>,
    /// The longest field read, in bytes (a longer one fails the task).
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    #[prop(default = "16777216")]
    max_field_size: Option<u64>,
}

/// The CSV characters both ways, `#[serde(flatten)]`ed into `CsvToIon`'s
/// and `IonToCsv`'s properties.
#[derive(Debug, Default, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
pub(super) struct Delimiters {
    /// The field separator (one character).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(default = "\",\"")]
    pub field_separator: Option<String>,
    /// The character quoting a field.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(default = "\"\\\"\"")]
    pub text_delimiter: Option<String>,
}

impl Delimiters {
    /// `fieldSeparator` as one byte (default `,`).
    pub fn separator(&self) -> Result<u8, TaskError> {
        common::one_char("fieldSeparator", self.field_separator.as_deref().unwrap_or(","))
    }

    /// `textDelimiter` as one byte (default `"`).
    pub fn quote(&self) -> Result<u8, TaskError> {
        common::one_char("textDelimiter", self.text_delimiter.as_deref().unwrap_or("\""))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OnBadLines {
    Error,
    Warn,
    Skip,
}

/// The checked options.
#[derive(Debug, Clone)]
struct Options {
    header: bool,
    separator: u8,
    quote: u8,
    skip_empty: bool,
    on_bad: OnBadLines,
    rename_empty: bool,
    skip_rows: u64,
    encoding: &'static encoding_rs::Encoding,
    max_record: u64,
    max_field: u64,
}

#[derive(Debug)]
struct CsvToIon {
    from: String,
    options: Options,
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    let options = options(&p)?;
    Ok(Box::new(CsvToIon { from: p.from, options }))
}

/// The checked options of `p`.
fn options(p: &Props) -> Result<Options, TaskError> {
    let on_bad = match p.on_bad_lines.as_deref().unwrap_or("ERROR").to_ascii_uppercase().as_str() {
        "ERROR" => OnBadLines::Error,
        "WARN" => OnBadLines::Warn,
        "SKIP" => OnBadLines::Skip,
        o => return Err(TaskError::property("onBadLines", format!("'{o}' is not one of ERROR, WARN, SKIP"))),
    };
    let rename_empty = match p.on_empty_header.as_deref().unwrap_or("DROP").to_ascii_uppercase().as_str() {
        "DROP" => false,
        "RENAME" => true,
        o => return Err(TaskError::property("onEmptyHeader", format!("'{o}' is not one of DROP, RENAME"))),
    };
    // deprecated in Kestra, which reads it nowhere
    let _ = p.error_on_different_field_count;
    Ok(Options {
        header: p.header.unwrap_or(true),
        separator: p.delimiters.separator()?,
        quote: p.delimiters.quote()?,
        skip_empty: p.skip_empty_rows.unwrap_or(false),
        on_bad,
        rename_empty,
        skip_rows: p.skip_rows.unwrap_or(0),
        encoding: charset::parse("charset", p.charset.as_deref().unwrap_or("UTF-8"))?,
        max_record: p.max_buffer_size.unwrap_or(DEFAULT_MAX),
        max_field: p.max_field_size.unwrap_or(DEFAULT_MAX),
    })
}

#[async_trait]
impl RunnableTask for CsvToIon {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let options = self.options.clone();
        let uri = self.from.trim().to_string();
        let job: Job = Box::new(move |src, out| read(src, out, &options, &uri));
        common::convert(cx, &self.from, "data.ion", job).await
    }
}

/// The header's names and how many columns a record emits.
fn resolve_header(names: Vec<String>, rename: bool, report: &mut Report) -> (Vec<String>, usize) {
    if rename {
        let mut taken: HashSet<String> = names.iter().cloned().collect();
        let named: Vec<String> = names
            .iter()
            .enumerate()
            .map(|(i, n)| {
                if !n.is_empty() {
                    return n.clone();
                }
                let mut attempt = 1;
                loop {
                    let c = if attempt == 1 { format!("col_{i}") } else { format!("col_{i}_{attempt}") };
                    if taken.insert(c.clone()) {
                        return c;
                    }
                    attempt += 1;
                }
            })
            .collect();
        let n = named.len();
        return (named, n);
    }
    let kept = names.iter().rposition(|n| !n.is_empty()).map(|i| i + 1).unwrap_or(names.len().saturating_sub(1) + 1);
    let kept = kept.min(names.len());
    if kept < names.len() {
        report.warn(format!(
            "Dropped {} trailing unnamed header column(s); their values are not emitted. Set onEmptyHeader=RENAME to keep them.",
            names.len() - kept
        ));
    }
    let distinct: HashSet<&String> = names[..kept].iter().collect();
    if distinct.len() < kept {
        report.warn(format!(
            "Header has {} duplicate or empty column name(s) among the kept columns; only the last value of each is kept.",
            kept - distinct.len()
        ));
    }
    (names, kept)
}

fn value_of(field: &str) -> Value {
    if field == "\\N" { Value::Null } else { Value::String(field.to_string()) }
}

/// The conversion, on a blocking thread.
fn read(src: SyncReader, out: &mut SyncWriter, o: &Options, uri: &str) -> Result<Report, String> {
    let decoded = charset::Decode::new(src, o.encoding, true);
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(o.separator)
        .quote(o.quote)
        .from_reader(Bounded::new(decoded, o.max_record, "CSV record"));
    let mut report = Report::default();
    let mut header: Option<(Vec<String>, usize)> = None;
    let mut skipped = 0u64;
    let mut record = csv::StringRecord::new();
    loop {
        // the csv crate skips empty lines: they are those it went past
        // beyond the record's own (one, plus the line breaks in its fields)
        let before = rdr.position().line();
        let more = rdr.read_record(&mut record).map_err(|e| format!("cannot read {uri}: {}", csv_error(&e)))?;
        rdr.get_mut().reset();
        let own = if more { 1 + record.iter().map(|f| f.matches('\n').count() as u64).sum::<u64>() } else { 0 };
        let empty = (rdr.position().line() - before).saturating_sub(own);
        if !o.skip_empty {
            for line in before..before + empty {
                let blank = csv::StringRecord::from(vec![""]);
                emit(&blank, line, o, &mut header, &mut skipped, &mut report, out, uri)?;
            }
        }
        if !more {
            break;
        }
        let start = before + empty;
        if let Some((i, f)) = record.iter().enumerate().find(|(_, f)| f.len() as u64 > o.max_field) {
            return Err(format!(
                "field {} on line {start} of {uri} is {} bytes, longer than maxFieldSize ({} bytes)",
                i + 1,
                f.len(),
                o.max_field
            ));
        }
        emit(&record, start, o, &mut header, &mut skipped, &mut report, out, uri)?;
    }
    Ok(report)
}

/// The csv crate's error, with the reader's position.
fn csv_error(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Io(io) => io.to_string(),
        _ => e.to_string(),
    }
}

#[allow(clippy::too_many_arguments)]
fn emit(
    record: &csv::StringRecord,
    line: u64,
    o: &Options,
    header: &mut Option<(Vec<String>, usize)>,
    skipped: &mut u64,
    report: &mut Report,
    out: &mut SyncWriter,
    uri: &str,
) -> Result<(), String> {
    if o.header && line == 1 {
        let names = record.iter().map(str::to_string).collect();
        *header = Some(resolve_header(names, o.rename_empty, report));
        return Ok(());
    }
    if *skipped < o.skip_rows {
        *skipped += 1;
        return Ok(());
    }
    let value = if o.header {
        let Some((names, kept)) = header.as_ref() else {
            return Err(format!("{uri} has no header on line 1"));
        };
        if record.len() != names.len() {
            let message = format!(
                "Bad line encountered (field count mismatch) on line {line} of {uri}: Expected {}, got {} fields.",
                names.len(),
                record.len()
            );
            match o.on_bad {
                OnBadLines::Error => return Err(message),
                OnBadLines::Warn => report.warn(message),
                OnBadLines::Skip => {}
            }
            return Ok(());
        }
        let mut row = Map::new();
        for (i, name) in names.iter().take(*kept).enumerate() {
            row.insert(name.clone(), record.get(i).map_or(Value::Null, value_of));
        }
        Value::Object(row)
    } else {
        Value::Array(record.iter().map(value_of).collect())
    };
    common::write_ion(&value, out)?;
    report.records += 1;
    Ok(())
}

pub static CSV_TO_ION: LazyLock<PluginDef> =
    LazyLock::new(|| PluginDef::declare_as::<Props>(build).parsed_by::<Props>());

/// Runs the conversion over bytes (unit tests): the Ion text or the error.
#[cfg(test)]
pub(super) fn convert_bytes(input: &[u8], props: Value) -> Result<String, String> {
    let mut map = props.as_object().cloned().unwrap_or_default();
    map.insert("from".into(), "kestra:///t/f.csv".into());
    let p: Props = parse_props(&map).map_err(|e| e.to_string())?;
    let o = options(&p).map_err(|e| e.to_string())?;
    super::test_support::run_job(input.to_vec(), move |src, out| read(src, out, &o, "kestra:///t/f.csv"))
}

#[cfg(test)]
#[path = "csv_read_tests.rs"]
mod tests;
