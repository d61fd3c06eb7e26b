//! `io.kestra.plugin.serdes.excel.ExcelToIon` on `calamine`, streamed: the
//! workbook is copied into the working directory (at most
//! [`MAX_XLSX_BYTES`]: calamine keeps its shared strings in memory), then
//! each selected sheet's cells are read in order and written as Ion, one
//! row at a time, to a file of its own (output `uris`, by sheet name).
//!
//! As Kestra: with `header` (the default) the first row after `skipRows`
//! names the columns (a missing name is `Column<i>`), and each later row is
//! a struct over the header's columns; without it, each row is a list over
//! the first data row's columns (Kestra skips `skipRows` rows after that
//! first row, and so does Baton). Rows with no cell at all are not
//! written. Values are read unformatted: numbers as floats, text, booleans;
//! errors and empty cells null; a date cell its date (`yyyy-MM-dd`), or
//! its Excel serial number with `dateTimeRender: SERIAL_NUMBER`. A formula
//! is its cached result (so `valueRender: FORMULA` reads as
//! `UNFORMATTED_VALUE`). Kestra's `FORMATTED_VALUE` and `FORMATTED_STRING`
//! render cells with Excel's number formats, which Baton does not: they
//! are refused at validation.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::sync::LazyLock;

use async_trait::async_trait;
use calamine::{DataRef, Reader, Xlsx, open_workbook};
use serde::Deserialize;
use serde_json::{Map, Number, Value};

use super::charset;
use super::common;
use crate::bridge::SyncWriter;
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// The largest Excel file read, in bytes.
pub const MAX_XLSX_BYTES: u64 = 256 * 1024 * 1024;
/// Excel's widest row (columns A to XFD).
const MAX_COLUMNS: u32 = 16_384;

/// Convert an Excel file into Ion.
///
/// Reads the sheets of an Excel (.xlsx) workbook into Ion files, one per sheet, one row a line.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.serdes.excel.ExcelToIon",
    group = "core",
    example = "id: to_ion\ntype: io.kestra.plugin.serdes.excel.ExcelToIon\nfrom: \"{{ outputs.download.uri }}\"\nsheetsTitle: [Products]\n",
    outputs(uris(Map, "Sheet name → its Ion file (kestra:// URI)."), size(Integer, "Rows read, all sheets together."))
)]
struct Props {
    /// The Excel file (kestra:// URI).
    #[serde(deserialize_with = "de::string_lenient")]
    from: String,
    /// The sheets read (all when not set).
    #[serde(default, deserialize_with = "de::string_or_list")]
    #[prop(kind = "StringOrList")]
    sheets_title: Vec<String>,
    /// The name of a character set (unused: an .xlsx file is UTF-8).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(default = "\"UTF-8\"")]
    charset: Option<String>,
    /// How values are read: their value (a formula's cached result); FORMATTED_VALUE is not supported.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(values = ["UNFORMATTED_VALUE", "FORMULA"], default = "\"UNFORMATTED_VALUE\"", check = value_render_ok)]
    value_render: Option<String>,
    /// How date cells are read: their date (yyyy-MM-dd) or Excel serial number; FORMATTED_STRING is not supported.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(values = ["UNFORMATTED_VALUE", "SERIAL_NUMBER"], default = "\"UNFORMATTED_VALUE\"", check = date_render_ok)]
    date_time_render: Option<String>,
    /// Whether the first row names the columns.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "true")]
    header: Option<bool>,
    /// Empty cells are null (as without it: Kestra's flag has no other effect).
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "false")]
    #[allow(dead_code)]
    skip_empty_rows: Option<bool>,
    /// Rows skipped at the start of the sheet (before the header).
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    #[prop(default = "0")]
    skip_rows: Option<u64>,
}

fn value_render_ok(v: &Value) -> Result<(), String> {
    match v.as_str().map(|s| s.trim().to_ascii_uppercase()) {
        Some(s) if s == "FORMATTED_VALUE" => {
            Err("FORMATTED_VALUE (cells rendered with Excel's number formats) is not supported: use UNFORMATTED_VALUE"
                .into())
        }
        _ => Ok(()),
    }
}

fn date_render_ok(v: &Value) -> Result<(), String> {
    match v.as_str().map(|s| s.trim().to_ascii_uppercase()) {
        Some(s) if s == "FORMATTED_STRING" => Err(
            "FORMATTED_STRING (dates rendered with Excel's number formats) is not supported: use UNFORMATTED_VALUE or SERIAL_NUMBER"
                .into(),
        ),
        _ => Ok(()),
    }
}

/// How cells are read.
#[derive(Debug, Clone, Copy)]
struct Options {
    header: bool,
    skip_rows: u64,
    serial_dates: bool,
}

#[derive(Debug)]
struct ExcelToIon {
    from: String,
    sheets: Vec<String>,
    options: Options,
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    if let Some(c) = &p.charset {
        charset::parse("charset", c)?;
    }
    let render = p.value_render.as_deref().unwrap_or("UNFORMATTED_VALUE").trim().to_ascii_uppercase();
    value_render_ok(&Value::String(render.clone())).map_err(|e| TaskError::property("valueRender", e))?;
    if !matches!(render.as_str(), "UNFORMATTED_VALUE" | "FORMULA") {
        return Err(TaskError::property("valueRender", format!("'{render}' is not one of UNFORMATTED_VALUE, FORMULA")));
    }
    let dates = p.date_time_render.as_deref().unwrap_or("UNFORMATTED_VALUE").trim().to_ascii_uppercase();
    date_render_ok(&Value::String(dates.clone())).map_err(|e| TaskError::property("dateTimeRender", e))?;
    if !matches!(dates.as_str(), "UNFORMATTED_VALUE" | "SERIAL_NUMBER") {
        return Err(TaskError::property(
            "dateTimeRender",
            format!("'{dates}' is not one of UNFORMATTED_VALUE, SERIAL_NUMBER"),
        ));
    }
    let options = Options {
        header: p.header.unwrap_or(true),
        skip_rows: p.skip_rows.unwrap_or(0),
        serial_dates: dates == "SERIAL_NUMBER",
    };
    Ok(Box::new(ExcelToIon { from: p.from, sheets: p.sheets_title, options }))
}

type Book = Xlsx<BufReader<File>>;

#[async_trait]
impl RunnableTask for ExcelToIon {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let dir = cx.working_dir()?;
        let out = self.run_in(cx, &dir).await;
        if !cx.shares_working_dir() {
            let _ = tokio::fs::remove_dir_all(&dir).await;
        }
        out
    }
}

impl ExcelToIon {
    async fn run_in(&self, cx: &RunContext, dir: &Path) -> Result<TaskOutput, TaskError> {
        let from = self.from.trim().to_string();
        let local = dir.join("source.xlsx");
        common::copy_local(cx, &from, &local, MAX_XLSX_BYTES, "Excel file").await?;
        let (path, uri) = (local.clone(), from.clone());
        let opened = tokio::task::spawn_blocking(move || open(&path, &uri))
            .await
            .map_err(|e| TaskError::failed(format!("the conversion stopped: {e}")))?;
        let mut book = opened.map_err(TaskError::failed)?;
        let all = book.sheet_names();
        cx.counter("sheets", all.len() as f64, &[]);
        let selected: Vec<String> =
            all.into_iter().filter(|s| self.sheets.is_empty() || self.sheets.contains(s)).collect();
        let (mut uris, mut total) = (Map::new(), 0u64);
        for (i, sheet) in selected.iter().enumerate() {
            let (mut writer, stream) = SyncWriter::open();
            let (name, options) = (sheet.clone(), self.options);
            let work = tokio::task::spawn_blocking(move || {
                let res = read_sheet(&mut book, &name, options, &mut writer);
                match &res {
                    Ok(_) => {
                        let finished = writer.finish().map_err(|e| e.to_string());
                        (book, res.and_then(|n| finished.map(|()| n)))
                    }
                    Err(e) => {
                        writer.fail(e);
                        (book, res)
                    }
                }
            });
            let put = cx.put_file(&format!("sheet-{}.ion", i + 1), stream).await;
            let (back, rows) = work.await.map_err(|e| TaskError::failed(format!("the conversion stopped: {e}")))?;
            book = back;
            let rows = rows.map_err(|e| TaskError::failed(format!("sheet '{sheet}' of {from}: {e}")))?;
            let (uri, _) = put?;
            total += rows;
            uris.insert(sheet.clone(), Value::String(uri));
        }
        cx.counter("records", total as f64, &[]);
        cx.info(&format!("Read {} sheet(s) of {from}: {total} rows", uris.len()));
        let mut out = Map::new();
        out.insert("uris".into(), Value::Object(uris));
        out.insert("size".into(), Value::from(total));
        Ok(TaskOutput::with(out))
    }
}

fn open(path: &Path, uri: &str) -> Result<Book, String> {
    open_workbook::<Book, _>(path).map_err(|e| format!("{uri} is not an Excel (.xlsx) file: {e}"))
}

/// A cell as Kestra's unformatted value.
fn cell_value(v: &DataRef<'_>, serial_dates: bool) -> Value {
    match v {
        DataRef::Int(i) => float(*i as f64),
        DataRef::Float(f) => float(*f),
        DataRef::String(s) => Value::String(s.clone()),
        DataRef::SharedString(s) => Value::String((*s).to_string()),
        DataRef::Bool(b) => Value::Bool(*b),
        DataRef::DateTime(d) if serial_dates => float(d.as_f64()),
        DataRef::DateTime(d) => match d.as_datetime() {
            Some(t) => Value::String(t.date().format("%Y-%m-%d").to_string()),
            None => float(d.as_f64()),
        },
        DataRef::DateTimeIso(s) => match s.get(..10) {
            Some(day) if chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").is_ok() => Value::String(day.to_string()),
            _ => Value::String(s.clone()),
        },
        DataRef::DurationIso(s) => Value::String(s.clone()),
        DataRef::Error(_) | DataRef::Empty => Value::Null,
    }
}

fn float(f: f64) -> Value {
    Number::from_f64(f).map_or(Value::Null, Value::Number)
}

/// One row being gathered: (column, value) in column order.
type Cells = Vec<(u32, Value)>;

/// Reads one sheet into `out`; the rows written.
fn read_sheet(book: &mut Book, sheet: &str, o: Options, out: &mut SyncWriter) -> Result<u64, String> {
    let mut reader = book.worksheet_cells_reader(sheet).map_err(|e| e.to_string())?;
    let mut rows = RowWriter::new(o);
    let mut current: Option<(u32, Cells)> = None;
    while let Some(cell) = reader.next_cell().map_err(|e| e.to_string())? {
        let (r, c) = cell.get_position();
        if c >= MAX_COLUMNS {
            return Err(format!("cell {} of row {} is past column {MAX_COLUMNS}, the widest Excel row", c + 1, r + 1));
        }
        if matches!(cell.get_value(), DataRef::Empty) {
            continue;
        }
        let value = cell_value(cell.get_value(), o.serial_dates);
        match &mut current {
            Some((row, cells)) if *row == r => cells.push((c, value)),
            _ => {
                if let Some((_, cells)) = current.take() {
                    rows.row(cells, out)?;
                }
                current = Some((r, vec![(c, value)]));
            }
        }
    }
    if let Some((_, cells)) = current.take() {
        rows.row(cells, out)?;
    }
    Ok(rows.written)
}

/// Kestra's row walk: header, skipped rows, data rows.
struct RowWriter {
    o: Options,
    seen: u64,
    /// The header's names, once read.
    names: Option<Vec<String>>,
    first_col: u32,
    /// One past the last column read (None until known).
    last_col: Option<u32>,
    skipped: u64,
    written: u64,
}

impl RowWriter {
    fn new(o: Options) -> RowWriter {
        RowWriter { o, seen: 0, names: None, first_col: 0, last_col: None, skipped: 0, written: 0 }
    }

    fn row(&mut self, cells: Cells, out: &mut SyncWriter) -> Result<(), String> {
        self.seen += 1;
        let first_col = cells.first().map_or(0, |(c, _)| *c);
        let last_col = cells.last().map_or(0, |(c, _)| c + 1);
        if self.o.header && self.names.is_none() {
            // the header is the row after the `skipRows` first ones
            if self.seen <= self.o.skip_rows {
                return Ok(());
            }
            let names = (first_col..last_col)
                .map(|i| match cells.iter().find(|(c, _)| *c == i) {
                    Some((_, Value::String(s))) => s.clone(),
                    Some((_, v)) => super::csv_write::java_string(v).unwrap_or_default(),
                    None => format!("Column{i}"),
                })
                .collect();
            self.names = Some(names);
            self.first_col = first_col;
            self.last_col = Some(last_col);
            return Ok(());
        }
        match self.last_col {
            None => self.last_col = Some(last_col),
            // without a header, Kestra skips `skipRows` rows after the first one
            Some(_) if !self.o.header && self.skipped < self.o.skip_rows => {
                self.skipped += 1;
                return Ok(());
            }
            Some(_) => {}
        }
        let range = self.first_col..self.last_col.unwrap_or(0);
        let values: Vec<Value> =
            range.map(|i| cells.iter().find(|(c, _)| *c == i).map_or(Value::Null, |(_, v)| v.clone())).collect();
        let record = match &self.names {
            Some(names) if !names.is_empty() => Value::Object(
                names.iter().cloned().zip(values.into_iter().chain(std::iter::repeat(Value::Null))).collect(),
            ),
            _ => Value::Array(values),
        };
        common::write_ion(&record, out)?;
        self.written += 1;
        Ok(())
    }
}

pub static EXCEL_TO_ION: LazyLock<PluginDef> =
    LazyLock::new(|| PluginDef::declare_as::<Props>(build).parsed_by::<Props>());

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn formatted_renders_are_refused_by_name() {
        let e = build(json!({"from": "kestra:///a.xlsx", "valueRender": "FORMATTED_VALUE"}).as_object().unwrap());
        assert!(e.err().unwrap().to_string().contains("valueRender"));
        let e = build(json!({"from": "kestra:///a.xlsx", "dateTimeRender": "FORMATTED_STRING"}).as_object().unwrap());
        assert!(e.err().unwrap().to_string().contains("dateTimeRender"));
        assert!(build(json!({"from": "kestra:///a.xlsx", "valueRender": "FORMULA"}).as_object().unwrap()).is_ok());
    }

    #[test]
    fn cells_read_as_kestra_reads_them() {
        assert_eq!(cell_value(&DataRef::Int(3), false), json!(3.0));
        assert_eq!(cell_value(&DataRef::Bool(true), false), json!(true));
        assert_eq!(cell_value(&DataRef::Empty, false), Value::Null);
        assert_eq!(cell_value(&DataRef::DateTimeIso("2024-02-03T10:00:00".into()), false), json!("2024-02-03"));
    }
}
